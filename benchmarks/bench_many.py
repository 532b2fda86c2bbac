"""Many files: index N served NWB files at 50 ms latency, resume, and read /units across them.

Inputs (built once in ``--workdir``, never committed): N pynwb-written sessions (N = 64, or
16 with ``--quick``), each with a units table of 400 rows (``quality``, ``firing_rate``,
``presence_ratio``, ragged ``spike_times``), 10 TimeSeries in a processing module and a
chunked acquisition series (``--extra-mb N`` adds N MB of raw int16 in another chunked series:
20.3 MB files with 19). ``_common.ServerProcess`` (``tests/httpserver.py``'s RangeServer
in a child process) serves them, sleeping ``--latency-ms`` before every answer; ``requests``
counts every request it answered (any method), ``bytes`` the body bytes it sent.

Cases (all in one run, same server, same latency):

* ``index``: ``index_many`` of the N URLs with a sequential loop (``max_workers=1``), a
  ``ThreadPoolExecutor(8)``, and spawned process pools of one process per core and of the
  default size; pools are started and warmed (every worker has imported the indexer) before
  the clock starts, and their start-up is reported apart. Anchor: lindi 0.4.6
  (``LindiH5pyFile.from_hdf5_file(url).write_lindi_file``) in a process pool of the same
  size, in its own venv (``HDMF_LINDI_BENCH_LINDI_PYTHON``), timed after its imports and warm-up.
  ``ratio`` is seconds / our sequential seconds.
* ``resume``: ``index_many`` again over the finished run: every file ``skipped``; requests
  per file from the server's log (target: at most 1).
* ``read_table``: ``read_table(urls, "/units")`` of the scalar columns (array columns
  excluded) over the ``.nwb`` URLs (indexed on the fly, only the table's group) and over
  pre-built served ``.lindi.json`` indexes, with the default executor (processes for the
  ``.nwb`` URLs: the first call, which starts the forkserver, and the best of 3 later calls;
  threads for the indexes), with the former default of 8 threads, and in a warm pool of 4
  spawned processes.
  Anchor: lazynwb 1.0.0 ``get_df(urls, "/units", exclude_array_columns=True)`` in its own venv
  (``HDMF_LINDI_BENCH_LAZYNWB_PYTHON``), timed after its imports. ``ratio`` is ours / lazynwb.

Usage::

    python benchmarks/bench_many.py --workdir WORKDIR --json out.json [--quick] [--extra-mb N]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ServerProcess  # noqa: E402

from hdmf_lindi.batch import index_many, read_table  # noqa: E402
from hdmf_lindi.batch.pools import default_kind  # noqa: E402
from hdmf_lindi.hdf5 import IndexOptions  # noqa: E402

LINDI_DRIVER = r"""
import json, sys, time
from concurrent.futures import ProcessPoolExecutor
import lindi

def one(job):
    url, out = job
    f = lindi.LindiH5pyFile.from_hdf5_file(url)
    f.write_lindi_file(out)
    f.close()

def warm(_):
    time.sleep(0.2)

if __name__ == "__main__":
    urls, outdir, workers = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(warm, range(workers)))
        t0 = time.perf_counter()
        list(pool.map(one, [(u, f"{outdir}/{i}.lindi.json") for i, u in enumerate(urls)]))
        print(json.dumps({"seconds": time.perf_counter() - t0}))
