"""Dtype strings, ``_COMPOUND_DTYPE``, the json2 chunk layout, codecs and ``.zarray`` metadata.

Table-driven: each table pairs an input with the golden value LINDI stores (or the error and
message it raises). The json2 bytes are compared with numcodecs' own ``JSON`` codec configured
with :data:`JSON2_CONFIG`, which is what zarr 2 and lindi use to read them.
"""

from __future__ import annotations

import math
from typing import Any

import h5py
import numcodecs
import numpy as np
import pytest

from hdmf_lindi import Reference, ref_dtype, string_dtype
from hdmf_lindi.errors import MetadataError, UnsupportedError
from hdmf_lindi.format.codecs import JSON2_CONFIG, Pipeline, codec_from_compression, get_codec
from hdmf_lindi.format.dtypes import (
    compound_from_annotation,
    compound_to_annotation,
    is_reference_dtype,
    is_string_dtype,
    parse_zarr_dtype,
    zarr_dtype_string,
)
from hdmf_lindi.format.objects import decode_object_chunk, encode_object_chunk
from hdmf_lindi.format.zarr_v2 import ArrayMeta, chunk_key, decode_fill_value, encode_fill_value

# ------------------------------------------------------------------------------------- dtypes
ZARR_DTYPES = [
    ("i1", "|i1"), ("<u2", "<u2"), (">i4", ">i4"), ("<i8", "<i8"), ("<f2", "<f2"), (">f8", ">f8"),
    ("bool", "|b1"), ("S5", "|S5"), ("<U3", "<U3"),
    (string_dtype(), "|O"), (ref_dtype, "|O"), (np.dtype([("a", "i4"), ("b", "f8")]), "|O"),
]


@pytest.mark.parametrize(("dtype", "golden"), ZARR_DTYPES, ids=[g for _, g in ZARR_DTYPES[:9]] + ["str", "ref", "compound"])
def test_zarr_dtype_string(dtype: Any, golden: str) -> None:
    assert zarr_dtype_string(np.dtype(dtype)) == golden
    if golden != "|O":
        assert parse_zarr_dtype(golden) == np.dtype(dtype)


@pytest.mark.parametrize("dtype", ["c8", "M8[s]", "m8[s]", "V4"])
def test_unsupported_dataset_dtypes(dtype: str) -> None:
    with pytest.raises(UnsupportedError, match="are not supported by LINDI"):
        zarr_dtype_string(np.dtype(dtype))


@pytest.mark.parametrize(
    ("text", "match"),
    [(None, "must be a string"), ([["a", "<i4"]], "must be a string"), ("<q9", "Unknown dtype '<q9'")],
    ids=["null", "structured_list", "garbage"],
)
def test_parse_zarr_dtype_errors(text: Any, match: str) -> None:
    with pytest.raises(MetadataError, match=match):
        parse_zarr_dtype(text, where="x")


def test_reference_and_string_dtype_detection() -> None:
    assert is_reference_dtype(ref_dtype) and is_reference_dtype(h5py.ref_dtype)
    assert not is_reference_dtype(string_dtype()) and not is_reference_dtype(np.dtype("O"))
    assert is_string_dtype(string_dtype()) and is_string_dtype(h5py.string_dtype())
    assert is_string_dtype(string_dtype("ascii")) and not is_string_dtype(ref_dtype)


# ---------------------------------------------------------------------------- _COMPOUND_DTYPE
COMPOUNDS = [
    pytest.param([("x", "<i4"), ("y", "<f8")], [["x", "int32"], ["y", "float64"]], id="numeric"),
    pytest.param([("u", "<u8"), ("b", "?")], [["u", "uint64"], ["b", "bool"]], id="uint64_bool"),
    pytest.param([("s", "S5"), ("be", ">i2")], [["s", "|S5"], ["be", ">i2"]], id="bytes_big_endian"),
    pytest.param([("r", ref_dtype), ("t", string_dtype())], [["r", "<REFERENCE>"], ["t", "object"]], id="ref_str"),
]


@pytest.mark.parametrize(("fields", "golden"), COMPOUNDS)
def test_compound_annotation_round_trip(fields: list[tuple[str, Any]], golden: list[list[str]]) -> None:
    dtype = np.dtype(fields)
    assert compound_to_annotation(dtype) == golden
    back = compound_from_annotation(golden, where="/c")
    assert back == dtype
    for name in dtype.names or ():
        assert is_reference_dtype(back[name]) == is_reference_dtype(dtype[name])
        assert is_string_dtype(back[name]) == is_string_dtype(dtype[name])


