"""The ``.lindi.json`` container: the reference map alone, every chunk inline.

Writes replace the file atomically (temporary file + ``os.replace``), and only when the map
changed. ``./NAME`` references (which lindi cannot read in this form) are resolved against the
document's own directory or URL.
"""

from __future__ import annotations

import os
import posixpath
from urllib.parse import urljoin

from ..errors import ContainerPathError
from .atomic import atomic_write
from .containers import Container
from .fetcher import Fetcher
from .refmap import RangeRef, ReferenceMap
from .sources import ByteSource, is_url

__all__ = ["JsonContainer"]


def _check_relative(name: str, location: str) -> None:
    norm = posixpath.normpath(name)
    if name.startswith("/") or norm == ".." or norm.startswith("../"):
        raise ContainerPathError(
            f"Name {name!r} in {location} escapes its container; internal names must stay "
            "inside it (no leading '/' or '..')."
        )


class JsonContainer(Container):
    """A ``.lindi.json`` file (local or remote)."""

    kind = "json"
    supports_blobs = False

    def __init__(
        self, location: str, refmap: ReferenceMap, fetcher: Fetcher, *, read_only: bool
    ) -> None:
        super().__init__(location, refmap, fetcher, read_only=read_only)
        self._is_new = False

    @classmethod
    def create(cls, location: str, fetcher: Fetcher) -> JsonContainer:
        """Start a new, empty document; nothing touches the disk until ``flush``."""
        refmap = ReferenceMap({".zgroup": {"zarr_format": 2}}, source=location)
        container = cls(location, refmap, fetcher, read_only=False)
        container._is_new = True
        return container

    @classmethod
    def open_local(cls, location: str, fetcher: Fetcher, *, read_only: bool) -> JsonContainer:
        """Open an existing local document.

        Raises
        ------
        ReferenceMapError
            If the file is not a valid LINDI document.
        """
        with open(location, "rb") as fh:
            data = fh.read()
        return cls(location, ReferenceMap.from_json(data, source=location), fetcher, read_only=read_only)

    @classmethod
    def from_bytes(cls, url: str, data: bytes, fetcher: Fetcher) -> JsonContainer:
        """Wrap a document already fetched from ``url`` (read-only).

        Raises
        ------
        ReferenceMapError
            If the bytes are not a valid LINDI document.
        """
        return cls(url, ReferenceMap.from_json(data, source=url), fetcher, read_only=True)

    def _resolve_internal(self, ref: RangeRef, key: str) -> tuple[ByteSource | str, int, int]:
        name = ref.url[2:]
        _check_relative(name, self.location)
        if is_url(self.location):
            target = urljoin(self.location, name)
        else:
            target = os.path.join(os.path.dirname(os.path.abspath(self.location)), name)
        return target, ref.offset, ref.offset + ref.length

    def flush(self) -> None:
        # docstring inherited
        self._check_writable()
        if not (self.refmap.dirty or self._is_new):
            return
        self._check_commit()
        atomic_write(self.location, self.refmap.to_json(home=self.location))
        self.refmap.dirty = False
        self._is_new = False
        self._committed()

    @property
    def published(self) -> bool:
        # docstring inherited
        return not self._is_new
