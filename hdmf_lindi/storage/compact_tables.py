"""Compact chunk tables in a LINDI document: the ``"hdmf_lindi": {"chunkTables": ...}`` entries.

An array whose chunk references are held compactly keeps its ``.zarray`` and ``.zattrs`` in
``refs`` but has no chunk keys there. Its entry, under the top-level ``"hdmf_lindi"`` key (which
lindi ignores and keeps), is::

    "chunkTables": {"acquisition/ts/data": {
        "format": "lct1", "grid": [1000, 1000], "count": 1000000,
        "urls": ["https://.../file.nwb"], "shardRows": 65,
        "shards": [[offset, length, crc32c, count], ...],
        "data": ["./chunktables/<sha1 of the path>", 0, n]   (a tar member or .lindi.d file)
             or {"base64": "..."}                            (inline: a lone .lindi.json, small tables),
        "source": {"size": 123456789},                       (optional)
        "hdf5Path": "acquisition/ts/data"}}                  (optional: the lindi fallback)

``shards[k]`` is the byte range, inside ``data``, of the shard holding grid rows
``[k * shardRows, (k + 1) * shardRows)`` (:mod:`.chunk_table_codec`). With ``hdf5Path``, the
array's ``.zattrs`` are written with lindi's ``_EXTERNAL_ARRAY_LINK`` to that dataset of
``urls[0]`` so that lindi 0.4.6 reads the data through h5py; on reading, that generated link is
removed again (our readers use the table). See ``docs/format_notes.rst``.

No I/O: shard bytes are read through a callable the container provides.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ReferenceMapError
from .chunk_table import ChunkTable
from .chunk_table_codec import FORMAT, ShardColumns, crc32c, decode_shard, encode_shard, shard_rows

__all__ = [
    "EXTRA_KEY",
    "INLINE_MAX_BYTES",
    "TABLES_KEY",
    "RangeReader",
    "ShardSink",
    "blob_key",
    "encode_entry",
    "fallback_link",
    "parse_entries",
    "strip_fallback_link",
    "table_summary",
]

EXTRA_KEY = "hdmf_lindi"
TABLES_KEY = "chunkTables"
INLINE_MAX_BYTES = 16 << 10
"""Tables smaller than this ride inline in the document, whatever the container."""
LINK_KEY = "_EXTERNAL_ARRAY_LINK"

RangeReader = Callable[[Sequence[tuple[str, int, int]]], Sequence[bytes]]
"""Reads ``(url, offset, length)`` ranges (``./NAME`` urls inside the container)."""
ShardSink = Callable[[str, bytes], str]
"""Stores a table's shard bytes under a key and returns the ``./NAME`` url to reference them."""


def blob_key(path: str) -> str:
    """The blob key under which the shards of the array at ``path`` are stored."""
    return "chunktables/" + hashlib.sha1(path.encode("utf-8")).hexdigest()


def fallback_link(table: ChunkTable) -> dict[str, Any] | None:
    """lindi's ``_EXTERNAL_ARRAY_LINK`` for a table of an indexed HDF5 dataset, else None."""
    if table.hdf5_path is None or len(table.urls) != 1 or table.url.startswith("./"):
        return None
    return {"link_type": "hdf5_dataset", "url": table.url, "name": table.hdf5_path}


def strip_fallback_link(zattrs: Any, entry: dict[str, Any]) -> Any:
    """``zattrs`` without the link :func:`fallback_link` wrote for ``entry`` (other links kept)."""
    urls = entry.get("urls")
    if not isinstance(zattrs, dict) or "hdf5Path" not in entry or not (isinstance(urls, list) and urls):
        return zattrs
    link = zattrs.get(LINK_KEY)
    if isinstance(link, dict) and link.get("name") == entry["hdf5Path"] and link.get("url") == urls[0]:
        return {k: v for k, v in zattrs.items() if k != LINK_KEY}
    return zattrs


def table_summary(table: ChunkTable) -> str:
    """``"N chunks in a compact table (K shards, B bytes)"`` (bytes as stored, when known)."""
    stored = table.stored
    nbytes = f"{sum(s[1] for s in stored['entry']['shards']):,} bytes" if stored is not None else "not yet stored"
    return f"{table.count:,} chunks in a compact table ({table.n_shards} shards, {nbytes})"


