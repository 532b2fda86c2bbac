"""Dask arrays over LINDI datasets, for threads, processes and clusters (the ``dask`` extra).

This module only schedules: each dask task holds a small picklable
:class:`~hdmf_lindi.tree.handle.DatasetHandle` (location, path, identity: a few hundred bytes),
reopens the file once per worker process through the per-process cache of open files, and
reads its block with the ordinary chunk engine, whole storage chunks at a time (one batched,
coalesced read per task). The scheduler is dask's: threads, processes or ``dask.distributed``.

Blocks are made of whole storage chunks: the trailing axes are widened to their full extent
(innermost first) while a block stays under the target size, then the first axis grows by
whole chunks up to it. A storage chunk is therefore never split between two tasks (which would
fetch and decode it twice), and the chunks of one task are usually adjacent in the file.

Import cost: dask is imported when this module is (``import hdmf_lindi`` does not import it);
distributed only when :class:`~hdmf_lindi.dask_plugin.LindiWorkerPlugin` is asked for.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import dask
import dask.array as da
import numpy as np
from dask.base import tokenize

from .errors import UnsupportedError
from .format.dtypes import is_reference_dtype
from .storage import RemoteOptions
from .tree.handle import OPEN_FILES, DatasetHandle, FileHandle

if TYPE_CHECKING:
    from .tree import Dataset

__all__ = [  # and LindiWorkerPlugin, from dask_plugin on first use (it imports distributed)
    "aligned_chunks",
    "block_itemsize",
    "open_dask",
    "target_block_bytes",
    "to_dask",
]

logger = logging.getLogger(__name__)


def target_block_bytes(target_bytes: int | None) -> int:
    """``target_bytes``, or dask's ``array.chunk-size`` (128 MiB by default) when None."""
    if target_bytes is not None:
        if target_bytes < 1:
            raise ValueError(f"target_bytes must be positive, not {target_bytes}.")
        return target_bytes
    return int(dask.utils.parse_bytes(dask.config.get("array.chunk-size")))


def aligned_chunks(
    shape: tuple[int, ...], chunks: tuple[int, ...] | None, itemsize: int, target_bytes: int
) -> tuple[int, ...]:
    """Return a dask block shape made of whole storage chunks (see the module docstring).

    Parameters
    ----------
    shape
        The array's shape.
    chunks
        Its storage chunk shape (None: one block).
    itemsize
        Bytes per element in memory (8 for object arrays).
    target_bytes
        The block size to grow towards; a block is never smaller than one storage chunk.
    """
    if not shape:
        return ()
    if chunks is None:
        return tuple(max(1, n) for n in shape)
    block = [max(1, min(c, n)) for c, n in zip(chunks, shape, strict=True)]
    itemsize = max(1, itemsize)
    for axis in range(len(shape) - 1, 0, -1):  # innermost first: neighbours in the file
        full = list(block)
        full[axis] = max(1, shape[axis])
        if math.prod(full) * itemsize > target_bytes:
            break
        block = full
    row = math.prod(block[1:]) * itemsize
    per_chunk = block[0] * row
    grow = max(1, target_bytes // per_chunk) if per_chunk else 1
    block[0] = max(1, min(shape[0], block[0] * grow))
    return tuple(block)


def block_itemsize(dtype: np.dtype[Any]) -> int:
    """Bytes per element in memory, counting an object (string) element as a pointer."""
    return 8 if dtype.kind == "O" else int(dtype.itemsize)


def to_dask(
    dataset: Dataset | DatasetHandle,
    chunks: Any = "auto",
    *,
    target_bytes: int | None = None,
    name: str | None = None,
) -> da.Array:
    """Return a lazy ``dask.array.Array`` over a dataset of a read-only file.

    Parameters
    ----------
    dataset
        A :class:`~hdmf_lindi.Dataset` (of a file opened read-only from a path or URL) or a
        :class:`~hdmf_lindi.tree.handle.DatasetHandle`.
    chunks
        ``"auto"`` (default): whole storage chunks grown to ``target_bytes`` (see
        :func:`aligned_chunks`). Anything else is passed to ``dask.array.from_array``.
    target_bytes
        Block size for ``"auto"``; defaults to dask's ``array.chunk-size`` (128 MiB).
    name
        The dask name of the array; by default derived from the file's location and identity
        and the dataset's path, so that the same data gets the same name.

    Raises
    ------
    NotPicklableError
        If the dataset's file is writable or in memory (tasks could not reopen it).
    UnsupportedError
        For a dataset of object references.
    """
    handle = dataset if isinstance(dataset, DatasetHandle) else DatasetHandle.of(dataset)
    if is_reference_dtype(handle.dtype):
        raise UnsupportedError(
            f"/{handle.path} holds object references; dask arrays hold values. Read the "
            "references and resolve them instead."
        )
    if isinstance(chunks, str) and chunks == "auto":
        chunks = aligned_chunks(handle.shape, handle.chunks, block_itemsize(handle.dtype), target_block_bytes(target_bytes))
    if name is None:
        name = "hdmf-lindi-" + tokenize(handle.file, handle.path, handle.shape, str(handle.dtype), chunks)
    meta = np.empty((0,) * len(handle.shape), dtype=handle.dtype)
    return da.from_array(
        handle, chunks=chunks, name=name, lock=False, inline_array=True, meta=meta, asarray=False, fancy=False,
    )


def open_dask(
    location: str,
    path: str,
    *,
    chunks: Any = "auto",
    target_bytes: int | None = None,
    options: RemoteOptions | None = None,
    allow_local_paths: bool | None = None,
) -> da.Array:
    """Open dataset ``path`` of the LINDI file at ``location`` (path or URL) as a dask array.

    The file is opened read-only through this process's cache of open files (so it stays open
    for the array's tasks; see :mod:`hdmf_lindi.tree.handle`). Other parameters as
    :func:`hdmf_lindi.dask.to_dask` and :class:`~hdmf_lindi.File`.

    Raises
    ------
    NodeNotFoundError
        If ``path`` is not in the file.
    TypeError
        If ``path`` names a group.
    """
    from .tree import Dataset
    from .tree.array import CHUNK_CACHE_BYTES

    handle = FileHandle.at(location, options, allow_local_paths, chunk_cache_bytes=CHUNK_CACHE_BYTES)
    node = OPEN_FILES.get(handle)[path]
    if not isinstance(node, Dataset):
        raise TypeError(f"{path!r} of {location} is a group, not a dataset.")
    return to_dask(node, chunks, target_bytes=target_bytes)


def __getattr__(name: str) -> Any:
    # the worker plugin needs distributed (~1-2 s to import): only when asked for
    if name == "LindiWorkerPlugin":
        from .dask_plugin import LindiWorkerPlugin

        return LindiWorkerPlugin
    raise AttributeError(f"module 'hdmf_lindi.dask' has no attribute {name!r}")
