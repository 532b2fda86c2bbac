"""index_hdf5 against lindi and kerchunk on the same HDF5 / NWB files, in one run.

Usage::

    python benchmarks/bench_index.py --workdir DIR --json OUT.json [--quick]
        [--repeat N] [--timeout S] [--ephys-samples N] [--profile]

Files (built once and cached in ``--workdir``; ``--quick`` uses smaller ones):

* ``meta``: a metadata-heavy NWB written by pynwb: 2,000 TimeSeries (100 float64 samples,
  description, comments, unit, starting_time + rate) in 40 processing modules of 50
  (``--quick``: 100 in 5 modules of 20).
* ``chunks``: an h5py file with one (1000, 1000) uint8 dataset in (1, 1) chunks, i.e. 10^6
  chunks (if writing it takes over 60 s, (500, 500) instead, and the table says so;
  ``--quick``: (200, 200), 40,000 chunks).
* ``ephys``: a "mostly chunk data" NWB: one ElectricalSeries of 30,000 samples
  (``--ephys-samples``; ``--quick``: 5,000) x 384 channels, int16 noise, gzip, chunks
  (1000, 64), with its electrodes table.

Every tool runs in a fresh process per run, timed by itself after its imports (best of
``--repeat``); ours is ``hdmf_lindi.index_hdf5`` from this interpreter:

* ``.lindi.json``: ours ``index_hdf5(path, out.lindi.json)`` against lindi 0.4.6's
  ``LindiH5pyFile.from_hdf5_file(path, url=path)`` + ``write_lindi_file(out.lindi.json)``
  ($HDMF_LINDI_BENCH_LINDI_PYTHON). lindi's default puts datasets of more than 1000 chunks
  behind an ``_EXTERNAL_ARRAY_LINK``; on ``chunks`` the like-for-like rows are ours against
  lindi with ``num_dataset_chunks_threshold=None``, and ours with
  ``external_link_chunk_threshold=1000`` against lindi's default.
* in memory: ours ``index_hdf5(path)`` against kerchunk's ``SingleHdf5ToZarr(path).translate()``
  ($HDMF_LINDI_BENCH_KERCHUNK_PYTHON, else the lindi interpreter, which holds kerchunk).
* remote: ``ephys`` served by the tests' Range server (``_common.ServerProcess``): requests and
  body bytes for ``index_hdf5(url)`` against lindi's ``from_hdf5_file(url)`` + ``write_lindi_file``
  (default options and without threshold). lindi learns the size with a GET without Range that
  it closes after the headers: counted as a request, and what the server handed to the socket
  before the close is in the bytes.

Targets (issue 3): ``meta`` in <= 0.1x lindi's time; 10^6 chunks in seconds; remote indexing
with no more requests than lindi, reading < 2% of the file's bytes.
"""

from __future__ import annotations

import cProfile
import datetime
import io
import json
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from _common import Anchor, Report, ServerProcess, anchor, parse_args, run_fresh

N_MODULES, N_SERIES_PER_MODULE, N_SAMPLES = 40, 50, 100
QUICK_MODULES, QUICK_SERIES = 5, 20
CHUNKS_SIDE, CHUNKS_FALLBACK_SIDE, CHUNKS_WRITE_LIMIT_S = 1000, 500, 60.0
QUICK_CHUNKS_SIDE = 200
EPHYS_CHANNELS, EPHYS_CHUNKS = 384, (1000, 64)

# Run by our interpreter: argv = path, out ("-" for none), options as JSON.
OURS_SCRIPT = r"""
import json, sys, time
import hdmf_lindi
path, out, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
opts = hdmf_lindi.IndexOptions(**options)
t0 = time.perf_counter()
refmap = hdmf_lindi.index_hdf5(path, None if out == "-" else out, options=opts)
print(json.dumps({"seconds": time.perf_counter() - t0, "refs": len(refmap)}))
"""

