"""Reading datasets with h5py-style selections: one matrix, checked against numpy and h5py.

The matrix, in the manner of h5py's ``test_dataset_getitem.py``:

=============  ==============================================================================
axis           values
=============  ==============================================================================
container      ``json`` (chunks inline), ``tar`` and ``dir`` (chunks of >= 1000 bytes as blobs)
dtype          int8, uint16, int32, int64, float32, float64, bool, big-endian ``>i4``,
               fixed-length ``S5``, variable-length (unicode) str
layout         ``1d_edge`` (2500,) in chunks of 1000: a partial last chunk, blobs in tar/dir;
               ``2d_edge`` (11, 7) in (4, 3): partial edge chunks on both axes;
               ``3d`` (5, 6, 7) in (2, 4, 3); ``single_chunk`` (40, 30) in one chunk
selection      ``[...]``, ``[()]``, integer, negative integer, slice, stepped slice ``::3``,
               slice + integer, Ellipsis in the middle, increasing index list on one axis,
               boolean mask on one axis, empty slice ``5:5`` (combinations that need more
               dimensions than a layout has are left out)
=============  ==============================================================================

Every case writes the data once (mode ``w``), then opens the file afresh in mode ``r`` and reads
the selection, so what is checked is the stored form, not the writer's chunk cache. The result
must equal

* the numpy model: orthogonal (h5py-style) indexing of the same array, and
* h5py: the same data written to an ``.h5`` with the same chunks, read with the same selection,

in value, shape, dtype, and in being a scalar (not a 0-d array) for all-integer selections.

The second half checks that unsupported selections raise what h5py raises, with our message.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from hdmf_lindi import File

KINDS = {"json": "data.lindi.json", "tar": "data.lindi.tar", "dir": "data.lindi.d"}

DTYPES = ["int8", "uint16", "int32", "int64", "float32", "float64", "bool", ">i4", "S5", "vlen_str"]

LAYOUTS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "1d_edge": ((2500,), (1000,)),
    "2d_edge": ((11, 7), (4, 3)),
    "3d": ((5, 6, 7), (2, 4, 3)),
    "single_chunk": ((40, 30), (40, 30)),
}

Builder = Callable[[tuple[int, ...]], Any]


def _int_list(shape: tuple[int, ...]) -> Any:
    # the list on the last axis; in 3-D an integer and a slice come first (h5py keeps the list
    # axis in place where numpy would move it to the front)
    ndim = len(shape)
    lead: tuple[Any, ...] = (1,) * max(ndim - 2, 0) + (slice(None),) * min(ndim - 1, 1)
    return (*lead, [0, 2, shape[-1] - 1])


SELECTIONS: dict[str, Builder] = {
    "ellipsis": lambda shape: Ellipsis,
    "empty_tuple": lambda shape: (),
    "int": lambda shape: 1,
    "negative_int": lambda shape: -2,
    "slice": lambda shape: tuple(slice(1, n - 1) for n in shape),
    "stepped_slice": lambda shape: tuple(slice(None, None, 3) for _ in shape),
    "slice_and_int": lambda shape: (
        (slice(2, None), 1, *(slice(None, None, 2),) * (len(shape) - 2)) if len(shape) > 1 else None
    ),
    "ellipsis_middle": lambda shape: (1, Ellipsis, -1) if len(shape) > 1 else None,
    "int_list": _int_list,
    "bool_mask": lambda shape: (np.arange(shape[0]) % 3 != 1,),
    "empty_slice": lambda shape: slice(5, 5),
}

CASES = [
    pytest.param(layout, name, id=f"{layout}-{name}")
    for layout, (shape, _) in LAYOUTS.items()
    for name, build in SELECTIONS.items()
    if build(shape) is not None
]


def make_data(dtype: str, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    """Distinct, dtype-appropriate values (so that a misplaced element shows)."""
    n = int(np.prod(shape))
    i = np.arange(n)
    if dtype == "bool":
        flat: np.ndarray[Any, Any] = i % 3 == 0
    elif dtype == "S5":
        flat = np.array([f"b{k % 997}"[:5].encode() for k in i], dtype="S5")
    elif dtype == "vlen_str":
        flat = np.empty(n, dtype=object)
        flat[:] = ["é" * (k % 4) + f"s{k}" + "✓" * (k % 2) for k in i]
    elif np.dtype(dtype).kind == "f":
        flat = (i * 0.5 - 7.25).astype(dtype)
    else:
        info = np.iinfo(np.dtype(dtype))
        low, high = max(int(info.min), -(2**40)), min(int(info.max), 2**40)
        flat = (low + (i * 7919 ** 3) % (high - low)).astype(dtype)
    return flat.reshape(shape)


def orthogonal(data: np.ndarray[Any, Any], sel: Any) -> Any:
    """The numpy model: apply each axis' selection independently (h5py semantics)."""
    key = sel if isinstance(sel, tuple) else (sel,)
    if any(k is Ellipsis for k in key):
        i = next(i for i, k in enumerate(key) if k is Ellipsis)
        key = key[:i] + (slice(None),) * (data.ndim - len(key) + 1) + key[i + 1:]
    key = key + (slice(None),) * (data.ndim - len(key))
    out = data
    int_axes = []
    for axis, (k, n) in enumerate(zip(key, data.shape, strict=True)):
        idx = np.arange(n)[k]
        if np.ndim(idx) == 0:
            int_axes.append(axis)
        out = np.take(out, np.atleast_1d(idx), axis=axis)
    out = np.squeeze(out, axis=tuple(int_axes))
    return out[()] if out.ndim == 0 else out


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str, str], tuple[Path, Path]]:
    """Return ``(lindi_path, h5_path)`` holding the same data, written once per combination."""
    made: dict[tuple[str, str, str], tuple[Path, Path]] = {}
    h5_made: dict[tuple[str, str], Path] = {}

    def get(kind: str, dtype: str, layout: str) -> tuple[Path, Path]:
        if (kind, dtype, layout) in made:
            return made[kind, dtype, layout]
        shape, chunks = LAYOUTS[layout]
        data = make_data(dtype, shape)
        if (dtype, layout) not in h5_made:
            h5_path = tmp_path_factory.mktemp("h5") / f"{dtype}-{layout}.h5"
            with h5py.File(h5_path, "w") as h:
                h5_dtype = h5py.string_dtype() if dtype == "vlen_str" else data.dtype
                h.create_dataset("data", data=data, chunks=chunks, dtype=h5_dtype)
            h5_made[dtype, layout] = h5_path
        path = tmp_path_factory.mktemp(kind) / KINDS[kind]
        with File(path, "w") as f:
            f.create_dataset("data", data=data, chunks=chunks)
        made[kind, dtype, layout] = (path, h5_made[dtype, layout])
        return made[kind, dtype, layout]

    return get


