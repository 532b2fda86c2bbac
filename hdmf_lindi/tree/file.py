"""An open LINDI file: the root group, its mode, flushing, closing and linked files."""

from __future__ import annotations

import os
from collections.abc import Callable

from ..errors import ModeError, UnsupportedError
from ..format.lindi_normalise import normalise_to_lindi
from ..format.references import ExternalLink
from ..format.zarr_v3_write import check_dialect, check_zarr3, to_zarr3
from ..storage.containers import Container, open_container
from ..storage.locking import Locking
from ..storage.refmap import ReferenceMap
from ..storage.sources import RemoteOptions, is_url
from ..storage.stats import IOStats
from .array import CHUNK_CACHE_BYTES
from .group import Group
from .state import _FileState
from .unclosed import close_when_dropped

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
    metadata_as_text
        How a writable file spells its metadata values when written: True as JSON text
        (kerchunk's spelling, which JavaScript clients such as zarrita need), False as embedded
        JSON objects (lindi's). None, the default, keeps the file's spelling (objects for a new
        file). Both spellings are read; see ``docs/format_notes.rst``.
    dialect
        What a writable file is written as: ``"lindi"`` (LINDI v2, which lindi 0.4.6 reads) or
        ``"zarr3"`` (the shared Zarr v3 convention, which hdmf-zarr 0.14 reads). None, the
        default, keeps the file's dialect (``"lindi"`` for a new file); see
        ``docs/user_guide/zarr3.rst``.

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

    Notes
    -----
    As in h5py, a writable file that is never closed is flushed when it is garbage-collected
    (the File and every group and dataset of it are gone) or at interpreter exit; if that flush
    fails, a :class:`~hdmf_lindi.errors.LindiWarning` says so and the file keeps its last
    flushed state. After ``close()`` (or the end of a ``with`` block) its groups, datasets and
    attributes raise :class:`~hdmf_lindi.errors.ClosedFileError`.
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
        metadata_as_text: bool | None = None,
        dialect: str | None = None,
    ) -> None:
        if dialect is not None:
            check_dialect(dialect)  # before the file is opened (and locked)
        if isinstance(location, ReferenceMap):
            from ..storage.memory_container import MemoryContainer

            container: Container = MemoryContainer(location, allow_local_paths=allow_local_paths)
        else:
            container = open_container(
                location, mode, options=options, allow_local_paths=allow_local_paths,
                locking=locking, lock_timeout=lock_timeout,
            )
        try:
            read_as = adopt_dialect(container)
        except BaseException:
            container.read_only = True  # nothing to publish: release only
            container.close()
            raise
        state = _FileState(container, chunk_cache_bytes)
        state.dialect = read_as
        state.file = self
        state.finalizer = close_when_dropped(state, container)
        super().__init__(state, "")
        if metadata_as_text is not None:
            self.metadata_as_text = metadata_as_text
        if dialect is not None:
            self.dialect = dialect

    @classmethod
    def _of_state(cls, state: _FileState) -> File:
        """A File object for an open file whose first File object was dropped (nodes outlive it)."""
        f = cls.__new__(cls)
        Group.__init__(f, state, "")
        state.file = f
        return f

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
    def stats(self) -> IOStats:
        """The file's I/O counters (requests, bytes fetched and decoded, cache hits, per source).

        They stay readable after :meth:`close`. Files opened to follow external links count in
        their own ``stats``; ``with hdmf_lindi.stats() as s:`` counts everything in a block.
        """
        return self._state.container.stats

    @property
    def metadata_as_text(self) -> bool:
        """Whether metadata values are written as JSON text (kerchunk's spelling) rather than
        embedded JSON objects (lindi's). Setting it on a writable file rewrites the file in that
        spelling on the next flush."""
        return self._state.container.refmap.metadata_as_text

    @metadata_as_text.setter
    def metadata_as_text(self, value: bool) -> None:
        refmap = self._state.container.refmap
        if bool(value) != refmap.metadata_as_text:
            refmap.metadata_as_text = bool(value)
            if not self._state.container.read_only:
                refmap.dirty = True

    @property
    def dialect(self) -> str:
        """The file's dialect: ``"lindi"`` (LINDI v2) or ``"zarr3"`` (the shared Zarr v3
        convention), as read, or as set. Setting it on a writable file rewrites the file in that
        dialect on the next flush. Setting ``"lindi"`` also rewrites the arrays that hold the
        Zarr v3 reader's own codecs (strings, references, structs and shards read from a v3 file,
        or copied from one) in lindi's form, so that lindi reads the file."""
        return self._state.dialect

    @dialect.setter
    def dialect(self, value: str) -> None:
        check_dialect(value)
        container = self._state.container
        if value == self.dialect and (value == "zarr3" or container.read_only):
            return
        if container.read_only:
            raise ModeError(f"{container.location} is read-only; open it in mode 'a' to change its dialect.")
        changed = value != self.dialect
        if value == "zarr3":
            check_zarr3(container.refmap)  # fail now, not when the file is flushed
            container.refmap.translate = _zarr3_translator(container)
        else:  # the v3 reader's own codecs (also in arrays copied from a v3 file) must not reach LINDI v2
            container.refmap.translate = None
            if normalise_to_lindi(container.refmap, container.read_many, container.store_chunk):
                self._state.engines.clear()  # their codecs changed
                changed = True
        if changed:
            container.refmap.dirty = True
        self._state.dialect = value

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
        ClosedFileError
            If the file is closed.
        """
        self._state.check_open()
        self._state.container.flush()

    def close(self) -> None:
        """Flush pending changes (writable files) and release resources.

        Afterwards the file's groups, datasets and attributes raise
        :class:`~hdmf_lindi.errors.ClosedFileError` on use. Safe to call twice.
        """
        self._close(flush=True)

    def discard(self) -> None:
        """Close without flushing: changes since the last flush are dropped.

        The file keeps its last flushed state (a new file in mode ``w`` is never created, and
        its temporary file is removed). What ``with`` does when its block raises.
        """
        self._close(flush=False)

    def _close(self, *, flush: bool) -> None:
        state = self._state
        try:
            if state.external is not None:
                state.external.close()
            for linked in state.linked.values():
                linked.close()
            state.linked.clear()
        finally:
            container = state.container
            if not flush and not container.closed and not container.read_only:
                container.read_only = True  # nothing is published: release only
            try:
                container.close()
            finally:
                if state.finalizer is not None:
                    state.finalizer.detach()

    def __enter__(self) -> File:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        # A block that raised must not publish a half-written state: release without flushing.
        self._close(flush=exc_type is None)

    def __bool__(self) -> bool:
        return not self.closed

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"mode {self.mode}"
        return f'<LINDI file "{self.filename}" ({state})>'


def adopt_dialect(container: Container) -> str:
    """Translate a Zarr v3 document into the model the tree reads, in place; return the dialect.

    ``"zarr3"`` for a v3 document (``format/zarr_v3.py``; saved back as v3 when opened for
    writing), ``"hdmf-zarr-v2"`` for hdmf-zarr's old v2 layout (read-only), ``"lindi"`` otherwise.

    Raises
    ------
    UnsupportedError
        For an hdmf-zarr v2 document opened for writing.
    MetadataError
        For malformed v3 metadata.
    """
    from ..format.zarr_v3 import is_zarr_v3, translate_v3

    refmap = container.refmap
    if not is_zarr_v3(refmap):
        return _adopt_hdmf_zarr_v2(container)
    root_name = os.path.basename(container.location.rstrip("/").split("?", 1)[0])
    base_url = container.location if is_url(container.location) else None
    model = translate_v3(refmap, root_name=root_name, base_url=base_url).refmap
    model.bind_reader(container._read_ranges, container.location)
    container.refmap = model
    if not container.read_only:  # saved back as Zarr v3
        model.translate = _zarr3_translator(container)
    return "zarr3"


def _zarr3_translator(container: Container) -> Callable[[ReferenceMap], ReferenceMap]:
    """The Zarr v3 writer of ``container``'s model (recoded chunks are read through it)."""
    read = container.read_many

    def translate(model: ReferenceMap) -> ReferenceMap:
        return to_zarr3(model, read)

    return translate


def _adopt_hdmf_zarr_v2(container: Container) -> str:
    """Translate hdmf-zarr's old Zarr v2 layout (``format/hdmf_zarr_v2.py``) into the model, in
    place, and return ``"hdmf-zarr-v2"``; return ``"lindi"`` for a LINDI v2 document.

    Raises
    ------
    UnsupportedError
        For such a document opened for writing (it is read-only).
    MetadataError
        For malformed ``zarr_link``/``zarr_dtype`` annotations.
    """
    from ..format.hdmf_zarr_v2 import is_hdmf_zarr_v2, translate_hdmf_zarr_v2

    if not is_hdmf_zarr_v2(container.refmap):
        return "lindi"
    if not container.read_only:
        raise UnsupportedError(
            f"{container.location} is in hdmf-zarr's Zarr v2 layout (hdmf-zarr <= 0.13), which opens "
            "read-only (mode 'r'). Convert it to a LINDI file to modify it."
        )
    root_name = os.path.basename(container.location.rstrip("/").split("?", 1)[0])
    model = translate_hdmf_zarr_v2(container.refmap, root_name=root_name)
    model.bind_reader(container._read_ranges, container.location)
    container.refmap = model
    return "hdmf-zarr-v2"
