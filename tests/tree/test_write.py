"""Writing datasets: setitem, compression, fill values, resize, scalars, strings, compounds, layout.

Matrices:

* ``test_setitem_persists`` -- container (json/tar/dir) x write (partial chunk, across chunks,
  stepped, broadcast scalar, broadcast row, list, nested list, index list next to an integer,
  boolean mask, single element, everything). Data are written in mode ``w``, the file is
  reopened in ``a`` and modified, then reopened in ``r``; every stage equals a numpy model that
  applies the same writes with h5py's (orthogonal) selection semantics.
* ``test_compression_round_trip`` -- container x compression (none, gzip with a level, zlib,
  blosc, zstd, a numcodecs codec instance, shuffle): the data round-trip, ``.compression`` /
  ``.compression_opts`` / ``.shuffle`` report the codec, and the stored chunk bytes really are
  that codec's output.
* ``test_stored_chunks_are_full_size`` -- container x dtype x compression: every stored chunk,
  edge chunks included, decodes to the full chunk shape (what keeps lindi's reader safe).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest

from hdmf_lindi import File, Reference, ref_dtype, string_dtype
from hdmf_lindi.errors import LindiWarning, UnsupportedError
from hdmf_lindi.format.codecs import JSON2_CONFIG
from hdmf_lindi.format.objects import decode_object_chunk
from hdmf_lindi.format.zarr_v2 import ArrayMeta
from hdmf_lindi.tree.create import LINDI_UNREADABLE_CODECS

KINDS = {"json": "f.lindi.json", "tar": "f.lindi.tar", "dir": "f.lindi.d"}


@pytest.fixture(params=list(KINDS))
def path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A not-yet-existing LINDI path of each container kind."""
    return tmp_path / KINDS[request.param]


def chunk_keys(f: File, name: str) -> list[str]:
    return sorted(k for k in f.container.refmap if k.startswith(name + "/") and "/." not in k)


# ------------------------------------------------------------------------------------ setitem
SHAPE, CHUNKS = (11, 7), (4, 3)

WRITES: dict[str, tuple[Any, Any]] = {
    "partial_chunk": ((slice(1, 3), slice(1, 2)), [[-1], [-2]]),
    "across_chunks": ((slice(2, 9), slice(1, 6)), np.arange(35).reshape(7, 5) * -1),
    "stepped": ((slice(None, None, 3), slice(1, None, 2)), -3),
    "broadcast_scalar": ((slice(5, None), Ellipsis), 7),
    "broadcast_row": ((slice(3, 6),), np.arange(100, 107)),
    "list": (0, [1, 2, 3, 4, 5, 6, 7]),
    "nested_list": ((slice(9, 11), slice(0, 2)), [[1, 2], [3, 4]]),
    "int_and_index_list": ((2, [0, 3, 6]), [-5, -6, -7]),
    "bool_mask": ((np.arange(11) % 2 == 0,), -9),
    "single_element": ((-1, -1), 99),
    "everything": (Ellipsis, np.arange(77).reshape(11, 7) * 2),
}


def model_set(model: np.ndarray[Any, Any], sel: Any, value: Any) -> None:
    """Apply a write to a numpy array with h5py's orthogonal selection semantics."""
    key = sel if isinstance(sel, tuple) else (sel,)
    if any(k is Ellipsis for k in key):
        i = next(i for i, k in enumerate(key) if k is Ellipsis)
        key = key[:i] + (slice(None),) * (model.ndim - len(key) + 1) + key[i + 1:]
    key = key + (slice(None),) * (model.ndim - len(key))
    idx = [np.arange(n)[k] for k, n in zip(key, model.shape, strict=True)]
    kept = tuple(len(i) for i in idx if np.ndim(i))
    full = tuple(len(np.atleast_1d(i)) for i in idx)
    model[np.ix_(*[np.atleast_1d(i) for i in idx])] = np.broadcast_to(value, kept).reshape(full)


