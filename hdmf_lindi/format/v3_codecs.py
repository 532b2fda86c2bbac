"""Numcodecs-style codecs that let the LINDI v2 model carry Zarr v3 chunks unchanged. No I/O.

A Zarr v3 array is read through the same chunk engine as a LINDI v2 array (``tree/array.py``):
its ``zarr.json`` becomes a ``.zarray`` whose ``filters`` reproduce the v3 codec chain. Where
numcodecs has the codec (zstd, gzip, blosc, crc32c, zlib, shuffle, fletcher32 ...) it is used
as is; what v2 cannot say natively is said by the codecs of this module, registered with
numcodecs under ``hdmf_lindi.*`` ids:

* ``hdmf_lindi.v3_vlen_utf8``: v3 ``vlen-utf8`` chunk bytes <-> the ``json2`` text of a string
  array (the model's object-array chunk form, :mod:`.objects`);
* ``hdmf_lindi.v3_references``: the same for ``_DTYPE: "object_reference"`` arrays, whose
  strings are target paths (``""`` = null; a JSON ``{"source", "path"}`` string is accepted);
* ``hdmf_lindi.v3_struct``: packed v3 ``struct``/``structured`` chunk bytes <-> ``json2`` rows,
  reference fields (``_REFERENCE_FIELDS``) as ``_REFERENCE`` objects;
* ``hdmf_lindi.v3_sharding``: a ``sharding_indexed`` shard -> the raw bytes of the whole shard
  (decode only).

These ids exist only in the in-memory model: they never reach a LINDI v2 document on disk (a
file read from Zarr v3 is written back as Zarr v3, or not at all). Decoding errors are raised
as ``ValueError`` so that :class:`~hdmf_lindi.format.codecs.Pipeline` reports them as
:class:`~hdmf_lindi.errors.ChunkRefError`.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import numcodecs
import numpy as np
from numcodecs.abc import Codec

from ..errors import UnsupportedError

__all__ = [
    "ReferencesCodec",
    "ShardingCodec",
    "StructCodec",
    "UnsupportedCodec",
    "VlenUtf8Codec",
    "decode_vlen_utf8",
    "encode_vlen_utf8",
    "lindi_reference",
]

_U32 = struct.Struct("<I")
_MISSING = 2**64 - 1
"""Offset and length of an inner chunk a shard does not hold (sharding_indexed spec)."""


def _as_bytes(buf: Any) -> bytes:
    if isinstance(buf, bytes):
        return buf
    if isinstance(buf, np.ndarray):
        return buf.tobytes()
    return bytes(memoryview(buf).cast("B"))


def decode_vlen_utf8(buf: Any) -> list[str]:
    """Split ``vlen-utf8`` chunk bytes into their strings.

    Layout: a little-endian uint32 item count, then per item a uint32 byte length and that many
    UTF-8 bytes.

    Raises
    ------
    ValueError
        If the bytes are cut short, carry trailing bytes or are not UTF-8.
    """
    data = _as_bytes(buf)
    if len(data) < 4:
        raise ValueError(f"vlen-utf8 chunk of {len(data)} bytes is shorter than its 4-byte item count")
    (count,) = _U32.unpack_from(data, 0)
    pos = 4
    out: list[str] = []
    for i in range(count):
        if pos + 4 > len(data):
            raise ValueError(f"vlen-utf8 chunk ends inside the length of item {i} of {count}")
        (n,) = _U32.unpack_from(data, pos)
        pos += 4
        if pos + n > len(data):
            raise ValueError(f"vlen-utf8 item {i} of {count} claims {n} bytes past the chunk's end")
        try:
            out.append(data[pos:pos + n].decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ValueError(f"vlen-utf8 item {i} is not UTF-8: {exc}") from exc
        pos += n
    if pos != len(data):
        raise ValueError(f"vlen-utf8 chunk has {len(data) - pos} bytes after its {count} items")
    return out


def encode_vlen_utf8(items: list[str]) -> bytes:
    """Return the ``vlen-utf8`` bytes of ``items`` (the inverse of :func:`decode_vlen_utf8`)."""
    parts = [_U32.pack(len(items))]
    for item in items:
        raw = item.encode("utf-8")
        parts.append(_U32.pack(len(raw)))
        parts.append(raw)
    return b"".join(parts)


def _json2(items: list[Any]) -> bytes:
    """The model's object-chunk text of a flat element list (:mod:`.objects`)."""
    listing = [*items, "|O", [len(items)]]
    return json.dumps(listing, ensure_ascii=True, allow_nan=True, separators=(",", ":")).encode("utf-8")