# Run in lindi's venv: argv = path, out, url ("-" for none), threshold ("default" or "none").
LINDI_SCRIPT = r"""
import json, sys, time
import lindi
path, out, url, threshold = sys.argv[1:5]
opts = None if threshold == "default" else lindi.LindiH5ZarrStoreOpts(num_dataset_chunks_threshold=None)
t0 = time.perf_counter()
x = lindi.LindiH5pyFile.from_hdf5_file(path, url=None if url == "-" else url, zarr_store_opts=opts)
x.write_lindi_file(out)
seconds = time.perf_counter() - t0
refs = json.load(open(out))["refs"]
links = sorted(k[:-len("/.zattrs")] for k, v in refs.items()
               if k.endswith(".zattrs") and isinstance(v, dict) and "_EXTERNAL_ARRAY_LINK" in v)
print(json.dumps({"seconds": seconds, "refs": len(refs), "external_array_links": links}))
"""

# Run in kerchunk's venv: argv = path.
KERCHUNK_SCRIPT = r"""
import json, sys, time
from kerchunk.hdf import SingleHdf5ToZarr
t0 = time.perf_counter()
refs = SingleHdf5ToZarr(sys.argv[1]).translate()
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "refs": len(refs.get("refs", refs))}))
"""


# ---------------------------------------------------------------------------- files
def _atomic(path: Path, build: Callable[[Path], Any]) -> Any:
    """Build ``path`` through a temporary name, so an interrupted build is not reused."""
    tmp = path.with_name("part-" + path.name)
    tmp.unlink(missing_ok=True)
    result = build(tmp)
    tmp.rename(path)
    return result


def build_meta(path: Path, modules: int = N_MODULES, series: int = N_SERIES_PER_MODULE) -> None:
    """A pynwb-written NWB of ``modules`` processing modules of ``series`` TimeSeries each."""
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries

    nwb = NWBFile(
        session_description="metadata-heavy benchmark file",
        identifier="bench-index-meta",
        session_start_time=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
    )
    data = np.arange(N_SAMPLES, dtype=np.float64)
    for m in range(modules):
        module = nwb.create_processing_module(name=f"module_{m:02d}", description=f"module {m}")
        for s in range(series):
            module.add(TimeSeries(
                name=f"series_{s:02d}", data=data + s, unit="V", starting_time=float(s), rate=30.0,
                description=f"series {s} of module {m}", comments="benchmark",
            ))
    with NWBHDF5IO(str(path), "w") as io_:
        io_.write(nwb)


def build_chunks(path: Path, first_side: int = CHUNKS_SIDE) -> dict[str, Any]:
    """Write the many-chunk file row block by row block; fall back to 250,000 chunks if slow."""
    for side in (first_side, CHUNKS_FALLBACK_SIDE):
        t0 = time.perf_counter()
        too_slow = False
        with h5py.File(path, "w") as f:
            ds = f.create_dataset("data", shape=(side, side), dtype="u1", chunks=(1, 1))
            for start in range(0, side, 50):
                stop = min(start + 50, side)
                rows = (np.arange(start, stop)[:, None] + np.arange(side)[None, :]) % 251
                ds[start:stop] = rows.astype("u1")
                if time.perf_counter() - t0 > CHUNKS_WRITE_LIMIT_S and side > CHUNKS_FALLBACK_SIDE:
                    too_slow = True
                    break
        if not too_slow:
            return {"chunks": side * side, "h5py_write_seconds": time.perf_counter() - t0,
                    "fallback": side != first_side}
    raise AssertionError("unreachable")


def build_ephys(path: Path, samples: int) -> None:
    from hdmf.backends.hdf5 import H5DataIO
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.ecephys import ElectricalSeries

    nwb = NWBFile(
        session_description="chunk-data benchmark file",
        identifier="bench-index-ephys",
        session_start_time=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
    )
    device = nwb.create_device(name="probe")
    group = nwb.create_electrode_group(
        name="shank0", description="shank", location="brain", device=device
    )
    for i in range(EPHYS_CHANNELS):
        nwb.add_electrode(group=group, location="brain", x=0.0, y=float(i), z=0.0)
    region = nwb.create_electrode_table_region(list(range(EPHYS_CHANNELS)), "all electrodes")
    rng = np.random.default_rng(0)
    data = rng.normal(0, 200, (samples, EPHYS_CHANNELS)).astype(np.int16)
    nwb.add_acquisition(ElectricalSeries(
        name="ElectricalSeries", electrodes=region, rate=30_000.0, starting_time=0.0,
        data=H5DataIO(data, compression="gzip", chunks=EPHYS_CHUNKS),
    ))
    with NWBHDF5IO(str(path), "w") as io_:
        io_.write(nwb)


