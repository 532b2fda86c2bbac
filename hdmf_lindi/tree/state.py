"""What all nodes of one open file share: the file state, link resolution and path helpers.

This package (state, attrs, node, group, dataset, file) is the only place that knows how nodes
are laid out in the reference map.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

from ..errors import ChunkRefError, ClosedFileError, NodeNotFoundError, RemoteReadError
from ..format.references import ExternalLink
from ..storage.containers import Container
from ..storage.refmap import ReferenceMap
from ..storage.sources import is_url
from .array import ArrayEngine, ChunkCache
from .index import NodeIndex

if TYPE_CHECKING:
    from .dataset import Dataset
    from .file import File
    from .group import Group

__all__ = ["EXTRA_KEY", "MAX_LINK_HOPS", "resolve_link_file"]

EXTRA_KEY = "hdmf_lindi"
"""Top-level document key for what hdmf_lindi records beyond lindi (ignored and kept by lindi)."""

MAX_LINK_HOPS = 16
"""External links one lookup may follow before it gives up (a cycle of links, say)."""


def resolve_link_file(name: str, base: str) -> str:
    """The file an external link names, seen from the file at ``base``.

    A URL or an absolute path is kept; a relative name is relative to ``base``'s URL, or to its
    directory (then to the working directory, as chunk references are), made absolute.
    """
    if is_url(name) or os.path.isabs(name):
        return name
    if is_url(base):
        return base.rsplit("/", 1)[0] + "/" + name
    beside = os.path.join(os.path.dirname(base), name)
    return os.path.abspath(beside if os.path.exists(beside) or not os.path.exists(name) else name)


def _location_key(location: str) -> str:
    """A file location in a form two names of one file share (absolute local path, or the URL)."""
    return location if is_url(location) else os.path.abspath(location)


def _text(name: str | bytes) -> str:
    """A node name as ``str``: bytes are UTF-8 (as in h5py); anything else is a TypeError."""
    if isinstance(name, bytes):
        return name.decode("utf-8")
    if not isinstance(name, str):
        raise TypeError(f"A name must be a str or bytes (as in h5py), not {type(name).__name__}.")
    return name


def _join(parent: str, name: str) -> str:
    name = name.strip("/")
    return f"{parent}/{name}" if parent else name


def _normpath(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


class _FileState:
    """What all nodes of one open file share."""

    def __init__(self, container: Container, chunk_cache_bytes: int) -> None:
        self.container = container
        self.refmap: ReferenceMap = container.refmap
        self.index = NodeIndex(container.refmap)
        self.cache = ChunkCache(chunk_cache_bytes)
        self.engines: dict[str, ArrayEngine] = {}
        self.dialect = "lindi"
        """The dialect the file was read in: ``"lindi"`` (LINDI v2) or ``"zarr3"`` (the shared
        Zarr v3 convention, translated into the model at open; see ``format/zarr_v3.py``)."""
        self.external: Any = None  # hdf5.external.ExternalFiles, created on first use
        self.linked: dict[str, File] = {}
        """On the root of a chain of external links: the files opened to follow them, by
        location, shared by the whole chain and closed with the root."""
        self._link_root: _FileState | None = None
        self._link_hops = threading.local()
        self._file: weakref.ref[File] | None = None
        self.finalizer: weakref.finalize | None = None
        """Closes (flushing) the container when the last node of the file goes away or at exit
        (set by File; see unclosed.py)."""

    @property
    def link_root(self) -> _FileState:
        """The root of the chain of external links this file was opened through (else itself).

        Not stored as ``self``: a state must not be in a reference cycle, so that dropping the
        last node of a file closes it at once (see unclosed.py).
        """
        return self if self._link_root is None else self._link_root

    @link_root.setter
    def link_root(self, root: _FileState) -> None:
        self._link_root = None if root is self else root

    @property
    def file(self) -> File:
        """The File of these nodes.

        Held weakly, so that dropping the File and every node closes (and flushes) the file;
        a node that outlives its File object gets a new one for the same open file.
        """
        f = self._file() if self._file is not None else None
        if f is None:
            from .file import File  # file.py builds on this module

            f = File._of_state(self)
        return f

    @file.setter
    def file(self, f: File) -> None:
        self._file = weakref.ref(f)

    @property
    def closed(self) -> bool:
        """Whether the file was closed."""
        return self.container.closed

    def check_open(self) -> None:
        """Raise :class:`ClosedFileError` if the file was closed (as h5py refuses closed ids)."""
        if self.container.closed:
            raise ClosedFileError(
                f"{self.container.location} is closed; reopen it to use its groups, datasets "
                "and attributes."
            )

    def zattrs(self, path: str) -> dict[str, Any]:
        """The ``.zattrs`` of ``path`` (annotations included); metadata stays readable after close."""
        value = self.refmap.get_json(_join(path, ".zattrs"))
        return value if isinstance(value, dict) else {}

    def external_link(self, path: str) -> ExternalLink | None:
        if path and self.index.kind(path) == "group":
            link = self.zattrs(path).get("_EXTERNAL_LINK")
            if isinstance(link, list) and len(link) == 2:
                return ExternalLink(str(link[0]), str(link[1]))
        return None

    def open_linked(self, link: ExternalLink, at: str) -> File:
        """Open (once) the file the external link at store path ``at`` points to.

        A relative file name is resolved against this file's location (its URL, or its
        directory and then the working directory, as chunk references are). A local linked file
        may read local paths when this one may; a remote one never does.

        Raises
        ------
        ChunkRefError
            If this file is remote and the link names a local file (unless local paths are
            allowed).
        NodeNotFoundError
            If the linked file does not exist (a missing local file, or 404/410 for a URL).
        RemoteReadError
            If a linked URL cannot be read for another reason.
        """
        base = self.container.location
        name = resolve_link_file(link.filename, base)
        fetcher = self.container.fetcher
        if not is_url(name) and not fetcher.allow_local:
            raise ChunkRefError(
                f"Refusing to follow the external link '/{at}' of remote file {base} to the local "
                f"file {link.filename!r}. Open the file with allow_local_paths=True if you trust it.",
                url=link.filename,
            )
        root = self.link_root
        for state in (self, root):
            if _location_key(state.container.location) == _location_key(name):
                return state.file  # a link into an open file sees its changes
        linked = root.linked.get(name)
        if linked is None or linked.closed:
            if not is_url(name) and not os.path.exists(name):
                raise NodeNotFoundError(
                    f"External link '/{at}' points to {link.path!r} in {link.filename!r}, and that "
                    f"file does not exist (looked for {name!r})."
                )
            from .open import open_lindi_or_hdf5  # open.py builds on this module

            # a remote linked file never inherits the right to read local paths
            allow_local = False if is_url(name) else fetcher.allow_local
            try:
                linked = open_lindi_or_hdf5(name, "r", options=fetcher.options, allow_local_paths=allow_local)
            except RemoteReadError as exc:
                if exc.status not in (404, 410):
                    raise
                raise NodeNotFoundError(
                    f"External link '/{at}' points to {link.path!r} in {link.filename!r}, and that "
                    f"file does not exist ({name} answered {exc.status})."
                ) from exc
            linked._state.link_root = root
            root.linked[name] = linked
        return linked

    def follow_external(self, at: str) -> Group | Dataset:
        """Return the node the external link at store path ``at`` points to (see open_linked).

        Raises
        ------
        NodeNotFoundError
            If the file or the object is missing, or after ``MAX_LINK_HOPS`` external links in
            one lookup (a cycle), as HDF5 gives up.
        """
        link = self.external_link(at)
        assert link is not None
        hops = self.link_root._link_hops
        depth = getattr(hops, "depth", 0)
        if depth >= MAX_LINK_HOPS:
            raise NodeNotFoundError(
                f"Unable to follow the external link '/{at}' to {link.path!r} in {link.filename!r}: "
                f"more than {MAX_LINK_HOPS} external links in one lookup (a cycle of links?)."
            )
        hops.depth = depth + 1
        try:
            return self.open_linked(link, at)[link.path]
        finally:
            hops.depth = depth

    def soft_link_target(self, path: str) -> str | None:
        if path and self.index.kind(path) == "group":
            link = self.zattrs(path).get("_SOFT_LINK")
            if isinstance(link, dict) and isinstance(link.get("path"), str):
                return str(link["path"])
        return None

    def check_writable(self) -> None:
        self.check_open()
        self.container._check_writable()

    def attr_dtypes(self, path: str) -> dict[str, str]:
        """Recorded exact dtypes of the attributes of ``path`` (see format.attrs.dtype_tag)."""
        ours = self.refmap.extra.get(EXTRA_KEY)
        table = ours.get("attributeDtypes") if isinstance(ours, dict) else None
        entry = table.get("/" + path) if isinstance(table, dict) else None
        return entry if isinstance(entry, dict) else {}

    def forget_attr_dtypes(self, path: str) -> None:
        """Drop the recorded attribute dtypes of ``path`` and everything below it."""
        ours = self.refmap.extra.get(EXTRA_KEY)
        table = ours.get("attributeDtypes") if isinstance(ours, dict) else None
        if not isinstance(table, dict):
            return
        node = "/" + path
        for key in [k for k in table if k == node or k.startswith(node + "/")]:
            del table[key]
            self.refmap.dirty = True

    def record_attr_dtype(self, path: str, name: str, tag: str | None) -> None:
        """Record (or forget, for None) the exact dtype of one attribute."""
        ours = self.refmap.extra.get(EXTRA_KEY)
        if tag is None and not (isinstance(ours, dict) and name in self.attr_dtypes(path)):
            return
        if not isinstance(ours, dict):
            ours = self.refmap.extra[EXTRA_KEY] = {}
        table = ours.setdefault("attributeDtypes", {})
        entry = table.setdefault("/" + path, {})
        if tag is None:
            entry.pop(name, None)
            if not entry:
                del table["/" + path]
        else:
            entry[name] = tag
        self.refmap.dirty = True
