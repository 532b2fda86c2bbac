"""Chunks that travel encoded between HDF5 and LINDI: no decode, no encode.

HDF5's deflate chunks are zlib streams, its shuffle is numcodecs' ``Shuffle``, and blosc/zstd
plugins store what numcodecs' codecs read (``filters.py``), so a chunked HDF5 dataset's chunk
bytes are a LINDI chunk's bytes, and back. Two directions live here (the only h5py importer):

- :func:`encoded_source` describes an h5py dataset's chunks as a ``.zarray`` plus a stream of
  ``(chunk key, bytes)`` read with ``read_direct_chunk`` (HDF5 → LINDI);
- :func:`hdf5_layout` says how to create an HDF5 dataset whose chunks take a LINDI array's bytes
  unchanged, and :func:`write_encoded_chunks` writes them with ``write_direct_chunk``
  (LINDI → HDF5).

Anything else (another pipeline, a filter mask, a dtype change) returns None and the caller
decodes and re-encodes, as it did before.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from ..format.zarr_v2 import chunk_key, encode_fill_value
from .filters import UnmappableFilter, filters_for

__all__ = ["EncodedSource", "Hdf5Layout", "encoded_source", "hdf5_layout", "write_encoded_chunks"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncodedSource:
    """A chunked HDF5 dataset seen as a LINDI array whose chunk bytes can be copied as they are."""

    zarray: dict[str, Any]
    """The ``.zarray`` of the copy (dtype, chunks, fill value and the mapped filters)."""
    dataset: h5py.Dataset
    offsets: tuple[tuple[int, ...], ...]
    """The element offsets of the allocated chunks, in storage order."""

    def chunks(self) -> Iterator[tuple[str, bytes]]:
        """Yield ``(chunk key, encoded bytes)`` of each allocated chunk, one at a time."""
        dsid = self.dataset.id
        sizes = self.zarray["chunks"]
        for origin in self.offsets:
            _mask, data = dsid.read_direct_chunk(origin)
            yield chunk_key(tuple(o // c for o, c in zip(origin, sizes, strict=True))), bytes(data)


def encoded_source(dataset: Any) -> EncodedSource | None:
    """Describe ``dataset`` for an undecoded copy, or None when it must be decoded.

    Only chunked numeric datasets (no compound, reference or variable-length type) stored
    inside the file, whose every filter has a numcodecs codec and whose chunks all went through
    the whole pipeline (no filter mask), qualify.
    """
    if not isinstance(dataset, h5py.Dataset):
        return None
    try:
        dtype = dataset.dtype
        if dtype.kind not in "iufb" or dtype.names is not None or dataset.shape in ((), None):
            return None
        if dataset.chunks is None or dataset.is_virtual or dataset.external:
            return None
        filters = filters_for(dataset)
    except UnmappableFilter as exc:
        logger.debug("%s is decoded to copy: %s", dataset.name, exc.reason)
        return None
    base = np.dtype(dtype.str)
    chunks = tuple(int(c) for c in dataset.chunks)
    origins: list[tuple[int, ...]] = []
    masked = False

    def visit(info: Any) -> None:
        nonlocal masked
        origins.append(tuple(int(o) for o in info.chunk_offset))
        masked = masked or bool(info.filter_mask)

    if dataset.id.get_storage_size():
        dataset.id.chunk_iter(visit)
    if masked:
        return None
    zarray = {
        "zarr_format": 2,
        "shape": [int(s) for s in dataset.shape],
        "chunks": list(chunks),
        "dtype": base.str,
        "fill_value": encode_fill_value(dataset.fillvalue, base),
        "order": "C",
        "compressor": None,
        "filters": filters,
    }
    return EncodedSource(zarray, dataset, tuple(origins))


@dataclass(frozen=True)
class Hdf5Layout:
    """The h5py ``create_dataset`` settings whose chunks hold a LINDI array's bytes unchanged."""

    chunks: tuple[int, ...]
    compression: str | None
    compression_opts: int | None
    shuffle: bool
    fletcher32: bool

    def io_settings(self) -> dict[str, Any]:
        """The settings as keywords of ``create_dataset`` (and ``H5DataIO``)."""
        out: dict[str, Any] = {"chunks": self.chunks, "shuffle": self.shuffle, "fletcher32": self.fletcher32}
        if self.compression is not None:
            out["compression"] = self.compression
            out["compression_opts"] = self.compression_opts
        return out


def hdf5_layout(
    dtype: np.dtype[Any], chunks: tuple[int, ...] | None, compressor: dict[str, Any] | None,
    filters: list[dict[str, Any]] | None,
) -> Hdf5Layout | None:
    """The HDF5 layout that stores LINDI chunks of this pipeline as they are, or None.

    zlib (HDF5's deflate), shuffle and fletcher32, in the order HDF5 applies them (shuffle,
    deflate, fletcher32), qualify; gzip framing, blosc, zstd and the rest are decoded.
    """
    if chunks is None or dtype.kind not in "iufb" or dtype.names is not None:
        return None
    pipeline = [*(filters or []), *([compressor] if compressor else [])]
    ids = [str(f.get("id")) for f in pipeline]
    order = {"shuffle": 0, "zlib": 1, "fletcher32": 2}
    if any(i not in order for i in ids) or len(set(ids)) != len(ids) or ids != sorted(ids, key=order.__getitem__):
        return None
    shuffle = next((f for f in pipeline if f.get("id") == "shuffle"), None)
    if shuffle is not None and int(shuffle.get("elementsize", dtype.itemsize)) != dtype.itemsize:
        return None
    zlib = next((f for f in pipeline if f.get("id") == "zlib"), None)
    level = None if zlib is None else int(zlib.get("level", 1) if zlib.get("level") is not None else 1)
    return Hdf5Layout(
        chunks=tuple(int(c) for c in chunks),
        compression=None if zlib is None else "gzip",
        compression_opts=level,
        shuffle=shuffle is not None,
        fletcher32="fletcher32" in ids,
    )


def write_encoded_chunks(
    dataset: Any, chunks: Iterable[tuple[tuple[int, ...], bytes]], raw_chunk_nbytes: int | None = None
) -> int:
    """Write ``(chunk grid index, encoded bytes)`` pairs with ``write_direct_chunk``.

    ``raw_chunk_nbytes``, given for a pipeline without codecs, pads short raw chunks (lindi's
    split contiguous datasets end with one) to the full chunk. Returns the number written.
    """
    if not isinstance(dataset, h5py.Dataset):
        raise TypeError(f"expected an h5py.Dataset, got {type(dataset).__name__}")
    sizes = dataset.chunks
    dsid = dataset.id
    count = 0
    for index, data in chunks:
        if raw_chunk_nbytes is not None and len(data) < raw_chunk_nbytes:
            data = data + bytes(raw_chunk_nbytes - len(data))
        dsid.write_direct_chunk(tuple(i * c for i, c in zip(index, sizes, strict=True)), data)
        count += 1
    return count


def chunk_nbytes(chunks: tuple[int, ...], dtype: np.dtype[Any]) -> int:
    """Bytes of one decoded chunk."""
    return math.prod(chunks) * dtype.itemsize
