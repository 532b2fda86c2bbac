"""The LINDI v2 model node by node, and the chunk work of the Zarr v3 writer. Pure (reads go
through the caller's ``read``).

:func:`collect_nodes` groups a reference map's entries by node; :func:`read_whole` decodes a
text, reference or compound array whole (these are recoded for Zarr v3); :func:`store_chunked`
stores a recoded array as inline v3 chunks; :func:`rechunk_contiguous` re-describes a split
contiguous HDF5 dataset as full-size chunks of the same bytes.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DialectError
from ..storage.refmap import ReferenceMap, RefValue, encode_inline
from .objects import decode_object_chunk
from .references import REFERENCE_KEY
from .zarr_v2 import ArrayMeta

__all__ = [
    "Node", "ReadFn", "as_text", "collect_nodes", "encode_vlen", "join", "read_whole", "rechunk_contiguous",
    "reference_path", "store_chunked", "text_chunks",
]

ReadFn = Callable[[Sequence[str]], list[bytes | None]]
"""Reads the content of store keys of the model (a container's ``read_many``)."""

_V2_NAMES = (".zgroup", ".zarray", ".zattrs")


@dataclass
class Node:
    """The v2 entries of one node path: metadata and the raw values of its chunk keys."""

    zgroup: bool = False
    zarray: dict[str, Any] | None = None
    zattrs: dict[str, Any] = field(default_factory=dict)
    chunks: dict[str, RefValue] = field(default_factory=dict)


def join(path: str, name: str) -> str:
    return f"{path}/{name}" if path else name


def collect_nodes(refmap: ReferenceMap) -> dict[str, Node]:
    nodes: dict[str, Node] = {}
    for key, value in refmap.raw_items():
        path, _, name = key.rpartition("/")
        node = nodes.get(path)
        if node is None:
            node = nodes[path] = Node()
        if name in _V2_NAMES:
            obj = refmap.get_json(key)
            if name == ".zgroup":
                node.zgroup = True
            elif name == ".zarray":
                node.zarray = obj
            elif isinstance(obj, dict):
                node.zattrs = obj
        else:
            node.chunks[name] = value
    return nodes


def read_whole(meta: ArrayMeta, path: str, node: Node, refmap: ReferenceMap, read: ReadFn) -> np.ndarray[Any, Any]:
    """The whole array of a text/reference/compound v2 array (object dtype for json2)."""
    grid = meta.grid
    shape = meta.shape
    is_object = meta.pipeline.is_object
    out = np.empty(shape, dtype=object if is_object else meta.dtype)
    if is_object:
        out[...] = None  # a missing chunk: "", null references, zero rows
    else:
        out[...] = meta.fill_value if meta.fill_value is not None else np.zeros((), meta.dtype)[()]
    if not all(shape):
        return out
    indices = list(np.ndindex(*grid))
    names = [".".join(map(str, ix)) if ix else "0" for ix in indices]
    keys = [join(path, n) for n in names]
    table = refmap.chunk_table(path)
    wanted = [k for k, n in zip(keys, names, strict=True) if n in node.chunks or table is not None]
    got = dict(zip(wanted, read(wanted), strict=True)) if wanted else {}
    for ix, key in zip(indices, keys, strict=True):
        data = got.get(key)
        if data is None:
            continue
        raw = meta.pipeline.decode(data, where=f" {key!r}")
        sel = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(ix, meta.chunks, shape, strict=True))
        want = tuple(s.stop - s.start for s in sel)
        if is_object:
            flat, cshape = decode_object_chunk(raw, where=f" {key!r}")
            block = np.empty(len(flat), dtype=object)
            block[:] = flat
            block = block.reshape(cshape) if cshape else block.reshape(())
        else:
            buf = np.frombuffer(bytes(raw), dtype=meta.dtype)
            full = int(np.prod(meta.chunks))
            if buf.size < full:  # LINDI's short last chunk of a split contiguous dataset
                buf = np.concatenate([buf, np.zeros(full - buf.size, dtype=meta.dtype)])
            block = buf[:full].reshape(meta.chunks)
        out[sel] = block[tuple(slice(0, w) for w in want)] if block.ndim == len(want) else block.reshape(-1)[: int(np.prod(want))].reshape(want)
    return out


def as_text(value: Any) -> str:
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8", errors="surrogateescape")
    if value is None:
        return ""
    return str(value)


