"""Datasets: lazily read, chunked arrays (or scalars), and the ``asstr``/``astype`` views."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import MetadataError, NodeNotFoundError, UnsupportedError
from ..format.dtypes import compound_from_annotation, is_reference_dtype, ref_dtype, string_dtype
from ..format.zarr_v2 import ArrayMeta
from .array import ArrayEngine
from .node import _Node
from .selection import normalize_selection
from .state import _join

__all__ = ["AsStrView", "AsTypeView", "Dataset"]

_REFERENCE_OBJECT = re.compile(rb'\{\s*"_REFERENCE"\s*:')
_EXTERNAL_LOCK = threading.Lock()


class Dataset(_Node):
    """A dataset: a lazily read, chunked array (or a scalar)."""

    def _engine(self, dtype: np.dtype[Any] | None = None) -> ArrayEngine:
        engine = self._state.engines.get(self._path)
        if engine is None:
            if self._state.index.kind(self._path) != "array":
                raise NodeNotFoundError(
                    f"Dataset '{self.name}' no longer exists (it was deleted or moved); look it up "
                    "again from its group."
                )
            meta = ArrayMeta.from_dict(
                self._state.refmap.get_json(_join(self._path, ".zarray")),
                where=f"'/{self._path}' of {self._state.container.location}",
            )
            if self._scalar and meta.shape != (1,):
                raise MetadataError(
                    f"'/{self._path}' of {self._state.container.location} is marked _SCALAR but "
                    f"has shape {list(meta.shape)}; a scalar is stored with shape [1]."
                )
            presented = self._presented_dtype(meta) if dtype is None else dtype
            engine = ArrayEngine(self._state.container, self._path, meta, presented, self._state.cache)
            engine.plain = not self._scalar and self._external is None
            self._state.engines[self._path] = engine
        return engine

    def _presented_dtype(self, meta: ArrayMeta) -> np.dtype[Any]:
        zattrs = self._state.zattrs(self._path)
        if "_COMPOUND_DTYPE" in zattrs:
            return compound_from_annotation(zattrs["_COMPOUND_DTYPE"], where=self.name)
        if meta.dtype.kind != "O":
            return meta.dtype
        if self._is_reference(meta):
            return ref_dtype
        return string_dtype()

    def _is_reference(self, meta: ArrayMeta) -> bool:
        """Object arrays hold strings or references; look for a reference in the first stored chunk.

        The first chunk may be absent (never written) and its first elements may be nulls
        (unwritten references), so the first chunk present is searched as a whole. A JSON
        object opening ``{"_REFERENCE":`` cannot occur inside an encoded string (its quotes
        would be escaped).
        """
        kinds = {f.get("id") for f in meta.filters or () if isinstance(f, dict)}
        if "hdmf_lindi.v3_references" in kinds:  # a Zarr v3 reference array says so itself
            return True
        if "hdmf_lindi.v3_vlen_utf8" in kinds:
            return False
        if int(np.prod(meta.shape)) == 0:
            return False
        self._state.check_open()
        data = self._state.container.read(_join(self._path, ".".join("0" * len(meta.chunks))) if meta.chunks else "0")
        if data is None:
            prefix = self._path + "/"
            first = next(
                (k for k in self._state.refmap if k.startswith(prefix) and "/" not in k[len(prefix):]
                 and not k[len(prefix):].startswith(".")),
                None,
            )
            data = None if first is None else self._state.container.read(first)
        if data is None:
            return False
        return _REFERENCE_OBJECT.search(bytes(meta.pipeline.decode(data, where=f" of {self.name}"))) is not None

    @property
    def _scalar(self) -> bool:
        return bool(self._state.zattrs(self._path).get("_SCALAR"))

    @property
    def _external(self) -> dict[str, Any] | None:
        link = self._state.zattrs(self._path).get("_EXTERNAL_ARRAY_LINK")
        if isinstance(link, dict) and link.get("link_type") == "hdf5_dataset":
            return link
        return None

    @property
    def shape(self) -> tuple[int, ...]:
        """The dataset's shape (``()`` for scalars)."""
        return () if self._scalar else self._engine().meta.shape

    @property
    def dtype(self) -> np.dtype[Any]:
        """The element dtype (``string_dtype()`` for strings, ``ref_dtype`` for references)."""
        return self._engine().dtype

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        """Size of the data in memory, in bytes."""
        return self.size * self.dtype.itemsize

    @property
    def chunks(self) -> tuple[int, ...] | None:
        """The chunk shape (None for scalars)."""
        return None if self._scalar else self._engine().meta.chunks

    @property
    def maxshape(self) -> tuple[int | None, ...]:
        """Every LINDI dataset is resizable along every axis."""
        return tuple(None for _ in self.shape)

    @property
    def compression(self) -> str | None:
        """The compressor's codec id (``"gzip"``, ``"zlib"``, ``"blosc"`` ...) or None."""
        meta = self._engine().meta
        if meta.compressor is not None:
            return str(meta.compressor.get("id"))
        for f in meta.filters or []:
            if f.get("id") in ("zlib", "gzip", "blosc", "zstd", "lz4"):
                return str(f["id"])
        return None

    @property
    def compression_opts(self) -> Any:
        """The compression level when the codec has one."""
        meta = self._engine().meta
        codec = meta.compressor or next(
            (f for f in meta.filters or [] if f.get("id") in ("zlib", "gzip", "zstd")), None
        )
        return None if codec is None else codec.get("level", codec.get("clevel"))

    @property
    def compressor(self) -> dict[str, Any] | None:
        """The ``compressor`` configuration of ``.zarray``."""
        return self._engine().meta.compressor

    @property
    def filters(self) -> list[dict[str, Any]] | None:
        """The ``filters`` list of ``.zarray``."""
        return self._engine().meta.filters

    @property
    def shuffle(self) -> bool:
        """Whether the shuffle filter is applied."""
        return any(f.get("id") == "shuffle" for f in self.filters or [])

    @property
    def fillvalue(self) -> Any:
        """The fill value of unwritten chunks."""
        return self._engine().meta.fill_value

    def __len__(self) -> int:
        if self._scalar:
            raise TypeError("Attempt to take len() of a scalar dataset.")
        return self.shape[0]

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, key: Any) -> Any:
        self._state.check_open()
        engine = self._engine()
        if engine.plain:
            value = engine.read_within_chunk(key)
            if value is not None:
                return value
        if isinstance(key, str) or (isinstance(key, tuple) and key and isinstance(key[0], str)):
            return self._field(key)
        if self._scalar:
            if key == () or key is Ellipsis:
                if key == () and engine.meta.shape == (1,):
                    value = engine.read_within_chunk((0,))
                    if value is not None:
                        return value
                one = engine.read(normalize_selection((), engine.meta.shape))
                # h5py: ds[()] gives the element, ds[...] a 0-d array of the dataset's dtype
                return one[0] if key == () else one.reshape(())
            raise ValueError(f"Illegal slicing argument {key!r} for scalar dataspace; use ds[()].")
        if self._external is not None:
            return self._read_external(key)
        out = engine.read(normalize_selection(key, engine.meta.shape))
        # as h5py (and numpy), an all-integer selection gives an element, not a 0-d array
        return out[()] if out.ndim == 0 else out

    def _field(self, key: Any) -> Any:
        if self.dtype.fields is None:
            raise ValueError(
                f"Field names are only allowed for compound datasets (as in h5py); '{self.name}' "
                f"has dtype {self.dtype}."
            )
        names = [key] if isinstance(key, str) else [k for k in key if isinstance(k, str)]
        rest = key[len(names):] if isinstance(key, tuple) else ()
        data = self[rest if rest else ()] if not self._scalar else self[()]
        if len(names) == 1:
            return data[names[0]]
        return data[names]

    def _read_external(self, key: Any) -> Any:
        from ..hdf5.external import ExternalFiles  # lazy: h5py lives in hdf5/

        if self._state.external is None:
            with _EXTERNAL_LOCK:  # threads reading at once share one set of opened HDF5 files
                if self._state.external is None:
                    self._state.external = ExternalFiles(self._state.container.fetcher)
        link = self._external
        assert link is not None
        return self._state.external.read(str(link["url"]), str(link["name"]), key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._state.check_writable()
        engine = self._engine()
        if self._scalar:
            if key not in ((), Ellipsis):
                raise ValueError(f"Illegal slicing argument {key!r} for scalar dataspace; use ds[()] = v.")
            key = ()
            value = np.reshape(np.asarray(value, dtype=object) if engine.dtype.kind == "O" else np.asarray(value), (1,))
        if self._external is not None:
            raise UnsupportedError(f"'{self.name}' links to an HDF5 dataset and cannot be written.")
        engine.write(normalize_selection(key, engine.meta.shape), value)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray[Any, Any]:
        arr = np.asarray(self[()] if self._scalar else self[...])
        return arr.astype(dtype) if dtype is not None else arr

    def to_dask(self, chunks: Any = "auto", *, target_bytes: int | None = None, name: str | None = None) -> Any:
        """Return a lazy ``dask.array.Array`` over this dataset (the ``dask`` extra).

        Blocks are whole storage chunks grown to ``target_bytes`` (dask's ``array.chunk-size``
        by default); tasks hold a small handle and reopen the file by location, so the array
        works with threads, processes and ``dask.distributed``. See
        :func:`hdmf_lindi.dask.to_dask`.

        Raises
        ------
        NotPicklableError
            If the file is writable or in memory.
        """
        from ..dask import to_dask  # dask is an optional extra, imported when asked for

        return to_dask(self, chunks, target_bytes=target_bytes, name=name)

    def astype(self, dtype: Any) -> AsTypeView:
        """Return a view that reads this dataset converted to ``dtype`` (``ds.astype("f4")[:10]``)."""
        return AsTypeView(self, np.dtype(dtype))

    def asstr(self, encoding: str = "utf-8", errors: str = "strict") -> AsStrView:
        """Return a view that reads a string dataset as ``str`` objects (h5py's ``asstr``).

        Raises
        ------
        TypeError
            If the dataset does not hold strings.
        """
        if self.dtype.kind not in "OS" or is_reference_dtype(self.dtype):
            raise TypeError(f"asstr() can only be used on string datasets; '{self.name}' has dtype {self.dtype}.")
        return AsStrView(self, encoding, errors)

    def iter_chunks(self, sel: Any = None) -> Iterator[tuple[slice, ...]]:
        """Yield, for each chunk the selection touches, the slices of the dataset it covers there.

        As h5py's ``iter_chunks``: ``sel`` is a tuple of step-1 slices and integers (an integer
        selects one index and keeps its axis), the whole dataset when None; chunks come in C
        order.

        Raises
        ------
        TypeError
            For scalar datasets (h5py: not chunked).
        """
        if self._scalar:
            raise TypeError("Chunked dataset required (a scalar dataset has no chunks).")
        meta = self._engine().meta
        if sel is not None:
            sel = tuple(
                slice(i % n, i % n + 1) if isinstance(i, int | np.integer) and -n <= i < n else i
                for i, n in zip(sel if isinstance(sel, tuple) else (sel,), meta.shape, strict=False)
            )
        selection = normalize_selection(() if sel is None else sel, meta.shape)
        if not all(isinstance(axis, slice) and axis.step == 1 for axis in selection.axes):
            raise TypeError(f"iter_chunks takes a tuple of step-1 slices, not {sel!r}.")
        return (
            tuple(
                slice(g * c + local.start, g * c + local.stop, 1)
                for g, c, local in zip(part.grid_index, meta.chunks, part.local, strict=True)
            )
            for part in selection.parts(meta.chunks, meta.shape)
        )

    def read_direct(self, dest: np.ndarray[Any, Any], source_sel: Any = None, dest_sel: Any = None) -> None:
        """Read into an existing array (h5py's signature)."""
        dest[() if dest_sel is None else dest_sel] = self[() if source_sel is None else source_sel]

    def resize(self, size: int | tuple[int, ...], axis: int | None = None) -> None:
        """Change the shape; chunks wholly outside the new shape are removed.

        Raises
        ------
        ModeError
            If the file is read-only.
        TypeError
            For scalar datasets.
        """
        self._state.check_writable()
        if self._scalar:
            raise TypeError("Scalar datasets cannot be resized.")
        engine = self._engine()
        shape = list(engine.meta.shape)
        if axis is not None:
            shape[axis] = int(size)  # type: ignore[arg-type]
        else:
            shape = [int(s) for s in np.atleast_1d(size)]
        if len(shape) != len(engine.meta.shape):
            raise TypeError(f"New shape {shape} must have {len(engine.meta.shape)} dimensions.")
        zarray = engine.meta.to_dict()
        zarray["shape"] = shape
        if all(n >= o for n, o in zip(shape, engine.meta.shape, strict=True)):
            # growing never cuts a chunk: only the metadata changes
            self._state.container.set_metadata(_join(self._path, ".zarray"), zarray)
            self._state.engines.pop(self._path, None)
            return
        grid = [-(-s // c) for s, c in zip(shape, engine.meta.chunks, strict=True)]
        old_shape = engine.meta.shape
        prefix = self._path + "/"
        for key in [k for k in self._state.refmap if k.startswith(prefix) and not k[len(prefix):].startswith(".")]:
            index = tuple(int(x) for x in key[len(prefix):].split("."))
            if any(i >= g for i, g in zip(index, grid, strict=True)):
                self._state.container.delete(key)
            elif any(
                n < o and (i + 1) * c > n
                for i, c, n, o in zip(index, engine.meta.chunks, shape, old_shape, strict=True)
            ):
                # an edge chunk cut by the shrink: forget the cut-off values, as HDF5 does
                engine.clear_outside(index, tuple(shape))
            self._state.cache.discard(key)
        self._state.container.set_metadata(_join(self._path, ".zarray"), zarray)
        self._state.engines.pop(self._path, None)

    def retype(self, dtype: Any) -> None:
        """Store the dataset with another numeric dtype, in place (e.g. ``uint8`` -> ``uint16``).

        Shape, chunking, compression and attributes are kept; every stored chunk is rewritten
        with the new dtype (chunks referenced in another file become chunks of this one). What
        a growing ragged index needs (hdmf's ``VectorIndex`` widening on append).

        Raises
        ------
        ModeError
            If the file is read-only (``ClosedFileError`` if closed).
        TypeError
            If either dtype is not numeric, or a stored value does not fit the new dtype.
        UnsupportedError
            For an external array link, or a filter whose configuration depends on the dtype.
        """
        self._state.check_writable()
        new = np.dtype(dtype)
        engine = self._engine()
        old = engine.dtype
        if new == old:
            return
        if old.kind not in "biuf" or new.kind not in "iuf" or (old.kind == "f" and new.kind != "f"):
            raise TypeError(
                f"retype converts between numeric dtypes (not from floating point to integers); "
                f"'{self.name}' has dtype {old}, asked {new}."
            )
        if self._external is not None:
            raise UnsupportedError(f"'{self.name}' links to an HDF5 dataset and cannot be rewritten.")
        values = np.asarray(self[...])
        converted = values.astype(new)
        if not np.can_cast(old, new, "safe") and not _fits(values, converted, new):
            raise TypeError(f"The values of '{self.name}' do not fit dtype {new} (stored as {old}).")
        zarray = engine.meta.to_dict()
        zarray["dtype"] = new.str
        if zarray["filters"]:
            filters = []
            for codec in zarray["filters"]:
                if codec.get("id") == "shuffle" and "elementsize" in codec:
                    codec = {**codec, "elementsize": new.itemsize}
                elif "dtype" in codec or "astype" in codec:
                    raise UnsupportedError(
                        f"Cannot change the dtype of '{self.name}': its filter {codec.get('id')!r} is "
                        "configured for the old dtype."
                    )
                filters.append(codec)
            zarray["filters"] = filters
        prefix = self._path + "/"
        for key in [k for k in self._state.refmap if k.startswith(prefix) and not k[len(prefix):].startswith(".")]:
            self._state.container.delete(key)
            self._state.cache.discard(key)
        self._state.container.set_metadata(_join(self._path, ".zarray"), zarray)
        self._state.engines.pop(self._path, None)
        self[...] = converted

    def __repr__(self) -> str:
        if self._state.closed:
            return "<Closed LINDI dataset>"
        return f'<LINDI dataset "{self.name}": shape {self.shape}, type "{self.dtype.str}">'


def _fits(values: np.ndarray[Any, Any], converted: np.ndarray[Any, Any], dtype: np.dtype[Any]) -> bool:
    """Whether numeric ``values`` are held exactly by ``dtype`` (``converted`` is them cast to it)."""
    if values.size == 0:
        return True
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return info.min <= int(values.min()) and int(values.max()) <= info.max
    return bool(np.array_equal(converted.astype(values.dtype), values))


class _ReadView:
    """A dataset seen through a conversion: indexing reads, then converts (h5py's wrappers)."""

    def __init__(self, dataset: Dataset) -> None:
        self._dataset = dataset

    def _convert(self, data: Any) -> Any:
        raise NotImplementedError

    def __getitem__(self, key: Any) -> Any:
        return self._convert(self._dataset[key])

    def __len__(self) -> int:
        return len(self._dataset)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray[Any, Any]:
        arr = np.asarray(self[()])
        return arr if dtype is None else arr.astype(dtype)


class AsStrView(_ReadView):
    """What :meth:`Dataset.asstr` returns: indexing reads strings as ``str`` (bytes are decoded)."""

    def __init__(self, dataset: Dataset, encoding: str, errors: str) -> None:
        super().__init__(dataset)
        self._encoding = encoding
        self._errors = errors

    def _decode(self, value: Any) -> Any:
        return value.decode(self._encoding, self._errors) if isinstance(value, bytes) else value

    def _convert(self, data: Any) -> Any:
        if not isinstance(data, np.ndarray):
            return self._decode(data)
        out = np.empty(data.shape, dtype=object)
        out.flat[:] = [self._decode(v) for v in data.flat]
        return out


class AsTypeView(_ReadView):
    """What :meth:`Dataset.astype` returns: indexing reads and converts to ``dtype``."""

    def __init__(self, dataset: Dataset, dtype: np.dtype[Any]) -> None:
        super().__init__(dataset)
        self.dtype = dtype

    def _convert(self, data: Any) -> Any:
        out = np.asarray(data).astype(self.dtype)
        return out[()] if out.ndim == 0 else out  # an element is a NumPy scalar, as in h5py
