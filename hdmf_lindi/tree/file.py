"""An open LINDI file: the root group, its mode, flushing, closing and linked files."""

from __future__ import annotations

import os

from ..format.references import ExternalLink
from ..storage.containers import Container, open_container
from ..storage.locking import Locking
from ..storage.refmap import ReferenceMap
from ..storage.sources import RemoteOptions
from .array import CHUNK_CACHE_BYTES
from .group import Group
from .state import _FileState

__all__ = ["File"]


class File(Group):
    """An open LINDI file (``.lindi.json``, ``.lindi.tar`` or ``.lindi.d``; local path or URL).

    Parameters
    ----------
    location
        Path or http(s) URL, or an in-memory :class:`~hdmf_lindi.storage.ReferenceMap`.
    mode
        h5py's modes: ``r`` (default), ``r+``, ``a``, ``w``, ``w-``/``x``.
    options
        HTTP tuning for remote files.
    allow_local_paths
        Whether references to local files may be read (default: yes for local files, no for
        remote ones).
    chunk_cache_bytes
        Budget of the decoded-chunk cache shared by the file's datasets (like h5py's
        ``rdcc_nbytes``). Defaults to 64 MiB; 0 disables caching.
    locking
        Write modes take the writers' lock (True, False, ``"best-effort"``; None, the default,
        follows ``HDMF_LINDI_USE_FILE_LOCKING``); see :mod:`~hdmf_lindi.storage.locking`.
    lock_timeout
        Seconds to wait for another writer to close the file. Defaults to 0: fail at once.

    Raises
    ------
    FileLockedError
        For a write mode, if another writer has the file open.
    ModeError
        For a bad mode, a missing file in ``r``/``r+``, or an existing one in ``w-``/``x``.
    FormatError
        If the file is not a LINDI file.
    RemoteReadError
        If fetching a remote file fails.
    """

    def __init__(
        self,
        location: str | os.PathLike[str] | ReferenceMap,
        mode: str = "r",
        *,
        options: RemoteOptions | None = None,
        allow_local_paths: bool | None = None,
        chunk_cache_bytes: int = CHUNK_CACHE_BYTES,
        locking: Locking = None,
        lock_timeout: float = 0.0,
    ) -> None:
        if isinstance(location, ReferenceMap):
            from ..storage.memory_container import MemoryContainer

            container: Container = MemoryContainer(location, allow_local_paths=allow_local_paths)
        else:
            container = open_container(
                location, mode, options=options, allow_local_paths=allow_local_paths,
                locking=locking, lock_timeout=lock_timeout,
            )
        state = _FileState(container, chunk_cache_bytes)
        state.file = self
        super().__init__(state, "")

    def open_linked(self, link: ExternalLink, at: str = "") -> File:
        """Open (once, read-only) the file an external link of this file points to.

        ``at`` names the link in error messages. A relative file name is resolved against this
        file's URL, or its directory and then the working directory; an HDF5 file is indexed in
        memory. The linked file is closed with this one.

        Raises
        ------
        ChunkRefError
            If this file is remote and the link names a local file (unless this file was opened
            with ``allow_local_paths=True``).
        NodeNotFoundError
            If a local linked file does not exist.
        """
        return self._state.open_linked(link, at.strip("/"))

    @property
    def filename(self) -> str:
        """The path or URL the file was opened from."""
        return self._state.container.location

    @property
    def mode(self) -> str:
        """``'r'`` for read-only files, ``'r+'`` otherwise (as h5py reports it)."""
        return "r" if self._state.container.read_only else "r+"

    @property
    def container(self) -> Container:
        """The storage container under this file."""
        return self._state.container

    @property
    def closed(self) -> bool:
        """Whether the file was closed."""
        return self._state.container.closed

    def flush(self) -> None:
        """Write pending changes to disk (atomically).

        Raises
        ------
        ModeError
            If the file is read-only.
        """
        self._state.container.flush()

    def close(self) -> None:
        """Flush pending changes (writable files) and release resources."""
        if self._state.external is not None:
            self._state.external.close()
        for linked in self._state.linked.values():
            linked.close()
        self._state.linked.clear()
        self._state.container.close()

    def __enter__(self) -> File:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is not None and not self._state.container.read_only:
            # Do not publish a half-written state: release without flushing.
            container = self._state.container
            container.read_only = True
            container.close()
            return
        self.close()

    def __bool__(self) -> bool:
        return not self.closed

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"mode {self.mode}"
        return f'<LINDI file "{self.filename}" ({state})>'
