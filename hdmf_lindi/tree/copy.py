"""Copy datasets and groups between LINDI files by reference: metadata as is, chunks undecoded.

Inline chunks are copied inline, chunks stored inside the source container (``./...`` blobs of a
tar or directory) are read and stored again, and chunks that reference another file (an HDF5 file
on DANDI, say) keep pointing at it — nothing is downloaded. This is what "copy" means when an
index of a remote NWB is exported to another LINDI file, and what ``Group.copy`` and
``Group.move`` do within a file or between files.
"""

from __future__ import annotations

import logging

from ..errors import UnsupportedError
from ..format.attrs import ANNOTATION_KEYS
from ..storage.refmap import RangeRef
from .nodes import Dataset, Group, _join, _normpath

__all__ = ["copy_dataset", "copy_node", "move_node"]

logger = logging.getLogger(__name__)


def copy_dataset(src: Dataset, dst_parent: Group, name: str, *, without_attrs: bool = False) -> Dataset:
    """Copy ``src`` (from any open LINDI file) to ``dst_parent/name`` without decoding chunks.

    With ``without_attrs``, user attributes are left behind; the reserved annotations that
    define the dataset (``_SCALAR``, ``_COMPOUND_DTYPE``, ...) are always copied.

    Returns
    -------
    Dataset
        The new dataset.

    Raises
    ------
    NodeExistsError
        If ``name`` exists in ``dst_parent``.
    ModeError
        If the destination file is read-only.
    """
    src_state = src._state
    dst_state = dst_parent._state
    path = dst_parent._new_path(name)
    src_refmap = src_state.refmap
    container = dst_state.container
    zarray = src_refmap.get_json(_join(src._path, ".zarray"))
    container.set_metadata(_join(path, ".zarray"), dict(zarray))
    _copy_attrs(src, path, dst_parent, without_attrs)
    dst_state.index.add(path, "array")
    prefix = src._path + "/"
    internal: list[tuple[str, str]] = []
    for key in [k for k in src_refmap if k.startswith(prefix)]:
        rest = key[len(prefix):]
        if "/" in rest or rest.startswith("."):
            continue
        target = _join(path, rest)
        value = src_refmap.get(key)
        if isinstance(value, RangeRef):
            if value.is_internal:
                internal.append((key, target))
            else:
                dst_state.refmap.set_range(target, value.url, value.offset, value.length)
        elif value is not None:
            container.store_chunk(target, bytes(value))
    if internal:
        blobs = src_state.container.read_many([k for k, _ in internal])
        for (_, target), data in zip(internal, blobs, strict=True):
            if data is not None:
                container.store_chunk(target, bytes(data))
    dst_state.refmap.dirty = True
    logger.debug("copied %s -> /%s (%d internal chunks re-stored)", src.name, path, len(internal))
    engine = src_state.engines.get(src._path)
    ds = Dataset(dst_state, path)
    if engine is not None:
        ds._engine(engine.dtype)  # keep what the source knew (e.g. that it holds references)
    return ds


def _copy_attrs(src: Dataset | Group, path: str, dst_parent: Group, without_attrs: bool) -> None:
    """Copy the ``.zattrs`` of ``src`` to the store path ``path`` of ``dst_parent``'s file."""
    zattrs = dict(src._state.refmap.get_json(_join(src._path, ".zattrs")) or {})
    if without_attrs:
        zattrs = {k: v for k, v in zattrs.items() if k in ANNOTATION_KEYS}
    if zattrs:
        dst_parent._state.container.set_metadata(_join(path, ".zattrs"), zattrs)
    if not without_attrs:
        for attr_name, tag in src._state.attr_dtypes(src._path).items():
            dst_parent._state.record_attr_dtype(path, attr_name, tag)


