"""File, Group, Dataset and attributes: an h5py-flavoured object model over a LINDI container.

Behaviour follows h5py (modes, ``KeyError`` for missing names, ``[()]`` for scalars, ``attrs``,
``visititems``, soft links and object references) without inheriting from it. This module is the
only place that knows how nodes are laid out in the reference map.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..errors import (
    ChunkRefError,
    MetadataError,
    NodeExistsError,
    NodeNotFoundError,
    RemoteReadError,
    UnsupportedError,
)
from ..format.attrs import ANNOTATION_KEYS, apply_dtype_tag, decode_attr, dtype_tag, encode_attr
from ..format.dtypes import compound_from_annotation, is_reference_dtype, ref_dtype, string_dtype
from ..format.references import ExternalLink, Reference, SoftLink
from ..format.zarr_v2 import ArrayMeta
from ..storage.containers import Container, open_container
from ..storage.refmap import ReferenceMap
from ..storage.sources import RemoteOptions, is_url
from .array import CHUNK_CACHE_BYTES, ArrayEngine, ChunkCache
from .create import plan_dataset
from .index import NodeIndex
from .selection import normalize_selection

__all__ = ["AsStrView", "AsTypeView", "AttributeManager", "Dataset", "File", "Group", "HardLink"]

logger = logging.getLogger(__name__)

_REFERENCE_OBJECT = re.compile(rb'\{\s*"_REFERENCE"\s*:')

EXTRA_KEY = "hdmf_lindi"
"""Top-level document key for what hdmf_lindi records beyond lindi (ignored and kept by lindi)."""


def _from_h5py_link(value: Any) -> Any:
    """Return h5py's ``SoftLink`` / ``ExternalLink`` as ours; anything else as it is.

    Recognised by class and module name: this layer does not import h5py.
    """
    cls = type(value)
    if not cls.__module__.startswith("h5py"):
        return value
    if cls.__name__ == "SoftLink":
        return SoftLink(str(value.path))
    if cls.__name__ == "ExternalLink":
        return ExternalLink(str(value.filename), str(value.path))
    return value


class _ExternalHop(UnsupportedError):
    """A path that runs through an external link (``"ext/inner/x"``): only lookups follow it."""

    def __init__(self, link_path: str, rest: str) -> None:
        super().__init__(
            f"'/{link_path}' is an external link; this operation cannot reach {rest!r} inside the "
            "linked file (open that file to change it)."
        )
        self.link_path = link_path
        self.rest = rest


class HardLink:
    """What ``get(name, getlink=True)`` returns for an ordinary (hard-linked) member."""

    def __repr__(self) -> str:
        return "HardLink()"


_ZARR_KEYS = frozenset({".zarray", ".zattrs", ".zgroup", ".zmetadata"})
"""Names a node cannot have: Zarr v2 stores its metadata under them."""


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
        self.external: Any = None  # hdf5.external.ExternalFiles, created on first use
        self.linked: dict[str, File] = {}
        """On the root of a chain of external links: the files opened to follow them, by
        location, shared by the whole chain and closed with the root."""
        self.link_root: _FileState = self
        self._link_hops = threading.local()
        self.file: File | None = None
        """The File of these nodes (set by File)."""

    def zattrs(self, path: str) -> dict[str, Any]:
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
                assert state.file is not None
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


class AttributeManager:
    """The ``attrs`` of a group or dataset, like h5py's: a mutable mapping of name -> value."""

    def __init__(self, state: _FileState, path: str) -> None:
        self._state = state
        self._path = path

    def _raw(self) -> dict[str, Any]:
        return self._state.zattrs(self._path)

    def _visible(self) -> dict[str, Any]:
        return {k: v for k, v in self._raw().items() if k not in ANNOTATION_KEYS}

    def __getitem__(self, name: str) -> Any:
        raw = self._visible()
        if name not in raw:
            raise NodeNotFoundError(
                f"Attribute {name!r} does not exist on '/{self._path}' (attributes: {sorted(raw)[:20]})."
            )
        return apply_dtype_tag(decode_attr(raw[name], name), self._state.attr_dtypes(self._path).get(name))

    def get(self, name: str, default: Any = None) -> Any:
        """Return the attribute value, or ``default`` if absent."""
        try:
            return self[name]
        except KeyError:
            return default

    def __setitem__(self, name: str, value: Any) -> None:
        self._state.check_writable()
        if name in ANNOTATION_KEYS:
            raise UnsupportedError(f"Attribute name {name!r} is reserved by the LINDI format.")
        encoded = encode_attr(value, name)
        raw = dict(self._raw())
        raw[name] = encoded
        self._state.container.set_metadata(_join(self._path, ".zattrs"), raw)
        self._state.record_attr_dtype(self._path, name, dtype_tag(value))

    def create(self, name: str, data: Any, shape: Any = None, dtype: Any = None) -> None:
        """Create an attribute (h5py's signature; ``shape`` and ``dtype`` reshape/cast data)."""
        value = np.asarray(data, dtype=dtype) if dtype is not None else data
        if shape is not None:
            value = np.reshape(value, shape)
        self[name] = value

    def modify(self, name: str, value: Any) -> None:
        """Set an attribute, keeping the type and shape of an existing one (h5py's ``modify``).

        An existing numeric or boolean attribute keeps its dtype (a value it cannot hold is an
        ``OverflowError``, as in h5py) and its shape (one element fits ``()`` and ``(1,)``;
        another shape is a ``TypeError``). Other attributes, and new names, are set as
        ``attrs[name] = value``.
        """
        old = self.get(name)
        if isinstance(old, str) and not isinstance(value, str | bytes):
            raise TypeError(f"Can't implicitly convert non-string objects to strings (attribute {name!r}).")
        if isinstance(old, np.ndarray | np.generic) and old.dtype.kind in "biuf":
            new = np.asarray(value, dtype=old.dtype)
            if new.shape != np.shape(old):
                if new.size != 1 or np.size(old) != 1:
                    raise TypeError(f"Shape of data {new.shape} is incompatible with attribute {name!r} {np.shape(old)}.")
                new = new.reshape(np.shape(old))
            value = new[()] if new.ndim == 0 else new
        self[name] = value

    def __delitem__(self, name: str) -> None:
        self._state.check_writable()
        raw = dict(self._raw())
        if name not in raw or name in ANNOTATION_KEYS:
            raise NodeNotFoundError(f"Attribute {name!r} does not exist on '/{self._path}'.")
        del raw[name]
        self._state.container.set_metadata(_join(self._path, ".zattrs"), raw)
        self._state.record_attr_dtype(self._path, name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._visible()

    def __iter__(self) -> Iterator[str]:
        return iter(self._visible())

    def __len__(self) -> int:
        return len(self._visible())

    def keys(self) -> list[str]:
        """Return the attribute names."""
        return list(self._visible())

    def values(self) -> list[Any]:
        """Return the decoded attribute values."""
        return [v for _, v in self.items()]

    def items(self) -> list[tuple[str, Any]]:
        """Return ``(name, value)`` pairs."""
        tags = self._state.attr_dtypes(self._path)
        if not tags:
            return [(k, decode_attr(v, k)) for k, v in self._visible().items()]
        return [(k, apply_dtype_tag(decode_attr(v, k), tags.get(k))) for k, v in self._visible().items()]

    def __repr__(self) -> str:
        return f"<Attributes of '/{self._path}' ({len(self)} members)>"


class _Node:
    def __init__(self, state: _FileState, path: str) -> None:
        self._state = state
        self._path = path

    @property
    def name(self) -> str:
        """Absolute path of the node."""
        return "/" + self._path

    @property
    def attrs(self) -> AttributeManager:
        """The node's attributes."""
        return AttributeManager(self._state, self._path)

    @property
    def file(self) -> File:
        """The file the node belongs to."""
        assert self._state.file is not None
        return self._state.file

    @property
    def parent(self) -> Group:
        """The group that holds the node."""
        return Group(self._state, self._path.rpartition("/")[0])

    @property
    def ref(self) -> Reference:
        """An object reference to this node (uses ``object_id`` attributes when present)."""
        own = self._state.zattrs(self._path).get("object_id")
        root = self._state.zattrs("").get("object_id")
        return Reference(
            path=self.name,
            object_id=own if isinstance(own, str) else None,
            source_object_id=root if isinstance(root, str) else None,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Node) and other._state is self._state and other._path == self._path

    def __hash__(self) -> int:
        return hash((id(self._state), self._path))


class Group(_Node):
    """A group: a container of groups, datasets and links."""

    # ------------------------------------------------------------------ lookup
    def _resolve(self, name: str | bytes, *, follow_last: bool = True) -> str:
        """Return the store path of ``name`` relative to this group, following soft links."""
        name = _text(name)
        base = "" if name.startswith("/") else self._path
        parts = [p for p in name.split("/") if p not in ("", ".")]
        current = base
        for i, part in enumerate(parts):
            current = _normpath(_join(current, part)) if part == ".." else _join(current, part)
            if self._state.index.kind(current) is None:
                raise NodeNotFoundError(
                    f"Unable to open '{name}' in '{self.name}': '/{current}' does not exist."
                )
            last = i == len(parts) - 1
            if last and not follow_last:
                break
            for _ in range(32):
                target = self._state.soft_link_target(current)
                if target is None:
                    break
                # h5py resolves a relative soft link against the group holding the link
                base = "" if target.startswith("/") else current.rpartition("/")[0]
                resolved = _normpath(_join(base, target))
                if self._state.index.kind(resolved) is None:
                    raise NodeNotFoundError(
                        f"Soft link '/{current}' points to {target!r}, which does not exist "
                        "(dangling link)."
                    )
                current = resolved
            if not last and self._state.external_link(current) is not None:  # also via a soft link
                raise _ExternalHop(current, "/".join(parts[i + 1:]))
        return current

    def _node(self, path: str) -> Group | Dataset:
        if self._state.index.kind(path) == "array":
            return Dataset(self._state, path)
        if self._state.external_link(path) is not None:
            return self._state.follow_external(path)
        return Group(self._state, path)

    def __getitem__(self, name: str | bytes | Reference) -> Group | Dataset:
        if isinstance(name, Reference):
            return self._deref(name)
        try:
            path = self._resolve(name)
        except _ExternalHop as hop:  # "ext/inner": look "inner" up in the linked file
            return self._linked_group(hop)[hop.rest]
        return self._node(path)

    def _linked_group(self, hop: _ExternalHop) -> Group:
        """The group an external link on the way of a path points to."""
        target = self._state.follow_external(hop.link_path)
        if not isinstance(target, Group):
            raise NodeNotFoundError(
                f"Unable to open {hop.rest!r} below '/{hop.link_path}': the external link points to "
                f"a dataset ({target.name} of {target.file.filename})."
            )
        return target

    def _deref(self, ref: Reference) -> Group | Dataset:
        path = _normpath(ref.path)
        if self._state.index.kind(path) is None and path != "":
            raise NodeNotFoundError(f"Reference target {ref.path!r} does not exist in this file.")
        if ref.object_id is not None:
            actual = self._state.zattrs(path).get("object_id")
            if actual is not None and actual != ref.object_id:
                raise NodeNotFoundError(
                    f"Reference to {ref.path!r} expects object_id {ref.object_id!r}, but the object "
                    f"there has {actual!r}; the reference is stale."
                )
        return self._node(path)

    def get(self, name: str | bytes, default: Any = None, getclass: bool = False, getlink: bool = False) -> Any:
        """Return the member ``name`` or ``default``; with ``getlink``, the link object instead.

        With ``getlink=True`` the result is a :class:`SoftLink` or :class:`HardLink`; with
        ``getclass=True`` the class of the object (or link) instead of the object.
        """
        try:
            path = self._resolve(name, follow_last=not getlink)
        except _ExternalHop as hop:
            try:
                group = self._linked_group(hop)
            except KeyError:
                return default
            return group.get(hop.rest, default, getclass, getlink)
        except KeyError:
            return default
        if getlink:
            target = self._state.soft_link_target(path)
            link: Any = SoftLink(target) if target is not None else self._state.external_link(path) or HardLink()
            return type(link) if getclass else link
        try:
            node = self._node(path)
        except KeyError:  # an external link to a missing file or object
            return default
        return type(node) if getclass else node

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str | bytes):
            return False
        try:
            self._resolve(name)
        except _ExternalHop as hop:
            try:
                return hop.rest in self._linked_group(hop)
            except KeyError:
                return False
        except KeyError:
            return False
        return True

    def keys(self) -> list[str]:
        """Return member names, sorted (as h5py lists them by default)."""
        return self._state.index.children(self._path)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def values(self) -> list[Group | Dataset | None]:
        """Return the members (soft links resolved; None for a dangling link, as in h5py)."""
        return [self.get(k) for k in self.keys()]

    def items(self) -> list[tuple[str, Group | Dataset | None]]:
        """Return ``(name, member)`` pairs (soft links resolved; None for a dangling link)."""
        return [(k, self.get(k)) for k in self.keys()]

    def visititems(self, func: Callable[[str, Group | Dataset], Any]) -> Any:
        """Call ``func(relative_name, node)`` for every object below this group, recursively.

        Soft links are not followed (as in h5py). Returning a non-None value stops the walk and
        returns it.
        """
        stack = [(k, _join(self._path, k)) for k in reversed(self.keys())]
        while stack:
            rel, path = stack.pop()
            if self._state.soft_link_target(path) is not None or self._state.external_link(path):
                continue
            node = self._node(path)
            result = func(rel, node)
            if result is not None:
                return result
            if isinstance(node, Group):
                stack.extend((f"{rel}/{k}", _join(path, k)) for k in reversed(node.keys()))
        return None

    def visit(self, func: Callable[[str], Any]) -> Any:
        """Call ``func(relative_name)`` for every object below this group (see visititems)."""
        return self.visititems(lambda name, _node: func(name))

    # ------------------------------------------------------------------ creation
    def _new_path(self, name: str | bytes) -> str:
        self._state.check_writable()
        name = _text(name)
        if not name or name == "/":
            raise ValueError("A name is required.")
        base = "" if name.startswith("/") else self._path
        path = _normpath(_join(base, name))
        reserved = _ZARR_KEYS.intersection(path.split("/"))
        if reserved:
            raise UnsupportedError(
                f"Cannot create '/{path}': {sorted(reserved)[0]!r} is a Zarr metadata key, which "
                "LINDI cannot use as a group or dataset name."
            )
        if self._state.index.kind(path) is not None:
            raise NodeExistsError(f"Unable to create '{name}' in '{self.name}': '/{path}' already exists.")
        parent = path.rpartition("/")[0]
        if parent:
            kind = self._state.index.kind(parent)
            if kind == "array":
                raise NodeExistsError(f"Unable to create '/{path}': '/{parent}' is a dataset.")
            if kind is None:
                Group(self._state, "").create_group(parent)
            elif self._state.soft_link_target(parent) is not None:
                raise UnsupportedError(f"Cannot create '/{path}' below the soft link '/{parent}'.")
            elif self._state.external_link(parent) is not None:
                raise UnsupportedError(
                    f"Cannot create '/{path}' below the external link '/{parent}' (open the linked file)."
                )
        return path

    def create_group(self, name: str, track_order: bool | None = None) -> Group:
        """Create a group (and missing intermediate groups).

        Raises
        ------
        NodeExistsError
            If the name is taken.
        ModeError
            If the file is read-only.
        UnsupportedError
            For a name LINDI cannot store (``.zarray``, ``.zattrs``, ``.zgroup``).
        """
        path = self._new_path(name)
        self._state.container.set_metadata(_join(path, ".zgroup"), {"zarr_format": 2})
        self._state.index.add(path, "group")
        return Group(self._state, path)

    def require_group(self, name: str) -> Group:
        """Open the group ``name``, creating it if missing.

        Raises
        ------
        NodeExistsError
            If ``name`` exists and is a dataset.
        """
        if name in self:
            node = self[name]
            if not isinstance(node, Group):
                raise NodeExistsError(f"'{node.name}' exists and is not a group.")
            return node
        return self.create_group(name)

    def create_dataset(
        self,
        name: str,
        shape: Any = None,
        dtype: Any = None,
        data: Any = None,
        *,
        chunks: Any = None,
        compression: Any = None,
        compression_opts: Any = None,
        compressor: Any = None,
        shuffle: bool = False,
        fillvalue: Any = None,
        maxshape: Any = None,
        **kwargs: Any,
    ) -> Dataset:
        """Create a dataset (h5py's arguments; ``compressor`` takes a numcodecs codec).

        ``maxshape`` is accepted for compatibility (every LINDI dataset can be resized with
        :meth:`Dataset.resize`). Other h5py keywords such as ``track_times`` are accepted and
        ignored when they do not change the data.

        Raises
        ------
        NodeExistsError
            If the name is taken.
        ModeError
            If the file is read-only.
        UnsupportedError
            For names, dtypes or compression LINDI cannot store.
        MetadataError
            For a layout that could not be read back (a negative dimension, say).
        """
        ignored = set(kwargs) - {"track_times", "track_order", "fletcher32", "scaleoffset", "dcpl", "allow_unknown_filter"}
        if ignored:
            raise TypeError(f"create_dataset() got unexpected keyword arguments {sorted(ignored)}.")
        path = self._new_path(name)
        plan = plan_dataset(
            shape=shape, dtype=dtype, data=data, chunks=chunks, compression=compression,
            compression_opts=compression_opts, compressor=compressor, shuffle=shuffle,
            fillvalue=fillvalue,
        )
        container = self._state.container
        container.set_metadata(_join(path, ".zarray"), plan.zarray)
        if plan.zattrs:
            container.set_metadata(_join(path, ".zattrs"), plan.zattrs)
        self._state.index.add(path, "array")
        ds = Dataset(self._state, path)
        if is_reference_dtype(plan.dtype):
            # nothing in .zarray marks references; remember it before any chunk says so
            ds._engine(plan.dtype)
        if plan.data is not None and plan.data.size:
            engine = ds._engine()
            engine.write(normalize_selection((), engine.meta.shape), plan.data)
        return ds

    def require_dataset(self, name: str, shape: Any, dtype: Any, exact: bool = False, **kwargs: Any) -> Dataset:
        """Open dataset ``name`` if it exists with a compatible shape and dtype, else create it.

        Raises
        ------
        NodeExistsError
            If ``name`` exists with another shape or dtype, or is a group.
        """
        if name in self:
            node = self[name]
            if not isinstance(node, Dataset):
                raise NodeExistsError(f"'{node.name}' exists and is not a dataset.")
            if tuple(node.shape) != tuple(np.atleast_1d(shape)) and tuple(node.shape) != tuple(shape or ()):
                raise NodeExistsError(f"'{node.name}' exists with shape {node.shape}, not {shape}.")
            if exact and np.dtype(dtype) != node.dtype:
                raise NodeExistsError(f"'{node.name}' exists with dtype {node.dtype}, not {dtype}.")
            return node
        return self.create_dataset(name, shape=shape, dtype=dtype, **kwargs)

    def __setitem__(self, name: str, value: Any) -> None:
        value = _from_h5py_link(value)
        if isinstance(value, SoftLink):
            path = self._new_path(name)
            container = self._state.container
            container.set_metadata(_join(path, ".zgroup"), {"zarr_format": 2})
            container.set_metadata(_join(path, ".zattrs"), {"_SOFT_LINK": {"path": value.path}})
            self._state.index.add(path, "group")
        elif isinstance(value, ExternalLink):
            # hdmf_lindi's form (docs/format_notes.rst): an empty group carrying the link; lindi
            # shows it as a group with a string-array attribute.
            path = self._new_path(name)
            container = self._state.container
            container.set_metadata(_join(path, ".zgroup"), {"zarr_format": 2})
            container.set_metadata(_join(path, ".zattrs"), {"_EXTERNAL_LINK": [value.filename, value.path]})
            self._state.index.add(path, "group")
        elif isinstance(value, Group | Dataset):
            raise UnsupportedError(
                f"Cannot hard-link '{value.name}' as '{name}': LINDI has no hard links; use a "
                "SoftLink instead."
            )
        else:
            self.create_dataset(name, data=value)

    def copy(
        self,
        source: str | bytes | Group | Dataset,
        dest: str | bytes | Group,
        name: str | bytes | None = None,
        shallow: bool = False,
        expand_soft: bool = False,
        expand_external: bool = False,
        expand_refs: bool = False,
        without_attrs: bool = False,
    ) -> None:
        """Copy a group or dataset, from this file or another open LINDI file (h5py's ``copy``).

        ``source`` is a path relative to this group, or a node of any open file. ``dest`` is a
        new path relative to this group, or a group (of any open file, writable) to copy into as
        ``name`` (by default the source's base name). Datasets are copied by reference, without
        decoding: chunks that point into another file (a remote HDF5, say) keep pointing there.
        Soft and external links are copied as links unless ``expand_soft``; object references
        inside the copy keep naming their original paths.

        Raises
        ------
        NodeNotFoundError
            If ``source`` does not exist.
        NodeExistsError
            If the destination exists.
        UnsupportedError
            For ``expand_external`` or ``expand_refs``, and for a copy into itself.
        ModeError
            If the destination file is read-only.
        """
        from .copy import all_or_nothing, copy_node  # copy.py builds on this module

        if expand_external or expand_refs:
            raise UnsupportedError("Group.copy does not support expand_external or expand_refs.")
        src = self[source] if isinstance(source, str | bytes) else source
        with all_or_nothing(dest if isinstance(dest, Group) else self):  # parents made for dest too
            if isinstance(dest, Group):
                parent, new_name = dest, _text(name) if name is not None else src.name.rpartition("/")[2]
            else:
                dest_path = self._new_path(dest)  # checks writability and creates missing parents
                parent_path, _, new_name = dest_path.rpartition("/")
                parent = Group(self._state, parent_path)
            if not new_name:
                raise ValueError("Copying the root group needs a name for the copy.")
            copy_node(src, parent, new_name, shallow=shallow, expand_soft=expand_soft, without_attrs=without_attrs)

    def move(self, source: str | bytes, dest: str | bytes) -> None:
        """Move (rename) a group, dataset or link within this file (h5py's ``move``).

        Both paths are relative to this group. A soft link moves as a link. Object references and
        soft links that name the old path are not updated (in h5py, references follow the object).

        Raises
        ------
        NodeNotFoundError
            If ``source`` does not exist.
        NodeExistsError
            If ``dest`` exists.
        UnsupportedError
            If ``dest`` lies inside ``source``, or ``source`` is the root group.
        ModeError
            If the file is read-only.
        """
        from .copy import move_node

        move_node(self, _text(source), _text(dest))

    def __delitem__(self, name: str | bytes) -> None:
        self._state.check_writable()
        self._delete_path(self._resolve(name, follow_last=False))

    def _delete_path(self, path: str) -> None:
        """Remove the node at store path ``path`` and everything below it."""
        self._state.check_writable()
        prefix = path + "/"
        for key in [k for k in self._state.refmap if k.startswith(prefix)]:
            self._state.container.delete(key)
            self._state.cache.discard(key)
        self._state.index.remove(path)
        self._state.forget_attr_dtypes(path)
        self._state.engines = {p: e for p, e in self._state.engines.items() if p != path and not p.startswith(prefix)}

    def __repr__(self) -> str:
        return f'<LINDI group "{self.name}" ({len(self)} members)>'


