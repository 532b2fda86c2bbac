"""Remote reads against h5py + remfile and lindi 0.4.6, over a local Range server with latency.

Usage::

    python benchmarks/bench_remote.py --workdir DIR --json OUT.json [--quick]
        [--latency-ms MS ...] [--repeat N] [--cases NAME ...] [--bandwidth-mb-s MB]

Files, written once into ``DIR/remote`` (``--quick``: shorter ones):

* ``ephys``: ``/acquisition/ElectricalSeries/data``, 120,000 (quick 50,000) x 384 int16, gzip
  level 4, chunks (1000, 64) (a random walk, so gzip has something to do); the case
  ``ephys_1s`` reads 1 s at 30 kHz from the middle, ``data[15_000:45_000, :]`` (180 chunks);
* ``ophys``: ``/acquisition/TwoPhotonSeries/data``, 1000 (quick 200) x 256 x 256 uint16,
  chunks (10, 256, 256), uncompressed; the case ``ophys_all`` reads every frame;
* ``session.nwb`` (pynwb): electrodes, a 30 s (quick 3 s) x 64 ElectricalSeries, 20
  TimeSeries, 30 units; the case ``nwb_read`` opens it and calls ``read()`` (no data chunk).

The server is the tests' RangeServer in a child process (``_common.ServerProcess``); it sleeps
the given latency before every answer and serves requests in parallel threads. Each file is
indexed by ``hdmf_lindi.index_hdf5`` over HTTP into a ``.lindi.json`` whose chunk references
point at the served file (set-up, not timed). Then every tool runs in a fresh process per run,
timed by itself after its imports (best of ``--repeat``), and the server counts its requests
and body bytes:

* ``ours``: ``hdmf_lindi.File(index_url)[path][sel]`` / ``hdmf_lindi.read_nwb(index_url)``;
* ``remfile``: ``h5py.File(remfile.File(h5_url))[path][sel]`` / ``NWBHDF5IO(file=...)`` over it;
* ``lindi``: ``LindiH5pyFile.from_lindi_file(index_url)`` (our index), then the same.

(remfile and lindi run in $HDMF_LINDI_BENCH_LINDI_PYTHON; unset: "not available".)

The ``limit`` row is computed from the workload alone, not from any tool's requests: one round
trip for the index and its bytes, then the chunks the selection touches, merged into runs of
adjacent bytes and fetched by a client with ``LIMIT_CONCURRENCY`` connections
(⌈runs / concurrency⌉ round trips), plus all bytes over the single-stream bandwidth of the
server measured in the same run with the standard library's HTTP client. It leaves out
decoding and pynwb, which every tool pays.
"""

from __future__ import annotations

import math
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from _common import Anchor, Report, ServerProcess, anchor, parse_args, run_fresh

import hdmf_lindi

LIMIT_CONCURRENCY = 8
"""Parallel connections of the ideal client in the limit (our default ``max_workers``)."""

ARRAY_CASES = {
    "ephys_1s": ("ephys", "/acquisition/ElectricalSeries/data", (15_000, 45_000)),
    "ophys_all": ("ophys", "/acquisition/TwoPhotonSeries/data", (None, None)),
}
NWB_CASE = "nwb_read"

# Each driver: argv = url, path, start, stop ("none" for an open end); prints seconds, CPU,
# checksum. Ours reads the index; remfile the HDF5 file; lindi the index.
OURS_ARRAY = r"""
import json, sys, time
import hdmf_lindi
url, path, start, stop = sys.argv[1:5]
sel = slice(None if start == "none" else int(start), None if stop == "none" else int(stop))
c0, t0 = time.process_time(), time.perf_counter()
with hdmf_lindi.File(url) as f:
    x = f[path][sel]
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"seconds": seconds, "cpu": cpu, "checksum": int(x.astype("int64").sum())}))
"""

REMFILE_ARRAY = r"""
import json, sys, time
import h5py, remfile
url, path, start, stop = sys.argv[1:5]
sel = slice(None if start == "none" else int(start), None if stop == "none" else int(stop))
c0, t0 = time.process_time(), time.perf_counter()
with h5py.File(remfile.File(url), "r") as f:
    x = f[path][sel]
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"seconds": seconds, "cpu": cpu, "checksum": int(x.astype("int64").sum())}))
"""

