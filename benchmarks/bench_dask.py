"""Dask over one big ephys array: per-channel mean and std, ours against h5py (+ remfile) + dask.

Input (built once in ``--workdir``): ``ephys.h5``, ``/acquisition/ElectricalSeries/data``, an
int16 random walk of N x 384 samples, gzip level 4, chunks (10 000, 64); N makes 2.1 GB
(``--quick``: 100 MB). ``ephys.lindi.json`` indexes it (hdmf_lindi, no chunk copied).

Workload: ``x = arr.astype("f8"); dask.compute(x.mean(0), x.std(0))`` with the same dask blocks
for every tool: whole storage chunks grown to ``--block-mib`` (``hdmf_lindi.dask.aligned_chunks``).

Cases (each tool timed after one untimed warm-up run, so the page cache is warm for all; best
of ``--repeat``; ours and h5py in this process, the remote anchors in their own venvs):

* ``local_threads``: ours ``Dataset.to_dask()`` vs ``da.from_array(h5py_dataset)`` on dask's
  threaded scheduler (one thread per core). Target: ours / h5py <= 1.0.
* ``local_cluster``: ``LocalCluster(2 processes x 1 thread)``: ours, then h5py's dataset in
  ``da.from_array`` (distributed reopens h5py datasets of local files by name; reported as it
  goes). Each worker's peak RSS is reported (the chunk cache is capped at 64 MiB per file).
* ``remote_20ms``: ``_common.ServerProcess`` (the tests' Range server in a child process) adds
  20 ms per request; ours reads through an index whose references point at the served ``.h5``.
  Anchors, each in its own process timed after its imports and one warm-up, opening the file
  each run as ours opens its index each run:

  * ``remfile``: h5py over ``remfile.File(url)`` in ``da.from_array`` (threaded scheduler), in
    ``$HDMF_LINDI_BENCH_LINDI_PYTHON`` (its venv holds h5py, remfile and dask). Target: ours /
    remfile <= 0.5.
  * ``zarr3``: zarr 3 + ``da.from_zarr`` on the same data written by zarr 3 as a Zarr v3 store
    (same chunks, gzip 4) served by the same server, in ``$HDMF_LINDI_BENCH_HDMF_ZARR_PYTHON``
    (its venv holds dask and fsspec[http]). Target: ours / zarr3 <= 1.0.

  An unset variable gives a "not available" row. Requests (any method) and body bytes are
  counted at the server in one extra run of each tool (ours included).

Usage::

    python benchmarks/bench_dask.py --workdir DIR --json OUT.json [--quick]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, ServerProcess, Traffic, anchor  # noqa: E402

import hdmf_lindi  # noqa: E402
from hdmf_lindi.dask import aligned_chunks  # noqa: E402
from hdmf_lindi.hdf5 import IndexOptions, index_hdf5  # noqa: E402

PATH = "acquisition/ElectricalSeries/data"
CHANNELS = 384
CHUNKS = (10_000, 64)
LATENCY_S = 0.020

ZARR_WRITER = r"""
import json, sys
import numpy as np
import zarr
store, npy, chunks = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
data = np.load(npy, mmap_mode="r")
arr = zarr.create_array(store=store, shape=data.shape, chunks=tuple(chunks), dtype=data.dtype, zarr_format=3,
                        compressors=zarr.codecs.GzipCodec(level=4), overwrite=True)
for start in range(0, data.shape[0], chunks[0] * 8):
    arr[start:start + chunks[0] * 8] = data[start:start + chunks[0] * 8]
"""

ANCHOR_READER = r"""
import json, os, sys, time
import dask, dask.array as da
tool, url, path, blocks, repeat = sys.argv[1], sys.argv[2], sys.argv[3], tuple(json.loads(sys.argv[4])), int(sys.argv[5])
if tool == "zarr3":
    import zarr
    version = f"zarr {zarr.__version__}"
else:
    import h5py, remfile
    version = f"h5py {h5py.__version__}, remfile {getattr(remfile, '__version__', '?')}"

def workload(arr):
    x = arr.astype("f8")
    mean, std = dask.compute(x.mean(axis=0), x.std(axis=0), scheduler="threads", num_workers=os.cpu_count() or 1)
    return float(mean.sum() + std.sum())

