"""Conversion at disk speed, layout kept; read() in one request; remote indexing in few requests.

Cases (issue 19):

* ``hdf5->lindi``: ``hdmf-lindi convert ecephys.nwb x.lindi.tar`` against ``NWBHDF5IO`` export
  of the same file to HDF5 (384 channels int16, gzip level 4, chunks 30000 x 64, plus
  electrodes, 1,500 trials and 300 units). Target <= 0.5x.
* ``lindi->hdf5``: converting that ``.lindi.tar`` back to ``.nwb`` against the same
  ``NWBHDF5IO`` export: time (target <= 1.0x), size against the original (within 2%), peak RSS
  (<= 300 MB); chunks and gzip are checked to be kept.
* ``read()``: requests of ``NWBLindiIO(url).read()`` on indexes of an ecephys-like, an
  ophys-like and a many-objects file served over HTTP (target: exactly 1), and the index's
  size with and without the eagerly read datasets inlined.
* ``remote index``: requests and bytes of indexing the ecephys file over HTTP (target <= 3
  requests; bytes < 2% where the metadata allows), with the metadata span as the floor.

Each timing runs in a fresh process (``--case``) so peak RSS (``VmHWM``) is the operation's own.

Usage::

    python benchmarks/bench_convert.py --workdir DIR --json OUT.json [--quick]

No anchor tool is needed (``NWBHDF5IO`` is the anchor); the lindi/hdmf-zarr variables of the
benchmark convention are not used.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CHANNELS, RATE, CHUNKS = 384, 30_000, (30_000, 64)


def _hwm_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def build_ecephys(path: Path, seconds: float) -> None:
    import numpy as np
    from hdmf.backends.hdf5 import H5DataIO
    from pynwb import NWBHDF5IO
    from pynwb.ecephys import ElectricalSeries
    from pynwb.testing.mock.file import mock_NWBFile

    nwbfile = mock_NWBFile()
    rng = np.random.default_rng(0)
    rows = int(seconds * RATE)
    # correlated noise: compresses about as real recordings do (gzip ~60%)
    base = np.cumsum(rng.integers(-3, 4, size=(rows, 1), dtype=np.int16), axis=0, dtype=np.int16)
    data = (base + rng.integers(-40, 40, size=(rows, CHANNELS), dtype=np.int16)).astype("i2")
    device = nwbfile.create_device("probe")
    group = nwbfile.create_electrode_group("shank", "shank", "brain", device)
    for _ in range(CHANNELS):
        nwbfile.add_electrode(group=group, location="CA1")
    region = nwbfile.create_electrode_table_region(list(range(CHANNELS)), "all")
    series = H5DataIO(data, chunks=CHUNKS, compression="gzip", compression_opts=4)
    nwbfile.add_acquisition(ElectricalSeries(name="raw", data=series, electrodes=region, rate=float(RATE)))
    for i in range(1500):
        nwbfile.add_trial(start_time=float(i), stop_time=i + 0.5)
    nwbfile.add_unit_column("quality", "quality")
    for i in range(300):
        nwbfile.add_unit(spike_times=np.arange(i % 50) * 0.1, quality="good")
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)


def build_ophys(path: Path) -> None:
    from pynwb import NWBHDF5IO
    from pynwb.testing.mock.file import mock_NWBFile
    from pynwb.testing.mock.ophys import (
        mock_PlaneSegmentation,
        mock_RoiResponseSeries,
        mock_TwoPhotonSeries,
    )

    nwbfile = mock_NWBFile()
    plane = mock_PlaneSegmentation(nwbfile=nwbfile, n_rois=200)
    mock_RoiResponseSeries(nwbfile=nwbfile, plane_segmentation=plane, n_rois=200)
    mock_TwoPhotonSeries(nwbfile=nwbfile)
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)


def build_many(path: Path, count: int) -> None:
    import numpy as np
    from pynwb import NWBHDF5IO
    from pynwb.testing.mock.base import mock_TimeSeries
    from pynwb.testing.mock.file import mock_NWBFile

    nwbfile = mock_NWBFile()
    for i in range(count):
        nwbfile.add_acquisition(mock_TimeSeries(name=f"ts{i}", data=np.arange(1500.0), timestamps=np.arange(1500.0)))
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)


# ---------------------------------------------------------------------- one case per process
def run_case(case: str, src: str, dst: str) -> dict[str, Any]:
    """Run one timed operation in this (fresh) process."""
    t0 = time.perf_counter()
    if case == "ours_convert":
        from hdmf_lindi.conversion import convert

        convert(src, dst, overwrite=True)
    elif case == "hdf5_export":
        from pynwb import NWBHDF5IO

        with NWBHDF5IO(src, "r") as src_io, NWBHDF5IO(dst, "w") as io:
            io.export(src_io=src_io, write_args={"link_data": False})
    else:
        raise SystemExit(f"unknown case {case}")
    return {"seconds": time.perf_counter() - t0, "peak_rss_mb": _hwm_mb()}


def subprocess_case(case: str, src: Path, dst: Path) -> dict[str, Any]:
    if dst.is_dir():
        shutil.rmtree(dst)
    elif dst.exists():
        dst.unlink()
    proc = subprocess.run(
        [sys.executable, __file__, "--case", case, str(src), str(dst)], capture_output=True, text=True,
        check=False, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=1800,
    )
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1][:200]}
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def best(case: str, src: Path, dst: Path, repeat: int) -> dict[str, Any]:
    results = [subprocess_case(case, src, dst) for _ in range(repeat)]
    ok = [r for r in results if "seconds" in r]
    return min(ok, key=lambda r: r["seconds"]) if ok else results[0]


def _row(case: str, tool: str, seconds: float | None = None, *, requests: int | None = None,
         nbytes: int | None = None, ratio: float | None = None, note: str = "") -> dict[str, Any]:
    return {"case": case, "tool": tool, "seconds": seconds, "requests": requests, "bytes": nbytes,
            "ratio": ratio, "note": note}


def bench_conversion(work: Path, repeat: int, seconds: float) -> list[dict[str, Any]]:
    import h5py

    src = work / "ecephys.nwb"
    if not src.exists():
        build_ecephys(src, seconds)
    tar, back, h5copy = work / "x.lindi.tar", work / "back.nwb", work / "hdf5_export.nwb"
    hdf5 = best("hdf5_export", src, h5copy, repeat)
    ours = best("ours_convert", src, tar, repeat)
    back_r = best("ours_convert", tar, back, repeat)
    rows = []
    h5s = hdf5.get("seconds")
    rows.append(_row("hdf5->hdf5 export", "NWBHDF5IO", h5s, nbytes=h5copy.stat().st_size,
                     note=f"peak RSS {hdf5.get('peak_rss_mb', float('nan')):.0f} MB"))
    for label, r, out in (("hdf5->lindi convert", ours, tar), ("lindi->hdf5 convert", back_r, back)):
        s = r.get("seconds")
        note = r.get("error", f"peak RSS {r.get('peak_rss_mb', float('nan')):.0f} MB")
        size = out.stat().st_size if out.exists() else None
        rows.append(_row(label, "hdmf-lindi", s, nbytes=size, ratio=s / h5s if s and h5s else None, note=note))
    if back.exists():
        with h5py.File(src, "r") as a, h5py.File(back, "r") as b:
            da, db = a["acquisition/raw/data"], b["acquisition/raw/data"]
            kept = all(getattr(da, k) == getattr(db, k) for k in ("chunks", "compression", "compression_opts", "shuffle"))
        ratio = back.stat().st_size / src.stat().st_size
        rows.append(_row("lindi->hdf5 size vs original", "hdmf-lindi", nbytes=back.stat().st_size, ratio=ratio,
                         note=f"chunks/gzip kept: {kept}; original {src.stat().st_size} bytes"))
    return rows


def bench_requests(work: Path, many: int) -> list[dict[str, Any]]:
    sys.path.insert(0, str(REPO / "tests"))
    from httpserver import RangeServer, parse_range

    from hdmf_lindi import IndexOptions, NWBLindiIO, index_hdf5

    served = work / "served"
    served.mkdir(exist_ok=True)
    builders = {"ophys": lambda p: build_ophys(p), "many_objects": lambda p: build_many(p, many)}
    for name, build in builders.items():
        if not (served / f"{name}.nwb").exists():
            build(served / f"{name}.nwb")
    if not (served / "ecephys.nwb").exists():
        shutil.copy(work / "ecephys.nwb", served / "ecephys.nwb")
    rows = []
    with RangeServer(served) as server:
        for name in ("ecephys", "ophys", "many_objects"):
            plain, eager = served / f"{name}.plain.lindi.json", served / f"{name}.lindi.json"
            index_hdf5(server.url(f"{name}.nwb"), plain, options=IndexOptions(inline_eager_max_bytes=0))
            index_hdf5(server.url(f"{name}.nwb"), eager)
            for label, index in (("without eager inlining", plain), ("eager datasets inline", eager)):
                server.reset()
                t0 = time.perf_counter()
                with NWBLindiIO(server.url(index.name), "r") as io:
                    io.read()
                rows.append(_row(f"read() {name} index", f"NWBLindiIO ({label})", time.perf_counter() - t0,
                                 requests=len(server.requests), nbytes=index.stat().st_size,
                                 note=f"index +{eager.stat().st_size - plain.stat().st_size} bytes for the inlined datasets"))
        for name in ("ecephys", "many_objects"):
            total = (served / f"{name}.nwb").stat().st_size
            server.reset()
            t0 = time.perf_counter()
            index_hdf5(server.url(f"{name}.nwb"))
            elapsed = time.perf_counter() - t0
            ranges = [parse_range(r.range, total) or (0, total) for r in server.requests if r.method == "GET"]
            fetched = sum(b - a for a, b in ranges)
            floor = metadata_layout(served / f"{name}.nwb")
            rows.append(_row(f"remote index {name}", "index_hdf5", elapsed, requests=len(server.requests),
                             nbytes=fetched, ratio=fetched / total,
                             note=(f"file {total} bytes; floor: metadata {floor['bytes']} bytes = "
                                   f"{floor['bytes'] / total:.2%} in {floor['places']} places > 64 KiB apart; "
                                   f"span from the first late metadata to the end {floor['span']} bytes = "
                                   f"{floor['span'] / total:.2%}")))
    return rows


def metadata_layout(path: Path) -> dict[str, int]:
    """Where libhdf5 reads while indexing ``path``: the floors for remote indexing.

    Returns ``bytes`` (the distinct bytes libhdf5 reads: the floor in bytes), ``places`` (runs of
    them more than 64 KiB apart: about the floor in requests for reads that skip the data in
    between) and ``span`` (from the first read past the first 16 KiB to the end: what a read of
    the tail alone needs). Indexes through a ``BlockCachedFile`` without read-ahead over the
    local file, recording each read libhdf5 makes.
    """
    import hdmf_lindi.hdf5.indexer as indexer
    from hdmf_lindi.hdf5 import remote_file

    class _Local:
        name = str(path)

        def __init__(self) -> None:
            self.f = open(path, "rb")  # noqa: SIM115 - closed below

        def read_range(self, start: int, stop: int) -> bytes:
            self.f.seek(start)
            return self.f.read(stop - start)

        def size(self) -> int:
            return path.stat().st_size

        def close(self) -> None:
            self.f.close()

    reads: list[tuple[int, int]] = []

    class _Recording(remote_file.BlockCachedFile):
        def readinto(self, buffer: Any) -> int:
            n: int = super().readinto(buffer)
            reads.append((self.tell() - n, self.tell()))
            return n

    source = _Local()
    fileobj = _Recording(source, block_bytes=512, readahead=False)

    class _Fixed(remote_file.BlockCachedFile):  # the indexer builds this one: it is ours
        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            return fileobj

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

    original = indexer.BlockCachedFile
    try:
        indexer.BlockCachedFile = _Fixed  # type: ignore[misc]
        indexer.index_hdf5("http://127.0.0.1:9/floor.nwb")
    finally:
        indexer.BlockCachedFile = original  # type: ignore[misc]
        source.close()
    runs: list[list[int]] = []
    for start, stop in sorted(r for r in reads if r[1] > r[0]):
        if runs and start <= runs[-1][1]:
            runs[-1][1] = max(runs[-1][1], stop)
        else:
            runs.append([start, stop])
    places = sum(1 for i, run in enumerate(runs) if i == 0 or run[0] - runs[i - 1][1] > 64 << 10)
    late = [start for start, _ in runs if start >= 16 << 10]
    return {"bytes": sum(stop - start for start, stop in runs), "places": places,
            "span": path.stat().st_size - min(late) if late else 0}


def report(rows: list[dict[str, Any]]) -> None:
    print("| case | tool | seconds | requests | bytes | ratio | note |\n|---|---|---|---|---|---|---|")
    for r in rows:
        sec = f"{r['seconds']:.3f}" if r["seconds"] is not None else ""
        ratio = f"{r['ratio']:.3f}" if r["ratio"] is not None else ""
        print(f"| {r['case']} | {r['tool']} | {sec} | {r['requests'] or ''} | {r['bytes'] or ''} | {ratio} | {r['note']} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, required=False)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="a 10 s recording, 1 repeat, 200 objects")
    parser.add_argument("--case", nargs=3, metavar=("CASE", "SRC", "DST"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(*args.case)))
        return 0
    if args.workdir is None:
        parser.error("--workdir is required")
    work: Path = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    seconds, repeat, many = (10.0, 1, 200) if args.quick else (60.0, 3, 2000)
    rows = bench_conversion(work, repeat, seconds)
    rows += bench_requests(work, many)
    report(rows)
    notes = [f"ecephys: {CHANNELS} ch x {seconds:g} s int16 at {RATE} Hz, gzip 4, chunks {CHUNKS}",
             "ratio: seconds against NWBHDF5IO export for conversions; size against the original for "
             "the size row; fetched bytes / file size for remote indexing",
             "each conversion runs in a fresh process; peak RSS is its VmHWM"]
    if args.json:
        args.json.write_text(json.dumps({"benchmark": "convert", "rows": rows, "notes": notes}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
