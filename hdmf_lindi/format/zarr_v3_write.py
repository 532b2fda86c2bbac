"""LINDI v2 model -> the shared Zarr v3 convention (``zarr-v3-layout.md`` §9), as a key map. Pure.

The in-memory model of every file is the LINDI v2 reference map. Writing the ``zarr3`` dialect
translates it, at save time, into the keys hdmf-zarr 0.14 and zindi use:

* one ``zarr.json`` per group (every group, also empty and implicit ones) and per array;
  chunk keys ``c/i/j`` (``c`` for 0-d arrays);
* ``_SCALAR`` arrays become 0-d arrays; numeric and bool arrays keep their chunk grid, and
  their chunks travel **as they are** (inline bytes or ``[url, offset, length]`` references;
  nothing is decoded): the v2 ``filters``/``compressor`` become a v3 ``codecs`` list, with the
  registered names (``blosc``, ``zstd``, ``gzip``) where the bytes are the same and the
  ``numcodecs.*`` names for HDF5's filters (``zlib``, ``shuffle``, ``fletcher32``, ...);
* text (``|O`` json2 strings, ``|S<n>``, ``<U<n>``) is recoded to ``string`` + ``vlen-utf8``;
  reference datasets to ``string`` path arrays with ``_DTYPE: "object_reference"``; compounds
  to ``struct`` arrays whose text and reference fields are ``fixed_length_utf32`` (reference
  fields listed in ``_REFERENCE_FIELDS``). These recoded chunks are stored inline, uncompressed.
  Their arrays are read whole once, through ``read``;
* links (``_SOFT_LINK``, ``_EXTERNAL_LINK`` groups) move to the parent's ``_LINKS``; attribute
  references become ``{"_REFERENCE": {"source": ".", "path": ...}}``; LINDI's ``"NaN"`` /
  ``"Infinity"`` attribute strings become the float values (written as bare tokens, as
  hdmf-zarr does; such a ``zarr.json`` is embedded as JSON *text* so that the document itself
  stays strict JSON); ``.specloc`` becomes the plain string ``"specifications"``;
* ``_DTYPE`` on every non-compound array (numpy names, ``str``, ``object_reference``);
* no consolidated metadata (so it can never be stale).

What the convention cannot express raises :class:`~hdmf_lindi.errors.DialectError`: arrays whose
data is only an ``_EXTERNAL_ARRAY_LINK`` (lindi's link to an HDF5 dataset; re-index the HDF5
file with hdmf_lindi, which writes chunk references), codecs without a Zarr v3 name, and
attribute lists of references.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from ..errors import DialectError, UnknownDialectError
from ..storage.refmap import ReferenceMap, RefValue
from .attrs import TEXT_TAG
from .references import REFERENCE_KEY
from .v3_recode import (
    Node,
    ReadFn,
    as_text,
    collect_nodes,
    encode_vlen,
    join,
    read_whole,
    rechunk_contiguous,
    reference_path,
    store_chunked,
    text_chunks,
)
from .zarr_v2 import ArrayMeta, encode_fill_value

__all__ = ["DIALECTS", "ReadFn", "check_dialect", "check_zarr3", "to_zarr3"]

DIALECTS = ("lindi", "zarr3")
"""The dialects a file can be written in: LINDI v2 (the default, lindi 0.4.6 reads it) and the
shared Zarr v3 convention (hdmf-zarr 0.14 and zindi read it)."""

_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_HIDDEN = frozenset({"_SCALAR", "_SOFT_LINK", "_COMPOUND_DTYPE", "_EXTERNAL_ARRAY_LINK", "_EXTERNAL_LINK"})
_KEY_ENCODING = {"name": "default", "configuration": {"separator": "/"}}
_VLEN_UTF8 = {"name": "vlen-utf8", "configuration": {}}
_BYTES_TO_BYTES = frozenset({"zlib", "shuffle", "fletcher32", "lz4", "bz2", "lzma", "crc32", "adler32", "zstd", "gzip", "blosc"})
_ARRAY_TO_ARRAY = frozenset({"delta", "fixedscaleoffset", "quantize", "bitround", "astype", "packbits"})
_BLOSC_SHUFFLE = {0: "noshuffle", 1: "shuffle", 2: "bitshuffle"}
_SHARDING_ID = "hdmf_lindi.v3_sharding"


def check_dialect(dialect: str) -> str:
    """Return ``dialect`` if it is one of ``DIALECTS`` (``"lindi"``, ``"zarr3"``).

    Raises
    ------
    UnknownDialectError
        For any other value (a ``ValueError`` too).
    """
    if dialect not in DIALECTS:
        raise UnknownDialectError(f"Unknown dialect {dialect!r}; choose one of {', '.join(DIALECTS)}.")
    return dialect


# ---------------------------------------------------------------------------- attributes
def _attr_value(value: Any, where: str) -> Any:
    """A LINDI attribute JSON value in the v3 convention's spelling."""
    if isinstance(value, dict):
        body = value.get(REFERENCE_KEY)
        if isinstance(body, dict) and isinstance(body.get("path"), str):
            path = body["path"] if body["path"].startswith("/") else "/" + body["path"]
            return {REFERENCE_KEY: {"source": ".", "path": path}}
        return value
    if isinstance(value, str):
        return _NONFINITE.get(value, value)
    if isinstance(value, list):
        flat = _leaves(value)
        if any(isinstance(v, dict) for v in flat):
            raise DialectError(
                f"Attribute {where} is a list of references, which the Zarr v3 convention cannot "
                "hold (hdmf-zarr writes only whole-valued reference attributes)."
            )
        texts = [v for v in flat if isinstance(v, str)]
        if texts and (len(texts) < len(flat) or all(v in _NONFINITE for v in texts)):
            return _map_nested(value, lambda v: _NONFINITE.get(v, v) if isinstance(v, str) else v)
        return value
    return value