LINDI_ARRAY = r"""
import json, sys, time
import lindi
url, path, start, stop = sys.argv[1:5]
sel = slice(None if start == "none" else int(start), None if stop == "none" else int(stop))
c0, t0 = time.process_time(), time.perf_counter()
f = lindi.LindiH5pyFile.from_lindi_file(url)
x = f[path][sel]
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"seconds": seconds, "cpu": cpu, "checksum": int(x.astype("int64").sum())}))
"""

# argv = url (index for ours and lindi, .nwb for remfile).
OURS_NWB = r"""
import json, sys, time
import pynwb
import hdmf_lindi, hdmf_lindi.nwb
c0, t0 = time.process_time(), time.perf_counter()
nwbfile = hdmf_lindi.read_nwb(sys.argv[1])
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"seconds": seconds, "cpu": cpu, "checksum": len(nwbfile.acquisition) + len(nwbfile.processing)}))
"""

REMFILE_NWB = r"""
import json, sys, time
import h5py, pynwb, remfile
c0, t0 = time.process_time(), time.perf_counter()
io = pynwb.NWBHDF5IO(file=h5py.File(remfile.File(sys.argv[1]), "r"), mode="r")
nwbfile = io.read()
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"seconds": seconds, "cpu": cpu, "checksum": len(nwbfile.acquisition) + len(nwbfile.processing)}))
"""

LINDI_NWB = r"""
import json, sys, time
import lindi, pynwb
c0, t0 = time.process_time(), time.perf_counter()
f = lindi.LindiH5pyFile.from_lindi_file(sys.argv[1])
io = pynwb.NWBHDF5IO(file=f, mode="r")
nwbfile = io.read()
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"seconds": seconds, "cpu": cpu, "checksum": len(nwbfile.acquisition) + len(nwbfile.processing)}))
"""


# ---------------------------------------------------------------------------- files
def _atomic_h5(path: Path, fill: Any) -> None:
    if path.exists():
        return
    part = path.with_name("part-" + path.name)
    with h5py.File(part, "w") as f:
        fill(f)
    part.rename(path)


def make_files(work: Path, quick: bool) -> dict[str, Path]:
    """Write (once) the three files; return them by kind."""
    rows, frames, nwb_s = (50_000, 200, 3) if quick else (120_000, 1000, 30)
    paths = {
        "ephys": work / f"ephys_{rows}.h5",
        "ophys": work / f"ophys_{frames}.h5",
        "session": work / f"session_{nwb_s}s.nwb",
    }

    def ephys(f: h5py.File) -> None:
        rng = np.random.default_rng(0)
        walk = np.cumsum(rng.integers(-20, 21, size=(rows, 384), dtype=np.int16), axis=0, dtype=np.int32)
        data = np.clip(walk, -32768, 32767).astype(np.int16)
        f.create_dataset("acquisition/ElectricalSeries/data", data=data, chunks=(1000, 64),
                         compression="gzip", compression_opts=4)

    def ophys(f: h5py.File) -> None:
        rng = np.random.default_rng(1)
        ds = f.create_dataset("acquisition/TwoPhotonSeries/data", shape=(frames, 256, 256),
                              dtype="<u2", chunks=(10, 256, 256))
        for i in range(0, frames, 100):
            ds[i:i + 100] = rng.integers(0, 4096, size=(min(100, frames - i), 256, 256), dtype=np.uint16)

    _atomic_h5(paths["ephys"], ephys)
    _atomic_h5(paths["ophys"], ophys)
    if not paths["session"].exists():
        part = paths["session"].with_name("part-" + paths["session"].name)
        make_nwb(part, nwb_s)
        part.rename(paths["session"])
    return paths


