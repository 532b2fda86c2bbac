"""Container base class, open modes, and format sniffing (:func:`open_container`).

A container holds one :class:`ReferenceMap` and knows where its bytes live: inline values, blobs
inside the container (``./NAME`` references) and external files or URLs (through the fetcher).

Contract of every container:

* ``read_many(keys)`` returns the content of each key (``None`` for an absent key).
* ``store_chunk(key, data)`` records chunk bytes: inline, or as a blob appended to the container.
* ``flush()`` makes everything written so far durable and visible, atomically: a failure at any
  point leaves the previous state of the file readable.
* A read-only container raises :class:`~hdmf_lindi.errors.ModeError` on every write.
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from ..errors import (
    ChunkRefError,
    ConcurrentModificationError,
    FileNameError,
    FormatError,
    MissingFileError,
    ModeError,
    RemoteReadError,
    SourceChangedError,
    UnsupportedError,
)
from .fetcher import Fetcher
from .identity import read_identities
from .locking import Locking, WriteLock
from .refmap import RangeRef, ReferenceMap
from .sources import (
    ByteSource,
    HttpSource,
    LocalFileSource,
    RemoteOptions,
    TransientFileSource,
    is_url,
)
from .stats import IOStats

__all__ = ["Container", "Mode", "open_container", "sniff_kind", "kind_from_suffix"]

logger = logging.getLogger(__name__)

Mode = Literal["r", "r+", "a", "w", "w-", "x"]
"""h5py's open modes."""
MODES: tuple[str, ...] = ("r", "r+", "a", "w", "w-", "x")

Kind = Literal["json", "tar", "dir", "zarr"]
"""The container forms; ``zarr`` is a Zarr directory store (read-only, see ``zarr_dir_container``)."""

INLINE_MAX_BYTES = 1000
"""Chunks smaller than this stay inline in tar/dir containers (lindi's threshold)."""

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


