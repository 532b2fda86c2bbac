"""ChunkTable: the byte ranges of one array's chunks, as numpy arrays over its chunk grid.

A table is either *resident* (built from arrays, e.g. by the HDF5 indexer) or *lazy* (read from
a compact on-disk table: see :mod:`.chunk_table_codec` and :mod:`.compact_tables`). A lazy table
knows its grid and count at once and loads the shards (runs of whole grid rows) that hold the
chunks asked for, on first use, through a loader the container provides. Its arrays are
allocated uninitialised, so the memory of shards never loaded is never touched: the resident
cost is 16 bytes per chunk of the loaded shards (18 with a url index).

No I/O here: the loader does it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from ..errors import ReferenceMapError
from .chunk_table_codec import ShardColumns, shard_rows

__all__ = ["ChunkTable", "ShardLoader"]

ShardLoader = Callable[[Sequence[int]], Sequence[ShardColumns]]
"""Returns the decoded columns of the listed shards (in that order)."""

_Int64Array = np.ndarray[Any, np.dtype[np.int64]]


class ChunkTable:
    """The byte ranges of one array's chunks, as arrays over its chunk grid.

    Chunk ``(i, j, ...)`` has store key ``"i.j..."`` under the array's path; entry
    ``np.ravel_multi_index((i, j, ...), grid)`` of ``offsets`` and ``lengths`` holds its range.
    A negative offset marks a chunk without a reference (never written: readers use the fill
    value). The arrays are copied and owned by the table.

    Parameters
    ----------
    url
        The resource every chunk is read from (no ``{{template}}``); with ``url_index``, the
        first of ``urls``.
    grid
        Number of chunks along each dimension (at least one dimension).
    offsets, lengths
        Integers, one per grid entry in C order.
    urls, url_index
        Several resources: entry ``i`` is read from ``urls[url_index[i]]``.
    compact
        Write the table in the compact binary form (else as one JSON reference per chunk).
    hdf5_path
        The dataset's path in the HDF5 file at ``url`` (an indexed dataset): a compact table
        is then written with lindi's ``_EXTERNAL_ARRAY_LINK`` to it, so lindi reads the data.
    source_size
        Size in bytes of the file at ``url``, when known (ranges are checked against it).

    Raises
    ------
    ReferenceMapError
        If the shapes disagree, a length is negative, or a url holds a template.
    """

    __slots__ = (
        "_lengths", "_loaded", "_loader", "_lock", "_offsets", "_shard_entries", "_url_index",
        "compact", "count", "grid", "hdf5_path", "source_size", "stored", "url", "urls",
    )

    def __init__(
        self,
        url: str,
        grid: tuple[int, ...],
        offsets: Any,
        lengths: Any,
        *,
        urls: Sequence[str] | None = None,
        url_index: Any = None,
        compact: bool = False,
        hdf5_path: str | None = None,
        source_size: int | None = None,
    ) -> None:
        self.grid = tuple(int(g) for g in grid)
        self.urls: tuple[str, ...] = tuple(urls) if urls else (url,)
        self.url = self.urls[0]
        self._offsets: _Int64Array = np.array(offsets, dtype=np.int64).reshape(-1)
        self._lengths: _Int64Array = np.array(lengths, dtype=np.int64).reshape(-1)
        self._url_index: np.ndarray[Any, np.dtype[np.uint16]] | None = None
        if url_index is not None:
            self._url_index = np.array(url_index, dtype=np.uint16).reshape(-1)
        self.compact = compact
        self.hdf5_path = hdf5_path
        self.source_size = source_size
        self.stored: dict[str, Any] | None = None
        """The on-disk entry this table was read from, while it is unchanged."""
        self._loader: ShardLoader | None = None
        self._loaded: np.ndarray[Any, np.dtype[np.bool_]] | None = None
        self._lock = threading.Lock()
        self._shard_entries = shard_rows(self.grid) * math.prod(self.grid[1:])
        size = self._check_shape()
        present = self._offsets >= 0
        if np.any(self._lengths[present] < 0):
            raise ReferenceMapError(f"Chunk table of {url!r} has a negative length.")
        if self._url_index is not None and (
            self._url_index.size != size or (size and int(self._url_index.max()) >= len(self.urls))
        ):
            raise ReferenceMapError(f"Chunk table of {url!r}: its url index does not fit {len(self.urls)} urls.")
        self.count = int(np.count_nonzero(present))
        """How many chunks have a reference."""

    def _check_shape(self) -> int:
        size = math.prod(self.grid)
        if not self.grid or min(self.grid) < 0 or self._offsets.size != size or self._lengths.size != size:
            raise ReferenceMapError(
                f"Chunk table of {self.url!r}: grid {self.grid} needs {size} offsets and lengths, got "
                f"{self._offsets.size} and {self._lengths.size}."
            )
        for url in self.urls:
            if "{{" in url:
                raise ReferenceMapError(f"Chunk table url {url!r} must not use a template.")
        return size

    @classmethod
    def lazy(
        cls,
        urls: Sequence[str],
        grid: tuple[int, ...],
        count: int,
        loader: ShardLoader,
        *,
        compact: bool = True,
        hdf5_path: str | None = None,
        source_size: int | None = None,
    ) -> ChunkTable:
        """A table whose shards are loaded on first use by ``loader``.

        Raises
        ------
        ReferenceMapError
            If the grid is invalid or a url holds a template.
        """
        table = cls.__new__(cls)
        table.grid = tuple(int(g) for g in grid)
        table.urls = tuple(urls)
        if not table.urls:
            raise ReferenceMapError("A chunk table needs at least one url.")
        table.url = table.urls[0]
        size = math.prod(table.grid)
        # uninitialised: pages of shards never loaded are never touched
        table._offsets = np.empty(size, dtype=np.int64)
        table._lengths = np.empty(size, dtype=np.int64)
        table._url_index = np.empty(size, dtype=np.uint16) if len(table.urls) > 1 else None
        table.compact = compact
        table.hdf5_path = hdf5_path
        table.source_size = source_size
        table.stored = None
        table._lock = threading.Lock()
        table._shard_entries = shard_rows(table.grid) * math.prod(table.grid[1:])
        table._check_shape()
        table.count = int(count)
        n_shards = -(-size // table._shard_entries) if size else 0
        table._loaded = np.zeros(n_shards, dtype=bool)
        table._loader = loader
        if not n_shards:
            table._loaded = None
            table._loader = None
        return table

    # ------------------------------------------------------------------ shards
    @property
    def shard_entries(self) -> int:
        """Grid entries per shard (whole grid rows)."""
        return self._shard_entries

    @property
    def n_shards(self) -> int:
        """Number of shards of the grid."""
        size = math.prod(self.grid)
        return -(-size // self._shard_entries) if size else 0

    @property
    def pending(self) -> bool:
        """Whether some shards are not loaded yet."""
        return self._loaded is not None

    def ensure(self, indices: Iterable[int]) -> None:
        """Load the shards holding the flat grid ``indices`` (in one loader call)."""
        loaded = self._loaded
        if loaded is None:
            return
        shards = sorted({i // self._shard_entries for i in indices})
        self.load_shards([k for k in shards if not loaded[k]])

    def ensure_keys(self, chunks: Iterable[str]) -> None:
        """Load the shards holding chunk keys ``chunks`` (in one loader call).

        Reads only each key's first grid index (a shard is whole grid rows); a malformed key
        at worst loads a shard for nothing.
        """
        loaded = self._loaded
        if loaded is None:
            return
        rows, first = self._shard_entries // max(1, math.prod(self.grid[1:])), self.grid[0]
        shards: set[int] = set()
        for chunk in chunks:
            head = chunk.partition(".")[0]
            if head.isdigit():
                row = int(head)
                if row < first:
                    shards.add(row // rows)
        self.load_shards([k for k in sorted(shards) if not loaded[k]])

    def load_all(self) -> None:
        """Load every shard not loaded yet."""
        if self._loaded is not None:
            self.load_shards(np.flatnonzero(~self._loaded).tolist())

    def load_shards(self, shards: Sequence[int]) -> None:
        """Load the listed shards (a no-op for those already loaded).

        Raises
        ------
        ReferenceMapError
            If the loader returns columns that do not fit the shards.
        """
        if not shards:
            return
        with self._lock:
            loaded, loader = self._loaded, self._loader
            if loaded is None or loader is None:
                return
            todo = [k for k in shards if not loaded[k]]
            if not todo:
                return
            size = self._offsets.size
            for k, columns in zip(todo, loader(todo), strict=True):
                start = k * self._shard_entries
                stop = min(size, start + self._shard_entries)
                if columns.offsets.size != stop - start or columns.lengths.size != stop - start:
                    raise ReferenceMapError(f"Shard {k} of the chunk table of {self.url!r} does not cover its grid rows.")
                self._offsets[start:stop] = columns.offsets
                self._lengths[start:stop] = columns.lengths
                if self._url_index is not None:
                    self._url_index[start:stop] = 0 if columns.url_index is None else columns.url_index
                loaded[k] = True
            if loaded.all():
                self._loaded = None
                self._loader = None

    # ------------------------------------------------------------------ arrays
    @property
    def offsets(self) -> _Int64Array:
        """Offset of each grid entry, -1 where it has no reference; loads every shard."""
        self.load_all()
        return self._offsets

    @property
    def lengths(self) -> _Int64Array:
        """Lengths of every grid entry; loads every shard."""
        self.load_all()
        return self._lengths

    @property
    def url_index(self) -> np.ndarray[Any, np.dtype[np.uint16]] | None:
        """Index into ``urls`` of every grid entry (None: all use ``url``); loads every shard."""
        self.load_all()
        return self._url_index

    def entry(self, index: int) -> tuple[str, int, int] | None:
        """``(url, offset, length)`` of flat grid entry ``index``, or None without a reference."""
        loaded = self._loaded  # read once: another thread may finish loading meanwhile
        if loaded is not None and not loaded[index // self._shard_entries]:
            self.load_shards([index // self._shard_entries])
        offset = int(self._offsets[index])
        if offset < 0:
            return None
        url = self.url if self._url_index is None else self.urls[int(self._url_index[index])]
        return url, offset, int(self._lengths[index])

    def drop(self, index: int) -> bool:
        """Remove the reference of flat grid entry ``index``; return whether it had one."""
        if self.entry(index) is None:
            return False
        self._offsets[index] = -1
        self.count -= 1
        self.stored = None
        return True

    def slot(self, chunk: str) -> int | None:
        """Return the flat index of chunk key ``chunk`` (e.g. ``"3.0"``) if it has a reference."""
        index = self.index(chunk)
        return index if index is not None and self.entry(index) is not None else None

    def index(self, chunk: str) -> int | None:
        """Return the flat grid index named by chunk key ``chunk``, or None if it names none."""
        parts = chunk.split(".")
        grid = self.grid
        if len(parts) != len(grid):
            return None
        index = 0
        try:
            for part, n in zip(parts, grid):  # noqa: B905 (lengths checked above)
                i = int(part)
                # only canonical decimal keys name a chunk ("03", "+3", " 3" are other keys)
                if not 0 <= i < n or str(i) != part:
                    return None
                index = index * n + i
        except ValueError:
            return None
        return index

    def present(self) -> np.ndarray[Any, np.dtype[np.intp]]:
        """Flat indices of the chunks that have a reference, in C order (loads every shard)."""
        return np.flatnonzero(self.offsets >= 0)

    def urls_of(self, indices: np.ndarray[Any, np.dtype[np.intp]]) -> list[str]:
        """The url of each of the flat grid ``indices``."""
        if self._url_index is None:
            return [self.url] * len(indices)
        return [self.urls[i] for i in self.url_index[indices].tolist()]  # type: ignore[index]

    def chunk_keys(self, indices: np.ndarray[Any, np.dtype[np.intp]]) -> list[str]:
        """Chunk keys (``"i.j..."``) of flat grid ``indices``."""
        if len(self.grid) == 1:
            return list(map(str, indices.tolist()))
        columns = [map(str, c.tolist()) for c in np.unravel_index(indices, self.grid)]
        return list(map(".".join, zip(*columns, strict=True)))

    def with_urls(self, rename: Callable[[str], str]) -> ChunkTable:
        """A resident copy whose urls are mapped through ``rename`` (other settings kept)."""
        url_index = self.url_index
        urls = [rename(u) for u in self.urls]
        return ChunkTable(
            urls[0], self.grid, self.offsets, self._lengths, urls=urls,
            url_index=url_index, compact=self.compact, hdf5_path=self.hdf5_path,
            source_size=self.source_size,
        )
