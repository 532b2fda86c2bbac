"""Dask arrays over LINDI datasets (issue 16, step 3): whole storage chunks per block, exact values."""

from __future__ import annotations

import pickle
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest
from parallel_samples import write_nwb, write_sample

import hdmf_lindi
from hdmf_lindi import NWBLindiIO
from hdmf_lindi.dask import aligned_chunks, to_dask
from hdmf_lindi.errors import NotPicklableError, UnsupportedError


@pytest.mark.parametrize("kind", ["json", "tar", "dir"])
def test_to_dask_equals_numpy_for_every_dtype_family(tmp_path: Path, kind: str) -> None:
    path, expected = write_sample(tmp_path, kind)
    with hdmf_lindi.File(path) as f:
        for name, want in expected.items():
            ds = f[name]
            for target in (1, 4096, None):
                arr = to_dask(ds, target_bytes=target)
                assert arr.dtype == ds.dtype and arr.shape == want.shape
                # blocks are whole storage chunks (the last one may be cut by the edge)
                for axis, sizes in enumerate(arr.chunks):
                    assert all(s % ds.chunks[axis] == 0 for s in sizes[:-1]), (name, arr.chunks)
                got = arr.compute(scheduler="threads")
                assert got.dtype == want.dtype
                np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(to_dask(ds)[5:40].compute(), want[5:40])


def test_to_dask_reductions_and_names(tmp_path: Path) -> None:
    path, expected = write_sample(tmp_path, "tar")
    with hdmf_lindi.File(path) as f:
        arr = to_dask(f["data/i16"], target_bytes=64 * 24 * 2 * 3)
        assert arr.chunks == ((192, 192, 192, 192, 132), (24,))
        want = expected["data/i16"].astype("f8")
        np.testing.assert_allclose(arr.astype("f8").mean(axis=0).compute(), want.mean(axis=0))
        np.testing.assert_allclose(arr.astype("f8").std(axis=0).compute(), want.std(axis=0))
        # same data, same name (dask reuses results); another dataset, another name
        assert to_dask(f["data/i16"]).name == to_dask(f["data/i16"]).name != to_dask(f["data/f8"]).name
        # a pickled graph reads through handles, not the open file
        assert len(pickle.dumps(arr)) < 20_000


def test_open_dask_and_lindi_dataset_to_dask(tmp_path: Path) -> None:
    path, expected = write_sample(tmp_path, "json")
    arr = hdmf_lindi.open_dask(str(path), "data/u1")
    np.testing.assert_array_equal(arr.compute(), expected["data/u1"])
    with pytest.raises(TypeError, match="group"):
        hdmf_lindi.open_dask(str(path), "data")
    nwb = tmp_path / "rec.nwb.lindi.tar"
    want = write_nwb(nwb)
    with NWBLindiIO(str(nwb), "r") as io:
        data = io.read().acquisition["ElectricalSeries"].data
        arr = data.to_dask()
        assert arr.chunks[1] == (6,) and arr.chunks[0][0] % 500 == 0
        np.testing.assert_array_equal(arr.compute(), want["data"])


def test_from_array_on_our_dataset_works_with_threads(tmp_path: Path) -> None:
    path, expected = write_sample(tmp_path, "dir")
    with hdmf_lindi.File(path) as f, dask.config.set(scheduler="threads", num_workers=8):
        for name in ("data/str", "data/cmp", "data/b"):
            arr = da.from_array(f[name], chunks=17)
            np.testing.assert_array_equal(arr.compute(), expected[name])


def test_writable_files_and_references_are_refused(tmp_path: Path) -> None:
    path, _ = write_sample(tmp_path, "tar")
    with hdmf_lindi.File(path, "a") as f:
        with pytest.raises(NotPicklableError):
            to_dask(f["data/f8"])
        f.create_dataset("refs", data=np.array([f["data/f8"].ref], dtype=hdmf_lindi.ref_dtype))
    with hdmf_lindi.File(path) as f, pytest.raises(UnsupportedError, match="references"):
        to_dask(f["refs"])


@pytest.mark.parametrize(
    ("shape", "chunks", "itemsize", "target", "expected"),
    [
        ((10_000_000, 384), (20_000, 64), 2, 128 << 20, (160_000, 384)),  # rows of chunks, grown
        ((1000, 384), (100, 64), 2, 1, (100, 64)),  # never below one storage chunk
        ((100, 50, 40), (10, 5, 4), 4, 10 * 50 * 40 * 4, (10, 50, 40)),  # innermost widened first
        ((100, 50, 40), (10, 5, 4), 4, 10 * 5 * 40 * 4, (10, 5, 40)),
        ((7,), None, 8, 1, (7,)),
        ((), None, 8, 1, ()),
    ],
)
def test_aligned_chunks(
    shape: tuple[int, ...], chunks: tuple[int, ...] | None, itemsize: int, target: int, expected: tuple[int, ...]
) -> None:
    assert aligned_chunks(shape, chunks, itemsize, target) == expected


def test_scalars_and_empty_datasets(tmp_path: Path) -> None:
    path = tmp_path / "small.lindi.json"
    with hdmf_lindi.File(path, "w") as f:
        f.create_dataset("s", data=3.5)
        f.create_dataset("t", data="hello", dtype=hdmf_lindi.string_dtype())
        f.create_dataset("e", shape=(0, 5), dtype="f4")
    with hdmf_lindi.File(path) as f:
        assert to_dask(f["s"]).compute() == 3.5
        assert to_dask(f["t"]).compute() == "hello"
        empty = to_dask(f["e"])
        assert empty.shape == (0, 5) and empty.compute().dtype == np.float32