@pytest.mark.parametrize("write", list(WRITES))
def test_setitem_persists(path: Path, write: str) -> None:
    sel, value = WRITES[write]
    initial = np.arange(77, dtype="i4").reshape(SHAPE)
    model = initial.copy()
    model_set(model, sel, value)
    assert not np.array_equal(model, initial)  # every write changes something
    with File(path, "w") as f:
        f.create_dataset("data", data=initial, chunks=CHUNKS)
    with File(path, "a") as f:
        np.testing.assert_array_equal(f["data"][...], initial)  # warm the chunk cache
        f["data"][sel] = value
        np.testing.assert_array_equal(f["data"][...], model)  # no stale cached chunk
    with File(path, "r") as f:
        np.testing.assert_array_equal(f["data"][...], model)
        assert f["data"].dtype == np.dtype("i4")


PARTIAL_WRITES = [
    pytest.param("f8", np.linspace(0, 1, 10), [-0.5, math.inf], id="float64"),
    pytest.param("bool", np.zeros(10, dtype=bool), [True, True], id="bool"),
    pytest.param("S5", np.array([b"abc"] * 10, dtype="S5"), [b"xy", b"hello"], id="S5"),
    pytest.param(string_dtype(), np.array(["a"] * 10, dtype=object), ["ü✓", "日本"], id="vlen_str"),
    pytest.param(">i4", np.arange(10, dtype=">i4"), [-7, 2**31 - 1], id="big_endian"),
]


@pytest.mark.parametrize(("dtype", "initial", "value"), PARTIAL_WRITES)
def test_partial_overwrite_by_dtype(path: Path, dtype: Any, initial: Any, value: list[Any]) -> None:
    model = initial.copy()
    model[3:5] = value
    with File(path, "w") as f:
        f.create_dataset("data", data=initial, chunks=(4,), dtype=dtype)
    with File(path, "a") as f:
        f["data"][3:5] = value
    with File(path, "r") as f:
        out = f["data"][...]
        assert out.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(out, model)


def test_write_of_wrong_shape_raises(tmp_path: Path) -> None:
    with File(tmp_path / "f.lindi.json", "w") as f:
        ds = f.create_dataset("data", shape=(10,), dtype="i4")
        with pytest.raises(ValueError, match="broadcast"):
            ds[0:3] = [1, 2]


# -------------------------------------------------------------------------------- compression
COMPRESSIONS: dict[str, tuple[dict[str, Any], str | None, Any, bool]] = {
    # name: (create_dataset keywords, .compression, .compression_opts, .shuffle)
    "none": ({}, None, None, False),
    "gzip_level_7": ({"compression": "gzip", "compression_opts": 7}, "gzip", 7, False),
    "gzip_int_level": ({"compression": 2}, "gzip", 2, False),
    "zlib": ({"compression": "zlib"}, "zlib", 4, False),
    "blosc": ({"compression": "blosc"}, "blosc", 5, False),
    "zstd": ({"compression": "zstd", "compression_opts": 5}, "zstd", 5, False),
    "codec_instance": ({"compressor": numcodecs.BZ2(level=3)}, "bz2", 3, False),
    "shuffle_gzip": ({"compression": "gzip", "shuffle": True}, "gzip", 4, True),
}


