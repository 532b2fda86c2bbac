"""index_hdf5 against lindi and kerchunk on the same HDF5 / NWB files, in one run.

Usage::

    python benchmarks/bench_index.py [--workdir DIR] [--repeat N] [--json OUT]
        [--lindi-python PY] [--kerchunk-python PY] [--timeout S] [--profile]

Files (built once and cached in ``--workdir``; a temporary directory by default):

* ``meta``: a metadata-heavy NWB written by pynwb: 2,000 TimeSeries (100 float64 samples,
  description, comments, unit, starting_time + rate) in 40 processing modules of 50.
* ``chunks``: an h5py file with one (1000, 1000) uint8 dataset in (1, 1) chunks, i.e. 10^6
  chunks (the time h5py takes to write it is reported; if it exceeds 60 s the script writes
  a (500, 500) one, 250,000 chunks, instead and says so).
* ``ephys``: a "mostly chunk data" NWB: one ElectricalSeries of 30,000 samples (``--ephys-samples``)
  x 384 channels, int16 noise, gzip, chunks (1000, 64), with its electrodes table.

Cases (times in seconds, best of ``--repeat``; lower is better):

* ours: ``hdmf_lindi.index_hdf5(path, out.lindi.json)`` and ``index_hdf5(path)`` (no file), in
  this process; on ``chunks`` also with ``external_link_chunk_threshold=1000`` (lindi's default).
* lindi 0.4.6 (its own venv): ``LindiH5pyFile.from_hdf5_file(path, url=path)`` then
  ``write_lindi_file(out.lindi.json)``, timed inside the subprocess (interpreter start-up and
  imports excluded). Default options put datasets of more than 1000 chunks behind an
  ``_EXTERNAL_ARRAY_LINK`` (reported); on ``chunks`` also with
  ``LindiH5ZarrStoreOpts(num_dataset_chunks_threshold=None)``, which references every chunk,
  given ``--timeout`` seconds.
* kerchunk (its own venv, ``--kerchunk-python`` or ``$HDMF_LINDI_KERCHUNK_PYTHON``; "not
  available" otherwise): ``kerchunk.hdf.SingleHdf5ToZarr(path).translate()``, self-timed.
* remote: ``ephys`` served by a local HTTP server with Range support (defined here; it reads only
  the ranges asked for): requests and bytes for ``index_hdf5(url)`` against lindi's
  ``from_hdf5_file(url)`` + ``write_lindi_file`` with default options and without threshold
  (lindi reads through its own remote file; it learns the size with a GET without Range that it
  closes after the headers, counted as a request and reported apart from the ranged bytes).

Targets (issue 3): ``meta`` in <= 0.1x lindi's time; 10^6 chunks in seconds; remote indexing
with no more requests than lindi, reading < 2% of the file's bytes.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import io
import json
import os
import platform
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import h5py
import numpy as np

import hdmf_lindi

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "interop"))
from httpserver import parse_range  # noqa: E402
from lindi_env import ensure_lindi_python  # noqa: E402

KERCHUNK_ENV = "HDMF_LINDI_KERCHUNK_PYTHON"
N_MODULES, N_SERIES_PER_MODULE, N_SAMPLES = 40, 50, 100
CHUNKS_SIDE, CHUNKS_FALLBACK_SIDE, CHUNKS_WRITE_LIMIT_S = 1000, 500, 60.0
EPHYS_CHANNELS, EPHYS_CHUNKS = 384, (1000, 64)

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


def build_meta(path: Path) -> None:
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries

    nwb = NWBFile(
        session_description="metadata-heavy benchmark file",
        identifier="bench-index-meta",
        session_start_time=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
    )
    data = np.arange(N_SAMPLES, dtype=np.float64)
    for m in range(N_MODULES):
        module = nwb.create_processing_module(name=f"module_{m:02d}", description=f"module {m}")
        for s in range(N_SERIES_PER_MODULE):
            module.add(TimeSeries(
                name=f"series_{s:02d}", data=data + s, unit="V", starting_time=float(s), rate=30.0,
                description=f"series {s} of module {m}", comments="benchmark",
            ))
    with NWBHDF5IO(str(path), "w") as io_:
        io_.write(nwb)


def build_chunks(path: Path) -> dict[str, Any]:
    """Write the many-chunk file row block by row block; fall back to 250,000 chunks if slow."""
    for side in (CHUNKS_SIDE, CHUNKS_FALLBACK_SIDE):
        t0 = time.perf_counter()
        too_slow = False
        with h5py.File(path, "w") as f:
            ds = f.create_dataset("data", shape=(side, side), dtype="u1", chunks=(1, 1))
            for start in range(0, side, 50):
                stop = min(start + 50, side)
                rows = (np.arange(start, stop)[:, None] + np.arange(side)[None, :]) % 251
                ds[start:stop] = rows.astype("u1")
                if time.perf_counter() - t0 > CHUNKS_WRITE_LIMIT_S and side != CHUNKS_FALLBACK_SIDE:
                    too_slow = True
                    break
        if not too_slow:
            return {"chunks": side * side, "h5py_write_seconds": time.perf_counter() - t0,
                    "fallback": side != CHUNKS_SIDE}
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


def make_files(workdir: Path, ephys_samples: int) -> tuple[dict[str, Path], dict[str, Any]]:
    paths = {
        "meta": workdir / "meta_2000_timeseries.nwb",
        "chunks": workdir / "chunks_1e6.h5",
        "ephys": workdir / f"ephys_{EPHYS_CHANNELS}x{ephys_samples}_gzip.nwb",
    }
    info: dict[str, Any] = {}
    chunks_info = workdir / "chunks_1e6.info.json"
    for name, path in paths.items():
        if path.exists() and (name != "chunks" or chunks_info.exists()):
            info[name] = {"built": "cached"}
            if name == "chunks":
                info[name].update(json.loads(chunks_info.read_text()))
            continue
        t0 = time.perf_counter()
        if name == "meta":
            _atomic(path, build_meta)
        elif name == "chunks":
            details = _atomic(path, build_chunks)
            chunks_info.write_text(json.dumps(details))
            info[name] = dict(details)
        else:
            _atomic(path, lambda p: build_ephys(p, ephys_samples))
        info.setdefault(name, {})["built_seconds"] = time.perf_counter() - t0
    for name, path in paths.items():
        info[name]["bytes"] = path.stat().st_size
    return paths, info


# ---------------------------------------------------------------------------- tools
def best_of(func: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - t0)
    return best, result


def run_script(python: str, script: str, args: list[str], timeout: float, repeat: int) -> dict[str, Any]:
    """Run ``script`` ``repeat`` times; keep the best self-reported time (or why it failed)."""
    best: dict[str, Any] | None = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                [python, "-c", script, *args], capture_output=True, text=True, timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"did not finish in {timeout:.0f} s"}
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            return {"error": f"failed: {last[:200]}"}
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["wall_seconds"] = time.perf_counter() - t0
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    assert best is not None
    return best


def ours(path: Path, out: Path | None, repeat: int, **options: Any) -> dict[str, Any]:
    opts = hdmf_lindi.IndexOptions(**options)
    seconds, refmap = best_of(lambda: hdmf_lindi.index_hdf5(path, out, options=opts), repeat)
    result: dict[str, Any] = {"seconds": seconds, "refs": len(refmap)}
    if out is not None:
        result["out_bytes"] = out.stat().st_size
    return result


def bench_local(
    paths: dict[str, Path], out_dir: Path, args: argparse.Namespace, lindi_python: str | None,
    kerchunk_python: str | None,
) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for name, path in paths.items():
        print(f"[{name}] indexing ...", file=sys.stderr, flush=True)
        r: dict[str, Any] = {
            "ours_json": ours(path, out_dir / f"{name}.ours.lindi.json", args.repeat),
            "ours_none": ours(path, None, args.repeat),
        }
        if name == "chunks":
            r["ours_json_threshold_1000"] = ours(
                path, out_dir / f"{name}.ours_t1000.lindi.json", args.repeat,
                external_link_chunk_threshold=1000,
            )
        if lindi_python is None:
            r["lindi_default"] = {"error": "not available"}
        else:
            out = out_dir / f"{name}.lindi.lindi.json"
            r["lindi_default"] = run_script(
                lindi_python, LINDI_SCRIPT, [str(path), str(out), str(path), "default"],
                args.timeout, args.repeat,
            )
            if name == "chunks":
                out = out_dir / f"{name}.lindi_nothreshold.lindi.json"
                r["lindi_no_threshold"] = run_script(
                    lindi_python, LINDI_SCRIPT, [str(path), str(out), str(path), "none"],
                    args.timeout, args.repeat,
                )
        if kerchunk_python is None:
            r["kerchunk"] = {"error": "not available"}
        else:
            r["kerchunk"] = run_script(kerchunk_python, KERCHUNK_SCRIPT, [str(path)], args.timeout, args.repeat)
        results[name] = r
    return results


class _CountingHandler(BaseHTTPRequestHandler):
    """Serve files under ``server.root`` with one-range support, reading only the range asked
    for (``tests/httpserver.py`` reads the whole file per request, which would dominate the
    remote timings of a large file), and log (method, range, status, length, bytes sent)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _CountingServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return None

    def do_HEAD(self) -> None:
        self._serve(with_body=False)

    def do_GET(self) -> None:
        self._serve(with_body=True)

    def _serve(self, *, with_body: bool) -> None:
        path = self.server.root / unquote(urlsplit(self.path).path).lstrip("/")
        header = self.headers.get("Range")
        if not path.is_file():
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.server.log.append((self.command, header, 404, 0, 0))
            return
        total = path.stat().st_size
        span = parse_range(header, total)
        start, stop = span or (0, total)
        if start >= total:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{total}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.server.log.append((self.command, header, 416, 0, 0))
            return
        status = 200 if span is None else 206
        self.send_response(status)
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{total}")
        self.send_header("Content-Length", str(stop - start))
        self.end_headers()
        sent = 0
        if with_body:
            with open(path, "rb") as f:
                f.seek(start)
                try:
                    while sent < stop - start:
                        piece = f.read(min(stop - start - sent, 1 << 16))
                        self.wfile.write(piece)
                        sent += len(piece)
                except ConnectionError:  # the client closed early (lindi's size probe)
                    self.close_connection = True
        self.server.log.append((self.command, header, status, stop - start, sent))


