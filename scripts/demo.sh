#!/usr/bin/env bash
# Run dangan end to end on the bundled samples (installs what it needs first).
#   bash scripts/demo.sh [ARCHIVE_DIR]     (default: ./demo-archive)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh demo
exec .venv/bin/python -m samples.demo "${1:-demo-archive}"
