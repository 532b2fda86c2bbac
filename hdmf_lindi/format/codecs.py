"""Codec configurations and the chunk codec pipeline (numcodecs, Zarr v2 semantics). No I/O.

Zarr v2 applies ``filters`` in order and then the ``compressor`` on encode, and the reverse on
decode. Object arrays (strings, references, compounds) carry the ``json2`` filter with exactly
the configuration lindi writes, so that lindi (zarr 2 + numcodecs) reads them.
"""

from __future__ import annotations

import json
import lzma
import zlib
from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any

import numcodecs
import numpy as np
from numcodecs.abc import Codec

from ..errors import ChunkRefError, MetadataError, UnsupportedError
from . import fast_deflate

__all__ = [
    "JSON2_CONFIG",
    "LINDI_UNREADABLE_CODECS",
    "Pipeline",
    "codec_from_compression",
    "get_codec",
]

LINDI_UNREADABLE_CODECS = frozenset({"zstd", "lz4"})
"""Codecs whose chunks lindi 0.4.6 fails to decode: it zero-pads compressed chunks before
decoding, and zstd then fails on every chunk, lz4 on a dataset's last, partial chunk."""

JSON2_CONFIG: dict[str, Any] = {
    "id": "json2",
    "encoding": "utf-8",
    "skipkeys": False,
    "ensure_ascii": True,
    "check_circular": True,
    "allow_nan": True,
    "sort_keys": True,
    "indent": None,
    "separators": [",", ":"],
    "strict": True,
}
"""The ``json2`` filter configuration of every ``|O`` array (lindi-format.md §3.3)."""


@lru_cache(maxsize=256)
def _codec_from_json(config_json: str) -> Codec:
    config = json.loads(config_json)
    try:
        return numcodecs.get_codec(config)
    except (ValueError, KeyError, TypeError) as exc:
        raise UnsupportedError(
            f"No numcodecs codec for {config}: {exc}. Install the package that provides it."
        ) from exc


def get_codec(config: Any, *, where: str = "") -> Codec:
    """Return the (cached) numcodecs codec for a JSON configuration.

    Raises
    ------
    MetadataError
        If the configuration is not an object with a string ``id``.
    UnsupportedError
        If numcodecs has no codec for it.
    """
    if not isinstance(config, dict) or not isinstance(config.get("id"), str):
        raise MetadataError(f"Codec configuration {config!r}{where} needs a string 'id'.")
    return _codec_from_json(json.dumps(config, sort_keys=True))


def codec_from_compression(compression: Any, compression_opts: Any = None) -> Codec | None:
    """Map h5py-style ``compression`` arguments (or a numcodecs codec) to a codec.

    ``"gzip"`` -> GZip (level ``compression_opts`` or 4, as h5py), ``"zlib"`` -> Zlib,
    ``"blosc"``, ``"zstd"``, ``"lz4"`` -> those codecs with default settings, an integer 0-9 ->
    GZip at that level, a ``Codec`` -> itself, None -> no compression.

    Raises
    ------
    UnsupportedError
        For an unknown name (``"lzf"`` and ``"szip"`` have no numcodecs codec).
    """
    if compression is None:
        return None
    if isinstance(compression, Codec):
        return compression
    if isinstance(compression, int) and not isinstance(compression, bool):
        return numcodecs.GZip(level=compression)
    level = 4 if compression_opts is None else int(compression_opts)
    if compression == "gzip":
        return numcodecs.GZip(level=level)
    if compression == "zlib":
        return numcodecs.Zlib(level=level)
    if compression == "blosc":
        return numcodecs.Blosc()
    if compression == "zstd":
        return numcodecs.Zstd(level=3 if compression_opts is None else int(compression_opts))
    if compression == "lz4":
        return numcodecs.LZ4()
    raise UnsupportedError(
        f"Unknown compression {compression!r}; use 'gzip', 'zlib', 'blosc', 'zstd', 'lz4', a "
        "gzip level 0-9, or a numcodecs codec instance."
    )


_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,  # shuffle, bz2, libdeflate
    TypeError,
    RuntimeError,  # blosc, lz4, zstd, fletcher32
    OSError,  # gzip.BadGzipFile, bz2
    EOFError,  # gzip
    zlib.error,
    lzma.LZMAError,
)
"""What numcodecs codecs raise for damaged input; they share no base class beyond Exception."""

_BLOSC_HEADER_BYTES = 16
_BLOSC_MAX_BYTES = 2**31 - 1  # blosc 1's limit for one buffer


