"""index_hdf5: turn an HDF5 file (local or remote) into a LINDI reference map, no chunk copied.

Groups, attributes and small or non-numeric datasets are written inline; chunked datasets become
one ``[url, offset, length]`` reference per allocated chunk (from HDF5's chunk iterator);
contiguous datasets become pseudo-chunks of bounded size. Datasets that cannot be referenced
chunk by chunk (a filter without a numcodecs codec, per-chunk filter masks, external storage,
complex or variable-length numeric types) get lindi's ``_EXTERNAL_ARRAY_LINK`` so they stay
readable through h5py, with the reason recorded beside the link. See ``lindi-format.md`` §6.
"""

from __future__ import annotations

import logging
import math
import os
import posixpath
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from ..errors import (
    DialectError,
    IndexingError,
    LindiError,
    LindiWarning,
    NodeNotFoundError,
    UnsupportedError,
)
from ..format.attrs import ANNOTATION_KEYS, dtype_tag, encode_attr
from ..format.codecs import JSON2_CONFIG, LINDI_UNREADABLE_CODECS
from ..format.dtypes import compound_to_annotation
from ..format.eager import EAGER_INLINE_MAX_BYTES, read_eagerly
from ..format.objects import encode_object_chunk
from ..format.references import Reference
from ..format.zarr_v2 import chunk_key, encode_fill_value
from ..format.zarr_v3_write import check_dialect, to_zarr3
from ..storage.containers import kind_from_suffix, open_container
from ..storage.dandi_pin import pin_dandi_blob
from ..storage.fetcher import Fetcher
from ..storage.identity import SourceIdentity, local_identity, record_identities
from ..storage.refmap import ChunkTable, ReferenceMap, encode_inline
from ..storage.sources import RemoteOptions, is_url
from .filters import UnmappableFilter, filters_for
from .lowlevel import SLOW, TypeCache, TypeInfo, evict_on_close_fapl
from .remote_file import BlockCachedFile

__all__ = ["IndexOptions", "index_hdf5"]

logger = logging.getLogger(__name__)

_NONFINITE_TEXT = frozenset({"NaN", "Infinity", "-Infinity"})  # reserved strings: encode_attr rejects them

EXTERNAL_LINK_KEY = "_EXTERNAL_LINK"
"""hdmf_lindi's annotation for HDF5 external links: an empty group whose ``.zattrs`` hold
``"_EXTERNAL_LINK": [filename, path]`` (lindi sees a harmless string-array attribute)."""


@dataclass(frozen=True, slots=True)
class IndexOptions:
    """How :func:`index_hdf5` lays out the index."""

    url: str | None = None
    """URL or path to record in chunk references instead of the source (e.g. the published
    URL of a local copy). Defaults to the source URL, or the absolute path of a local file."""
    inline_max_elements: int = 1000
    """Numeric datasets with fewer elements are copied inline (lindi's rule). Defaults to 1000."""
    contiguous_max_chunk_bytes: int = 4 << 20  # 4 MiB
    """Contiguous datasets larger than this are referenced as pseudo-chunks of at most this
    many bytes, so a slice does not fetch the whole dataset. Defaults to 4 MiB."""
    external_link_chunk_threshold: int | None = None
    """Chunked datasets with more chunks than this get an ``_EXTERNAL_ARRAY_LINK`` instead of
    chunk references (lindi's ``num_dataset_chunks_threshold``). Defaults to None: never."""
    chunk_table_threshold: int | None = 10_000
    """Chunked datasets with more written chunks than this get a compact chunk table (a few
    bytes per chunk, fetched lazily, see ``docs/format_notes.rst``) instead of one JSON reference
    per chunk, plus lindi's ``_EXTERNAL_ARRAY_LINK`` so lindi reads them through h5py. None:
    always one JSON reference per chunk. Defaults to 10,000."""
    progress: Callable[[int, str], None] | None = None
    """Called with (objects indexed so far, path of the current object). While indexing, a
    local or remote source is open with HDF5's evict-on-close, so opening the same file again
    with h5py from this callback (or another thread) fails until the index is done."""
    remote: RemoteOptions | None = None
    """HTTP tuning for remote sources."""
    strict: bool = False
    """Raise :class:`~hdmf_lindi.errors.IndexingError` for anything the index cannot represent
    exactly (null-dataspace objects, unreadable or reference-array attributes, named
    datatypes, external array links forced by a filter) instead of recording it in
    ``generationMetadata["notes"]``. Defaults to False."""
    pin_dandi_blob: bool = True
    """Index a DANDI asset download URL (``.../assets/<id>/download/``) against the immutable
    storage blob it redirects to, which stays valid when the asset id is dropped; the asset is
    kept in ``generationMetadata["dandi"]``. An embargoed blob, which cannot be read without the
    API, keeps the asset URL. False keeps the asset URL always. Defaults to True."""
    inline_eager_max_bytes: int = EAGER_INLINE_MAX_BYTES
    """Datasets hdmf reads while constructing containers (table ``id`` columns and
    ``VectorIndex`` datasets) are copied inline up to this decoded size, so that
    ``NWBLindiIO(index).read()`` fetches nothing but the index (see ``format/eager.py``); 0 turns
    this off. Defaults to 64 KiB."""
    only: tuple[str, ...] | None = None
    """Index only these objects (paths such as ``"/units"``), everything below them, and the
    groups on the way to them (with their attributes); the rest of the file is not walked, so
    reading one table of a large remote file costs only that table's metadata. Defaults to
    None: the whole file."""
    metadata_as_text: bool = False
    """Write metadata values (``.zattrs``, ``.zgroup``, ``.zarray``) as JSON text, kerchunk's
    spelling that JavaScript clients such as zarrita read, instead of embedded JSON objects
    (lindi's spelling). Both are read by lindi and hdmf_lindi. Defaults to False."""
    dialect: str = "lindi"
    """The dialect the saved index is written in, ``"lindi"`` (LINDI v2, which lindi 0.4.6 reads)
    or ``"zarr3"`` (the shared Zarr v3 convention, which hdmf-zarr 0.14 reads through fsspec's
    reference file system). The returned map is the LINDI v2 model either way. Defaults to
    ``"lindi"``."""


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def _on_the_way(path: str, only: tuple[str, ...]) -> bool:
    """Whether ``path`` (no leading slash) is one of ``only``, above one, or below one."""
    for wanted in only:
        wanted = wanted.strip("/")
        if path == wanted or wanted.startswith(path + "/") or path.startswith(wanted + "/") or not wanted:
            return True
    return False


