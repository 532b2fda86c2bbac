"""The ``.lindi.d`` container: a directory with ``lindi.json`` and ``blobs/<key>`` files.

Blobs are written under new names (``.vN`` when a name is taken), never overwritten, and
``lindi.json`` is replaced atomically, so a failure leaves the previous state readable. Creating
over an existing directory (mode ``w``) builds the new directory beside it and swaps it in at
the first ``flush``. A remote ``.lindi.d`` URL is read as ``URL/lindi.json`` plus ``URL/NAME``
blobs (lindi cannot read directories remotely).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

from ..errors import ChunkRefError, ConcurrentModificationError, FormatError
from .atomic import atomic_write, default_file_mode
from .containers import Container
from .fetcher import Fetcher
from .json_container import _check_relative
from .refmap import RangeRef, ReferenceMap
from .sources import ByteSource, HttpSource, TransientFileSource, is_url

__all__ = ["DirContainer"]

JSON_NAME = "lindi.json"


class DirContainer(Container):
    """A ``.lindi.d`` directory (local read/write, or remote read-only)."""

    kind = "dir"
    supports_blobs = True

    def __init__(
        self, location: str, refmap: ReferenceMap, fetcher: Fetcher, *, read_only: bool
    ) -> None:
        super().__init__(location, refmap, fetcher, read_only=read_only)
        self._root = location if is_url(location) else os.path.abspath(location)  # where files are written (a temp directory until published)
        self._published = True
        self._new_blobs: list[str] = []  # written since the last flush: removed if a commit is refused

    @classmethod
    def create(cls, location: str, fetcher: Fetcher) -> DirContainer:
        """Start a new, empty directory beside ``location``; it replaces it at the first flush."""
        parent = os.path.dirname(os.path.abspath(location)) or "."
        root = tempfile.mkdtemp(prefix="." + os.path.basename(location.rstrip("/")) + ".", dir=parent)
        os.chmod(root, default_file_mode(location, directory=True))
        refmap = ReferenceMap({".zgroup": {"zarr_format": 2}}, source=location)
        container = cls(location, refmap, fetcher, read_only=False)
        container._root = root
        container._published = False
        return container

    @classmethod
    def open_local(cls, location: str, fetcher: Fetcher, *, read_only: bool) -> DirContainer:
        """Open an existing local ``.lindi.d``.

        Raises
        ------
        FormatError
            If the directory has no ``lindi.json``.
        ReferenceMapError
            If ``lindi.json`` is not a valid document.
        """
        path = os.path.join(location, JSON_NAME)
        if not os.path.isfile(path):
            raise FormatError(
                f"{location} is a directory without {JSON_NAME}; it is not a .lindi.d container, "
                "nor a Zarr directory store (no zarr.json or .zgroup at its top)."
            )
        with open(path, "rb") as fh:
            refmap = ReferenceMap.from_json(fh.read(), source=path)
        return cls(location, refmap, fetcher, read_only=read_only)

    @classmethod
    def open_remote(cls, url: str, fetcher: Fetcher) -> DirContainer:
        """Open ``URL/lindi.json`` of a remote directory (read-only).

        Raises
        ------
        RemoteReadError
            If the document cannot be fetched.
        ReferenceMapError
            If it is not a valid document.
        """
        base = url.rstrip("/")
        source = fetcher.source(f"{base}/{JSON_NAME}")
        assert isinstance(source, HttpSource)
        data, total = source.read_prefix(fetcher.options.initial_read_bytes)
        if len(data) < total:
            data += source.read_range(len(data), total)
        return cls(base, ReferenceMap.from_json(data, source=source.name), fetcher, read_only=True)

    def _resolve_internal(self, ref: RangeRef, key: str) -> tuple[ByteSource | str, int, int]:
        name = ref.url[2:]
        _check_relative(name, self.location)
        if is_url(self.location):
            return f"{self.location}/{name}", ref.offset, ref.offset + ref.length
        path = os.path.join(self._root, name)
        try:
            size = os.path.getsize(path)
        except FileNotFoundError:
            raise ChunkRefError(
                f"Chunk {key!r} of {self.location} refers to blob {name!r}, which does not exist. "
                "The directory is incomplete (was a blob deleted or not copied?).",
                url=path, key=key,
            ) from None
        if ref.offset + ref.length > size:
            raise ChunkRefError(
                f"Chunk {key!r} of {self.location} refers to bytes {ref.offset}-"
                f"{ref.offset + ref.length} of blob {name!r}, which has only {size} bytes.",
                url=path, key=key,
            )
        source = TransientFileSource(path, stats=self.fetcher.stats, counted_as=self.location)
        return source, ref.offset, ref.offset + ref.length

    def _write_blob(self, key: str, data: bytes) -> str:
        # docstring inherited
        base = "blobs/" + key
        name, version = base, 1
        while os.path.exists(os.path.join(self._root, name)):
            version += 1
            name = f"{base}.v{version}"
        path = os.path.join(self._root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "xb") as fh:
            fh.write(data)
        self._new_blobs.append(path)
        return name

    def flush(self) -> None:
        # docstring inherited
        self._check_writable()
        if self._published and not self.refmap.dirty:
            return
        try:
            self._check_commit()
        except ConcurrentModificationError:
            if self._published:  # a new directory is removed whole by _release
                self._remove_new_blobs()
            self._new_blobs = []
            raise
        atomic_write(
            os.path.join(self._root, JSON_NAME), self.refmap.to_json(shard_sink=self._table_sink, home=self.location)
        )
        self.refmap.dirty = False
        if not self._published:
            self._publish()
        self._new_blobs = []
        self._committed()

    def _remove_new_blobs(self) -> None:
        """Remove the blobs written since the last flush, and the directories left empty."""
        for path in self._new_blobs:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            parent = os.path.dirname(path)
            while parent != self._root and parent.startswith(self._root + os.sep):
                try:
                    os.rmdir(parent)
                except OSError:  # not empty (or gone)
                    break
                parent = os.path.dirname(parent)

    @property
    def published(self) -> bool:
        # docstring inherited
        return self._published

    def _disk_stamp(self) -> object:
        """The directory at the location (its inode) and its ``lindi.json`` (inode, size, mtime)."""
        if not self._published:
            return super()._disk_stamp()
        try:
            st = os.stat(self.location)
            doc = os.stat(os.path.join(self.location, JSON_NAME))
        except FileNotFoundError:
            return None
        return (st.st_dev, st.st_ino, doc.st_ino, doc.st_size, doc.st_mtime_ns)

    def _publish(self) -> None:
        """Move the temporary directory into place, replacing an existing one."""
        old = None
        if os.path.exists(self.location):
            old = tempfile.mkdtemp(prefix=".old.", dir=os.path.dirname(os.path.abspath(self.location)))
            os.rmdir(old)
            os.replace(self.location, old)
        try:
            os.replace(self._root, self.location)
        except BaseException:
            if old is not None:  # put the previous directory back
                os.replace(old, self.location)
            raise
        self._root = self.location
        self._published = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def _release(self) -> None:
        # docstring inherited
        if not self._published:
            shutil.rmtree(self._root, ignore_errors=True)