def run():  # opens the file each run, as ours opens its index each run
    if tool == "zarr3":
        return workload(da.from_zarr(zarr.open_array(url, mode="r"), chunks=blocks))
    with h5py.File(remfile.File(url), "r") as f:
        return workload(da.from_array(f[path], chunks=blocks, lock=True))

value = run() if repeat else None  # warm-up (REPEAT 0: one run, for the server's counts)
best = float("inf")
for _ in range(max(repeat, 1)):
    t0 = time.perf_counter()
    value = run()
    best = min(best, time.perf_counter() - t0)
print(json.dumps({"seconds": best, "value": value, "versions": f"{version}, dask {dask.__version__}"}))
"""


# ---------------------------------------------------------------------------- inputs
def make_input(workdir: Path, rows: int) -> tuple[Path, Path]:
    """Write ``ephys.h5`` (rows x 384 int16 random walk, gzip) and its local index, once."""
    h5 = workdir / f"ephys_{rows}.h5"
    if not h5.exists():
        tmp = h5.with_suffix(".tmp")
        rng = np.random.default_rng(0)
        level = np.zeros(CHANNELS, dtype=np.int32)
        with h5py.File(tmp, "w") as f:
            ds = f.create_dataset(PATH, shape=(rows, CHANNELS), dtype="<i2", chunks=CHUNKS,
                                  compression="gzip", compression_opts=4)
            step = CHUNKS[0] * 4
            for start in range(0, rows, step):
                n = min(step, rows - start)
                walk = np.cumsum(rng.integers(-20, 21, size=(n, CHANNELS), dtype=np.int32), axis=0) + level
                level = walk[-1]
                ds[start:start + n] = np.clip(walk, -32768, 32767).astype("<i2")
        tmp.rename(h5)
    index = workdir / f"ephys_{rows}.lindi.json"
    if not index.exists():
        index_hdf5(h5, index)
    return h5, index


def remote_index(h5: Path, url: str, served: Path) -> Path:
    """An index of ``h5`` whose references name ``url``, written into the served directory."""
    out = served / "ephys_remote.lindi.json"
    out.unlink(missing_ok=True)
    index_hdf5(h5, out, options=IndexOptions(url=url))
    return out


def counted(traffic: Traffic) -> tuple[int, int, str]:
    """Requests (any method), body bytes, and a note on GETs without a Range, if any.

    A GET without Range is a whole object (an index, a Zarr chunk) or a size probe whose
    client hangs up after the headers; its bytes are those handed to the socket.
    """
    note = ""
    if traffic.unranged_gets:
        note = (f"; {traffic.unranged_gets} GET(s) without Range, {traffic.unranged_bytes / 1e6:.1f} MB "
                "of the bytes handed to the socket for them")
    return traffic.requests, traffic.bytes + traffic.unranged_bytes, note


# ---------------------------------------------------------------------------- measuring
def workload(arr: da.Array, **compute: Any) -> float:
    x = arr.astype("f8")
    mean, std = dask.compute(x.mean(axis=0), x.std(axis=0), **compute)
    return float(mean.sum() + std.sum())


def timed(func: Callable[[], float], repeat: int, before: Callable[[], Any] | None = None) -> tuple[float, float]:
    """Best seconds of ``repeat`` runs after one untimed warm-up, and the result.

    ``before`` runs (untimed) before each run: e.g. closing the workers' cached files, so that
    no run finds decoded chunks left by the previous one.
    """
    value = func()
    best = math.inf
    for _ in range(repeat):
        if before is not None:
            before()
        t0 = time.perf_counter()
        value = func()
        best = min(best, time.perf_counter() - t0)
    return best, value


def _close_cached_files() -> None:
    from hdmf_lindi.tree.handle import OPEN_FILES

    OPEN_FILES.close_all()


def row(case: str, tool: str, seconds: float | None = None, requests: int | None = None,
        nbytes: int | None = None, ratio: float | None = None, note: str = "") -> dict[str, Any]:
    return {"case": case, "tool": tool, "seconds": seconds, "requests": requests, "bytes": nbytes,
            "ratio": ratio, "note": note}


def _peak_rss() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _cluster_rows(index: Path, h5: Path, blocks: tuple[int, ...], repeat: int, expect: float) -> list[dict[str, Any]]:
    from distributed import Client, LocalCluster

    rows = []
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                     dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(2)
        with hdmf_lindi.File(index) as f:
            arr = f[PATH].to_dask(chunks=blocks)
            seconds, value = timed(lambda: workload(arr), repeat, lambda: client.run(_close_cached_files))
        rss = max(client.run(_peak_rss).values())
        rows.append(row("local_cluster", "ours", seconds, note=f"2 processes x 1 thread; {arr.npartitions} tasks; "
                        f"worker peak RSS {rss / 2**20:.0f} MiB; result {'ok' if math.isclose(value, expect) else 'WRONG'}"))
        try:
            with h5py.File(h5, "r") as f:
                harr = da.from_array(f[PATH], chunks=blocks)
                seconds, value = timed(lambda: workload(harr), repeat)
            rows.append(row("local_cluster", "h5py", seconds, ratio=None,
                            note="distributed reopens local h5py datasets by file name"))
            rows[0]["ratio"] = rows[0]["seconds"] / seconds
        except Exception as exc:  # noqa: BLE001 - reported as a row, whatever h5py raises
            rows.append(row("local_cluster", "h5py", note=f"failed: {type(exc).__name__}: {str(exc)[:120]}"))
    return rows


def _zarr_store(python: str, workdir: Path, served: Path, h5: Path) -> Path:
    """The served Zarr v3 store of the same data (same chunks, gzip 4), written once by zarr 3."""
    store = served / f"{h5.stem}.zarr"
    if not (store / "zarr.json").exists():
        npy = workdir / f"{h5.stem}.npy"
        with h5py.File(h5, "r") as f:
            np.save(npy, f[PATH][...])
        subprocess.run([python, "-c", ZARR_WRITER, str(store), str(npy), json.dumps(CHUNKS)],
                       check=True, capture_output=True, text=True)
        npy.unlink()
    return store


def _anchor_row(tool: str, kind: str, server: ServerProcess, workdir: Path, served: Path, h5: Path,
                blocks: tuple[int, ...], repeat: int, expect: float) -> dict[str, Any]:
    """``tool`` (``zarr3`` or ``remfile``) on the served data, in anchor ``kind``'s interpreter:
    its own process, timed after its imports and one warm-up; one more run for the counts."""
    found = anchor(kind)
    if found.python is None:
        return row("remote_20ms", tool, note=found.why)
    try:
        url = server.url(_zarr_store(found.python, workdir, served, h5).name if tool == "zarr3" else h5.name)
        args = [found.python, "-c", ANCHOR_READER, tool, url, PATH, json.dumps(blocks)]
        out = subprocess.run([*args, str(repeat)], check=True, capture_output=True, text=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        server.clear()
        subprocess.run([*args, "0"], check=True, capture_output=True, text=True)
        requests, nbytes, extra = counted(server.traffic())
    except (subprocess.CalledProcessError, OSError, ValueError) as exc:
        detail = exc.stderr.strip().splitlines()[-1] if isinstance(exc, subprocess.CalledProcessError) and exc.stderr else str(exc)
        return row("remote_20ms", tool, note=f"failed: {detail[:160]}")
    how = "da.from_zarr on a Zarr v3 store" if tool == "zarr3" else "h5py.File(remfile.File(url)) in da.from_array"
    ok = "ok" if math.isclose(float(result["value"]), expect) else "WRONG"
    return row("remote_20ms", tool, float(result["seconds"]), requests, nbytes,
               note=f"{result['versions']}: {how}, same chunks and blocks, threads; own process, after imports "
                    f"and one warm-up; result {ok}{extra}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=REPO / "benchmarks" / "results" / "work")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="100 MB instead of 2.1 GB, one repeat")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs per tool (default 3; quick 1)")
    parser.add_argument("--block-mib", type=float, default=16.0, help="dask block size target (MiB)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    rows_n = (100 << 20) // (CHANNELS * 2) if args.quick else (2100 << 20) // (CHANNELS * 2)
    repeat = args.repeat or (1 if args.quick else 3)
    h5, index = make_input(workdir, rows_n)
    shape = (rows_n, CHANNELS)
    blocks = aligned_chunks(shape, CHUNKS, 2, int(args.block_mib * (1 << 20)))
    notes = [f"data {shape} int16 = {rows_n * CHANNELS * 2 / 2**20:.0f} MiB, chunks {CHUNKS}, gzip 4; "
             f"{h5.stat().st_size / 2**20:.0f} MiB on disk; dask blocks {blocks}; {os.cpu_count()} cores; "
             f"load average {os.getloadavg()[0]:.1f}"]
    rows: list[dict[str, Any]] = []
    threads = {"scheduler": "threads", "num_workers": os.cpu_count() or 1}

    # local, threads: every run opens the file (no decoded chunk survives from the last run)
    def ours_local() -> float:
        with hdmf_lindi.File(index) as f:
            return workload(f[PATH].to_dask(chunks=blocks), **threads)

    def h5py_local() -> float:
        with h5py.File(h5, "r") as f:
            return workload(da.from_array(f[PATH], chunks=blocks), **threads)

    ours_s, expect = timed(ours_local, repeat)
    h5_s, h5_value = timed(h5py_local, repeat)
    assert math.isclose(expect, h5_value), (expect, h5_value)
    tasks = math.prod(math.ceil(n / b) for n, b in zip(shape, blocks, strict=True))
    rows.append(row("local_threads", "ours", ours_s, ratio=ours_s / h5_s, note=f"to_dask, {tasks} tasks; target <= 1.0"))
    rows.append(row("local_threads", "h5py", h5_s, note="h5py + da.from_array, same blocks"))

    # local, LocalCluster(2)
    rows.extend(_cluster_rows(index, h5, blocks, repeat, expect))

    # remote at 20 ms
    served = workdir / "served"
    served.mkdir(exist_ok=True)
    served_h5 = served / h5.name
    if not served_h5.exists():
        os.link(h5, served_h5) if hasattr(os, "link") else served_h5.write_bytes(h5.read_bytes())
    with ServerProcess(served) as server:
        url_index = remote_index(served_h5, server.url(served_h5.name), served)
        server.set(latency_s=LATENCY_S)

        def ours_remote() -> float:
            with hdmf_lindi.File(server.url(url_index.name)) as f:
                return workload(f[PATH].to_dask(chunks=blocks), **threads)

        seconds, value = timed(ours_remote, repeat)
        server.clear()
        ours_remote()
        requests, nbytes, extra = counted(server.traffic())
        ok = "ok" if math.isclose(value, expect) else "WRONG"
        rows.append(row("remote_20ms", "ours", seconds, requests, nbytes,
                        note=f"File(url).to_dask, this process, after one warm-up; result {ok}{extra}"))
        for tool, kind in (("remfile", "lindi"), ("zarr3", "hdmf_zarr")):
            rows.append(_anchor_row(tool, kind, server, workdir, served, served_h5, blocks, repeat, expect))
            other = rows[-1]["seconds"]
            if other:
                target = 0.5 if tool == "remfile" else 1.0
                rows.append(row("remote_20ms", f"ours/{tool}", ratio=seconds / other,
                                note=f"ours {seconds:.3f} s / {tool} {other:.3f} s; target <= {target}"))

    print(f"\n### bench_dask\n\n{notes[0]}\n")
    print("| case | tool | seconds | requests | MB | ratio | note |\n|---|---|---|---|---|---|---|")
    for r in rows:
        sec = "—" if r["seconds"] is None else f"{r['seconds']:.3f}"
        mb = "—" if r["bytes"] is None else f"{r['bytes'] / 1e6:.1f}"
        ratio = "—" if r["ratio"] is None else f"**{r['ratio']:.2f}**"
        print(f"| {r['case']} | {r['tool']} | {sec} | {r['requests'] if r['requests'] is not None else '—'} | {mb} | {ratio} | {r['note']} |")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"benchmark": "dask", "rows": rows, "notes": notes}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