def _leaves(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in items:
        out.extend(_leaves(v) if isinstance(v, list) else [v])
    return out


def _map_nested(items: list[Any], fn: Callable[[Any], Any]) -> list[Any]:
    return [_map_nested(v, fn) if isinstance(v, list) else fn(v) for v in items]


def _attributes(zattrs: dict[str, Any], path: str, tags: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in zattrs.items():
        if name in _HIDDEN:
            continue
        if tags and tags.get(name) == TEXT_TAG:  # text that reads like a float: stays text
            out[name] = value
            continue
        if name == ".specloc" and isinstance(value, dict):
            body = value.get(REFERENCE_KEY)
            if isinstance(body, dict) and isinstance(body.get("path"), str):
                out[name] = body["path"].strip("/")
                continue
        out[name] = _attr_value(value, f"{name!r} of /{path}")
    return out


def _has_nonfinite(obj: Any) -> bool:
    kind = type(obj)
    if kind is float:
        return obj != obj or obj in (math.inf, -math.inf)
    if kind is list:
        return any(_has_nonfinite(v) for v in obj if type(v) is not str)
    if kind is dict:
        return any(_has_nonfinite(v) for v in obj.values() if type(v) is not str)
    return False


# ---------------------------------------------------------------------------- array metadata
def _array_doc(
    shape: Sequence[int], chunks: Sequence[int], data_type: Any, fill: Any, codecs: list[dict[str, Any]],
    attributes: dict[str, Any],
) -> dict[str, Any]:
    return {
        "zarr_format": 3,
        "node_type": "array",
        "shape": list(shape),
        "data_type": data_type,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [max(int(c), 1) for c in chunks]}},
        "chunk_key_encoding": _KEY_ENCODING,
        "fill_value": fill,
        "codecs": codecs,
        "attributes": attributes,
        "storage_transformers": [],
    }