def _check_blosc_header(data: Any) -> None:
    """Refuse a blosc buffer whose 16-byte header is cut off or claims impossible sizes.

    c-blosc reads the header without knowing the buffer's length: on a shorter buffer it reads
    past its end, and the outcome (an error, a huge allocation or garbage) depends on what lies
    there.

    Raises
    ------
    ValueError
        For a buffer shorter than the header, or sizes beyond the buffer or blosc's limit.
    """
    view = memoryview(data).cast("B")
    if view.nbytes < _BLOSC_HEADER_BYTES:
        raise ValueError(f"blosc buffer of {view.nbytes} bytes is shorter than its 16-byte header")
    raw = int.from_bytes(view[4:8], "little")
    stored = int.from_bytes(view[12:16], "little")
    if stored > view.nbytes or raw > _BLOSC_MAX_BYTES:
        raise ValueError(
            f"blosc header claims {stored} stored and {raw} raw bytes for a buffer of {view.nbytes} bytes"
        )


_SIZE_PRESERVING = frozenset({"shuffle", "bitround"})
"""Filters whose output has the input's size (so a compressor after them sees the raw size)."""


class Pipeline:
    """The filters + compressor of one array, as numcodecs codecs.

    For object arrays the ``json2`` filter (always first) is handled by :mod:`.objects`, which
    produces exactly the bytes numcodecs would; ``codecs`` then holds only the byte codecs.

    Parameters
    ----------
    compressor
        The ``compressor`` configuration of ``.zarray`` (or None).
    filters
        The ``filters`` list of ``.zarray`` (or None).
    """

    __slots__ = ("_deflate_last", "_encoders", "codecs", "has_codecs", "is_object")

    def __init__(self, compressor: Any, filters: Any, *, where: str = "") -> None:
        if filters is not None and not isinstance(filters, list):
            raise MetadataError(f"'filters'{where} must be a list or null, got {filters!r}.")
        configs = list(filters or [])
        if compressor is not None:
            configs.append(compressor)
        self.is_object = bool(configs) and isinstance(configs[0], dict) and configs[0].get("id") in (
            "json2", "json"
        )
        if self.is_object:
            configs = configs[1:]
        self.codecs: tuple[Codec, ...] = tuple(get_codec(c, where=where) for c in configs)
        self.has_codecs = bool(self.codecs)
        # a zlib/gzip compressor behind only size-preserving filters decodes to the chunk's raw
        # size, which libdeflate needs to know (fast_deflate)
        self._deflate_last = (
            not self.is_object
            and self.has_codecs
            and fast_deflate.is_deflate_codec(self.codecs[-1])
            and all(getattr(c, "codec_id", None) in _SIZE_PRESERVING for c in self.codecs[:-1])
        )
        self._encoders: tuple[Callable[[Any], Any], ...] = tuple(
            partial(fast_deflate.encode, c) if fast_deflate.is_deflate_codec(c) else c.encode
            for c in self.codecs
        )

    def decode(self, data: bytes, nbytes: int = 0, *, where: str = "") -> Any:
        """Decode stored chunk bytes down to the raw buffer (JSON text for object arrays).

        Parameters
        ----------
        data
            The stored chunk bytes.
        nbytes
            The chunk's raw size when known (0 otherwise); it lets a zlib/gzip compressor
            decode through libdeflate (:mod:`.fast_deflate`). The result is the same either way.
        where
            Names the chunk in error messages, e.g. ``" 'x/0' of f.lindi.json"``.

        Raises
        ------
        ChunkRefError
            If a codec rejects the bytes (damaged data, or a reference or codec configuration
            that does not match them).
        """
        codecs = self.codecs
        out: Any = data
        codec: Codec | None = codecs[-1] if codecs else None
        try:
            if self._deflate_last and nbytes > 0:
                out = fast_deflate.decode(codecs[-1], out, nbytes)
                codecs = codecs[:-1]
            for codec in reversed(codecs):
                if codec.codec_id == "blosc":
                    _check_blosc_header(out)
                out = codec.decode(out)
        except UnsupportedError:  # a codec that cannot decode at all (not damaged bytes)
            raise
        except _DECODE_ERRORS as exc:
            codec_id = getattr(codec, "codec_id", type(codec).__name__)
            raise ChunkRefError(
                f"Cannot decode chunk{where} with codec {codec_id!r}: {exc}. The chunk bytes are "
                "damaged, or the reference or codec configuration does not match them."
            ) from exc
        return out

    def encode(self, raw: Any) -> bytes:
        """Encode a raw chunk buffer (C-ordered array bytes, or JSON text) to stored bytes."""
        out: Any = raw
        for encode in self._encoders:
            out = encode(out)
        if isinstance(out, np.ndarray):
            return out.tobytes()
        return bytes(out)
