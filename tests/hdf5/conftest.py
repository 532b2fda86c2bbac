"""One named fixture per HDF5 edge case that ``index_hdf5`` must map (lindi-format.md §4-§6).

Every fixture writes a small HDF5 file with h5py under ``tmp_path`` and returns its path; the
comment above each says why the case matters. ``cases.EDGE_CASES`` lists them all (the matrix
of ``test_indexer.py``), and ``cases.CASE_OPTIONS`` the ``IndexOptions`` a case needs.

The filter fixtures and the cases beyond the layouts and types (virtual datasets, filter masks,
odd names, null dataspaces, every numeric dtype) live in ``more_fixtures.py`` and are imported
here; so are the lindi 0.4.6 fixtures of ``tests/interop`` (``run_lindi``), for the NWB corpus.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from cases import SPLIT_BYTES
from interop.conftest import _lindi_env, lindi_python, run_lindi  # noqa: F401
from more_fixtures import (  # noqa: F401
    bitshuffle_h5,
    blosc_h5,
    filter_mask_h5,
    lz4_h5,
    lzf_h5,
    null_dataspace_h5,
    numeric_dtypes_h5,
    odd_names_h5,
    virtual_h5,
    zstd_h5,
)

RNG = np.random.default_rng(1234)


def _rand(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


# ------------------------------------------------------------------ layouts


@pytest.fixture
def contiguous_h5(tmp_path: Path) -> Path:
    # Contiguous is h5py's default layout: the whole dataset is one byte range (no chunk
    # iterator), an unwritten one has no storage at all (lindi aborts on it), and small ones
    # are inlined.
    path = tmp_path / "contiguous.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("f8", data=_rand(2000))
        f.create_dataset("i2_2d", data=np.arange(100 * 50, dtype="<i2").reshape(100, 50))
        f.create_dataset("small", data=np.arange(7, dtype="<u4"))
        f.create_dataset("unwritten", shape=(3000,), dtype="<i4", fillvalue=-1)
        f.create_dataset("unwritten_nan", shape=(40, 40), dtype="<f4", fillvalue=np.nan)
    return path


@pytest.fixture
def contiguous_split_h5(tmp_path: Path) -> Path:
    # Contiguous datasets larger than contiguous_max_chunk_bytes become pseudo-chunks; 1009 is
    # prime, so no pseudo-chunk height divides the row count and the last chunk is short
    # (lindi-format §3.4: readers must pad it, writers must not exceed the limit).
    path = tmp_path / "contiguous_split.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("rows", data=_rand(1009, 3))
        f.create_dataset("flat", data=np.arange(1009 * 2, dtype="<i4")[::2].copy())
        f.create_dataset("cube", data=_rand(1009, 2, 2).astype("<f4"))
        # exactly at the limit: must stay one chunk
        f.create_dataset("at_limit", data=_rand(SPLIT_BYTES // 4).astype("<f4"))
    return path


@pytest.fixture
def compact_h5(tmp_path: Path) -> Path:
    # Compact datasets keep their bytes in the object header: there is no byte offset to
    # reference (lindi aborts on numeric ones with >= 1000 elements), so they must be inlined.
    path = tmp_path / "compact.h5"
    with h5py.File(path, "w") as f:
        for name, data in [
            ("big_i2", np.arange(3000, dtype="<i2")),
            ("small_f8", _rand(10)),
            ("fixed_s", np.array([b"ab", b"cde"], dtype="S3")),
            ("two_d", np.arange(1200, dtype="<u1").reshape(40, 30)),
        ]:
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_layout(h5py.h5d.COMPACT)
            ds = f.create_dataset(name, shape=data.shape, dtype=data.dtype, dcpl=dcpl)
            ds[...] = data
            assert ds.id.get_create_plist().get_layout() == h5py.h5d.COMPACT
    return path


@pytest.fixture
def chunked_gzip_shuffle_h5(tmp_path: Path) -> Path:
    # The NWB default for large data: deflate after shuffle; zarr must get both filters in
    # HDF5 pipeline order, and partial edge chunks are stored full-size by HDF5.
    path = tmp_path / "chunked_gzip_shuffle.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset(
            "i4", data=np.arange(1600, dtype="<i4").reshape(40, 40), chunks=(20, 20),
            compression="gzip", compression_opts=5, shuffle=True,
        )
        f.create_dataset(
            "f8_3d", data=_rand(30, 20, 10), chunks=(7, 6, 4), compression="gzip", shuffle=True
        )
        f.create_dataset(
            "u2_gzip9", data=np.arange(5000, dtype="<u2"), chunks=(999,), compression="gzip",
            compression_opts=9,
        )
        f.create_dataset("shuffle_only", data=_rand(3000), chunks=(512,), shuffle=True)
    return path


@pytest.fixture
def fletcher32_h5(tmp_path: Path) -> Path:
    # fletcher32 appends a 4-byte checksum to every chunk: the codec must verify and strip it,
    # alone and after deflate (lindi's zero-padding breaks the latter, §3.4).
    path = tmp_path / "fletcher32.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("f4", data=_rand(5000).astype("<f4"), chunks=(1000,), fletcher32=True)
        f.create_dataset(
            "gzip_fletcher", data=np.arange(4321, dtype="<i8"), chunks=(1000,),
            compression="gzip", shuffle=True, fletcher32=True,
        )
    return path


@pytest.fixture
def partial_chunks_h5(tmp_path: Path) -> Path:
    # Chunks never written are not allocated: they have no reference and must read as the
    # HDF5 fill value (NaN here, which zarr encodes as the string "NaN").
    path = tmp_path / "partial_chunks.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("nan_fill", shape=(100, 100), dtype="<f8", chunks=(10, 10), fillvalue=np.nan)
        ds[0:10, 0:10] = _rand(10, 10)
        ds[55, 77] = 1.0  # one element: the rest of its chunk is fill
        ds[95:, 95:] = 2.0
        gz = f.create_dataset(
            "gzip_fill", shape=(5000,), dtype="<i4", chunks=(500,), fillvalue=-7, compression="gzip"
        )
        gz[1000:1500] = np.arange(500)
        f.create_dataset("never_written", shape=(2000,), dtype="<i2", chunks=(100,), fillvalue=3)
    return path


@pytest.fixture
def unlimited_gzip_h5(tmp_path: Path) -> Path:
    # hdmf writes appendable datasets with maxshape None; after resizing, the chunk grid and
    # the shape disagree with what was first allocated, and shrinking leaves stale chunks.
    path = tmp_path / "unlimited_gzip.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset(
            "grown", shape=(1500,), maxshape=(None,), dtype="<f8", chunks=(1000,), compression="gzip"
        )
        ds[...] = _rand(1500)
        ds.resize((4321,))
        ds[1500:] = _rand(4321 - 1500)
        two = f.create_dataset(
            "grown_2d", shape=(10, 4), maxshape=(None, 4), dtype="<i4", chunks=(256, 4), compression="gzip"
        )
        two[...] = np.arange(40).reshape(10, 4)
        two.resize((1000, 4))
        two[10:] = np.arange(990 * 4).reshape(990, 4)
        shrunk = f.create_dataset(
            "shrunk", data=np.arange(5000, dtype="<i8"), maxshape=(None,), chunks=(700,), compression="gzip"
        )
        shrunk.resize((2345,))
    return path


@pytest.fixture
def empty_dataset_h5(tmp_path: Path) -> Path:
    # Zero-size datasets have no storage and zarr forbids zero chunk sizes: the index needs
    # chunks >= 1 and no chunk keys, and strings/empties of every layout must keep their dtype.
    path = tmp_path / "empty_dataset.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("contiguous_f8", shape=(0,), dtype="<f8")
        f.create_dataset("chunked_i4", shape=(0, 3), maxshape=(None, 3), dtype="<i4", chunks=(64, 3))
        f.create_dataset("zero_cols", shape=(5, 0), dtype="<u2")
        f.create_dataset("vlen_str", shape=(0,), dtype=h5py.string_dtype())
        f.create_dataset("fixed_s", shape=(0,), dtype="S4")
        f.create_dataset("gzip_empty", shape=(0,), maxshape=(None,), dtype="<f4", chunks=(100,), compression="gzip")
    return path


@pytest.fixture
def scalar_h5(tmp_path: Path) -> Path:
    # Scalars are shape () in HDF5 and [1] + _SCALAR in LINDI; every element type must come
    # back as h5py's ds[()] gives it (lindi stores scalar strings as <U, arrays as json2).
    path = tmp_path / "scalar.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("int", data=np.int64(-42))
        f.create_dataset("i2", data=np.int16(7))
        f.create_dataset("u8_max", data=np.uint64(2**64 - 1))
        f.create_dataset("f4", data=np.float32(1.5))
        f.create_dataset("nan", data=np.nan)
        f.create_dataset("bool", data=True)
        f.create_dataset("str_utf8", data="h\u00e9llo \u2603", dtype=h5py.string_dtype("utf-8"))
        f.create_dataset("str_ascii", data=b"plain ascii", dtype=h5py.string_dtype("ascii"))
        f.create_dataset("str_empty", data="", dtype=h5py.string_dtype())
        f.create_dataset("fixed_bytes", data=np.bytes_(b"abc"), dtype="S5")
    return path


@pytest.fixture
def strings_h5(tmp_path: Path) -> Path:
    # Strings are NWB's most common non-numeric data: vlen utf-8 / ascii (json2 arrays),
    # fixed-length S (raw NUL-padded bytes), 2-D, and large ones (always inlined).
    path = tmp_path / "strings.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset(
            "vlen_utf8", data=["a", "", "h\u00e9llo", "\u2603 snow", "tab\tnl\n"],
            dtype=h5py.string_dtype("utf-8"),
        )
        f.create_dataset("vlen_ascii", data=[b"x", b"yy", b""], dtype=h5py.string_dtype("ascii"))
        f.create_dataset("fixed_s", data=np.array([b"ab", b"cde", b""], dtype="S5"))
        fixed_utf8 = f.create_dataset("fixed_utf8", shape=(2,), dtype=h5py.string_dtype("utf-8", 8))
        utf8 = np.array(["\u00e9t\u00e9".encode(), b"ab"], dtype="S8")
        # HDF5 2.0 has no ascii -> utf-8 conversion: write with the file type as memory type
        fixed_utf8.id.write(h5py.h5s.ALL, h5py.h5s.ALL, utf8, mtype=fixed_utf8.id.get_type())
        f.create_dataset(
            "vlen_2d", data=[["a", "bb"], ["ccc", ""], ["e", "f"]], dtype=h5py.string_dtype()
        )
        f.create_dataset(
            "big_chunked", data=[f"row {i}" for i in range(2000)], dtype=h5py.string_dtype(),
            chunks=(300,), compression="gzip",
        )
        f.create_dataset("fixed_2d", data=np.array([[b"a", b"b"], [b"c", b"dd"]], dtype="S2"))
    return path


# ------------------------------------------------------------------ compound and references


@pytest.fixture
def compound_with_ref_h5(tmp_path: Path) -> Path:
    # NWB tables (icephys, image masks) are compounds, some with reference fields: json2 rows
    # plus _COMPOUND_DTYPE; lindi mislabels vlen string fields and rejects scalar compounds.
    path = tmp_path / "compound_with_ref.h5"
    with h5py.File(path, "w") as f:
        target = f.create_dataset("target", data=np.arange(5))
        group = f.create_group("grp")
        dt = np.dtype([("x", "<i4"), ("y", "<f8"), ("r", h5py.ref_dtype), ("s", "S5")])
        rows = np.array(
            [(1, 2.5, target.ref, b"hi"), (3, -4.5, group.ref, b"yo"), (5, np.nan, f.ref, b"")],
            dtype=dt,
        )
        f.create_dataset("table", data=rows)
        vdt = np.dtype([("idx", "<i8"), ("name", h5py.string_dtype()), ("flag", "?")])
        f.create_dataset("with_vlen", data=np.array([(0, "zero", True), (1, "\u00e9ne", False)], dtype=vdt))
        big = np.dtype([("a", ">i2"), ("b", "<u8")])
        f.create_dataset("mixed_endian", data=np.array([(-1, 2**63), (2, 5)], dtype=big))
        f.create_dataset("scalar_compound", data=np.array((7, 0.25, target.ref, b"one"), dtype=dt))
    return path


@pytest.fixture
def references_h5(tmp_path: Path) -> Path:
    # Object references (hdmf's links between tables, DynamicTableRegion.table) in datasets and
    # attributes; region references (lindi keeps only the target); null references.
    path = tmp_path / "references.h5"
    with h5py.File(path, "w") as f:
        f.attrs["object_id"] = "root-oid"
        g = f.create_group("g")
        g.attrs["object_id"] = "g-oid"
        data = f.create_dataset("data", data=np.arange(100).reshape(10, 10))
        data.attrs["object_id"] = "data-oid"
        f.create_dataset("refs", data=[g.ref, data.ref, f.ref], dtype=h5py.ref_dtype)
        nulls = f.create_dataset("refs_with_null", shape=(3,), dtype=h5py.ref_dtype)
        nulls[1] = data.ref
        f.create_dataset("refs_2d", data=[[g.ref, data.ref], [data.ref, g.ref]], dtype=h5py.ref_dtype)
        f.create_dataset("scalar_ref", data=g.ref, dtype=h5py.ref_dtype)
        f.attrs["ref_to_data"] = data.ref
        g.attrs["ref_to_root"] = f.ref
        data.attrs["ref_to_g"] = g.ref
        g.attrs["ref_array"] = np.array([data.ref, g.ref], dtype=h5py.ref_dtype)
        region = data.regionref[2:5, 1:3]
        f.create_dataset("region_refs", data=[region, data.regionref[...]], dtype=h5py.regionref_dtype)
        f.attrs["region_attr"] = region
    return path


# ------------------------------------------------------------------ links


@pytest.fixture
def soft_link_h5(tmp_path: Path) -> Path:
    # NWB links devices and electrodes with soft links; lindi stores them as _SOFT_LINK groups.
    # Relative targets resolve against the link's parent; dangling links cannot be followed.
    path = tmp_path / "soft_link.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("grp/sub")
        g.create_dataset("x", data=np.arange(5))
        g.attrs["a"] = 1
        f["to_group"] = h5py.SoftLink("/grp/sub")
        f["to_dataset"] = h5py.SoftLink("/grp/sub/x")
        f["grp"]["chain"] = h5py.SoftLink("/to_dataset")
        f["grp"]["relative"] = h5py.SoftLink("sub/x")
        f["dangling"] = h5py.SoftLink("/does/not/exist")
        f["grp"]["to_root"] = h5py.SoftLink("/")  # a cycle for any walker that follows links
    return path


@pytest.fixture
def external_link_h5(tmp_path: Path) -> Path:
    # NWB files link raw data in other files (e.g. imaging); lindi has no form for external
    # links, so hdmf_lindi must keep them in a form lindi ignores harmlessly.
    path = tmp_path / "external_link.h5"
    with h5py.File(tmp_path / "other.h5", "w") as other:
        other.create_dataset("data", data=np.arange(10.0))
        other.create_group("grp").attrs["who"] = "other"
    with h5py.File(path, "w") as f:
        f.create_dataset("local", data=np.arange(3))
        f["ext_dataset"] = h5py.ExternalLink("other.h5", "/data")
        f.create_group("g")["ext_group"] = h5py.ExternalLink("other.h5", "/grp")
    return path


@pytest.fixture
def hard_link_h5(tmp_path: Path) -> Path:
    # HDF5 lets one object have several names; LINDI has no hard links, so the second name
    # must read the same (lindi duplicates it) without copying data twice.
    path = tmp_path / "hard_link.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("a", data=_rand(2000), chunks=(500,))
        ds.attrs["unit"] = "V"
        f["also_a"] = ds
        g = f.create_group("g")
        g.create_dataset("inner", data=np.arange(4))
        f["h"] = g
        f.attrs["ref_to_a"] = ds.ref
    return path


# ------------------------------------------------------------------ attributes and types


@pytest.fixture
def attrs_h5(tmp_path: Path) -> Path:
    # Attributes carry NWB's metadata. JSON numbers are int64 or float64: the index records every
    # other numeric dtype under the top-level "hdmf_lindi" key, so every HDF5 type must come back
    # with the same value, kind and width (NaN/Inf as strings in JSON, bytes decoded, bools bool).
    path = tmp_path / "attrs.h5"
    ints = ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"]
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("ds", data=np.arange(3))
        for obj in (f, f.create_group("g"), ds):
            a = obj.attrs
            a["str"] = "h\u00e9llo"
            a["str_ascii"] = np.bytes_(b"bytes value")  # fixed-length S attribute
            a.create("vlen_bytes", b"vlen ascii", dtype=h5py.string_dtype("ascii"))
            for t in ints:
                info = np.iinfo(t)
                a[f"{t}_max"] = np.array(info.max, dtype=t)
                a[f"{t}_min"] = np.array(info.min, dtype=t)
                a[f"{t}_arr"] = np.array([info.min, 0, info.max], dtype=t)
            for t in ("f2", "f4", "f8"):
                a[t] = np.array(0.5, dtype=t)
                a[f"{t}_arr"] = np.array([0.25, -1.5, np.nan, np.inf, -np.inf], dtype=t)
            a["nan"] = np.nan
            a["inf"] = np.inf
            a["neg_inf"] = -np.inf
            a["f8_precise"] = 0.1 + 0.2
            # not exact in a narrower float: a read through float16 (or float32) changes them
            a["f4_precise"] = np.float32(0.1)
            a["f4_precise_arr"] = np.array([0.1, 1e-30, 3e38], dtype="<f4")
            a["be_i2_arr"] = np.array([1, -2, 300], dtype=">i2")
            a["be_f4"] = np.array(0.1, dtype=">f4")
            a["true"] = True
            a["false"] = np.False_
            a["bool_arr"] = np.array([True, False, True])
            a["int_2d"] = np.arange(6, dtype="<i4").reshape(2, 3)
            a["float_2d"] = np.array([[0.5, np.nan], [1.0, 2.0]])
            a["empty_int"] = np.array([], dtype="<i4")
            a["empty_float"] = np.array([], dtype="<f8")
            a["empty_f4"] = np.array([], dtype="<f4")
            a["empty_bool"] = np.array([], dtype=bool)
            a.create("empty_str", np.array([], dtype=object), dtype=h5py.string_dtype())
            a.create("vlen_str_arr", ["a", "\u00e9", ""], dtype=h5py.string_dtype())
            a.create("vlen_ascii_arr", [b"a", b"bc"], dtype=h5py.string_dtype("ascii"))
            a["fixed_str_arr"] = np.array([b"ab", b"c"], dtype="S2")
            a.create("str_2d", [["a", "b"], ["c", "d"]], dtype=h5py.string_dtype())
            a["ref"] = ds.ref
            a["empty"] = h5py.Empty("f8")
    return path


@pytest.fixture
def enum_h5(tmp_path: Path) -> Path:
    # Enums (HDF5 H5T_ENUM) have no Zarr form: values must read as their base integers,
    # inline (small) and chunk-referenced (large) alike.
    path = tmp_path / "enum.h5"
    dt = h5py.enum_dtype({"RED": 0, "GREEN": 1, "BLUE": 42}, basetype="i1")
    dt16 = h5py.enum_dtype({"OFF": 0, "ON": 1000}, basetype="<u2")
    with h5py.File(path, "w") as f:
        f.create_dataset("small", data=np.array([0, 1, 42, 1], dtype="i1"), dtype=dt)
        f.create_dataset("large", data=np.tile(np.array([0, 1000], dtype="<u2"), 1500), dtype=dt16, chunks=(512,))
        f.create_dataset("scalar", data=np.int8(42), dtype=dt)
        f.attrs.create("enum_attr", 1, dtype=dt)
    return path


@pytest.fixture
def bool_h5(tmp_path: Path) -> Path:
    # HDF5 has no bool: h5py writes an int8 enum FALSE/TRUE; large ones must be referenced as
    # |b1 chunks, small ones inlined, and h5py's np.bool_ view must come back.
    path = tmp_path / "bool.h5"
    pattern = np.arange(3000) % 3 == 0
    with h5py.File(path, "w") as f:
        f.create_dataset("small", data=np.array([True, False, True]))
        f.create_dataset("chunked_gzip", data=pattern, chunks=(1000,), compression="gzip")
        f.create_dataset("contiguous", data=pattern)
        f.create_dataset("two_d", data=pattern.reshape(60, 50), chunks=(16, 16))
        f.create_dataset("scalar", data=np.False_)
    return path


@pytest.fixture
def big_endian_h5(tmp_path: Path) -> Path:
    # Big-endian data (written by other tools) must keep its byte order in the Zarr dtype,
    # since the chunks are referenced, not converted.
    path = tmp_path / "big_endian.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("i4", data=np.arange(3000, dtype=">i4"))
        f.create_dataset("f8", data=_rand(1500).astype(">f8"))
        f.create_dataset("u2_gzip", data=np.arange(4000, dtype=">u2"), chunks=(1000,), compression="gzip", shuffle=True)
        f.create_dataset("small", data=np.arange(5, dtype=">i2"))
        f.create_dataset("scalar", data=np.array(3.25, dtype=">f4"))
        f.attrs["be_attr"] = np.array([1, 2], dtype=">i4")
    return path


@pytest.fixture
def many_chunks_h5(tmp_path: Path) -> Path:
    # 5000 chunks: the chunk table comes from one chunk_iter pass and must stay complete;
    # lindi would switch to an external array link above 1000 chunks.
    path = tmp_path / "many_chunks.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("many", data=np.arange(20000, dtype="<i2"), chunks=(4,))
        f.create_dataset("grid", data=np.arange(100 * 100, dtype="<f4").reshape(100, 100), chunks=(2, 2))
    return path
