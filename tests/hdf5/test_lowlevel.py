"""``hdf5.lowlevel.TypeCache.read_attr``: its ctypes reader reads what its h5py reader reads.

One file with an attribute of every kind the indexer meets (scalars and arrays of each numeric
dtype and byte order, bools and enums, variable-length strings in both encodings, undecodable
bytes, fixed-length strings, null dataspaces, empty arrays, references, compounds), on a group
and on a dataset. Every attribute is read twice by each reader (the second read of a type goes
through the cached paths) and must give the same value, type and dtype as the other reader and
as h5py's own ``attrs`` (two documented differences aside, see ``_h5py_attr``).
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


def _h5py_attr(obj: Any, name: str) -> Any:
    """h5py's own ``attrs[name]``, with the two documented differences of ``read_attr`` undone:
    undecodable scalar text comes back as ``str`` (surrogate escapes), and the elements of
    variable-length string arrays as the stored ``bytes`` (the indexer decodes them)."""
    value = obj.attrs[name]
    if isinstance(value, bytes) and h5py.check_string_dtype(obj.attrs.get_id(name).dtype):
        return value.decode("utf-8", errors="surrogateescape")
    if isinstance(value, np.ndarray) and value.dtype.kind == "O" and h5py.check_string_dtype(value.dtype):
        out = np.empty(value.shape, dtype=object)
        out[...] = [v.encode("utf-8", errors="surrogateescape") if isinstance(v, str) else v for v in value.flat]
        return out.reshape(value.shape)
    return value


# What read_attr leaves to the indexer's h5py path (SLOW): fixed-length text, compounds, references.
SLOW_ATTRS = {"fixed", "fixed_array", "compound", "ref"}


@pytest.mark.parametrize("where", ["group", "data"])
def test_ctypes_reader_reads_like_h5py(attributes_h5: Path, where: str) -> None:
    fast, plain = TypeCache(), TypeCache(fast=False)
    assert fast.uses_ctypes, "h5py's libhdf5 cannot be bound with ctypes: the indexer's fast path is off"
    with h5py.File(attributes_h5, "r") as f:
        obj = f[where]
        names = list(obj.attrs)
        assert len(names) > 50
        for _ in range(2):
            for name in names:
                raw = name.encode()
                got, expected = fast.read_attr(obj.id, raw), plain.read_attr(obj.id, raw)
                assert _same(got, expected), (name, got, expected)
                if got is SLOW:
                    assert name in SLOW_ATTRS, name
                    continue
                # h5py's own reading, not ours: same type, dtype (width and byte order), value
                reference = _h5py_attr(obj, name)
                assert _same(got, reference), (name, got, reference)
        # the second round read these through ctypes, not through the fallback
        for name in ["scalar<f8", "scalar>i2", "bool", "enum", "utf8", "ascii", "undecodable", "empty_text"]:
            assert fast._read_scalar(obj.id.id, name.encode()) is not _MISS, name


def test_ctypes_reader_misses_fall_back(attributes_h5: Path) -> None:
    """A missing attribute raises h5py's error, not a ctypes one."""
    with h5py.File(attributes_h5, "r") as f:
        with pytest.raises(KeyError):
            TypeCache().read_attr(f["group"].id, b"no such attribute")


@pytest.fixture
def datasets_h5(tmp_path: Path) -> Path:
    path = tmp_path / "datasets.h5"
    with h5py.File(path, "w") as f:
        for code in NUMERIC:
            f.create_dataset(f"vector{code}", data=np.arange(5, dtype=code))
            f.create_dataset(f"scalar{code}", data=np.array(3, dtype=code))
        f.create_dataset("cube", data=np.arange(24.0).reshape(2, 3, 4))
        f.create_dataset("chunked", data=np.arange(100, dtype="<i4").reshape(10, 10), chunks=(3, 3), compression="gzip")
        f.create_dataset("empty", shape=(0, 4), dtype="<f4")
        f.create_dataset("unwritten", shape=(6,), dtype="<i2", fillvalue=-3)
        f.create_dataset("null", data=h5py.Empty("<f8"))
        f.create_dataset("bools", data=np.array([True, False, True]))
        f.create_dataset("enum", data=np.array([1, 2], dtype="i1"), dtype=h5py.enum_dtype({"a": 1, "b": 2}, basetype="i1"))
        f.create_dataset("text", data=["a", "bé"], dtype=h5py.string_dtype())
        f.create_dataset("fixed", data=np.array([b"ab", b"c"], dtype="S2"))
    return path


def test_ctypes_dataset_reads_like_h5py(datasets_h5: Path) -> None:
    fast, plain = TypeCache(), TypeCache(fast=False)
    assert fast.uses_ctypes, "h5py's libhdf5 cannot be bound with ctypes: the indexer's fast path is off"
    with h5py.File(datasets_h5, "r") as f:
        for _ in range(2):  # the second round finds every type in the cache
            for name in f:
                dsid = f[name].id
                null, shape, info = fast.describe(dsid)
                expected = plain.describe(dsid)
                assert (null, shape, info.dtype, info.category) == (*expected[:2], expected[2].dtype, expected[2].category)
                assert type(shape) is tuple and all(type(n) is int for n in shape)
                if null or info.category == 2:
                    continue
                got, want = fast.read_dataset(dsid, shape, info), plain.read_dataset(dsid, shape, expected[2])
                assert _same(got, want), name
                if info.category == 0:
                    reference = np.asarray(f[name][()])  # h5py's high level: native byte order
                    assert np.array_equal(got, reference) and got.dtype == reference.dtype.newbyteorder(got.dtype.byteorder), name
        assert fast._describe_fast(f["cube"].id.id) is not None


def test_same_name_other_type(tmp_path: Path) -> None:
    """An attribute name seen with one type is read with its own type on the next object."""
    path = tmp_path / "names.h5"
    values: list[Any] = [1.5, np.int32(-2), "text", np.float32(0.25), np.array(3, dtype=">f8")[()], np.uint8(7), True]
    with h5py.File(path, "w") as f:
        for i, value in enumerate(values * 2):
            f.create_group(f"g{i:02d}").attrs["x"] = value
    fast, plain = TypeCache(), TypeCache(fast=False)
    with h5py.File(path, "r") as f:
        for name in sorted(f):
            oid = f[name].id
            got, expected = fast.read_attr(oid, b"x"), plain.read_attr(oid, b"x")
            assert _same(got, expected), (name, got, expected)


def test_environment_switch_turns_the_ctypes_reader_off(
    attributes_h5: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HDMF_LINDI_NO_CTYPES=1 makes indexing use h5py only, with the same result."""
    from hdmf_lindi import index_hdf5
    from hdmf_lindi.hdf5 import lowlevel

    assert TypeCache().uses_ctypes  # on this Linux machine the binding is found
    fast = index_hdf5(attributes_h5).to_json()
    monkeypatch.setenv("HDMF_LINDI_NO_CTYPES", "1")
    lowlevel._libhdf5.cache_clear()
    try:
        assert not TypeCache().uses_ctypes
        assert lowlevel.evict_on_close_fapl() is None
        assert index_hdf5(attributes_h5).to_json() == fast
    finally:
        monkeypatch.delenv("HDMF_LINDI_NO_CTYPES")
        lowlevel._libhdf5.cache_clear()
    assert TypeCache().uses_ctypes