def make_files(workdir: Path, quick: bool, ephys_samples: int) -> tuple[dict[str, Path], dict[str, Any]]:
    """Build (or reuse) the three files; return their paths and what is known about them."""
    modules, series = (QUICK_MODULES, QUICK_SERIES) if quick else (N_MODULES, N_SERIES_PER_MODULE)
    side = QUICK_CHUNKS_SIDE if quick else CHUNKS_SIDE
    paths = {
        "meta": workdir / f"meta_{modules * series}_timeseries.nwb",
        "chunks": workdir / f"chunks_{side}x{side}.h5",
        "ephys": workdir / f"ephys_{EPHYS_CHANNELS}x{ephys_samples}_gzip.nwb",
    }
    chunks_info = paths["chunks"].with_suffix(".info.json")
    info: dict[str, Any] = {}
    for name, path in paths.items():
        if path.exists() and (name != "chunks" or chunks_info.exists()):
            info[name] = json.loads(chunks_info.read_text()) if name == "chunks" else {}
            continue
        print(f"[index] building {path.name} ...", file=sys.stderr, flush=True)
        if name == "meta":
            _atomic(path, lambda p: build_meta(p, modules, series))
            info[name] = {}
        elif name == "chunks":
            info[name] = _atomic(path, lambda p: build_chunks(p, side))
            chunks_info.write_text(json.dumps(info[name]))
        else:
            _atomic(path, lambda p: build_ephys(p, ephys_samples))
            info[name] = {}
    for name, path in paths.items():
        info[name]["bytes"] = path.stat().st_size
    return paths, info


# ---------------------------------------------------------------------------- runs
def run_ours(path: Path | str, out: Path | None, repeat: int, **options: Any) -> dict[str, Any]:
    if out is not None:
        out.unlink(missing_ok=True)
    return run_fresh(sys.executable, OURS_SCRIPT, [str(path), str(out or "-"), json.dumps(options)],
                     repeat=repeat)


def bench_local(
    paths: dict[str, Path], info: dict[str, Any], out_dir: Path, repeat: int, timeout: float,
    lindi: Anchor, kerchunk: Anchor, report: Report,
) -> None:
    for name, path in paths.items():
        print(f"[index] {name} ...", file=sys.stderr, flush=True)
        size = f"{info[name]['bytes']:,} bytes"
        if name == "chunks":
            size += f", {info[name]['chunks']:,} chunks"
            if info[name].get("fallback"):
                size += " (the 10^6-chunk file took over 60 s to write: fallback)"
        case = f"{name} -> .lindi.json"
        report.add(case, "ours", measured=run_ours(path, out_dir / f"{name}.ours.lindi.json", repeat),
                   note=size)
        if not lindi.available:
            report.unavailable(case, lindi)
        else:
            assert lindi.python is not None
            threshold = "none" if name == "chunks" else "default"
            r = run_fresh(lindi.python, LINDI_SCRIPT,
                          [str(path), str(out_dir / f"{name}.lindi.lindi.json"), str(path), threshold],
                          repeat=repeat, timeout=timeout)
            note = "num_dataset_chunks_threshold=None" if threshold == "none" else "default options"
            if r.get("external_array_links"):
                note += f"; external array links: {', '.join(r['external_array_links'])}"
            report.add(case, "lindi", measured=r, note=note)
            report.ratio(case, "ours", "lindi")
        if name == "chunks":
            case_t = "chunks -> .lindi.json, threshold 1000"
            report.add(case_t, "ours", note="external_link_chunk_threshold=1000 (dataset linked)",
                       measured=run_ours(path, out_dir / "chunks.ours_t1000.lindi.json", repeat,
                                         external_link_chunk_threshold=1000))
            if lindi.available:
                assert lindi.python is not None
                r = run_fresh(lindi.python, LINDI_SCRIPT,
                              [str(path), str(out_dir / "chunks.lindi_t.lindi.json"), str(path), "default"],
                              repeat=repeat, timeout=timeout)
                report.add(case_t, "lindi", measured=r, note="default options (dataset linked)")
                report.ratio(case_t, "ours", "lindi")
            else:
                report.unavailable(case_t, lindi)
        case = f"{name} -> memory"
        report.add(case, "ours", measured=run_ours(path, None, repeat), note="index_hdf5(path)")
        if not kerchunk.available:
            report.unavailable(case, kerchunk)
        else:
            assert kerchunk.python is not None
            report.add(case, "kerchunk", note="SingleHdf5ToZarr(path).translate()",
                       measured=run_fresh(kerchunk.python, KERCHUNK_SCRIPT, [str(path)],
                                          repeat=repeat, timeout=timeout))
            report.ratio(case, "ours", "kerchunk")


