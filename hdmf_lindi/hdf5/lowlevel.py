"""Low-level h5py reads for the indexer's hot paths: attributes and small datasets.

A metadata-heavy NWB file has tens of thousands of attributes, nearly all scalar numbers and
variable-length strings of a handful of HDF5 types. h5py's high-level ``attrs[name]`` costs
~50 µs each; here an attribute costs one open, one dataspace, one datatype and one read, and
the numpy dtype (plus the memory type for strings) is looked up per HDF5 type instead of being
rebuilt for every attribute. Anything unusual (compounds, arrays, fixed-length strings,
references) is left to h5py's reader, so values stay exactly h5py's.

Scalar numbers and variable-length strings of a type seen before are read with those same HDF5
calls made through :mod:`ctypes` on the libhdf5 h5py itself loaded (found in
``/proc/self/maps`` and checked to share h5py's library state), under h5py's lock. That skips
the three h5py id objects per attribute and their weak-reference registry, about half of the
attribute's cost. The calls are the ones h5py's reader makes (``H5Aread`` with h5py's memory
type for numbers, with the attribute's own type for strings, as h5py's conversion proxy does);
any failure, a non-scalar dataspace, a type not seen yet or a null string pointer falls back
to the h5py reader, which then gives the value or the error. Where the library cannot be found
(not Linux, a statically linked h5py) only the h5py reader is used.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
from typing import Any, NamedTuple

import h5py
import numpy as np

try:  # h5py's global lock, held around every libhdf5 call h5py makes (a private name)
    from h5py._objects import phil
except ImportError:  # pragma: no cover - a future h5py: the ctypes reader stays off
    phil = None

__all__ = ["SLOW", "TypeCache", "TypeInfo", "evict_on_close_fapl"]

logger = logging.getLogger(__name__)

SLOW = object()
"""Returned by :meth:`TypeCache.read_attr` when h5py's high-level reader must be used."""

_MISS = object()
"""Returned by the ctypes reader when the h5py reader must decide."""

_NUMERIC, _VLEN_STRING, _OTHER = 0, 1, 2
_SCALAR, _NULL = int(h5py.h5s.SCALAR), int(h5py.h5s.NULL)
_MAX_RANK = 32  # HDF5's H5S_MAX_RANK


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


# ---------------------------------------------------------------------- the ctypes reader


class _LibHDF5:
    """The few libhdf5 functions of the scalar-attribute reader, bound with :mod:`ctypes`.

    Bound through :class:`ctypes.PyDLL`, so the GIL stays held during each call (as in h5py's
    own calls); callers hold h5py's lock as well.
    """

    def __init__(self, lib: ctypes.PyDLL) -> None:
        hid, status, ptr = ctypes.c_int64, ctypes.c_int, ctypes.c_void_p

        def bind(name: str, restype: Any, *argtypes: Any) -> Any:
            function = getattr(lib, name)
            function.restype = restype
            function.argtypes = list(argtypes)
            return function

        self.aopen = bind("H5Aopen", hid, hid, ctypes.c_char_p, hid)
        self.aget_space = bind("H5Aget_space", hid, hid)
        self.aget_type = bind("H5Aget_type", hid, hid)
        self.aread = bind("H5Aread", status, hid, hid, ptr)
        self.aclose = bind("H5Aclose", status, hid)
        self.sget_simple_extent_type = bind("H5Sget_simple_extent_type", status, hid)
        self.sget_simple_extent_dims = bind("H5Sget_simple_extent_dims", status, hid, ptr, ptr)
        self.sclose = bind("H5Sclose", status, hid)
        self.tencode = bind("H5Tencode", status, hid, ptr, ptr)
        self.tget_size = bind("H5Tget_size", ctypes.c_size_t, hid)
        self.tclose = bind("H5Tclose", status, hid)
        self.tequal = bind("H5Tequal", status, hid, hid)
        self.iis_valid = bind("H5Iis_valid", status, hid)
        self.dget_space = bind("H5Dget_space", hid, hid)
        self.dget_type = bind("H5Dget_type", hid, hid)
        self.dread = bind("H5Dread", status, hid, hid, hid, hid, hid, ptr)
        self.free_memory = bind("H5free_memory", status, ptr)
        self.pset_evict_on_close = bind("H5Pset_evict_on_close", status, hid, ctypes.c_bool)


