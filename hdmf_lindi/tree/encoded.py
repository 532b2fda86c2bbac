"""Create a dataset from chunks that are already encoded (copied from HDF5 or another LINDI file).

The caller gives the ``.zarray`` (whose codecs decode the bytes) and a stream of
``(chunk key, bytes)``; each chunk is stored as it arrives (a tar or directory blob, or inline
in JSON), so memory stays at one chunk whatever the dataset's size. A stream that fails
half-way leaves no dataset behind.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterable, Iterator
from typing import Any

from ..format.zarr_v2 import chunk_key
from .copy import all_or_nothing
from .dataset import Dataset
from .group import Group
from .state import _join

__all__ = ["create_encoded", "encoded_chunks"]

logger = logging.getLogger(__name__)


def create_encoded(
    parent: Group, name: str, zarray: dict[str, Any], chunks: Iterable[tuple[str, bytes]],
    zattrs: dict[str, Any] | None = None,
) -> Dataset:
    """Create ``parent/name`` with metadata ``zarray`` and store the encoded ``chunks`` unchanged.

    Raises
    ------
    NodeExistsError
        If the name is taken.
    ModeError
        If the file is read-only.
    """
    state = parent._state
    state.check_writable()
    path = parent._new_path(name)
    container = state.container
    count = 0
    with all_or_nothing(parent):
        state.index.add(path, "array")
        container.set_metadata(_join(path, ".zarray"), dict(zarray))
        if zattrs:
            container.set_metadata(_join(path, ".zattrs"), dict(zattrs))
        for key, data in chunks:
            container.store_chunk(_join(path, key), data)
            count += 1
    state.refmap.dirty = True
    logger.debug("stored %d encoded chunks for /%s", count, path)
    return Dataset(state, path)


_BATCH_BYTES = 64 << 20  # encoded bytes asked for at once (one concurrent fetch), at most


def encoded_chunks(ds: Dataset) -> Iterator[tuple[tuple[int, ...], bytes]]:
    """Yield ``(chunk grid index, encoded bytes)`` of every stored chunk of ``ds``, undecoded.

    Chunks are read in batches of at most ~64 MiB of decoded size (one concurrent fetch per
    batch, wherever they live: inline, in the container, or in a remote file), so memory stays
    bounded whatever the dataset's size. Chunks never written are skipped.
    """
    engine = ds._engine()
    meta = engine.meta
    chunks = tuple(meta.chunks)
    grid = [-(-s // c) for s, c in zip(meta.shape, chunks, strict=True)]
    if not grid or 0 in grid:
        return
    per_chunk = max(1, math.prod(chunks) * meta.dtype.itemsize)
    batch = max(1, min(4096, _BATCH_BYTES // per_chunk))
    prefix = ds._path + "/"
    container = ds._state.container
    indices = itertools.product(*(range(g) for g in grid))
    while True:
        part = list(itertools.islice(indices, batch))
        if not part:
            return
        blobs = container.read_many([prefix + chunk_key(i) for i in part])
        for index, data in zip(part, blobs, strict=True):
            if data is not None:
                yield index, bytes(data)