class Container(ABC):
    """A LINDI container: a reference map plus the place its blobs live."""

    kind: ClassVar[Kind]
    supports_blobs: ClassVar[bool] = False
    inline_max_bytes: int = INLINE_MAX_BYTES
    """Chunks shorter than this are stored inline even where blobs are supported; a writer
    raises it for a moment for chunks every reader fetches at once (``format/eager.py``)."""

    def __init__(
        self, location: str, refmap: ReferenceMap, fetcher: Fetcher, *, read_only: bool
    ) -> None:
        self.location = location
        self.refmap = refmap
        self.fetcher = fetcher
        self.read_only = read_only
        self.closed = False
        self.write_lock: WriteLock | None = None
        """The writers' lock held while the file is open for writing (see :mod:`.locking`)."""
        self._stamp: object = _UNGUARDED
        self._replace_ok = False
        fetcher.expect(read_identities(refmap))  # references are checked against their sources
        refmap.bind_reader(self._read_ranges, location)

    def _read_ranges(self, ranges: Sequence[tuple[str, int, int]]) -> list[bytes]:
        """Read ``(url, offset, length)`` ranges (chunk-table shards) in one coalesced plan."""
        plan = [self._plan("chunk table", RangeRef(*r)) for r in ranges]
        return [bytes(b) for b in self.fetcher.read_many(plan)]

    def _table_sink(self, key: str, data: bytes) -> str:
        """Store a chunk table's shard bytes as a blob; return its ``./NAME`` url."""
        return "./" + self._write_blob(key, data)

    @property
    def stats(self) -> IOStats:
        """The I/O counters of this container, which are its fetcher's (requests, bytes, cache lookups)."""
        return self.fetcher.stats

    # ------------------------------------------------------------------ reading
    @abstractmethod
    def _resolve_internal(self, ref: RangeRef, key: str) -> tuple[ByteSource | str, int, int]:
        """Map a ``./NAME`` reference to ``(source, start, stop)``."""

    def _plan(self, key: str, ref: RangeRef) -> tuple[ByteSource | str, int, int]:
        if ref.is_internal:
            return self._resolve_internal(ref, key)
        return ref.url, ref.offset, ref.offset + ref.length

    def read_many(
        self, keys: Sequence[str], on_ready: Callable[[list[int], list[bytes | None]], None] | None = None
    ) -> list[bytes | None]:
        """Return the content of each key, ``None`` where the key is absent.

        ``on_ready(indices, out)``, if given, is called (in this thread) as soon as the listed
        entries of ``out`` hold their content -- inline values at once, fetched ones as their
        requests complete -- so decoding can overlap the transfer of the rest.

        Raises
        ------
        ChunkRefError
            If a reference points outside its target or at a missing blob.
        RemoteReadError
            If an HTTP read fails.
        """
        out: list[bytes | None] = [None] * len(keys)
        self.refmap.prefetch(keys)
        plan: list[tuple[ByteSource | str, int, int]] = []
        where: list[int] = []
        for i, key in enumerate(keys):
            value = self.refmap.get(key)
            if isinstance(value, RangeRef):
                plan.append(self._plan(key, value))
                where.append(i)
            else:
                out[i] = value
        if on_ready is not None:
            fetched = set(where)
            now = [i for i in range(len(keys)) if i not in fetched]  # inline or absent
            if now:
                on_ready(now, out)
        if plan:

            def ready(indices: list[int], results: list[bytes]) -> None:
                for j in indices:
                    out[where[j]] = results[j]
                if on_ready is not None:
                    on_ready([where[j] for j in indices], out)

            try:
                results = self.fetcher.read_many(plan, on_ready=ready if on_ready is not None else None)
            except SourceChangedError:
                raise  # names the changed file and both identities already
            except ChunkRefError as exc:
                raise ChunkRefError(
                    f"Cannot read a chunk of {self.location}: {exc}", url=exc.url
                ) from exc
            for i, data in zip(where, results, strict=True):
                out[i] = data
        return out

    def read_into(self, keys: Sequence[str], views: Sequence[memoryview]) -> list[bool]:
        """Read raw chunk bytes straight into ``views``; return which keys were filled.

        Only keys that are byte ranges of a local file with exactly ``view.nbytes`` bytes are
        read this way (one ``preadv`` each, no intermediate buffer); the caller reads the others
        with :meth:`read_many`.

        Raises
        ------
        ChunkRefError
            If a reference points outside its target.
        """
        done = [False] * len(keys)
        self.refmap.prefetch(keys)
        for i, (key, view) in enumerate(zip(keys, views, strict=True)):
            value = self.refmap.get(key)
            if not isinstance(value, RangeRef) or value.length != view.nbytes:
                continue
            target, start, _stop = self._plan(key, value)
            src = self.fetcher.source(target) if isinstance(target, str) else target
            if isinstance(src, LocalFileSource | TransientFileSource):
                src.read_into(start, view)
                done[i] = True
        return done

    def read(self, key: str) -> bytes | None:
        """Return the content of one key, or ``None`` if absent."""
        return self.read_many([key])[0]

    def unlisted_chunk_keys(self, path: str) -> list[str]:
        """Chunk keys of the array at ``path`` that :meth:`read_many` serves although the
        reference map does not list them (a Zarr directory store's chunk files); empty here.

        Copies (``tree/copy.py``) read these besides the listed ones.
        """
        return []

    # ------------------------------------------------------------------ writing
    def _check_writable(self) -> None:
        if self.read_only:
            raise ModeError(
                f"{self.location} is open read-only; reopen it with mode 'r+' or 'a' to modify it."
            )
        if self.closed:
            raise ModeError(f"{self.location} is closed.")

    def store_chunk(self, key: str, data: bytes) -> None:
        """Record chunk bytes: inline when small (or always, in JSON), else as a blob.

        Raises
        ------
        ModeError
            If the container is read-only or closed.
        """
        self._check_writable()
        if self.supports_blobs and len(data) >= max(INLINE_MAX_BYTES, self.inline_max_bytes):
            name = self._write_blob(key, data)
            self.refmap.set_range(key, "./" + name, 0, len(data))
        else:
            self.refmap.set_bytes(key, data)

    def _write_blob(self, key: str, data: bytes) -> str:
        """Write a blob for ``key`` and return its member name (without ``./``)."""
        raise UnsupportedError(f"{type(self).__name__} does not store blobs.")

    def set_metadata(self, key: str, obj: dict[str, Any]) -> None:
        """Record a metadata object (``.zarray``, ``.zattrs``, ``.zgroup``).

        Raises
        ------
        ModeError
            If the container is read-only or closed.
        """
        self._check_writable()
        self.refmap.set_json(key, obj)

    def delete(self, key: str) -> None:
        """Remove a key from the map (blobs it pointed at stay until the file is packed).

        Raises
        ------
        ModeError
            If the container is read-only or closed.
        """
        self._check_writable()
        self.refmap.delete(key)

    @abstractmethod
    def flush(self) -> None:
        """Persist the reference map atomically (no-op when nothing changed).

        Raises
        ------
        ConcurrentModificationError
            If another process replaced or committed to the file since this writer opened it
            (or last flushed it); the file is left as that process wrote it.
        """

    # ------------------------------------------------------------------ commit check
    @property
    def published(self) -> bool:
        """Whether the file this container writes exists at its location (False for a new
        file until its first flush)."""
        return True

    def _disk_stamp(self) -> object:
        """What the file at ``location`` looks like now, compared at each flush (see
        :meth:`guard_commits`); equal stamps mean no other writer has committed."""
        return _stat_stamp(self.location)

    def guard_commits(self, *, replace_ok: bool) -> None:
        """Note the file as it is now, so that a flush refuses to overwrite another writer's commit.

        ``replace_ok`` (mode ``w``): a new file may replace whatever is at the location at its
        first flush.
        """
        self._replace_ok = replace_ok
        self._stamp = self._disk_stamp()

    def _check_commit(self) -> None:
        """Raise :class:`ConcurrentModificationError` if the file changed under this writer."""
        if self._stamp is _UNGUARDED or (self._replace_ok and not self.published):
            return
        if not self._stamp_ok(self._disk_stamp(), self._stamp):
            what = "was replaced, or another writer saved to it," if self.published else "was created"
            raise ConcurrentModificationError(
                f"Cannot save {self.location}: it {what} after this writer opened it (by a process "
                "that did not take the writers' lock: locking=False, another tool, or a network "
                "file system where locks do not work). Its content is kept as that process left "
                "it; this writer's changes are not saved. Reopen the file and redo them."
            )

    def _stamp_ok(self, now: object, noted: object) -> bool:
        """Whether the file's stamp now still says "as this writer left it"."""
        return now == noted

    def _committed(self) -> None:
        """Note the file as this writer's flush left it."""
        if self._stamp is not _UNGUARDED:
            self._stamp = self._disk_stamp()

    def close(self) -> None:
        """Flush (if writable) and release resources. Safe to call twice."""
        if self.closed:
            return
        try:
            if not self.read_only:
                self.flush()
        finally:
            self.closed = True
            try:
                self._release()
                self.fetcher.close()
            finally:
                if self.write_lock is not None:
                    self.write_lock.release()

    def _release(self) -> None:
        """Release container-specific resources."""
        return None

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_UNGUARDED = object()
"""The stamp of a container whose commits are not checked (read-only, or in memory)."""


