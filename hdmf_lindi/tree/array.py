"""Chunked array engine: selection -> chunk keys -> bytes -> decoded chunks -> one result.

Reads fetch every chunk a selection needs in one batch through the container (so the fetcher
can coalesce and parallelise), decode with numcodecs, and assemble with numpy. Decoded chunks
are kept in a small LRU cache shared by a file, as h5py's chunk cache does. Writes do
read-modify-write per chunk and always store full-size chunks (edge chunks padded with the
fill value), which every Zarr v2 reader, lindi included, decodes.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from ..errors import ChunkRefError, LindiError, MetadataError
from ..format.dtypes import is_reference_dtype
from ..format.objects import (
    decode_object_chunk,
    element_from_json,
    element_to_json,
    encode_object_chunk,
)
from ..format.references import Reference
from ..format.zarr_v2 import ArrayMeta, chunk_key
from ..storage.containers import Container
from ..storage.stats import record_cache, record_decode
from .selection import ChunkPart, Selection
from .table_read import read_from_table

__all__ = ["ArrayEngine", "ChunkCache"]

logger = logging.getLogger(__name__)

CHUNK_CACHE_BYTES = 64 << 20  # 64 MiB of decoded chunks per file
_WRITE_BATCH = 64  # chunks prepared and encoded together by one write
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _encoder_pool() -> ThreadPoolExecutor:
    """A process-wide pool for chunk (de)compression (one thread per core, at most 8)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1), thread_name_prefix="lindi-encode")
        return _POOL


def _forget_pool_after_fork() -> None:
    # A forked child has the pool object but none of its threads: work sent there never runs.
    global _POOL, _POOL_LOCK
    _POOL = None
    _POOL_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_pool_after_fork)


