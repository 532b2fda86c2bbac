"""Million-chunk datasets: compact chunk tables against today's flat JSON and the anchors.

Corpus (written into ``--workdir``, never committed; ``--quick`` divides the chunk counts by 10
and the slices by 3):

* ``gzip``: ``/x`` (1000, 64000) int16, chunks (1, 64), gzip: 10^6 chunks of varied size;
  the slice reads rows 0-29 (30,000 chunks, one shard);
* ``raw``: ``/x`` (10^6, 4) int16, chunks (1, 4), uncompressed: 10^6 fixed-size chunks; the slice
  reads rows 0-29,999 (as in the issue's measurement).

Each is indexed (locally, chunk references pointing at the served ``.h5`` URL) twice: with
compact tables (``.lindi.tar``: the table is a tar member; ``.lindi.json``: inline base64) and
without (``chunk_table_threshold=None``: today's flat JSON). The local Range server
(``tests/httpserver.py``, in a child process) adds ``--latency-ms`` to every answer. Rows:

* ``<corpus> open``: ``hdmf_lindi.File(url)`` and the dataset's shape (requests, bytes, time);
* ``<corpus> open+slice``: open and read the slice, for ours and each anchor;
* ``<corpus> local open``: open an index of the local file and read the shape, in a fresh
  process (time, RSS growth in ``bytes``); ``local slice``: then read the slice (the shard it
  loads, the data, and the reader's chunk cache).

Anchors, in the same run: today's flat JSON (ours, tables disabled); lindi 0.4.6 reading the
HDF5 with its default threshold (``LindiH5pyFile.from_hdf5_file``: >1000 chunks become an
external link read through h5py) and h5py + remfile on the HDF5, both with the python of
``HDMF_LINDI_BENCH_LINDI_PYTHON`` ("not available" when unset or when it lacks the package).
``ratio`` is ours / that row's time (below 1: ours faster).

Usage::

    python benchmarks/bench_chunk_tables.py --workdir DIR --json OUT.json [--quick] [--latency-ms 20 50]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import h5py
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from httpserver import RangeServer  # noqa: E402

import hdmf_lindi  # noqa: E402
from hdmf_lindi.hdf5.indexer import IndexOptions, index_hdf5  # noqa: E402

LINDI_ENV = "HDMF_LINDI_BENCH_LINDI_PYTHON"
_RANGE = re.compile(r"bytes=(\d+)-(\d+)")

ANCHOR_DRIVER = r"""
import json, sys, time
tool, url, start, stop = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
import h5py
if tool == "lindi":
    import lindi
    t0 = time.perf_counter()
    f = lindi.LindiH5pyFile.from_hdf5_file(url)
else:
    import remfile
    t0 = time.perf_counter()
    f = h5py.File(remfile.File(url), "r")
x = f["x"][start:stop]
print(json.dumps({"seconds": time.perf_counter() - t0, "checksum": int(x.astype("int64").sum())}))
"""

LOCAL_DRIVER = r"""
import json, sys, time
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096
import hdmf_lindi, numpy
path, start, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
before = rss()
t0 = time.perf_counter()
f = hdmf_lindi.File(path)
shape = f["x"].shape
opened = time.perf_counter() - t0
after_open = rss()
t1 = time.perf_counter()
x = f["x"][start:stop]
sliced = time.perf_counter() - t1
print(json.dumps({"open": opened, "slice": sliced, "open_rss": after_open - before,
                  "slice_rss": rss() - after_open, "checksum": int(x.astype("int64").sum())}))
