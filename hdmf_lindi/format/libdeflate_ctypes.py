"""libdeflate's decompressors called through ctypes, which releases the GIL during each call.

The ``deflate`` package (0.9) holds the GIL while it inflates, so a pool of decode threads
decodes one chunk at a time. Its extension module exports libdeflate's C functions, so ctypes
can call them directly: ctypes drops the GIL around every foreign call, and the threads of the
chunk pool then inflate in parallel. Each thread keeps one decompressor (libdeflate's are not
thread-safe, and allocating one per chunk is wasted work for small chunks), and output goes
straight into the caller's buffer.

Every call checks its buffers (bounds, contiguity, writability) before handing addresses to C,
and asks libdeflate for *exactly* the expected size (``actual_out_nbytes_ret`` is NULL, so a
stream that decodes shorter or longer fails). A failure returns None / False, and the caller
falls back to its slower path, which reports the error. No I/O.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["AVAILABLE", "decompress", "decompress_many_into"]

logger = logging.getLogger(__name__)


class _Lib:
    """The four libdeflate functions used here, with their C signatures."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.alloc = lib.libdeflate_alloc_decompressor
        self.alloc.argtypes = []
        self.alloc.restype = ctypes.c_void_p
        self.free = lib.libdeflate_free_decompressor
        self.free.argtypes = [ctypes.c_void_p]
        self.free.restype = None
        signature = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        self.funcs: dict[str, Any] = {}
        for kind in ("zlib", "gzip"):
            func = getattr(lib, f"libdeflate_{kind}_decompress")
            func.argtypes = signature
            func.restype = ctypes.c_int
            self.funcs[kind] = func


def _load() -> _Lib | None:
    try:
        from deflate import _deflate

        return _Lib(ctypes.CDLL(_deflate.__file__))
    except (ImportError, OSError, AttributeError) as exc:  # pragma: no cover - depends on the wheel
        logger.debug("libdeflate through ctypes is not available (%s)", exc)
        return None


_LIB = _load()
AVAILABLE = _LIB is not None
"""Whether the deflate package's libdeflate functions can be called through ctypes."""


class _Decompressor:
    """One thread's libdeflate decompressor, freed with the thread's locals."""

    def __init__(self, lib: _Lib) -> None:
        self._free = lib.free
        self.ptr: int = lib.alloc() or 0
        if not self.ptr:
            raise MemoryError("libdeflate could not allocate a decompressor")

    def __del__(self) -> None:
        if self.ptr:
            self._free(self.ptr)
            self.ptr = 0


_local = threading.local()


def _decompressor(lib: _Lib) -> int:
    found: _Decompressor | None = getattr(_local, "decompressor", None)
    if found is None:
        found = _local.decompressor = _Decompressor(lib)
    return found.ptr


def _source(data: Any) -> np.ndarray[Any, Any] | None:
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except (TypeError, ValueError, BufferError):  # not a contiguous buffer
        return None


def decompress(kind: str, data: Any, nbytes: int) -> bytearray | None:
    """Inflate one ``kind`` (``"zlib"`` or ``"gzip"``) stream to exactly ``nbytes`` bytes.

    Returns None when ctypes is not available, ``data`` is not a contiguous buffer, or the
    stream does not decode to exactly ``nbytes`` bytes.
    """
    if _LIB is None or nbytes <= 0:
        return None
    src = _source(data)
    if src is None or not src.size:
        return None
    out = bytearray(nbytes)
    dst = np.frombuffer(out, dtype=np.uint8)
    failed = _LIB.funcs[kind](_decompressor(_LIB), src.ctypes.data, src.size, dst.ctypes.data, nbytes, None)
    return None if failed else out


def decompress_many_into(
    kind: str, data: Any, starts: Sequence[int], sizes: Sequence[int], out: np.ndarray[Any, Any]
) -> bool:
    """Inflate the ``kind`` streams at ``data[starts[i]:starts[i] + sizes[i]]`` into ``out[i]``.

    ``out`` is a writable C-contiguous uint8 array of shape ``(len(starts), nbytes)``; each
    stream must decode to exactly ``nbytes`` bytes. Returns False (``out`` then holds garbage)
    when ctypes is not available, a buffer does not qualify, a range lies outside ``data``, or
    a stream fails.
    """
    if _LIB is None:
        return False
    src = _source(data)
    count = len(starts)
    if (
        src is None
        or out.dtype != np.uint8
        or out.ndim != 2
        or out.shape[0] != count
        or not out.flags.c_contiguous
        or not out.flags.writeable
        or len(sizes) != count
    ):
        return False
    if not count:
        return True
    width = int(out.shape[1])
    begin = np.asarray(starts, dtype=np.int64)
    length = np.asarray(sizes, dtype=np.int64)
    if width <= 0 or begin.min() < 0 or length.min() <= 0 or int((begin + length).max()) > src.size:
        return False
    func = _LIB.funcs[kind]
    ptr = _decompressor(_LIB)
    dst = out.ctypes.data
    srcs = (begin + src.ctypes.data).tolist()
    for s, n, d in zip(srcs, length.tolist(), range(dst, dst + width * count, width), strict=True):
        if func(ptr, s, n, d, width, None):
            return False
    return True
