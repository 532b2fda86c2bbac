"""Faster zlib/gzip chunk coding through libdeflate (the ``deflate`` package), when installed.

HDF5's deflate filter and lindi both store chunks as zlib streams (numcodecs ``zlib``), and
numcodecs' ``gzip`` wraps the same compression. libdeflate decodes such a stream about twice as
fast as the ``zlib`` module and compresses three times as fast at the same level. Its streams
are ordinary zlib/gzip streams: h5py, numcodecs and lindi read them. The ``deflate`` package
(0.9) holds the GIL while it works, so chunks of at least :data:`CTYPES_MIN_BYTES` raw bytes
are decoded by calling libdeflate through ctypes when the package's extension exports the C
functions (:mod:`.libdeflate_ctypes`, which drops the GIL during each call, so that the threads
of the chunk pool in :mod:`hdmf_lindi.tree.array` can inflate big chunks on several cores at
once). Small chunks keep the package's calls: for them, dropping and taking back the GIL per
call costs more than it frees (measured: a 30,000-chunk slice of (1, 64) int16 gzip chunks took
125 ms through the package, 179 ms through ctypes).

libdeflate decodes into a buffer of known size, so a decode needs the expected raw size. Any
mismatch (a wrong hint, a multi-member gzip stream, damaged data) falls back to the numcodecs
codec, which either decodes what libdeflate would not or raises its usual error; a libdeflate
result is returned only when it has exactly the expected size. No I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np
from numcodecs.abc import Codec

from . import libdeflate_ctypes

_libdeflate: ModuleType | None
try:  # pragma: no cover - exercised by whichever branch the environment has
    import deflate as _libdeflate
except ImportError:  # pragma: no cover
    _libdeflate = None

__all__ = ["AVAILABLE", "CTYPES_MIN_BYTES", "decode", "decode_many_into", "encode", "is_deflate_codec"]

logger = logging.getLogger(__name__)

AVAILABLE = _libdeflate is not None
"""Whether libdeflate is importable; without it every call defers to numcodecs."""

_IDS = ("zlib", "gzip")

CTYPES_MIN_BYTES = 64 << 10
"""Chunks whose raw size is at least this are inflated through ctypes (without the GIL)."""


def is_deflate_codec(codec: Codec) -> bool:
    """Whether ``codec`` is numcodecs' ``zlib`` or ``gzip`` codec (the ones handled here)."""
    return getattr(codec, "codec_id", None) in _IDS


def _level(codec: Codec) -> int:
    level = getattr(codec, "level", 1)
    return int(level) if isinstance(level, int) else 1


def decode(codec: Codec, data: Any, nbytes: int) -> Any:
    """Decode one zlib/gzip chunk expected to hold ``nbytes`` raw bytes.

    Parameters
    ----------
    codec
        A numcodecs ``Zlib`` or ``GZip`` codec (see :func:`is_deflate_codec`).
    data
        The stored chunk bytes.
    nbytes
        The raw size the chunk must decode to (> 0).

    Returns
    -------
    bytes-like
        The raw bytes; when libdeflate cannot produce exactly ``nbytes``, whatever the numcodecs
        codec returns (the caller checks the size as for any codec).
    """
    if _libdeflate is not None and nbytes > 0:
        if nbytes >= CTYPES_MIN_BYTES:
            fast = libdeflate_ctypes.decompress(codec.codec_id, data, nbytes)
            if fast is not None:
                return fast
        try:
            if codec.codec_id == "zlib":
                out = _libdeflate.zlib_decompress(data, nbytes)
            else:
                out = _libdeflate.gzip_decompress(data)
        except (_libdeflate.DeflateError, ValueError):
            # ValueError: gzip_decompress rejects input shorter than a gzip header and trailer
            out = None
        if out is not None and len(out) == nbytes:
            return out
        logger.debug("libdeflate could not decode a %s chunk to %d bytes; using numcodecs", codec.codec_id, nbytes)
    return codec.decode(data)


def decode_many_into(codec: Codec, data: Any, starts: Sequence[int], sizes: Sequence[int], out: np.ndarray[Any, Any]) -> bool:
    """Decode many small zlib/gzip chunks held in one buffer into the rows of ``out``.

    The loop does nothing per chunk but call libdeflate (small chunks, such as HDF5's (1, 64)
    int16 chunks, cost a few microseconds each, so per-chunk Python work matters as much as the
    inflate itself). Chunks of :data:`CTYPES_MIN_BYTES` or more go through ctypes, each straight
    into its row, without the GIL.

    Parameters
    ----------
    codec
        A numcodecs ``Zlib`` or ``GZip`` codec (see :func:`is_deflate_codec`).
    data
        A buffer (bytes or memoryview) holding the stored chunks.
    starts, sizes
        Where each chunk lies in ``data``.
    out
        A writable C-contiguous uint8 array of shape ``(len(starts), nbytes)``: chunk ``i``
        must decode to exactly the ``nbytes`` bytes of row ``i``.

    Returns
    -------
    bool
        True when every chunk was decoded into its row; False when libdeflate is not
        installed or any chunk does not decode to exactly ``nbytes`` (``out`` then holds
        garbage, and the caller decodes the chunks one by one, for the error that names it).
    """
    if _libdeflate is None:
        return False
    nbytes = out.shape[1] if out.ndim == 2 else 0
    if nbytes >= CTYPES_MIN_BYTES and libdeflate_ctypes.decompress_many_into(codec.codec_id, data, starts, sizes, out):
        return True
    if nbytes <= 0 or out.shape[0] != len(starts):
        return False
    func = _libdeflate.zlib_decompress if codec.codec_id == "zlib" else _libdeflate.gzip_decompress
    view = memoryview(data)
    try:
        # each call fails (DeflateError) if its chunk would decode to more than nbytes
        parts = [func(view[s:s + n], nbytes) for s, n in zip(starts, sizes, strict=True)]
    except (_libdeflate.DeflateError, ValueError):
        return False
    joined = b"".join(parts)
    if len(joined) != nbytes * len(parts):
        return False
    out[...] = np.frombuffer(joined, dtype=np.uint8).reshape(out.shape)
    return True


def encode(codec: Codec, raw: Any) -> Any:
    """Encode one raw chunk as ``codec`` would (same stream format and level), via libdeflate.

    Level 0 (stored blocks) and environments without libdeflate use the numcodecs codec.
    """
    level = _level(codec)
    if _libdeflate is None or not 1 <= level <= 9:
        return codec.encode(raw)
    if codec.codec_id == "zlib":
        return _libdeflate.zlib_compress(raw, level)
    return _libdeflate.gzip_compress(raw, level)
