"""Lazy dataset objects handed to hdmf: plain arrays, object-reference arrays and compound tables.

Every class here derives from :class:`hdmf.query.HDMFDataset` (hdmf's docval only accepts array
types it knew at import time, and ``HDMFDataset`` is one of them) and is registered with
``ObjectMapper.no_convert`` so that rebuilding a container holding one (export, re-write) does
not try to convert it element by element.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from copy import copy
from typing import TYPE_CHECKING, Any

import numpy as np
from hdmf.build import ObjectMapper
from hdmf.query import BuilderResolver, ContainerResolver, HDMFDataset

from ..errors import NotPicklableError, UnsupportedError
from ..format.dtypes import is_reference_dtype
from ..format.references import Reference
from ..tree import Dataset
from ..tree.handle import DatasetHandle

if TYPE_CHECKING:
    from .io import LindiIO

__all__ = [
    "BuilderLindiReferenceDataset",
    "BuilderLindiTableDataset",
    "ContainerLindiReferenceDataset",
    "ContainerLindiTableDataset",
    "LindiDataset",
    "compound_field_types",
]

logger = logging.getLogger(__name__)

_ITER_TARGET_BYTES = 4 << 20


def _fancy_axis(key: Any) -> tuple[int, np.ndarray[Any, Any]] | None:
    """Return ``(axis, indices)`` when ``key`` selects with an integer list or a boolean mask."""
    parts = key if isinstance(key, tuple) else (key,)
    for axis, part in enumerate(parts):
        if isinstance(part, list | np.ndarray):
            arr = np.asarray(part)
            if arr.dtype == bool:
                arr = np.flatnonzero(arr)
            return axis, arr.astype(np.int64, copy=False)
    return None


class LindiDataset(HDMFDataset):
    """A LINDI dataset as hdmf sees it: lazy, sliceable, numpy-convertible.

    Parameters
    ----------
    dataset
        The tree-level dataset.
    io
        The IO that read it (used for references and appends).
    """

    def __init__(self, dataset: Dataset, io: LindiIO) -> None:
        # HDMFDataset.__init__ is docval-checked against the array types hdmf knows; the tree
        # Dataset is not one of them, so the state is set here directly.
        self._lindi_dataset = dataset
        self._lindi_io = io

    # ------------------------------------------------------------------ identity
    @property
    def dataset(self) -> Dataset:
        """The underlying :class:`hdmf_lindi.Dataset`."""
        return self._lindi_dataset

    @property
    def io(self) -> LindiIO:
        """The IO that read this dataset."""
        return self._lindi_io

    @property
    def name(self) -> str:
        """Absolute path of the dataset in its file."""
        return self._lindi_dataset.name

    @property
    def attrs(self) -> Any:
        """The dataset's attributes (h5py-like)."""
        return self._lindi_dataset.attrs

    @property
    def file(self) -> Any:
        """The open :class:`hdmf_lindi.File`."""
        return self._lindi_dataset.file

    # ------------------------------------------------------------------ pickling
    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by location (see :mod:`hdmf_lindi.tree.handle`): a few hundred bytes.

        The copy reads the same dataset, reopened read-only (once per process); it has no IO
        (``io`` is None). Datasets of references resolve through their IO and do not pickle.

        Raises
        ------
        NotPicklableError
            For a dataset of references, or of a writable or in-memory file.
        """
        if type(self) is not LindiDataset:
            raise NotPicklableError(
                f"Cannot pickle {self!r}: its elements are references, which resolve to objects "
                "of the IO that read it. Pickle plain datasets, or the values read from this one."
            )
        return (_restore_lindi_dataset, (DatasetHandle.of(self._lindi_dataset),))

    def to_dask(self, chunks: Any = "auto", *, target_bytes: int | None = None, name: str | None = None) -> Any:
        """Return a ``dask.array.Array`` over this dataset; see :func:`hdmf_lindi.dask.to_dask`."""
        from ..dask import to_dask  # dask is an optional extra

        return to_dask(self._lindi_dataset, chunks, target_bytes=target_bytes, name=name)

    # ------------------------------------------------------------------ array protocol
    @property
    def shape(self) -> tuple[int, ...]:
        """The dataset's shape."""
        return self._lindi_dataset.shape

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def dtype(self) -> Any:
        """The element dtype (``dtype('O')`` for strings)."""
        return self._lindi_dataset.dtype

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        """Size in memory, in bytes."""
        return self._lindi_dataset.nbytes

    @property
    def chunks(self) -> tuple[int, ...] | None:
        """The chunk shape."""
        return self._lindi_dataset.chunks

    @property
    def maxshape(self) -> tuple[int | None, ...]:
        """Every LINDI dataset can grow along every axis."""
        return self._lindi_dataset.maxshape

    @property
    def fillvalue(self) -> Any:
        """The value of unwritten elements."""
        return self._lindi_dataset.fillvalue

    fill_value = fillvalue

    @property
    def compression(self) -> str | None:
        """The compression codec id, or None."""
        return self._lindi_dataset.compression

    @property
    def compression_opts(self) -> Any:
        """The compression level, when the codec has one."""
        return self._lindi_dataset.compression_opts

    def __len__(self) -> int:
        return len(self._lindi_dataset)

    def _read(self, key: Any) -> Any:
        """Read a selection; integer lists may be unsorted or repeat (h5py would refuse)."""
        fancy = _fancy_axis(key)
        if fancy is None:
            return self._lindi_dataset[key]
        axis, idx = fancy
        parts = list(key) if isinstance(key, tuple) else [key]
        if idx.size == 0 or bool(np.all(idx[1:] > idx[:-1])):
            parts[axis] = idx
            return self._lindi_dataset[tuple(parts)]
        n = self.shape[axis]
        idx = np.where(idx < 0, idx + n, idx)
        unique, inverse = np.unique(idx, return_inverse=True)
        parts[axis] = unique
        data = np.asarray(self._lindi_dataset[tuple(parts)])
        # integer axes before the fancy one are dropped from the result
        out_axis = axis - sum(1 for p in parts[:axis] if isinstance(p, int | np.integer))
        return np.take(data, inverse, axis=out_axis)

    def __getitem__(self, key: Any) -> Any:
        return self._read(key)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray[Any, Any]:
        arr = np.asarray(self._lindi_dataset[()])
        return arr.astype(dtype) if dtype is not None else arr

    def __iter__(self) -> Iterator[Any]:
        """Iterate over the first axis, reading a few chunks' worth of rows at a time."""
        n = len(self)
        if n == 0:
            return
        chunks = self.chunks or (n,)
        row_bytes = max(1, int(np.prod(self.shape[1:])) * max(1, self._itemsize()))
        step = max(chunks[0], (_ITER_TARGET_BYTES // row_bytes) // chunks[0] * chunks[0])
        for start in range(0, n, step):
            block = self[start:min(n, start + step)]
            yield from block

    def _itemsize(self) -> int:
        dtype = self._lindi_dataset.dtype
        return int(dtype.itemsize) if isinstance(dtype, np.dtype) else 8

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} shape={self.shape} dtype={self._lindi_dataset.dtype}>"

    # ------------------------------------------------------------------ writing
    def append(self, arg: Any) -> None:
        """Append one element along the first axis (``DynamicTable.add_row`` in append mode)."""
        ds = self._lindi_dataset
        value = self._stored_value(arg)
        n = len(ds)
        ds.resize(n + 1, axis=0)
        ds[n] = value

    def extend(self, values: Any) -> None:
        """Append every element of ``values`` along the first axis (``VectorData.extend``)."""
        items = list(values)
        if not items:
            return
        ds = self._lindi_dataset
        n = len(ds)
        ds.resize(n + len(items), axis=0)
        stored = [self._stored_value(v) for v in items]
        if ds.dtype.kind == "O" and ds.dtype.fields is None:
            block = np.empty(len(stored), dtype=object)
            block[:] = stored
        elif ds.dtype.fields is not None:
            block = np.array([s[()] if isinstance(s, np.ndarray) else s for s in stored], dtype=ds.dtype)
        else:
            block = np.asarray(stored, dtype=ds.dtype)
        ds[n:n + len(items)] = block

    def _stored_value(self, arg: Any) -> Any:
        return arg

    # ------------------------------------------------------------------ references
    def _get_ref(self, ref: Any) -> Any:
        raise NotImplementedError


def _restore_lindi_dataset(handle: DatasetHandle) -> LindiDataset:
    """Unpickle a :class:`LindiDataset`: reopen its file (through the per-process cache)."""
    return LindiDataset(handle.dataset(), None)  # type: ignore[arg-type]


class _ReferenceMixin:
    """What the reference-resolving datasets share: dereference with the IO."""

    _lindi_io: LindiIO

    def _get_ref(self, ref: Any) -> Any:
        if ref is None or (isinstance(ref, Reference) and not ref.path):
            return None
        if not isinstance(ref, Reference):
            raise UnsupportedError(f"Expected an object reference, got {type(ref).__name__} {ref!r:.60}.")
        return self.get_object(ref)  # type: ignore[attr-defined]

    def invert(self) -> Any:
        """Return the same dataset resolving to the other kind of object (builders/containers)."""
        inverted = getattr(self, "_inverted", None)
        if inverted is None:
            cls = self.get_inverse_class()  # type: ignore[attr-defined]
            inverted = cls(self._lindi_dataset, self._lindi_io)  # type: ignore[attr-defined]
            inverted._inverted = self
            self._inverted = inverted
        return inverted

    def _stored_value(self, arg: Any) -> Any:
        return self._lindi_io._create_ref(arg)


class _BuilderFlavour(BuilderResolver):
    _lindi_io: LindiIO

    def get_object(self, ref: Reference) -> Any:
        return self._lindi_io.get_builder(ref)


class _ContainerFlavour(ContainerResolver):
    _lindi_io: LindiIO

    def get_object(self, ref: Reference) -> Any:
        return self._lindi_io.get_container(ref)


class _ReferenceDataset(_ReferenceMixin, LindiDataset):
    """A 1-D (or n-D) dataset of object references, resolved element by element on access."""

    def __getitem__(self, key: Any) -> Any:
        value = self._read(key)
        if isinstance(value, np.ndarray):
            return [self._get_ref(x) for x in value.reshape(-1)] if value.ndim <= 1 else np.vectorize(
                self._get_ref, otypes=[object]
            )(value)
        return self._get_ref(value)

    @property
    def dtype(self) -> Any:
        """``'object'``, as hdmf labels reference datasets."""
        return "object"

    def _itemsize(self) -> int:
        return 8

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray[Any, Any]:
        out = np.empty(len(self), dtype=object)
        out[:] = self[:]
        return out

    def resolve(self, manager: Any = None) -> list[Any]:
        """Return every element resolved."""
        return list(self[:])


class BuilderLindiReferenceDataset(_ReferenceDataset, _BuilderFlavour):
    """Reference dataset resolving to builders (what ``read_builder`` hands out)."""

    @classmethod
    def get_inverse_class(cls) -> type:
        return ContainerLindiReferenceDataset


class ContainerLindiReferenceDataset(_ReferenceDataset, _ContainerFlavour):
    """Reference dataset resolving to containers (what containers hold)."""

    @classmethod
    def get_inverse_class(cls) -> type:
        return BuilderLindiReferenceDataset


def compound_field_types(dtype: np.dtype[Any]) -> list[str]:
    """Return hdmf's per-field type labels for a compound dtype (``'int32'``, ``'utf'``, ``'object'``)."""
    assert dtype.fields is not None
    out = []
    for name in dtype.names or ():
        sub = dtype.fields[name][0]
        if is_reference_dtype(sub):
            out.append("object")
        elif sub.kind == "O":
            out.append("utf")
        else:
            out.append(sub.type.__name__)
    return out


class _TableDataset(_ReferenceMixin, LindiDataset):
    """A compound dataset whose reference fields are resolved on access."""

    def _ref_fields(self) -> list[int]:
        cached = getattr(self, "_ref_field_cache", None)
        if cached is None:
            dtype = self._lindi_dataset.dtype
            fields: dict[str, Any] = dict(dtype.fields or {})
            cached = [i for i, name in enumerate(dtype.names or ()) if is_reference_dtype(fields[name][0])]
            self._ref_field_cache = cached
        return cached

    @property
    def dtype(self) -> Any:
        """The list of field type labels, as hdmf's compound readers report it."""
        return compound_field_types(self._lindi_dataset.dtype)

    def _itemsize(self) -> int:
        return int(self._lindi_dataset.dtype.itemsize)

    def _swap(self, row: Any) -> Any:
        for i in self._ref_fields():
            row[i] = self._get_ref(row[i])
        return row

    def __getitem__(self, key: Any) -> Any:
        rows = copy(self._read(key))
        if not self._ref_fields():
            return rows
        if isinstance(rows, np.void) or (isinstance(rows, np.ndarray) and rows.ndim == 0):
            return self._swap(rows)
        for row in rows:
            self._swap(row)
        return rows

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self[i]

    def resolve(self, manager: Any = None) -> Any:
        """Return every row, references resolved."""
        return self[0:len(self)]

    def _stored_value(self, arg: Any) -> Any:
        dtype = self._lindi_dataset.dtype
        row = list(arg)
        for i in self._ref_fields():
            row[i] = self._lindi_io._create_ref(row[i])
        out = np.empty((), dtype=dtype)
        out[()] = tuple(row)
        return out


class BuilderLindiTableDataset(_TableDataset, _BuilderFlavour):
    """Compound dataset resolving reference fields to builders."""

    @classmethod
    def get_inverse_class(cls) -> type:
        return ContainerLindiTableDataset


class ContainerLindiTableDataset(_TableDataset, _ContainerFlavour):
    """Compound dataset resolving reference fields to containers."""

    @classmethod
    def get_inverse_class(cls) -> type:
        return BuilderLindiTableDataset


def _install_extend_hook() -> None:
    """Let ``hdmf.data_utils.extend_data`` extend LINDI datasets (``VectorData.extend``).

    hdmf's ``append_data`` calls ``append`` on any ``HDMFDataset``, but ``extend_data`` only knows
    lists, ``DataIO``, numpy arrays and ``h5py.Dataset`` -- so adding a row with a ragged column
    (``units.add_unit(spike_times=...)``) in append mode fails for every non-HDF5 backend. The
    hook handles :class:`LindiDataset` and hands everything else to hdmf's function unchanged.
    """
    import hdmf.container
    import hdmf.data_utils

    original = hdmf.data_utils.extend_data
    if getattr(original, "_hdmf_lindi_hook", False):
        return

    def extend_data(data: Any, arg: Any) -> Any:
        if isinstance(data, LindiDataset):
            data.extend(arg)
            return data
        return original(data, arg)

    extend_data.__doc__ = original.__doc__
    extend_data._hdmf_lindi_hook = True  # type: ignore[attr-defined]
    for module in (hdmf.data_utils, hdmf.container):
        if getattr(module, "extend_data", None) is original:
            module.extend_data = extend_data


_install_extend_hook()

for _cls in (
    LindiDataset,
    BuilderLindiReferenceDataset,
    ContainerLindiReferenceDataset,
    BuilderLindiTableDataset,
    ContainerLindiTableDataset,
):
    ObjectMapper.no_convert(_cls)
