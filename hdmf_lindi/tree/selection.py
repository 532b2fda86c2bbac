"""Selections as h5py accepts them, normalised and mapped onto a chunk grid. Pure, no I/O.

Supported per axis: an integer (the axis is dropped), a slice with positive step, ``...``, and an
increasing list/array of integers on at most one axis (as h5py allows); ``()`` selects all.
Boolean masks of the full shape are accepted too (converted to indices on one axis only).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

__all__ = ["ChunkPart", "Selection", "normalize_selection"]

AxisSel = int | slice | np.ndarray[Any, Any]


class ChunkPart(NamedTuple):
    """How one chunk contributes to a selection (a named tuple: one is built per chunk)."""

    grid_index: tuple[int, ...]
    """Chunk grid index."""
    local: tuple[Any, ...]
    """Selector into the chunk array."""
    out: tuple[Any, ...]
    """Selector into the output array (integer axes dropped)."""
    full: bool
    """Whether the part covers every in-bounds element of the chunk."""


@dataclass(frozen=True, slots=True)
class Selection:
    """A normalised selection over an array of a given shape."""

    axes: tuple[AxisSel, ...]
    shape: tuple[int, ...]
    """Shape of the result (integer axes dropped)."""

    def parts(self, chunks: tuple[int, ...], array_shape: tuple[int, ...]) -> Iterator[ChunkPart]:
        """Yield, for every chunk touched, the local and output selectors."""
        per_axis = [
            list(_axis_parts(sel, c, n)) for sel, c, n in zip(self.axes, chunks, array_shape, strict=True)
        ]
        for combo in itertools.product(*per_axis):
            index = tuple(p[0] for p in combo)
            local = tuple(p[1] for p in combo)
            out = tuple(p[2] for p in combo if p[2] is not None)
            full = all(p[3] for p in combo)
            yield ChunkPart(index, local, out, full)


def _axis_parts(sel: AxisSel, chunk: int, length: int) -> Iterator[tuple[int, Any, Any, bool]]:
    if isinstance(sel, int):
        yield sel // chunk, sel % chunk, None, False
        return
    if isinstance(sel, slice):
        start, stop, step = sel.start, sel.stop, sel.step
        if stop <= start:
            return
        for c in range(start // chunk, (stop - 1) // chunk + 1):
            c0 = c * chunk
            lo, hi = max(start, c0), min(stop, c0 + chunk)
            k0 = -(-(lo - start) // step)
            first = start + k0 * step
            if first >= hi:
                continue
            k1 = -(-(hi - start) // step)
            full = step == 1 and first == c0 and hi == min(c0 + chunk, length)
            yield c, slice(first - c0, hi - c0, step), slice(k0, k1), full
        return
    ids = sel // chunk
    bounds = np.flatnonzero(np.diff(ids)) + 1
    starts = np.concatenate(([0], bounds)) if len(sel) else np.array([], dtype=np.int64)
    stops = np.concatenate((bounds, [len(sel)])) if len(sel) else np.array([], dtype=np.int64)
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        c = int(ids[a])
        yield c, sel[a:b] - c * chunk, slice(a, b), False


def _normalize_index_array(arr: np.ndarray[Any, Any], n: int) -> np.ndarray[Any, Any]:
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise IndexError(f"Boolean mask of shape {arr.shape} does not match axis length {n}.")
        return np.flatnonzero(arr)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise TypeError("Index lists must be one-dimensional lists of integers.")
    arr = arr.astype(np.int64)
    arr = np.where(arr < 0, arr + n, arr)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise IndexError(f"Index list {arr.tolist()[:10]} is out of range for axis of length {n}.")
    if arr.size > 1 and np.any(np.diff(arr) <= 0):
        raise TypeError("Index lists must be strictly increasing (as in h5py).")
    return arr


def normalize_selection(key: Any, shape: tuple[int, ...]) -> Selection:
    """Normalise an h5py-style selection against ``shape``.

    Raises
    ------
    IndexError
        For out-of-range integers, too many indices, or malformed masks.
    TypeError
        For unsupported index types, non-increasing lists or more than one list axis.
    ValueError
        For a slice step that is not positive.
    """
    if not isinstance(key, tuple):
        key = (key,)
    if any(k is Ellipsis for k in key):
        if sum(k is Ellipsis for k in key) > 1:
            raise IndexError("Only one Ellipsis is allowed in a selection.")
        i = next(i for i, k in enumerate(key) if k is Ellipsis)
        fill = len(shape) - (len(key) - 1)
        key = key[:i] + (slice(None),) * max(fill, 0) + key[i + 1:]
    if len(key) > len(shape):
        raise IndexError(f"Too many indices ({len(key)}) for a {len(shape)}-dimensional dataset.")
    key = key + (slice(None),) * (len(shape) - len(key))
    axes: list[AxisSel] = []
    out_shape: list[int] = []
    list_axes = 0
    for k, n in zip(key, shape, strict=True):
        if isinstance(k, slice):
            start, stop, step = k.indices(n)
            if step <= 0:
                raise ValueError("Slice steps must be positive (as in h5py).")
            stop = max(stop, start)
            axes.append(slice(start, stop, step))
            out_shape.append(len(range(start, stop, step)))
        elif isinstance(k, int | np.integer) and not isinstance(k, bool):
            i = int(k)
            if i < -n or i >= n:
                raise IndexError(f"Index {i} is out of range for axis of length {n}.")
            axes.append(i + n if i < 0 else i)
        elif isinstance(k, list | np.ndarray):
            list_axes += 1
            if list_axes > 1:
                raise TypeError("Only one axis may be indexed with a list (as in h5py).")
            arr = _normalize_index_array(np.asarray(k), n)
            axes.append(arr)
            out_shape.append(len(arr))
        else:
            raise TypeError(f"Unsupported selection {k!r} of type {type(k).__name__}.")
    return Selection(tuple(axes), tuple(out_shape))