"""

LAZYNWB_DRIVER = r"""
import json, sys, time
import lazynwb
lazynwb.config.disable_cache = True
urls = json.loads(sys.argv[1])
t0 = time.perf_counter()
df = lazynwb.get_df(urls, "/units", exclude_array_columns=True, disable_progress=True)
print(json.dumps({"seconds": time.perf_counter() - t0, "rows": len(df)}))
"""


def make_session(path: Path, seed: int, extra_mb: int = 0) -> None:
    """One pynwb-written session (see the module docstring), with ``extra_mb`` MB more of raw
    int16 data (a chunked series, 64 channels) in acquisition if given."""
    from hdmf.common import VectorData, VectorIndex
    from pynwb import NWBHDF5IO, TimeSeries
    from pynwb.misc import Units
    from pynwb.testing.mock.file import mock_NWBFile

    rng = np.random.default_rng(seed)
    nwbfile = mock_NWBFile(session_description=f"session {seed}", identifier=f"bench-{seed}")
    n_units, per_unit = 400, 50
    spikes = np.sort(rng.uniform(0, 600, size=(n_units, per_unit)), axis=1).reshape(-1)
    spike_times = VectorData(name="spike_times", description="spike times", data=spikes)
    columns = [
        VectorData(name="quality", description="label", data=[["good", "mua", "noise"][i % 3] for i in range(n_units)]),
        VectorData(name="firing_rate", description="Hz", data=rng.uniform(0.1, 30, n_units)),
        VectorData(name="presence_ratio", description="ratio", data=rng.uniform(0, 1, n_units)),
        spike_times,
        VectorIndex(name="spike_times_index", data=np.arange(1, n_units + 1) * per_unit, target=spike_times),
    ]
    nwbfile.units = Units(name="units", id=list(range(n_units)), columns=columns,
                          colnames=["quality", "firing_rate", "presence_ratio", "spike_times"])
    module = nwbfile.create_processing_module(name="behavior", description="behaviour")
    for i in range(10):
        module.add(TimeSeries(name=f"ts{i}", data=rng.normal(size=2000), unit="m", rate=100.0))
    nwbfile.add_acquisition(TimeSeries(name="raw", data=rng.integers(-99, 99, size=(20_000, 8), dtype=np.int16),
                                       unit="V", rate=1000.0))
    if extra_mb:
        from hdmf.backends.hdf5 import H5DataIO

        wide = rng.integers(-2000, 2000, size=(extra_mb * 1_000_000 // 128, 64), dtype=np.int16)
        nwbfile.add_acquisition(TimeSeries(name="wide", data=H5DataIO(wide, chunks=(8_000, 64)), unit="V",
                                           rate=30_000.0))
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)


def make_files(workdir: Path, n: int, extra_mb: int = 0) -> list[str]:
    served = workdir / "served"
    served.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(n):
        path = served / (f"session-{i:03d}.nwb" if not extra_mb else f"session-{i:03d}-plus{extra_mb}mb.nwb")
        if not path.exists():
            make_session(path, i, extra_mb)
        names.append(path.name)
    return names


def _warm(_: int) -> None:
    import hdmf_lindi.hdf5  # noqa: F401 -- every worker imports the indexer before the clock starts

    time.sleep(0.2)


def warm_pool(workers: int) -> tuple[ProcessPoolExecutor, float]:
    t0 = time.perf_counter()
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    list(pool.map(_warm, range(workers)))
    return pool, time.perf_counter() - t0


def row(case: str, tool: str, seconds: float | None, requests: int | None = None, nbytes: int | None = None,
        ratio: float | None = None, note: str = "") -> dict[str, Any]:
    return {"case": case, "tool": tool, "seconds": seconds, "requests": requests, "bytes": nbytes,
            "ratio": ratio, "note": note}


def run_index(server: ServerProcess, urls: list[str], out: Path, executor: Executor | None) -> tuple[float, int, int]:
    server.clear()
    t0 = time.perf_counter()
    records = index_many(urls, out, executor=executor, max_workers=1 if executor is None else None,
                         resume=False, options=IndexOptions())
    seconds = time.perf_counter() - t0
    bad = [r for r in records if r.status != "ok"]
    if bad:
        raise RuntimeError(f"{len(bad)} files failed, e.g. {bad[0].error_type}: {bad[0].error_message}")
    traffic = server.traffic()
    return seconds, traffic.requests, traffic.bytes + traffic.unranged_bytes


def index_rows(server: ServerProcess, urls: list[str], workdir: Path, cores: int) -> list[dict[str, Any]]:
    rows = []
    seq, requests, nbytes = run_index(server, urls, workdir / "idx-seq", None)
    rows.append(row("index", "sequential", seq, requests, nbytes, 1.0, f"{len(urls) / seq:.2f} files/s"))
    with ThreadPoolExecutor(8) as pool:
        s, requests, nbytes = run_index(server, urls, workdir / "idx-threads", pool)
    rows.append(row("index", "threads(8)", s, requests, nbytes, s / seq, f"speed-up {seq / s:.2f}"))
    for workers in sorted({cores, 4 * cores}):
        pool, start = warm_pool(workers)
        with pool:
            s, requests, nbytes = run_index(server, urls, workdir / f"idx-proc{workers}", pool)
        speedup = seq / s
        rows.append(row("index", f"processes({workers})", s, requests, nbytes, s / seq,
                        f"speed-up {speedup:.2f} on {cores} cores ({speedup / workers:.2f} per process, "
                        f"{len(urls) / s / cores:.2f} files/s per core); pool start {start:.1f} s not counted"))
    rows.extend(lindi_rows(urls, workdir, seq, sorted({cores, 4 * cores})))
    return rows


def lindi_rows(urls: list[str], workdir: Path, seq: float, sizes: list[int]) -> list[dict[str, Any]]:
    python = os.environ.get("HDMF_LINDI_BENCH_LINDI_PYTHON")
    if not python:
        return [row("index", "lindi 0.4.6 processes", None, note="not available (HDMF_LINDI_BENCH_LINDI_PYTHON unset)")]
    out = []
    for workers in sizes:
        target = workdir / f"lindi-{workers}"
        target.mkdir(exist_ok=True)
        result = subprocess.run([python, "-c", LINDI_DRIVER, json.dumps(urls), str(target), str(workers)],
                                capture_output=True, text=True, check=True)
        s = float(json.loads(result.stdout.strip().splitlines()[-1])["seconds"])
        out.append(row("index", f"lindi 0.4.6 processes({workers})", s, None, None, s / seq, "ratio: seconds / our sequential"))
    return out


def resume_rows(server: ServerProcess, urls: list[str], workdir: Path) -> list[dict[str, Any]]:
    server.clear()
    t0 = time.perf_counter()
    records = index_many(urls, workdir / "idx-seq", max_workers=1)
    seconds = time.perf_counter() - t0
    skipped = sum(r.status == "skipped" for r in records)
    requests = server.traffic().requests
    return [row("resume", "sequential", seconds, requests, None, requests / len(urls),
                f"{skipped}/{len(urls)} skipped; ratio: requests per file (target <= 1)")]


def _read(server: ServerProcess, sources: list[str], executor: Executor | None) -> tuple[float, int, int, int]:
    """One ``read_table`` of ``/units``: seconds, requests, body bytes, rows."""
    server.clear()
    t0 = time.perf_counter()
    frame = read_table(sources, "/units", executor=executor)
    seconds = time.perf_counter() - t0
    traffic = server.traffic()
    return seconds, traffic.requests, traffic.bytes + traffic.unranged_bytes, len(frame)


def table_rows(server: ServerProcess, urls: list[str], index_urls: list[str]) -> list[dict[str, Any]]:
    """``read_table`` with its default executor (first call and best of 3 later ones), with
    8 threads and with a warm pool of 4 processes, against lazynwb."""
    rows: list[dict[str, Any]] = []
    lazy, lazy_requests = lazynwb_seconds(server, urls)
    expected = 400 * len(urls)

    def add(tool: str, runs: list[tuple[float, int, int, int]], note: str) -> None:
        best = min(runs)
        assert all(r[3] == expected for r in runs), (tool, [r[3] for r in runs], expected)
        ratio = None if lazy is None else best[0] / lazy
        rows.append(row("read_table", tool, best[0], best[1], best[2], ratio,
                        f"{note}; ratio: ours / lazynwb" if lazy is not None else note))

    assert default_kind(index_urls) == "threads" and default_kind(urls) == "processes"
    # first: the first default call on .nwb URLs starts the forkserver (nothing before did)
    add("on-the-fly .nwb, default executor, first call", [_read(server, urls, None)],
        "processes; forkserver start and its imports included")
    add("on-the-fly .nwb, default executor, later calls", [_read(server, urls, None) for _ in range(3)],
        "processes forked per call; best of 3")
    add("pre-indexed .lindi.json, default executor", [_read(server, index_urls, None) for _ in range(3)],
        "threads; best of 3")
    with ThreadPoolExecutor(8) as threads:
        add("on-the-fly .nwb, 8 threads", [_read(server, urls, threads) for _ in range(3)],
            "the former default; best of 3")
    pool, start = warm_pool(4)
    with pool:
        add("on-the-fly .nwb, 4 processes (warm)", [_read(server, urls, pool) for _ in range(3)],
            f"spawned, started before the clock ({start:.1f} s); best of 3")
    rows.append(row("read_table", "lazynwb 1.0.0", lazy, lazy_requests, None, 1.0 if lazy else None,
                    "best of 3, each in a fresh process timed after its imports" if lazy
                    else "not available (HDMF_LINDI_BENCH_LAZYNWB_PYTHON unset)"))
    return rows


def lazynwb_seconds(server: ServerProcess, urls: list[str]) -> tuple[float | None, int | None]:
    """lazynwb's best time of three runs (after its imports), and the requests of one run."""
    python = os.environ.get("HDMF_LINDI_BENCH_LAZYNWB_PYTHON")
    if not python:
        return None, None
    best, requests = float("inf"), 0
    for _ in range(3):
        server.clear()
        result = subprocess.run([python, "-c", LAZYNWB_DRIVER, json.dumps(urls)], capture_output=True, text=True,
                                check=True)
        requests = server.traffic().requests
        best = min(best, float(json.loads(result.stdout.strip().splitlines()[-1])["seconds"]))
    return best, requests