@pytest.mark.parametrize("name", list(COMPRESSIONS))
def test_compression_round_trip(path: Path, name: str) -> None:
    kwargs, compression, opts, shuffle = COMPRESSIONS[name]
    data = np.arange(600, dtype="<i4").reshape(30, 20) % 17
    with File(path, "w") as f:
        if compression in LINDI_UNREADABLE_CODECS:
            with pytest.warns(LindiWarning, match=f"{compression!r} cannot be read by lindi 0.4.6"):
                f.create_dataset("data", data=data, chunks=(16, 16), **kwargs)
        else:
            f.create_dataset("data", data=data, chunks=(16, 16), **kwargs)
    with File(path, "r") as f:
        ds = f["data"]
        np.testing.assert_array_equal(ds[...], data)
        assert (ds.compression, ds.compression_opts, ds.shuffle) == (compression, opts, shuffle)
        zarray = f.container.refmap.get_json("data/.zarray")
        assert (zarray["compressor"] or {}).get("id") == compression
        assert zarray["filters"] == ([{"id": "shuffle", "elementsize": 4}] if shuffle else None)
        # the stored bytes are the codec's output: decoding them by hand gives the chunk back
        raw = f.container.read("data/0.0")
        assert raw is not None
        if compression is not None:
            raw = numcodecs.get_codec(zarray["compressor"]).decode(raw)
            assert len(f.container.read("data/0.0") or b"") < 16 * 16 * 4
        if shuffle:
            raw = numcodecs.Shuffle(elementsize=4).decode(raw)
        np.testing.assert_array_equal(np.frombuffer(bytes(raw), dtype="<i4").reshape(16, 16), data[:16, :16])


def test_unknown_compression_raises(tmp_path: Path) -> None:
    with File(tmp_path / "f.lindi.json", "w") as f:
        with pytest.raises(UnsupportedError, match="Unknown compression 'lzf'"):
            f.create_dataset("data", data=[1, 2], compression="lzf")
        assert "data" not in f  # nothing half-created


# ------------------------------------------------------------------ fill values, no-data create
FILLS = [
    pytest.param("f8", math.nan, "NaN", id="nan"),
    pytest.param("f4", -math.inf, "-Infinity", id="minus_inf"),
    pytest.param("i2", -1, -1, id="int"),
    pytest.param("u1", 255, 255, id="uint8_max"),
    pytest.param("bool", True, True, id="bool"),
    pytest.param("S3", b"zz", "eno=", id="bytes_base64"),
]


@pytest.mark.parametrize(("dtype", "fill", "stored_fill"), FILLS)
def test_fillvalue_for_unwritten_chunks(path: Path, dtype: str, fill: Any, stored_fill: Any) -> None:
    first = np.array([b"ab" if dtype == "S3" else 0], dtype=dtype)[0]
    model = np.full(10, fill, dtype=dtype)
    model[5] = first
    with File(path, "w") as f:
        ds = f.create_dataset("data", shape=(10,), dtype=dtype, chunks=(4,), fillvalue=fill)
        ds[5] = first
    with File(path, "r") as f:
        assert chunk_keys(f, "data") == ["data/1"]  # chunks 0 and 2 were never written
        assert f.container.refmap.get_json("data/.zarray")["fill_value"] == stored_fill
        np.testing.assert_array_equal(f["data"][...], model)
        fv = f["data"].fillvalue
        assert (math.isnan(fv) and math.isnan(fill)) if dtype == "f8" else fv == fill


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [(None, np.zeros(6, dtype="f4")), ("i2", np.zeros(6, dtype="i2")), (str, np.array([""] * 6, dtype=object))],
    ids=["default_float32", "int16", "vlen_str"],
)
def test_create_without_data_gives_fill(path: Path, dtype: Any, expected: np.ndarray[Any, Any]) -> None:
    with File(path, "w") as f:
        f.create_dataset("data", shape=(2, 3), dtype=dtype)
    with File(path, "r") as f:
        out = f["data"][...]
        assert out.shape == (2, 3)
        assert out.dtype == expected.dtype
        assert chunk_keys(f, "data") == []
    np.testing.assert_array_equal(out, expected.reshape(2, 3))  # h5py reads unwritten strings as ""


def test_unwritten_strings_and_references_read_like_h5py(path: Path) -> None:
    with File(path, "w") as f:
        f.create_dataset("s", shape=(5,), dtype=string_dtype(), chunks=(2,))[0] = "x"
        refs = f.create_dataset("r", shape=(3,), dtype=ref_dtype, chunks=(2,))
        assert refs.dtype == ref_dtype  # known before any chunk holds a reference
        refs[2] = f.ref  # chunk 0 stays unwritten
        f.create_dataset("late", shape=(3000,), dtype=ref_dtype, chunks=(3000,))[-1] = f.ref
    with File(path, "r") as f:
        assert f["s"][...].tolist() == ["x", "", "", "", ""]
        assert f["r"].dtype == ref_dtype and f["late"].dtype == ref_dtype
        assert f["r"][...].tolist() == [None, None, Reference("/")]
        assert f["late"][0] is None and f["late"][-1] == Reference("/")