class _CountingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _CountingHandler)
        self.root = root
        self.log: list[tuple[str, str | None, int, int, int]] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _traffic(server: _CountingServer) -> dict[str, int]:
    """Requests, bytes of ranged answers, and whole-file GETs counted apart.

    lindi learns the size with a GET without Range that it closes after the headers; what the
    server managed to hand to the socket before that (an upper bound on what crossed) is
    ``unranged_bytes_sent``.
    """
    log = list(server.log)
    return {
        "requests": len(log),
        "bytes": sum(sent for _, _, status, _, sent in log if status == 206),
        "unranged_gets": sum(1 for method, _, status, _, _ in log if method == "GET" and status == 200),
        "unranged_bytes_sent": sum(sent for _, _, status, _, sent in log if status == 200),
    }


def bench_remote(path: Path, out_dir: Path, lindi_python: str | None, timeout: float) -> dict[str, Any]:
    results: dict[str, Any] = {"file_bytes": path.stat().st_size}
    server = _CountingServer(path.parent)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{path.name}"
        t0 = time.perf_counter()
        refmap = hdmf_lindi.index_hdf5(url)
        results["ours"] = {"seconds": time.perf_counter() - t0, "refs": len(refmap), **_traffic(server)}
        for case, threshold in (("lindi", "default"), ("lindi_no_threshold", "none")):
            if lindi_python is None:
                results[case] = {"error": "not available"}
                continue
            time.sleep(0.2)  # let the previous client's connections close before clearing the log
            server.log.clear()
            out = out_dir / f"ephys.remote.{case}.lindi.json"
            r = run_script(lindi_python, LINDI_SCRIPT, [url, str(out), "-", threshold], timeout, 1)
            time.sleep(0.2)  # the size probe's handler finishes once lindi has closed it
            results[case] = {**r, **_traffic(server)}
    finally:
        server.shutdown()
        server.server_close()
    return results


