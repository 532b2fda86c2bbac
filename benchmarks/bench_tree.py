"""Tree API against h5py on the same data, in one run; and request counts for remote opens.

Usage::

    python benchmarks/bench_tree.py [--repeat N] [--json OUT]

Cases (each a ratio ours / h5py; lower is better):

* ``small_slice``: ``ds[5:10, 5:10]`` of a 2000 x 2000 float32 dataset in 100 x 100 chunks,
  file kept open (both libraries use their chunk cache). Target <= 1.0.
* ``small_slice_cold``: the same slice, first read after opening the file (open included).
* ``read_100_chunks`` (raw and gzip): ``ds[...]`` of a 100-chunk float64 array (100 x 10 000),
  file open, chunk caches disabled on both sides (h5py ``rdcc_nbytes=0``, ours
  ``chunk_cache_bytes=0``). Target <= 2.0.
* ``read_100_chunks_cold``: the same, file opened for each read (open cost included).
* ``remote_open``: requests needed to open a ``.lindi.json`` (target 1) and a ``.lindi.tar``
  (target <= 3) over HTTP from a local server.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np

import hdmf_lindi


def best_per_call(func: Callable[[], Any], repeat: int, number: int) -> float:
    """Return the best mean time of ``number`` calls over ``repeat`` rounds, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            func()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def make_files(tmp: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    big = rng.random((2000, 2000), dtype=np.float32)
    many = rng.random((100, 10_000))
    paths = {"h5": tmp / "data.h5", "tar": tmp / "data.lindi.tar", "json": tmp / "data.lindi.json"}
    with h5py.File(paths["h5"], "w") as f:
        f.create_dataset("big", data=big, chunks=(100, 100))
        f.create_dataset("many", data=many, chunks=(1, 10_000))
        f.create_dataset("many_gzip", data=many, chunks=(1, 10_000), compression="gzip")
    for kind in ("tar", "json"):
        with hdmf_lindi.File(paths[kind], "w") as f:
            f.create_dataset("big", data=big, chunks=(100, 100))
            f.create_dataset("many", data=many, chunks=(1, 10_000))
            f.create_dataset("many_gzip", data=many, chunks=(1, 10_000), compression="gzip")
    return paths


def bench_local(paths: dict[str, Path], repeat: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    with h5py.File(paths["h5"], "r") as hf, hdmf_lindi.File(paths["tar"], "r") as lf:
        hd, ld = hf["big"], lf["big"]
        np.testing.assert_array_equal(hd[5:10, 5:10], ld[5:10, 5:10])
        results["small_slice"] = {
            "h5py": best_per_call(lambda: hd[5:10, 5:10], repeat, 2000),
            "ours": best_per_call(lambda: ld[5:10, 5:10], repeat, 2000),
        }

    def h5_cold(name: str, sel: Any) -> Callable[[], Any]:
        def run() -> Any:
            with h5py.File(paths["h5"], "r") as f:
                return f[name][sel]
        return run

    def ours_cold(name: str, sel: Any) -> Callable[[], Any]:
        def run() -> Any:
            with hdmf_lindi.File(paths["tar"], "r") as f:
                return f[name][sel]
        return run

    with h5py.File(paths["h5"], "r", rdcc_nbytes=0) as hf, hdmf_lindi.File(paths["tar"], "r", chunk_cache_bytes=0) as lf:
        for case, name, number in (("read_100_chunks", "many", 20), ("read_100_chunks_gzip", "many_gzip", 10)):
            hd, ld = hf[name], lf[name]
            np.testing.assert_array_equal(hd[...], ld[...])
            results[case] = {
                "h5py": best_per_call(lambda hd=hd: hd[...], repeat, number),
                "ours": best_per_call(lambda ld=ld: ld[...], repeat, number),
            }
    cases = {
        "small_slice_cold": ("big", np.s_[5:10, 5:10], 200),
        "read_100_chunks_cold": ("many", np.s_[...], 20),
    }
    for case, (name, sel, number) in cases.items():
        np.testing.assert_array_equal(h5_cold(name, sel)(), ours_cold(name, sel)())
        results[case] = {
            "h5py": best_per_call(h5_cold(name, sel), repeat, number),
            "ours": best_per_call(ours_cold(name, sel), repeat, number),
        }
    return results


class _CountingHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files with single-range support and counts GET requests."""

    counter: list[str]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return None

    def do_GET(self) -> None:
        self.counter.append(self.path)
        path = Path(self.translate_path(self.path))
        data = path.read_bytes()
        header = self.headers.get("Range")
        if header and header.startswith("bytes="):
            start_s, _, stop_s = header[6:].partition("-")
            start, stop = int(start_s), min(int(stop_s) + 1 if stop_s else len(data), len(data))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{len(data)}")
            body = data[start:stop]
        else:
            self.send_response(200)
            body = data
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def bench_remote(paths: dict[str, Path]) -> dict[str, dict[str, float]]:
    counter: list[str] = []
    handler = functools.partial(_CountingHandler, directory=str(paths["tar"].parent))
    _CountingHandler.counter = counter
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    results: dict[str, dict[str, float]] = {}
    try:
        for kind in ("json", "tar"):
            counter.clear()
            url = f"http://127.0.0.1:{server.server_address[1]}/{paths[kind].name}"
            t0 = time.perf_counter()
            with hdmf_lindi.File(url) as f:
                opened = len(counter)
                f["big"][0:1, 0:1]
            results[f"remote_open_{kind}"] = {
                "requests_to_open": opened,
                "requests_incl_one_slice": len(counter),
                "seconds": time.perf_counter() - t0,
            }
    finally:
        server.shutdown()
        server.server_close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None, help="write results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_files(Path(tmp))
        local = bench_local(paths, args.repeat)
        remote = bench_remote(paths)
    print(f"{'case':<24}{'h5py':>12}{'ours':>12}{'ratio':>8}")
    for case, r in local.items():
        r["ratio"] = r["ours"] / r["h5py"]
        print(f"{case:<24}{r['h5py'] * 1e6:>10.1f}us{r['ours'] * 1e6:>10.1f}us{r['ratio']:>8.2f}")
    for case, r in remote.items():
        print(f"{case:<24} requests to open: {r['requests_to_open']}, with one slice: {r['requests_incl_one_slice']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**local, **remote}, indent=2))


if __name__ == "__main__":
    main()
