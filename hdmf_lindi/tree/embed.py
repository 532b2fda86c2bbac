"""Make a LINDI file self-contained: pull every chunk it references in other files inside it.

An index of a remote NWB file holds ``[url, offset, length]`` references; a copy made with
:func:`embed_references` holds the bytes themselves (as blobs of a ``.lindi.tar`` or
``.lindi.d``, or inline in a ``.lindi.json``), unchanged: nothing is decoded or re-encoded.
The bytes are fetched concurrently through the file's fetcher in bounded batches, so memory
stays at one batch whatever the file's size. Datasets left as ``_EXTERNAL_ARRAY_LINK`` (no
chunk-level form) still point at their HDF5 file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..storage.refmap import RangeRef
from .group import Group

__all__ = ["embed_references"]

logger = logging.getLogger(__name__)

BATCH_BYTES = 32 << 20
"""Bytes fetched at once (one concurrent, coalesced fetch), at most (or one chunk if larger)."""


def embed_references(
    root: Group, *, batch_bytes: int = BATCH_BYTES, progress: Callable[[int, int], None] | None = None
) -> int:
    """Store inside ``root``'s file every chunk it references in another file; return how many.

    ``progress(done, total)``, if given, is called after each batch with chunk counts.

    Raises
    ------
    ModeError
        If the file is read-only.
    RemoteReadError, ChunkRefError
        If a referenced range cannot be read; the chunks stored so far stay stored (each one
        is complete), the rest keep their references.
    """
    state = root._state
    state.check_writable()
    refmap = state.refmap
    container = state.container
    todo: list[tuple[str, int]] = []
    for key in refmap:
        value = refmap.get(key)
        if isinstance(value, RangeRef) and not value.is_internal:
            todo.append((key, value.length))
    done = 0
    start = 0
    while start < len(todo):
        stop, size = start, 0
        while stop < len(todo) and (stop == start or size + todo[stop][1] <= batch_bytes):
            size += todo[stop][1]
            stop += 1
        keys = [key for key, _ in todo[start:stop]]
        for key, data in zip(keys, container.read_many(keys), strict=True):
            if data is not None:
                container.store_chunk(key, bytes(data))
                done += 1
        start = stop
        if progress is not None:
            progress(start, len(todo))
    refmap.dirty = True
    logger.info("embedded %d referenced chunks into %s", done, container.location)
    return done
