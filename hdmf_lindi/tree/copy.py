"""Copy a dataset between LINDI files by reference: metadata as is, chunks without decoding.

Inline chunks are copied inline, chunks stored inside the source container (``./...`` blobs of a
tar or directory) are read and stored again, and chunks that reference another file (an HDF5 file
on DANDI, say) keep pointing at it — nothing is downloaded. This is what "copy" means when an
index of a remote NWB is exported to another LINDI file.
"""

from __future__ import annotations

import logging

from ..storage.refmap import RangeRef
from .nodes import Dataset, Group, _join

__all__ = ["copy_dataset"]

logger = logging.getLogger(__name__)


def copy_dataset(src: Dataset, dst_parent: Group, name: str) -> Dataset:
    """Copy ``src`` (from any open LINDI file) to ``dst_parent/name`` without decoding chunks.

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
    zattrs = src_refmap.get_json(_join(src._path, ".zattrs"))
    if zattrs:
        container.set_metadata(_join(path, ".zattrs"), dict(zattrs))
    dst_state.index.add(path, "array")
    for attr_name, tag in src_state.attr_dtypes(src._path).items():
        dst_state.record_attr_dtype(path, attr_name, tag)
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