def print_table(rows: list[dict[str, Any]]) -> None:
    print("| case | tool | seconds | requests | MB | ratio | note |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        seconds = "—" if r["seconds"] is None else f"{r['seconds']:.2f}"
        mb = "—" if r["bytes"] is None else f"{r['bytes'] / 1e6:.1f}"
        ratio = "—" if r["ratio"] is None else f"{r['ratio']:.2f}"
        print(f"| {r['case']} | {r['tool']} | {seconds} | {r['requests'] if r['requests'] is not None else '—'} "
              f"| {mb} | {ratio} | {r['note']} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="16 files instead of 64")
    parser.add_argument("--files", type=int, default=None, help="number of files (default 64, 16 with --quick)")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--extra-mb", type=int, default=0,
                        help="add this many MB of raw data to each session (default 0: ~0.9 MB files)")
    parser.add_argument("--cases", nargs="+", choices=["index", "resume", "read_table"],
                        default=["index", "resume", "read_table"])
    args = parser.parse_args(argv)
    n = args.files or (16 if args.quick else 64)
    names = make_files(args.workdir, n, args.extra_mb)
    cores = os.cpu_count() or 1
    server = ServerProcess(args.workdir / "served")
    try:
        urls = [server.url(name) for name in names]
        # pre-built indexes, served beside the files (their refs point at the served .nwb URLs)
        index_many(urls, args.workdir / "served", max_workers=1, manifest=args.workdir / "served.jsonl")
        index_urls = [server.url(name + ".lindi.json") for name in names]
        server.set(latency_s=args.latency_ms / 1000)
        rows = index_rows(server, urls, args.workdir, cores) if "index" in args.cases else []
        if "resume" in args.cases:
            if "index" not in args.cases:  # resume needs a finished run
                server.set(latency_s=0.0)
                index_many(urls, args.workdir / "idx-seq", max_workers=1)
                server.set(latency_s=args.latency_ms / 1000)
            rows += resume_rows(server, urls, args.workdir)
        if "read_table" in args.cases:
            rows += table_rows(server, urls, index_urls)
    finally:
        server.stop()
    notes = [f"{n} files of {(args.workdir / 'served' / names[0]).stat().st_size / 1e6:.1f} MB, {args.latency_ms:g} ms latency "
             f"per request, {cores} cores"]
    print_table(rows)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"benchmark": "many", "rows": rows, "notes": notes}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