def make_nwb(path: Path, seconds: int) -> None:
    """A pynwb-written session: electrodes, an ElectricalSeries, 20 TimeSeries, 30 units."""
    from pynwb import NWBHDF5IO, TimeSeries
    from pynwb.ecephys import ElectricalSeries
    from pynwb.testing.mock.file import mock_NWBFile

    rng = np.random.default_rng(2)
    nwbfile = mock_NWBFile()
    device = nwbfile.create_device(name="probe")
    group = nwbfile.create_electrode_group(name="shank0", description="shank", location="CA1", device=device)
    for _ in range(64):
        nwbfile.add_electrode(group=group, location="CA1")
    region = nwbfile.create_electrode_table_region(list(range(64)), "all electrodes")
    data = rng.integers(-500, 500, size=(30_000 * seconds, 64), dtype=np.int16)
    nwbfile.add_acquisition(ElectricalSeries(name="ElectricalSeries", data=data, electrodes=region, rate=30_000.0))
    module = nwbfile.create_processing_module(name="behavior", description="behaviour")
    for i in range(20):
        module.add(TimeSeries(name=f"ts{i}", data=rng.normal(size=1000), unit="m", rate=100.0))
    for _ in range(30):
        nwbfile.add_unit(spike_times=np.sort(rng.uniform(0, seconds, size=200)))
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)


# ---------------------------------------------------------------------------- workload
def touched_runs(h5_path: Path, path: str, rows: tuple[int | None, int | None]) -> tuple[int, int, int]:
    """(chunks, stored bytes, runs of adjacent bytes) of the chunks that rows ``rows`` touch."""
    with h5py.File(h5_path) as f:
        ds = f[path]
        start, stop, _ = slice(*rows).indices(ds.shape[0])
        rows_per_chunk = ds.chunks[0]
        dsid = ds.id
        spans = []
        for i in range(dsid.get_num_chunks()):
            info = dsid.get_chunk_info(i)
            first = info.chunk_offset[0]
            if first < stop and first + rows_per_chunk > start:
                spans.append((info.byte_offset, info.size))
    spans.sort()
    runs, end = 0, -1
    for offset, size in spans:
        if offset != end:
            runs += 1
        end = offset + size
    return len(spans), sum(size for _, size in spans), runs


def single_stream_bandwidth(url: str, nbytes: int) -> float:
    """Bytes per second of one ranged GET of ``nbytes`` (best of 3), with the stdlib client."""
    best = math.inf
    for _ in range(3):
        request = urllib.request.Request(url, headers={"Range": f"bytes=0-{nbytes - 1}"})
        t0 = time.perf_counter()
        with urllib.request.urlopen(request, timeout=120) as answer:
            got = len(answer.read())
        best = min(best, time.perf_counter() - t0)
    return got / best


# ---------------------------------------------------------------------------- runs
def _measure(
    report: Report, server: ServerProcess, case: str, tool: str, python: str | None,
    missing: Anchor, script: str, argv: list[str], repeat: int,
) -> dict[str, Any] | None:
    if python is None:
        report.unavailable(case, missing, tool)
        return None
    best: dict[str, Any] | None = None
    traffic = None
    for _ in range(repeat):
        server.clear()
        r = run_fresh(python, script, argv)
        if "error" in r:
            best = r
            break
        if best is None or r["seconds"] < best["seconds"]:
            best, traffic = r, server.traffic()
    assert best is not None
    note = "" if "cpu" not in best else f"CPU {best['cpu'] * 1000:.0f} ms (all threads)"
    if traffic is not None and traffic.unranged_gets:
        note += f"; {traffic.unranged_gets} GET(s) without Range, {traffic.unranged_bytes:,} body bytes"
    report.add(case, tool, requests=None if traffic is None else traffic.requests,
               bytes=None if traffic is None else traffic.bytes + traffic.unranged_bytes,
               measured=best, note=note.strip("; "))
    return best


