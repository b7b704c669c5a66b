#!/usr/bin/env bash
# Install what dangan needs on a Debian machine: system packages, a virtualenv at .venv/,
# and the Python packages. Idempotent: fast when everything is already there.
#   bash scripts/bootstrap.sh [demo|test|bench]
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-demo}"

debs=(fonts-noto-cjk fonts-arphic-ukai libgl1 libglib2.0-0 libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0
      poppler-utils poppler-data qpdf restic)
case "$profile" in
  # the tests read generated pages back with tesseract (chi_sim), convert with LibreOffice, drive Chromium
  # and run the OCR queue's broker (redis-server)
  test)  debs+=(libreoffice-writer-nogui libreoffice-calc-nogui clamav openssh-sftp-server tesseract-ocr tesseract-ocr-chi-sim chromium chromium-driver zip redis-server) ;;
  bench) debs+=(tesseract-ocr tesseract-ocr-chi-sim borgbackup rsync wrk redis-server) ;;
esac

missing=()
for pkg in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

pick_python() {
  for candidate in python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] <= (3, 12)))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

PY="$(pick_python || true)"
if [ -z "$PY" ]; then missing+=(python3 python3-venv); fi
if [ -n "$PY" ] && [ ! -x .venv/bin/python ] && ! "$PY" -c 'import ensurepip' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi

if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "bootstrap: installing Debian packages: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  PY="$(pick_python)"
fi

if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv with $PY" >&2
  "$PY" -m venv .venv
fi

stamp=.venv/.dangan-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "bootstrap: installing Python packages into .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[dev]"
  touch "$stamp"
fi