class _Walker:
    """Walks one open h5py file and fills ``refs``."""

    def __init__(self, f: h5py.File, url: str, options: IndexOptions) -> None:
        self.f = f
        self.url = url
        self.options = options
        self.source_size: int | None = None
        """Size of the source file, recorded in compact chunk tables."""
        self.refs: dict[str, Any] = {}
        self.tables: dict[str, ChunkTable] = {}
        self.attr_dtypes: dict[str, dict[str, str]] = {}
        """Exact dtypes of numeric attributes JSON would widen, per node (format.attrs.dtype_tag)."""
        """Chunk references of chunked datasets, by dataset path."""
        self.notes: list[str] = []
        self.lindi_unreadable: dict[str, list[str]] = {}
        """The arrays whose referenced chunks use a codec lindi 0.4.6 cannot read, by codec."""
        self.count = 0
        self.types = TypeCache()
        self._seen: dict[int, str] = {h5py.h5o.get_info(f.id).addr: "/"}
        self._ref_cache: dict[int, Reference] = {}
        self.root_oid = self._object_id(f.id)

    # ------------------------------------------------------------------ helpers
    def _note(self, message: str) -> None:
        if self.options.strict:
            raise IndexingError(
                f"Cannot index {self.url} exactly: {message}. Pass IndexOptions(strict=False) to "
                "index it anyway; what was left out is then listed in generationMetadata['notes']."
            )
        logger.info("%s", message)
        self.notes.append(message)

    def _tick(self, path: str) -> None:
        self.count += 1
        if self.options.progress is not None:
            self.options.progress(self.count, "/" + path)

    def _object_id(self, oid: Any) -> str | None:
        """The ``object_id`` attribute of an object (NWB's UUID), or None."""
        if not h5py.h5a.exists(oid, b"object_id"):
            return None
        value = self.types.read_attr(oid, b"object_id")
        if value is SLOW:
            value = _wrap(oid).attrs["object_id"]
        value = value.decode() if isinstance(value, bytes) else value
        return value if isinstance(value, str) else None

    def _reference(self, ref: Any) -> Reference | None:
        if not ref:
            return None
        oid = h5py.h5r.dereference(ref, self.f.id)
        addr = h5py.h5o.get_info(oid).addr
        cached = self._ref_cache.get(addr)
        if cached is None:
            # a walked object's path is known; H5Iget_name would search the file for it
            name = self._seen.get(addr)
            if name is None:
                name = h5py.h5i.get_name(oid).decode("utf-8", errors="surrogateescape")
            cached = Reference(
                path=name,
                object_id=self._object_id(oid),
                source_object_id=self.root_oid if isinstance(self.root_oid, str) else None,
            )
            self._ref_cache[addr] = cached
        return cached

    def _attrs(self, oid: Any, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if not h5py.h5a.get_num_attrs(oid):
            return out
        raw_names: list[bytes] = []
        h5py.h5a.iterate(oid, raw_names.append)
        read = self.types.read_attr
        for raw_name in raw_names:
            name = raw_name.decode("utf-8", errors="surrogateescape")
            if name in ANNOTATION_KEYS:
                self._note(f"skipped attribute {name!r} of /{path}: the name is reserved by the LINDI format")
                continue
            try:
                value = read(oid, raw_name)
                if value is SLOW:
                    value = _wrap(oid).attrs[name]
            except (OSError, TypeError, ValueError) as exc:
                self._note(f"skipped attribute {name!r} of /{path}: h5py cannot read it ({exc})")
                continue
            kind = type(value)
            # fast paths for NWB's usual attributes; encode_attr gives the same result
            if kind is str and value not in _NONFINITE_TEXT:
                out[name] = value
            elif kind is np.float64 and math.isfinite(value):
                out[name] = float(value)
            else:
                self._attr_slow(out, name, value, path)
        return out

    def _attr_slow(self, out: dict[str, Any], name: str, value: Any, path: str) -> None:
        where = f"attribute {name!r} of /{path}"
        if isinstance(value, h5py.Empty):
            self._note(f"skipped {where}: null dataspace (h5py.Empty) has no JSON form")
            return
        if isinstance(value, h5py.Reference | h5py.RegionReference):
            value = self._reference(value)
            if value is None:
                self._note(f"skipped {where}: null reference")
                return
        elif isinstance(value, np.ndarray) and value.dtype.kind == "O" and h5py.check_dtype(ref=value.dtype):
            self._note(f"skipped {where}: arrays of references have no attribute form lindi reads")
            return
        try:
            out[name] = encode_attr(value, name)
        except UnsupportedError as exc:
            self._note(f"skipped {where}: {exc}")
            return
        tag = dtype_tag(value)
        if tag is not None:
            self.attr_dtypes.setdefault("/" + path, {})[name] = tag

    # ------------------------------------------------------------------ groups and links
    def group(self, path: str, gid: Any) -> None:
        """Index the group ``gid`` (an h5py GroupID) at ``path`` and everything below it."""
        self.refs[_join(path, ".zgroup")] = {"zarr_format": 2}
        self._tick(path)
        if path:
            self._group_attrs(path, gid)
        links = gid.links
        # One low-level iteration (name order) gives every child's link type and address.
        # (h5py reuses one LinkInfo for every callback: copy its fields out)
        children: list[tuple[bytes, int, int]] = []
        links.iterate(lambda raw, info: children.append((raw, info.type, info.u)), info=True)
        for raw_name, link_type, addr in children:
            child = _join(path, raw_name.decode("utf-8", errors="surrogateescape"))
            if self.options.only is not None and not _on_the_way(child, self.options.only):
                continue
            if link_type == h5py.h5l.TYPE_SOFT:
                link_path = links.get_val(raw_name).decode("utf-8", errors="surrogateescape")
                # HDF5 resolves a relative target against the link's group; lindi from the root
                target = link_path if link_path.startswith("/") else posixpath.normpath(posixpath.join("/" + path, link_path))
                self._link(child, {"_SOFT_LINK": {"path": target}})
            elif link_type == h5py.h5l.TYPE_EXTERNAL:
                filename, link_path = (v.decode("utf-8", errors="surrogateescape") for v in links.get_val(raw_name))
                # a list of two strings: lindi 0.4.6 reads it as an ordinary string-array attribute
                self._link(child, {EXTERNAL_LINK_KEY: [filename, link_path]})
            elif addr in self._seen:  # a second hard link: LINDI has none, a soft link reads the same
                self._link(child, {"_SOFT_LINK": {"path": self._seen[addr]}})
            else:
                self._hard_link(child, gid, raw_name, addr)
        if not path:
            # Root attributes last: a reference in them (NWB's .specloc) then finds its target's
            # path among the walked objects instead of through H5Iget_name's search of the file.
            self._group_attrs(path, gid)

    def _group_attrs(self, path: str, gid: Any) -> None:
        attrs = self._attrs(gid, path)
        if attrs:
            self.refs[_join(path, ".zattrs")] = attrs

    def _hard_link(self, child: str, gid: Any, raw_name: bytes, addr: int) -> None:
        try:
            oid = h5py.h5o.open(gid, raw_name)
        except (KeyError, OSError):
            self._note(f"skipped /{child}: h5py cannot open it")
            return
        self._seen[addr] = "/" + child
        if isinstance(oid, h5py.h5g.GroupID):
            self.group(child, oid)
        elif isinstance(oid, h5py.h5d.DatasetID):
            self.dataset(child, oid)
        else:
            self._note(f"skipped /{child}: named datatypes are not represented")

    def _link(self, path: str, zattrs: dict[str, Any]) -> None:
        self.refs[_join(path, ".zgroup")] = {"zarr_format": 2}
        self.refs[_join(path, ".zattrs")] = zattrs
        self._tick(path)

    # ------------------------------------------------------------------ datasets
    def dataset(self, path: str, dsid: Any) -> None:
        """Index the dataset ``dsid`` (an h5py DatasetID) at ``path``."""
        self._tick(path)
        zattrs = self._attrs(dsid, path)
        null, shape, info = self.types.describe(dsid)
        if null:
            self._note(f"skipped /{path}: null dataspace (h5py.Empty)")
            return
        dtype = info.dtype
        try:
            if TypeCache.is_vlen_string(info):
                values = np.atleast_1d(self.types.read_dataset(dsid, shape, info))
                self._json2_array(path, zattrs, values, scalar=shape == ())
            elif dtype.kind == "O" or dtype.names is not None:
                self._object_dataset(path, h5py.Dataset(dsid), zattrs)
            elif TypeCache.is_numeric(info):
                self._numeric_dataset(path, dsid, shape, info, zattrs)
            elif dtype.kind == "S":
                data = self.types.read_dataset(dsid, shape, info)
                self._inline(path, zattrs, data.reshape(1) if shape == () else data, scalar=shape == ())
            else:
                self._external_array(path, h5py.Dataset(dsid), zattrs, f"dtype {dtype} has no LINDI form")
        except UnmappableFilter as exc:
            self._external_array(path, h5py.Dataset(dsid), zattrs, exc.reason)

    def _write_array(
        self,
        path: str,
        zattrs: dict[str, Any],
        *,
        shape: tuple[int, ...],
        chunks: tuple[int, ...],
        dtype_str: str,
        fill: Any,
        filters: list[dict[str, Any]] | None,
    ) -> None:
        self.refs[_join(path, ".zarray")] = {
            "zarr_format": 2,
            "shape": list(shape),
            "chunks": [max(int(c), 1) for c in chunks],
            "dtype": dtype_str,
            "fill_value": fill,
            "order": "C",
            "compressor": None,
            "filters": filters,
        }
        if zattrs:
            self.refs[_join(path, ".zattrs")] = zattrs

    def _inline(self, path: str, zattrs: dict[str, Any], data: np.ndarray[Any, Any], *, scalar: bool) -> None:
        """Copy the values: one chunk covering the whole (non-empty) array."""
        data = np.ascontiguousarray(data)
        if scalar:
            zattrs = {**zattrs, "_SCALAR": True}
        shape = tuple(data.shape)
        self._write_array(
            path, zattrs, shape=shape, chunks=shape or (1,), dtype_str=data.dtype.str,
            fill=encode_fill_value(0 if data.dtype.kind != "S" else b"", data.dtype), filters=None,
        )
        if data.size:
            self.refs[_join(path, chunk_key((0,) * data.ndim))] = encode_inline(data.tobytes())

    def _object_dataset(self, path: str, ds: h5py.Dataset, zattrs: dict[str, Any]) -> None:
        """References and compounds: values converted and stored inline as json2."""
        dtype = ds.dtype
        if dtype.names is not None:
            zattrs = {**zattrs, "_COMPOUND_DTYPE": compound_to_annotation(dtype)}
            raw = ds[()] if ds.shape == () else ds[...]
            rows = np.atleast_1d(raw)
            values = np.empty(rows.shape, dtype=object)
            flat = values.reshape(-1)
            for i, row in enumerate(rows.reshape(-1)):
                flat[i] = tuple(self._element(row[name], dtype.fields[name][0]) for name in dtype.names)
        elif h5py.check_dtype(ref=dtype) is not None:
            values = self._references(ds)
        else:
            self._external_array(path, ds, zattrs, f"variable-length dtype {dtype} has no LINDI form")
            return
        self._json2_array(path, zattrs, values, scalar=ds.shape == ())

    def _references(self, ds: h5py.Dataset) -> np.ndarray[Any, Any]:
        """The Reference (or None) of each element of a reference dataset, at least 1-d.

        Object references (``H5T_STD_REF_OBJ``, what h5py and pynwb write) are first read as
        the addresses they hold: an address already dereferenced needs no second
        ``H5Rdereference`` (which reopens its object), so a table column of many references to
        a few objects costs a few. The others go through h5py's references.
        """
        refs = np.atleast_1d(ds[()] if ds.shape == () else ds[...])
        values = np.empty(refs.shape, dtype=object)
        flat, refs = values.reshape(-1), refs.reshape(-1)
        if not flat.size or ds.id.get_type() != h5py.h5t.STD_REF_OBJ:
            flat[:] = [self._reference(r) for r in refs]
            return values
        addresses = np.empty(ds.shape, dtype=np.uint64)
        ds.id.read(h5py.h5s.ALL, h5py.h5s.ALL, addresses, mtype=h5py.h5t.STD_REF_OBJ)
        cache = self._ref_cache
        for i, addr in enumerate(addresses.reshape(-1).tolist()):
            cached = cache.get(addr) if addr else None
            flat[i] = cached if cached is not None else self._reference(refs[i])
        return values

    def _json2_array(self, path: str, zattrs: dict[str, Any], values: np.ndarray[Any, Any], *, scalar: bool) -> None:
        """Store an object array (strings, references, compound rows) inline with the json2 codec."""
        if scalar:
            zattrs = {**zattrs, "_SCALAR": True}
        shape: tuple[int, ...] = tuple(values.shape)
        self._write_array(
            path, zattrs, shape=shape, chunks=shape if all(shape) else tuple(max(s, 1) for s in shape),
            dtype_str="|O", fill=0, filters=[dict(JSON2_CONFIG)],
        )
        if values.size:
            self.refs[_join(path, chunk_key((0,) * values.ndim))] = encode_inline(encode_object_chunk(values))

    def _element(self, value: Any, field_dtype: np.dtype[Any]) -> Any:
        if h5py.check_dtype(ref=field_dtype) is not None:
            return self._reference(value)
        if isinstance(value, bytes):
            return value.decode("utf-8", errors="surrogateescape")
        return value

    def _numeric_dataset(self, path: str, dsid: Any, shape: tuple[int, ...], info: TypeInfo, zattrs: dict[str, Any]) -> None:
        dtype = info.dtype
        base = np.dtype(dtype.str)  # drops h5py's enum metadata: enums are stored as integers
        if shape == ():
            value = self.types.read_dataset(dsid, shape, info)
            self._inline(path, zattrs, np.asarray(value, dtype=base).reshape(1), scalar=True)
            return
        size = math.prod(shape)
        small = 0 < size < self.options.inline_max_elements
        if small or read_eagerly(zattrs, size * base.itemsize, self.options.inline_eager_max_bytes):
            try:  # small: copy the values, whatever the layout
                data = self.types.read_dataset(dsid, shape, info)
            except OSError:  # e.g. external raw files that cannot be read: decided below
                pass
            else:
                self._inline(path, zattrs, np.asarray(data, dtype=base), scalar=False)
                return
        plist = dsid.get_create_plist()
        if plist.get_external_count() > 0:
            raise UnmappableFilter("the dataset's data lives in external raw files")
        layout = plist.get_layout()
        if small or layout == h5py.h5d.COMPACT:
            data = np.empty(shape, dtype=base)
            dsid.read(h5py.h5s.ALL, h5py.h5s.ALL, data)
            self._inline(path, zattrs, data, scalar=False)
            return
        if layout == h5py.h5d.VIRTUAL:
            raise UnmappableFilter("it is a virtual dataset: its values live in other datasets")
        ds = h5py.Dataset(dsid)
        filters = filters_for(ds)
        fill = encode_fill_value(ds.fillvalue, base)
        if layout == h5py.h5d.CHUNKED:
            self._chunked(path, ds, zattrs, base.str, fill, filters)
        else:
            self._contiguous(path, ds, zattrs, base, fill)

    def _chunked(
        self, path: str, ds: h5py.Dataset, zattrs: dict[str, Any], dtype_str: str, fill: Any,
        filters: list[dict[str, Any]] | None,
    ) -> None:
        chunks = tuple(ds.chunks)
        n_chunks = math.prod(-(-s // c) for s, c in zip(ds.shape, chunks, strict=True))
        threshold = self.options.external_link_chunk_threshold
        if threshold is not None and n_chunks > threshold:
            self._external_array(path, ds, zattrs, f"{n_chunks} chunks exceed external_link_chunk_threshold={threshold}", note=False)
            return
        grid = tuple(-(-s // c) for s, c in zip(ds.shape, chunks, strict=True))
        flat, offsets, lengths, masked = _chunk_index(ds.id, chunks, grid)
        if masked is not None:
            raise UnmappableFilter(f"chunk {masked} skipped filters (filter mask set), so its bytes differ")
        self._write_array(path, zattrs, shape=ds.shape, chunks=chunks, dtype_str=dtype_str, fill=fill, filters=filters)
        for codec in sorted({str(f.get("id")) for f in filters or []} & LINDI_UNREADABLE_CODECS):
            self.lindi_unreadable.setdefault(codec, []).append(path)
        size = math.prod(grid)
        if size <= max(_DENSE_MIN_GRID, _DENSE_MAX_SPARSITY * len(flat)):
            table_offsets = np.full(size, -1, dtype=np.int64)
            table_lengths = np.zeros(size, dtype=np.int64)
            table_offsets[flat] = offsets
            table_lengths[flat] = lengths
            self.tables[path] = ChunkTable(self.url, grid, table_offsets, table_lengths)
            self._mark_compact(path, len(flat))
            return
        # a sparse grid (few chunks written of very many): one entry per written chunk
        prefix = path + "/"
        url = self.url
        for index, offset, length in zip(flat, offsets, lengths, strict=True):
            self.refs[prefix + chunk_key(tuple(int(i) for i in np.unravel_index(index, grid)))] = [url, int(offset), int(length)]

    def _mark_compact(self, path: str, n_chunks: int) -> None:
        """Hold the table of ``path`` compactly when it has more chunks than the threshold."""
        threshold = self.options.chunk_table_threshold
        if threshold is not None and n_chunks > threshold:
            table = self.tables[path]
            table.compact = True
            table.hdf5_path = path
            table.source_size = self.source_size

    def _contiguous(self, path: str, ds: h5py.Dataset, zattrs: dict[str, Any], dtype: np.dtype[Any], fill: Any) -> None:
        shape = tuple(ds.shape)
        offset = ds.id.get_offset()
        nbytes = ds.id.get_storage_size()
        limit = self.options.contiguous_max_chunk_bytes
        if offset is None or nbytes == 0 or nbytes <= limit or not shape or shape[0] == 0:
            self._write_array(path, zattrs, shape=shape, chunks=shape, dtype_str=dtype.str, fill=fill, filters=None)
            if offset is not None and nbytes:
                self.refs[_join(path, chunk_key((0,) * len(shape)))] = [self.url, int(offset), int(nbytes)]
            return
        row = dtype.itemsize * math.prod(shape[1:])
        rows = max(1, limit // max(row, 1))
        for candidate in range(rows, max(rows // 2, 1) - 1, -1):  # prefer no short last chunk
            if shape[0] % candidate == 0:
                rows = candidate
                break
        chunks = (rows, *shape[1:])
        self._write_array(path, zattrs, shape=shape, chunks=chunks, dtype_str=dtype.str, fill=fill, filters=None)
        tail = (0,) * (len(shape) - 1)
        step = rows * row
        for i in range(-(-shape[0] // rows)):
            start = i * step
            self.refs[_join(path, chunk_key((i, *tail)))] = [self.url, int(offset + start), int(min(step, nbytes - start))]

    def _external_array(
        self, path: str, ds: h5py.Dataset, zattrs: dict[str, Any], reason: str, *, note: bool = True
    ) -> None:
        """Leave the data in the HDF5 file and let readers go through h5py (lindi's link)."""
        if note:
            self._note(f"/{path}: external array link because {reason}")
        dtype = np.dtype(ds.dtype.str) if ds.dtype.kind not in "OV" else np.dtype("O")
        shape = tuple(ds.shape) if ds.shape != () else (1,)
        link = {"link_type": "hdf5_dataset", "url": self.url, "name": path, "reason": reason}
        attrs = {**zattrs, "_EXTERNAL_ARRAY_LINK": link}
        if ds.shape == ():
            attrs["_SCALAR"] = True
        self._write_array(
            path, attrs, shape=shape, chunks=tuple(ds.chunks or shape), dtype_str=dtype.str if dtype.kind != "O" else "|O",
            fill=0, filters=None if dtype.kind != "O" else [dict(JSON2_CONFIG)],
        )


_DENSE_MIN_GRID = 1 << 16  # grids this small always get a ChunkTable
_DENSE_MAX_SPARSITY = 8  # larger grids only when at least 1 in 8 chunks is written


def _chunk_index(
    dsid: Any, chunks: tuple[int, ...], grid: tuple[int, ...]
) -> tuple[list[int], list[int], list[int], tuple[int, ...] | None]:
    """List the written chunks of a chunked dataset with HDF5's chunk iterator.

    Returns flat C-order grid indices, byte offsets, byte sizes, and the grid position of the
    first chunk whose filter mask is set (None when there is none).
    """
    flat: list[int] = []
    offsets: list[int] = []
    lengths: list[int] = []
    masked: list[tuple[int, ...]] = []
    strides = [math.prod(grid[k + 1:]) for k in range(len(grid))]
    add_index, add_offset, add_length = flat.append, offsets.append, lengths.append
    c0, c1, g1 = chunks[0], chunks[-1], grid[-1]
    ndim = len(grid)

    def visit(info: Any) -> None:  # one call per chunk: kept lean, 1-D and 2-D spelled out
        origin, mask, offset, size = info
        if ndim == 1:
            add_index(origin[0] // c0)
        elif ndim == 2:
            add_index(origin[0] // c0 * g1 + origin[1] // c1)
        else:
            add_index(sum(o // c * s for o, c, s in zip(origin, chunks, strides, strict=True)))
        add_offset(offset)
        add_length(size)
        if mask:
            masked.append(tuple(o // c for o, c in zip(origin, chunks, strict=True)))

    if dsid.get_storage_size():
        dsid.chunk_iter(visit)
    return flat, offsets, lengths, masked[0] if masked else None


def _wrap(oid: Any) -> Any:
    """The h5py high-level object of a low-level id (for the rare paths that need one)."""
    if isinstance(oid, h5py.h5d.DatasetID):
        return h5py.Dataset(oid)
    if isinstance(oid, h5py.h5g.GroupID):
        return h5py.Group(oid)
    return h5py.Datatype(oid)


def _read_once(name: str | BlockCachedFile) -> h5py.File:
    """``h5py.File(name, "r")``, with HDF5's evict-on-close where it can be set (the walk
    opens each object once; see :func:`~.lowlevel.evict_on_close_fapl`)."""
    fileobj = name if isinstance(name, BlockCachedFile) else None
    fapl = evict_on_close_fapl(fileobj)
    if fapl is not None:
        raw = os.fsencode(name) if isinstance(name, str) else repr(name).encode("ascii", "replace")
        try:
            return h5py.File(h5py.h5f.open(raw, h5py.h5f.ACC_RDONLY, fapl=fapl))
        except OSError as exc:  # e.g. open elsewhere in this process with other settings
            logger.debug("opening %s with evict-on-close failed (%s): opening it plainly", name, exc)
    return h5py.File(name, "r")


def _file_size(fileobj: BlockCachedFile) -> int:
    pos = fileobj.tell()
    size = fileobj.seek(0, os.SEEK_END)
    fileobj.seek(pos)
    return size


def _partial(only: tuple[str, ...] | None) -> bool:
    """Whether ``only`` leaves part of the file out (the read-ahead then never reads it whole)."""
    return only is not None and all(wanted.strip("/") for wanted in only)


def _open(source: str, options: IndexOptions) -> tuple[h5py.File, BlockCachedFile | None, Fetcher | None]:
    if is_url(source):
        fetcher = Fetcher(options=options.remote)
        fileobj = BlockCachedFile(fetcher.source(source), partial=_partial(options.only))
        try:
            return _read_once(fileobj), fileobj, fetcher
        except OSError as exc:
            if fileobj.error is not None:
                raise fileobj.error from exc
            raise IndexingError(f"{source} is not a readable HDF5 file: {exc}.") from exc
    if not os.path.exists(source):
        raise NodeNotFoundError(f"Cannot index {source}: no such file.")
    try:
        return _read_once(source), None, None
    except OSError as exc:
        raise IndexingError(
            f"Cannot index {source}: it is not a readable HDF5 file ({exc}). Is it truncated, or "
            "a LINDI file already?"
        ) from exc


def _identity_pinned(source: str, fetcher: Fetcher | None) -> SourceIdentity | None:
    """The identity of the source being indexed: a local file's ``stat``, or what the first
    answers of a remote one said -- then pinned, so that a change while indexing raises
    :class:`~hdmf_lindi.errors.SourceChangedError` instead of mixing two versions."""
    if fetcher is None:
        return local_identity(os.stat(source))
    identity = fetcher.observed().get(source)
    if identity is not None:
        fetcher.expect({source: identity})
    return identity


def index_hdf5(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str] | None = None,
    *,
    options: IndexOptions | None = None,
) -> ReferenceMap:
    """Index an HDF5 file into a LINDI reference map without copying its chunks.

    Parameters
    ----------
    source
        Local path or http(s) URL of an HDF5 (e.g. NWB) file.
    destination
        Where to save the index (``.lindi.json``, ``.lindi.tar`` or ``.lindi.d``), written
        atomically once indexing has succeeded; None to only return it.
    options
        Layout options; see :class:`IndexOptions`.

    Returns
    -------
    ReferenceMap
        The index; open it with ``hdmf_lindi.File(refmap)``.

    Raises
    ------
    IndexingError
        If the source is not a readable HDF5 file, or fails while being read.
    NodeNotFoundError
        If a local source does not exist.
    RemoteReadError
        If a remote source cannot be read.
    FileNameError
        If ``destination`` is not named ``.lindi.json``, ``.lindi.tar`` or ``.lindi.d``.
    DialectError
        If ``options`` ask the zarr3 dialect for external array links
        (``external_link_chunk_threshold`` set).
    """
    options = options or IndexOptions()
    source = os.fspath(source)
    if destination is not None:
        kind_from_suffix(os.fspath(destination))  # a bad name fails now, not after the walk
    if check_dialect(options.dialect) == "zarr3" and options.external_link_chunk_threshold is not None:
        raise DialectError(
            f"external_link_chunk_threshold={options.external_link_chunk_threshold} makes lindi "
            "_EXTERNAL_ARRAY_LINK arrays, which the zarr3 dialect cannot express; leave it None "
            "(chunk tables hold arrays of many chunks) or index with dialect='lindi'."
        )
    pinned = pin_dandi_blob(source, options.remote) if options.pin_dandi_blob and is_url(source) else None
    if pinned is not None:
        source = pinned.url  # read and referenced from now on
    url = options.url or (source if is_url(source) else os.path.abspath(source))
    f, fileobj, fetcher = _open(source, options)
    try:
        identity = _identity_pinned(source, fetcher)
        walker = _Walker(f, url, options)
        walker.source_size = _file_size(fileobj) if fileobj is not None else os.path.getsize(source)
        try:
            walker.group("", f.id)
        except (OSError, RuntimeError, KeyError, ValueError) as exc:
            if isinstance(exc, LindiError):
                raise
            if fileobj is not None and fileobj.error is not None:
                raise fileobj.error from exc
            raise IndexingError(
                f"Indexing {source} failed after {walker.count} objects: {exc}. The file may be "
                "truncated or damaged; no index was written."
            ) from exc
    finally:
        f.close()
        if fetcher is not None:
            fetcher.close()
    metadata: dict[str, Any] = {"generatedBy": "hdmf_lindi.index_hdf5", "source": url}
    if walker.notes:
        metadata["notes"] = walker.notes
    if pinned is not None:
        metadata["dandi"] = pinned.metadata
    extra = {"hdmf_lindi": {"attributeDtypes": walker.attr_dtypes}} if walker.attr_dtypes else None
    refmap = ReferenceMap(
        walker.refs, generation_metadata=metadata, source=source, tables=walker.tables, extra=extra,
        metadata_as_text=options.metadata_as_text,
    )
    if identity is not None:  # what the references were made against (see storage.identity)
        if url != (source if is_url(source) else os.path.abspath(source)):
            identity = SourceIdentity(identity.size)  # recorded for another copy: only its size says anything
        record_identities(refmap, {url: identity})
        refmap.dirty = False
    logger.info("indexed %d objects of %s", walker.count, source)
    if options.dialect == "lindi":
        _warn_lindi_unreadable(walker.lindi_unreadable)
    if options.dialect == "zarr3":
        refmap.translate = _zarr3_writer(refmap)
    if destination is not None:
        save_refmap(refmap, destination)
    return refmap


def _warn_lindi_unreadable(arrays: dict[str, list[str]]) -> None:
    """Warn, as ``create_dataset`` and copies do, when the index references chunks whose codec
    lindi 0.4.6 cannot decode (HDF5's zstd filter); hdmf_lindi and hdmf-zarr read them."""
    for codec, paths in arrays.items():
        shown = ", ".join("/" + p for p in paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        warnings.warn(
            f"{len(paths)} dataset(s) ({shown}) have chunks compressed with {codec!r}, referenced as "
            "they are: lindi 0.4.6 cannot read them (it zero-pads compressed chunks before "
            "decoding); hdmf_lindi reads them, and hdmf-zarr does from an index in dialect 'zarr3'.",
            LindiWarning,
            stacklevel=3,
        )


def _zarr3_writer(refmap: ReferenceMap) -> Callable[[ReferenceMap], ReferenceMap]:
    """The Zarr v3 translation of an index; recoded (text) chunks are read through a memory container."""
    from ..storage.memory_container import MemoryContainer

    reader = MemoryContainer(refmap, allow_local_paths=True)

    def translate(model: ReferenceMap) -> ReferenceMap:
        return to_zarr3(model, reader.read_many)

    return translate


def save_refmap(refmap: ReferenceMap, destination: str | os.PathLike[str]) -> None:
    """Write a reference map as a new ``.lindi.json``, ``.lindi.tar`` or ``.lindi.d`` (atomically).

    Raises
    ------
    ModeError
        If the destination cannot be created.
    """
    container = open_container(destination, "w")
    try:
        refmap.dirty = True
        container.refmap = refmap
    except BaseException:
        container.read_only = True
        container.close()
        raise
    container.close()
