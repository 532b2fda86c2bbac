"""Property tests: any int/slice selection of any small chunked array reads what numpy gives.

Hypothesis draws a shape (1-3 dimensions, possibly with zero-length axes), a chunk shape, a
dtype, a fill value, which chunks are missing from the store, and a selection made of integers
(negative too), slices with positive steps and at most one Ellipsis. The array is written by
hand into an in-memory reference map (so the reader is checked against an independent writer),
opened with ``File(ReferenceMap)``, and read. Integer and slice selections mean the same in
numpy and h5py, so plain numpy indexing is the model.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hdmf_lindi import File
from hdmf_lindi.storage.refmap import ReferenceMap, encode_inline
from hdmf_lindi.tree.selection import normalize_selection

DTYPES = ["<i4", ">u2", "<f8", "|i1"]


def axis_selection(n: int) -> st.SearchStrategy[Any]:
    bound = st.none() | st.integers(-n - 2, n + 2)
    slices = st.builds(slice, bound, bound, st.none() | st.integers(1, 4))
    return slices if n == 0 else st.integers(-n, n - 1) | slices


@st.composite
def cases(draw: st.DrawFn) -> tuple[np.ndarray[Any, Any], tuple[int, ...], Any, set[tuple[int, ...]], Any]:
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(0, 7)) for _ in range(ndim))
    chunks = tuple(draw(st.integers(1, max(n, 1) + 1)) for n in shape)
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    data = (np.arange(int(np.prod(shape))) * 3 + 1).astype(dtype).reshape(shape)
    grid = [range(-(-n // c)) for n, c in zip(shape, chunks, strict=True)]
    all_chunks = list(itertools.product(*grid))
    missing = set(draw(st.lists(st.sampled_from(all_chunks), max_size=3))) if all_chunks else set()
    fill = draw(st.integers(0, 100))
    n_keys = draw(st.integers(0, ndim))
    axes = [draw(axis_selection(n)) for n in shape]
    key: list[Any] = axes[:n_keys]
    if n_keys < ndim and draw(st.booleans()):
        # the Ellipsis stands for the axes between the leading and the trailing selections
        lead = draw(st.integers(0, n_keys))
        key = axes[:lead] + [Ellipsis] + axes[ndim - (n_keys - lead):]
    sel: Any = key[0] if len(key) == 1 and draw(st.booleans()) else tuple(key)
    return data, chunks, sel, missing, fill


def to_refmap(data: np.ndarray[Any, Any], chunks: tuple[int, ...], missing: set[tuple[int, ...]], fill: int) -> ReferenceMap:
    """Store ``data`` as raw, edge-padded chunks, leaving out the ``missing`` ones."""
    refs: dict[str, Any] = {
        ".zgroup": {"zarr_format": 2},
        "data/.zarray": {
            "zarr_format": 2, "shape": list(data.shape), "chunks": list(chunks), "dtype": data.dtype.str,
            "fill_value": fill, "order": "C", "compressor": None, "filters": None,
        },
    }
    grid = [range(-(-n // c)) for n, c in zip(data.shape, chunks, strict=True)]
    for index in itertools.product(*grid):
        if index in missing:
            continue
        block = np.full(chunks, 99, dtype=data.dtype)  # padding a reader must never show
        region = tuple(slice(i * c, (i + 1) * c) for i, c in zip(index, chunks, strict=True))
        part = data[region]
        block[tuple(slice(0, s) for s in part.shape)] = part
        refs["data/" + ".".join(map(str, index))] = encode_inline(block.tobytes())
    return ReferenceMap(refs)


def model(data: np.ndarray[Any, Any], chunks: tuple[int, ...], missing: set[tuple[int, ...]], fill: int) -> Any:
    out = data.copy()
    for index in missing:
        out[tuple(slice(i * c, (i + 1) * c) for i, c in zip(index, chunks, strict=True))] = fill
    return out


@settings(max_examples=60, deadline=None)
@given(cases())
def test_read_equals_numpy(case: tuple[np.ndarray[Any, Any], tuple[int, ...], Any, set[tuple[int, ...]], int]) -> None:
    data, chunks, sel, missing, fill = case
    expected = model(data, chunks, missing, fill)[sel]
    with File(to_refmap(data, chunks, missing, fill)) as f:
        got = f["data"][sel]
    assert np.shape(got) == np.shape(expected)
    assert isinstance(got, np.ndarray) == isinstance(expected, np.ndarray)
    assert np.asarray(got).dtype == np.asarray(expected).dtype
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=60, deadline=None)
@given(cases())
def test_selection_parts_cover_the_output_once(
    case: tuple[np.ndarray[Any, Any], tuple[int, ...], Any, set[tuple[int, ...]], int],
) -> None:
    data, chunks, sel, _, _ = case
    selection = normalize_selection(sel, data.shape)
    assert selection.shape == np.shape(data[sel])
    hits = np.zeros(selection.shape, dtype=int)
    grid = tuple(-(-n // c) for n, c in zip(data.shape, chunks, strict=True))
    for part in selection.parts(chunks, data.shape):
        assert all(0 <= i < g for i, g in zip(part.grid_index, grid, strict=True))
        hits[part.out] += 1
        # the local selector picks, inside that chunk, exactly the elements the output expects
        origin = tuple(i * c for i, c in zip(part.grid_index, chunks, strict=True))
        padded = np.zeros(chunks, dtype=data.dtype)
        region = data[tuple(slice(o, o + c) for o, c in zip(origin, chunks, strict=True))]
        padded[tuple(slice(0, s) for s in region.shape)] = region
        np.testing.assert_array_equal(padded[part.local], data[sel][part.out] if selection.shape else data[sel])
    if hits.size:
        assert hits.min() == 1 and hits.max() == 1