def copy_node(
    src: Dataset | Group,
    dst_parent: Group,
    name: str,
    *,
    shallow: bool = False,
    expand_soft: bool = False,
    without_attrs: bool = False,
) -> Dataset | Group:
    """Copy a dataset or a whole group (from any open LINDI file) to ``dst_parent/name``.

    Members are copied recursively (only the immediate ones with ``shallow``, as in h5py). Soft
    and external links are copied as links, with their target paths unchanged, unless
    ``expand_soft`` asks for a copy of what a soft link points to. Object references inside
    the copy keep naming their original paths.

    Returns
    -------
    Dataset or Group
        The new node.

    Raises
    ------
    NodeExistsError
        If ``name`` exists in ``dst_parent``.
    UnsupportedError
        If ``dst_parent`` lies inside ``src`` in the same file (a copy into itself).
    ModeError
        If the destination file is read-only.
    """
    if isinstance(src, Dataset):
        return copy_dataset(src, dst_parent, name, without_attrs=without_attrs)
    if src._state is dst_parent._state and _inside(dst_parent._path, src._path):
        raise UnsupportedError(f"Cannot copy '{src.name}' into itself ('{dst_parent.name}').")
    return _copy_group(src, dst_parent, name, shallow, expand_soft, without_attrs, frozenset())


def _copy_group(
    src: Group,
    dst_parent: Group,
    name: str,
    shallow: bool,
    expand_soft: bool,
    without_attrs: bool,
    above: frozenset[str],
) -> Group:
    """Copy group ``src`` to ``dst_parent/name``; ``above`` holds the source groups being copied."""
    if src._path in above:
        raise UnsupportedError(f"Cannot expand soft links under '{src.name}': they loop back to it.")
    above = above | {src._path}
    group = dst_parent.create_group(name)
    _copy_attrs(src, group._path, dst_parent, without_attrs)
    state = src._state
    for child in src.keys():
        child_path = _join(src._path, child)
        soft = state.soft_link_target(child_path) is not None
        if state.external_link(child_path) is not None or (soft and not expand_soft):
            _copy_link(src, child_path, group, child)
            continue
        node = src[child]  # follows a soft link when expanding
        if isinstance(node, Dataset):
            copy_dataset(node, group, child, without_attrs=without_attrs)
        elif shallow:
            _copy_attrs(node, group.create_group(child)._path, group, without_attrs)
        else:
            _copy_group(node, group, child, shallow, expand_soft, without_attrs, above)
    logger.debug("copied group %s -> %s", src.name, group.name)
    return group


def _copy_link(src_parent: Group, link_path: str, dst_parent: Group, name: str) -> None:
    """Copy the soft or external link at ``link_path`` as it is (an empty group with its annotation)."""
    path = dst_parent._new_path(name)
    zattrs = src_parent._state.refmap.get_json(_join(link_path, ".zattrs")) or {}
    container = dst_parent._state.container
    container.set_metadata(_join(path, ".zgroup"), {"zarr_format": 2})
    container.set_metadata(_join(path, ".zattrs"), dict(zattrs))
    dst_parent._state.index.add(path, "group")


def move_node(group: Group, source: str, dest: str) -> None:
    """Carry out :meth:`Group.move <hdmf_lindi.Group.move>` (its docstring lists the errors).

    The content is copied as :func:`copy_node` copies it (chunk references are kept; blobs
    stored inside a tar or directory are stored again), then the source is deleted.
    """
    group._state.check_writable()
    src_path = group._resolve(source, follow_last=False)
    if not src_path:
        raise UnsupportedError("Cannot move the root group.")
    base = "" if dest.startswith("/") else group._path
    dst_path = _normpath(_join(base, dest))
    if _inside(dst_path, src_path):
        raise UnsupportedError(f"Cannot move '/{src_path}' into itself ('/{dst_path}').")
    parent_path, _, name = dst_path.rpartition("/")
    root = Group(group._state, "")
    parent = root.require_group(parent_path) if parent_path else root
    if group._state.soft_link_target(src_path) is not None or group._state.external_link(src_path):
        _copy_link(root, src_path, parent, name)
    else:
        copy_node(root[src_path], parent, name)
    del root[src_path]


def _inside(path: str, ancestor: str) -> bool:
    """Whether store path ``path`` is ``ancestor`` or lies below it (``""`` is the root)."""
    return not ancestor or path == ancestor or path.startswith(ancestor + "/")
