"""Copy datasets and groups between LINDI files by reference: metadata as is, chunks undecoded.

Inline chunks are copied inline, chunks stored inside the source container (``./...`` blobs of a
tar or directory) are read and stored again, and chunks that reference another file (an HDF5 file
on DANDI, say) keep pointing at it — nothing is downloaded. This is what "copy" means when an
index of a remote NWB is exported to another LINDI file, and what ``Group.copy`` and
``Group.move`` do within a file or between files.

A copy to another file keeps what every reference means: a relative local path is made absolute
(it was relative to the source file), a link's relative file name in a remote source becomes a
URL, and a source that may not read local paths (a remote one) cannot hand them on — that is a
:class:`~hdmf_lindi.errors.ChunkRefError`, as reading them would be.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import ChunkRefError, LindiWarning, NodeNotFoundError, UnsupportedError
from ..format.attrs import ANNOTATION_KEYS, rebase_link_files
from ..format.hdmf_zarr_v2 import uses_hdmf_zarr_v2_codecs
from ..format.v3_codecs import lindi_zarray, uses_model_only_codecs
from ..format.zarr_v2 import ArrayMeta
from ..storage.identity import carry_identities
from ..storage.refmap import RangeRef
from ..storage.sources import is_url
from .create import LINDI_UNREADABLE_CODECS
from .dataset import Dataset
from .group import Group
from .state import _FileState, _join, _normpath, resolve_link_file

__all__ = ["all_or_nothing", "copy_dataset", "copy_node", "move_node"]

logger = logging.getLogger(__name__)


@contextmanager
def all_or_nothing(group: Group) -> Iterator[None]:
    """Remove, if the block raises, every node the block created in ``group``'s file.

    A copy or move that fails half-way (an unreadable blob, a refused reference, a soft-link
    loop) then leaves the file as it was, parent groups included.
    """
    state = group._state
    before = state.index.paths()
    try:
        yield
    except BaseException:
        created = state.index.paths() - before
        root = Group(state, "")
        for path in sorted(p for p in created if p.rpartition("/")[0] not in created):
            root._delete_path(path)
        raise


class _Rebase:
    """How the files a source's references name are written into a copy in another file."""

    def __init__(self, src: _FileState, dst: _FileState) -> None:
        self._src = src
        self._dst = dst
        self._same_file = src is dst
        self._location = src.container.location
        self._carried: set[str] = set()

    def _refuse(self, name: str, what: str) -> ChunkRefError:
        return ChunkRefError(
            f"Refusing to copy {what} naming the local path {name!r} out of {self._location}, which "
            "may not read local paths (a remote file). Open it with allow_local_paths=True if you "
            "trust it.",
            url=name,
        )

    def data_file(self, url: str) -> str:
        """A chunk reference's or external array link's file: local names are read as paths.

        The identity the source records for the file goes along (see :mod:`~hdmf_lindi.storage.identity`).
        """
        out = self._data_file(url)
        if not self._same_file and url not in self._carried:
            self._carried.add(url)
            carry_identities(self._src.refmap, self._dst.refmap, {url: out})
        return out

    def _data_file(self, url: str) -> str:
        if is_url(url):
            return url
        fetcher = self._src.container.fetcher
        if not fetcher.allow_local:
            raise self._refuse(url, "a reference")
        if self._same_file or os.path.isabs(url) or url.startswith("file://"):
            return url
        return os.path.abspath(fetcher.local_path(url))  # resolved as the source resolves it

    def link_file(self, name: str) -> str:
        """An external link's file: relative names are relative to the source file's location."""
        if is_url(name):
            return name
        if os.path.isabs(name):
            if not self._src.container.fetcher.allow_local:
                raise self._refuse(name, "an external link")
            return name
        return name if self._same_file else resolve_link_file(name, self._location)

    def zattrs(self, zattrs: dict[str, Any]) -> dict[str, Any]:
        """``zattrs`` with the files its link annotations name rebased."""
        out = rebase_link_files(zattrs, self.data_file) if "_EXTERNAL_ARRAY_LINK" in zattrs else zattrs
        return rebase_link_files(out, self.link_file) if "_EXTERNAL_LINK" in out else out


