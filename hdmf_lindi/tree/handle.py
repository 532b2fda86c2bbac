"""Picklable handles: a read-only file named by its location, reopened once per process.

A :class:`FileHandle` is what a read-only :class:`~hdmf_lindi.File` opened from a path or URL
pickles to: the location, the remote options that differ from the defaults (they hold no
secret: a DANDI token is read from each process's own environment), ``allow_local_paths``, the
chunk-cache budget and the identity of the file (a
:class:`~hdmf_lindi.storage.identity.SourceIdentity`: size and modification time of a local
file; size, ETag and Last-Modified of a remote one). Unpickling costs nothing; the first read in a process opens the file
through ``OPEN_FILES``, a bounded per-process LRU of open files (xarray's
``CachingFileManager`` idea), so a dask worker opens each file once, however many tasks read it.

A :class:`DatasetHandle` adds the path of a dataset and its shape, dtype and chunks (so that
dask can plan without opening anything) and reads like an array. In the process that made it,
it reads through the live dataset it was made from; elsewhere through ``OPEN_FILES``.

Before a handle reads through a reopened file, the file's identity is compared with the one the
handle carries: a file replaced since the handle was made (a rewritten index, an amended tar)
raises :class:`~hdmf_lindi.errors.SourceChangedError` rather than returning other data. A local
file is re-checked on every lookup (one ``stat``); a remote one when it is opened in the
process (from the answers that open it, no extra request).

Files open in write modes, and files over an in-memory reference map, have no location to
reopen from and refuse to pickle (:class:`~hdmf_lindi.errors.NotPicklableError`).

The cache is closed at interpreter exit and forgotten in a forked child (the child opens its
own files: it must not share the parent's connections).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import logging
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import NotPicklableError, SourceChangedError
from ..storage import RemoteOptions, is_url
from ..storage.dir_container import JSON_NAME, DirContainer
from ..storage.identity import SourceIdentity, checks_enabled, local_identity
from ..storage.memory_container import MemoryContainer

if TYPE_CHECKING:
    from ..storage.containers import Container
    from . import Dataset, File, Group

__all__ = [
    "OPEN_FILES",
    "DatasetHandle",
    "FileHandle",
    "OpenFiles",
    "configure",
    "file_identity",
]

logger = logging.getLogger(__name__)

FILE_CACHE_SIZE = 128
"""Default bound of the per-process cache of open files (xarray's ``file_cache_maxsize``)."""

_DEFAULT_OPTIONS = RemoteOptions()


# ---------------------------------------------------------------------- identity
def _document_location(container: Container) -> str:
    """The file (or URL) holding the reference map of ``container``."""
    if isinstance(container, DirContainer):
        if is_url(container.location):
            return f"{container.location.rstrip('/')}/{JSON_NAME}"
        return os.path.join(container.location, JSON_NAME)
    return container.location


def file_identity(container: Container) -> SourceIdentity | None:
    """Return what identifies the file under ``container``, or None if unknown.

    A local file: size and modification time of its document (``lindi.json`` of a
    ``.lindi.d``), from one ``stat``. A remote file: size, ETag and Last-Modified as the
    answers that opened it stated them (no request is made).
    """
    where = _document_location(container)
    if not is_url(where):
        return _local_identity(where)
    return getattr(container.fetcher.source(where), "identity", None)


def _local_identity(location: str) -> SourceIdentity | None:
    """The identity of a local file (or of a ``.lindi.d``'s document) now: one ``stat``."""
    where = os.path.join(location, JSON_NAME) if os.path.isdir(location) else location
    try:
        return local_identity(os.stat(where))
    except OSError:
        return None


def _check(location: str, expected: SourceIdentity | None, found: SourceIdentity | None) -> None:
    """Raise :class:`~hdmf_lindi.errors.SourceChangedError` if ``found`` is another file."""
    if expected is None or found is None or not checks_enabled():
        return
    differ = expected.differences(found)
    if differ:
        raise SourceChangedError(
            f"{location} changed since this handle was made ({', '.join(differ)} "
            f"differ{'s' if len(differ) == 1 else ''}): it was {expected.describe()}, it is now "
            f"{found.describe()}. Reading it would mix data from two different files: make the "
            "handle (or dask array) again from the file as it is now.",
            url=location, recorded=expected, found=found,
        )


# ---------------------------------------------------------------------- handles
@dataclasses.dataclass(frozen=True, slots=True)
class FileHandle:
    """A read-only LINDI file, named by location; see the module docstring.

    Parameters
    ----------
    location
        Absolute local path or http(s) URL.
    options
        The :class:`~hdmf_lindi.storage.RemoteOptions` fields that differ from the defaults,
        as ``(name, value)`` pairs.
    allow_local_paths
        Whether the file may read local paths.
    identity
        What identified the file when the handle was made (see :func:`file_identity`).
    chunk_cache_bytes
        Budget of the reopened file's decoded-chunk cache.
    """

    location: str
    options: tuple[tuple[str, Any], ...] = ()
    allow_local_paths: bool = True
    identity: SourceIdentity | None = None
    chunk_cache_bytes: int | None = None

    @classmethod
    def of(cls, file: File) -> FileHandle:
        """Return the handle of an open file.

        Raises
        ------
        NotPicklableError
            If the file is writable, closed, or has no location (an in-memory reference map).
        """
        container = file.container
        if isinstance(container, MemoryContainer):
            raise NotPicklableError(
                f"Cannot pickle {file!r}: it was opened from an in-memory reference map, which "
                "another process cannot reopen. Save it (.lindi.json / .lindi.tar / .lindi.d) and "
                "open that file instead."
            )
        if not container.read_only:
            raise NotPicklableError(
                f"Cannot pickle {file!r}: it is open for writing, and another process would see "
                "another state of it. Close it and reopen it read-only (mode 'r') to share it."
            )
        if container.closed:
            raise NotPicklableError(f"Cannot pickle {file!r}: it is closed.")
        fetcher = container.fetcher
        cache = file._state.cache.max_bytes
        return cls.at(container.location, fetcher.options, fetcher.allow_local, file_identity(container), cache)

    @classmethod
    def at(
        cls,
        location: str | os.PathLike[str],
        options: RemoteOptions | None = None,
        allow_local_paths: bool | None = None,
        identity: SourceIdentity | None = None,
        chunk_cache_bytes: int | None = None,
    ) -> FileHandle:
        """Return the handle of the file at ``location`` (nothing is opened).

        ``allow_local_paths`` defaults as in :class:`~hdmf_lindi.File`; the identity is unknown
        (not checked) unless given.
        """
        location = os.fspath(location)
        remote = is_url(location)
        options = options or _DEFAULT_OPTIONS
        pairs = tuple(
            (f.name, getattr(options, f.name))
            for f in dataclasses.fields(RemoteOptions)
            if getattr(options, f.name) != getattr(_DEFAULT_OPTIONS, f.name)
        )
        return cls(
            location if remote else os.path.abspath(location), pairs,
            (not remote) if allow_local_paths is None else allow_local_paths, identity, chunk_cache_bytes,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # the identity as a plain tuple: ~90 bytes fewer than the dataclass
        ident = None if self.identity is None else dataclasses.astuple(self.identity)
        return (_file_handle, (self.location, self.options, self.allow_local_paths, ident, self.chunk_cache_bytes))

    def remote_options(self) -> RemoteOptions:
        """The remote options to reopen with (a worker plugin's override, if one is set)."""
        override = OPEN_FILES.options
        if override is not None:
            return override
        return dataclasses.replace(_DEFAULT_OPTIONS, **dict(self.options)) if self.options else _DEFAULT_OPTIONS

    def open(self) -> File:
        """Return the file, opened (once per process) through ``OPEN_FILES``.

        Raises
        ------
        SourceChangedError
            If the file is not the one the handle was made from (its identity changed).
        """
        return OPEN_FILES.get(self)


def _file_handle(
    location: str,
    options: tuple[tuple[str, Any], ...],
    allow_local_paths: bool,
    identity: tuple[Any, ...] | None,
    chunk_cache_bytes: int | None,
) -> FileHandle:
    """Unpickle a :class:`FileHandle`."""
    ident = None if identity is None else SourceIdentity(*identity)
    return FileHandle(location, options, allow_local_paths, ident, chunk_cache_bytes)


class DatasetHandle:
    """A dataset of a read-only file, by location: picklable, and readable like an array.

    Parameters
    ----------
    file
        The file's handle.
    path
        The dataset's path in the file (no leading ``/``).
    shape, dtype, chunks
        The dataset's, recorded so that nothing is opened to plan work.
    live
        The dataset the handle was made from, read directly in this process (not pickled).
    """

    __slots__ = ("_live", "chunks", "dtype", "file", "path", "shape")

    def __init__(
        self,
        file: FileHandle,
        path: str,
        shape: tuple[int, ...],
        dtype: np.dtype[Any],
        chunks: tuple[int, ...] | None,
        live: Dataset | None = None,
    ) -> None:
        self.file = file
        self.path = path
        self.shape = tuple(shape)
        self.dtype = dtype
        self.chunks = None if chunks is None else tuple(chunks)
        self._live = live

    @classmethod
    def of(cls, dataset: Dataset) -> DatasetHandle:
        """Return the handle of a dataset of an open file.

        Raises
        ------
        NotPicklableError
            As :meth:`FileHandle.of`.
        """
        return cls(FileHandle.of(dataset.file), dataset.name.lstrip("/"), dataset.shape, dataset.dtype,
                   dataset.chunks, dataset)

    def __reduce__(self) -> tuple[Any, ...]:
        return (DatasetHandle, (self.file, self.path, self.shape, self.dtype, self.chunks))

    def dataset(self) -> Dataset:
        """Return the dataset: the live one in its own process, else reopened through the cache.

        Raises
        ------
        SourceChangedError
            If the file changed since the handle was made.
        NodeNotFoundError
            If the file no longer holds the dataset.
        """
        live = self._live
        if live is not None and not live.file.closed:
            return live
        node = self.file.open()[self.path]
        return node  # type: ignore[return-value]

    def _read(self, key: Any) -> Any:
        live = self._live
        if live is not None and not live.file.closed:
            return live[key]
        with OPEN_FILES.reading(self.file) as file:
            return file[self.path][key]

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> Any:
        return self._read(key)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray[Any, Any]:
        return np.asarray(self._read(...), dtype=dtype)

    def __repr__(self) -> str:
        return f"<DatasetHandle /{self.path} of {self.file.location} shape={self.shape} dtype={self.dtype}>"


# ---------------------------------------------------------------------- the per-process cache
class _Entry:
    """A file of the cache: its identity when opened, readers in flight, and whether nodes of it
    were handed out (then only its owner, or the exit, closes it)."""

    __slots__ = ("evicted", "file", "identity", "pinned", "readers")

    def __init__(self, file: File, identity: SourceIdentity | None) -> None:
        self.file = file
        self.identity = identity
        self.readers = 0
        self.pinned = False
        self.evicted = False


class OpenFiles:
    """A bounded LRU of files opened from handles, one per (location, options) in a process.

    A file that leaves the cache is closed once no handle read is using it. A file whose nodes
    were handed out (an unpickled ``File``, ``Group`` or ``Dataset``: see :meth:`get`) is only
    dropped from the cache, never closed under its user; :meth:`close_all` (at exit, or by a
    worker plugin's teardown) closes everything.

    Parameters
    ----------
    maxsize
        How many files stay cached; beyond that the least recently used one leaves the cache.
    """

    def __init__(self, maxsize: int = FILE_CACHE_SIZE) -> None:
        self.maxsize = maxsize
        self.options: RemoteOptions | None = None
        """Remote options that replace the handles' own (set by a worker plugin), or None."""
        self.opened = 0
        """How many files this cache opened (in this process)."""
        self._files: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()
        self._all: weakref.WeakSet[File] = weakref.WeakSet()  # evicted but pinned ones too
        self._lock = threading.RLock()

    def _key(self, handle: FileHandle) -> tuple[Any, ...]:
        return (handle.location, handle.remote_options(), handle.allow_local_paths, handle.chunk_cache_bytes)

    def get(self, handle: FileHandle) -> File:
        """Return the open file of ``handle``, opening it if needed (see :meth:`FileHandle.open`).

        The file is pinned: it leaves the cache when it is the least recently used one, but it
        is not closed by the cache before :meth:`close_all`.
        """
        with self._lock:
            entry = self._entry(handle)
            entry.pinned = True
            return entry.file

    @contextlib.contextmanager
    def reading(self, handle: FileHandle) -> Iterator[File]:
        """Use the open file of ``handle`` for one read; it is not closed while in use."""
        with self._lock:
            entry = self._entry(handle)
            entry.readers += 1
        try:
            yield entry.file
        finally:
            with self._lock:
                entry.readers -= 1
                if entry.evicted and not entry.readers and not entry.pinned:
                    entry.file.close()

    def _entry(self, handle: FileHandle) -> _Entry:
        # under the lock
        key = self._key(handle)
        expected = handle.identity
        if expected is not None and not is_url(handle.location):
            _check(handle.location, expected, _local_identity(handle.location))  # one stat
        entry = self._files.get(key)
        if entry is not None:
            if not entry.file.closed and (expected is None or entry.identity is None or expected.matches(entry.identity)):
                self._files.move_to_end(key)
                return entry
            self._evict(key)
        file = self._open(handle)
        seen = file_identity(file.container)
        try:
            _check(handle.location, expected, seen)
        except SourceChangedError:
            file.close()
            raise
        entry = self._files[key] = _Entry(file, seen)
        self._all.add(file)
        while len(self._files) > max(1, self.maxsize):
            self._evict(next(iter(self._files)))
        return entry

    def _evict(self, key: tuple[Any, ...]) -> None:
        entry = self._files.pop(key)
        entry.evicted = True
        if not entry.readers and not entry.pinned:
            entry.file.close()

    def _open(self, handle: FileHandle) -> File:
        from . import File  # the tree's nodes build on this module
        from .array import CHUNK_CACHE_BYTES

        self.opened += 1
        logger.debug("opening %s for a handle", handle.location)
        cache = CHUNK_CACHE_BYTES if handle.chunk_cache_bytes is None else handle.chunk_cache_bytes
        return File(
            handle.location, "r", options=handle.remote_options(),
            allow_local_paths=handle.allow_local_paths, chunk_cache_bytes=cache,
        )

    def __len__(self) -> int:
        return len(self._files)

    def close_all(self) -> None:
        """Close every cached file, in use or not (they reopen on the next read)."""
        with self._lock:
            files = list(self._all)
            self._files.clear()
            self._all = weakref.WeakSet()
        for file in files:
            try:
                file.close()
            except Exception as exc:  # noqa: BLE001 - closing read-only files; never fatal at exit
                logger.debug("closing %s: %s", file.filename, exc)

    def _forget_after_fork(self) -> None:
        # the child must not use the parent's connections, and the lock may be held
        self._files = OrderedDict()
        self._all = weakref.WeakSet()
        self._lock = threading.RLock()
        self.opened = 0


OPEN_FILES = OpenFiles()
"""This process's cache of files opened from handles."""

atexit.register(OPEN_FILES.close_all)
os.register_at_fork(after_in_child=OPEN_FILES._forget_after_fork)


def configure(*, options: RemoteOptions | None = None, file_cache_size: int | None = None) -> None:
    """Set how this process reopens files from handles.

    Parameters
    ----------
    options
        Remote options used instead of the ones handles carry (e.g. a per-worker
        ``cache_dir``); None goes back to the handles' own.
    file_cache_size
        New bound of the open-file cache (None keeps it).
    """
    OPEN_FILES.options = options
    if file_cache_size is not None:
        if file_cache_size < 1:
            raise ValueError(f"file_cache_size must be at least 1, not {file_cache_size}.")
        OPEN_FILES.maxsize = file_cache_size


def reopen_node(handle: FileHandle, path: str) -> Group | Dataset:
    """Unpickle a group or dataset: its file through the per-process cache, then the node."""
    return handle.open()[path] if path else handle.open()