def _loaded_libhdf5_paths() -> list[str]:
    """Paths of the libhdf5 shared libraries mapped into this process (Linux only)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="surrogateescape") as maps:
            lines = [line for line in maps if "libhdf5" in line]
    except OSError:
        return []
    paths = set()
    for line in lines:
        fields = line.split(None, 5)
        if len(fields) == 6:
            name = os.path.basename(fields[5].strip())
            if name.startswith("libhdf5") and "_hl" not in name:
                paths.add(fields[5].strip())
    return sorted(paths)


def _shares_h5py_state(lib: _LibHDF5) -> bool:
    """Whether ``lib`` is the library instance behind h5py's ids (not another copy of it)."""
    probe = h5py.h5t.C_S1.copy()
    probe.set_size(37)  # an id only h5py's library instance has, of a size it must report
    with phil:
        return lib.iis_valid(probe.id) > 0 and lib.tget_size(probe.id) == 37


@functools.cache
def _libhdf5() -> _LibHDF5 | None:
    """The ctypes binding of h5py's libhdf5, or None when it cannot be found and checked.

    Off when h5py's lock cannot be imported, or when the environment variable
    ``HDMF_LINDI_NO_CTYPES`` is set to a non-empty value (everything then goes through h5py).
    """
    if phil is None or os.environ.get("HDMF_LINDI_NO_CTYPES"):
        return None
    for path in _loaded_libhdf5_paths():
        try:
            lib = _LibHDF5(ctypes.PyDLL(path))
            if _shares_h5py_state(lib):
                return lib
        except (OSError, AttributeError) as exc:
            logger.debug("cannot bind %s: %s", path, exc)
    logger.debug("h5py's libhdf5 not found: attributes are read through h5py only")
    return None


def evict_on_close_fapl(fileobj: Any = None) -> Any | None:
    """A file access property list for reading a file once, or None where it cannot be made.

    h5py's default read settings (``h5py.File(name, "r")``: the sec2 driver, or h5py's
    file-object driver for ``fileobj``) plus HDF5's evict-on-close, which h5py does not expose:
    an object's metadata leaves HDF5's cache when the object is closed. A walk that visits
    each object once then keeps the cache small, which is faster to search and to empty when
    the file closes (the metadata-heavy benchmark file: ~15% less time).
    """
    lib = _libhdf5()
    if lib is None:
        return None
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_EARLIEST, h5py.h5f.LIBVER_LATEST)  # h5py's default
    if fileobj is not None:
        fapl.set_fileobj_driver(h5py.h5fd.fileobj_driver, fileobj)
    with phil:
        if lib.pset_evict_on_close(fapl.id, True) < 0:
            return None
    return fapl


class _FastType(NamedTuple):
    """How the ctypes reader reads a scalar of one HDF5 type."""

    type_id: int
    """The HDF5 id of ``type_ref``, to compare an attribute's type with (``H5Tequal``)."""
    type_ref: Any
    """An h5py TypeID of this type (decoded from its encoding), kept alive here."""
    vlen: bool
    """True for variable-length strings (read with the attribute's own type, as h5py does)."""
    mtype: int
    """The HDF5 id of h5py's memory type (numbers)."""
    scratch: np.ndarray[Any, Any] | None
    """A 0-d array of h5py's dtype that numbers are read into (numbers)."""
    address: int
    """The address of ``scratch``'s data."""
    encoding: str
    """The string encoding (variable-length strings)."""