def copy_dataset(
    src: Dataset,
    dst_parent: Group,
    name: str,
    *,
    without_attrs: bool = False,
    _keys: list[str] | None = None,
) -> Dataset:
    """Copy ``src`` (from any open LINDI file) to ``dst_parent/name`` without decoding chunks.

    With ``without_attrs``, user attributes are left behind; the reserved annotations that
    define the dataset (``_SCALAR``, ``_COMPOUND_DTYPE``, ...) are always copied. Nothing is
    written until every chunk has been read, so a failure leaves no half-made dataset.

    Returns
    -------
    Dataset
        The new dataset.

    Raises
    ------
    NodeExistsError
        If ``name`` exists in ``dst_parent``.
    ChunkRefError
        If a blob of the source cannot be read, or the source may not hand on a local path.
    ModeError
        If the destination file is read-only.
    """
    src_state = src._state
    dst_state = dst_parent._state
    rebase = _Rebase(src_state, dst_state)
    src_refmap = src_state.refmap
    keys = _keys if _keys is not None else _chunk_keys(src_state, src._path).get(src._path, [])
    prefix = src._path + "/"
    table = src_refmap.chunk_table(src._path)
    if table is not None and table.compact and not any(u.startswith("./") for u in table.urls):
        # a compact table of external references travels whole, as a table
        compact = table
        keys = [k for k in keys if (i := compact.index(k[len(prefix):])) is None or compact.entry(i) is None]
    else:
        table = None
    zarray = dict(src_refmap.get_json(_join(src._path, ".zarray")))
    ranges: list[tuple[str, str, int, int]] = []
    stored: list[tuple[str, bytes]] = []
    internal: list[str] = []
    unlisted = src_state.container.unlisted_chunk_keys(src._path)  # a Zarr store's chunk files
    if uses_model_only_codecs(zarray) or uses_hdmf_zarr_v2_codecs(zarray):
        # read from Zarr v3 (or hdmf-zarr's v2 layout) through codecs that exist only in memory:
        # copied decoded, in LINDI's own form, so that no hdmf_lindi.* codec reaches a file
        # (numeric arrays, whose codecs are numcodecs', are copied by reference as usual)
        pipeline = ArrayMeta.from_dict(zarray, where=src.name).pipeline
        zarray, table = lindi_zarray(zarray), None
        every = [*keys, *unlisted]
        blobs = src_state.container.read_many(every)
        stored = [
            (key[len(prefix):], bytes(pipeline.decode(data, where=f" {key!r}")))
            for key, data in zip(every, blobs, strict=True) if data is not None
        ]
        keys, unlisted = [], []
    for key in keys:
        value = src_refmap.get(key)
        rest = key[len(prefix):]
        if isinstance(value, RangeRef):
            if value.is_internal:
                internal.append(key)
            else:
                ranges.append((rest, rebase.data_file(value.url), value.offset, value.length))
        elif value is not None:
            stored.append((rest, bytes(value)))
    internal.extend(unlisted)
    if internal:
        blobs = src_state.container.read_many(internal)
        stored.extend((key[len(prefix):], bytes(data)) for key, data in zip(internal, blobs, strict=True) if data is not None)
    if dst_state.dialect == "lindi" and (stored or ranges or table is not None):
        _warn_lindi_unreadable(zarray, stacklevel=3)
    zattrs = _attrs_to_copy(src, without_attrs, rebase)
    path = dst_parent._new_path(name)
    dst_state.index.add(path, "array")  # first, so that all_or_nothing sees (and undoes) the node
    container = dst_state.container
    container.set_metadata(_join(path, ".zarray"), zarray)
    _write_attrs(src, path, dst_state, zattrs, without_attrs)
    if table is not None:
        dst_state.refmap.set_chunk_table(path, table.with_urls(rebase.data_file))
    for rest, url, offset, length in ranges:
        dst_state.refmap.set_range(_join(path, rest), url, offset, length)
    for rest, data in stored:
        container.store_chunk(_join(path, rest), data)
    dst_state.refmap.dirty = True
    logger.debug("copied %s -> /%s (%d internal chunks re-stored)", src.name, path, len(internal))
    engine = src_state.engines.get(src._path)
    ds = Dataset(dst_state, path)
    if engine is not None:
        ds._engine(engine.dtype)  # keep what the source knew (e.g. that it holds references)
    return ds


