"""Faster zlib/gzip chunk coding through libdeflate (the ``deflate`` package), when installed.

HDF5's deflate filter and lindi both store chunks as zlib streams (numcodecs ``zlib``), and
numcodecs' ``gzip`` wraps the same compression. libdeflate decodes such a stream about twice as
fast as the ``zlib`` module and compresses three times as fast at the same level. Its streams
are ordinary zlib/gzip streams: h5py, numcodecs and lindi read them. Note that the ``deflate``
package (0.9) holds the GIL while it works (its C functions never release it), so the chunk pool
in :mod:`hdmf_lindi.tree.array` overlaps decoding with I/O, not decoding with decoding.

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

from numcodecs.abc import Codec

_libdeflate: ModuleType | None
try:  # pragma: no cover - exercised by whichever branch the environment has
    import deflate as _libdeflate
except ImportError:  # pragma: no cover
    _libdeflate = None

__all__ = ["AVAILABLE", "decode", "decode_many", "encode", "is_deflate_codec"]

logger = logging.getLogger(__name__)

AVAILABLE = _libdeflate is not None
"""Whether libdeflate is importable; without it every call defers to numcodecs."""

_IDS = ("zlib", "gzip")


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


def decode_many(codec: Codec, data: Any, starts: Sequence[int], sizes: Sequence[int], nbytes: int) -> bytes | None:
    """Decode many small zlib/gzip chunks held in one buffer, each to exactly ``nbytes`` bytes.

    The loop does nothing per chunk but slice and call libdeflate (small chunks, such as
    HDF5's (1, 64) int16 chunks, cost a few microseconds each, so per-chunk Python work
    matters as much as the inflate itself).

    Parameters
    ----------
    codec
        A numcodecs ``Zlib`` or ``GZip`` codec (see :func:`is_deflate_codec`).
    data
        A buffer (bytes or memoryview) holding the stored chunks.
    starts, sizes
        Where each chunk lies in ``data``.
    nbytes
        The raw size every chunk must decode to (> 0).

    Returns
    -------
    bytes or None
        The raw chunks, concatenated in order; None when libdeflate is not installed or any
        chunk does not decode to exactly ``nbytes`` (the caller then decodes them one by one,
        for the error that names the chunk).
    """
    if _libdeflate is None or nbytes <= 0:
        return None
    func = _libdeflate.zlib_decompress if codec.codec_id == "zlib" else _libdeflate.gzip_decompress
    view = memoryview(data)
    try:
        # each call fails (DeflateError) if its chunk would decode to more than nbytes
        parts = [func(view[s:s + n], nbytes) for s, n in zip(starts, sizes, strict=True)]
    except (_libdeflate.DeflateError, ValueError):
        return None
    out = b"".join(parts)
    return out if len(out) == nbytes * len(parts) else None


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