def profile_meta(path: Path, top: int = 15) -> str:
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


# ---------------------------------------------------------------------------- report
def _fmt(r: dict[str, Any] | None) -> str:
    if r is None:
        return "—"
    if "error" in r:
        return r["error"]
    return f"{r['seconds']:.3f}"


def _ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
    if not a or not b or "seconds" not in a or "seconds" not in b or not b["seconds"]:
        return "—"
    return f"{a['seconds'] / b['seconds']:.3f}"


def report(info: dict[str, Any], local: dict[str, dict[str, Any]], remote: dict[str, Any]) -> None:
    print("files:")
    for name, i in info.items():
        extra = ""
        if name == "chunks":
            extra = f", {i['chunks']:,} chunks, h5py wrote it in {i['h5py_write_seconds']:.1f} s"
            if i.get("fallback"):
                extra += " (10^6 chunks took > 60 s to write: 250,000 used instead)"
        print(f"  {name:<7} {i['bytes'] / 1e6:8.1f} MB{extra}")
    print()
    head = ("file", "ours->json", "ours->None", "lindi", "lindi(no thr)", "kerchunk",
            "ours/lindi", "ours/kerchunk")
    print(f"{head[0]:<8}{head[1]:>12}{head[2]:>12}{head[3]:>12}{head[4]:>26}{head[5]:>12}{head[6]:>12}{head[7]:>15}")
    for name, r in local.items():
        lindi_cmp = r.get("lindi_no_threshold") if name == "chunks" else r.get("lindi_default")
        print(
            f"{name:<8}{_fmt(r['ours_json']):>12}{_fmt(r['ours_none']):>12}{_fmt(r.get('lindi_default')):>12}"
            f"{_fmt(r.get('lindi_no_threshold')):>26}{_fmt(r.get('kerchunk')):>12}"
            f"{_ratio(r['ours_json'], lindi_cmp):>12}{_ratio(r['ours_none'], r.get('kerchunk')):>15}"
        )
    print("(seconds; ours/lindi = ours->json / lindi writing its .lindi.json, against lindi without")
    print(" threshold for 'chunks'; ours/kerchunk = ours->None / kerchunk's in-memory translate())")
    c = local.get("chunks", {})
    if "ours_json_threshold_1000" in c:
        print(f"chunks with threshold 1000 (both link the dataset): ours {_fmt(c['ours_json_threshold_1000'])} s, "
              f"lindi {_fmt(c.get('lindi_default'))} s, ratio {_ratio(c['ours_json_threshold_1000'], c.get('lindi_default'))}")
    for name, r in local.items():
        links = r.get("lindi_default", {}).get("external_array_links")
        if links:
            print(f"lindi default options on {name}: external array link for {', '.join('/' + x for x in links)}")
    print()
    total = remote["file_bytes"]
    print(f"remote ephys ({total / 1e6:.1f} MB over local HTTP):")
    for who in ("ours", "lindi", "lindi_no_threshold"):
        r = remote.get(who, {})
        if "error" in r or "requests" not in r:
            print(f"  {who:<19} {r.get('error', '?')}")
            continue
        probe = ""
        if r["unranged_gets"]:
            probe = (f" (incl. {r['unranged_gets']} GET without Range closed after the headers, "
                     f"~{r['unranged_bytes_sent']:,} bytes of it sent before it closed)")
        links = f"; linked: {', '.join(r['external_array_links'])}" if r.get("external_array_links") else ""
        print(f"  {who:<19} {r['requests']:>3} requests, {r['bytes']:>10,} bytes in ranged answers "
              f"({100 * r['bytes'] / total:.2f}% of the file), {r['seconds']:.3f} s{probe}{links}")
    o, li = remote.get("ours", {}), remote.get("lindi_no_threshold", {})
    if "requests" in o and "requests" in li:
        print(f"  ours / lindi_no_threshold: requests {o['requests'] / li['requests']:.2f}, "
              f"ranged bytes {o['bytes'] / max(li['bytes'], 1):.2f}, time {o['seconds'] / li['seconds']:.2f}")