# ----------------------------------------------------------------------------------- resize
def test_resize_grow_and_shrink(path: Path) -> None:
    with File(path, "w") as f:
        f.create_dataset("data", data=np.arange(10), chunks=(4,), fillvalue=-1)
    with File(path, "a") as f:
        ds = f["data"]
        ds.resize((15,))
        assert ds.shape == (15,)
        np.testing.assert_array_equal(ds[...], np.r_[np.arange(10), [-1] * 5])
        ds.resize(3, axis=0)
        assert chunk_keys(f, "data") == ["data/0"]  # chunks past the new end are dropped
        np.testing.assert_array_equal(ds[...], [0, 1, 2])
        ds.resize((8,))  # the values cut off by the shrink do not come back
        np.testing.assert_array_equal(ds[...], [0, 1, 2, -1, -1, -1, -1, -1])
    with File(path, "r") as f:
        np.testing.assert_array_equal(f["data"][...], [0, 1, 2, -1, -1, -1, -1, -1])
        assert f.container.refmap.get_json("data/.zarray")["shape"] == [8]


def test_resize_2d_along_one_axis(path: Path) -> None:
    data = np.arange(30).reshape(5, 6)
    with File(path, "w") as f:
        ds = f.create_dataset("data", data=data, chunks=(2, 4))
        ds.resize(2, axis=1)
        ds.resize(7, axis=0)
        ds.resize(5, axis=1)
        expected = np.zeros((7, 5), dtype=data.dtype)
        expected[:5, :2] = data[:, :2]
        np.testing.assert_array_equal(ds[...], expected)
        with pytest.raises(TypeError, match="must have 2 dimensions"):
            ds.resize((3,))


# --------------------------------------------------------------------------------- scalars
SCALARS = [
    pytest.param(5, np.int64, "<i8", id="int"),
    pytest.param(2.5, np.float64, "<f8", id="float"),
    pytest.param(np.float32(1.5), np.float32, "<f4", id="float32"),
    pytest.param(True, np.bool_, "|b1", id="bool"),
    pytest.param("héllo ✓", str, "|O", id="str"),
    pytest.param(b"xy", np.bytes_, "|S2", id="bytes"),
]


@pytest.mark.parametrize(("value", "type_", "zdtype"), SCALARS)
def test_scalar_dataset(path: Path, value: Any, type_: type, zdtype: str) -> None:
    with File(path, "w") as f:
        f.create_dataset("s", data=value)
    with File(path, "r") as f:
        ds = f["s"]
        assert ds.shape == ()
        assert ds.ndim == 0 and ds.size == 1 and ds.chunks is None
        assert type(ds[()]) is type_ and ds[()] == value
        assert ds[...].shape == () and ds[...][()] == value
        assert f.container.refmap.get_json("s/.zarray")["shape"] == [1]
        assert f.container.refmap.get_json("s/.zarray")["dtype"] == zdtype
        assert f.container.refmap.get_json("s/.zattrs") == {"_SCALAR": True}
        assert "_SCALAR" not in ds.attrs
        with pytest.raises(TypeError, match="len\\(\\) of a scalar"):
            len(ds)
        for sel in (0, slice(None), (0,)):
            with pytest.raises(ValueError, match="Illegal slicing argument .* scalar dataspace"):
                ds[sel]


def test_scalar_overwrite(path: Path) -> None:
    with File(path, "w") as f:
        f.create_dataset("s", data=1.0)
    with File(path, "a") as f:
        f["s"][()] = 4.0
        with pytest.raises(ValueError, match="scalar dataspace"):
            f["s"][0] = 3.0
    with File(path, "r") as f:
        assert f["s"][()] == 4.0