@lru_cache(maxsize=64)
def _dtype_name(dtype: np.dtype[Any]) -> str:
    return dtype.name


def _bytes_codec(dtype: np.dtype[Any]) -> dict[str, Any]:
    if dtype.itemsize == 1:
        return {"name": "bytes"}
    return {"name": "bytes", "configuration": {"endian": "big" if dtype.byteorder == ">" else "little"}}


def _v3_codec(config: dict[str, Any], dtype: np.dtype[Any], where: str) -> tuple[str, dict[str, Any]]:
    """(stage, v3 codec) of one numcodecs configuration; stage is ``"aa"`` or ``"bb"``."""
    cid = str(config.get("id"))
    rest = {k: v for k, v in config.items() if k != "id"}
    if cid == "blosc":
        shuffle = int(rest.get("shuffle", 1))
        if shuffle == -1:  # numcodecs' AUTOSHUFFLE
            shuffle = 2 if dtype.itemsize == 1 else 1
        return "bb", {"name": "blosc", "configuration": {
            "typesize": dtype.itemsize, "cname": rest.get("cname", "lz4"), "clevel": int(rest.get("clevel", 5)),
            "shuffle": _BLOSC_SHUFFLE.get(shuffle, "shuffle"), "blocksize": int(rest.get("blocksize", 0)),
        }}
    if cid == "zstd":
        return "bb", {"name": "zstd", "configuration": {
            "level": int(rest.get("level", 0)), "checksum": bool(rest.get("checksum", False)),
        }}
    if cid == "crc32c":
        return "bb", {"name": "crc32c"}
    if cid == "gzip":
        return "bb", {"name": "gzip", "configuration": {"level": int(rest.get("level", 5))}}
    if cid in _BYTES_TO_BYTES:
        return "bb", {"name": f"numcodecs.{cid}", "configuration": rest}
    if cid in _ARRAY_TO_ARRAY:
        return "aa", {"name": f"numcodecs.{cid}", "configuration": rest}
    raise DialectError(
        f"{where} uses the codec {cid!r}, which has no Zarr v3 name; it cannot be written in the "
        "zarr3 dialect without re-encoding its chunks."
    )


def _codecs(meta: ArrayMeta, where: str) -> list[dict[str, Any]]:
    stages: dict[str, list[dict[str, Any]]] = {"aa": [], "bb": []}
    configs = list(meta.filters or []) + ([meta.compressor] if meta.compressor is not None else [])
    serializer = _bytes_codec(meta.dtype)
    if configs and configs[0].get("id") == _SHARDING_ID:  # a v3 file's shards, read into the model
        serializer = _sharding(configs.pop(0), where)
    for config in configs:
        stage, codec = _v3_codec(config, meta.dtype, where)
        stages[stage].append(codec)
    return [*stages["aa"], serializer, *stages["bb"]]


def _sharding(config: dict[str, Any], where: str) -> dict[str, Any]:
    """``sharding_indexed`` again from the model's sharding decoder (``format/v3_codecs.py``)."""
    inner_dtype = np.dtype(config["dtype"])
    inner = [_bytes_codec(inner_dtype)]
    for c in config.get("codecs") or []:
        inner.append(_v3_codec(c, inner_dtype, where)[1])
    index = [{"name": "bytes", "configuration": {"endian": "little"}}]
    if config.get("index_checksum", True):
        index.append({"name": "crc32c"})
    return {"name": "sharding_indexed", "configuration": {
        "chunk_shape": list(config["chunk_shape"]), "codecs": inner, "index_codecs": index,
        "index_location": config.get("index_location", "end"),
    }}


def _fill(value: Any, dtype: np.dtype[Any]) -> Any:
    """A numeric or bool fill value as v3 needs it: spelled as zarr 2 spells it, and never null."""
    if value is None:
        return False if dtype.kind == "b" else 0.0 if dtype.kind == "f" else 0
    return encode_fill_value(value, dtype)