def run_case(
    report: Report, server: ServerProcess, case: str, latency_ms: float, files: dict[str, Path],
    lindi: Anchor, repeat: int, bandwidth: float,
) -> bool:
    """Measure every tool on one case at one latency; return whether their checksums agree."""
    label = f"{case} @ {latency_ms:g} ms"
    if case == NWB_CASE:
        index, h5 = files["session.index"], files["session"]
        runs = [("ours", sys.executable, OURS_NWB, [server.url(index.name)]),
                ("remfile", lindi.python, REMFILE_NWB, [server.url(h5.name)]),
                ("lindi", lindi.python, LINDI_NWB, [server.url(index.name)])]
        chunks = data_bytes = data_runs = 0
    else:
        kind, path, rows = ARRAY_CASES[case]
        index, h5 = files[f"{kind}.index"], files[kind]
        bounds = ["none" if x is None else str(x) for x in rows]
        runs = [("ours", sys.executable, OURS_ARRAY, [server.url(index.name), path, *bounds]),
                ("remfile", lindi.python, REMFILE_ARRAY, [server.url(h5.name), path, *bounds]),
                ("lindi", lindi.python, LINDI_ARRAY, [server.url(index.name), path, *bounds])]
        chunks, data_bytes, data_runs = touched_runs(h5, path, rows)
    checksums = set()
    for tool, python, script, argv in runs:
        r = _measure(report, server, label, tool, python, lindi, script, argv, repeat)
        if r is not None and "checksum" in r:
            checksums.add(r["checksum"])
    latency = latency_ms / 1000
    index_bytes = index.stat().st_size
    round_trips = 1 + math.ceil(data_runs / LIMIT_CONCURRENCY)
    limit = round_trips * latency + (index_bytes + data_bytes) / bandwidth
    report.add(label, "limit", seconds=limit, requests=1 + data_runs, bytes=index_bytes + data_bytes,
               note=(f"{round_trips} round trip(s): the index ({index_bytes:,} B)"
                     + (f", then {chunks} chunks in {data_runs} run(s) of adjacent bytes "
                        f"({data_bytes:,} B) over {LIMIT_CONCURRENCY} connections" if chunks else "")
                     + f"; bytes at {bandwidth / 1e6:.0f} MB/s; decoding and pynwb left out"))
    times = {t: report.find(label, t) for t in ("remfile", "lindi")}
    anchors = {t: row.seconds for t, row in times.items() if row is not None and row.seconds}
    if anchors:
        faster = min(anchors, key=lambda t: anchors[t])
        report.ratio(label, "ours", faster)
    limit_row, ours = report.find(label, "limit"), report.find(label, "ours")
    if limit_row is not None and ours is not None and ours.seconds:
        limit_row.ratio = ours.seconds / limit
        limit_row.note += "; ratio = ours / this limit"
    return len(checksums) <= 1


def _arguments(parser: Any) -> None:
    parser.add_argument("--latency-ms", type=float, nargs="+", default=None, help="default 20 50; --quick 20")
    parser.add_argument("--repeat", type=int, default=None, help="best of N per tool (default 3; --quick 1)")
    parser.add_argument("--cases", nargs="+", default=[*ARRAY_CASES, NWB_CASE])
    parser.add_argument("--bandwidth-mb-s", type=float, default=None,
                        help="cap every answer at this many MB/s, as a slower link would")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__.split("\n")[0], argv, _arguments)
    latencies = args.latency_ms or ([20.0] if args.quick else [20.0, 50.0])
    repeat = args.repeat or (1 if args.quick else 3)
    cap = None if args.bandwidth_mb_s is None else args.bandwidth_mb_s * 1e6
    work = args.workdir / "remote"
    work.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = dict(make_files(work, args.quick))
    report = Report("remote", process_state=(
        f"every tool in a fresh process per run, timed by itself after its imports; best of {repeat}"
    ))
    lindi = anchor("lindi")
    agree = True
    with ServerProcess(work) as server:  # forked before this process starts any thread
        for kind in ("ephys", "ophys", "session"):
            index = work / f"{files[kind].stem}.lindi.json"
            index.unlink(missing_ok=True)
            hdmf_lindi.index_hdf5(server.url(files[kind].name), index)
            files[f"{kind}.index"] = index
        size = files["ophys"].stat().st_size
        bandwidth = single_stream_bandwidth(server.url(files["ophys"].name), min(size, 64 << 20))
        report.note(f"server single-stream bandwidth without latency: {bandwidth / 1e6:.0f} MB/s"
                    + (f"; answers capped at {args.bandwidth_mb_s:g} MB/s" if cap else ""))
        for latency_ms in latencies:
            server.set(latency_s=latency_ms / 1000, bandwidth_bytes_per_s=cap)
            for case in args.cases:
                print(f"[remote] {case} at {latency_ms:g} ms ...", file=sys.stderr, flush=True)
                if not run_case(report, server, case, latency_ms, files, lindi, repeat, bandwidth):
                    agree = False
                    report.note(f"{case} @ {latency_ms:g} ms: the tools' checksums DISAGREE")
    report.note("ratio on ours = ours / the faster anchor (named in its note); on limit = ours / limit")
    report.finish(args.json)
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