def _unjson2(buf: Any) -> list[Any]:
    """The flat element list of an object-chunk text (nested rows of n-d chunks flattened)."""
    items = json.loads(_as_bytes(buf))
    if not isinstance(items, list) or len(items) < 2 or not isinstance(items[-1], list):
        raise ValueError("not an object chunk (json2 text with trailing dtype and shape)")
    body = items[:-2]
    depth = len(items[-1])
    for _ in range(max(depth - 1, 0)):
        body = [x for sub in body for x in sub]
    return body


def reference_from_text(text: str) -> dict[str, Any] | None:
    """The ``_REFERENCE`` object of one element of a v3 reference array (None for ``""``).

    An element is a plain absolute path, or (hdmf-zarr's planned form) the JSON text of a
    ``{"source", "path"}`` object.
    """
    if not text:
        return None
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict) and isinstance(obj.get("path"), str):
            return lindi_reference(obj["path"], obj.get("source", "."))
    return lindi_reference(text)


def lindi_reference(path: str, source: Any = ".", object_id: Any = None, source_object_id: Any = None) -> dict[str, Any]:
    """A ``_REFERENCE`` object with the four keys lindi 0.4.6 needs to read it (ids may be null)."""
    return {"_REFERENCE": {"object_id": object_id, "path": path, "source": source, "source_object_id": source_object_id}}


def reference_to_text(value: Any) -> str:
    """The v3 element text of a ``_REFERENCE`` object (or null): its path, ``""`` for null."""
    if value is None:
        return ""
    body = value.get("_REFERENCE") if isinstance(value, dict) else None
    if not isinstance(body, dict) or not isinstance(body.get("path"), str):
        raise ValueError(f"{value!r} is not a reference")
    if body.get("source", ".") != ".":
        return json.dumps({"source": body["source"], "path": body["path"]})
    return str(body["path"])


class VlenUtf8Codec(Codec):
    """v3 ``vlen-utf8`` bytes <-> the ``json2`` text of a string chunk."""

    codec_id = "hdmf_lindi.v3_vlen_utf8"

    def decode(self, buf: Any, out: Any = None) -> bytes:
        return _json2(list(decode_vlen_utf8(buf)))

    def encode(self, buf: Any) -> bytes:
        return encode_vlen_utf8(["" if v is None else str(v) for v in _unjson2(buf)])


class ReferencesCodec(Codec):
    """v3 reference-path strings (``vlen-utf8``) <-> ``json2`` text of ``_REFERENCE`` objects."""

    codec_id = "hdmf_lindi.v3_references"

    def decode(self, buf: Any, out: Any = None) -> bytes:
        return _json2([reference_from_text(s) for s in decode_vlen_utf8(buf)])

    def encode(self, buf: Any) -> bytes:
        return encode_vlen_utf8([reference_to_text(v) for v in _unjson2(buf)])


