"""``compare.tree_problems`` is strict: each deliberate corruption of an index is reported.

Each case indexes an edge-case file, damages one thing in the in-memory reference map (a value,
a dtype, an attribute, a link, a reference, a member) and expects a problem naming it. Without
these, a comparison that silently accepted everything would make the whole matrix pass.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from compare import assert_same_tree, tree_problems

from hdmf_lindi import File, index_hdf5
from hdmf_lindi.format.objects import decode_object_chunk, encode_object_chunk
from hdmf_lindi.storage.refmap import ReferenceMap


def _set_attr(key: str, name: str, value: Any) -> Callable[[ReferenceMap], None]:
    def mutate(refmap: ReferenceMap) -> None:
        zattrs = dict(refmap.get_json(key))
        if value is _DELETE:
            del zattrs[name]
        else:
            zattrs[name] = value
        refmap.set_json(key, zattrs)

    return mutate


def _set_zarray(key: str, **changes: Any) -> Callable[[ReferenceMap], None]:
    def mutate(refmap: ReferenceMap) -> None:
        refmap.set_json(key, {**refmap.get_json(key), **changes})

    return mutate


def _shift_ref(key: str, by: int) -> Callable[[ReferenceMap], None]:
    def mutate(refmap: ReferenceMap) -> None:
        url, offset, length = refmap.raw(key)
        refmap.set_range(key, url, offset + by, length)

    return mutate


def _edit_objects(key: str, edit: Callable[[list[Any]], None]) -> Callable[[ReferenceMap], None]:
    def mutate(refmap: ReferenceMap) -> None:
        flat, shape = decode_object_chunk(refmap.get(key))
        edit(flat)
        values = np.empty(len(flat), dtype=object)
        values[:] = flat
        refmap.set_bytes(key, encode_object_chunk(values.reshape(shape)))

    return mutate


def _delete_node(path: str) -> Callable[[ReferenceMap], None]:
    def mutate(refmap: ReferenceMap) -> None:
        for key in [k for k in refmap.keys() if k.startswith(path + "/")]:
            refmap.delete(key)

    return mutate


def _set_width(node: str, name: str, tag: Any) -> Callable[[ReferenceMap], None]:
    """Change (or, with _DELETE, drop) the recorded dtype of one attribute (hdmf_lindi key)."""

    def mutate(refmap: ReferenceMap) -> None:
        table = refmap.extra["hdmf_lindi"]["attributeDtypes"][node]
        if tag is _DELETE:
            del table[name]
        else:
            table[name] = tag

    return mutate


_DELETE = object()
_OTHER_REF = {"_REFERENCE": {"object_id": "g-oid", "path": "/g", "source": ".", "source_object_id": "root-oid"}}

CASES: dict[str, tuple[str, Callable[[ReferenceMap], None], str]] = {
    "chunk_bytes_shifted": ("contiguous_h5", _shift_ref("f8/0", 8), "/f8: values differ"),
    "member_missing": ("contiguous_h5", _delete_node("small"), "members missing ['small']"),
    "dtype_changed": ("scalar_h5", _set_zarray("i2/.zarray", dtype="<u2"), "/i2: dtype <u2 != h5py's <i2"),
    "byte_order_changed": ("big_endian_h5", _set_zarray("small/.zarray", dtype="<i2"), "/small: dtype <i2 != h5py's >i2"),
    "shape_changed": ("contiguous_h5", _set_zarray("f8/.zarray", shape=[1999]), "/f8: shape (1999,)"),
    "attr_missing": ("attrs_h5", _set_attr(".zattrs", "i8_max", _DELETE), "missing ['i8_max']"),
    "attr_int_value": ("attrs_h5", _set_attr("g/.zattrs", "u8_max", 2**64 - 2), "/g attr 'u8_max'"),
    "attr_nan_to_zero": ("attrs_h5", _set_attr(".zattrs", "nan", 0.0), "attr 'nan'"),
    "attr_float_as_int": ("attrs_h5", _set_attr(".zattrs", "f4", 0), "attr 'f4'"),
    "attr_width_dropped": ("attrs_h5", _set_width("/", "f4", _DELETE), "attr 'f4': dtype <f8 != h5py's <f4"),
    "attr_int_width_dropped": ("attrs_h5", _set_width("/g", "i2_arr", _DELETE), "attr 'i2_arr': dtype <i8 != h5py's <i2"),
    "attr_float_array_narrowed": ("attrs_h5", _set_width("/ds", "f4_arr", "<f2"), "attr 'f4_arr': dtype <f2 != h5py's <f4"),
    "attr_uint_as_int": ("attrs_h5", _set_width("/", "u4_arr", "<i4"), "attr 'u4_arr': dtype <i4 != h5py's <u4"),
    "attr_bools_as_ints": ("attrs_h5", _set_attr("ds/.zattrs", "bool_arr", [1, 0, 1]), "attr 'bool_arr'"),
    "attr_text": ("attrs_h5", _set_attr(".zattrs", "str", "hello"), "attr 'str'"),
    "attr_array_item": ("attrs_h5", _set_attr(".zattrs", "vlen_str_arr", ["a", "e", ""]), "attr 'vlen_str_arr'"),
    "attr_extra": ("attrs_h5", _set_attr("g/.zattrs", "bonus", 1), "extra ['bonus']"),
    "attr_ref_target": ("references_h5", _set_attr(".zattrs", "ref_to_data", _OTHER_REF), "attr 'ref_to_data'"),
    "string_element": ("strings_h5", _edit_objects("vlen_utf8/0", lambda v: v.__setitem__(2, "hello")), "/vlen_utf8: string element 2"),
    "ref_element": ("references_h5", _edit_objects("refs/0", lambda v: v.__setitem__(1, _OTHER_REF)), "/refs element 1"),
    "compound_field": ("compound_with_ref_h5", _edit_objects("table/0", lambda v: v[0].__setitem__(1, 2.75)), "/table field 'y'"),
    "soft_link_path": ("soft_link_h5", _set_attr("to_group/.zattrs", "_SOFT_LINK", {"path": "/grp"}), "/to_group: soft link"),
    "external_link_file": (
        "external_link_h5",
        _set_attr("ext_dataset/.zattrs", "_EXTERNAL_LINK", ["x.h5", "/data"]),
        "/ext_dataset: external link",
    ),
    "empty_attr_without_note": ("attrs_h5", lambda refmap: refmap.generation_metadata.pop("notes"), "attr 'empty'"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_corruption_is_reported(request: pytest.FixtureRequest, name: str) -> None:
    case, mutate, expected = CASES[name]
    h5 = Path(request.getfixturevalue(case))
    refmap = index_hdf5(h5)
    mutate(refmap)
    with File(refmap) as f:
        problems = tree_problems(h5, f)
        assert any(expected in p for p in problems), problems
        with pytest.raises(AssertionError, match="differences between"):
            assert_same_tree(h5, f)
