"""Eight threads reading one open file at once get exactly what numpy gives (issue 16, step 1).

The decoded-chunk cache is kept small so that threads evict each other's chunks all the time,
and every round starts from a freshly opened file, so the lazily built state (node index,
engines, byte sources) is built under contention too.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import pytest
from parallel_samples import write_sample

import hdmf_lindi
from hdmf_lindi.tree.array import ChunkCache

THREADS = 8


def _random_key(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[slice, ...]:
    key = []
    for n in shape:
        start = int(rng.integers(0, n))
        stop = int(rng.integers(start + 1, n + 1))
        key.append(slice(start, stop))
    return tuple(key)


def _hammer(f: hdmf_lindi.File, expected: dict[str, np.ndarray[Any, Any]], seed: int, reads: int) -> None:
    """Start ``THREADS`` threads together, each reading random slices of every dataset."""
    barrier = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def work(i: int) -> None:
        rng = np.random.default_rng(seed * 100 + i)
        try:
            barrier.wait()
            for _ in range(reads):
                name = list(expected)[int(rng.integers(0, len(expected)))]
                key = _random_key(rng, expected[name].shape)
                got = f[name][key]
                want = expected[name][key]
                if got.dtype != want.dtype and want.dtype.kind != "O":
                    raise AssertionError(f"{name}{key}: dtype {got.dtype} != {want.dtype}")
                if not np.array_equal(got, want):
                    raise AssertionError(f"{name}{key}: values differ")
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]


@pytest.mark.parametrize("kind", ["json", "tar", "dir"])
def test_eight_threads_read_random_overlapping_slices(tmp_path: Path, kind: str) -> None:
    path, expected = write_sample(tmp_path, kind)
    for round_ in range(3):
        with hdmf_lindi.File(path, chunk_cache_bytes=16 << 10) as f:
            _hammer(f, expected, seed=round_, reads=40)
            assert f._state.cache._bytes <= 16 << 10


def test_dask_from_array_on_eight_threads(tmp_path: Path) -> None:
    path, expected = write_sample(tmp_path, "tar")
    with hdmf_lindi.File(path, chunk_cache_bytes=32 << 10) as f, dask.config.set(scheduler="threads", num_workers=THREADS):
        for name in ("data/i16", "data/f8", "data/u1"):
            ds = f[name]
            # dask blocks that straddle storage chunks: neighbouring tasks share chunks
            blocks = tuple(max(1, c * 3 // 2) for c in ds.chunks)
            arr = da.from_array(ds, chunks=blocks, lock=False)
            for _ in range(3):
                np.testing.assert_array_equal(arr.compute(), expected[name])
                assert float(arr.astype("f8").sum().compute()) == pytest.approx(float(expected[name].astype("f8").sum()))


def test_chunk_cache_stays_within_budget_under_threads() -> None:
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up
    try:
        _churn_cache()
    finally:
        sys.setswitchinterval(old_interval)


def _churn_cache() -> None:
    cache = ChunkCache(max_bytes=10_000)
    barrier = threading.Barrier(THREADS)

    failures: list[BaseException] = []

    def work(i: int) -> None:
        rng = np.random.default_rng(i)
        barrier.wait()
        try:
            for _ in range(2000):
                key = f"k{int(rng.integers(0, 50))}"
                if cache.get(key) is None:
                    cache.put(key, np.full(int(rng.integers(10, 300)), i, dtype="u1"))
                if rng.random() < 0.05:
                    cache.discard(key)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[0]
    assert cache._bytes == sum(a.nbytes for a in cache._data.values())
    assert cache._bytes <= cache.max_bytes
    assert cache.hits + cache.misses == THREADS * 2000