def _warn_lindi_unreadable(zarray: dict[str, Any], stacklevel: int) -> None:
    """Warn, as ``create_dataset`` does, when copied chunks keep a codec lindi 0.4.6 cannot read
    (hdmf-zarr's default ``zstd``: lindi zero-pads a compressed chunk, and zstd then fails)."""
    configs = [*(zarray.get("filters") or []), zarray.get("compressor")]
    for config in configs:
        codec_id = config.get("id") if isinstance(config, dict) else None
        if codec_id in LINDI_UNREADABLE_CODECS:
            warnings.warn(
                f"Chunks compressed with {codec_id!r} are copied as they are: lindi 0.4.6 cannot read "
                "them (it zero-pads compressed chunks before decoding); hdmf_lindi and hdmf-zarr "
                "(dialect 'zarr3') read them.",
                LindiWarning,
                stacklevel=stacklevel + 1,
            )
            return


def _chunk_keys(state: _FileState, below: str) -> dict[str, list[str]]:
    """The chunk keys of every array at or below store path ``below``, by array path (one scan)."""
    prefix = below + "/" if below else ""
    out: dict[str, list[str]] = {}
    for key in state.refmap:
        if prefix and not key.startswith(prefix):
            continue
        parent, _, base = key.rpartition("/")
        if base.startswith(".") or state.index.kind(parent) != "array":
            continue
        out.setdefault(parent, []).append(key)
    return out


def _attrs_to_copy(src: Dataset | Group, without_attrs: bool, rebase: _Rebase) -> dict[str, Any]:
    zattrs = dict(src._state.refmap.get_json(_join(src._path, ".zattrs")) or {})
    if without_attrs:
        zattrs = {k: v for k, v in zattrs.items() if k in ANNOTATION_KEYS}
    return rebase.zattrs(zattrs)


