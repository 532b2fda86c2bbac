"""Groups: lookup (soft and external links followed), creation, copy, move and deletion.

Behaviour follows h5py (``KeyError`` for missing names, ``get``/``getlink``, ``visititems``, soft
links and object references) without inheriting from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..errors import NodeExistsError, NodeNotFoundError, UnsupportedError
from ..format.dtypes import is_reference_dtype
from ..format.references import ExternalLink, Reference, SoftLink
from .create import plan_dataset
from .dataset import Dataset
from .node import _Node
from .selection import normalize_selection
from .state import _join, _normpath, _text

__all__ = ["Group", "HardLink"]


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


class Group(_Node):
    """A group: a container of groups, datasets and links."""

    # ------------------------------------------------------------------ lookup
    def _resolve(self, name: str | bytes, *, follow_last: bool = True) -> str:
        """Return the store path of ``name`` relative to this group, following soft links."""
        self._state.check_open()
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
        self._state.check_open()
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
        self._state.check_open()
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
        if self._state.closed:
            return "<Closed LINDI group>"
        return f'<LINDI group "{self.name}" ({len(self)} members)>'
