"""Web benchmark: the search page and the dossier page under 20 concurrent browsers, beside
the same questions asked of the library directly, on a 100,000-record archive.

    bash scripts/bootstrap.sh bench                    # wrk, the load generator
    .venv/bin/python bench/web.py                      # 100,000 records, 20 clients
    .venv/bin/python bench/web.py --records 20000 --keep /tmp/web-bench

The archive is built the fast way: the catalog rows and the index are made from synthetic
records (the corpus of bench/search.py: retailers no dictionary knows, cases written every
which way, minutes, OCR spacing), not by filing 100,000 files. The server is the real
``dangan serve`` (uvicorn) in its own process, on loopback; 20 readers sign in through the
real form, then ``wrk`` (C, epoll: it costs the machine little) drives it over keep-alive
connections, each with its own session, and every page it asks for is checked, rendered and
logged as in use. Printed: p50/p95 per page kind over HTTP, the library's own p50/p95 for the
same questions (one caller, and 20 threads), pages per second, the server's CPU time per page
and its memory.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx2 as httpx  # noqa: E402

from archive.access.log import AccessLog, Actor, LogFilter  # noqa: E402
from archive.access.store import AccessStore  # noqa: E402
from archive.access.users import Users  # noqa: E402
from archive.core.config import Archive, init_archive  # noqa: E402
from archive.records.catalog import Catalog  # noqa: E402
from archive.records.finder import SearchRequest  # noqa: E402
from archive.records.reader import ArchiveReader  # noqa: E402
from archive.records.search_sync import rebuild_index  # noqa: E402
from indexers.analyzer import warm_up  # noqa: E402
from samples.bench_archive import CASE_PREFIX, current_households, write_year_inbox  # noqa: E402

PASSWORD = "bench-reader-1"


def _corpus_module() -> Any:
    spec = importlib.util.spec_from_file_location("bench_search", ROOT / "bench" / "search.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_search"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def build(root: Path, records: int) -> dict[str, Any]:
    """The archive at *root* (reused when bench.json says it has *records* records)."""
    manifest = root / "bench-web.json"
    if manifest.is_file():
        data: dict[str, Any] = json.loads(manifest.read_text(encoding="utf-8"))
        if data.get("records") == records:
            return data
        shutil.rmtree(root)
    corpus = _corpus_module()
    archive = init_archive(root, "潼关县烟草专卖局", ("610522",), ("潼烟罚",))
    households: dict[str, dict[str, str | None]] = {}
    t0 = time.perf_counter()
    with archive.writer_lock(), Catalog(archive.catalog_path) as catalog:
        for i, doc in enumerate(corpus.generate(records)):
            side = {
                "sha256": doc.record_id,
                "dossier": {"kind": doc.dossier_kind, "key": doc.dossier},
                "keys": {
                    "licence_no": doc.licence_no,
                    "case_no": doc.case_no,
                    "retailer": doc.retailer,
                    "meeting_type": doc.meeting_type,
                    "date": doc.date,
                    "year": int(doc.date[:4]) if doc.date else None,
                },
                "doc_type": doc.doc_type,
                "title": doc.title,
                "mime": "application/pdf",
                "size": 1300,
                "pages": 1,
                "original_name": doc.path.rsplit("/", 1)[-1],
                "source": "bench",
                "events": [{"at": "2026-11-30T08:00:00+08:00", "event": "filed", "detail": ""}],
                "text": {"pages": [{"text": doc.text}], "legible": True},
            }
            catalog.upsert(doc.path, side, commit=False)
            if doc.licence_no and doc.licence_no not in households:
                households[doc.licence_no] = {
                    "licence_no": doc.licence_no,
                    "name": doc.retailer,
                    "operator": doc.person,
                    "address": f"潼关县{doc.village}",
                    "class": doc.household_class or "守法经营户",
                    "valid_from": "2023-01-01",
                    "valid_to": "2027-12-31",
                }
            if i % 5000 == 4999:
                catalog.commit()
                print(f"  catalog {i + 1:,} …", file=sys.stderr)
        catalog.commit()
        catalog.replace_households(households.values())
        catalog_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        warm_up()
        rebuild_index(archive, catalog)
        index_s = time.perf_counter() - t0
    data = {
        "records": records,
        "households": len(households),
        "catalog_s": round(catalog_s, 1),
        "index_s": round(index_s, 1),
    }
    manifest.write_text(json.dumps(data), encoding="utf-8")
    return data


def questions(root: Path, n: int, seed: int = 5) -> tuple[list[SearchRequest], list[str]]:
    """Search requests of every kind a clerk asks, and dossier keys, drawn from the archive."""
    rng = random.Random(seed)
    with Catalog(Archive(root).catalog_path, readonly=True) as catalog:
        hh = [dict(r) for r in catalog.db.execute("SELECT * FROM households")]
        cases = [
            r[0]
            for r in catalog.db.execute(
                "SELECT DISTINCT case_no FROM records WHERE case_no IS NOT NULL"
            )
        ]
        meetings = [
            r[0]
            for r in catalog.db.execute(
                "SELECT DISTINCT dossier_key FROM records WHERE dossier_kind = 'meeting'"
            )
        ]
        texts = [
            r[0] for r in catalog.db.execute("SELECT text FROM records ORDER BY random() LIMIT 400")
        ]
    people = sorted({m for t in texts for m in re.findall(r"检查人：(\S\S)。", t)})
    searches: list[SearchRequest] = []
    makers = [
        lambda: SearchRequest(q=rng.choice(hh)["name"][:2]),  # part of a retailer's name
        lambda: SearchRequest(q=rng.choice(hh)["name"]),
        lambda: SearchRequest(q="许可证号:" + rng.choice(hh)["licence_no"][-5:]),
        lambda: SearchRequest(q="案号:" + rng.choice(cases)),
        lambda: SearchRequest(q=rng.choice(people)) if people else SearchRequest(q="卷烟"),
        lambda: SearchRequest(q="中华 " + rng.choice(hh)["address"][-3:]),
        lambda: SearchRequest(q="卷烟", doc_type="询问笔录", year=2011),  # a common word, filtered
        lambda: SearchRequest(retailer=rng.choice(hh)["name"][:3], kind="household"),
        lambda: SearchRequest(q="当事人", page=rng.randint(2, 20)),  # deep pages of a huge result
    ]
    for i in range(n):
        searches.append(makers[i % len(makers)]())
    keys = [rng.choice(hh)["licence_no"] for _ in range(n // 2)]
    keys += [rng.choice(cases) for _ in range(n // 4)] + [
        rng.choice(meetings) for _ in range(n - n // 2 - n // 4)
    ]
    rng.shuffle(keys)
    return searches, keys


def _query(req: SearchRequest) -> dict[str, str]:
    out = {"q": req.q, "type": req.doc_type, "year": str(req.year or ""), "kind": req.kind,
           "retailer": req.retailer, "page": str(req.page)}  # fmt: skip
    return {k: v for k, v in out.items() if v and v != "1"}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def library(
    root: Path, searches: list[SearchRequest], keys: list[str], threads: int
) -> dict[str, list[float]]:
    reader = ArchiveReader(Archive(root))
    reader.search(searches[0])  # open the index once, as the server does
    times: dict[str, list[float]] = {"search": [], "dossier": []}
    lock = threading.Lock()
    work = [("search", s) for s in searches] + [("dossier", k) for k in keys]
    random.Random(1).shuffle(work)
    position = iter(range(len(work)))

    def run() -> None:
        while True:
            with lock:
                i = next(position, None)
            if i is None:
                return
            kind, item = work[i]
            t0 = time.perf_counter()
            if isinstance(item, SearchRequest):
                reader.search(item)
            else:
                reader.dossiers(item)
            elapsed = time.perf_counter() - t0
            with lock:
                times[kind].append(elapsed)

    pool = [threading.Thread(target=run) for _ in range(threads)]
    t0 = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    times["wall"] = [time.perf_counter() - t0]
    return times


def sign_in(base: str, clients: int) -> list[str]:
    """One session cookie per client, each signed in through the real form."""
    cookies = []
    for i in range(clients):
        with httpx.Client(base_url=base, timeout=60.0) as client:
            page = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token
            data = {"name": f"读者{i:02d}", "password": PASSWORD, "csrf_token": token.group(1)}
            signed = client.post("/login", data=data)
            assert signed.status_code == 303, signed.text[:300]
            cookies.append(f"dangan_session={client.cookies['dangan_session']}")
    return cookies


_LUA = """
local paths = {%(paths)s}
local cookies = {%(cookies)s}
local n = 0
bad = 0
setup = function(thread)
  thread:set("offset", #threads * 7919)
  table.insert(threads, thread)
end
init = function(args) n = offset or 0 end
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1], {["Cookie"] = cookies[(n %% #cookies) + 1]})
end
response = function(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end
done = function(summary, latency, requests)
  local wrong = 0
  for _, thread in ipairs(threads) do wrong = wrong + thread:get("bad") end
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d\\n", summary.requests, wrong,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), summary.duration))
end
"""


def _lua_string(text: str) -> str:
    assert text.isascii() and '"' not in text and "\\" not in text, text
    return f'"{text}"'


def wrk(
    base: str, paths: list[str], cookies: list[str], clients: int, seconds: int, script: Path
) -> dict[str, float]:
    """Drive the server with wrk (C, epoll: the load generator costs little of the machine's
    CPU) from *clients* connections for *seconds*; latency percentiles in ms."""
    script.write_text(
        "threads = {}\n"
        + _LUA
        % {
            "paths": ", ".join(_lua_string(p) for p in paths),
            "cookies": ", ".join(_lua_string(c) for c in cookies),
        },
        encoding="utf-8",
    )
    proc = subprocess.run(
        ["wrk", "-t", "2", "-c", str(clients), "-d", f"{seconds}s", "--timeout", "30s",
         "-s", str(script), base],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    requests, wrong, p50, p95, p99, micros = map(int, line.split()[1:])
    assert wrong == 0, f"{wrong} answers were not 200:\n{proc.stdout}"
    return {
        "requests": requests,
        "p50": p50 / 1000,
        "p95": p95 / 1000,
        "p99": p99 / 1000,
        "rate": requests / (micros / 1e6),
    }


def _tree(pid: int) -> list[int]:
    """The server's process and its workers."""
    pids = [pid]
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if re.search(rf"^PPid:\s+{pid}$", text, re.M):
            pids.append(int(status.parent.name))
    return pids


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) the server has used so far: a figure a busy machine
    does not inflate the way it inflates latency."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for one in _tree(pid):
        fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def _memory(pid: int) -> tuple[int, int]:
    """Resident and peak MB of the server: its process and its workers, added up."""
    rss = peak = 0
    for one in _tree(pid):
        text = Path(f"/proc/{one}/status").read_text()
        rss += int(re.search(r"VmRSS:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
        peak += int(re.search(r"VmHWM:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
    return rss // 1024, peak // 1024


def _fresh(root: Path) -> Archive:
    """An empty archive that files without OCR (the scans have text layers), like the peer."""
    archive = init_archive(root, "潼关县烟草专卖局", ("610522",), (CASE_PREFIX,))
    text = archive.config_path.read_text(encoding="utf-8").replace(
        "enabled = true", "enabled = false"
    )
    archive.config_path.write_text(text, encoding="utf-8")
    return Archive(root)


def _outcomes(archive: Archive) -> dict[str, int]:
    with Catalog(archive.catalog_path, readonly=True) as catalog:
        rows = catalog.records("1")
        tray = sum(r["dossier_kind"] == "tray" for r in rows)
        return {
            "filed": len(rows) - tray,
            "unfiled": tray,
            "quarantined": len(catalog.quarantined()),
        }


def upload_row(workdir: Path, households: int) -> dict[str, Any]:
    """Files per second through the browser's path (one HTTP upload after another, each
    streamed and filed by the server, then the batch's tray refile and index update, as the
    上传 page sends them) beside ``dangan ingest`` of the same files, in the same run."""
    scans = workdir / "扫描件"
    shutil.rmtree(scans, ignore_errors=True)
    write_year_inbox(
        scans, 2024, current_households(households, 2024), cases=max(1, households // 10)
    )
    files = sorted(p for p in scans.rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in files)
    web_root, cli_root = workdir / "上传-网页", workdir / "上传-命令行"
    for root in (web_root, cli_root):
        shutil.rmtree(root, ignore_errors=True)
    web_archive, cli_archive = _fresh(web_root), _fresh(cli_root)
    Users(AccessStore.of(web_archive)).add(
        "档案员", "clerk", PASSWORD, actor=Actor("bench", "", "本机")
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dangan = Path(sys.executable).with_name("dangan")
    server = subprocess.Popen(
        [str(dangan), "serve", "--port", str(port), "--archive", str(web_root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_port(server, port)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120.0) as client:
            page = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token
            data = {"name": "档案员", "password": PASSWORD, "csrf_token": token.group(1)}
            assert client.post("/login", data=data).status_code == 303
            found = re.search(r'data-token="([^"]+)"', client.get("/upload").text)
            assert found
            headers = {"X-CSRF-Token": found.group(1), "Content-Type": "application/octet-stream"}
            t0 = time.perf_counter()
            for path in files:
                kind, *rest = path.relative_to(scans).parts
                answer = client.post(
                    "/upload/file",
                    params={"kind": kind, "path": "/".join(rest)},
                    content=path.read_bytes(),
                    headers=headers,
                )
                assert answer.status_code == 200, answer.text[:300]
            settled = client.post("/upload/done", headers=headers)  # as the page does at the end
            assert settled.status_code == 200, settled.text[:300]
            web_s = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(timeout=30)
    shutil.copytree(scans, cli_archive.inbox, dirs_exist_ok=True)
    t0 = time.perf_counter()
    done = subprocess.run(
        [str(dangan), "ingest", "--archive", str(cli_root)], capture_output=True, text=True
    )
    cli_s = time.perf_counter() - t0
    assert done.returncode == 0, done.stderr[-2000:]
    return {
        "files": len(files),
        "mb": size / 1048576,
        "web_s": web_s,
        "cli_s": cli_s,
        "web": _outcomes(web_archive),
        "cli": _outcomes(cli_archive),
    }


def print_upload(row: dict[str, Any]) -> None:
    n = row["files"]
    print(
        f"\nupload: {n} scans ({row['mb']:.1f} MB: households, cases, minutes, work materials; text-layer PDFs, OCR off on both sides)"
    )
    print(f"{'':34}{'files/s':>10}{'wall s':>10}   filed / tray / quarantined")
    for label, key in (
        ("browser path (POST /upload/file)", "web"),
        ("dangan ingest (same files)", "cli"),
    ):
        o = row[key]
        print(
            f"{label:34}{n / row[key + '_s']:>10.1f}{row[key + '_s']:>10.1f}   "
            f"{o['filed']} / {o['unfiled']} / {o['quarantined']}"
        )


def _wait_port(server: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="dangan serve --workers")
    parser.add_argument(
        "--requests", type=int, default=1000, help="distinct questions of each kind"
    )
    parser.add_argument("--seconds", type=int, default=30, help="of load on each page kind")
    parser.add_argument(
        "--keep", type=Path, default=None, help="build the archive here and keep it"
    )
    parser.add_argument(
        "--upload-households", type=int, default=40,
        help="the upload row: this many households' scans (with cases, minutes, work materials)",
    )  # fmt: skip
    parser.add_argument("--only-upload", action="store_true", help="the upload row alone")
    args = parser.parse_args(argv)
    if args.only_upload:
        workdir = args.keep or Path(tempfile.mkdtemp(prefix="dangan-bench-upload-"))
        try:
            print_upload(upload_row(workdir, args.upload_households))
        finally:
            if args.keep is None:
                shutil.rmtree(workdir, ignore_errors=True)
        return
    if shutil.which("wrk") is None:
        raise SystemExit("bench/web.py needs wrk: bash scripts/bootstrap.sh bench")
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="dangan-bench-web-"))
    root = workdir / "档案库"
    try:
        print(f"building a {args.records:,}-record archive …", file=sys.stderr)
        made = build(root, args.records)
        searches, keys = questions(root, args.requests)
        store = AccessStore.of(Archive(root))
        users = Users(store)
        for i in range(args.clients):
            if users.get(f"读者{i:02d}") is None:
                users.add(f"读者{i:02d}", "reader", PASSWORD, actor=Actor("bench", "", "本机"))
        print("the library, directly …", file=sys.stderr)
        lib1 = library(root, searches, keys, 1)
        lib20 = library(root, searches, keys, args.clients)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        dangan = Path(sys.executable).with_name("dangan")
        server = subprocess.Popen(
            [str(dangan), "serve", "--port", str(port), "--workers", str(args.workers),
             "--archive", str(root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            _wait_port(server, port)
            base = f"http://127.0.0.1:{port}"
            cookies = sign_in(base, args.clients)
            pages = {
                "search": [f"/search?{urlencode(_query(r))}" for r in searches],
                "dossier": [f"/dossier/{quote(k)}" for k in keys],
            }
            script = workdir / "bench-web.lua"
            # warm-up: the first pages of a process open the index and fill the caches
            wrk(base, pages["search"][:50] + pages["dossier"][:50], cookies, 4, 5, script)
            idle_rss, _ = _memory(server.pid)
            load0 = os.getloadavg()[0]
            http: dict[str, dict[str, float]] = {}
            for kind in ("search", "dossier"):
                print(f"{args.clients} clients over HTTP: {kind} …", file=sys.stderr)
                cpu0 = _cpu(server.pid)
                http[kind] = wrk(base, pages[kind], cookies, args.clients, args.seconds, script)
                http[kind]["cpu_ms"] = (_cpu(server.pid) - cpu0) / http[kind]["requests"] * 1000
            rss, peak = _memory(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
        print(
            f"\nweb benchmark: {made['records']:,} records ({made['households']:,} households), "
            f"{args.clients} concurrent clients, {args.seconds} s of each page over "
            f"{args.requests} distinct questions, "
            f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M')}"
        )
        print(
            f"archive built: catalog {made['catalog_s']} s, index {made['index_s']} s (reused when kept)"
        )
        print(
            f"load average (1 min) before the HTTP run {load0:.1f}, after {os.getloadavg()[0]:.1f}"
        )
        print(
            f"\n{'p50 / p95 ms':28}{'HTTP, ' + str(args.clients) + ' clients':>24}"
            f"{'library, 1 caller':>22}{'library, ' + str(args.clients) + ' threads':>24}"
        )
        for kind, label in (
            ("search", "search page (/search)"),
            ("dossier", "dossier page (/dossier/…)"),
        ):
            h = http[kind]
            cells = [f"{h['p50']:.1f} / {h['p95']:.1f}"]
            cells += [f"{pct(t[kind], 0.5):.1f} / {pct(t[kind], 0.95):.1f}" for t in (lib1, lib20)]
            print(f"{label:28}{cells[0]:>24}{cells[1]:>22}{cells[2]:>24}")
        print("\nover HTTP (wrk, keep-alive connections, each with its own signed-in session):")
        for kind in ("search", "dossier"):
            h = http[kind]
            print(
                f"  {kind:8} {h['rate']:6.0f} pages/s, p99 {h['p99']:.1f} ms, "
                f"server CPU {h['cpu_ms']:.1f} ms a page ({int(h['requests']):,} pages)"
            )
        asked = len(lib20["search"]) + len(lib20["dossier"])
        print(
            f"  the library with {args.clients} threads: {asked / lib20['wall'][0]:.0f} answers/s "
            "(search and dossier mixed)"
        )
        workers = f"{args.workers} worker{'s' if args.workers > 1 else ''}"
        print(
            f"server memory ({workers}): {idle_rss} MB resident after warm-up, {rss} MB after the run, peak {peak} MB"
        )
        entries = AccessLog(AccessStore.of(Archive(root))).query(LogFilter(), limit=1).total
        print(f"access log: {entries:,} entries (every page above was logged, as in use)")
        print_upload(upload_row(workdir, args.upload_households))
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