def assert_same_read(ours: Any, expected: Any) -> None:
    assert isinstance(ours, np.ndarray) == isinstance(expected, np.ndarray)
    assert type(ours) is type(expected) or isinstance(ours, np.ndarray)
    assert np.shape(ours) == np.shape(expected)
    if isinstance(expected, np.ndarray):
        assert ours.dtype == expected.dtype
    np.testing.assert_array_equal(ours, expected)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("layout", "selection"), CASES)
def test_getitem_matches_numpy_and_h5py(
    stored: Callable[[str, str, str], tuple[Path, Path]], kind: str, dtype: str, layout: str, selection: str
) -> None:
    path, h5_path = stored(kind, dtype, layout)
    shape, _ = LAYOUTS[layout]
    sel = SELECTIONS[selection](shape)
    with File(path, "r") as f:
        ours = f["data"][sel]
    assert_same_read(ours, orthogonal(make_data(dtype, shape), sel))
    with h5py.File(h5_path, "r") as h:
        h5ds = h["data"].asstr() if dtype == "vlen_str" else h["data"]
        assert_same_read(ours, h5ds[sel])


@pytest.mark.parametrize("kind", list(KINDS))
def test_large_chunks_are_blobs_except_in_json(
    stored: Callable[[str, str, str], tuple[Path, Path]], kind: str
) -> None:
    # the matrix reads blobs in tar/dir only if the big layouts really were stored as blobs
    path, _ = stored(kind, "int8", "1d_edge")
    with File(path, "r") as f:
        raw = f.container.refmap.raw("data/0")
    if kind == "json":
        assert isinstance(raw, str)
    else:
        assert raw == ["./blobs/data/0", 0, 1000]


