"""Vectorised reads of arrays whose chunk references come from a chunk table.

The per-chunk path (:meth:`ArrayEngine._chunks`) spells out a store key per chunk, looks each up,
builds a range, decodes and places each chunk on its own: ~40-100 us a chunk, so a slice of
30,000 small chunks costs seconds. Here the grid indices of the selection are computed with
numpy, offsets and lengths are taken straight from the table's arrays (covering shards loaded in
one call), runs of adjacent fixed-size raw chunks are read as one range and copied with one numpy
copy, compressed chunks are decoded in batches on the pool into one block array, and the block is
placed into the result with one reshape and one indexing.

Semantics are those of the per-chunk path: missing chunks read as the fill value, a chunk whose
key ``refs`` also holds (appended after the table) is read from there, short raw chunks are
padded, and damaged chunks raise the same errors. Selections with an index list, and reads of
few chunks (which benefit from the decoded-chunk cache), use the per-chunk path.
"""

from __future__ import annotations

import math
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ChunkRefError, LindiError, SourceChangedError
from ..format.zarr_v2 import chunk_key
from ..storage.refmap import RangeRef, TableRanges
from ..storage.stats import record_decode
from .selection import Selection

if TYPE_CHECKING:
    from .array import ArrayEngine

__all__ = ["MIN_CHUNKS", "read_from_table"]

MIN_CHUNKS = 32
"""Reads of fewer chunks take the per-chunk path (its decoded-chunk cache helps repeated reads)."""
_BLOCK_SLACK = 32 << 20  # the block of whole chunks may exceed the result by this much (or 8x)
_DECODE_BATCH = 256  # compressed chunks decoded per pool task

_AxisPick = int | slice | np.ndarray[Any, Any]