def _fast_type(info: TypeInfo, key: bytes) -> _FastType | None:
    if info.category not in (_NUMERIC, _VLEN_STRING):
        return None
    ref = h5py.h5t.decode(key)
    if info.category == _NUMERIC:
        scratch = np.empty((), dtype=info.dtype)
        return _FastType(ref.id, ref, False, info.mtype.id, scratch, scratch.ctypes.data, "")
    return _FastType(ref.id, ref, True, 0, None, 0, info.encoding)


class TypeCache:
    """numpy dtypes of HDF5 datatypes, cached by the datatype's binary encoding.

    One per indexing run (not module-global): it holds h5py type ids, which belong to the
    HDF5 library state of that run.

    Parameters
    ----------
    fast
        Read scalar numbers and variable-length strings through ctypes where h5py's libhdf5
        can be found (see the module notes). Defaults to True; False reads through h5py only.
    """

    def __init__(self, *, fast: bool = True) -> None:
        self._by_encoding: dict[bytes, TypeInfo] = {}
        self._lib = _libhdf5() if fast else None
        self._fast: dict[bytes, _FastType | None] = {}
        self._by_name: dict[bytes, _FastType] = {}
        """The type an attribute of this name had last time: most attributes of a name share
        one type, and ``H5Tequal`` with it is cheaper than encoding the type."""
        self._size = ctypes.c_size_t()
        self._size_address = ctypes.addressof(self._size)
        self._buffer = ctypes.create_string_buffer(256)
        self._pointer = ctypes.c_void_p()
        self._pointer_address = ctypes.addressof(self._pointer)
        self._dims = (ctypes.c_uint64 * _MAX_RANK)()
        self._dims_address = ctypes.addressof(self._dims)

    @property
    def uses_ctypes(self) -> bool:
        """Whether scalar attributes are read through ctypes."""
        return self._lib is not None

    def info(self, tid: Any) -> TypeInfo:
        """Return the :class:`TypeInfo` of an h5py ``TypeID``."""
        try:
            key = tid.encode()
        except (ValueError, TypeError, RuntimeError):  # a type HDF5 cannot serialise: no caching
            return _classify(tid.dtype)
        info = self._by_encoding.get(key)
        if info is None:
            info = self._by_encoding[key] = _classify(tid.dtype)
            if self._lib is not None:
                self._fast[key] = _fast_type(info, key)
        return info

    def read_attr(self, oid: Any, raw_name: bytes) -> Any:
        """Read one attribute of the object ``oid`` (an h5py ObjectID) by its raw name.

        Returns the value as h5py's ``attrs[name]`` would for numbers and variable-length
        strings (numpy scalars and arrays, ``str`` for scalar strings), ``h5py.Empty`` for a
        null dataspace, and :data:`SLOW` for anything else.
        """
        if self._lib is not None:
            value = self._read_scalar(oid.id, raw_name)
            if value is not _MISS:
                return value
        return self._read_attr_h5py(oid, raw_name)

    def _read_attr_h5py(self, oid: Any, raw_name: bytes) -> Any:
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

    def _read_scalar(self, loc: int, raw_name: bytes) -> Any:
        """A scalar attribute of a known number or string type through ctypes, else _MISS."""
        lib = self._lib
        assert lib is not None
        with phil:
            aid = lib.aopen(loc, raw_name, 0)
            if aid < 0:
                return _MISS
            try:
                sid = lib.aget_space(aid)
                if sid < 0:
                    return _MISS
                extent = lib.sget_simple_extent_type(sid)
                lib.sclose(sid)
                if extent != _SCALAR:
                    return _MISS
                tid = lib.aget_type(aid)
                if tid < 0:
                    return _MISS
                try:
                    fast = self._by_name.get(raw_name)
                    if fast is None or lib.tequal(tid, fast.type_id) <= 0:
                        fast = self._fast.get(self._encode(tid))
                        if fast is None:
                            return _MISS
                        self._by_name[raw_name] = fast
                    if fast.vlen:
                        return self._read_string(aid, tid, fast.encoding)
                    if lib.aread(aid, fast.mtype, fast.address) < 0:
                        return _MISS
                    return fast.scratch[()]  # type: ignore[index]
                finally:
                    lib.tclose(tid)
            finally:
                lib.aclose(aid)

    def _encode(self, tid: int) -> bytes:
        """The binary encoding of an HDF5 datatype id (b"" when HDF5 cannot encode it)."""
        lib = self._lib
        assert lib is not None
        size = self._size
        size.value = 0
        if lib.tencode(tid, None, self._size_address) < 0 or not size.value:
            return b""
        n = size.value
        if n > len(self._buffer):
            self._buffer = ctypes.create_string_buffer(n)
        address = ctypes.addressof(self._buffer)
        if lib.tencode(tid, address, self._size_address) < 0:
            return b""
        return ctypes.string_at(address, n)

    def _read_string(self, aid: int, tid: int, encoding: str) -> Any:
        """A scalar variable-length string, read as h5py's conversion proxy reads it."""
        lib = self._lib
        assert lib is not None
        pointer = self._pointer
        pointer.value = None
        if lib.aread(aid, tid, self._pointer_address) < 0:
            return _MISS
        address = pointer.value
        if not address:  # a null string: h5py's reader decides what it reads as
            return _MISS
        try:
            data = ctypes.string_at(address)
        finally:
            lib.free_memory(address)
            pointer.value = None
        return data.decode(encoding, errors="surrogateescape")

    def describe(self, dsid: Any) -> tuple[bool, tuple[int, ...], TypeInfo]:
        """Whether a dataset (an h5py DatasetID) has a null dataspace, its shape and its type.

        Through ctypes when the datatype has been seen before, else through h5py.
        """
        if self._lib is not None:
            described = self._describe_fast(dsid.id)
            if described is not None:
                return described
        space = dsid.get_space()
        null = space.get_simple_extent_type() == h5py.h5s.NULL
        return null, () if null else space.shape, self.info(dsid.get_type())

    def _describe_fast(self, dsid: int) -> tuple[bool, tuple[int, ...], TypeInfo] | None:
        lib = self._lib
        assert lib is not None
        with phil:
            sid = lib.dget_space(dsid)
            if sid < 0:
                return None
            try:
                extent = lib.sget_simple_extent_type(sid)
                rank = lib.sget_simple_extent_dims(sid, self._dims_address, None)
            finally:
                lib.sclose(sid)
            if extent < 0 or not 0 <= rank <= _MAX_RANK:
                return None
            tid = lib.dget_type(dsid)
            if tid < 0:
                return None
            try:
                info = self._by_encoding.get(self._encode(tid))
            finally:
                lib.tclose(tid)
        if info is None:
            return None
        return extent == _NULL, tuple(self._dims[:rank]), info

    def read_dataset(self, dsid: Any, shape: tuple[int, ...], info: TypeInfo) -> np.ndarray[Any, Any]:
        """Read a whole dataset of a numeric, fixed-length string or variable-length string type.

        Variable-length strings come back as an object array of ``str`` (decoded with the
        dataset's encoding, undecodable bytes kept by ``surrogateescape``), as h5py's
        ``asstr(errors="surrogateescape")`` returns them.
        """
        arr = np.empty(shape, dtype=info.dtype)
        if arr.size:
            lib = self._lib
            if lib is not None and info.category == _NUMERIC:
                # h5py's DatasetID.read makes this very call for numbers
                with phil:
                    address = ctypes.addressof(ctypes.c_char.from_buffer(arr.data))
                    status = lib.dread(dsid.id, info.mtype.id, 0, 0, 0, address)
                if status < 0:  # let h5py raise its error
                    dsid.read(h5py.h5s.ALL, h5py.h5s.ALL, arr, mtype=info.mtype)
            else:
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