# ---------------------------------------------------------------------- reading
def _fail(path: str, source: str | None, message: str) -> ReferenceMapError:
    where = f" in {source}" if source else ""
    return ReferenceMapError(f"Chunk table of {path!r}{where}: {message}")


def _int(value: Any) -> bool:
    return type(value) is int and value >= 0


def parse_entries(
    entries: Any, read: RangeReader, *, source: str | None = None
) -> dict[str, ChunkTable]:
    """Build a lazy :class:`ChunkTable` for each entry of a ``chunkTables`` object.

    ``read`` is used, on a table's first use, to fetch the shards it needs when they live in a
    blob. Nothing is fetched or decoded here.

    Raises
    ------
    ReferenceMapError
        If an entry is malformed.
    """
    if not isinstance(entries, dict):
        raise ReferenceMapError(f"'hdmf_lindi.chunkTables' must be an object, got {type(entries).__name__}.")
    return {path: _parse_entry(path, entry, read, source) for path, entry in entries.items()}


def _parse_entry(path: str, entry: Any, read: RangeReader, source: str | None) -> ChunkTable:
    if not isinstance(entry, dict) or entry.get("format") != FORMAT:
        raise _fail(path, source, f"the entry is not an {FORMAT!r} table.")
    grid, count, urls, rows, shards = (entry.get(k) for k in ("grid", "count", "urls", "shardRows", "shards"))
    if not (isinstance(grid, list) and grid and all(_int(g) for g in grid)):
        raise _fail(path, source, f"bad grid {grid!r}.")
    grid_t = tuple(grid)
    size = math.prod(grid_t)
    if not (_int(count) and count <= size):
        raise _fail(path, source, f"bad count {count!r} for {size} grid entries.")
    if not (isinstance(urls, list) and urls and all(isinstance(u, str) for u in urls)):
        raise _fail(path, source, f"bad url list {urls!r}.")
    if rows != shard_rows(grid_t):
        raise _fail(path, source, f"shardRows {rows!r} is not the {shard_rows(grid_t)} this reader expects.")
    per_shard = rows * math.prod(grid_t[1:])
    n_shards = -(-size // per_shard) if size else 0
    if not (isinstance(shards, list) and len(shards) == n_shards):
        raise _fail(path, source, f"{n_shards} shards expected in its directory.")
    for shard in shards:
        if not (isinstance(shard, list) and len(shard) == 4 and all(_int(v) for v in shard)):
            raise _fail(path, source, f"bad shard directory entry {shard!r}.")
    if sum(s[3] for s in shards) != count:
        raise _fail(path, source, f"its shards hold {sum(s[3] for s in shards)} chunks, not {count}.")
    source_size = (entry.get("source") or {}).get("size") if isinstance(entry.get("source"), dict) else None
    if source_size is not None and not _int(source_size):
        raise _fail(path, source, f"bad source size {source_size!r}.")
    hdf5_path = entry.get("hdf5Path")
    if hdf5_path is not None and not isinstance(hdf5_path, str):
        raise _fail(path, source, f"bad hdf5Path {hdf5_path!r}.")
    raw = _data_reader(path, entry.get("data"), shards, read, source)

    def load(ks: Sequence[int]) -> list[ShardColumns]:
        out = []
        for k, data in zip(ks, raw(ks), strict=True):
            offset, length, crc, n = shards[k]
            where = f" {k} of {path!r}" + (f" in {source}" if source else "")
            if len(data) != length or crc32c(data) != crc:
                raise ReferenceMapError(
                    f"Chunk table shard{where} does not match its directory (length {len(data)} "
                    f"of {length}, or crc32c): the table's bytes are damaged or were replaced."
                )
            entries = min(size, (k + 1) * per_shard) - k * per_shard
            out.append(decode_shard(data, entries=entries, count=n, n_urls=len(urls), source_size=source_size, where=where))
        return out

    table = ChunkTable.lazy(urls, grid_t, count, load, hdf5_path=hdf5_path, source_size=source_size)
    table.stored = {"entry": entry, "raw": raw}
    return table


def _data_reader(
    path: str, data: Any, shards: list[list[int]], read: RangeReader, source: str | None
) -> Callable[[Sequence[int]], list[bytes]]:
    """A function returning the bytes of the listed shards (inline, or read from the blob)."""
    if isinstance(data, dict) and isinstance(data.get("base64"), str):
        text = data["base64"]
        cache: list[bytes] = []

        def inline(ks: Sequence[int]) -> list[bytes]:
            if not cache:
                try:
                    cache.append(base64.b64decode(text, validate=True))
                except binascii.Error as exc:
                    raise _fail(path, source, f"its inline data is not valid base64 ({exc}).") from exc
            blob = cache[0]
            return [blob[shards[k][0]:shards[k][0] + shards[k][1]] for k in ks]

        return inline
    if (
        isinstance(data, list) and len(data) == 3 and isinstance(data[0], str)
        and _int(data[1]) and _int(data[2])
    ):
        url, base, total = data
        for offset, length, _crc, _n in shards:
            if offset + length > total:
                raise _fail(path, source, f"shard bytes {offset}-{offset + length} lie outside its {total}-byte data.")

        def fetch(ks: Sequence[int]) -> list[bytes]:
            return [bytes(b) for b in read([(url, base + shards[k][0], shards[k][1]) for k in ks])]

        return fetch
    raise _fail(path, source, f"'data' must be [url, offset, length] or {{\"base64\": ...}}, got {str(data)[:80]}.")


# ---------------------------------------------------------------------- writing
def _encode(table: ChunkTable) -> tuple[bytes, list[list[int]]]:
    """All shards of a table, concatenated, and their directory."""
    offsets, lengths, url_index = table.offsets, table.lengths, table.url_index
    size = offsets.size
    step = table.shard_entries
    parts: list[bytes] = []
    shards: list[list[int]] = []
    pos = 0
    for start in range(0, size, step):
        stop = min(size, start + step)
        chunk_urls = None if url_index is None else url_index[start:stop]
        data = encode_shard(offsets[start:stop], lengths[start:stop], chunk_urls)
        n = int(np.count_nonzero(offsets[start:stop] >= 0))
        shards.append([pos, len(data), crc32c(data), n])
        parts.append(data)
        pos += len(data)
    return b"".join(parts), shards


def encode_entry(
    path: str, table: ChunkTable, sink: ShardSink | None, *, reuse_blobs: bool
) -> dict[str, Any]:
    """The ``chunkTables`` entry of ``table``, its shard bytes stored through ``sink``.

    An unchanged table read from a document is carried without decoding: its entry is reused
    as is when its bytes are inline, or live in the same container (``reuse_blobs``); else its
    shard bytes are copied. Tables under :data:`INLINE_MAX_BYTES`, and every table when
    ``sink`` is None (a lone ``.lindi.json``), are written inline as base64.
    """
    stored = table.stored
    if stored is not None:
        old = stored["entry"]
        inline = isinstance(old.get("data"), dict)
        if (inline and (sink is None or len(old["data"]["base64"]) * 3 // 4 <= INLINE_MAX_BYTES)) or (
            not inline and reuse_blobs and sink is not None
        ):
            return dict(old)
        shards_dir = old["shards"]
        blob = b"".join(stored["raw"](range(len(shards_dir))))
    else:
        blob, shards_dir = _encode(table)
    entry: dict[str, Any] = {
        "format": FORMAT,
        "grid": list(table.grid),
        "count": table.count,
        "urls": list(table.urls),
        "shardRows": shard_rows(table.grid),
        "shards": shards_dir,
    }
    if sink is None or len(blob) <= INLINE_MAX_BYTES:
        entry["data"] = {"base64": base64.b64encode(blob).decode("ascii")}
    else:
        entry["data"] = [sink(blob_key(path), blob), 0, len(blob)]
    if table.source_size is not None:
        entry["source"] = {"size": table.source_size}
    if table.hdf5_path is not None:
        entry["hdf5Path"] = table.hdf5_path
    return entry