class StructCodec(Codec):
    """Packed v3 struct chunk bytes <-> ``json2`` rows.

    Parameters
    ----------
    fields
        ``[name, numpy type string, role]`` per field, in order; ``role`` is ``"value"``,
        ``"text"`` (a ``fixed_length_utf32`` field, read as ``str``), ``"bytes"``
        (``null_terminated_bytes``) or ``"reference"`` (a path field named by
        ``_REFERENCE_FIELDS``).
    """

    codec_id = "hdmf_lindi.v3_struct"

    def __init__(self, fields: list[list[str]]) -> None:
        self.fields = [list(f) for f in fields]
        self._dtype = np.dtype([(name, np.dtype(t)) for name, t, _ in self.fields])
        self._roles = [role for _, _, role in self.fields]

    def get_config(self) -> dict[str, Any]:
        return {"id": self.codec_id, "fields": self.fields}

    def decode(self, buf: Any, out: Any = None) -> bytes:
        data = _as_bytes(buf)
        if len(data) % self._dtype.itemsize:
            raise ValueError(
                f"struct chunk of {len(data)} bytes is not a whole number of {self._dtype.itemsize}-byte rows"
            )
        arr = np.frombuffer(data, dtype=self._dtype)
        columns = [arr[name].tolist() for name in self._dtype.names or ()]
        for j, role in enumerate(self._roles):
            if role == "reference":
                columns[j] = [reference_from_text(v) for v in columns[j]]
            elif role == "bytes":
                columns[j] = [v.decode("utf-8", "replace") for v in columns[j]]
        rows = [list(row) for row in zip(*columns, strict=True)] if columns else []
        return _json2(rows)

    def encode(self, buf: Any) -> bytes:
        rows = _unjson2(buf)
        arr = np.zeros(len(rows), dtype=self._dtype)
        for i, row in enumerate(rows):
            values = []
            for value, role in zip(row, self._roles, strict=True):
                if role == "reference":
                    value = reference_to_text(value)
                elif role == "bytes" and isinstance(value, str):
                    value = value.encode("utf-8")
                values.append(value)
            arr[i] = tuple(values)
        return arr.tobytes()