@pytest.mark.parametrize("kind", list(KINDS))
def test_repeated_read_served_from_cache_is_equal(
    stored: Callable[[str, str, str], tuple[Path, Path]], kind: str
) -> None:
    path, _ = stored(kind, "float64", "2d_edge")
    expected = make_data("float64", LAYOUTS["2d_edge"][0])
    with File(path, "r") as f:
        first = f["data"][2:9, 1:]
        misses = f._state.cache.misses
        second = f["data"][2:9, 1:]
        assert f._state.cache.misses == misses  # every chunk came from the cache
        first[...] = -1  # the result is a copy, never a view of a cached chunk
        third = f["data"][2:9, 1:]
    np.testing.assert_array_equal(second, expected[2:9, 1:])
    np.testing.assert_array_equal(third, expected[2:9, 1:])


# ---------------------------------------------------------------------------------------------
# Unsupported selections: (selection, our exception, our message, h5py's exception).
# h5py raises ValueError for "too many indices" and for two Ellipses; hdmf_lindi raises
# IndexError there, as numpy does.
BAD_SELECTIONS = [
    pytest.param([3, 1], TypeError, "strictly increasing", TypeError, id="decreasing_list"),
    pytest.param([1, 1], TypeError, "strictly increasing", TypeError, id="repeated_list"),
    pytest.param(slice(None, None, 0), ValueError, "step", ValueError, id="step_zero"),
    pytest.param(slice(None, None, -1), ValueError, "must be positive", ValueError, id="negative_step"),
    pytest.param(11, IndexError, "out of range for axis of length 11", IndexError, id="int_too_large"),
    pytest.param(-12, IndexError, "out of range", IndexError, id="int_too_small"),
    pytest.param((0, 0, 0), IndexError, "Too many indices", ValueError, id="too_many_indices"),
    pytest.param((..., ...), IndexError, "one Ellipsis", ValueError, id="two_ellipses"),
    pytest.param(([0, 1], [0, 1]), TypeError, "Only one axis", TypeError, id="two_list_axes"),
    pytest.param("x", ValueError, "only allowed for compound datasets", ValueError, id="field_of_non_compound"),
]


@pytest.fixture(scope="module")
def bad_target(stored: Callable[[str, str, str], tuple[Path, Path]]) -> tuple[Path, Path]:
    return stored("json", "int32", "2d_edge")


@pytest.mark.parametrize(("sel", "exc", "match", "h5_exc"), BAD_SELECTIONS)
def test_unsupported_selection_raises_like_h5py(
    bad_target: tuple[Path, Path], sel: Any, exc: type[Exception], match: str, h5_exc: type[Exception]
) -> None:
    path, h5_path = bad_target
    with h5py.File(h5_path, "r") as h, pytest.raises(h5_exc):
        h["data"][sel]
    with File(path, "r") as f, pytest.raises(exc, match=match):
        f["data"][sel]


def test_out_of_range_list_and_bad_mask_raise(bad_target: tuple[Path, Path]) -> None:
    path, _ = bad_target
    with File(path, "r") as f:
        with pytest.raises(IndexError, match="out of range"):
            f["data"][[0, 11]]
        with pytest.raises(IndexError, match="does not match axis length 11"):
            f["data"][np.ones(5, dtype=bool)]
        with pytest.raises(TypeError, match="Unsupported selection"):
            f["data"][1.5]
