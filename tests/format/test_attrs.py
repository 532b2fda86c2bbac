"""Attribute values <-> the JSON stored in ``.zattrs`` (lindi-format.md §5.1), table-driven.

Three tables: Python/numpy value -> golden JSON (encode), golden JSON -> value with its exact
type and dtype (decode), and the inputs each direction rejects, with the message.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from hdmf_lindi import Reference
from hdmf_lindi.errors import MetadataError, UnsupportedError
from hdmf_lindi.format.attrs import ANNOTATION_KEYS, decode_attr, encode_attr

REF = Reference("/g/x", object_id="x-id", source_object_id="root-id")
REF_JSON = {"_REFERENCE": {"object_id": "x-id", "path": "/g/x", "source": ".", "source_object_id": "root-id"}}

ENCODE = [
    pytest.param("héllo", "héllo", id="str"),
    pytest.param(np.str_("np"), "np", id="numpy_str"),
    pytest.param(b"bytes", "bytes", id="bytes"),
    pytest.param("é".encode(), "é", id="utf8_bytes"),
    pytest.param(3, 3, id="int"),
    pytest.param(np.int8(-3), -3, id="int8"),
    pytest.param(np.uint64(2**64 - 1), 2**64 - 1, id="uint64_max"),
    pytest.param(1.25, 1.25, id="float"),
    pytest.param(np.float32(0.5), 0.5, id="float32"),
    pytest.param(math.nan, "NaN", id="nan"),
    pytest.param(np.float32(math.inf), "Infinity", id="inf"),
    pytest.param(-math.inf, "-Infinity", id="minus_inf"),
    pytest.param(True, True, id="bool"),
    pytest.param(np.bool_(False), False, id="numpy_bool"),
    pytest.param(np.array(5), 5, id="0d_array"),
    pytest.param(np.array([1, -2], dtype="i2"), [1, -2], id="int16_array"),
    pytest.param(np.array([[1.5, math.nan], [-math.inf, 0.0]]), [[1.5, "NaN"], ["-Infinity", 0.0]], id="2d_nan"),
    pytest.param(np.array([True, False]), [True, False], id="bool_array"),
    pytest.param(np.array(["a", "bé"]), ["a", "bé"], id="unicode_array"),
    pytest.param(np.array([b"a", b"bc"], dtype="S2"), ["a", "bc"], id="bytes_array"),
    pytest.param(np.array(["x", "y"], dtype=object), ["x", "y"], id="object_str_array"),
    pytest.param(np.array([], dtype="f8"), [], id="empty"),
    pytest.param([1, 2, 3], [1, 2, 3], id="int_list"),
    pytest.param([1.0, 2], [1.0, 2.0], id="int_float_list"),
    pytest.param([[True], [False]], [[True], [False]], id="nested_bool_list"),
    pytest.param(["NaN", "x"], ["NaN", "x"], id="nan_inside_string_list"),
    pytest.param(REF, REF_JSON, id="reference"),
]


@pytest.mark.parametrize(("value", "golden"), ENCODE)
def test_encode(value: Any, golden: Any) -> None:
    encoded = encode_attr(value, "a")
    assert encoded == golden
    assert type(encoded) is type(golden)
    # strict JSON: never a bare NaN/Infinity token; the document survives a round trip
    assert json.loads(json.dumps(encoded, allow_nan=False)) == golden


DECODE = [
    pytest.param("abc", "abc", id="str"),
    pytest.param(3, np.int64(3), id="int"),
    pytest.param(2**63, np.uint64(2**63), id="uint64"),
    pytest.param(-(2**63), np.int64(-(2**63)), id="int64_min"),
    pytest.param(1.5, np.float64(1.5), id="float"),
    pytest.param("NaN", np.float64(math.nan), id="nan"),
    pytest.param("Infinity", np.float64(math.inf), id="inf"),
    pytest.param("-Infinity", np.float64(-math.inf), id="minus_inf"),
    pytest.param(False, np.False_, id="bool"),
    pytest.param([1, 2], np.array([1, 2], dtype="i8"), id="int_list"),
    pytest.param([1, 2**64 - 1], np.array([1, 2**64 - 1], dtype="u8"), id="uint64_list"),
    pytest.param([1, 2.5], np.array([1.0, 2.5]), id="number_list"),
    pytest.param([1.0, "NaN", "-Infinity"], np.array([1.0, math.nan, -math.inf]), id="float_list_nan"),
    pytest.param(["NaN", "Infinity"], np.array([math.nan, math.inf]), id="only_nonfinite_strings"),
    pytest.param(["a", "bé"], np.array(["a", "bé"], dtype=object), id="str_list"),
    pytest.param([True, False], np.array([True, False]), id="bool_list"),
    pytest.param([], np.array([], dtype="f8"), id="empty_list"),
    pytest.param([[1, 2], [3, 4]], np.array([[1, 2], [3, 4]], dtype="i8"), id="2d"),
    pytest.param([[], []], np.zeros((2, 0)), id="2d_empty"),
    pytest.param(REF_JSON, REF, id="reference"),
]


@pytest.mark.parametrize(("stored", "expected"), DECODE)
def test_decode(stored: Any, expected: Any) -> None:
    value = decode_attr(stored, "a")
    assert type(value) is type(expected)
    if isinstance(expected, np.ndarray):
        assert value.dtype == expected.dtype and value.shape == expected.shape
    np.testing.assert_array_equal(value, expected)


@pytest.mark.parametrize(("value", "golden"), [p for p in ENCODE if p.id not in ("nan_inside_string_list",)])
def test_encode_then_decode_keeps_the_value(value: Any, golden: Any) -> None:
    back = decode_attr(json.loads(json.dumps(encode_attr(value))))
    if isinstance(value, bytes | np.bytes_):
        assert back == bytes(value).decode()
    elif isinstance(value, np.ndarray) and value.dtype.kind == "S":
        assert back.tolist() == [v.decode() for v in value.tolist()]
    else:
        np.testing.assert_array_equal(back, value)


ENCODE_ERRORS = [
    pytest.param(None, "type NoneType, which LINDI cannot store", id="none"),
    pytest.param(1j, "complex values are not supported", id="complex"),
    pytest.param(np.complex64(1), "complex values are not supported", id="numpy_complex"),
    pytest.param(np.ones(2, dtype="c8"), "dtype complex64; compound and complex", id="complex_array"),
    pytest.param(np.zeros(2, dtype=[("a", "i4")]), "compound and complex attributes", id="compound_array"),
    pytest.param({"a": 1}, "type dict", id="dict"),
    pytest.param({1, 2}, "type set", id="set"),
    pytest.param([1, "a"], "a list mixing types", id="int_and_str"),
    pytest.param([True, 1], "a list mixing types", id="bool_and_int"),
    pytest.param([[1, 2], ["a", "b"]], "a list mixing types", id="nested_mixed"),
    pytest.param([[1, 2], [3]], "ragged lists are not supported", id="ragged"),
    pytest.param([REF], "lists of references are not supported", id="reference_list"),
    pytest.param(np.array([1, None], dtype=object), "type NoneType", id="object_array_with_none"),
    pytest.param("NaN", "'NaN' is reserved for non-finite floats", id="nan_string"),
    pytest.param(np.str_("-Infinity"), "'-Infinity' is reserved", id="minus_inf_string"),
    pytest.param(b"\xff\xfe", "bytes that are not UTF-8", id="non_utf8"),
]


@pytest.mark.parametrize(("value", "match"), ENCODE_ERRORS)
def test_encode_rejects(value: Any, match: str) -> None:
    with pytest.raises(UnsupportedError, match=match):
        encode_attr(value, "bad")


DECODE_ERRORS = [
    pytest.param({"a": 1}, MetadataError, "holds a JSON dict", id="object"),
    pytest.param(None, MetadataError, "holds a JSON NoneType", id="null"),
    pytest.param([1, "a"], MetadataError, "a list mixing types", id="mixed_list"),
    pytest.param([1, {"a": 1}], MetadataError, "a list mixing types", id="number_and_object"),
    pytest.param([[1, 2], [3]], MetadataError, "ragged nested list", id="ragged"),
    pytest.param([["a"], "b"], MetadataError, "ragged nested list", id="ragged_depth"),
    pytest.param({"_REFERENCE": {"path": 3}}, MetadataError, "needs a string 'path'", id="reference_without_path"),
    pytest.param(
        {"_REFERENCE": {"path": "/x", "source": "other.h5"}}, UnsupportedError, "points into another file",
        id="reference_to_other_file",
    ),
]


@pytest.mark.parametrize(("stored", "exc", "match"), DECODE_ERRORS)
def test_decode_rejects(stored: Any, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        decode_attr(stored, "bad")


def test_reference_path_is_made_absolute() -> None:
    ref = decode_attr({"_REFERENCE": {"path": "g/x", "object_id": None, "source": ".", "source_object_id": None}})
    assert ref == Reference("/g/x")


def test_annotation_keys() -> None:
    assert ANNOTATION_KEYS == {"_SCALAR", "_SOFT_LINK", "_REFERENCE", "_COMPOUND_DTYPE", "_EXTERNAL_ARRAY_LINK", "_EXTERNAL_LINK"}