def _v3_key(path: str, chunk: str, scalar: bool) -> str:
    return join(path, "c" if scalar else "c/" + chunk.replace(".", "/"))


# ---------------------------------------------------------------------------- translation
class _Translator:
    def __init__(self, refmap: ReferenceMap, read: ReadFn, *, dry: bool = False) -> None:
        self.refmap = refmap
        self.read = read
        self.dry = dry
        """Only check what can be expressed: recoded (text/reference/compound) arrays are not read."""
        self.nodes = collect_nodes(refmap)
        self.out: dict[str, RefValue] = {}
        self.links: dict[str, list[dict[str, str]]] = {}

    def run(self) -> dict[str, RefValue]:
        groups: set[str] = {""}
        arrays: list[str] = []
        for path, node in self.nodes.items():
            if node.zarray is not None:
                arrays.append(path)
            elif node.zgroup or node.zattrs:
                link = self._link_of(path, node.zattrs)
                if link is not None:
                    parent, _, name = path.rpartition("/")
                    self.links.setdefault(parent, []).append({"name": name, **link})
                    continue
                groups.add(path)
        for path in arrays:
            self._array(path, self.nodes[path])
        for path in list(groups) + arrays:  # implicit parents become groups
            up: str | None = path.rpartition("/")[0] if path else None
            while up is not None and up not in groups:
                groups.add(up)
                up = up.rpartition("/")[0] if up else None
        for path in groups:
            node = self.nodes.get(path, Node())
            attributes = _attributes(node.zattrs, path, self._tags(path))
            links = self.links.get(path)
            if links:
                attributes["_LINKS"] = sorted(links, key=lambda e: e["name"])
            self._meta(path, {"zarr_format": 3, "node_type": "group", "attributes": attributes})
        return self.out

    def _tags(self, path: str) -> dict[str, Any] | None:
        """The recorded attribute dtypes of ``path`` (``tree/state.py``'s ``attributeDtypes``)."""
        ours = self.refmap.extra.get("hdmf_lindi")
        table = ours.get("attributeDtypes") if isinstance(ours, dict) else None
        entry = table.get("/" + path) if isinstance(table, dict) else None
        return entry if isinstance(entry, dict) else None

    def _meta(self, path: str, doc: dict[str, Any]) -> None:
        key = join(path, "zarr.json")
        # only attributes can hold non-finite floats (fill values spell them as strings)
        self.out[key] = json.dumps(doc, allow_nan=True, sort_keys=True) if _has_nonfinite(doc["attributes"]) else doc

    @staticmethod
    def _link_of(path: str, zattrs: dict[str, Any]) -> dict[str, str] | None:
        soft = zattrs.get("_SOFT_LINK")
        if isinstance(soft, dict) and isinstance(soft.get("path"), str):
            return {"source": ".", "path": soft["path"] if soft["path"].startswith("/") else "/" + soft["path"]}
        ext = zattrs.get("_EXTERNAL_LINK")
        if isinstance(ext, list) and len(ext) == 2 and all(isinstance(x, str) for x in ext):
            return {"source": ext[0], "path": ext[1] if ext[1].startswith("/") else "/" + ext[1]}
        return None

    def _array(self, path: str, node: Node) -> None:
        where = f"/{path}"
        if "_EXTERNAL_ARRAY_LINK" in node.zattrs and self.refmap.chunk_table(path) is None and not node.chunks:
            raise DialectError(
                f"{where} is an _EXTERNAL_ARRAY_LINK (lindi's link to an HDF5 dataset, with no chunk "
                "references), which the Zarr v3 convention cannot express. Index the HDF5 file with "
                "hdmf_lindi (it writes chunk references) and convert that."
            )
        meta = ArrayMeta.from_dict(node.zarray, where=where)
        scalar = bool(node.zattrs.get("_SCALAR")) and meta.shape in ((1,), ())
        attributes = _attributes(node.zattrs, path, self._tags(path))
        compound = node.zattrs.get("_COMPOUND_DTYPE")
        if self.dry and (compound is not None or meta.pipeline.is_object or meta.dtype.kind in "SU"):
            return  # recoded from their values, which any content allows
        if compound is not None:
            self._compound(path, node, meta, scalar, compound, attributes)
        elif meta.pipeline.is_object or meta.dtype.kind in "SU":
            self._text(path, node, meta, scalar, attributes)
        elif meta.dtype.kind in "iufb":
            self._numeric(path, node, meta, scalar, attributes)
        else:
            raise DialectError(f"{where} has dtype {meta.dtype}, which the Zarr v3 convention cannot hold.")

    def _numeric(self, path: str, node: Node, meta: ArrayMeta, scalar: bool, attributes: dict[str, Any]) -> None:
        dtype = meta.dtype
        name = _dtype_name(dtype)
        attributes["_DTYPE"] = name
        shape = () if scalar else meta.shape
        chunks = () if scalar else meta.chunks
        values: dict[str, RefValue] = dict(node.chunks)
        table = self.refmap.chunk_table(path)
        if table is not None:
            table.load_all()
            indices = table.present()
            for chunk, url, offset, length in zip(
                table.chunk_keys(indices), table.urls_of(indices), table.offsets[indices].tolist(),
                table.lengths[indices].tolist(), strict=True,
            ):
                values.setdefault(chunk, [url, offset, length])
        if not scalar and not meta.pipeline.has_codecs:
            rechunked = rechunk_contiguous(meta, values)
            if rechunked is not None:
                chunks, values = rechunked
        doc = _array_doc(shape, chunks, name, _fill(meta.fill_value, dtype), _codecs(meta, f"/{path}"), attributes)
        self._meta(path, doc)
        for chunk, value in values.items():
            self.out[_v3_key(path, chunk, scalar or not meta.shape)] = value

    def _text(self, path: str, node: Node, meta: ArrayMeta, scalar: bool, attributes: dict[str, Any]) -> None:
        values = read_whole(meta, path, node, self.refmap, self.read)
        if scalar:
            values = values.reshape(())
        flat = values.reshape(-1).tolist()
        is_ref = bool(flat) and meta.pipeline.is_object and all(isinstance(v, dict) and REFERENCE_KEY in v for v in flat)
        if is_ref:
            texts = [reference_path(v, f"/{path}") for v in flat]
            attributes["_DTYPE"] = "object_reference"
        else:
            if meta.pipeline.is_object and any(isinstance(v, dict | list) for v in flat):
                raise DialectError(f"/{path} holds JSON objects that are neither strings nor references.")
            texts = [as_text(v) for v in flat]
            attributes["_DTYPE"] = "str"
        strings = np.empty(values.shape, dtype=object)
        strings.reshape(-1)[:] = texts
        chunks = text_chunks(meta, scalar)
        self._meta(path, _array_doc(values.shape, chunks, "string", "", [_VLEN_UTF8], attributes))
        store_chunked(self.out, path, strings, chunks, encode_vlen, "")

    def _compound(
        self, path: str, node: Node, meta: ArrayMeta, scalar: bool, annotation: Any, attributes: dict[str, Any]
    ) -> None:
        where = f"/{path}"
        if not isinstance(annotation, list) or not all(isinstance(f, list) and len(f) == 2 for f in annotation):
            raise DialectError(f"{where} has a malformed _COMPOUND_DTYPE {annotation!r}.")
        values = read_whole(meta, path, node, self.refmap, self.read)
        if scalar:
            values = values.reshape(())
        rows = values.reshape(-1).tolist()
        if not meta.pipeline.is_object:
            raise DialectError(f"{where}: a compound whose chunks are not json2 rows is not supported.")
        names = [str(f[0]) for f in annotation]
        np_fields: list[tuple[str, Any]] = []
        v3_fields: list[dict[str, Any]] = []
        fill: dict[str, Any] = {}
        columns: list[list[Any]] = [[] for _ in names]
        for row in rows:
            if row is None:  # a missing chunk
                row = [None] * len(names)
            if not isinstance(row, list) or len(row) != len(names):
                raise DialectError(f"{where} has a row {row!r:.80} that does not match its {len(names)} fields.")
            for j, v in enumerate(row):
                columns[j].append(v)
        ref_fields: list[str] = []
        for (name, type_string), column in zip(annotation, columns, strict=True):
            if type_string == "<REFERENCE>":
                texts = [reference_path(v, f"{where} field {name!r}") for v in column]
                ref_fields.append(name)
            else:
                try:
                    dt = np.dtype(type_string) if type_string not in ("object", "|O", "O") else np.dtype(object)
                except TypeError as exc:
                    raise DialectError(f"{where} field {name!r} has unknown type {type_string!r}.") from exc
                if dt.kind in "iufb":
                    columns[names.index(name)] = [0 if v is None else v for v in column]
                    le = dt.newbyteorder("<") if dt.byteorder == ">" else dt
                    np_fields.append((name, le))
                    v3_fields.append({"name": name, "data_type": dt.name})
                    fill[name] = _fill(None, dt)
                    continue
                texts = [as_text(v) for v in column]
            width = max([len(t) for t in texts] + [1])
            columns[names.index(name)] = texts
            np_fields.append((name, np.dtype(f"<U{width}")))
            v3_fields.append({"name": name, "data_type": {"name": "fixed_length_utf32", "configuration": {"length_bytes": 4 * width}}})
            fill[name] = ""
        dtype = np.dtype(np_fields)
        arr = np.zeros(len(rows), dtype=dtype)
        for name, column in zip(names, columns, strict=True):
            if len(column):
                arr[name] = column
        arr = arr.reshape(values.shape)
        if ref_fields:
            attributes["_REFERENCE_FIELDS"] = ref_fields
        chunks = text_chunks(meta, scalar)
        data_type = {"name": "struct", "configuration": {"fields": v3_fields}}
        self._meta(path, _array_doc(arr.shape, chunks, data_type, fill, [{"name": "bytes", "configuration": {"endian": "little"}}], attributes))
        store_chunked(self.out, path, arr, chunks, lambda b: b.tobytes(), np.zeros((), dtype=dtype)[()])