# ---------------------------------------------------------------------------- empty datasets
@pytest.mark.parametrize(
    ("shape", "dtype", "chunks"),
    [((0,), "f8", [1]), ((0, 3), "i2", [1, 3]), ((0,), string_dtype(), [1])],
    ids=["1d", "2d", "vlen_str"],
)
def test_empty_dataset(path: Path, shape: tuple[int, ...], dtype: Any, chunks: list[int]) -> None:
    with File(path, "w") as f:
        f.create_dataset("e", shape=shape, dtype=dtype)
    with File(path, "r") as f:
        ds = f["e"]
        assert ds.shape == shape and len(ds) == 0
        out = ds[...]
        assert out.shape == shape and out.dtype == np.dtype(dtype)
        assert ds[0:5].shape == shape
        assert f.container.refmap.get_json("e/.zarray")["chunks"] == chunks
        assert chunk_keys(f, "e") == []


# ------------------------------------------------------------------------ strings and objects
def test_vlen_unicode_strings(path: Path) -> None:
    values = np.array(["", "plain", "çé✓", "日本語", "emoji 🎉", 'quote "x" \\ back'], dtype=object)
    with File(path, "w") as f:
        f.create_dataset("s", data=values, dtype=string_dtype(), chunks=(4,))
    with File(path, "r") as f:
        ds = f["s"]
        assert ds.dtype.metadata == {"vlen": str}
        np.testing.assert_array_equal(ds[...], values)
        assert ds[3] == "日本語" and type(ds[3]) is str
        zarray = f.container.refmap.get_json("s/.zarray")
        assert zarray["dtype"] == "|O" and zarray["filters"] == [JSON2_CONFIG]
        assert (f.container.read("s/0") or b"").isascii()  # ensure_ascii, as lindi writes


def test_numpy_unicode_array_is_stored_as_vlen_str(path: Path) -> None:
    values = np.array([["ab", "çé✓"], ["x", ""]])
    assert values.dtype.kind == "U"
    with File(path, "w") as f:
        f.create_dataset("u", data=values)
    with File(path, "r") as f:
        assert f.container.refmap.get_json("u/.zarray")["dtype"] == "|O"
        assert f["u"].dtype == string_dtype()
        out = f["u"][...]
        assert out.dtype.kind == "O"
        np.testing.assert_array_equal(out, values.astype(object))


def test_reference_dataset(path: Path) -> None:
    with File(path, "w") as f:
        f.attrs["object_id"] = "root-id"
        g = f.create_group("g")
        g.attrs["object_id"] = "g-id"
        target = f.create_dataset("x", data=[1, 2, 3])
        f.create_dataset("refs", data=[g.ref, target.ref, f.ref])
    with File(path, "r") as f:
        ds = f["refs"]
        assert ds.dtype == ref_dtype and ds.dtype.metadata == {"ref": Reference}
        refs = ds[...]
        assert [r.path for r in refs] == ["/g", "/x", "/"]
        assert refs[0] == Reference("/g", object_id="g-id", source_object_id="root-id")
        assert f[ds[1]].name == "/x"
        np.testing.assert_array_equal(f[refs[1]][...], [1, 2, 3])


COMPOUND = np.dtype([("i", "<i4"), ("f", "<f8"), ("b", "S5"), ("r", ref_dtype), ("s", string_dtype())])