def _stat_stamp(path: str) -> tuple[int, int, int, int] | None:
    """``(device, inode, size, mtime_ns)`` of ``path``, or None if nothing is there."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


LINDI_SUFFIXES: dict[str, Kind] = {
    ".lindi.json": "json", ".lindi.tar": "tar", ".lindi.d": "dir", ".json": "json", ".tar": "tar", ".d": "dir",
}
"""The names a new LINDI file may have, and the form each one gives."""


def kind_from_suffix(location: str) -> Kind:
    """Choose the form for a new file from its name: ``.lindi.json`` (or ``.json``) -> json,
    ``.lindi.tar`` (``.tar``) -> tar, ``.lindi.d`` (``.d``) -> dir.

    Raises
    ------
    FileNameError
        For an HDF5 name (``.nwb``, ``.h5``, ``.hdf5`` ...) or any other suffix, with the list
        of accepted ones.
    """
    name = location.rstrip("/").lower()
    for suffix, kind in LINDI_SUFFIXES.items():
        if name.endswith(suffix):
            return kind
    accepted = ".lindi.json, .lindi.tar or .lindi.d"
    if name.endswith(_HDF5_SUFFIXES):
        raise FileNameError(
            f"Cannot write a LINDI file named {location}: that name is for an HDF5 file. Name it "
            f"{accepted} (to write HDF5, use NWBHDF5IO or hdmf-lindi convert)."
        )
    raise FileNameError(
        f"Cannot write a LINDI file named {location}: its name must end in {accepted} "
        "(or .json, .tar, .d), which picks the form."
    )


def sniff_kind(head: bytes, location: str) -> Kind:
    """Detect the form from the first bytes of a file (at least 512 if the file is that large).

    Raises
    ------
    UnsupportedError
        If the bytes are an HDF5 signature (index the file with ``index_hdf5`` first).
    FormatError
        If the bytes are neither a ustar tar nor JSON.
    """
    if head[257:262] == b"ustar":  # also when truncated below 512 bytes: report it as a tar
        return "tar"
    if head.lstrip()[:1] == b"{":
        return "json"
    if head.startswith(_HDF5_SIGNATURE):
        raise UnsupportedError(
            f"{location} is an HDF5 file, not a LINDI file. Index it first with "
            "hdmf_lindi.index_hdf5(), which references its chunks without copying them."
        )
    raise FormatError(
        f"{location} is not a LINDI file: it is neither a .lindi.tar archive (no ustar header) "
        f"nor a .lindi.json document (starts with {head[:16]!r})."
    )


def _exists(location: str) -> bool:
    return os.path.exists(location)


_HDF5_SUFFIXES = (".nwb", ".h5", ".hdf5", ".hdf", ".he5")
_LINDI_SUFFIXES = (".json", ".tar", ".d", ".d/")


def is_hdf5(location: str | os.PathLike[str]) -> bool:
    """Return whether ``location`` holds an HDF5 file rather than a LINDI one.

    Local files are sniffed (the HDF5 signature at offset 0, 512, 1024 or 2048, where a user
    block may push it). URLs are judged by their suffix (``.nwb``, ``.h5``, ``.hdf5`` ...) so
    that no request is spent; other URLs are taken as LINDI. Never raises.
    """
    text = os.fspath(location)
    if is_url(text):
        path = text.split("?", 1)[0].split("#", 1)[0].lower()
        return path.endswith(_HDF5_SUFFIXES)
    if not os.path.isfile(text):
        return False
    try:
        with open(text, "rb") as fh:
            head = fh.read(2056)
    except OSError:
        return False
    return any(head[off:off + 8] == _HDF5_SIGNATURE for off in (0, 512, 1024, 2048))


def open_container(
    location: str | os.PathLike[str],
    mode: str = "r",
    *,
    options: RemoteOptions | None = None,
    allow_local_paths: bool | None = None,
    locking: Locking = None,
    lock_timeout: float = 0.0,
) -> Container:
    """Open or create a LINDI container with h5py's mode semantics.

    Every write mode takes the writers' lock for as long as the container is open (see
    :mod:`~hdmf_lindi.storage.locking`), and every flush first checks that no other process
    replaced the file meanwhile.

    Parameters
    ----------
    location
        Local path or http(s) URL of a ``.lindi.json``, ``.lindi.tar`` or ``.lindi.d``, or of a
        Zarr directory store (read-only; see :mod:`~hdmf_lindi.storage.zarr_dir_reader`).
    mode
        ``r`` read-only, must exist; ``r+`` read/write, must exist; ``a`` read/write, create if
        missing; ``w`` create, replacing an existing file when first flushed; ``w-``/``x``
        create, fail if it exists.
    options
        HTTP tuning for remote files and remote references.
    allow_local_paths
        Whether references to local paths may be read. Defaults to True for local files and
        False for documents fetched over HTTP.
    locking
        For write modes: True to take the writers' lock, False not to, ``"best-effort"`` to
        take it where the file system supports locks; None (the default) for the choice of the
        environment variable ``HDMF_LINDI_USE_FILE_LOCKING`` (``TRUE`` if unset).
    lock_timeout
        Seconds to wait for another writer to close the file. Defaults to 0: fail at once.

    Raises
    ------
    FileLockedError
        For a write mode, if another writer has the file open.
    ModeError
        For an unknown mode, a write mode on a URL, ``r``/``r+`` on a missing file, or
        ``w-``/``x`` on an existing one.
    FormatError
        If the file is not a LINDI file.
    RemoteReadError
        If fetching a remote file fails.
    """

    location = os.fspath(location)
    if mode not in MODES:
        raise ModeError(f"Unknown mode {mode!r}; use one of {', '.join(MODES)} (as in h5py).")
    remote = is_url(location)
    if allow_local_paths is None:
        allow_local_paths = not remote
    zarr_store = _open_zarr_store(location, mode, remote, options, allow_local_paths)
    if zarr_store is not None:
        return zarr_store
    if remote:
        if mode != "r":
            raise ModeError(
                f"Cannot open {location} in mode {mode!r}: remote files are read-only. Use "
                "mode 'r', or download the file first."
            )
        fetcher = Fetcher(allow_local=allow_local_paths, options=options)
        try:
            return _open_remote(location, fetcher)
        except (RemoteReadError, FormatError) as exc:
            store = _open_zarr_folder(location, fetcher, exc)
            if store is None:
                _raise_with_store_url_hint(location, exc)
                raise
            return store
    lock = None if mode == "r" else WriteLock.acquire(location, locking=locking, timeout=lock_timeout)
    try:
        container = _open_local(location, mode, options, allow_local_paths)
        if lock is not None:
            container.write_lock = lock
        if mode != "r":
            container.guard_commits(replace_ok=(mode == "w"))
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    return container


def _open_zarr_store(
    location: str, mode: str, remote: bool, options: RemoteOptions | None, allow_local_paths: bool
) -> Container | None:
    """A Zarr directory store (hdmf-zarr's form) at ``location``, opened read-only; None if
    ``location`` is not one (see :mod:`.zarr_dir_reader` for how it is recognised)."""
    from .zarr_dir_reader import is_store_url, sniff_local_store

    if not (is_store_url(location) if remote else sniff_local_store(location)):
        return None
    if mode != "r":
        raise ModeError(
            f"Cannot open {location} in mode {mode!r}: it is a Zarr directory store, which "
            "hdmf_lindi reads but does not write. Open it with mode 'r', or convert it to a LINDI "
            "file to change it (hdmf-lindi convert STORE OUT.lindi.tar [--dialect zarr3])."
        )
    from .zarr_dir_container import ZarrDirContainer

    base_dir = None if remote else os.path.dirname(os.path.abspath(location))
    fetcher = Fetcher(base_dir=base_dir, allow_local=allow_local_paths, options=options)
    return ZarrDirContainer.open(location, fetcher)


def _raise_with_store_url_hint(url: str, failure: Exception) -> None:
    """Raise ``failure`` again, saying how a Zarr store is addressed, when a URL with no LINDI
    suffix, no ``.zarr`` and no final ``/`` answered something that is no LINDI file (e.g. the
    HTML listing ``python -m http.server`` serves for ``http://host/sess``); else return."""
    from .zarr_dir_reader import is_folder_url, is_store_url

    if type(failure) is not FormatError or is_folder_url(url) or is_store_url(url):
        return
    path = urlsplit(url.split("#", 1)[0]).path.lower()
    if path.endswith(_LINDI_SUFFIXES):
        return
    raise FormatError(
        f"{str(failure).rstrip('.')}. A Zarr directory store is opened by a URL ending in "
        f"'.zarr' or '/' (e.g. {url.split('?', 1)[0].split('#', 1)[0]}/)."
    ) from failure


def _open_zarr_folder(url: str, fetcher: Fetcher, failure: Exception) -> Container | None:
    """A URL ending in ``/`` that is no LINDI document (``failure``): opened as a Zarr store
    folder if it is one (DANDI addresses Zarr assets so), else None."""
    from .zarr_dir_container import ZarrDirContainer
    from .zarr_dir_reader import is_folder_url

    if not is_folder_url(url):
        return None
    try:
        return ZarrDirContainer.open(url, fetcher)
    except MissingFileError as exc:
        logger.debug("%s is neither a LINDI document (%s) nor a Zarr store", url, failure)
        if isinstance(failure, FormatError) and not isinstance(failure, RemoteReadError):
            raise FormatError(
                f"{str(failure).rstrip('.')}; nor is it a Zarr directory store: {exc}"
            ) from failure
        return None


def _open_local(location: str, mode: str, options: RemoteOptions | None, allow_local_paths: bool) -> Container:
    from .dir_container import DirContainer
    from .json_container import JsonContainer
    from .tar_container import TarContainer

    exists = _exists(location)
    base_dir = os.path.dirname(os.path.abspath(location))
    fetcher = Fetcher(base_dir=base_dir, allow_local=allow_local_paths, options=options)
    classes: dict[str, type[JsonContainer] | type[TarContainer] | type[DirContainer]] = {
        "json": JsonContainer, "tar": TarContainer, "dir": DirContainer,
    }
    if mode in ("w-", "x") and exists:
        raise ModeError(
            f"Cannot create {location} in mode {mode!r}: it already exists. Use mode 'w' to "
            "replace it or 'a' to modify it."
        )
    if mode in ("r", "r+") and not exists:
        raise MissingFileError(
            f"Cannot open {location} in mode {mode!r}: no such file or directory. Use mode 'w' "
            "or 'a' to create it."
        )
    if mode in ("w", "w-", "x") or (mode == "a" and not exists):
        return classes[kind_from_suffix(location)].create(location, fetcher)
    if os.path.isdir(location):
        kind: Kind = "dir"
    else:
        with open(location, "rb") as fh:
            kind = sniff_kind(fh.read(512), location)
    return classes[kind].open_local(location, fetcher, read_only=(mode == "r"))


def _open_remote(url: str, fetcher: Fetcher) -> Container:
    from .dir_container import DirContainer
    from .json_container import JsonContainer
    from .tar_container import TarContainer

    if url.rstrip("/").endswith(".d"):
        return DirContainer.open_remote(url, fetcher)
    source = fetcher.source(url)
    assert isinstance(source, HttpSource)
    if urlsplit(url).path.endswith(".json"):
        # A JSON document is needed whole: one plain GET, whatever its size.
        data = source.read_all()
        if sniff_kind(data[:512], url) == "json":
            return JsonContainer.from_bytes(url, data, fetcher)
        return TarContainer.open_remote(url, fetcher, data, len(data))
    head, total = source.read_prefix(fetcher.options.initial_read_bytes)
    kind = sniff_kind(head, url)
    if kind == "tar":
        return TarContainer.open_remote(url, fetcher, head, total)
    if len(head) < total:
        head += source.read_range(len(head), total)
    return JsonContainer.from_bytes(url, head, fetcher)