def _write_attrs(
    src: Dataset | Group, path: str, dst: _FileState, zattrs: dict[str, Any], without_attrs: bool
) -> None:
    if zattrs:
        dst.container.set_metadata(_join(path, ".zattrs"), zattrs)
    if not without_attrs:
        for attr_name, tag in src._state.attr_dtypes(src._path).items():
            dst.record_attr_dtype(path, attr_name, tag)


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
    ``expand_soft`` asks for a copy of what a soft link points to (a dangling one stays a link,
    as in h5py). Object references inside the copy keep naming their original paths. A copy
    that fails leaves nothing behind.

    Returns
    -------
    Dataset or Group
        The new node.

    Raises
    ------
    NodeExistsError
        If ``name`` exists in ``dst_parent``.
    UnsupportedError
        If ``dst_parent`` lies inside ``src`` in the same file (a copy into itself), or expanded
        soft links loop.
    ChunkRefError
        As :func:`copy_dataset`.
    ModeError
        If the destination file is read-only.
    """
    if isinstance(src, Dataset):
        return copy_dataset(src, dst_parent, name, without_attrs=without_attrs)
    if src._state is dst_parent._state and _inside(dst_parent._path, src._path):
        raise UnsupportedError(f"Cannot copy '{src.name}' into itself ('{dst_parent.name}').")
    copier = _GroupCopier(src._state, dst_parent._state, shallow, expand_soft, without_attrs)
    with all_or_nothing(dst_parent):
        return copier.copy(src, dst_parent, name, frozenset())


class _GroupCopier:
    """One recursive group copy: its options and the chunk keys of the source, found once."""

    def __init__(self, src: _FileState, dst: _FileState, shallow: bool, expand_soft: bool, without_attrs: bool) -> None:
        self.shallow = shallow
        self.expand_soft = expand_soft
        self.without_attrs = without_attrs
        self.rebase = _Rebase(src, dst)
        self._keys: dict[str, list[str]] | None = None
        self._src = src

    def keys_of(self, ds: Dataset) -> list[str]:
        if ds._state is not self._src:  # an expanded soft link that runs through an external link
            return _chunk_keys(ds._state, ds._path).get(ds._path, [])
        if self._keys is None:
            self._keys = _chunk_keys(self._src, "")
        return self._keys.get(ds._path, [])

    def copy(self, src: Group, dst_parent: Group, name: str, above: frozenset[str]) -> Group:
        """Copy group ``src`` to ``dst_parent/name``; ``above`` holds the source groups being copied."""
        if src._path in above:
            raise UnsupportedError(f"Cannot expand soft links under '{src.name}': they loop back to it.")
        above = above | {src._path}
        zattrs = _attrs_to_copy(src, self.without_attrs, self.rebase)
        group = dst_parent.create_group(name)
        _write_attrs(src, group._path, group._state, zattrs, self.without_attrs)
        state = src._state
        for child in src.keys():
            child_path = _join(src._path, child)
            soft = state.soft_link_target(child_path) is not None
            node = None
            if soft and self.expand_soft:
                try:
                    node = src[child]
                except NodeNotFoundError:  # a dangling link is copied as a link (h5py)
                    node = None
            if node is None and (soft or state.external_link(child_path) is not None):
                _copy_link(src, child_path, group, child, self.rebase)
                continue
            node = node if node is not None else src[child]
            if isinstance(node, Dataset):
                copy_dataset(node, group, child, without_attrs=self.without_attrs, _keys=self.keys_of(node))
            elif self.shallow:
                sub = group.create_group(child)
                _write_attrs(node, sub._path, sub._state, _attrs_to_copy(node, self.without_attrs, self.rebase), self.without_attrs)
            else:
                self.copy(node, group, child, above)
        logger.debug("copied group %s -> %s", src.name, group.name)
        return group


def _copy_link(src_parent: Group, link_path: str, dst_parent: Group, name: str, rebase: _Rebase) -> None:
    """Copy the soft or external link at ``link_path`` as it is (an empty group with its annotation)."""
    zattrs = rebase.zattrs(dict(src_parent._state.refmap.get_json(_join(link_path, ".zattrs")) or {}))
    path = dst_parent._new_path(name)
    dst_parent._state.index.add(path, "group")  # first, so that all_or_nothing sees the node
    container = dst_parent._state.container
    container.set_metadata(_join(path, ".zgroup"), {"zarr_format": 2})
    container.set_metadata(_join(path, ".zattrs"), zattrs)


def move_node(group: Group, source: str, dest: str) -> None:
    """Carry out :meth:`Group.move <hdmf_lindi.Group.move>` (its docstring lists the errors).

    The content is copied as :func:`copy_node` copies it (chunk references are kept; blobs
    stored inside a tar or directory are stored again), then the source is deleted. A move
    that fails leaves the file as it was.
    """
    state = group._state
    state.check_writable()
    src_path = group._resolve(source, follow_last=False)
    if not src_path:
        raise UnsupportedError("Cannot move the root group.")
    base = "" if dest.startswith("/") else group._path
    dst_path = _normpath(_join(base, dest))
    if dst_path == src_path:
        return  # h5py: moving onto itself does nothing
    if _inside(dst_path, src_path):
        raise UnsupportedError(f"Cannot move '/{src_path}' into itself ('/{dst_path}').")
    parent_path, _, name = dst_path.rpartition("/")
    root = Group(state, "")
    with all_or_nothing(root):
        parent = root.require_group(parent_path) if parent_path else root
        if state.soft_link_target(src_path) is not None or state.external_link(src_path):
            _copy_link(root, src_path, parent, name, _Rebase(state, state))
        else:
            copy_node(root[src_path], parent, name)
    root._delete_path(src_path)


def _inside(path: str, ancestor: str) -> bool:
    """Whether store path ``path`` is ``ancestor`` or lies below it (``""`` is the root)."""
    return not ancestor or path == ancestor or path.startswith(ancestor + "/")