def test_compound_dataset(path: Path) -> None:
    with File(path, "w") as f:
        g = f.create_group("g")
        rows = np.array(
            [(1, 2.5, b"ab", g.ref, "hé"), (-3, math.nan, b"hello", f.ref, ""), (7, -0.0, b"", g.ref, "✓")],
            dtype=COMPOUND,
        )
        f.create_dataset("c", data=rows)
    with File(path, "r") as f:
        ds = f["c"]
        assert ds.dtype.names == ("i", "f", "b", "r", "s")
        assert f.container.refmap.get_json("c/.zattrs")["_COMPOUND_DTYPE"] == [
            ["i", "int32"], ["f", "float64"], ["b", "|S5"], ["r", "<REFERENCE>"], ["s", "object"],
        ]
        np.testing.assert_array_equal(ds["i"], [1, -3, 7])
        np.testing.assert_array_equal(ds["f"], [2.5, math.nan, -0.0])
        np.testing.assert_array_equal(ds["b"], [b"ab", b"hello", b""])
        assert [r.path for r in ds["r"]] == ["/g", "/", "/g"]
        assert list(ds["s"]) == ["hé", "", "✓"]
        row = ds[0]
        assert (row["i"], row["b"], row["s"]) == (1, b"ab", "hé")
        assert ds[1:][["i", "s"]].tolist() == [(-3, ""), (7, "✓")]


# ------------------------------------------------------------------------------- chunk layout
def test_chunk_keys_and_inline_or_blob(path: Path) -> None:
    data = np.arange(11 * 70, dtype="<f8").reshape(11, 70)  # chunks of 4*35*8 = 1120 bytes
    small = np.arange(6, dtype="<i2")
    with File(path, "w") as f:
        f.create_dataset("data", data=data, chunks=(4, 35))
        f.create_dataset("small", data=small, chunks=(4,))
    with File(path, "r") as f:
        refmap = f.container.refmap
        assert refmap.get_json("data/.zarray")["chunks"] == [4, 35]
        assert chunk_keys(f, "data") == [f"data/{i}.{j}" for i in range(3) for j in range(2)]
        for key in chunk_keys(f, "data"):
            raw = refmap.raw(key)
            if path.name.endswith(".json"):
                assert isinstance(raw, str)
            else:
                assert raw == ["./blobs/" + key, 0, 1120]
        assert all(isinstance(refmap.raw(k), str) for k in chunk_keys(f, "small"))  # < 1000 bytes


FULL_SIZE_CASES = [
    pytest.param(np.arange(23, dtype="<i4"), {}, id="int32"),
    pytest.param(np.linspace(0, 1, 23).astype(">f8"), {"compression": "gzip"}, id="big_endian_gzip"),
    pytest.param(np.arange(23) % 2 == 0, {"compression": "blosc"}, id="bool_blosc"),
    pytest.param(np.array([b"abc"] * 23, dtype="S3"), {"shuffle": True}, id="S3_shuffle"),
    pytest.param(np.array([f"s{i}" for i in range(23)], dtype=object), {}, id="vlen_str"),
]


@pytest.mark.parametrize(("data", "kwargs"), FULL_SIZE_CASES)
@pytest.mark.parametrize(("shape", "chunks"), [((23,), (5,)), ((23,), (23,))], ids=["edge", "single"])
def test_stored_chunks_are_full_size(
    path: Path, data: np.ndarray[Any, Any], kwargs: dict[str, Any], shape: tuple[int, ...], chunks: tuple[int, ...]
) -> None:
    with File(path, "w") as f:
        ds = f.create_dataset("data", data=data, chunks=chunks, **kwargs)
        ds[21] = data[0]  # a partial write of the edge chunk keeps it full size too
    with File(path, "r") as f:
        meta = ArrayMeta.from_dict(f.container.refmap.get_json("data/.zarray"), where="test")
        keys = chunk_keys(f, "data")
        assert len(keys) == math.ceil(shape[0] / chunks[0])
        for key in keys:
            raw = meta.pipeline.decode(f.container.read(key) or b"")
            if meta.pipeline.is_object:
                flat, chunk_shape = decode_object_chunk(raw)
                assert (len(flat), chunk_shape) == (chunks[0], chunks)
            else:
                assert len(bytes(raw)) == chunks[0] * data.dtype.itemsize
        expected = data.copy()
        expected[21] = data[0]
        np.testing.assert_array_equal(f["data"][...], expected)