def check_zarr3(refmap: ReferenceMap) -> None:
    """Check, without reading any chunk, that :func:`to_zarr3` can translate ``refmap``.

    Raises
    ------
    DialectError
        For content the convention cannot express (see the module docstring).
    """
    _Translator(refmap, lambda keys: [None] * len(keys), dry=True).run()


def to_zarr3(refmap: ReferenceMap, read: ReadFn) -> ReferenceMap:
    """Translate a LINDI v2 reference map into the shared Zarr v3 convention.

    Parameters
    ----------
    refmap
        The model (as the writers and ``index_hdf5`` produce it). It is not changed.
    read
        Reads store keys of ``refmap`` (the container's ``read_many``); used only for the chunks
        of text, reference and compound arrays, which are recoded.

    Returns
    -------
    ReferenceMap
        A new map with Zarr v3 keys, the same templates, provenance and ``hdmf_lindi`` record
        (compact chunk tables are spelled out: v3 readers know only ``refs``).

    Raises
    ------
    DialectError
        For content the convention cannot express (see the module docstring).
    """
    refs = _Translator(refmap, read).run()
    return ReferenceMap(
        refs,
        templates=refmap.templates,
        generation_metadata=refmap.generation_metadata,
        extra=dict(refmap.extra),
        source=refmap.source,
        metadata_as_text=refmap.metadata_as_text,
    )