def _git(*args: str) -> str:
    proc = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False)
    return proc.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, default=None, help="cache the test files here")
    parser.add_argument("--repeat", type=int, default=1, help="best of N, for every tool")
    parser.add_argument("--ephys-samples", type=int, default=30_000,
                        help="samples (rows) of the ephys file's ElectricalSeries; 30,000 = 1 s")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds allowed per lindi/kerchunk run")
    parser.add_argument("--lindi-python", default=None, help="python with lindi 0.4.6 (default: tests' .venv-lindi)")
    parser.add_argument("--kerchunk-python", default=os.environ.get(KERCHUNK_ENV),
                        help=f"python with kerchunk (default ${KERCHUNK_ENV}; absent: not available)")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of index_hdf5 on 'meta'")
    parser.add_argument("--json", type=Path, default=None, help="write results here")
    args = parser.parse_args()

    lindi_python = args.lindi_python
    if lindi_python is None:
        try:
            lindi_python = ensure_lindi_python()
        except Exception as exc:  # noqa: BLE001 -- reported as "not available"
            print(f"lindi not available: {exc}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp) / "files"
        workdir.mkdir(parents=True, exist_ok=True)
        out_dir = Path(tmp) / "out"
        out_dir.mkdir()
        paths, info = make_files(workdir, args.ephys_samples)
        local = bench_local(paths, out_dir, args, lindi_python, args.kerchunk_python)
        remote = bench_remote(paths["ephys"], out_dir, lindi_python, args.timeout)
        profile = profile_meta(paths["meta"]) if args.profile else None
    report(info, local, remote)
    if profile:
        print(profile)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        env = {
            "date": datetime.date.today().isoformat(), "python": platform.python_version(),
            "h5py": h5py.__version__, "hdf5": h5py.version.hdf5_version, "cpus": os.cpu_count(),
            "lindi_python": lindi_python, "kerchunk_python": args.kerchunk_python,
            "commit": _git("rev-parse", "--short", "HEAD"),
            "hdmf_lindi_modified": bool(_git("status", "--porcelain", "--", "hdmf_lindi")),
        }
        args.json.write_text(json.dumps(
            {"environment": env, "files": info, "local": local, "remote": remote}, indent=2
        ))


if __name__ == "__main__":
    main()
