"""Low-level h5py reads for the indexer's hot paths: attributes and small datasets.

A metadata-heavy NWB file has tens of thousands of attributes, nearly all scalar numbers and
variable-length strings of a handful of HDF5 types. h5py's high-level ``attrs[name]`` costs
~50 µs each; here an attribute costs one open, one dataspace, one datatype and one read, and
the numpy dtype (plus the memory type for strings) is looked up per HDF5 type instead of being
rebuilt for every attribute. Anything unusual (compounds, arrays, fixed-length strings,
references) is left to h5py's reader, so values stay exactly h5py's.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import h5py
import numpy as np

__all__ = ["SLOW", "TypeCache", "TypeInfo"]

SLOW = object()
"""Returned by :meth:`TypeCache.read_attr` when h5py's high-level reader must be used."""

_NUMERIC, _VLEN_STRING, _OTHER = 0, 1, 2


class TypeInfo(NamedTuple):
    """What the indexer needs to know about one HDF5 datatype."""

    dtype: np.dtype[Any]
    """h5py's numpy dtype for it (with h5py's metadata: string, enum, reference)."""
    mtype: Any
    """The memory type to read numbers and variable-length strings with (an h5py TypeID), else
    None (h5py then derives it from the array's dtype)."""
    category: int
    """_NUMERIC (plain numbers and bools), _VLEN_STRING, or _OTHER."""
    encoding: str
    """The string encoding of variable-length strings ('utf-8' or 'ascii')."""


def _classify(dtype: np.dtype[Any]) -> TypeInfo:
    if dtype.names is None and dtype.subdtype is None and dtype.kind in "iufb":
        # the memory type is built once here, not by h5py on every read
        return TypeInfo(dtype, h5py.h5t.py_create(dtype), _NUMERIC, "")
    string_info = h5py.check_string_dtype(dtype)
    if dtype.kind == "O" and string_info is not None:
        return TypeInfo(dtype, h5py.h5t.py_create(dtype), _VLEN_STRING, string_info.encoding)
    return TypeInfo(dtype, None, _OTHER, "")


class TypeCache:
    """numpy dtypes of HDF5 datatypes, cached by the datatype's binary encoding.

    One per indexing run (not module-global): it holds h5py type ids, which belong to the
    HDF5 library state of that run.
    """

    def __init__(self) -> None:
        self._by_encoding: dict[bytes, TypeInfo] = {}

    def info(self, tid: Any) -> TypeInfo:
        """Return the :class:`TypeInfo` of an h5py ``TypeID``."""
        try:
            key = tid.encode()
        except (ValueError, TypeError, RuntimeError):  # a type HDF5 cannot serialise: no caching
            return _classify(tid.dtype)
        info = self._by_encoding.get(key)
        if info is None:
            info = self._by_encoding[key] = _classify(tid.dtype)
        return info

    def read_attr(self, oid: Any, raw_name: bytes) -> Any:
        """Read one attribute of the object ``oid`` (an h5py ObjectID) by its raw name.

        Returns the value as h5py's ``attrs[name]`` would for numbers and variable-length
        strings (numpy scalars and arrays, ``str`` for scalar strings), ``h5py.Empty`` for a
        null dataspace, and :data:`SLOW` for anything else.
        """
        aid = h5py.h5a.open(oid, raw_name)
        space = aid.get_space()
        extent = space.get_simple_extent_type()
        info = self.info(aid.get_type())
        if extent == h5py.h5s.NULL:
            return h5py.Empty(info.dtype)
        if info.category == _OTHER:
            return SLOW
        if extent == h5py.h5s.SCALAR:
            arr = np.empty((), dtype=info.dtype)
            aid.read(arr, mtype=info.mtype)
            value = arr[()]
            if info.category == _VLEN_STRING and isinstance(value, bytes):
                return value.decode(info.encoding, errors="surrogateescape")
            return value
        arr = np.empty(space.shape, dtype=info.dtype)
        if arr.size:
            aid.read(arr, mtype=info.mtype)
        return arr

    def read_dataset(self, dsid: Any, shape: tuple[int, ...], info: TypeInfo) -> np.ndarray[Any, Any]:
        """Read a whole dataset of a numeric, fixed-length string or variable-length string type.

        Variable-length strings come back as an object array of ``str`` (decoded with the
        dataset's encoding, undecodable bytes kept by ``surrogateescape``), as h5py's
        ``asstr(errors="surrogateescape")`` returns them.
        """
        arr = np.empty(shape, dtype=info.dtype)
        if arr.size:
            dsid.read(h5py.h5s.ALL, h5py.h5s.ALL, arr, mtype=info.mtype)
        if info.category == _VLEN_STRING:
            out = np.empty(shape, dtype=object)
            out.reshape(-1)[:] = [
                v.decode(info.encoding, errors="surrogateescape") if isinstance(v, bytes) else v
                for v in arr.reshape(-1)
            ]
            return out
        return arr

    @staticmethod
    def is_numeric(info: TypeInfo) -> bool:
        """Whether the type is plain numbers or bools (no compound, array or string)."""
        return info.category == _NUMERIC

    @staticmethod
    def is_vlen_string(info: TypeInfo) -> bool:
        """Whether the type is a variable-length string."""
        return info.category == _VLEN_STRING
