"""Remote reads against h5py + remfile and lindi 0.4.6, over a local Range server with latency.

Two HDF5 files are written once into ``--workdir`` (never committed):

* ``ephys.h5``: ``/acquisition/ElectricalSeries/data``, 120 000 x 384 int16, gzip level 4, chunks
  (1000, 64) (a random walk, so gzip has something to do); the case reads 1 s at 30 kHz from
  the middle: ``data[45_000:75_000, :]`` (180 chunks);
* ``ophys.h5``: ``/acquisition/TwoPhotonSeries/data``, 1000 x 256 x 256 uint16, chunks
  (10, 256, 256), uncompressed (131 MB); the case reads every frame: ``data[:]``;
* ``session.nwb`` (pynwb): electrodes, a 30 s x 64 ElectricalSeries, 20 TimeSeries in a
  processing module, 30 units; the case opens it and calls ``read()`` (``hdmf_lindi.read_nwb``;
  ``NWBHDF5IO`` over remfile; ``NWBHDF5IO`` over lindi's ``LindiH5pyFile``). Its "limit" is
  our request count times the latency; its local read is ``read_nwb`` on a local index.

The server (``tests/httpserver.py``) runs in a child process. Both files are indexed with
``hdmf_lindi.index_hdf5`` *over HTTP* into ``.lindi.json`` files whose
chunk references point at the served ``.h5`` URL. Then, for each added latency (the test
server sleeps that long before answering each request; it serves requests in parallel threads),
each tool opens the file and reads the selection, and the server log gives its request count:

* ``ours``: ``hdmf_lindi.File(index_url)[path][sel]`` (in process);
* ``remfile``: ``h5py.File(remfile.File(h5_url))[path][sel]`` (in process);
* ``lindi``: ``lindi.LindiH5pyFile.from_lindi_file(index_url)[path][sel]`` in lindi 0.4.6's
  venv (subprocess; it reads our index; timed inside the subprocess after its imports).

Times include the open and are the best of ``--repeat`` runs. The "limit" is the round trips
our plan cannot avoid (one for the index, then one per ``max_workers`` data requests) times the
latency, plus the bytes over the single-stream bandwidth measured without added latency;
"limit + local read" adds the time ``hdmf_lindi.File`` takes to read the same selection from a
local index of the local file (decoding and assembly, no network). The "CPU floor" of an array
case replaces the transfer term by the larger of it and our own CPU time for the read (all
threads, measured with ``time.process_time`` over ``--repeat`` reads at the same latency)
divided by the cores: on a small machine that shares its cores with the test server, decoding
and receiving, not the link, bound the time.

Usage::

    PYTHONPATH=. /tmp/devvenv/bin/python benchmarks/bench_remote.py --workdir /tmp/bench_remote \\
        --lindi-python /tmp/lindivenv/bin/python --latency-ms 20 50
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
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
from hdmf_lindi.storage import RemoteOptions  # noqa: E402

CASES = {
    "ephys_1s": ("ephys.h5", "/acquisition/ElectricalSeries/data", (slice(45_000, 75_000), slice(None))),
    "ophys_all": ("ophys.h5", "/acquisition/TwoPhotonSeries/data", (slice(None),)),
}

NWB_CASE = "nwb_read"
"""Open ``session.nwb`` (pynwb-written) and ``read()`` it: metadata only, no data chunk."""

LINDI_NWB_DRIVER = r"""
import json, sys, time
import lindi, pynwb
t0 = time.perf_counter()
f = lindi.LindiH5pyFile.from_lindi_file(sys.argv[1])
io = pynwb.NWBHDF5IO(file=f, mode="r")
nwbfile = io.read()
elapsed = time.perf_counter() - t0
print(json.dumps({"seconds": elapsed, "checksum": len(nwbfile.acquisition) + len(nwbfile.processing)}))
"""

OURS_NWB_DRIVER = r"""
import json, sys, time
import pynwb
import hdmf_lindi, hdmf_lindi.nwb
t0 = time.perf_counter()
nwbfile = hdmf_lindi.read_nwb(sys.argv[1])
elapsed = time.perf_counter() - t0
print(json.dumps({"seconds": elapsed, "checksum": len(nwbfile.acquisition) + len(nwbfile.processing)}))
"""

LINDI_DRIVER = r"""
import json, sys, time
import lindi
url, path, start, stop = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
t0 = time.perf_counter()
f = lindi.LindiH5pyFile.from_lindi_file(url)
ds = f[path]
sel = slice(int(start), int(stop)) if start != "none" else slice(None)
x = ds[sel]
elapsed = time.perf_counter() - t0
print(json.dumps({"seconds": elapsed, "checksum": int(x.astype("int64").sum()), "shape": list(x.shape)}))
"""


def make_files(workdir: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    ephys = workdir / "ephys.h5"
    if not ephys.exists():
        rng = np.random.default_rng(0)
        walk = np.cumsum(rng.integers(-20, 21, size=(120_000, 384), dtype=np.int16), axis=0, dtype=np.int32)
        data = np.clip(walk, -32768, 32767).astype(np.int16)
        with h5py.File(ephys, "w") as f:
            f.create_dataset(
                "acquisition/ElectricalSeries/data", data=data, chunks=(1000, 64), compression="gzip", compression_opts=4
            )
    ophys = workdir / "ophys.h5"
    if not ophys.exists():
        rng = np.random.default_rng(1)
        with h5py.File(ophys, "w") as f:
            ds = f.create_dataset("acquisition/TwoPhotonSeries/data", shape=(1000, 256, 256), dtype="<u2", chunks=(10, 256, 256))
            for i in range(0, 1000, 100):
                ds[i:i + 100] = rng.integers(0, 4096, size=(100, 256, 256), dtype=np.uint16)


def make_nwb(path: Path) -> None:
    """A pynwb-written session: electrodes, a 30 s x 64 ElectricalSeries, 20 TimeSeries, units."""
    if path.exists():
        return
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
    data = rng.integers(-500, 500, size=(900_000, 64), dtype=np.int16)
    nwbfile.add_acquisition(ElectricalSeries(name="ElectricalSeries", data=data, electrodes=region, rate=30_000.0))
    module = nwbfile.create_processing_module(name="behavior", description="behaviour")
    for i in range(20):
        module.add(TimeSeries(name=f"ts{i}", data=rng.normal(size=1000), unit="m", rate=100.0))
    for _ in range(30):
        nwbfile.add_unit(spike_times=np.sort(rng.uniform(0, 30, size=200)))
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)


def run_ours_nwb(index_url: str, options: RemoteOptions) -> tuple[float, int]:
    # A fresh process per run, timed after its imports, as lindi's: pynwb keeps state between
    # reads in one process (object mappers), which a warm in-process repeat would count.
    del options  # the driver uses the defaults, as the array cases do
    out = subprocess.run(
        [sys.executable, "-c", OURS_NWB_DRIVER, index_url],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])},
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return float(result["seconds"]), int(result["checksum"])


def run_remfile_nwb(h5_url: str) -> tuple[float, int]:
    import remfile
    from pynwb import NWBHDF5IO

    t0 = time.perf_counter()
    io = NWBHDF5IO(file=h5py.File(remfile.File(h5_url), "r"), mode="r")
    nwbfile = io.read()
    elapsed = time.perf_counter() - t0
    io.close()
    return elapsed, len(nwbfile.acquisition) + len(nwbfile.processing)


def run_lindi_nwb(python: str, index_url: str) -> tuple[float, int]:
    out = subprocess.run([python, "-c", LINDI_NWB_DRIVER, index_url], check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return float(result["seconds"]), int(result["checksum"])


def nwb_row(server: ServerProcess, args: argparse.Namespace, latency_ms: float, options: RemoteOptions) -> dict[str, Any]:
    index_url = server.url("session.lindi.json")
    row: dict[str, Any] = {"case": NWB_CASE, "latency_ms": latency_ms}
    row["ours"] = measure(server, args.repeat, run_ours_nwb, index_url, options)
    row["remfile"] = measure(server, args.repeat, run_remfile_nwb, server.url("session.nwb"))
    if args.lindi_python and Path(args.lindi_python).exists():
        row["lindi"] = measure(server, args.repeat, run_lindi_nwb, args.lindi_python, index_url)
    row["limit_s"] = row["ours"]["requests"] * latency_ms / 1000
    local_index = args.workdir / "session.local.lindi.json"
    if not local_index.exists():
        hdmf_lindi.index_hdf5(args.workdir / "session.nwb", local_index)
    row["local_s"] = min(run_ours_nwb(str(local_index), options)[0] for _ in range(args.repeat))
    return row


def stored_bytes(h5_path: Path, path: str, rows: slice) -> int:
    """Return the stored (compressed) bytes of the chunks whose first row lies in ``rows``."""
    with h5py.File(h5_path) as f:
        dsid = f[path].id
        start, stop, _ = rows.indices(f[path].shape[0])
        infos = (dsid.get_chunk_info(i) for i in range(dsid.get_num_chunks()))
        return sum(info.size for info in infos if start <= info.chunk_offset[0] < stop)


def checksum(x: np.ndarray[Any, Any]) -> int:
    return int(x.astype(np.int64).sum())


def run_ours(index_url: str, path: str, sel: tuple[slice, ...], options: RemoteOptions) -> tuple[float, int]:
    t0 = time.perf_counter()
    with hdmf_lindi.File(index_url, options=options) as f:
        x = f[path][sel]
    return time.perf_counter() - t0, checksum(x)


def ours_cpu_s(index_url: str, path: str, sel: tuple[slice, ...], options: RemoteOptions, repeat: int) -> float:
    """Our process CPU time (every thread) for one open and read: the median of ``repeat``."""
    times = []
    for _ in range(repeat):
        c0 = time.process_time()
        with hdmf_lindi.File(index_url, options=options) as f:
            f[path][sel]
        times.append(time.process_time() - c0)
    return float(np.median(times))


def run_remfile(h5_url: str, path: str, sel: tuple[slice, ...]) -> tuple[float, int]:
    import remfile

    t0 = time.perf_counter()
    with h5py.File(remfile.File(h5_url), "r") as f:
        x = f[path][sel]
    return time.perf_counter() - t0, checksum(x)


def run_lindi(python: str, index_url: str, path: str, sel: tuple[slice, ...]) -> tuple[float, int]:
    first = sel[0]
    start = "none" if first.start is None else str(first.start)
    stop = "none" if first.stop is None else str(first.stop)
    out = subprocess.run(
        [python, "-c", LINDI_DRIVER, index_url, path, start, stop], check=True, capture_output=True, text=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return float(result["seconds"]), int(result["checksum"])


class ServerProcess:
    """A :class:`RangeServer` in a child process, so that it never competes for our GIL."""

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
                elif command == "misbehave":
                    server.misbehave(**arg)
                elif command == "clear":
                    server.requests.clear()
                elif command == "count":
                    conn.send(len([r for r in server.requests if r.method == "GET"]))
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


def measure(server: ServerProcess, repeat: int, func: Any, *args: Any) -> dict[str, Any]:
    """Best time of ``repeat`` runs, and the requests of one run."""
    best = math.inf
    for _ in range(repeat):
        server.call("clear")
        seconds, total = func(*args)
        best = min(best, seconds)
    return {"seconds": best, "checksum": total, "requests": server.call("count")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench_remote"))
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[20.0, 50.0])
    parser.add_argument("--lindi-python", default=os.environ.get("HDMF_LINDI_LINDI_PYTHON", "/tmp/lindivenv/bin/python"))
    parser.add_argument("--cases", nargs="+", default=[*CASES, NWB_CASE])
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs per tool")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--bandwidth-mb-s", type=float, default=None,
        help="cap every answer of the server at this many MB/s (per connection), as a slower link would",
    )
    args = parser.parse_args(argv)
    cap = None if args.bandwidth_mb_s is None else args.bandwidth_mb_s * 1e6

    def set_latency(latency_s: float) -> None:
        server.call("misbehave", {"latency_s": latency_s, "bandwidth_bytes_per_s": cap})

    make_files(args.workdir)
    if NWB_CASE in args.cases:
        make_nwb(args.workdir / "session.nwb")
    options = RemoteOptions()
    results: list[dict[str, Any]] = []
    server = ServerProcess(args.workdir)
    try:
        local_s: dict[str, float] = {}
        if NWB_CASE in args.cases:
            hdmf_lindi.index_hdf5(server.url("session.nwb"), args.workdir / "session.lindi.json")
        for name in [c for c in args.cases if c in CASES]:
            h5_name, path, sel = CASES[name]
            index = args.workdir / f"{Path(h5_name).stem}.lindi.json"
            hdmf_lindi.index_hdf5(server.url(h5_name), index)
            local_index = args.workdir / f"{Path(h5_name).stem}.local.lindi.json"
            hdmf_lindi.index_hdf5(args.workdir / h5_name, local_index)
            local_s[name] = min(run_ours(str(local_index), path, sel, options)[0] for _ in range(args.repeat))
        # the bandwidth of the local server without latency: best of three single large reads
        set_latency(0.0)
        size = (args.workdir / "ophys.h5").stat().st_size
        fetcher = hdmf_lindi.storage.Fetcher()
        seconds = math.inf
        for _ in range(3):
            t0 = time.perf_counter()
            fetcher.source(server.url("ophys.h5")).read_range(0, size)
            seconds = min(seconds, time.perf_counter() - t0)
        fetcher.close()
        bandwidth = size / seconds
        print(f"local server bandwidth without latency: {bandwidth / 1e6:.0f} MB/s")
        for latency_ms in args.latency_ms:
            if NWB_CASE in args.cases:
                set_latency(latency_ms / 1000)
                results.append(nwb_row(server, args, latency_ms, options))
                print_row(results[-1])
            for name in [c for c in args.cases if c in CASES]:
                h5_name, path, sel = CASES[name]
                index_url = server.url(f"{Path(h5_name).stem}.lindi.json")
                set_latency(latency_ms / 1000)
                row: dict[str, Any] = {"case": name, "latency_ms": latency_ms}
                row["ours"] = measure(server, args.repeat, run_ours, index_url, path, sel, options)
                data_requests = row["ours"]["requests"] - 1
                nbytes = stored_bytes(args.workdir / h5_name, path, sel[0])
                round_trips_s = (1 + math.ceil(data_requests / options.max_workers)) * latency_ms / 1000
                row["limit_s"] = round_trips_s + nbytes / bandwidth
                row["cpu_s"] = ours_cpu_s(index_url, path, sel, options, args.repeat)
                row["cpu_floor_s"] = round_trips_s + max(nbytes / bandwidth, row["cpu_s"] / (os.cpu_count() or 1))
                row["local_s"] = local_s[name]
                row["remfile"] = measure(server, args.repeat, run_remfile, server.url(h5_name), path, sel)
                if args.lindi_python and Path(args.lindi_python).exists():
                    row["lindi"] = measure(server, args.repeat, run_lindi, args.lindi_python, index_url, path, sel)
                checks = {row[t]["checksum"] for t in ("ours", "remfile", "lindi") if t in row}
                assert len(checks) == 1, f"tools disagree on {name}: {checks}"
                results.append(row)
                print_row(row)
    finally:
        server.stop()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def print_row(row: dict[str, Any]) -> None:
    ours = row["ours"]
    parts = [f"{row['case']:<10} {row['latency_ms']:>4.0f} ms  ours {ours['seconds']:.3f} s / {ours['requests']} req"]
    for tool in ("remfile", "lindi"):
        if tool in row:
            other = row[tool]
            parts.append(
                f"{tool} {other['seconds']:.3f} s / {other['requests']} req (ratio {ours['seconds'] / other['seconds']:.2f})"
            )
    parts.append(f"limit {row['limit_s']:.3f} s (ours/limit {ours['seconds'] / row['limit_s']:.2f})")
    with_cpu = row["limit_s"] + row["local_s"]
    parts.append(f"limit + local read {with_cpu:.3f} s (ours/that {ours['seconds'] / with_cpu:.2f})")
    if "cpu_floor_s" in row:
        parts.append(
            f"our CPU {row['cpu_s'] * 1000:.0f} ms, CPU floor {row['cpu_floor_s']:.3f} s "
            f"(ours/floor {ours['seconds'] / row['cpu_floor_s']:.2f})"
        )
    print("  |  ".join(parts), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
