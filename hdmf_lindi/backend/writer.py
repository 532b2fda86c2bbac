"""Write hdmf builders into a LINDI tree: groups, datasets, links, attributes, references.

References are stored as paths (LINDI's ``_REFERENCE``), which are known before their targets
are written, so no reference queue is needed. Builders already written (read from this file in
append mode) are skipped, except that every group's attributes are set again, as ``HDF5IO``
does. ``DataChunkIterator`` data are streamed through a per-chunk buffer (``iterative.py``).
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from hdmf.build import DatasetBuilder, GroupBuilder, LinkBuilder, ReferenceBuilder
from hdmf.build.builders import BaseBuilder
from hdmf.container import Container as HdmfContainer
from hdmf.data_utils import AbstractDataChunkIterator, DataIO
from hdmf.query import HDMFDataset
from hdmf.spec import DtypeSpec, RefSpec

from ..errors import UnsupportedError
from ..format.dtypes import is_reference_dtype, ref_dtype, string_dtype
from ..format.eager import EAGER_INLINE_MAX_BYTES, EAGER_TYPES
from ..format.references import ExternalLink, Reference, SoftLink
from ..storage import is_url
from ..storage.containers import INLINE_MAX_BYTES
from ..tree import Dataset, File, Group
from ..tree.copy import copy_dataset
from .dataio import StorageSettings, settings_from_dataio
from .datasets import LindiDataset
from .iterative import write_iterator
from .spec_dtypes import SPEC_DTYPES

__all__ = ["BuilderWriter", "builder_path", "spec_dtype"]

logger = logging.getLogger(__name__)

_TEXT = {"text", "utf", "utf8", "utf-8", "ascii", "bytes", "isodatetime", "datetime", "str"}
_BLOCK_BYTES = 16 << 20


def spec_dtype(dtype: Any) -> np.dtype[Any] | None:
    """Map a builder dtype (spec string, numpy type, ``RefSpec``, compound list) to a numpy dtype."""
    if dtype is None:
        return None
    if isinstance(dtype, np.dtype):
        # numpy's dtype('O') == "object" is True: a string dtype must not become a reference
        return dtype
    if isinstance(dtype, RefSpec) or (isinstance(dtype, str) and dtype == "object"):
        return ref_dtype
    if isinstance(dtype, DtypeSpec):
        return spec_dtype(dtype.dtype)
    if isinstance(dtype, list):
        fields = []
        for field in dtype:
            name = field.name if isinstance(field, DtypeSpec) else field["name"]
            sub = field.dtype if isinstance(field, DtypeSpec) else field["dtype"]
            sub_dt = spec_dtype(sub)
            fields.append((name, sub_dt if sub_dt is not None else np.dtype("f8")))
        return np.dtype(fields)
    if isinstance(dtype, str):
        if dtype in _TEXT:
            return string_dtype()
        if dtype in SPEC_DTYPES:
            return SPEC_DTYPES[dtype]
        return np.dtype(dtype)
    if dtype in (str, bytes):
        return string_dtype()
    return np.dtype(dtype)


def builder_path(builder: BaseBuilder) -> str:
    """The absolute path of a builder in its file; the root's name is not part of any path.

    ``location`` (the parent's path, set on read and kept on export) wins over walking parents,
    except for a parentless builder at the top, which is the root.
    """
    if isinstance(builder, LinkBuilder):
        builder = builder.builder
    location = builder.location
    if location is not None and (builder.parent is not None or location not in ("", "/")):
        base = location.rstrip("/")
        return f"{base}/{builder.name}" if base else f"/{builder.name}"
    names: list[str] = []
    current: Any = builder
    while current.parent is not None:
        names.append(current.name)
        current = current.parent
    return "/" + "/".join(reversed(names))


def _to_text(value: Any) -> Any:
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8")
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return value


class BuilderWriter:
    """Writes one builder tree into an open, writable LINDI file.

    Parameters
    ----------
    file
        The destination file.
    source
        The destination's source (absolute path or URL), to tell in-file links from external ones.
    resolve_container
        Turns a container into its builder (for references given as containers).
    is_written, mark_written
        The IO's write-status tracker.
    link_data
        Link to (instead of copy) datasets read from other LINDI files.
    export_source
        The source file of an export: links and datasets pointing there become in-file objects.
    """

    def __init__(
        self,
        file: File,
        source: str,
        resolve_container: Callable[[HdmfContainer], BaseBuilder],
        is_written: Callable[[BaseBuilder], bool],
        mark_written: Callable[[BaseBuilder], None],
        *,
        link_data: bool = True,
        export_source: str | None = None,
        exhaust_dci: bool = True,
    ) -> None:
        self._file = file
        self._source = source
        self._resolve_container = resolve_container
        self._is_written = is_written
        self._mark = mark_written
        self._link_data = link_data
        self._export_source = export_source
        self._exhaust_dci = exhaust_dci
        self._pending: list[tuple[Dataset, AbstractDataChunkIterator]] = []

    # ------------------------------------------------------------------ groups
    def write_root(self, root: GroupBuilder) -> None:
        """Write the whole tree under ``root`` (the file's root group)."""
        self._write_members(self._file, root)
        self._set_attributes(self._file, root.attributes)
        for ds, iterator in self._pending:
            write_iterator(ds, iterator)  # attributes were set on creation; a replacement keeps them
        self._pending.clear()
        self._mark(root)

    def _write_members(self, group: Group, builder: GroupBuilder) -> None:
        for sub in builder.groups.values():
            self._write_group(group, sub)
        for dset in builder.datasets.values():
            self._write_dataset(group, dset)
        for link in builder.links.values():
            self._write_link(group, link)

    def _write_group(self, parent: Group, builder: GroupBuilder) -> None:
        if self._is_written(builder) and builder.name in parent:
            node = parent[builder.name]
            assert isinstance(node, Group)
            group = node
        else:
            group = parent.require_group(builder.name)
        self._write_members(group, builder)
        self._set_attributes(group, builder.attributes)
        self._mark(builder)

    # ------------------------------------------------------------------ attributes
    def _set_attributes(self, node: Group | Dataset, attributes: dict[str, Any]) -> None:
        for name, value in attributes.items():
            if value is None:
                continue
            try:
                node.attrs[name] = self._attribute_value(value)
            except UnsupportedError as exc:
                raise UnsupportedError(f"Unable to write attribute {name!r} on {node.name}: {exc}") from exc

    def _attribute_value(self, value: Any) -> Any:
        if isinstance(value, BaseBuilder | ReferenceBuilder | HdmfContainer):
            return self.reference(value)
        if isinstance(value, str | bytes | np.bytes_ | datetime.datetime | datetime.date):
            return _to_text(value)
        if isinstance(value, list | tuple | set):
            items = list(value)
            if any(isinstance(v, BaseBuilder | ReferenceBuilder | HdmfContainer) for v in items):
                raise UnsupportedError("lists of references are not supported in LINDI attributes")
            return [_to_text(v) for v in items]
        if isinstance(value, np.ndarray) and value.dtype.kind in "SO":
            return np.vectorize(_to_text, otypes=[object])(value) if value.size else value.astype(object)
        if isinstance(value, HDMFDataset):
            return np.asarray(value[()])
        return value

    # ------------------------------------------------------------------ references
    def reference(self, target: Any) -> Reference:
        """Return the stored reference to a builder, a reference builder or a container."""
        if isinstance(target, HdmfContainer):
            target = self._resolve_container(target)
        if isinstance(target, ReferenceBuilder):
            target = target.builder
        if isinstance(target, LinkBuilder):
            target = target.builder
        if not isinstance(target, BaseBuilder):
            raise UnsupportedError(f"Cannot store a reference to a {type(target).__name__}.")
        object_id = target.attributes.get("object_id")
        return Reference(path=builder_path(target), object_id=object_id if isinstance(object_id, str) else None)

    def _reference_or_none(self, value: Any) -> Reference | None:
        return None if value is None else self.reference(value)

    # ------------------------------------------------------------------ links
    def _in_this_file(self, source: str | None) -> bool:
        return source is None or source == self._source or (
            self._export_source is not None and source == self._export_source
        )

    def _write_link(self, parent: Group, builder: LinkBuilder) -> None:
        if self._is_written(builder):
            return
        target = builder.builder
        path = builder_path(target)
        if builder.name in parent:
            del parent[builder.name]
        if self._in_this_file(target.source):
            parent[builder.name] = SoftLink(path)
        else:
            parent[builder.name] = ExternalLink(self._relative(target.source), path)
        self._mark(builder)

    def _relative(self, other: str) -> str:
        if is_url(other) or is_url(self._source):
            return other
        return os.path.relpath(other, os.path.dirname(self._source))

    # ------------------------------------------------------------------ datasets
    def _write_dataset(self, parent: Group, builder: DatasetBuilder) -> None:
        if self._is_written(builder):
            return
        name = builder.name
        data = builder.data
        settings = StorageSettings()
        if isinstance(data, DataIO):
            settings = settings_from_dataio(data)
            data = data.data
        dtype = builder.dtype
        if isinstance(data, LindiDataset) and self._write_lindi_data(parent, builder, data, settings):
            return
        container = self._file.container
        if _read_eagerly(builder, data):
            # hdmf reads these while constructing: inline chunks spare a request per table
            container.inline_max_bytes = EAGER_INLINE_MAX_BYTES
        try:
            ds = self._create(parent, name, data, dtype, settings)
        finally:
            container.inline_max_bytes = INLINE_MAX_BYTES
        if ds is not None:
            self._set_attributes(ds, builder.attributes)
        self._mark(builder)

    def _write_lindi_data(
        self, parent: Group, builder: DatasetBuilder, data: LindiDataset, settings: StorageSettings
    ) -> bool:
        """Data read from a LINDI file: link, copy by reference, or leave to the generic path."""
        link_data = self._link_data if settings.link_data is None else settings.link_data
        source = data.io.source
        same_file = source == self._source
        target_path = data.name
        here = builder_path(builder)
        if same_file and target_path == here:
            # our own dataset at its own place (append mode): nothing to write
            self._mark(builder)
            return True
        exporting = self._export_source is not None
        if (not exporting and link_data) or (exporting and source != self._export_source and link_data):
            if same_file or (exporting and source == self._export_source):
                parent[builder.name] = SoftLink(target_path)
            else:
                parent[builder.name] = ExternalLink(self._relative(source), target_path)
            self._mark(builder)
            return True
        if exporting and source == self._export_source and target_path != here and link_data:
            parent[builder.name] = SoftLink(target_path)
            self._mark(builder)
            return True
        # copy: chunk references travel without decoding (remote chunks stay remote)
        ds = copy_dataset(data.dataset, parent, builder.name)
        self._set_attributes(ds, builder.attributes)
        self._mark(builder)
        return True

    def _create(
        self, parent: Group, name: str, data: Any, dtype: Any, settings: StorageSettings
    ) -> Dataset | None:
        kwargs = {
            "chunks": settings.chunks,
            "compression": settings.compression,
            "compression_opts": settings.compression_opts,
            "compressor": settings.compressor,
            "shuffle": settings.shuffle,
            "fillvalue": settings.fillvalue,
        }
        want = spec_dtype(dtype)
        if data is None:
            if settings.shape is None:
                raise UnsupportedError(f"Dataset {name!r} has no data and no shape/dtype to allocate.")
            dt = want if want is not None else np.dtype(settings.dtype)
            return parent.create_dataset(name, shape=settings.shape, dtype=dt, **kwargs)
        if isinstance(data, AbstractDataChunkIterator):
            return self._create_iterative(parent, name, data, want, settings, kwargs)
        if want is not None and want.fields is not None:
            return parent.create_dataset(name, data=self._compound_rows(data, want), dtype=want, **kwargs)
        if (want is not None and is_reference_dtype(want)) or isinstance(data, ReferenceBuilder):
            return self._create_references(parent, name, data, kwargs)
        if isinstance(data, str | bytes | datetime.datetime | datetime.date):
            return parent.create_dataset(name, data=_to_text(data), dtype=string_dtype(), **kwargs)
        if _is_lazy_array(data):
            if not any(v not in (None, False) for v in kwargs.values()):
                encoded = _copy_encoded(parent, name, data, want)
                if encoded is not None:
                    return encoded
            return self._copy_blocks(parent, name, data, want, _inherit_layout(data, settings, kwargs))
        arr = self._as_array(data, want)
        if arr.ndim == 0 and kwargs["chunks"] is not None:
            kwargs["chunks"] = None
        return parent.create_dataset(name, data=arr, dtype=arr.dtype if want is None else want, **kwargs)

    def _as_array(self, data: Any, want: np.dtype[Any] | None) -> np.ndarray[Any, Any]:
        if isinstance(data, np.ndarray) and data.dtype.kind not in "OSU":
            return data.astype(want) if want is not None and want.kind != "O" and data.dtype != want else data
        if want is not None and want.kind == "O":
            arr = np.empty(np.shape(data) if not isinstance(data, str) else (), dtype=object)
            flat = _check_text(_flatten_text(data))
            arr.reshape(-1)[:] = flat
            return arr
        arr = np.asarray(data)
        if arr.dtype.kind in "SU" or arr.dtype.kind == "O":
            out = np.empty(arr.shape, dtype=object)
            out.reshape(-1)[:] = _check_text([_to_text(v) for v in arr.reshape(-1)])
            return out
        if want is not None and arr.dtype != want:
            return arr.astype(want)
        return arr

    def _compound_rows(self, data: Any, dtype: np.dtype[Any]) -> np.ndarray[Any, Any]:
        names = dtype.names or ()
        fields: dict[str, Any] = dict(dtype.fields or {})
        ref_fields = {i for i, n in enumerate(names) if is_reference_dtype(fields[n][0])}
        text_fields = {
            i for i, n in enumerate(names) if fields[n][0].kind == "O" and i not in ref_fields
        }
        if isinstance(data, HDMFDataset) and not isinstance(data, np.ndarray):
            data = data[()] if getattr(data, "shape", None) == () else data[:]
        scalar = isinstance(data, np.void) or (isinstance(data, np.ndarray) and data.ndim == 0)
        rows: Iterable[Any] = [data[()] if isinstance(data, np.ndarray) else data] if scalar else data
        out = np.empty(len(rows) if not scalar else (), dtype=dtype)  # type: ignore[arg-type]
        flat = out.reshape(-1)
        for i, row in enumerate(rows):
            values = list(row.tolist() if isinstance(row, np.void) else row)
            for j in ref_fields:
                values[j] = self._reference_or_none(values[j])
            for j in text_fields:
                values[j] = _to_text(values[j])
            flat[i] = tuple(values)
        return out

    def _create_references(self, parent: Group, name: str, data: Any, kwargs: dict[str, Any]) -> Dataset:
        if isinstance(data, ReferenceBuilder | BaseBuilder | HdmfContainer):
            value: Any = self.reference(data)
            return parent.create_dataset(name, data=value, dtype=ref_dtype)
        if isinstance(data, HDMFDataset) and not isinstance(data, list):
            items = list(data[:]) if len(data) else []
        else:
            items = list(data)
        arr = np.empty(len(items), dtype=object)
        arr[:] = [self._reference_or_none(v) for v in items]
        kwargs = dict(kwargs)
        kwargs.update(compression=None, compressor=None, shuffle=False, compression_opts=None)
        return parent.create_dataset(name, data=arr, dtype=ref_dtype, **kwargs)

    def _copy_blocks(
        self, parent: Group, name: str, data: Any, want: np.dtype[Any] | None, kwargs: dict[str, Any]
    ) -> Dataset:
        """Copy a lazy foreign array (h5py, zarr, another HDMFDataset) in bounded blocks."""
        shape = tuple(int(s) for s in data.shape)
        src_dtype = np.dtype(data.dtype) if not isinstance(data.dtype, list | str) else np.dtype("O")
        dt = want if want is not None else src_dtype
        if shape == ():
            return parent.create_dataset(name, data=self._as_array(data[()], dt), dtype=dt, **kwargs)
        if dt.kind == "O" and not is_reference_dtype(dt):
            dt = string_dtype()
        ds = parent.create_dataset(name, shape=shape, dtype=dt, **kwargs)
        if not shape or shape[0] == 0 or int(np.prod(shape)) == 0:
            return ds
        row_bytes = max(1, int(np.prod(shape[1:])) * max(1, dt.itemsize))
        step = max(1, _BLOCK_BYTES // row_bytes)
        chunks = ds.chunks or (shape[0],)
        step = max(chunks[0], step // chunks[0] * chunks[0])
        for start in range(0, shape[0], step):
            stop = min(shape[0], start + step)
            block = data[start:stop]
            ds[start:stop] = self._as_array(block, dt)
        return ds

    def _create_iterative(
        self,
        parent: Group,
        name: str,
        iterator: AbstractDataChunkIterator,
        want: np.dtype[Any] | None,
        settings: StorageSettings,
        kwargs: dict[str, Any],
    ) -> Dataset:
        dt = want if want is not None else np.dtype(iterator.dtype)
        shape = iterator.recommended_data_shape() or ()
        maxshape = iterator.maxshape
        trailing = tuple(int(m if m is not None else s) for m, s in zip(maxshape[1:], shape[1:], strict=False))
        start_shape = (0, *trailing)
        chunks = settings.chunks or iterator.recommended_chunk_shape()
        if chunks is None:
            row_bytes = max(1, int(np.prod(trailing)) * max(1, dt.itemsize))
            chunks = (max(1, (1 << 20) // row_bytes), *trailing)
        kwargs = dict(kwargs)
        kwargs["chunks"] = tuple(int(c) for c in chunks)
        ds = parent.create_dataset(name, shape=start_shape, dtype=dt, **kwargs)
        if self._exhaust_dci:
            ds = write_iterator(ds, iterator)
        else:
            self._pending.append((ds, iterator))
        return ds


def _read_eagerly(builder: DatasetBuilder, data: Any) -> bool:
    """Whether hdmf may read the dataset while constructing (its chunks are then kept inline).

    Table ``id`` columns and ``VectorIndex`` datasets (``format/eager.py``), and text or
    reference datasets, which an index of an HDF5 file always holds inline too.
    """
    if builder.attributes.get("neurodata_type") in EAGER_TYPES:
        return True
    try:
        want = spec_dtype(builder.dtype)
    except TypeError:
        want = None
    if want is not None:
        return want.kind == "O"
    return isinstance(data, list | tuple) and bool(data) and isinstance(data[0], str | bytes)


def _copy_encoded(parent: Group, name: str, data: Any, want: np.dtype[Any] | None) -> Dataset | None:
    """Copy a chunked HDF5 dataset's chunks as they are encoded, or None to decode and re-encode.

    Used when the data come with no storage settings of their own (an export from
    ``NWBHDF5IO``): chunk shape, filters and bytes are the source's, nothing is decompressed.
    """
    source = getattr(data, "dataset", data) if isinstance(data, HDMFDataset) else data
    if type(source).__module__.split(".")[0] != "h5py":
        return None
    from ..hdf5.encoded import encoded_source  # lazy: h5py lives in hdf5/
    from ..tree.encoded import create_encoded

    encoded = encoded_source(source)
    if encoded is None or (want is not None and np.dtype(encoded.zarray["dtype"]) != want):
        return None
    return create_encoded(parent, name, encoded.zarray, encoded.chunks())


def _inherit_layout(data: Any, settings: StorageSettings, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Keep a source dataset's chunking and compression (an h5py or LINDI dataset) unless set.

    Exporting an HDF5 file to LINDI then keeps the layout the file's author chose, as
    ``HDF5IO``'s own export does (it copies the dataset with its filters).
    """
    if any(v not in (None, False) for v in kwargs.values()):
        return kwargs
    source = getattr(data, "dataset", data) if isinstance(data, HDMFDataset) else data
    chunks = getattr(source, "chunks", None)
    compression = getattr(source, "compression", None)
    if not isinstance(chunks, tuple) or not chunks:
        return kwargs
    out = dict(kwargs)
    out["chunks"] = tuple(int(c) for c in chunks)
    if compression in ("gzip", "zlib"):
        out["compression"] = compression
        opts = getattr(source, "compression_opts", None)
        out["compression_opts"] = opts if isinstance(opts, int) else None
    elif compression is not None:
        compressor = getattr(source, "compressor", None)
        if isinstance(compressor, dict):
            import numcodecs

            out["compressor"] = numcodecs.get_codec(compressor)
    out["shuffle"] = bool(getattr(source, "shuffle", False))
    return out


def _is_lazy_array(data: Any) -> bool:
    """A foreign array-like that should be read in blocks (h5py / zarr datasets, HDMFDatasets)."""
    if isinstance(data, np.ndarray | list | tuple):
        return False
    return hasattr(data, "shape") and hasattr(data, "dtype") and hasattr(data, "__getitem__")


def _check_text(values: list[Any]) -> list[Any]:
    """Text datasets hold strings; other Python objects are refused rather than stored as str()."""
    bad = next((v for v in values if not isinstance(v, str)), None)
    if bad is not None:
        raise UnsupportedError(
            f"Object data holding {type(bad).__name__} values is not supported by LINDI; "
            "object datasets hold strings (or references)."
        )
    return values


def _flatten_text(data: Any) -> list[Any]:
    if isinstance(data, str | bytes):
        return [_to_text(data)]
    if isinstance(data, np.ndarray):
        return [_to_text(v) for v in data.reshape(-1)]
    out: list[Any] = []
    for v in data:
        if isinstance(v, list | tuple | np.ndarray):
            out.extend(_flatten_text(v))
        else:
            out.append(_to_text(v))
    return out