def test_compound_from_h5py_reference_field() -> None:
    assert compound_to_annotation(np.dtype([("r", h5py.ref_dtype)])) == [["r", "<REFERENCE>"]]


@pytest.mark.parametrize(
    ("fields", "match"),
    [([("n", [("a", "i4")])], "nested compounds"), ([("s", "i4", (2,))], "sub-arrays")],
    ids=["nested", "subarray"],
)
def test_compound_to_annotation_rejects(fields: Any, match: str) -> None:
    with pytest.raises(UnsupportedError, match=match):
        compound_to_annotation(np.dtype(fields))


@pytest.mark.parametrize(
    ("annotation", "match"),
    [
        ([], "must be a non-empty list"),
        ({"x": "int32"}, "must be a non-empty list"),
        ([["x"]], r"expected \[name, type string\]"),
        ([["x", 3]], r"expected \[name, type string\]"),
        ([["x", "no-such-type"]], "unknown type 'no-such-type' for field 'x'"),
    ],
    ids=["empty", "dict", "short_entry", "non_string_type", "unknown_type"],
)
def test_compound_from_annotation_rejects(annotation: Any, match: str) -> None:
    with pytest.raises(MetadataError, match=match):
        compound_from_annotation(annotation, where="/c")


# ------------------------------------------------------------------------------ json2 chunks
def _objects(values: list[Any], shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr.reshape(shape)


JSON2_CHUNKS = [
    pytest.param(_objects(["a", "bb", "ccc"], (3,)), b'["a","bb","ccc","|O",[3]]', id="1d"),
    pytest.param(_objects(["a", "b", "c", "d"], (2, 2)), b'[["a","b"],["c","d"],"|O",[2,2]]', id="2d"),
    pytest.param(
        _objects(["é", "✓", "日本", "🎉", "", 'q"\\'], (2, 3)),
        b'[["\\u00e9","\\u2713","\\u65e5\\u672c"],["\\ud83c\\udf89","","q\\"\\\\"],"|O",[2,3]]',
        id="unicode",
    ),
    pytest.param(_objects(["x"] * 8, (2, 2, 2)), b'[[["x","x"],["x","x"]],[["x","x"],["x","x"]],"|O",[2,2,2]]', id="3d"),
]


@pytest.mark.parametrize(("chunk", "golden"), JSON2_CHUNKS)
def test_json2_chunk_bytes_equal_numcodecs(chunk: np.ndarray[Any, Any], golden: bytes) -> None:
    numcodecs_json = numcodecs.get_codec(JSON2_CONFIG)
    ours = encode_object_chunk(chunk)
    assert ours == golden
    assert ours == numcodecs_json.encode(chunk)
    np.testing.assert_array_equal(numcodecs_json.decode(ours), chunk)
    flat, shape = decode_object_chunk(ours)
    assert (flat, shape) == (chunk.reshape(-1).tolist(), chunk.shape)


def test_json2_references_and_compound_rows() -> None:
    ref = Reference("/g", object_id="g-id")
    refs = _objects([ref, Reference("/")], (2,))
    assert encode_object_chunk(refs) == (
        b'[{"_REFERENCE":{"object_id":"g-id","path":"/g","source":".","source_object_id":null}},'
        b'{"_REFERENCE":{"object_id":null,"path":"/","source":".","source_object_id":null}},"|O",[2]]'
    )
    rows = np.array([(1, 2.5, b"hi", ref)], dtype=[("i", "<i4"), ("f", "<f8"), ("s", "S2"), ("r", ref_dtype)])
    text = encode_object_chunk(rows)
    assert text.startswith(b'[[1,2.5,"hi",{"_REFERENCE":{"object_id":"g-id"')
    assert text.endswith(b'}}],"|O",[1]]')


@pytest.mark.parametrize(
    ("raw", "match"),
    [(b"not json", "is not valid JSON"), (b"[1]", "lacks the trailing dtype and shape"), (b'{"a":1}', "lacks")],
    ids=["garbage", "no_shape", "object"],
)
def test_json2_decode_errors(raw: bytes, match: str) -> None:
    with pytest.raises(MetadataError, match=match):
        decode_object_chunk(raw)


# ------------------------------------------------------------------------------------ codecs
CODECS = [
    pytest.param((None, None), None, id="none"),
    pytest.param(("gzip", None), numcodecs.GZip(level=4), id="gzip_default_level_4"),
    pytest.param(("gzip", 9), numcodecs.GZip(level=9), id="gzip_level"),
    pytest.param((3, None), numcodecs.GZip(level=3), id="int_is_gzip_level"),
    pytest.param(("zlib", None), numcodecs.Zlib(level=4), id="zlib"),
    pytest.param(("zlib", 1), numcodecs.Zlib(level=1), id="zlib_level"),
    pytest.param(("blosc", None), numcodecs.Blosc(), id="blosc"),
    pytest.param(("zstd", None), numcodecs.Zstd(level=3), id="zstd"),
    pytest.param(("zstd", 7), numcodecs.Zstd(level=7), id="zstd_level"),
    pytest.param(("lz4", None), numcodecs.LZ4(), id="lz4"),
]


@pytest.mark.parametrize(("args", "expected"), CODECS)
def test_codec_from_compression(args: tuple[Any, Any], expected: Any) -> None:
    codec = codec_from_compression(*args)
    assert (codec.get_config() if codec else None) == (expected.get_config() if expected else None)


def test_codec_instance_passes_through() -> None:
    codec = numcodecs.LZMA(preset=1)
    assert codec_from_compression(codec) is codec


@pytest.mark.parametrize("name", ["lzf", "szip", "gzip2", True])
def test_codec_from_compression_rejects(name: Any) -> None:
    with pytest.raises(UnsupportedError, match=f"Unknown compression {name!r}"):
        codec_from_compression(name)


@pytest.mark.parametrize(
    ("config", "exc", "match"),
    [
        ({"level": 1}, MetadataError, "needs a string 'id'"),
        ("zlib", MetadataError, "needs a string 'id'"),
        ({"id": "no-such-codec"}, UnsupportedError, "No numcodecs codec"),
    ],
    ids=["no_id", "not_object", "unknown_id"],
)
def test_get_codec_errors(config: Any, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        get_codec(config)


def test_pipeline_applies_filters_then_compressor() -> None:
    raw = np.arange(64, dtype="<i4").tobytes()
    pipeline = Pipeline({"id": "zlib", "level": 1}, [{"id": "shuffle", "elementsize": 4}])
    stored = pipeline.encode(raw)
    # any zlib stream will do (libdeflate's bytes may differ from zlib's); numcodecs must read it
    assert bytes(numcodecs.Shuffle(elementsize=4).decode(numcodecs.Zlib().decode(stored))) == raw
    assert bytes(pipeline.decode(stored)) == raw
    assert pipeline.has_codecs and not pipeline.is_object


def test_object_pipeline_keeps_only_byte_codecs() -> None:
    pipeline = Pipeline({"id": "zlib", "level": 1}, [dict(JSON2_CONFIG)])
    assert pipeline.is_object and [c.codec_id for c in pipeline.codecs] == ["zlib"]
    assert not Pipeline(None, [dict(JSON2_CONFIG)]).has_codecs
    with pytest.raises(MetadataError, match="'filters' of x must be a list or null"):
        Pipeline(None, {"id": "zlib"}, where=" of x")


# ---------------------------------------------------------------------------------- .zarray
VALID_ZARRAY: dict[str, Any] = {
    "zarr_format": 2, "shape": [40, 40], "chunks": [20, 20], "dtype": "<i4", "fill_value": -1,
    "order": "C", "compressor": None,
    "filters": [{"id": "shuffle", "elementsize": 4}, {"id": "zlib", "level": 5}],
}


def test_array_meta_parses_and_round_trips() -> None:
    meta = ArrayMeta.from_dict(VALID_ZARRAY, where="/a")
    assert (meta.shape, meta.chunks, meta.dtype, meta.fill_value) == ((40, 40), (20, 20), np.dtype("<i4"), -1)
    assert meta.grid == (2, 2)
    assert meta.to_dict() == VALID_ZARRAY
    assert ArrayMeta.from_dict({**VALID_ZARRAY, "shape": [41, 0]}, where="/a").grid == (3, 0)


ZARRAY_ERRORS = [
    pytest.param(None, ".zarray of /a must be an object", id="not_object"),
    pytest.param({"zarr_format": 3}, "has zarr_format 3; only Zarr v2", id="zarr_format_3"),
    pytest.param({"zarr_format": None}, "has zarr_format None", id="no_zarr_format"),
    pytest.param({"shape": None}, "'shape' of /a must be a list of non-negative integers, got None", id="missing_shape"),
    pytest.param({"shape": [4.0]}, "'shape' of /a must be a list of non-negative integers", id="float_shape"),
    pytest.param({"shape": [-1]}, "'shape' of /a must be a list of non-negative integers", id="negative_shape"),
    pytest.param({"chunks": [20]}, r"'chunks' \[20\] of /a must have one positive entry per dimension", id="chunks_length"),
    pytest.param({"chunks": [20, 0]}, "must have one positive entry per dimension", id="zero_chunk"),
    pytest.param({"chunks": "auto"}, "'chunks' of /a must be a list", id="chunks_not_list"),
    pytest.param({"order": "F"}, "uses order 'F'; only 'C' is supported", id="order_F"),
    pytest.param({"dtype": None}, "'dtype' of /a must be a string", id="missing_dtype"),
    pytest.param({"dtype": "<x4"}, "Unknown dtype '<x4'", id="bad_dtype"),
    pytest.param({"filters": {"id": "zlib"}}, "'filters' of /a must be a list or null", id="filters_not_list"),
    pytest.param({"compressor": {"level": 1}}, "needs a string 'id'", id="compressor_without_id"),
]


@pytest.mark.parametrize(("change", "match"), ZARRAY_ERRORS)
def test_array_meta_validation(change: dict[str, Any] | None, match: str) -> None:
    bad = None if change is None else {**VALID_ZARRAY, **change}
    with pytest.raises(MetadataError, match=match):
        ArrayMeta.from_dict(bad, where="/a")


def test_array_meta_unknown_codec() -> None:
    with pytest.raises(UnsupportedError, match="No numcodecs codec"):
        ArrayMeta.from_dict({**VALID_ZARRAY, "compressor": {"id": "lzf"}}, where="/a")


# ------------------------------------------------------------------------------ fill values
FILL_VALUES = [
    pytest.param("<f8", math.nan, "NaN", id="nan"),
    pytest.param("<f4", math.inf, "Infinity", id="inf"),
    pytest.param(">f8", -math.inf, "-Infinity", id="minus_inf"),
    pytest.param("<f8", 1.5, 1.5, id="float"),
    pytest.param("<f8", 0, 0.0, id="int_for_float"),
    pytest.param("<i4", -1, -1, id="int"),
    pytest.param("<u8", np.uint64(2**64 - 1), 2**64 - 1, id="uint64_max"),
    pytest.param("|b1", 1, True, id="bool"),
    pytest.param("|S3", b"ab", "YWI=", id="bytes_base64"),
    pytest.param("|S3", b"", "", id="empty_bytes"),
    pytest.param("|O", "ignored", 0, id="object"),
    pytest.param("<i4", None, None, id="none"),
]


@pytest.mark.parametrize(("dtype", "value", "golden"), FILL_VALUES)
def test_fill_value_encode(dtype: str, value: Any, golden: Any) -> None:
    encoded = encode_fill_value(value, np.dtype(dtype))
    assert encoded == golden and type(encoded) is type(golden)


@pytest.mark.parametrize(
    ("dtype", "stored", "expected"),
    [
        ("<f8", "NaN", math.nan), ("<f4", "Infinity", math.inf), ("<f8", "-Infinity", -math.inf),
        ("<f8", 2.5, 2.5), ("<i2", -7, -7), ("|S3", "YWI=", b"ab"), ("|S3", "", b""),
        ("|b1", False, False), ("<U2", "", ""), ("<i4", None, None),
    ],
    ids=["nan", "inf", "minus_inf", "float", "int", "bytes_base64", "empty_bytes", "bool", "unicode", "none"],
)
def test_fill_value_decode(dtype: str, stored: Any, expected: Any) -> None:
    value = decode_fill_value(stored, np.dtype(dtype))
    if isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(value)
    else:
        assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("index", "key"), [((), "0"), ((0,), "0"), ((12,), "12"), ((1, 0, 3), "1.0.3")], ids=["0d", "1d", "1d_big", "3d"]
)
def test_chunk_key(index: tuple[int, ...], key: str) -> None:
    assert chunk_key(index) == key
