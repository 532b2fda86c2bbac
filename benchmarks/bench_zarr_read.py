"""Reading NWB files that hdmf-zarr 0.14 stored as Zarr v3 directory stores: ours vs NWBZarrIO.

Usage::

    python benchmarks/bench_zarr_read.py --workdir DIR --json OUT.json [--quick] [--latency-ms MS]

Input, written once into ``DIR/zarr_read`` by hdmf-zarr 0.14 itself (the anchor's interpreter,
``$HDMF_LINDI_BENCH_HDMF_ZARR_PYTHON``; without it there is no input and every row says "not
available"): ``session.nwb.zarr``, a metadata-heavy NWB file (``NWBZarrIO.write`` defaults:
consolidated metadata, zarr's automatic chunks): 300 (quick 60) small TimeSeries, 64
electrodes, 100 units with ragged spike times, 200 trials, and an ElectricalSeries of 10 s
(quick 3 s) x 64 channels of int16 at 30 kHz.

Cases, every tool in a fresh process per run, timed by itself after its imports (best of 3,
quick 1):

* ``read_local``: ``NWBLindiIO(store).read()`` vs ``NWBZarrIO(store).read()`` (target <= 0.3x);
* ``read_http``: the same over the tests' Range server with ``--latency-ms`` (default 20 ms)
  before every answer; ``requests`` counts every request of the run (ours: the metadata is one
  request, the rest are the few chunks ``read()`` needs, e.g. scalar strings);
  ``open_http`` counts what opening the store costs (target: 1 request);
* ``ephys_1s_http``: 1 s (30,000 samples x 64 channels) from the middle of the ElectricalSeries
  over HTTP: each tool opens the store, then the slice alone is timed (ours:
  ``File(url)[path][a:b]``; NWBZarrIO: ``io.read().acquisition["ephys"].data[a:b]``, zarr 3's
  async reads) (target <= 0.5x). Both read the same chunk files; a checksum shows they got the
  same data.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from _common import Report, ServerProcess, anchor, parse_args, run_fresh

NAME = "zarr_read"
EPHYS = "acquisition/ephys/data"
RATE = 30_000

MAKE = r"""
import sys, warnings
from datetime import datetime, timezone
import numpy as np
from hdmf_zarr import NWBZarrIO
from pynwb import TimeSeries
from pynwb.ecephys import ElectricalSeries
from pynwb.testing.mock.file import mock_NWBFile
warnings.filterwarnings("ignore")
out, n_series, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
nwb = mock_NWBFile(session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc), identifier="bench")
device = nwb.create_device(name="probe")
group = nwb.create_electrode_group(name="shank", description="d", location="CA1", device=device)
for i in range(64):
    nwb.add_electrode(group=group, location=f"loc{i}")
rng = np.random.default_rng(0)
for i in range(100):
    nwb.add_unit(spike_times=np.sort(rng.uniform(0, 100, size=20)))
for i in range(200):
    nwb.add_trial(start_time=float(i), stop_time=i + 0.5)
for i in range(n_series):
    nwb.add_acquisition(TimeSeries(name=f"ts{i:04d}", data=np.arange(10.0) + i, unit="m", rate=10.0,
                                   description=f"series {i}"))
walk = np.cumsum(rng.integers(-20, 21, size=(seconds * 30000, 64), dtype=np.int16), axis=0, dtype=np.int16)
region = nwb.create_electrode_table_region(list(range(64)), "all")
nwb.add_acquisition(ElectricalSeries(name="ephys", data=walk, electrodes=region, rate=30000.0))
with NWBZarrIO(out, mode="w") as io:
    io.write(nwb)
"""

OURS_READ = r"""
import json, sys, time
from hdmf_lindi import NWBLindiIO
t0 = time.perf_counter()
with NWBLindiIO(sys.argv[1], "r") as io:
    nwb = io.read()
    n = len(nwb.acquisition)
print(json.dumps({"seconds": time.perf_counter() - t0, "n": n}))
"""

ZARR_READ = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
from hdmf_zarr import NWBZarrIO
t0 = time.perf_counter()
with NWBZarrIO(sys.argv[1], mode="r") as io:
    nwb = io.read()
    n = len(nwb.acquisition)
print(json.dumps({"seconds": time.perf_counter() - t0, "n": n}))
"""

OURS_SLICE = r"""
import json, sys, time
import hdmf_lindi
url, path, a, b = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with hdmf_lindi.File(url) as f:
    d = f[path]
    t0 = time.perf_counter()
    x = d[a:b]
    seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "checksum": int(x.astype("int64").sum()), "shape": list(x.shape)}))
"""