def bench_remote(path: Path, out_dir: Path, timeout: float, lindi: Anchor, report: Report) -> None:
    """Index ``path`` over HTTP once per tool, counting requests and bytes at the server."""
    total = path.stat().st_size
    case = f"remote {path.name} ({total:,} bytes)"
    with ServerProcess(path.parent) as server:
        url = server.url(path.name)
        runs: list[tuple[str, str | None, str, list[str]]] = [
            ("ours", sys.executable, OURS_SCRIPT, [url, "-", "{}"]),
        ]
        for tool, threshold in (("lindi", "default"), ("lindi (no threshold)", "none")):
            out = out_dir / f"remote.{threshold}.lindi.json"
            runs.append((tool, lindi.python, LINDI_SCRIPT, [url, str(out), "-", threshold]))
        for tool, python, script, argv in runs:
            if python is None:
                report.unavailable(case, lindi, tool)
                continue
            time.sleep(0.2)  # the previous client's connections have closed
            server.clear()
            r = run_fresh(python, script, argv, timeout=timeout)
            time.sleep(0.2)  # a size probe's handler finishes once its client has hung up
            traffic = server.traffic()
            note = f"bytes = ranged answers, {100 * traffic.bytes / total:.2f}% of the file"
            if traffic.unranged_gets:
                note += (f"; requests incl. {traffic.unranged_gets} GET without Range (a size "
                         f"probe: {traffic.unranged_bytes:,} body bytes handed to the socket "
                         "before the client hung up)")
            report.add(case, tool, requests=traffic.requests, bytes=traffic.bytes, measured=r, note=note)
        report.ratio(case, "ours", "lindi (no threshold)", field="requests")


def profile_meta(path: Path, top: int = 15) -> str:
    import hdmf_lindi

    profiler = cProfile.Profile()
    profiler.enable()
    hdmf_lindi.index_hdf5(path)
    profiler.disable()
    text = io.StringIO()
    for key in ("cumulative", "tottime"):
        text.write(f"\n=== index_hdf5(meta), top {top} by {key} ===\n")
        stats = pstats.Stats(profiler, stream=text)
        stats.sort_stats(key).print_stats(top)
    return text.getvalue()


def _arguments(parser: Any) -> None:
    parser.add_argument("--repeat", type=int, default=None, help="best of N, for every tool (default 3; --quick 1)")
    parser.add_argument("--ephys-samples", type=int, default=None,
                        help="rows of the ephys ElectricalSeries (default 30,000 = 1 s; --quick 5,000)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds allowed per run of a tool")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of index_hdf5 on 'meta'")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__.split("\n")[0], argv, _arguments)
    repeat = args.repeat or (1 if args.quick else 3)
    samples = args.ephys_samples or (5_000 if args.quick else 30_000)
    work = args.workdir / "index"
    out_dir = work / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    report = Report("index", process_state=(
        f"every tool in a fresh process per run, timed by itself after its imports; best of {repeat}"
    ))
    paths, info = make_files(work, args.quick, samples)
    lindi, kerchunk = anchor("lindi"), anchor("kerchunk")
    bench_local(paths, info, out_dir, repeat, args.timeout, lindi, kerchunk, report)
    bench_remote(paths["ephys"], out_dir, args.timeout, lindi, report)
    report.note("ratio = ours / the anchor on the same case (lower is better); remote: requests")
    report.finish(args.json)
    if args.profile:
        print(profile_meta(paths["meta"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
