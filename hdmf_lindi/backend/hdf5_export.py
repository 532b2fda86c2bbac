"""Export LINDI to HDF5 keeping each dataset's layout, chunks copied as they are encoded.

``HDF5IO`` writes data it did not read itself (our ``LindiDataset``) as one in-memory array,
contiguous and uncompressed. :class:`DirectChunkExportMixin` (mixed into ``HDF5IO`` or
``NWBHDF5IO``) intercepts those datasets: the HDF5 dataset is created with the LINDI array's
chunk shape and filters, and when the LINDI pipeline is one HDF5 stores byte for byte (zlib =
deflate, shuffle, fletcher32) each chunk is written with ``write_direct_chunk`` — no decode, no
encode. Other pipelines (numcodecs' gzip framing, blosc, zstd) keep the chunk shape and gzip
level and are decoded and re-encoded block by block. Memory stays bounded in both paths.

This reaches into hdmf's builders and ``HDF5IO``; ``hdmf_internals.export_problem`` checks the
installed hdmf at first use, and if it changed, every dataset takes ``HDF5IO``'s own path (the
data exported whole, the layout not kept; one warning).
"""

from __future__ import annotations

import functools
import logging
import math
from typing import Any

import numpy as np
from hdmf.spec import RefSpec

from ..tree import Dataset
from .datasets import LindiDataset
from .hdmf_internals import export_problem, warn_fallback

__all__ = ["DirectChunkExportMixin"]

logger = logging.getLogger(__name__)

_BLOCK_BYTES = 64 << 20


class DirectChunkExportMixin:
    """Mix into ``HDF5IO`` (first base) so that exported LINDI datasets keep their layout."""

    def write_dataset(self, *args: Any, **kwargs: Any) -> Any:
        """``HDF5IO.write_dataset``, with LINDI numeric chunked data copied chunk by chunk."""
        names = ("parent", "builder")
        given = dict(zip(names, args, strict=False))
        parent: Any = kwargs.get("parent", given.get("parent"))
        builder: Any = kwargs.get("builder", given.get("builder"))
        plan = None
        if builder is not None and _usable() and not self.get_written(builder):  # type: ignore[attr-defined]
            plan = _plan(builder)
        if plan is None:
            return super().write_dataset(*args, **kwargs)  # type: ignore[misc]
        ds, io_settings, direct = plan
        from hdmf.backends.hdf5 import H5DataIO  # lazy: this mixin only runs when writing HDF5

        original = builder.data
        # DatasetBuilder.data refuses to be set twice; it is the builder's (dict) item "data"
        dict.__setitem__(builder, "data", H5DataIO(data=None, **io_settings))
        try:
            out = super().write_dataset(*args, **kwargs)  # type: ignore[misc]
        finally:
            dict.__setitem__(builder, "data", original)
        _fill(parent[builder.name], ds, direct)
        return out


@functools.cache
def _usable() -> bool:
    """Whether the installed hdmf still has what the mixin uses (checked once per process)."""
    problem = export_problem()
    if problem is None:
        return True
    warn_fallback("exporting to HDF5 with the chunk layout kept", problem,
                  "datasets are written by HDF5IO as they are read, the chunk layout and filters not kept")
    return False


def _plan(builder: Any) -> tuple[Dataset, dict[str, Any], bool] | None:
    """How to write ``builder``'s LINDI data: (dataset, H5DataIO settings, direct chunk copy)."""
    data = builder.data
    if not isinstance(data, LindiDataset) or isinstance(builder.dtype, list | RefSpec):
        return None
    ds = data.dataset
    try:
        if ds._external is not None or ds._scalar:
            return None
        dtype = ds.dtype
        meta = ds._engine().meta
    except Exception:  # noqa: BLE001 - anything unusual goes the generic way
        return None
    if dtype.kind not in "iufb" or dtype.names is not None or dtype != meta.dtype or not ds.shape:
        return None
    from ..hdf5.encoded import hdf5_layout  # lazy: h5py lives in hdf5/

    chunks = tuple(meta.chunks)
    grid = math.prod(-(-s // c) for s, c in zip(ds.shape, chunks, strict=True))
    layout = hdf5_layout(dtype, chunks, meta.compressor, meta.filters)
    settings: dict[str, Any] = {"shape": tuple(ds.shape), "dtype": dtype, "maxshape": (None,) * len(ds.shape)}
    fill = meta.fill_value
    if fill not in (None, 0):
        settings["fillvalue"] = fill
    if layout is not None:
        if layout.compression is None and not layout.shuffle and grid <= 1:
            return None  # one raw chunk: HDF5IO's contiguous write is the natural layout
        settings.update(layout.io_settings())
        return ds, settings, True
    level = ds.compression_opts if ds.compression in ("gzip", "zlib") else None
    if level is None and ds.compression is not None:
        level = 4  # blosc, zstd ...: HDF5 without plugins has deflate only
    settings.update(chunks=chunks, shuffle=ds.shuffle, compression="gzip" if level is not None else None)
    if level is not None:
        settings["compression_opts"] = int(level)
    else:
        del settings["compression"]
    return ds, settings, False


def _fill(h5ds: Any, ds: Dataset, direct: bool) -> None:
    """Write ``ds``'s content into the freshly created HDF5 dataset ``h5ds``."""
    if direct:
        from ..hdf5.encoded import chunk_nbytes, write_encoded_chunks
        from ..tree.encoded import encoded_chunks

        meta = ds._engine().meta
        raw = None if meta.pipeline.has_codecs else chunk_nbytes(tuple(meta.chunks), meta.dtype)
        count = write_encoded_chunks(h5ds, encoded_chunks(ds), raw)
        logger.debug("copied %d encoded chunks into %s", count, h5ds.name)
        return
    shape = ds.shape
    chunks = ds.chunks or shape
    row = max(1, math.prod(shape[1:]) * ds.dtype.itemsize)
    step = max(chunks[0], (_BLOCK_BYTES // row) // chunks[0] * chunks[0])
    for start in range(0, shape[0], step):
        stop = min(shape[0], start + step)
        h5ds[start:stop] = np.asarray(ds[start:stop])