def reference_path(value: Any, where: str) -> str:
    if isinstance(value, dict) and isinstance(value.get(REFERENCE_KEY), dict):
        path = value[REFERENCE_KEY].get("path")
        if isinstance(path, str):
            return path if not path or path.startswith("/") else "/" + path
    if value is None or value == "" or value == 0:
        return ""  # a null reference (zindi's spelling)
    raise DialectError(f"{where} holds {value!r} where an object reference belongs.")


def encode_vlen(values: np.ndarray[Any, Any]) -> bytes:
    """The ``vlen-utf8`` chunk of a string array (C order)."""
    parts = [struct.pack("<I", values.size)]
    for v in values.reshape(-1).tolist():
        data = v.encode("utf-8", errors="surrogateescape")
        parts.append(struct.pack("<I", len(data)))
        parts.append(data)
    return b"".join(parts)


def store_chunked(
    out: dict[str, RefValue], path: str, values: np.ndarray[Any, Any], chunks: tuple[int, ...],
    encode: Callable[[np.ndarray[Any, Any]], bytes], fill: Any,
) -> None:
    """Store ``values`` as inline v3 chunks of shape ``chunks`` (edges padded with ``fill``)."""
    if values.ndim == 0:
        out[join(path, "c")] = encode_inline(encode(values))
        return
    if not all(values.shape):
        return
    grid = tuple(-(-s // c) for s, c in zip(values.shape, chunks, strict=True))
    for ix in np.ndindex(*grid):
        sel = tuple(slice(i * c, (i + 1) * c) for i, c in zip(ix, chunks, strict=True))
        block = values[sel]
        if block.shape != chunks:
            padded = np.empty(chunks, dtype=values.dtype)
            padded[...] = fill
            padded[tuple(slice(0, s) for s in block.shape)] = block
            block = padded
        out[join(path, "c/" + "/".join(map(str, ix)))] = encode_inline(encode(np.ascontiguousarray(block)))


def text_chunks(meta: ArrayMeta, scalar: bool) -> tuple[int, ...]:
    if scalar:
        return ()
    return tuple(max(c, 1) for c in meta.chunks)


def rechunk_contiguous(
    meta: ArrayMeta, values: dict[str, RefValue]
) -> tuple[tuple[int, ...], dict[str, RefValue]] | None:
    """New (chunks, chunk values) for an uncompressed array split along axis 0 with a short
    last piece (LINDI's and our indexer's split of a contiguous HDF5 dataset), else None.

    Zarr v3 readers need every stored chunk at full size; lindi zero-pads a short one. The
    pieces are consecutive ranges of one file, so the same bytes are described again with a
    row count that divides the array's (or as one chunk when no such count is near the old
    piece size); nothing is read.
    """
    shape, chunks, itemsize = meta.shape, meta.chunks, meta.dtype.itemsize
    if not shape or tuple(chunks[1:]) != tuple(shape[1:]) or not shape[0]:
        return None
    n = -(-shape[0] // chunks[0])
    if n < 2:
        return None  # one piece: nothing was split
    row = math.prod(shape[1:]) * itemsize
    full = chunks[0] * row
    suffix = ".0" * (len(shape) - 1)
    refs = [values.get(f"{i}{suffix}") for i in range(n)]
    if not all(isinstance(r, list) and len(r) == 3 for r in refs):
        return None
    pieces: list[list[Any]] = refs  # type: ignore[assignment]
    total = shape[0] * row
    if pieces[-1][2] >= total - (n - 1) * full and pieces[-1][2] == full:
        return None  # no short piece
    url, base = pieces[0][0], pieces[0][1]
    for i, (u, offset, length) in enumerate(pieces):
        want = full if i < n - 1 else total - (n - 1) * full
        if u != url or offset != base + i * full or length != want:
            return None
    rows = max((d for d in _divisors(shape[0]) if d * row <= full), default=1)
    if rows * row * 16 < full:  # no divisor near the piece size: one chunk
        rows = shape[0]
    out: dict[str, RefValue] = {}
    for i in range(shape[0] // rows):
        out[f"{i}{suffix}"] = [url, base + i * rows * row, rows * row]
    return (rows, *shape[1:]), out


def _divisors(n: int) -> list[int]:
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return small + [n // d for d in small]
