"""Vectorised reads of arrays whose chunk references come from a chunk table.

The per-chunk path (:meth:`ArrayEngine._chunks`) spells out a store key per chunk, looks each up,
builds a range, decodes and places each chunk on its own: tens of microseconds a chunk, so a
slice of 30,000 small chunks costs seconds. Here the grid indices of the selection are computed
with numpy and offsets and lengths taken straight from the table's arrays (the covering shards
loaded in one call). Runs of adjacent fixed-size raw chunks are read as one range and copied
with one numpy copy; compressed chunks are read in spans of nearby bytes (one range each, which
the fetcher merges further) and decoded span by span on the pool, a span's chunks landing in
consecutive rows of one block with one copy. The block of whole chunks is placed into the result
with one reshape and one indexing.

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
from ..format import fast_deflate
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
_SPAN_GAP = 4096  # chunks at most this far apart are read in one span
_SPAN_BYTES = 64 << 10  # spans do not cross multiples of this (the fetcher merges them further)
_RUN, _SPAN, _REF = 0, 1, 2

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
    # requests (target, start, stop), and what each answer becomes: (kind, a, b) with kind
    # _RUN: a raw run of b chunks from position a; _SPAN: members a..b-1 of ``members``;
    # _REF: a chunk held in ``refs`` at position a
    plan: list[Any] = []
    jobs: list[tuple[int, int, int]] = []
    urls = ranges.urls
    codecs = meta.pipeline.has_codecs
    rest = present
    if not codecs:
        whole = present & (lengths == nbytes)
        idx = np.flatnonzero(whole)
        if idx.size:
            same_url = np.ones(idx.size - 1, dtype=bool) if url_index is None else url_index[idx[1:]] == url_index[idx[:-1]]
            joined = (np.diff(idx) == 1) & (np.diff(offsets[idx]) == nbytes) & same_url
            starts = np.flatnonzero(np.concatenate(([True], ~joined)))
            sizes = np.diff(np.concatenate((starts, [idx.size])))
            for first, n in zip(idx[starts].tolist(), sizes.tolist(), strict=True):
                plan.append(_target(container, urls, url_index, first, int(offsets[first]), n * nbytes))
                jobs.append((_RUN, first, n))
        rest = present & ~whole
    members = np.flatnonzero(rest)
    member_pos, member_rel, member_len = _spans(container, urls, url_index, offsets, lengths, members, plan, jobs)
    for pos, value in overrides.items():
        if isinstance(value, RangeRef):
            plan.append(container._plan(key_of(pos), value))
            jobs.append((_REF, pos, 0))

    pipeline = meta.pipeline
    stats = engine._stats
    fast_decode = _fast_decoder(pipeline, nbytes)

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
        kind, a, b = jobs[j]
        if kind == _RUN:
            rows[a:a + b] = np.frombuffer(data, dtype=np.uint8).reshape(b, nbytes)
        elif kind == _SPAN:
            view = memoryview(data)
            if codecs and member_pos[b - 1] - member_pos[a] == b - a - 1 and _decode_run(
                fast_decode, view, member_rel[a:b], member_len[a:b], rows[member_pos[a]:member_pos[b - 1] + 1]
            ):
                return
            for k in range(a, b):
                r = member_rel[k]
                decode_one(member_pos[k], view[r:r + member_len[k]], codecs)
        else:
            decode_one(a, data, False)

    for pos, value in overrides.items():
        if not isinstance(value, RangeRef):
            decode_one(pos, value, False)
    pending: list[Future[None]] = []
    pool = _pool() if codecs else None

    def batch(js: list[int], blobs: list[Any]) -> None:
        for j in js:
            settle(j, blobs[j])

    def ready(js: list[int], blobs: list[Any]) -> None:
        assert pool is not None
        for j in js:
            pending.append(pool.submit(settle, j, blobs[j]))

    if plan:
        try:
            blobs = container.fetcher.read_many(plan, on_ready=ready if codecs else None)
        except SourceChangedError:
            raise
        except ChunkRefError as exc:
            raise ChunkRefError(f"Cannot read a chunk of {container.location}: {exc}", url=exc.url) from exc
        if not codecs:
            batch(list(range(len(plan))), blobs)
        for future in pending:
            future.result()
    decoded = int(np.count_nonzero(present)) + len(overrides)
    record_decode(stats, decoded * nbytes, decoded)


def _fast_decoder(pipeline: Any, nbytes: int) -> Any:
    """A function decoding the chunks of a span into consecutive rows of a block; False when
    any fails (errors are left to the caller's slow path)."""
    if len(pipeline.codecs) == 1 and fast_deflate.AVAILABLE and fast_deflate.is_deflate_codec(pipeline.codecs[0]):
        codec = pipeline.codecs[0]
        return lambda view, rel, size, target: fast_deflate.decode_many_into(codec, view, rel, size, target)

    def decode(view: memoryview, rel: list[int], size: list[int], target: np.ndarray[Any, Any]) -> bool:
        outs = []
        try:
            for r, n in zip(rel, size, strict=True):
                out = pipeline.decode(view[r:r + n], nbytes)
                if memoryview(out).nbytes != nbytes:
                    return False
                outs.append(out)
        except Exception:  # noqa: BLE001 - any failure is raised again, with its chunk named, by the slow path
            return False
        target[...] = np.frombuffer(b"".join(outs), dtype=np.uint8).reshape(target.shape)
        return True

    return decode


def _decode_run(decode: Any, view: memoryview, rel: list[int], size: list[int], target: np.ndarray[Any, Any]) -> bool:
    """Decode the chunks of one span into consecutive rows ``target``; False if any does not
    decode to exactly a row (the caller then decodes them one by one, for the error)."""
    return bool(decode(view, rel, size, target))


def _spans(
    container: Any,
    urls: tuple[str, ...],
    url_index: Any,
    offsets: np.ndarray[Any, Any],
    lengths: np.ndarray[Any, Any],
    members: np.ndarray[Any, Any],
    plan: list[Any],
    jobs: list[tuple[int, int, int]],
) -> tuple[list[int], list[int], list[int]]:
    """Group the chunks at positions ``members`` into spans of nearby bytes, one request each.

    Appends the requests to ``plan`` and ``(_SPAN, a, b)`` to ``jobs``; returns, per member,
    its position, its offset inside its span's answer and its length.
    """
    if not members.size:
        return [], [], []
    o, n = offsets[members], lengths[members]
    u = np.zeros(members.size, dtype=np.intp) if url_index is None else url_index[members].astype(np.intp)
    gap = o[1:] - (o[:-1] + n[:-1])
    joined = (u[1:] == u[:-1]) & (gap >= 0) & (gap <= _SPAN_GAP) & (o[1:] // _SPAN_BYTES == o[:-1] // _SPAN_BYTES)
    starts = np.flatnonzero(np.concatenate(([True], ~joined)))
    stops = np.concatenate((starts[1:], [members.size]))
    base = np.repeat(o[starts], stops - starts)
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        first = int(members[a])
        start = int(o[a])
        plan.append(_target(container, urls, url_index, first, start, int(o[b - 1] + n[b - 1]) - start))
        jobs.append((_SPAN, a, b))
    return members.tolist(), (o - base).tolist(), n.tolist()


def _target(container: Any, urls: tuple[str, ...], url_index: Any, pos: int, offset: int, length: int) -> Any:
    url = urls[0] if url_index is None else urls[int(url_index[pos])]
    if url.startswith("./"):
        return container._plan("chunk table entry", RangeRef(url, offset, length))
    return (url, offset, offset + length)


def _pool() -> Any:
    from .array import _encoder_pool

    return _encoder_pool()
