"""More HDF5 edge-case fixtures (imported by ``conftest.py``): filters, and cases beyond the
plain layouts and types: virtual datasets, per-chunk filter masks, odd names, null dataspaces
and every numeric dtype.

The blosc / zstd / lz4 / bitshuffle fixtures need ``hdf5plugin`` (a test dependency).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

RNG = np.random.default_rng(4321)


def _rand(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


# ------------------------------------------------------------------ filters


def _filtered(tmp_path: Path, name: str, **compression: Any) -> Path:
    path = tmp_path / f"{name}.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("i4", data=np.arange(10000, dtype="<i4"), chunks=(1000,), **compression)
        f.create_dataset("f8_2d", data=_rand(100, 60), chunks=(30, 25), **compression)
        f.create_dataset("partial", shape=(5000,), dtype="<f4", chunks=(1000,), fillvalue=np.nan, **compression)
        f["partial"][2000:3000] = 1.5
    return path


@pytest.fixture
def lzf_h5(tmp_path: Path) -> Path:
    # h5py's built-in LZF has no numcodecs codec: the dataset must stay readable through an
    # _EXTERNAL_ARRAY_LINK, with the reason recorded (lindi aborts instead).
    return _filtered(tmp_path, "lzf", compression="lzf")


@pytest.fixture
def blosc_h5(tmp_path: Path) -> Path:
    # Blosc (filter 32001) is common in NWB written by neuroconv; its cd_values name the cname,
    # clevel and shuffle that the numcodecs blosc codec needs.
    import hdf5plugin

    return _filtered(
        tmp_path, "blosc", **hdf5plugin.Blosc(cname="zstd", clevel=5, shuffle=hdf5plugin.Blosc.BITSHUFFLE)
    )


@pytest.fixture
def zstd_h5(tmp_path: Path) -> Path:
    # Zstd (filter 32015) maps to numcodecs zstd; its frames must decode unpadded (§3.4).
    import hdf5plugin

    return _filtered(tmp_path, "zstd", **hdf5plugin.Zstd(clevel=7))


@pytest.fixture
def lz4_h5(tmp_path: Path) -> Path:
    # HDF5's LZ4 filter (32004) frames blocks differently from numcodecs LZ4: it must either be
    # decoded exactly or fall back to an external array link.
    import hdf5plugin

    return _filtered(tmp_path, "lz4", **hdf5plugin.LZ4())


@pytest.fixture
def bitshuffle_h5(tmp_path: Path) -> Path:
    # Bitshuffle (32008, with LZ4) has no standalone numcodecs codec: external array link.
    import hdf5plugin

    return _filtered(tmp_path, "bitshuffle", **hdf5plugin.Bitshuffle())


# ------------------------------------------------------------------ beyond layouts and types


@pytest.fixture
def filter_mask_h5(tmp_path: Path) -> Path:
    # A chunk whose filter mask says "deflate skipped" holds raw bytes in a gzip dataset:
    # decoding it with the dataset's codecs would fail or give garbage (lindi ignores the mask).
    path = tmp_path / "filter_mask.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("masked", shape=(4000,), dtype="<i4", chunks=(1000,), compression="gzip")
        ds[...] = np.arange(4000)
        ds.id.write_direct_chunk((1000,), (np.arange(1000, dtype="<i4") * 7).tobytes(), filter_mask=1)
    return path


@pytest.fixture
def virtual_h5(tmp_path: Path) -> Path:
    # A virtual dataset (VDS) has no storage of its own: its values come from other datasets
    # (here one in another file and one in the same file) and from its fill value.
    path = tmp_path / "virtual.h5"
    with h5py.File(tmp_path / "vds_source.h5", "w") as src:
        src.create_dataset("a", data=np.arange(3000, dtype="<i4"))
    with h5py.File(path, "w") as f:
        f.create_dataset("local", data=np.arange(3000, 6000, dtype="<i4"))
        layout = h5py.VirtualLayout(shape=(3, 3000), dtype="<i4")
        layout[0] = h5py.VirtualSource("vds_source.h5", "a", shape=(3000,))
        layout[1] = h5py.VirtualSource(".", "local", shape=(3000,))
        f.create_virtual_dataset("vds", layout, fillvalue=-1)  # row 2: fill value only
    return path


@pytest.fixture
def odd_names_h5(tmp_path: Path) -> Path:
    # NWB names may hold spaces, dots, brackets and non-ASCII text; "0", "1.2" and "0.0" look
    # like chunk keys and ".hidden" like Zarr metadata, all inside Zarr store keys.
    path = tmp_path / "odd_names.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("my group (v1.0)")
        g.create_dataset("\u00fcn\u00efc\u00f8de", data=np.arange(2000))
        g.create_dataset("0", data=np.arange(3))
        g.create_dataset("1.2", data=_rand(2000), chunks=(100,))
        f.create_dataset(".hidden", data=[1, 2])
        f.create_group("0.0").attrs["\u00e9t\u00e9 attr"] = "x"
        f["with space"] = h5py.SoftLink("/my group (v1.0)/1.2")
    return path


@pytest.fixture
def null_dataspace_h5(tmp_path: Path) -> Path:
    # h5py.Empty datasets (null dataspace) have no shape at all; lindi aborts on them.
    path = tmp_path / "null_dataspace.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("null", data=h5py.Empty("<f8"))
        f.create_dataset("after", data=np.arange(3))
    return path


@pytest.fixture
def numeric_dtypes_h5(tmp_path: Path) -> Path:
    # Every numeric type NWB may hold, referenced (>= 1000 elements) chunked and contiguous:
    # the Zarr dtype string must be exactly HDF5's (float16 included).
    path = tmp_path / "numeric_dtypes.h5"
    with h5py.File(path, "w") as f:
        for t in ["|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8", "<f2", "<f4", "<f8"]:
            data = (np.arange(1500) % 120).astype(t)
            f.create_dataset(f"contiguous_{t[1:]}", data=data)
            f.create_dataset(f"chunked_{t[1:]}", data=data, chunks=(256,), compression="gzip")
    return path
