"""Tree API against h5py on the same data, in one run; and request counts for remote opens.

Usage::

    python benchmarks/bench_tree.py --workdir DIR --json OUT.json [--quick] [--repeat N]

Both libraries run warm in this one process (same files, same chunk shapes).

Cases (each a ratio ours / h5py; lower is better):

* ``small_slice``: ``ds[5:10, 5:10]`` of a 2000 x 2000 float32 dataset in 100 x 100 chunks,
  file kept open (both libraries use their chunk cache). Target <= 1.0.
* ``small_slice_cold``: the same slice, first read after opening the file (open included).
* ``read_100_chunks`` (raw and gzip): ``ds[...]`` of a 100-chunk float64 array (100 x 10 000),
  file open, chunk caches disabled on both sides (h5py ``rdcc_nbytes=0``, ours
  ``chunk_cache_bytes=0``). Target <= 2.0.
* ``read_100_chunks_cold``: the same, file opened for each read (open cost included).
* ``remote_open``: requests needed to open a ``.lindi.json`` (target 1) and a ``.lindi.tar``
  (target <= 3) over HTTP from the tests' Range server (``_common.ServerProcess``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from _common import Report, ServerProcess, best_of, parse_args

import hdmf_lindi


def best_per_call(func: Callable[[], Any], repeat: int, number: int) -> float:
    """Return the best mean time of ``number`` calls over ``repeat`` rounds, in seconds."""
    return best_of(func, repeat, number)


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


def bench_local(paths: dict[str, Path], repeat: int, quick: bool = False) -> dict[str, dict[str, float]]:
    scale = 4 if quick else 1  # fewer calls per round in --quick
    results: dict[str, dict[str, float]] = {}
    with h5py.File(paths["h5"], "r") as hf, hdmf_lindi.File(paths["tar"], "r") as lf:
        hd, ld = hf["big"], lf["big"]
        np.testing.assert_array_equal(hd[5:10, 5:10], ld[5:10, 5:10])
        results["small_slice"] = {
            "h5py": best_per_call(lambda: hd[5:10, 5:10], repeat, 2000 // scale),
            "ours": best_per_call(lambda: ld[5:10, 5:10], repeat, 2000 // scale),
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
                "h5py": best_per_call(lambda hd=hd: hd[...], repeat, max(number // scale, 1)),
                "ours": best_per_call(lambda ld=ld: ld[...], repeat, max(number // scale, 1)),
            }
    cases = {
        "small_slice_cold": ("big", np.s_[5:10, 5:10], 200),
        "read_100_chunks_cold": ("many", np.s_[...], 20),
    }
    for case, (name, sel, number) in cases.items():
        np.testing.assert_array_equal(h5_cold(name, sel)(), ours_cold(name, sel)())
        results[case] = {
            "h5py": best_per_call(h5_cold(name, sel), repeat, max(number // scale, 1)),
            "ours": best_per_call(ours_cold(name, sel), repeat, max(number // scale, 1)),
        }
    return results


def bench_remote(server: ServerProcess, paths: dict[str, Path], report: Report) -> None:
    """Requests and bytes to open each container over HTTP, then with one small slice."""
    for kind, target in (("json", 1), ("tar", 3)):
        url = server.url(paths[kind].name)
        server.clear()
        t0 = time.perf_counter()
        with hdmf_lindi.File(url) as f:
            opened = server.traffic()
            f["big"][0:1, 0:1]
        seconds = time.perf_counter() - t0
        after = server.traffic()
        size = paths[kind].stat().st_size
        report.add(f"remote_open_{kind}", "ours", requests=opened.requests,
                   bytes=opened.bytes + opened.unranged_bytes,
                   note=f"requests to open (target <= {target}); file {size:,} bytes")
        report.add(f"remote_open_{kind}+slice", "ours", seconds=seconds,
                   requests=after.requests, bytes=after.bytes + after.unranged_bytes,
                   note="open, read ds[0:1, 0:1], close")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__.split("\n")[0], argv, lambda p: p.add_argument("--repeat", type=int, default=None))
    repeat = args.repeat or (2 if args.quick else 5)
    report = Report("tree", process_state="both libraries warm, in one process, same files")
    work = args.workdir / "tree"
    work.mkdir(parents=True, exist_ok=True)
    # The server's process is forked before this one starts any thread.
    with ServerProcess(work) as server:
        paths = make_files(work)
        local = bench_local(paths, repeat, quick=args.quick)
        for case, r in local.items():
            report.add(case, "h5py", seconds=r["h5py"])
            report.add(case, "ours", seconds=r["ours"])
            report.ratio(case, "ours", "h5py")
        bench_remote(server, paths, report)
    report.note(f"times are the best mean over {repeat} rounds; lower ratio is better "
                "(targets: small_slice <= 1.0, read_100_chunks <= 2.0)")
    report.finish(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