"""


# ---------------------------------------------------------------------- corpus
def make_corpus(workdir: Path, quick: bool) -> dict[str, tuple[Path, int]]:
    """Write the two HDF5 files (if missing); return name -> (path, rows of the slice)."""
    scale = 10 if quick else 1
    out: dict[str, tuple[Path, int]] = {}
    gzip_path = workdir / f"gzip{'_quick' if quick else ''}.h5"
    if not gzip_path.exists():
        rng = np.random.default_rng(0)
        rows = 1000 // scale
        data = np.cumsum(rng.integers(-3, 4, (rows, 64000), dtype=np.int16), axis=1, dtype=np.int16)
        with h5py.File(gzip_path, "w") as f:
            f.create_dataset("x", data=data, chunks=(1, 64), compression="gzip")
    out["gzip"] = (gzip_path, 30 // (3 if quick else 1))
    raw_path = workdir / f"raw{'_quick' if quick else ''}.h5"
    if not raw_path.exists():
        with h5py.File(raw_path, "w") as f:
            f.create_dataset("x", data=np.arange(4 * 10**6 // scale, dtype=np.int16).reshape(-1, 4), chunks=(1, 4))
    out["raw"] = (raw_path, 30_000 // (3 if quick else 1))
    return out


# ---------------------------------------------------------------------- server
class ServerProcess:
    """The Range server in a child process (it never competes for our GIL); counts GET bytes."""

    def __init__(self, root: Path) -> None:
        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=self._serve, args=(root, child), daemon=True)
        self._proc.start()
        self.port: int = self._conn.recv()

    @staticmethod
    def _serve(root: Path, conn: Connection) -> None:
        with RangeServer(root) as server:
            conn.send(server.port)
            while True:
                command, arg = conn.recv()
                if command == "latency":
                    server.misbehave(latency_s=arg)
                elif command == "clear":
                    server.requests.clear()
                elif command == "count":
                    gets = [r for r in server.requests if r.method == "GET"]
                    total = 0
                    for r in gets:
                        m = _RANGE.fullmatch(r.range or "")
                        size = (root / r.path.lstrip("/")).stat().st_size
                        total += min(int(m.group(2)) + 1, size) - int(m.group(1)) if m else size
                    conn.send((len(gets), total))
                    continue
                elif command == "stop":
                    conn.send(None)
                    return
                conn.send(None)

    def call(self, command: str, arg: Any = None) -> Any:
        self._conn.send((command, arg))
        return self._conn.recv()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self.call("stop")
        self._proc.join(timeout=10)


# ---------------------------------------------------------------------- measurements
def row(case: str, tool: str, seconds: float | None = None, requests: int | None = None,
        nbytes: int | None = None, ratio: float | None = None, note: str = "") -> dict[str, Any]:
    return {"case": case, "tool": tool, "seconds": seconds, "requests": requests, "bytes": nbytes,
            "ratio": ratio, "note": note}


def ours_remote(server: ServerProcess, url: str, rows: int) -> dict[str, Any]:
    """Open, then slice: time, requests and bytes of each phase (fresh file each time)."""
    server.call("clear")
    t0 = time.perf_counter()
    f = hdmf_lindi.File(url)
    shape = f["x"].shape
    t_open = time.perf_counter() - t0
    n_open, b_open = server.call("count")
    server.call("clear")
    t1 = time.perf_counter()
    x = f["x"][:rows]
    t_slice = time.perf_counter() - t1
    n_slice, b_slice = server.call("count")
    f.close()
    assert shape[0] >= rows
    return {"open": (t_open, n_open, b_open), "slice": (t_slice, n_slice, b_slice), "checksum": int(x.astype(np.int64).sum())}


def best_of(repeat: int, func: Any, *args: Any) -> dict[str, Any]:
    runs = [func(*args) for _ in range(repeat)]
    return min(runs, key=lambda r: r["open"][0] + r["slice"][0])


def anchor(python: str | None, tool: str, server: ServerProcess, h5_url: str, rows: int, repeat: int) -> tuple[float, int, int, int] | str:
    if python is None:
        return f"not available (set ${LINDI_ENV})"
    best: tuple[float, int, int, int] | None = None
    for _ in range(repeat):
        server.call("clear")
        proc = subprocess.run([python, "-c", ANCHOR_DRIVER, tool, h5_url, "0", str(rows)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            return f"not available ({last[:120]})"
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        n, b = server.call("count")
        if best is None or result["seconds"] < best[0]:
            best = (float(result["seconds"]), n, b, int(result["checksum"]))
    assert best is not None
    return best


def local_open(path: Path, rows: int) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", LOCAL_DRIVER, str(path), "0", str(rows)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(args.workdir).resolve()
    served = workdir / "served"
    served.mkdir(parents=True, exist_ok=True)
    corpus = make_corpus(workdir, args.quick)
    python = os.environ.get(LINDI_ENV) or None
    server = ServerProcess(served)
    rows_out: list[dict[str, Any]] = []
    notes = [f"chunks: {'10^5' if args.quick else '10^6'} per dataset; latency added per answer"]
    try:
        for name, (h5, rows) in corpus.items():
            target = served / h5.name
            if not target.exists():
                os.link(h5, target) if h5.stat().st_dev == served.stat().st_dev else target.write_bytes(h5.read_bytes())
            h5_url = server.url(h5.name)
            indexes: dict[str, Path] = {}
            for label, suffix, threshold in (("ours tar", ".lindi.tar", 10_000), ("ours json", ".lindi.json", 10_000),
                                             ("flat json", ".lindi.json", None)):
                path = served / f"{h5.stem}.{label.replace(' ', '_')}{suffix}"
                t0 = time.perf_counter()
                index_hdf5(h5, path, options=IndexOptions(url=h5_url, chunk_table_threshold=threshold))
                notes.append(f"{name}: {label} index written in {time.perf_counter() - t0:.1f} s, {path.stat().st_size:,} bytes")
                indexes[label] = path
            with hdmf_lindi.File(indexes["ours tar"]) as f:
                table = f._state.refmap.chunk_table("x")
                assert table is not None and table.stored is not None
                shard_bytes = sum(s[1] for s in table.stored["entry"]["shards"])
                rows_out.append(row(f"{name} table on disk", "ours", nbytes=shard_bytes,
                                    ratio=shard_bytes / table.count, note=f"{table.count:,} chunks; ratio = bytes per chunk"))
            for latency_ms in args.latency_ms:
                server.call("latency", latency_ms / 1000)
                tag = f"{name} @{latency_ms:.0f} ms"
                results = {label: best_of(args.repeat, ours_remote, server, server.url(p.name), rows) for label, p in indexes.items()}
                checks = {r["checksum"] for r in results.values()}
                anchors = {tool: anchor(python, tool, server, h5_url, rows, args.repeat) for tool in ("lindi", "remfile")}
                checks |= {a[3] for a in anchors.values() if not isinstance(a, str)}
                if len(checks) != 1:
                    raise SystemExit(f"{tag}: the tools read different data ({checks})")
                flat_open = results["flat json"]["open"]
                for label, r in results.items():
                    t, n, b = r["open"]
                    rows_out.append(row(f"{tag} open", label, t, n, b, t / flat_open[0] if label != "flat json" else None,
                                        "ratio = ours / flat json" if label != "flat json" else "today's form"))
                totals = {label: r["open"][0] + r["slice"][0] for label, r in results.items()}
                anchor_times = [a[0] for a in anchors.values() if not isinstance(a, str)]
                fastest = min(anchor_times) if anchor_times else None
                for label, r in results.items():
                    rows_out.append(row(f"{tag} open+slice", label, totals[label], r["open"][1] + r["slice"][1],
                                        r["open"][2] + r["slice"][2], totals[label] / fastest if fastest else None,
                                        f"slice alone: {r['slice'][1]} requests, {r['slice'][0]:.3f} s"
                                        + ("; ratio = ours / fastest anchor" if fastest else "")))
                for tool, a in anchors.items():
                    if isinstance(a, str):
                        rows_out.append(row(f"{tag} open+slice", tool, note=a))
                    else:
                        rows_out.append(row(f"{tag} open+slice", tool, a[0], a[1], a[2], totals["ours tar"] / a[0],
                                            "ratio = ours tar / this"))
            server.call("latency", 0.0)
            local_dir = workdir / "local"
            local_dir.mkdir(exist_ok=True)
            local = {}
            for label, p in indexes.items():  # indexes of the local file (no HTTP in these rows)
                local_path = local_dir / p.name
                threshold = None if label == "flat json" else 10_000
                index_hdf5(h5, local_path, options=IndexOptions(chunk_table_threshold=threshold))
                local[label] = local_open(local_path, rows)
            for label, r in local.items():
                ratio = r["open"] / local["flat json"]["open"] if label != "flat json" else None
                rows_out.append(row(f"{name} local open", label, r["open"], nbytes=r["open_rss"], ratio=ratio,
                                    note="bytes = RSS growth" + ("; ratio = ours / flat json" if ratio else "")))
                rows_out.append(row(f"{name} local slice", label, r["slice"], nbytes=r["slice_rss"],
                                    note="bytes = RSS growth of the first slice (its shard and data)"))
    finally:
        server.stop()
    return {"benchmark": "chunk_tables", "rows": rows_out, "notes": notes}


def _fmt(value: Any, spec: str) -> str:
    return "" if value is None else format(value, spec)


def print_table(result: dict[str, Any]) -> None:
    print("| case | tool | seconds | requests | bytes | ratio | note |")
    print("|---|---|---:|---:|---:|---:|---|")
    for r in result["rows"]:
        print(f"| {r['case']} | {r['tool']} | {_fmt(r['seconds'], '.3f')} | {_fmt(r['requests'], 'd')} | "
              f"{_fmt(r['bytes'], ',')} | {_fmt(r['ratio'], '.3f')} | {r['note']} |")
    for note in result["notes"]:
        print(f"- {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--json", required=True)
    parser.add_argument("--quick", action="store_true", help="10^5 chunks per dataset, 20 ms only")
    parser.add_argument("--latency-ms", type=float, nargs="+", default=None)
    parser.add_argument("--repeat", type=int, default=None)
    args = parser.parse_args(argv)
    if args.latency_ms is None:
        args.latency_ms = [20.0] if args.quick else [20.0, 50.0]
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    result = run(args)
    print_table(result)
    Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