def _axis_plan(sel: int | slice, chunk: int) -> tuple[np.ndarray[Any, Any], _AxisPick]:
    """Chunk indices an axis touches, and what to pick along that axis of their concatenation."""
    if isinstance(sel, int):
        return np.array([sel // chunk], dtype=np.intp), sel % chunk
    if sel.step == 1:
        first, last = sel.start // chunk, (sel.stop - 1) // chunk
        ids = np.arange(first, last + 1, dtype=np.intp)
        return ids, slice(sel.start - first * chunk, sel.stop - first * chunk)
    elems = np.arange(sel.start, sel.stop, sel.step, dtype=np.intp)
    ids, rank = np.unique(elems // chunk, return_inverse=True)
    pos = rank * chunk + elems % chunk
    steps = np.diff(pos)
    if pos.size == 1 or (steps.size and np.all(steps == steps[0])):
        step = int(steps[0]) if steps.size else 1
        return ids, slice(int(pos[0]), int(pos[-1]) + 1, step)
    return ids, pos


def read_from_table(engine: ArrayEngine, sel: Selection, out: np.ndarray[Any, Any]) -> bool:
    """Read ``sel`` into ``out`` through the array's chunk table; False if this path does not apply.

    Raises
    ------
    ChunkRefError
        If a chunk's reference points outside its target, or its bytes do not decode.
    RemoteReadError
        If an HTTP read fails.
    """
    meta = engine.meta
    refmap = engine.container.refmap
    table = refmap.chunk_table(engine.path)
    if (
        table is None
        or meta.pipeline.is_object
        or meta.dtype.kind not in "iufb"
        or engine.dtype != meta.dtype
        or len(table.grid) != len(meta.shape)
        or any(not isinstance(a, int | slice) for a in sel.axes)
    ):
        return False
    plans = [_axis_plan(a, c) for a, c in zip(sel.axes, meta.chunks, strict=True)]  # type: ignore[arg-type]
    box = tuple(len(ids) for ids, _ in plans)
    count = math.prod(box)
    if count < MIN_CHUNKS or count * engine._chunk_nbytes > max(8 * out.nbytes, _BLOCK_SLACK):
        return False
    # flat indices in the table's grid (which may be smaller than the array's after a resize)
    flat = np.zeros(box, dtype=np.intp)
    outside = np.zeros(box, dtype=bool)
    for axis, (ids, _) in enumerate(plans):
        shape = [1] * len(box)
        shape[axis] = len(ids)
        flat = flat + ids.reshape(shape) * math.prod(table.grid[axis + 1:])
        outside = outside | (ids >= table.grid[axis]).reshape(shape)
    flat = np.where(outside, -1, flat).reshape(-1)
    ranges = refmap.table_ranges(engine.path, flat)
    if ranges is None:
        return False
    block = np.empty((count, *meta.chunks), dtype=meta.dtype)
    _fill_block(engine, block, [ids for ids, _ in plans], ranges)
    _place(block, box, meta.chunks, plans, out)
    return True


def _place(
    block: np.ndarray[Any, Any],
    box: tuple[int, ...],
    chunks: tuple[int, ...],
    plans: list[tuple[np.ndarray[Any, Any], _AxisPick]],
    out: np.ndarray[Any, Any],
) -> None:
    """Copy the selected elements of the chunks in ``block`` (box order) into ``out``."""
    ndim = len(chunks)
    grid_view = block.reshape(box + chunks)
    order = [a for axis in range(ndim) for a in (axis, ndim + axis)]
    whole = grid_view.transpose(order).reshape(tuple(n * c for n, c in zip(box, chunks, strict=True)))
    basic = tuple(slice(p, p + 1) if isinstance(p, int) else p if isinstance(p, slice) else slice(None)
                  for _, p in plans)
    picked = whole[basic]
    for axis, (_, p) in enumerate(plans):
        if isinstance(p, np.ndarray):
            picked = np.take(picked, p, axis=axis)
    out[...] = picked.reshape(out.shape)


def _fill_block(
    engine: ArrayEngine,
    block: np.ndarray[Any, Any],
    ids: list[np.ndarray[Any, Any]],
    ranges: TableRanges,
) -> None:
    """Put every chunk of the box ``ids`` (its decoded bytes, or the fill value) in ``block``."""
    meta = engine.meta
    container = engine.container
    nbytes = engine._chunk_nbytes
    count = len(block)
    box = tuple(len(i) for i in ids)
    rows = block.reshape(count, -1).view(np.uint8)
    offsets, lengths, url_index = ranges.offsets, ranges.lengths, ranges.url_index
    prefix = engine._prefix

    def key_of(pos: int) -> str:
        where = np.unravel_index(pos, box)
        return prefix + chunk_key(tuple(int(a[w]) for a, w in zip(ids, where, strict=True)))

    holes = np.flatnonzero(offsets < 0).tolist()
    overrides = container.refmap.held(key_of(pos) for pos in holes) if holes else {}
    overrides = {holes[i]: value for i, value in overrides.items()}
    present = offsets >= 0
    absent = np.array([pos for pos in holes if pos not in overrides], dtype=np.intp)
    if absent.size:
        fill = meta.fill_value
        block[absent] = 0 if fill is None else fill
    # requests: (target, start, stop), and what each answer becomes
    plan: list[Any] = []
    runs: list[tuple[int, int]] = []  # (first position, number of chunks) of a raw run; n=0: one chunk
    urls = ranges.urls
    raw = not meta.pipeline.has_codecs
    if raw:
        whole = present & (lengths == nbytes)
        idx = np.flatnonzero(whole)
        if idx.size:
            same_url = np.ones(idx.size - 1, dtype=bool) if url_index is None else url_index[idx[1:]] == url_index[idx[:-1]]
            joined = (np.diff(idx) == 1) & (np.diff(offsets[idx]) == nbytes) & same_url
            starts = np.flatnonzero(np.concatenate(([True], ~joined)))
            sizes = np.diff(np.concatenate((starts, [idx.size])))
            for s, n in zip(idx[starts].tolist(), sizes.tolist(), strict=True):
                plan.append(_target(container, urls, url_index, s, int(offsets[s]), n * nbytes))
                runs.append((s, n))
        single = np.flatnonzero(present & ~whole).tolist()
    else:
        single = np.flatnonzero(present).tolist()
    for s in single:
        plan.append(_target(container, urls, url_index, s, int(offsets[s]), int(lengths[s])))
        runs.append((s, 0))
    inline: list[tuple[int, bytes]] = []
    for pos, value in overrides.items():
        if isinstance(value, RangeRef):
            plan.append(container._plan(key_of(pos), value))
            runs.append((pos, -1))
        else:
            inline.append((pos, value))

    pipeline = meta.pipeline
    stats = engine._stats

    def decode_one(pos: int, data: Any, exact: bool) -> None:
        if exact:
            try:
                buf = pipeline.decode(data, nbytes)
                arr = np.frombuffer(buf, dtype=np.uint8) if not isinstance(buf, np.ndarray) else buf.view(np.uint8).reshape(-1)
                if arr.size == nbytes:
                    rows[pos] = arr
                    return
            except LindiError:
                pass  # decoded again below, for the error that names the chunk
        rows[pos] = engine._decode(key_of(pos), bytes(data)).reshape(-1).view(np.uint8)

    def settle(j: int, data: Any) -> None:
        first, n = runs[j]
        if n > 0:
            rows[first:first + n] = np.frombuffer(data, dtype=np.uint8).reshape(n, nbytes)
        else:
            decode_one(first, data, n == 0)

    for pos, value in inline:
        decode_one(pos, value, False)
    pending: list[Future[None]] = []
    pool = None if raw else _pool()

    def batch(js: list[int], blobs: list[Any]) -> None:
        for j in js:
            settle(j, blobs[j])

    def ready(js: list[int], blobs: list[Any]) -> None:
        assert pool is not None
        for k in range(0, len(js), _DECODE_BATCH):
            part = js[k:k + _DECODE_BATCH]
            pending.append(pool.submit(batch, part, blobs))

    if plan:
        try:
            blobs = container.fetcher.read_many(plan, on_ready=None if raw else ready)
        except SourceChangedError:
            raise
        except ChunkRefError as exc:
            raise ChunkRefError(f"Cannot read a chunk of {container.location}: {exc}", url=exc.url) from exc
        if raw:
            batch(list(range(len(plan))), blobs)
        for future in pending:
            future.result()
    decoded = int(np.count_nonzero(present)) + len(overrides)
    record_decode(stats, decoded * nbytes, decoded)


def _target(container: Any, urls: tuple[str, ...], url_index: Any, pos: int, offset: int, length: int) -> Any:
    url = urls[0] if url_index is None else urls[int(url_index[pos])]
    if url.startswith("./"):
        return container._plan("chunk table entry", RangeRef(url, offset, length))
    return (url, offset, offset + length)


def _pool() -> Any:
    from .array import _encoder_pool

    return _encoder_pool()
