"""Reading NWB files in the Zarr v3 convention: ``NWBLindiIO`` against hdmf-zarr 0.14's ``NWBZarrIO``.

Inputs (copied into ``--workdir`` from the repository's test fixtures, ``tests/fixtures``):

* ``nwb_tables.rfs.json``: an NWB file written by ``NWBZarrIO`` (tables with ragged, region,
  text, bool and NaN columns), packed as a version-1 reference file system (inline chunks,
  consolidated metadata);
* ``zindi_mock.zindi.json``: zindi's reference JSON of ``zindi_mock.nwb`` (chunks by byte
  range in the HDF5 file beside it).

Each tool opens the document and calls ``read()``, in its own fresh process, timed after its
imports; ``cold`` is the first open + read() of the process (the namespaces of the spec cache
loaded, as a user's first read), ``warm`` the best of the next ``--reads - 1`` in that process.
A row's ``seconds`` is the best over ``--repeat`` processes. ``NWBZarrIO`` reads through fsspec's
reference file system (``FsspecStore``), the way hdmf-zarr documents for such files, with the
python of ``HDMF_LINDI_BENCH_HDMF_ZARR_PYTHON`` ("not available" when unset). ``ratio`` is ours /
hdmf-zarr's (below 1: ours faster).

Usage::

    python benchmarks/bench_v3_read.py --workdir DIR --json OUT.json [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from _common import Report, anchor, parse_args, run_fresh

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "zarr-v3-samples"
DOCUMENTS = ["nwb_tables.rfs.json", "zindi_mock.zindi.json"]

_LOOP = r"""
def measure(path, reads, read_once):
    os.chdir(os.path.dirname(path))  # zindi's relative chunk paths: fsspec resolves them here
    seconds = []
    for _ in range(reads):
        start = time.perf_counter()
        read_once(path)
        seconds.append(time.perf_counter() - start)
    which = sys.argv[3]
    value = seconds[0] if which == "cold" else min(seconds[1:])
    print(json.dumps({"seconds": value}))
"""

OURS = r"""
import json, os, sys, time, warnings
warnings.simplefilter("ignore")
from hdmf_lindi import NWBLindiIO
""" + _LOOP + r"""
def read_once(path):
    with NWBLindiIO(path, "r") as io:
        io.read()

measure(sys.argv[1], int(sys.argv[2]), read_once)
"""

HDMF_ZARR = r"""
import json, os, sys, time, warnings
warnings.simplefilter("ignore")
import fsspec
from hdmf_zarr import NWBZarrIO
from zarr.storage import FsspecStore
""" + _LOOP + r"""
def read_once(path):
    fs = fsspec.filesystem("reference", fo=path, asynchronous=True)
    with NWBZarrIO(FsspecStore(fs, read_only=True, path=""), mode="r") as io:
        io.read()

measure(sys.argv[1], int(sys.argv[2]), read_once)
"""


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per row (best kept)")
    parser.add_argument("--reads", type=int, default=6, help="open + read() calls per process")


def main() -> None:
    args = parse_args("NWBLindiIO vs NWBZarrIO reading Zarr v3 reference JSON", add=_extra)
    repeat = 1 if args.quick else args.repeat
    reads = 3 if args.quick else max(args.reads, 2)
    for name in (*DOCUMENTS, "zindi_mock.nwb"):
        shutil.copy(FIXTURES / name, args.workdir / name)
    report = Report("v3_read", process_state=(
        f"each tool in a fresh process, timed after its imports; best of {repeat} processes; "
        f"{reads} open + read() per process"
    ))
    hdmf_zarr = anchor("hdmf_zarr")
    for name in DOCUMENTS:
        path = str(args.workdir / name)
        for which in ("cold", "warm"):
            case = f"{name} open+read() {which}"
            report.add(case, "ours", measured=run_fresh(sys.executable, OURS, [path, str(reads), which], repeat=repeat))
            if hdmf_zarr.python is None:
                report.unavailable(case, hdmf_zarr)
                continue
            report.add(case, "hdmf_zarr", measured=run_fresh(
                hdmf_zarr.python, HDMF_ZARR, [path, str(reads), which], repeat=repeat
            ))
            report.ratio(case, "ours", "hdmf_zarr")
    report.note("cold = the first open + read() in the process; warm = the best later one")
    report.finish(args.json)


if __name__ == "__main__":
    main()