class ShardingCodec(Codec):
    """A v3 ``sharding_indexed`` shard -> the raw C-order bytes of the whole shard (decode only).

    Parameters
    ----------
    shard_shape
        The outer chunk shape (the shard's shape).
    chunk_shape
        The inner chunk shape.
    dtype
        NumPy type string of the array (fixed-size types only).
    fill_value
        The value of elements of inner chunks the shard does not hold.
    codecs
        The inner pipeline, as numcodecs configurations applied in order on encode (the bytes
        codec already folded into ``dtype``).
    index_checksum
        Whether the index ends with a crc32c checksum (``index_codecs`` has ``crc32c``).
    index_location
        ``"end"`` (the default) or ``"start"``.
    """

    codec_id = "hdmf_lindi.v3_sharding"

    def __init__(
        self,
        shard_shape: list[int],
        chunk_shape: list[int],
        dtype: str,
        fill_value: Any = 0,
        codecs: list[dict[str, Any]] | None = None,
        index_checksum: bool = True,
        index_location: str = "end",
    ) -> None:
        self.shard_shape = [int(s) for s in shard_shape]
        self.chunk_shape = [int(c) for c in chunk_shape]
        self.dtype = str(dtype)
        self.fill_value = fill_value
        self.codecs = list(codecs or [])
        self.index_checksum = bool(index_checksum)
        self.index_location = index_location
        if len(self.shard_shape) != len(self.chunk_shape) or any(
            c <= 0 or s % c for s, c in zip(self.shard_shape, self.chunk_shape, strict=True)
        ):
            raise ValueError(
                f"sharding inner chunk shape {self.chunk_shape} does not divide the shard shape {self.shard_shape}"
            )
        self._np_dtype = np.dtype(self.dtype)
        self._inner = [numcodecs.get_codec(c) for c in self.codecs]
        self._grid = tuple(s // c for s, c in zip(self.shard_shape, self.chunk_shape, strict=True))

    def get_config(self) -> dict[str, Any]:
        return {
            "id": self.codec_id,
            "shard_shape": self.shard_shape,
            "chunk_shape": self.chunk_shape,
            "dtype": self.dtype,
            "fill_value": self.fill_value,
            "codecs": self.codecs,
            "index_checksum": self.index_checksum,
            "index_location": self.index_location,
        }

    def _index(self, data: bytes) -> np.ndarray[Any, Any]:
        n = math.prod(self._grid)
        size = 16 * n + (4 if self.index_checksum else 0)
        if len(data) < size:
            raise ValueError(f"shard of {len(data)} bytes is shorter than its {size}-byte index")
        raw = data[-size:] if self.index_location == "end" else data[:size]
        if self.index_checksum:
            body, stored = raw[:-4], int.from_bytes(raw[-4:], "little")
            actual = _crc32c(body)
            if actual != stored:
                raise ValueError(
                    f"shard index crc32c mismatch (stored {stored:#010x}, computed {actual:#010x}): the shard is damaged"
                )
            raw = body
        return np.frombuffer(raw, dtype="<u8").reshape(n, 2)

    def decode(self, buf: Any, out: Any = None) -> bytes:
        data = _as_bytes(buf)
        index = self._index(data)
        shard = np.full(self.shard_shape, self.fill_value, dtype=self._np_dtype)
        chunk_nbytes = math.prod(self.chunk_shape) * self._np_dtype.itemsize
        for flat, (offset, length) in enumerate(index.tolist()):
            if offset == _MISSING and length == _MISSING:
                continue
            if offset + length > len(data):
                raise ValueError(f"inner chunk {flat} of the shard lies past its end ({offset}+{length} > {len(data)})")
            raw: Any = data[offset:offset + length]
            for codec in reversed(self._inner):
                raw = codec.decode(raw)
            raw = _as_bytes(raw)
            if len(raw) != chunk_nbytes:
                raise ValueError(f"inner chunk {flat} decodes to {len(raw)} bytes, expected {chunk_nbytes}")
            grid_index = np.unravel_index(flat, self._grid)
            region = tuple(
                slice(g * c, (g + 1) * c) for g, c in zip(grid_index, self.chunk_shape, strict=True)
            )
            shard[region] = np.frombuffer(raw, dtype=self._np_dtype).reshape(self.chunk_shape)
        # the model's dtype of a sharded array is little-endian, whatever the inner bytes codec says
        return shard.astype(self._np_dtype.newbyteorder("<"), copy=False).tobytes()

    def encode(self, buf: Any) -> bytes:
        raise ValueError("writing into a sharded Zarr v3 array is not supported")


class UnsupportedCodec(Codec):
    """Stands for a v3 codec (or layout) hdmf_lindi cannot decode: using the array raises.

    The translation of a file puts it where such a codec was, so that only that array fails,
    with :class:`~hdmf_lindi.errors.UnsupportedError` saying why, and the rest of the file reads.
    """

    codec_id = "hdmf_lindi.v3_unsupported"

    def __init__(self, reason: str = "") -> None:
        # constructible, so that the array's shape and dtype (all hdmf's read() needs) are known
        self.reason = reason

    def decode(self, buf: Any, out: Any = None) -> Any:
        raise UnsupportedError(f"{self.reason.rstrip('.')}. Supported: {SUPPORTED}.")

    def encode(self, buf: Any) -> Any:
        raise UnsupportedError(f"{self.reason.rstrip('.')}. Supported: {SUPPORTED}.")


SUPPORTED = (
    "bytes (either endian), vlen-utf8, zstd, gzip, blosc, crc32c, sharding_indexed of fixed-size "
    "types, and numcodecs.<id> codecs numcodecs provides"
)


def _crc32c(data: bytes) -> int:
    """CRC-32C of ``data`` (the checksum of v3's ``crc32c`` codec)."""
    codec = numcodecs.get_codec({"id": "crc32c"})
    return int.from_bytes(bytes(codec.encode(data))[-4:], "little")


for _codec in (VlenUtf8Codec, ReferencesCodec, StructCodec, ShardingCodec, UnsupportedCodec):
    numcodecs.register_codec(_codec)


MODEL_ONLY_IDS = frozenset(
    c.codec_id for c in (VlenUtf8Codec, ReferencesCodec, StructCodec, ShardingCodec, UnsupportedCodec)
)
"""The ids of this module's codecs, which exist only in the in-memory model."""


def uses_model_only_codecs(zarray: dict[str, Any]) -> bool:
    """Whether a model ``.zarray`` names a codec of this module (it came from a Zarr v3 file)."""
    return any(isinstance(f, dict) and f.get("id") in MODEL_ONLY_IDS for f in zarray.get("filters") or ())


def lindi_zarray(zarray: dict[str, Any]) -> dict[str, Any]:
    """The LINDI v2 ``.zarray`` of a model array read from Zarr v3, for its decoded chunks.

    Chunks decoded through the model's pipeline are ``json2`` text (strings, references,
    compounds), stored under the plain ``json2`` filter as lindi writes them, or raw array bytes
    (sharded arrays), stored uncompressed.
    """
    filters = zarray.get("filters") or []
    is_object = bool(filters) and isinstance(filters[0], dict) and filters[0].get("id") == "json2"
    return {**zarray, "compressor": None, "filters": [filters[0]] if is_object else None}