ZARR_SLICE = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
from hdmf_zarr import NWBZarrIO
url, path, a, b = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with NWBZarrIO(url, mode="r") as io:
    d = io.read().acquisition["ephys"].data
    t0 = time.perf_counter()
    x = d[a:b]
    seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "checksum": int(x.astype("int64").sum()), "shape": list(x.shape)}))
"""


def _build(python: str, store: Path, n_series: int, seconds: int) -> None:
    marker = store.with_suffix(".done")
    want = f"{n_series} {seconds}"
    if store.is_dir() and marker.is_file() and marker.read_text() == want:
        return
    if store.exists():
        subprocess.run(["rm", "-rf", str(store)], check=True)
    subprocess.run([python, "-c", MAKE, str(store), str(n_series), str(seconds)], check=True, timeout=1800)
    marker.write_text(want)


def _open_requests(server: ServerProcess, url: str) -> int:
    """Requests spent opening the store with hdmf_lindi.File (in this process)."""
    import hdmf_lindi

    server.clear()
    with hdmf_lindi.File(url):
        return server.traffic().requests


def _counted(report: Report, server: ServerProcess, case: str, tool: str, python: str, script: str,
             args: list[str], repeat: int) -> dict[str, Any]:
    """Run ``script`` ``repeat`` times; record the best time and the requests of one run."""
    server.clear()
    one = run_fresh(python, script, args)
    requests = server.traffic().requests
    best = run_fresh(python, script, args, repeat=repeat - 1) if repeat > 1 and "error" not in one else one
    if "error" not in best and "error" not in one and one["seconds"] < best["seconds"]:
        best = one
    report.add(case, tool, requests=requests if "error" not in one else None, measured=best)
    return best


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], add=lambda p: p.add_argument("--latency-ms", type=float, default=20.0))
    repeat = 1 if args.quick else 3
    n_series, seconds = (60, 3) if args.quick else (300, 10)
    report = Report(NAME, process_state="every tool in a fresh process per run, timed after its imports; "
                    f"best of {repeat}")
    hz = anchor("hdmf_zarr")
    cases = ("read_local", "read_http", "open_http", "ephys_1s_http")
    if hz.python is None:
        for case in cases:
            report.unavailable(case, hz, tool="ours")
            report.unavailable(case, hz, tool="NWBZarrIO")
        report.note("no input: the store is written by hdmf-zarr 0.14 itself, whose interpreter is not available")
        report.finish(args.json)
        return
    work = args.workdir / NAME
    work.mkdir(parents=True, exist_ok=True)
    store = work / "session.nwb.zarr"
    _build(hz.python, store, n_series, seconds)
    report.note(f"input: {store.name}, {n_series} TimeSeries + tables + {seconds} s x 64 ch int16 ephys, "
                "written by NWBZarrIO 0.14 (consolidated metadata, automatic chunks)")

    ours = run_fresh(sys.executable, OURS_READ, [str(store)], repeat=repeat)
    theirs = run_fresh(hz.python, ZARR_READ, [str(store)], repeat=repeat)
    report.add("read_local", "ours", measured=ours)
    report.add("read_local", "NWBZarrIO", measured=theirs)
    report.ratio("read_local", "ours", "NWBZarrIO")

    with ServerProcess(work) as server:
        url = server.url(store.name)
        server.set(latency_s=args.latency_ms / 1000)
        _counted(report, server, "read_http", "ours", sys.executable, OURS_READ, [url], repeat)
        _counted(report, server, "read_http", "NWBZarrIO", hz.python, ZARR_READ, [url], repeat)
        report.ratio("read_http", "ours", "NWBZarrIO")
        report.add("open_http", "ours", requests=_open_requests(server, url),
                   note="hdmf_lindi.File(url): the root zarr.json with its consolidated metadata")
        mid = seconds * RATE // 2
        bounds = [EPHYS, str(mid - RATE // 2), str(mid + RATE // 2)]
        a = _counted(report, server, "ephys_1s_http", "ours", sys.executable, OURS_SLICE, [url, *bounds], repeat)
        b = _counted(report, server, "ephys_1s_http", "NWBZarrIO", hz.python, ZARR_SLICE, [url, *bounds], repeat)
        report.ratio("ephys_1s_http", "ours", "NWBZarrIO")
        if "checksum" in a and "checksum" in b and a["checksum"] != b["checksum"]:
            report.note(f"ephys_1s_http: checksums differ (ours {a['checksum']}, NWBZarrIO {b['checksum']})!")
        report.note(f"HTTP cases: the tests' Range server in a child process, {args.latency_ms:g} ms before "
                    "every answer; requests = every request of one run (ephys: the open and read() too)")
    report.finish(args.json)
    print(json.dumps({"ok": True}), file=sys.stderr)


if __name__ == "__main__":
    main()
