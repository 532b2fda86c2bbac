"""``hdf5.lowlevel.TypeCache.read_attr``: its ctypes reader reads what its h5py reader reads.

One file with an attribute of every kind the indexer meets (scalars and arrays of each numeric
dtype and byte order, bools and enums, variable-length strings in both encodings, undecodable
bytes, fixed-length strings, null dataspaces, empty arrays, references, compounds), on a group
and on a dataset. Every attribute is read twice by each reader (the second read of a type goes
through the cached paths) and must give the same value, type and dtype; scalars also those of h5py's ``attrs``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from hdmf_lindi.hdf5.lowlevel import _MISS, SLOW, TypeCache

NUMERIC = ["<i1", "<u1", "<i2", ">i2", "<u2", "<i4", ">u4", "<i8", "<u8", "<f2", "<f4", ">f4", "<f8", ">f8"]


def _fill(obj: h5py.Group | h5py.Dataset, ref: Any) -> None:
    attrs = obj.attrs
    for code in NUMERIC:
        attrs[f"scalar{code}"] = np.array(7, dtype=code)[()]
        attrs[f"array{code}"] = np.arange(3, dtype=code)
        attrs[f"one{code}"] = np.ones(1, dtype=code)
    attrs["nan"] = np.nan
    attrs["inf"] = -np.inf
    attrs["bool"] = True
    attrs["bools"] = np.array([True, False])
    attrs.create("enum", 2, dtype=h5py.enum_dtype({"a": 1, "b": 2}, basetype="i1"))
    attrs["utf8"] = "héllo"
    attrs["empty_text"] = ""
    attrs["NaN_text"] = "NaN"
    attrs.create("ascii", "plain", dtype=h5py.string_dtype("ascii"))
    attrs.create("undecodable", b"\xff\xfe", dtype=h5py.string_dtype("ascii"))
    attrs.create("undecodable_utf8", b"a\xffb", dtype=h5py.string_dtype("utf-8"))
    attrs["strings"] = ["a", "bé"]
    attrs["fixed"] = np.bytes_(b"fixed")
    attrs["fixed_array"] = np.array([b"ab", b"c"], dtype="S2")
    attrs["null"] = h5py.Empty("f8")
    attrs["null_text"] = h5py.Empty(h5py.string_dtype())
    attrs["zero_length"] = np.zeros((0,), dtype="<i4")
    attrs["matrix"] = np.arange(6.0).reshape(2, 3)
    attrs["ref"] = ref
    attrs["compound"] = np.array((1, 2.5), dtype=[("a", "<i4"), ("b", "<f8")])


@pytest.fixture
def attributes_h5(tmp_path: Path) -> Path:
    path = tmp_path / "attributes.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("data", data=np.arange(4))
        _fill(f.create_group("group"), ds.ref)
        _fill(ds, ds.ref)
    return path


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b) or getattr(a, "dtype", None) != getattr(b, "dtype", None):
        return False
    if isinstance(a, h5py.Empty):
        return True
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    return bool(a == b) or bool(a != a and b != b)  # NaN equals NaN here


@pytest.mark.parametrize("where", ["group", "data"])
def test_ctypes_reader_reads_like_h5py(attributes_h5: Path, where: str) -> None:
    fast, plain = TypeCache(), TypeCache(fast=False)
    if not fast.uses_ctypes:
        pytest.skip("h5py's libhdf5 cannot be bound with ctypes here")
    with h5py.File(attributes_h5, "r") as f:
        obj = f[where]
        names = list(obj.attrs)
        assert len(names) > 50
        for _ in range(2):
            for name in names:
                raw = name.encode()
                got, expected = fast.read_attr(obj.id, raw), plain.read_attr(obj.id, raw)
                assert _same(got, expected), (name, got, expected)
                if got is not SLOW and not isinstance(got, np.ndarray):  # the scalars ctypes reads
                    reference = obj.attrs[name]
                    if isinstance(reference, bytes):  # h5py leaves undecodable scalar strings as bytes
                        reference = reference.decode("utf-8", errors="surrogateescape")
                    assert _same(got, reference), (name, got, reference)
        # the second round read these through ctypes, not through the fallback
        for name in ["scalar<f8", "scalar>i2", "bool", "enum", "utf8", "ascii", "undecodable", "empty_text"]:
            assert fast._read_scalar(obj.id.id, name.encode()) is not _MISS, name


def test_ctypes_reader_misses_fall_back(attributes_h5: Path) -> None:
    """A missing attribute raises h5py's error, not a ctypes one."""
    with h5py.File(attributes_h5, "r") as f:
        with pytest.raises(KeyError):
            TypeCache().read_attr(f["group"].id, b"no such attribute")
