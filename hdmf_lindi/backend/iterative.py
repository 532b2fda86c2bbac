"""Stream an ``AbstractDataChunkIterator`` into a LINDI dataset with bounded memory.

``DataChunk`` selections are arbitrary (often one buffer of rows at a time, sometimes with gaps)
and the final length is unknown until the iterator ends. Writing each piece straight into the
dataset would re-encode (and, in a tar, re-append) a storage chunk every time a piece touches
it. Instead, pieces are gathered into *bands* -- all storage chunks of one chunk-row along the
first axis -- and a band is written once, as whole chunks, when it is complete (or at the end).
Memory stays within a few bands; the shape grows as pieces arrive and is trimmed to the largest
bound seen.
"""

from __future__ import annotations

import logging
from typing import Any

import numcodecs
import numpy as np
from hdmf.data_utils import AbstractDataChunkIterator

from ..tree import Dataset

__all__ = ["write_iterator"]

logger = logging.getLogger(__name__)


class _Band:
    """The rows ``[start, stop)`` of the dataset (whole trailing axes), filled piece by piece."""

    def __init__(self, start: int, stop: int, trailing: tuple[int, ...], dtype: np.dtype[Any], fill: Any) -> None:
        self.start = start
        self.stop = stop
        self.data = np.empty((stop - start, *trailing), dtype=dtype)
        if dtype.kind == "O":
            self.data[...] = None
        else:
            self.data[...] = 0 if fill is None else fill
        self.filled = 0
        self.size = self.data.size


def _as_slices(selection: Any, ndim: int) -> tuple[slice, ...]:
    sel = selection if isinstance(selection, tuple) else (selection,)
    out: list[slice] = []
    for s in sel:
        if isinstance(s, slice):
            out.append(s)
        elif isinstance(s, int | np.integer):
            out.append(slice(int(s), int(s) + 1))
        else:
            raise TypeError(f"DataChunk selections must be slices or integers, got {type(s).__name__}.")
    while len(out) < ndim:
        out.append(slice(None))
    return tuple(out)


def write_iterator(ds: Dataset, iterator: AbstractDataChunkIterator) -> Dataset:
    """Drain ``iterator`` into ``ds`` (created with shape ``(0, *trailing)`` and final chunks).

    Returns the dataset written: ``ds``, or -- when everything fit in less than one chunk-row, so
    nothing was stored yet -- a replacement with chunks cut to the data's length (a chunk iterator
    of unknown length gets ~1 MiB chunks, too big for a 10-row series).
    """
    chunks = ds.chunks
    assert chunks is not None
    band_rows = chunks[0]
    trailing = tuple(ds.shape[1:])
    dtype = ds.dtype
    fill = ds.fillvalue
    bands: dict[int, _Band] = {}
    length = 0

    flushed = False

    def flush(index: int, limit: int | None = None) -> None:
        nonlocal flushed
        flushed = True
        band = bands.pop(index)
        stop = band.stop if limit is None else min(band.stop, limit)
        if stop <= band.start:
            return
        if ds.shape[0] < stop:
            ds.resize(stop, axis=0)
        ds[band.start:stop] = band.data[:stop - band.start]

    for chunk in iterator:
        if chunk is None or getattr(chunk, "data", None) is None:
            continue
        data = np.asarray(chunk.data)
        if data.dtype != dtype and dtype.kind != "O":
            data = data.astype(dtype)
        ndim = 1 + len(trailing)
        if data.ndim < ndim:
            data = data.reshape(data.shape + (1,) * (ndim - data.ndim)) if data.ndim else data.reshape((1,) * ndim)
        sel = _as_slices(chunk.selection, ndim)
        first = sel[0]
        start = 0 if first.start is None else int(first.start)
        stop = start + data.shape[0] if first.stop is None else int(first.stop)
        rest = tuple(
            slice(0 if s.start is None else s.start, n if s.stop is None else s.stop)
            for s, n in zip(sel[1:], trailing, strict=True)
        )
        for s, n in zip(rest, trailing, strict=True):
            if s.stop > n:
                raise ValueError(
                    f"DataChunk selection {chunk.selection} exceeds the trailing shape {trailing} of {ds.name}; "
                    "give the iterator a maxshape with fixed trailing axes."
                )
        length = max(length, stop)
        row = start
        while row < stop:
            index = row // band_rows
            band = bands.get(index)
            if band is None:
                band = bands[index] = _Band(index * band_rows, (index + 1) * band_rows, trailing, dtype, fill)
            upto = min(stop, band.stop)
            piece = data[row - start:upto - start]
            target = band.data[(slice(row - band.start, upto - band.start), *rest)]
            target[...] = piece
            band.filled += piece.size
            if band.filled >= band.size:
                flush(index)
            row = upto
    if not flushed and 0 < length < band_rows and 0 in bands:
        ds = _recreate_with_chunks(ds, bands[0].data[:length])
        logger.debug("wrote %d rows into %s as one chunk", length, ds.name)
        return ds
    for index in sorted(bands):
        flush(index, limit=length)
    if ds.shape[0] != length:
        ds.resize(length, axis=0)
    logger.debug("streamed %d rows into %s", length, ds.name)
    return ds


def _recreate_with_chunks(ds: Dataset, data: np.ndarray[Any, Any]) -> Dataset:
    """Replace the empty ``ds`` by one holding ``data`` in a single chunk, same codecs and attrs."""
    parent = ds.parent
    name = ds.name.rpartition("/")[2]
    attrs = dict(ds.attrs.items())
    compressor = numcodecs.get_codec(ds.compressor) if ds.compressor else None
    shuffle, fill, dtype = ds.shuffle, ds.fillvalue, ds.dtype
    del parent[name]
    new = parent.create_dataset(
        name, data=data, dtype=dtype, chunks=data.shape, compressor=compressor, shuffle=shuffle, fillvalue=fill
    )
    for key, value in attrs.items():
        new.attrs[key] = value
    return new