class Dataset(_Node):
    """A dataset: a lazily read, chunked array (or a scalar)."""

    def _engine(self, dtype: np.dtype[Any] | None = None) -> ArrayEngine:
        engine = self._state.engines.get(self._path)
        if engine is None:
            if self._state.index.kind(self._path) != "array":
                raise NodeNotFoundError(
                    f"Dataset '{self.name}' no longer exists (it was deleted or moved); look it up "
                    "again from its group."
                )
            meta = ArrayMeta.from_dict(
                self._state.refmap.get_json(_join(self._path, ".zarray")),
                where=f"'/{self._path}' of {self._state.container.location}",
            )
            if self._scalar and meta.shape != (1,):
                raise MetadataError(
                    f"'/{self._path}' of {self._state.container.location} is marked _SCALAR but "
                    f"has shape {list(meta.shape)}; a scalar is stored with shape [1]."
                )
            presented = self._presented_dtype(meta) if dtype is None else dtype
            engine = ArrayEngine(self._state.container, self._path, meta, presented, self._state.cache)
            engine.plain = not self._scalar and self._external is None
            self._state.engines[self._path] = engine
        return engine

    def _presented_dtype(self, meta: ArrayMeta) -> np.dtype[Any]:
        zattrs = self._state.zattrs(self._path)
        if "_COMPOUND_DTYPE" in zattrs:
            return compound_from_annotation(zattrs["_COMPOUND_DTYPE"], where=self.name)
        if meta.dtype.kind != "O":
            return meta.dtype
        if self._is_reference(meta):
            return ref_dtype
        return string_dtype()

    def _is_reference(self, meta: ArrayMeta) -> bool:
        """Object arrays hold strings or references; look for a reference in the first stored chunk.

        The first chunk may be absent (never written) and its first elements may be nulls
        (unwritten references), so the first chunk present is searched as a whole. A JSON
        object opening ``{"_REFERENCE":`` cannot occur inside an encoded string (its quotes
        would be escaped).
        """
        if int(np.prod(meta.shape)) == 0:
            return False
        data = self._state.container.read(_join(self._path, ".".join("0" * len(meta.chunks))) if meta.chunks else "0")
        if data is None:
            prefix = self._path + "/"
            first = next(
                (k for k in self._state.refmap if k.startswith(prefix) and "/" not in k[len(prefix):]
                 and not k[len(prefix):].startswith(".")),
                None,
            )
            data = None if first is None else self._state.container.read(first)
        if data is None:
            return False
        return _REFERENCE_OBJECT.search(bytes(meta.pipeline.decode(data, where=f" of {self.name}"))) is not None

    @property
    def _scalar(self) -> bool:
        return bool(self._state.zattrs(self._path).get("_SCALAR"))

    @property
    def _external(self) -> dict[str, Any] | None:
        link = self._state.zattrs(self._path).get("_EXTERNAL_ARRAY_LINK")
        if isinstance(link, dict) and link.get("link_type") == "hdf5_dataset":
            return link
        return None

    @property
    def shape(self) -> tuple[int, ...]:
        """The dataset's shape (``()`` for scalars)."""
        return () if self._scalar else self._engine().meta.shape

    @property
    def dtype(self) -> np.dtype[Any]:
        """The element dtype (``string_dtype()`` for strings, ``ref_dtype`` for references)."""
        return self._engine().dtype

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        """Size of the data in memory, in bytes."""
        return self.size * self.dtype.itemsize

    @property
    def chunks(self) -> tuple[int, ...] | None:
        """The chunk shape (None for scalars)."""
        return None if self._scalar else self._engine().meta.chunks

    @property
    def maxshape(self) -> tuple[int | None, ...]:
        """Every LINDI dataset is resizable along every axis."""
        return tuple(None for _ in self.shape)

    @property
    def compression(self) -> str | None:
        """The compressor's codec id (``"gzip"``, ``"zlib"``, ``"blosc"`` ...) or None."""
        meta = self._engine().meta
        if meta.compressor is not None:
            return str(meta.compressor.get("id"))
        for f in meta.filters or []:
            if f.get("id") in ("zlib", "gzip", "blosc", "zstd", "lz4"):
                return str(f["id"])
        return None

    @property
    def compression_opts(self) -> Any:
        """The compression level when the codec has one."""
        meta = self._engine().meta
        codec = meta.compressor or next(
            (f for f in meta.filters or [] if f.get("id") in ("zlib", "gzip", "zstd")), None
        )
        return None if codec is None else codec.get("level", codec.get("clevel"))

    @property
    def compressor(self) -> dict[str, Any] | None:
        """The ``compressor`` configuration of ``.zarray``."""
        return self._engine().meta.compressor

    @property
    def filters(self) -> list[dict[str, Any]] | None:
        """The ``filters`` list of ``.zarray``."""
        return self._engine().meta.filters

    @property
    def shuffle(self) -> bool:
        """Whether the shuffle filter is applied."""
        return any(f.get("id") == "shuffle" for f in self.filters or [])

    @property
    def fillvalue(self) -> Any:
        """The fill value of unwritten chunks."""
        return self._engine().meta.fill_value

    def __len__(self) -> int:
        if self._scalar:
            raise TypeError("Attempt to take len() of a scalar dataset.")
        return self.shape[0]

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, key: Any) -> Any:
        engine = self._engine()
        if engine.plain:
            value = engine.read_within_chunk(key)
            if value is not None:
                return value
        if isinstance(key, str) or (isinstance(key, tuple) and key and isinstance(key[0], str)):
            return self._field(key)
        if self._scalar:
            if key == () or key is Ellipsis:
                if key == () and engine.meta.shape == (1,):
                    value = engine.read_within_chunk((0,))
                    if value is not None:
                        return value
                one = engine.read(normalize_selection((), engine.meta.shape))
                # h5py: ds[()] gives the element, ds[...] a 0-d array of the dataset's dtype
                return one[0] if key == () else one.reshape(())
            raise ValueError(f"Illegal slicing argument {key!r} for scalar dataspace; use ds[()].")
        if self._external is not None:
            return self._read_external(key)
        out = engine.read(normalize_selection(key, engine.meta.shape))
        # as h5py (and numpy), an all-integer selection gives an element, not a 0-d array
        return out[()] if out.ndim == 0 else out

    def _field(self, key: Any) -> Any:
        if self.dtype.fields is None:
            raise ValueError(
                f"Field names are only allowed for compound datasets (as in h5py); '{self.name}' "
                f"has dtype {self.dtype}."
            )
        names = [key] if isinstance(key, str) else [k for k in key if isinstance(k, str)]
        rest = key[len(names):] if isinstance(key, tuple) else ()
        data = self[rest if rest else ()] if not self._scalar else self[()]
        if len(names) == 1:
            return data[names[0]]
        return data[names]

    def _read_external(self, key: Any) -> Any:
        from ..hdf5.external import ExternalFiles  # lazy: h5py lives in hdf5/

        if self._state.external is None:
            self._state.external = ExternalFiles(self._state.container.fetcher)
        link = self._external
        assert link is not None
        return self._state.external.read(str(link["url"]), str(link["name"]), key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._state.check_writable()
        engine = self._engine()
        if self._scalar:
            if key not in ((), Ellipsis):
                raise ValueError(f"Illegal slicing argument {key!r} for scalar dataspace; use ds[()] = v.")
            key = ()
            value = np.reshape(np.asarray(value, dtype=object) if engine.dtype.kind == "O" else np.asarray(value), (1,))
        if self._external is not None:
            raise UnsupportedError(f"'{self.name}' links to an HDF5 dataset and cannot be written.")
        engine.write(normalize_selection(key, engine.meta.shape), value)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray[Any, Any]:
        arr = np.asarray(self[()] if self._scalar else self[...])
        return arr.astype(dtype) if dtype is not None else arr

    def astype(self, dtype: Any) -> AsTypeView:
        """Return a view that reads this dataset converted to ``dtype`` (``ds.astype("f4")[:10]``)."""
        return AsTypeView(self, np.dtype(dtype))

    def asstr(self, encoding: str = "utf-8", errors: str = "strict") -> AsStrView:
        """Return a view that reads a string dataset as ``str`` objects (h5py's ``asstr``).

        Raises
        ------
        TypeError
            If the dataset does not hold strings.
        """
        if self.dtype.kind not in "OS" or is_reference_dtype(self.dtype):
            raise TypeError(f"asstr() can only be used on string datasets; '{self.name}' has dtype {self.dtype}.")
        return AsStrView(self, encoding, errors)

    def iter_chunks(self, sel: Any = None) -> Iterator[tuple[slice, ...]]:
        """Yield, for each chunk the selection touches, the slices of the dataset it covers there.

        As h5py's ``iter_chunks``: ``sel`` is a tuple of step-1 slices and integers (an integer
        selects one index and keeps its axis), the whole dataset when None; chunks come in C
        order.

        Raises
        ------
        TypeError
            For scalar datasets (h5py: not chunked).
        """
        if self._scalar:
            raise TypeError("Chunked dataset required (a scalar dataset has no chunks).")
        meta = self._engine().meta
        if sel is not None:
            sel = tuple(
                slice(i % n, i % n + 1) if isinstance(i, int | np.integer) and -n <= i < n else i
                for i, n in zip(sel if isinstance(sel, tuple) else (sel,), meta.shape, strict=False)
            )
        selection = normalize_selection(() if sel is None else sel, meta.shape)
        if not all(isinstance(axis, slice) and axis.step == 1 for axis in selection.axes):
            raise TypeError(f"iter_chunks takes a tuple of step-1 slices, not {sel!r}.")
        return (
            tuple(
                slice(g * c + local.start, g * c + local.stop, 1)
                for g, c, local in zip(part.grid_index, meta.chunks, part.local, strict=True)
            )
            for part in selection.parts(meta.chunks, meta.shape)
        )

    def read_direct(self, dest: np.ndarray[Any, Any], source_sel: Any = None, dest_sel: Any = None) -> None:
        """Read into an existing array (h5py's signature)."""
        dest[() if dest_sel is None else dest_sel] = self[() if source_sel is None else source_sel]

    def resize(self, size: int | tuple[int, ...], axis: int | None = None) -> None:
        """Change the shape; chunks wholly outside the new shape are removed.

        Raises
        ------
        ModeError
            If the file is read-only.
        TypeError
            For scalar datasets.
        """
        self._state.check_writable()
        if self._scalar:
            raise TypeError("Scalar datasets cannot be resized.")
        engine = self._engine()
        shape = list(engine.meta.shape)
        if axis is not None:
            shape[axis] = int(size)  # type: ignore[arg-type]
        else:
            shape = [int(s) for s in np.atleast_1d(size)]
        if len(shape) != len(engine.meta.shape):
            raise TypeError(f"New shape {shape} must have {len(engine.meta.shape)} dimensions.")
        zarray = engine.meta.to_dict()
        zarray["shape"] = shape
        if all(n >= o for n, o in zip(shape, engine.meta.shape, strict=True)):
            # growing never cuts a chunk: only the metadata changes
            self._state.container.set_metadata(_join(self._path, ".zarray"), zarray)
            self._state.engines.pop(self._path, None)
            return
        grid = [-(-s // c) for s, c in zip(shape, engine.meta.chunks, strict=True)]
        old_shape = engine.meta.shape
        prefix = self._path + "/"
        for key in [k for k in self._state.refmap if k.startswith(prefix) and not k[len(prefix):].startswith(".")]:
            index = tuple(int(x) for x in key[len(prefix):].split("."))
            if any(i >= g for i, g in zip(index, grid, strict=True)):
                self._state.container.delete(key)
            elif any(
                n < o and (i + 1) * c > n
                for i, c, n, o in zip(index, engine.meta.chunks, shape, old_shape, strict=True)
            ):
                # an edge chunk cut by the shrink: forget the cut-off values, as HDF5 does
                engine.clear_outside(index, tuple(shape))
            self._state.cache.discard(key)
        self._state.container.set_metadata(_join(self._path, ".zarray"), zarray)
        self._state.engines.pop(self._path, None)

    def __repr__(self) -> str:
        return f'<LINDI dataset "{self.name}": shape {self.shape}, type "{self.dtype.str}">'


class _ReadView:
    """A dataset seen through a conversion: indexing reads, then converts (h5py's wrappers)."""

    def __init__(self, dataset: Dataset) -> None:
        self._dataset = dataset

    def _convert(self, data: Any) -> Any:
        raise NotImplementedError

    def __getitem__(self, key: Any) -> Any:
        return self._convert(self._dataset[key])

    def __len__(self) -> int:
        return len(self._dataset)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray[Any, Any]:
        arr = np.asarray(self[()])
        return arr if dtype is None else arr.astype(dtype)


class AsStrView(_ReadView):
    """What :meth:`Dataset.asstr` returns: indexing reads strings as ``str`` (bytes are decoded)."""

    def __init__(self, dataset: Dataset, encoding: str, errors: str) -> None:
        super().__init__(dataset)
        self._encoding = encoding
        self._errors = errors

    def _decode(self, value: Any) -> Any:
        return value.decode(self._encoding, self._errors) if isinstance(value, bytes) else value

    def _convert(self, data: Any) -> Any:
        if not isinstance(data, np.ndarray):
            return self._decode(data)
        out = np.empty(data.shape, dtype=object)
        out.flat[:] = [self._decode(v) for v in data.flat]
        return out


class AsTypeView(_ReadView):
    """What :meth:`Dataset.astype` returns: indexing reads and converts to ``dtype``."""

    def __init__(self, dataset: Dataset, dtype: np.dtype[Any]) -> None:
        super().__init__(dataset)
        self.dtype = dtype

    def _convert(self, data: Any) -> Any:
        out = np.asarray(data).astype(self.dtype)
        return out[()] if out.ndim == 0 else out  # an element is a NumPy scalar, as in h5py


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

    Raises
    ------
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
    ) -> None:
        if isinstance(location, ReferenceMap):
            from ..storage.memory_container import MemoryContainer

            container: Container = MemoryContainer(location, allow_local_paths=allow_local_paths)
        else:
            container = open_container(location, mode, options=options, allow_local_paths=allow_local_paths)
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