class ChunkCache:
    """An LRU cache of decoded chunks, bounded in bytes; safe to share between threads.

    Parameters
    ----------
    max_bytes
        Budget in bytes (object chunks are counted at 64 bytes per element).
    """

    def __init__(self, max_bytes: int = CHUNK_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._data: OrderedDict[str, np.ndarray[Any, Any]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # readers share the cache: dask threads, the decode pool
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _cost(arr: np.ndarray[Any, Any]) -> int:
        return arr.size * 64 if arr.dtype.kind == "O" else arr.nbytes

    def get(self, key: str) -> np.ndarray[Any, Any] | None:
        """Return the cached chunk for a store key, or None."""
        with self._lock:
            arr = self._data.get(key)
            if arr is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return arr

    def put(self, key: str, arr: np.ndarray[Any, Any]) -> None:
        """Cache a decoded chunk (made read-only)."""
        cost = self._cost(arr)
        if cost > self.max_bytes // 4 or self.max_bytes == 0:
            return
        arr.flags.writeable = False
        with self._lock:
            self._discard(key)
            self._data[key] = arr
            self._bytes += cost
            while self._bytes > self.max_bytes:
                _, old = self._data.popitem(last=False)
                self._bytes -= self._cost(old)

    def discard(self, key: str) -> None:
        """Forget a key (after it was rewritten)."""
        with self._lock:
            self._discard(key)

    def _discard(self, key: str) -> None:
        old = self._data.pop(key, None)
        if old is not None:
            self._bytes -= self._cost(old)


class ArrayEngine:
    """Reads and writes the chunks of one Zarr array of a container.

    Parameters
    ----------
    container
        Where the chunks live.
    path
        The array's store path (no leading ``/``; ``""`` is not an array).
    meta
        The parsed ``.zarray``.
    dtype
        The dtype to present (structured for compounds, ``ref_dtype`` for references).
    cache
        The file's decoded-chunk cache.
    """

    def __init__(
        self,
        container: Container,
        path: str,
        meta: ArrayMeta,
        dtype: np.dtype[Any],
        cache: ChunkCache,
    ) -> None:
        self.container = container
        self.path = path
        self.meta = meta
        self.dtype = dtype
        self.cache = cache
        self._stats = container.stats  # the file's I/O counters (decodes, cache lookups)
        self._prefix = path + "/" if path else ""
        self._chunk_nbytes = math.prod(meta.chunks) * meta.dtype.itemsize
        self._direct_ok = not meta.pipeline.has_codecs and meta.dtype.kind in "iufb" and dtype == meta.dtype
        self.plain = False
        """Whether the array is an ordinary chunked array (not scalar, not an external link)."""

    # ------------------------------------------------------------------ decoding
    def _fill_chunk(self) -> np.ndarray[Any, Any]:
        fill = self.meta.fill_value
        if self.dtype.fields is not None:
            # zeros, "" and null references: never np.empty's leftover bytes
            arr = np.zeros(self.meta.chunks, dtype=self.dtype)
            for name, (field_dtype, *_) in self.dtype.fields.items():
                if field_dtype.kind == "O":
                    arr[name] = None if is_reference_dtype(field_dtype) else ""
            return arr
        if self.meta.dtype.kind == "O":
            arr = np.empty(self.meta.chunks, dtype=self.dtype)
            if fill not in (0, None):
                arr[...] = fill
            else:
                # as h5py: unwritten strings read as "", unwritten references as None (null)
                arr[...] = None if is_reference_dtype(self.dtype) else ""
            return arr
        return np.full(self.meta.chunks, 0 if fill is None else fill, dtype=self.meta.dtype)

    def _decode(self, key: str, data: bytes) -> np.ndarray[Any, Any]:
        where = f" {key!r} of {self.container.location}"
        if self.meta.pipeline.is_object != (self.meta.dtype.kind == "O"):
            raise MetadataError(
                f"Cannot decode chunk{where}: dtype {self.meta.dtype.str} "
                f"{'needs' if self.meta.dtype.kind == 'O' else 'cannot have'} the json2 filter "
                "(object arrays, and only they, store JSON chunks)."
            )
        raw = self.meta.pipeline.decode(data, self._chunk_nbytes, where=where)
        if self.meta.pipeline.is_object:
            return self._decode_objects(key, raw)
        buf = np.frombuffer(raw, dtype=np.uint8) if not isinstance(raw, np.ndarray) else raw.view(np.uint8)
        if buf.size != self._chunk_nbytes:
            if buf.size < self._chunk_nbytes and not self.meta.pipeline.has_codecs and self.meta.dtype.kind in "iuf":
                # lindi's split contiguous datasets end with a short raw chunk (lindi-format.md §3.4)
                buf = np.concatenate([buf, np.zeros(self._chunk_nbytes - buf.size, dtype=np.uint8)])
            else:
                raise ChunkRefError(
                    f"Chunk {key!r} of {self.container.location} decodes to {buf.size} bytes; "
                    f"expected {self._chunk_nbytes} (chunk shape {list(self.meta.chunks)}, dtype "
                    f"{self.meta.dtype}). The reference or codec configuration is wrong.",
                    key=key,
                )
        return buf.view(self.meta.dtype).reshape(self.meta.chunks)

    def _decode_objects(self, key: str, raw: Any) -> np.ndarray[Any, Any]:
        where = f" {key!r} of {self.container.location}"
        flat, shape = decode_object_chunk(raw, where=where)
        if self.dtype.fields is not None:
            arr = np.empty(len(flat), dtype=self.dtype)
            for i, row in enumerate(flat):
                try:
                    arr[i] = tuple(element_from_json(v) for v in row) if isinstance(row, list) else row
                except LindiError:
                    raise
                except (ValueError, TypeError, OverflowError) as exc:
                    raise ChunkRefError(
                        f"Element {i} ({row!r}) of chunk{where} does not fit the compound dtype "
                        f"{self.dtype}: {exc}.",
                        key=key,
                    ) from exc
        else:
            arr = np.empty(len(flat), dtype=object)
            arr[:] = [element_from_json(v) for v in flat] if flat else []
        if math.prod(shape) != len(flat) or len(shape) != len(self.meta.chunks):
            # a chunk that does not state its own shape: its elements in C order
            shape = (len(flat),) if len(self.meta.chunks) == 1 else self.meta.chunks
            if math.prod(shape) != len(flat):
                raise ChunkRefError(
                    f"Chunk{where} holds {len(flat)} elements; expected the chunk shape "
                    f"{list(self.meta.chunks)}.",
                    key=key,
                )
        arr = arr.reshape(shape)
        if shape != self.meta.chunks:
            full = self._fill_chunk()
            region = tuple(slice(0, min(a, b)) for a, b in zip(shape, self.meta.chunks, strict=True))
            full[region] = arr[region]
            arr = full
        return arr

    def _chunks(
        self,
        indices: list[tuple[int, ...]],
        place: Callable[[int, np.ndarray[Any, Any]], None] | None = None,
    ) -> list[np.ndarray[Any, Any]]:
        """Return the decoded chunks at ``indices`` (from the cache or the container).

        ``place(i, chunk)``, if given, is called once for each position ``i`` of ``indices``
        with its chunk; for a batch decoded on the pool it runs there, right after the decode,
        so that copying into the result overlaps the remaining decodes and transfers.
        """
        keys = [self._prefix + chunk_key(i) for i in indices]
        out: list[np.ndarray[Any, Any] | None] = [self.cache.get(k) for k in keys]
        missing = [i for i, arr in enumerate(out) if arr is None]
        stats = self._stats
        record_cache(stats, len(keys) - len(missing), len(missing))
        if place is not None:
            for i, arr in enumerate(out):
                if arr is not None:
                    place(i, arr)
        if missing:

            def decode_place(i: int, data: Any) -> np.ndarray[Any, Any]:
                if data is None:
                    arr = self._fill_chunk()
                else:
                    arr = self._decode(keys[i], data)
                    record_decode(stats, arr.nbytes)
                if place is not None:
                    place(i, arr)
                return arr

            if len(missing) >= 4 and self.meta.pipeline.has_codecs and not self.meta.pipeline.is_object:
                # decode on the pool (zlib & co. release the GIL) as each range arrives, while
                # the rest of the batch is still in transfer
                pending: dict[int, Future[np.ndarray[Any, Any]]] = {}

                def ready(indices: list[int], blobs: list[Any]) -> None:
                    for j in indices:
                        pending[j] = _encoder_pool().submit(decode_place, missing[j], blobs[j])

                blobs = self.container.read_many([keys[i] for i in missing], on_ready=ready)
                decoded = [
                    pending[j].result() if j in pending else decode_place(i, blobs[j])
                    for j, i in enumerate(missing)
                ]
            else:
                blobs = self.container.read_many([keys[i] for i in missing])
                decoded = [decode_place(i, data) for i, data in zip(missing, blobs, strict=True)]
            for i, arr in zip(missing, decoded, strict=True):
                self.cache.put(keys[i], arr)
                out[i] = arr
        return out  # type: ignore[return-value]

    # ------------------------------------------------------------------ reading
    def read(self, sel: Selection) -> np.ndarray[Any, Any]:
        """Return the selected elements as a new array of shape ``sel.shape``."""
        out = np.empty(sel.shape, dtype=self.dtype)
        if out.size == 0:
            return out
        if read_from_table(self, sel, out):
            return out
        parts = list(sel.parts(self.meta.chunks, self.meta.shape))
        if self._direct_ok and len(parts) > 1:
            parts = self._read_direct(parts, out)

        def place(i: int, chunk: np.ndarray[Any, Any]) -> None:
            # parts write disjoint regions of ``out``, so pool threads may place concurrently
            part = parts[i]
            local, int_axes = _keep_list_axis_in_place(part.local)
            values = chunk[local]
            out[part.out] = np.squeeze(values, axis=int_axes) if int_axes else values

        self._chunks([p.grid_index for p in parts], place)
        return out

    def _read_direct(self, parts: list[ChunkPart], out: np.ndarray[Any, Any]) -> list[ChunkPart]:
        """Read whole raw chunks straight into ``out``; return the parts still to read.

        Applies to uncompressed numeric arrays whose chunk lands in ``out`` as one contiguous
        block (an interior chunk spanning the trailing axes): the file's bytes are the array's.
        """
        keys: list[str] = []
        views: list[memoryview] = []
        direct: list[int] = []
        for i, part in enumerate(parts):
            if not part.full:
                continue
            target = out[part.out]
            if target.shape != self.meta.chunks or not target.flags.c_contiguous:
                continue
            key = self._prefix + chunk_key(part.grid_index)
            if self.cache.get(key) is not None:
                continue
            keys.append(key)
            views.append(memoryview(target).cast("B"))
            direct.append(i)
        if not keys:
            return parts
        done = self.container.read_into(keys, views)
        skip = {direct[j] for j, ok in enumerate(done) if ok}
        return [p for i, p in enumerate(parts) if i not in skip]

    def read_within_chunk(self, key: Any) -> Any:
        """Fast path for a basic selection inside one chunk; None when it does not apply.

        Handles a tuple of ints and step-1 slices (one per axis) that touches a single chunk,
        the common "small slice" case, without building a selection plan.
        """
        shape = self.meta.shape
        chunks = self.meta.chunks
        if type(key) is not tuple:
            key = (key,)
        if len(key) != len(shape):
            return None
        local: list[Any] = []
        index: list[int] = []
        for k, n, c in zip(key, shape, chunks):  # noqa: B905 - lengths checked above
            if type(k) is slice:
                if k.step is not None and k.step != 1:
                    return None
                start, stop, _ = k.indices(n)
                if stop <= start:
                    return None
                ci = start // c
                if (stop - 1) // c != ci:
                    return None
                local.append(slice(start - ci * c, stop - ci * c))
            elif type(k) is int:
                if k < 0:
                    k += n
                if not 0 <= k < n:
                    return None
                ci = k // c
                local.append(k - ci * c)
            else:
                return None
            index.append(ci)
        chunk = self._chunks([tuple(index)])[0]
        value = chunk[tuple(local)]
        # an element of an object chunk is a str or Reference; arrays and numpy scalars are copied
        # so that callers never hold a view of the cached chunk
        return value.copy() if isinstance(value, np.ndarray | np.generic) else value

    # ------------------------------------------------------------------ writing
    def _encode(self, chunk: np.ndarray[Any, Any]) -> bytes:
        if self.meta.pipeline.is_object:
            return self.meta.pipeline.encode(encode_object_chunk(chunk))
        return self.meta.pipeline.encode(np.ascontiguousarray(chunk, dtype=self.meta.dtype).tobytes())

    def write(self, sel: Selection, value: Any) -> None:
        """Write ``value`` (broadcast to ``sel.shape``) into the selected elements.

        Chunks are encoded in batches; with a compressor, a batch is encoded on a small thread
        pool (zlib, blosc and zstd release the GIL), then stored in order.
        """
        data = self.coerce(value, sel.shape)
        if data.size == 0:
            return
        parts = list(sel.parts(self.meta.chunks, self.meta.shape))
        need = [p.grid_index for p in parts if not p.full]
        existing = dict(zip(need, self._chunks(need), strict=True)) if need else {}
        parallel = self.meta.pipeline.has_codecs and not self.meta.pipeline.is_object and len(parts) >= 4
        for start in range(0, len(parts), _WRITE_BATCH):
            batch = parts[start:start + _WRITE_BATCH]
            chunks = []
            for part in batch:
                chunk = self._fill_chunk() if part.full else existing[part.grid_index].copy()
                local, int_axes = _keep_list_axis_in_place(part.local)
                values = data[part.out]
                chunk[local] = np.expand_dims(values, int_axes) if int_axes else values
                chunks.append(chunk)
            encoded = list(_encoder_pool().map(self._encode, chunks)) if parallel else [self._encode(c) for c in chunks]
            for part, blob in zip(batch, encoded, strict=True):
                key = self._prefix + chunk_key(part.grid_index)
                self.container.store_chunk(key, blob)
                self.cache.discard(key)

    def clear_outside(self, index: tuple[int, ...], shape: tuple[int, ...]) -> None:
        """Reset the elements of chunk ``index`` that lie outside ``shape`` to the fill value.

        Used when a dataset shrinks, so that growing it again shows the fill value (as in h5py)
        rather than the old data still stored in the edge chunk.
        """
        key = self._prefix + chunk_key(index)
        old = self._chunks([index])[0]
        inside = tuple(
            slice(0, max(0, min(c, s - i * c))) for i, c, s in zip(index, self.meta.chunks, shape, strict=True)
        )
        chunk = self._fill_chunk()
        chunk[inside] = old[inside]
        self.container.store_chunk(key, self._encode(chunk))
        self.cache.discard(key)

    def coerce(self, value: Any, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
        """Convert user data to an array of the dataset dtype broadcast to ``shape``."""
        if self.dtype.fields is not None:
            arr = np.asarray(value)
            if arr.dtype.fields is None:
                arr = np.array(value, dtype=self.dtype)
            conv = np.empty(arr.shape, dtype=self.dtype)
            for name in self.dtype.names or ():
                conv[name] = arr[name]
            return np.broadcast_to(conv, shape)
        if self.dtype.kind == "O":
            if isinstance(value, np.ndarray):
                arr = np.asarray(value, dtype=object)
            else:
                arr = np.empty(np.shape(value), dtype=object)
                arr[...] = value
            if not is_reference_dtype(self.dtype):
                arr = np.vectorize(_to_text, otypes=[object])(arr) if arr.size else arr
            return np.broadcast_to(arr, shape)
        return np.broadcast_to(np.asarray(value, dtype=self.meta.dtype), shape)


def _keep_list_axis_in_place(local: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[int, ...]]:
    """Turn integer selectors into length-1 slices when an index list is present.

    NumPy moves the axis of an index list to the front when it is separated from an integer
    index by a slice (``a[0, :, [1, 3]]``); h5py keeps it in place. With the integers as
    length-1 slices the list is the only advanced index, so its axis stays where it is; the
    caller drops (or adds) the length-1 axes returned as the second item.
    """
    if not any(isinstance(sel, np.ndarray) for sel in local):
        return local, ()
    int_axes = tuple(i for i, sel in enumerate(local) if isinstance(sel, int))
    return tuple(slice(sel, sel + 1) if isinstance(sel, int) else sel for sel in local), int_axes


def _to_text(value: Any) -> Any:
    if isinstance(value, Reference):
        return value
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8")
    if value is None:
        return ""
    return str(element_to_json(value)) if not isinstance(value, str) else value
