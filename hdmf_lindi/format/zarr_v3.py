"""Reading the shared Zarr v3 convention (hdmf-zarr 0.14, zindi): a v3 key map -> the LINDI v2 model.

The tree above ``format/`` works on one in-memory model, a LINDI v2 :class:`ReferenceMap`
(``.zgroup``/``.zattrs``/``.zarray`` keys, chunk keys ``i.j``, LINDI annotations). A Zarr v3
document (``zarr.json`` per node, chunk keys ``c/i/j``) is translated into that model once, at
open, by :func:`translate_v3`; the chunk values (inline bytes and ``[url, offset, length]``
references) are carried over unchanged, so no chunk is read or re-encoded.

What maps to what:

* group ``zarr.json`` -> ``.zgroup`` + ``.zattrs``; array ``zarr.json`` -> ``.zarray`` + ``.zattrs``;
  nodes found only in the root's consolidated metadata are taken from there (a node's own
  ``zarr.json`` wins over the consolidated copy);
* ``_LINKS`` entries of a group (and hdmf-zarr's legacy ``zarr_link``) -> child groups carrying
  ``_SOFT_LINK`` (``source "."``) or ``_EXTERNAL_LINK`` (another store, relative to this one);
* ``{"_REFERENCE": {source, path}}`` attributes stay references (extra keys are ignored);
  ``.specloc`` (a plain group name in v3) becomes a reference to that group, as in HDF5;
* 0-d arrays -> shape ``[1]`` + ``_SCALAR`` (chunk ``c`` -> ``0``);
* ``string`` arrays -> ``|O`` with the ``json2`` filter over :mod:`.v3_codecs`' ``vlen-utf8``
  codec; with ``_DTYPE: "object_reference"`` over its references codec (plain paths, JSON
  ``{source, path}`` strings, ``""`` = null);
* ``struct``/``structured`` arrays -> ``|O`` + ``_COMPOUND_DTYPE`` over the struct codec, fields
  named by ``_REFERENCE_FIELDS`` as references, ``fixed_length_utf32`` fields as text,
  ``null_terminated_bytes`` fields as ``|S<n>``;
* numeric and bool arrays -> their NumPy type (the ``bytes`` codec's endianness), the
  bytes-to-bytes codecs as numcodecs filters (``zstd``, ``gzip``, ``blosc``, ``crc32c``,
  ``numcodecs.<id>``); ``sharding_indexed`` -> :mod:`.v3_codecs`' sharding decoder;
* float attributes written as bare ``NaN``/``Infinity`` tokens become LINDI's strings (floats in
  the model); the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` are floats in zindi's files
  and text in hdmf-zarr's (layout §3.10), kept as text by a recorded attribute tag
  (``format.attrs.TEXT_TAG``);
* hidden: ``_LINKS``, ``_DTYPE``, ``_REFERENCE_FIELDS``, ``zarr_link``, ``zarr_dtype`` (they are
  turned into the model's own annotations) and ``_ARRAY_DIMENSIONS`` (hdmf-zarr's dimension
  labels, which HDF5 and HDMF's data do not have).

An array whose codecs cannot be read gets a codec that raises
:class:`~hdmf_lindi.errors.UnsupportedError` when that array is first used, so the rest of the
file stays readable. Malformed metadata raises :class:`~hdmf_lindi.errors.MetadataError`.
"""

from __future__ import annotations

import base64
import logging
import math
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urljoin

import numpy as np

from ..errors import MetadataError, ReferenceMapError, UnsupportedError
from ..storage.refmap import ReferenceMap
from . import v3_codecs
from .attrs import TEXT_TAG
from .codecs import JSON2_CONFIG
from .dtypes import REFERENCE_TYPE
from .zarr_v2 import encode_fill_value

__all__ = ["V3Translation", "Writer", "is_zarr_v3", "translate_v3"]

logger = logging.getLogger(__name__)

Writer = Literal["hdmf-zarr", "zindi"]
"""Which tool's spelling a v3 document follows (layout §8.D); it only decides NaN strings."""

_ROOT_KEY = "zarr.json"
EXTRA_KEY = "hdmf_lindi"
"""The top-level key of what hdmf_lindi records beyond lindi (``tree/state.py``'s)."""
_HIDDEN = frozenset({"_LINKS", "_DTYPE", "_REFERENCE_FIELDS", "_ARRAY_DIMENSIONS", "zarr_link", "zarr_dtype"})
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_NUMERIC = {
    "bool": "b1", "int8": "i1", "int16": "i2", "int32": "i4", "int64": "i8",
    "uint8": "u1", "uint16": "u2", "uint32": "u4", "uint64": "u8",
    "float16": "f2", "float32": "f4", "float64": "f8",
}
_BLOSC_SHUFFLE = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}
_ARRAY_TO_BYTES = frozenset({"bytes", "vlen-utf8", "vlen-bytes", "sharding_indexed"})


@dataclass
class V3Translation:
    """The LINDI v2 model of a Zarr v3 document, and what was learnt about the document."""

    refmap: ReferenceMap
    """The model (v2 keys; chunk values carried over)."""
    writer: Writer
    """The writer the document's spelling points to (layout §8.D)."""
    dropped_keys: list[str] = field(default_factory=list)
    """Keys that belong to no array or group (left out of the model)."""


def is_zarr_v3(refmap: ReferenceMap) -> bool:
    """Whether a reference map holds Zarr v3 keys (a root ``zarr.json``) rather than v2 ones.

    Raises
    ------
    MetadataError
        If it holds both a root ``zarr.json`` and a root ``.zgroup`` (ambiguous, layout §8.B).
    """
    v3 = _ROOT_KEY in refmap
    if v3 and ".zgroup" in refmap:
        raise MetadataError(
            f"{refmap.source or 'The document'} holds both a Zarr v3 root 'zarr.json' and a Zarr v2 "
            "root '.zgroup'; it is ambiguous. Remove the keys of the version it is not."
        )
    return v3


def _where(path: str, source: str | None) -> str:
    return f"'/{path}'" + (f" of {source}" if source else "")


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def _parse_node(doc: Any, path: str, source: str | None) -> dict[str, Any]:
    where = _where(path, source)
    if not isinstance(doc, dict):
        raise MetadataError(f"zarr.json of {where} must be a JSON object, got {type(doc).__name__}.")
    if doc.get("zarr_format") != 3:
        raise MetadataError(f"zarr.json of {where} has zarr_format {doc.get('zarr_format')!r}; expected 3.")
    if doc.get("node_type") not in ("group", "array"):
        raise MetadataError(f"zarr.json of {where} has node_type {doc.get('node_type')!r}; expected 'group' or 'array'.")
    attrs = doc.get("attributes", {})
    if not isinstance(attrs, dict):
        raise MetadataError(f"'attributes' of {where} must be an object, got {type(attrs).__name__}.")
    return doc


def _has_nonfinite_float(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list):
        return any(_has_nonfinite_float(v) for v in value)
    return False


def _detect_writer(refmap: ReferenceMap, nodes: Mapping[str, dict[str, Any]]) -> Writer:
    """hdmf-zarr or zindi, from the document's spelling (layout §8.D).

    hdmf-zarr's spelling (text ``"NaN"`` attributes are text) is assumed unless the document
    shows zindi's: metadata as JSON text, ``structured`` compounds or ``numcodecs.*`` codecs.
    Consolidated metadata, bare ``NaN`` tokens in attributes (zindi writes strings) and
    hdmf_lindi's own top-level key outweigh those.
    """
    if "consolidated_metadata" in nodes.get("", {}) or EXTRA_KEY in refmap.extra:
        return "hdmf-zarr"
    if any(_has_nonfinite_float(v) for doc in nodes.values() for v in (doc.get("attributes") or {}).values()):
        return "hdmf-zarr"
    if refmap.metadata_as_text:
        return "zindi"
    for doc in nodes.values():
        dtype = doc.get("data_type")
        if isinstance(dtype, dict) and dtype.get("name") == "structured":
            return "zindi"
        for codec in doc.get("codecs") or ():
            if isinstance(codec, dict) and str(codec.get("name", "")).startswith("numcodecs."):
                return "zindi"
    return "hdmf-zarr"


# ---------------------------------------------------------------------------- attributes
def _attr_value(value: Any) -> Any:
    """An attribute value in the model's JSON: non-finite floats as LINDI's strings, and
    hdmf-zarr's legacy ``{"zarr_dtype": "object", "value": {source, path}}`` references as
    ``_REFERENCE`` objects (hdmf-zarr 0.14 still reads them in v3 stores, layout §6)."""
    if (
        isinstance(value, dict)
        and value.get("zarr_dtype") == "object"
        and isinstance(value.get("value"), dict)
        and isinstance(value["value"].get("path"), str)
    ):
        body = value["value"]
        return v3_codecs.lindi_reference(body["path"], body.get("source", "."), body.get("object_id"), body.get("source_object_id"))
    if isinstance(value, dict) and isinstance(value.get("_REFERENCE"), dict) and isinstance(value["_REFERENCE"].get("path"), str):
        body = value["_REFERENCE"]  # extra keys dropped, lindi's four kept (ids null when absent)
        return v3_codecs.lindi_reference(body["path"], body.get("source", "."), body.get("object_id"), body.get("source_object_id"))
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, list):
        return [_attr_value(v) for v in value]
    return value


def _only_nonfinite_text(value: Any) -> bool:
    """Whether ``value`` is ``"NaN"``/``"Infinity"``/``"-Infinity"`` or a (nested) list of only those."""
    if isinstance(value, str):
        return value in _NONFINITE
    if isinstance(value, list) and value:
        return all(_only_nonfinite_text(v) for v in value)
    return False


def _attributes(attrs: dict[str, Any], path: str, text_tags: dict[str, str] | None = None) -> dict[str, Any]:
    """The model's ``.zattrs`` of v3 attributes; ``text_tags`` (hdmf-zarr's files) collects the
    names of text attributes the model would read as floats (see format.attrs.TEXT_TAG)."""
    out: dict[str, Any] = {}
    for name, value in attrs.items():
        if name in _HIDDEN:
            continue
        if text_tags is not None and _only_nonfinite_text(value):
            text_tags[name] = TEXT_TAG
        if name == ".specloc" and not path and isinstance(value, str):
            target = value if value.startswith("/") else "/" + value
            value = v3_codecs.lindi_reference(target)
        out[name] = _attr_value(value)
    return out


def _links(attrs: dict[str, Any], path: str, root_name: str, source: str | None) -> dict[str, dict[str, Any]]:
    """Child name -> the ``.zattrs`` of the link child, from ``_LINKS`` (and legacy ``zarr_link``)."""
    entries: list[Any] = []
    for key in ("_LINKS", "zarr_link"):
        value = attrs.get(key)
        if value is None:
            continue
        if not isinstance(value, list):
            raise MetadataError(f"{key} of {_where(path, source)} must be a list, got {value!r:.80}.")
        entries.extend(value)
    out: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("name"), str)
            and entry["name"]
            and "/" not in entry["name"]
            and isinstance(entry.get("path"), str)
        ):
            raise MetadataError(
                f"Link {entry!r:.120} of {_where(path, source)} needs a string 'name' (no '/') and 'path'."
            )
        link_source = entry.get("source", ".")
        if not isinstance(link_source, str):
            raise MetadataError(f"Link {entry!r:.120} of {_where(path, source)} has a non-string 'source'.")
        if link_source in (".", ""):
            out[entry["name"]] = {"_SOFT_LINK": {"path": entry["path"]}}
        else:
            out[entry["name"]] = {"_EXTERNAL_LINK": [_external_file(link_source, root_name), entry["path"]]}
    return out


def _external_file(link_source: str, root_name: str) -> str:
    """The file an external link's ``source`` names, relative to the directory holding this store.

    ``source`` is relative to the store's root (hdmf-zarr); the store is ``root_name`` in its
    directory, so ``../other.zarr`` is ``other.zarr`` beside it.
    """
    if "://" in link_source or link_source.startswith("/"):
        return link_source
    joined = posixpath.normpath(posixpath.join(root_name or ".", link_source))
    return joined


# ---------------------------------------------------------------------------- arrays
def _unsupported(reason: str) -> dict[str, Any]:
    return {"id": v3_codecs.UnsupportedCodec.codec_id, "reason": reason}


def _codec_config(codec: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(codec, str):
        return codec, {}
    if not isinstance(codec, dict) or not isinstance(codec.get("name"), str):
        raise ValueError(f"codec {codec!r:.80} is not an object with a string 'name'")
    config = codec.get("configuration") or {}
    if not isinstance(config, dict):
        raise ValueError(f"configuration of codec {codec['name']!r} is not an object")
    return codec["name"], config


def _bytes_to_bytes(name: str, config: dict[str, Any], where: str) -> dict[str, Any]:
    """The numcodecs configuration of a v3 bytes-to-bytes codec."""
    if name == "zstd":
        return {"id": "zstd", "level": int(config.get("level", 0)), "checksum": bool(config.get("checksum", False))}
    if name == "gzip":
        return {"id": "gzip", "level": int(config.get("level", 5))}
    if name == "crc32c":
        return {"id": "crc32c", "location": "end"}
    if name == "blosc":
        shuffle = config.get("shuffle", "noshuffle")
        return {
            "id": "blosc",
            "cname": str(config.get("cname", "lz4")),
            "clevel": int(config.get("clevel", 5)),
            "shuffle": _BLOSC_SHUFFLE.get(shuffle, shuffle) if isinstance(shuffle, str) else int(shuffle),
            "blocksize": int(config.get("blocksize", 0)),
        }
    if name.startswith("numcodecs."):
        return {**config, "id": name[len("numcodecs."):]}
    return _unsupported(f"{where} uses the Zarr v3 codec {name!r}, which hdmf_lindi cannot decode")


def _scalar_type(spec: Any, endian: str, where: str) -> tuple[np.dtype[Any], str]:
    """(NumPy dtype, role) of a v3 data type usable as an array element or struct field."""
    if isinstance(spec, str) and spec in _NUMERIC:
        code = _NUMERIC[spec]
        return np.dtype(("|" if code[1] == "1" else endian) + code), "value"
    if isinstance(spec, dict) and spec.get("name") in ("fixed_length_utf32", "null_terminated_bytes"):
        length = (spec.get("configuration") or {}).get("length_bytes")
        if type(length) is not int or length < 0:
            raise MetadataError(f"{spec['name']} of {where} needs an integer 'length_bytes', got {length!r}.")
        if spec["name"] == "fixed_length_utf32":
            if length % 4:
                raise MetadataError(f"fixed_length_utf32 of {where} has length_bytes {length}, not a multiple of 4.")
            return np.dtype(f"{endian}U{max(length // 4, 1)}"), "text"
        return np.dtype(f"|S{max(length, 1)}"), "bytes"
    raise UnsupportedError(f"{where} has the Zarr v3 data type {spec!r:.80}, which hdmf_lindi cannot read.")


def _struct_fields(spec: dict[str, Any], endian: str, ref_fields: set[str], where: str) -> list[list[str]]:
    """``[name, numpy type, role]`` per field of a ``struct``/``structured`` data type."""
    raw = (spec.get("configuration") or {}).get("fields")
    if not isinstance(raw, list) or not raw:
        raise MetadataError(f"The {spec.get('name')} data type of {where} needs a non-empty 'fields' list.")
    out: list[list[str]] = []
    for item in raw:
        if isinstance(item, dict):
            name, ftype = item.get("name"), item.get("data_type")
        elif isinstance(item, list) and len(item) == 2:
            name, ftype = item
        else:
            raise MetadataError(f"Field {item!r:.80} of {where} is neither {{name, data_type}} nor [name, type].")
        if not isinstance(name, str):
            raise MetadataError(f"Field {item!r:.80} of {where} has no string name.")
        dtype, role = _scalar_type(ftype, endian, f"field {name!r} of {where}")
        if name in ref_fields:
            if role != "text":
                raise MetadataError(f"Reference field {name!r} of {where} must be a fixed_length_utf32 path field.")
            role = "reference"
        out.append([name, dtype.str, role])
    return out


def _field_annotation(type_string: str, role: str) -> str:
    """The ``_COMPOUND_DTYPE`` type of a struct field: references, text (``object``), or the
    NumPy type in little-endian spelling (the struct codec turns big-endian rows around)."""
    if role == "reference":
        return REFERENCE_TYPE
    if role == "text":
        return "object"
    dtype = np.dtype(type_string)
    return dtype.str if dtype.itemsize == 1 or dtype.kind == "S" else dtype.newbyteorder("<").str


def _fill(value: Any, dtype: np.dtype[Any], where: str) -> Any:
    """A v3 fill value as a value of ``dtype`` (NaN names, hex floats, base64 bytes)."""
    if value is None:
        return None
    if dtype.kind == "f" and isinstance(value, str):
        if value in _NONFINITE:
            return _NONFINITE[value]
        if value.startswith("0x"):
            raw = int(value, 16).to_bytes(dtype.itemsize, "big")
            return float(np.frombuffer(raw, dtype=dtype.newbyteorder(">"))[0])
        raise MetadataError(f"fill_value {value!r} of {where} is not a float.")
    if dtype.kind == "S" and isinstance(value, str):
        return base64.b64decode(value)
    if dtype.kind == "S" and isinstance(value, list):
        return bytes(value)
    return value


@dataclass
class _ArrayModel:
    zarray: dict[str, Any]
    annotations: dict[str, Any]
    scalar: bool
    empty: bool


def _array(doc: dict[str, Any], path: str, source: str | None) -> _ArrayModel:
    where = _where(path, source)
    attrs = doc.get("attributes") or {}
    shape = doc.get("shape")
    if not isinstance(shape, list) or not all(type(s) is int and s >= 0 for s in shape):
        raise MetadataError(f"'shape' of {where} must be a list of non-negative integers, got {shape!r}.")
    grid = doc.get("chunk_grid") or {}
    if not isinstance(grid, dict) or grid.get("name") != "regular":
        raise MetadataError(f"{where} has chunk grid {grid!r:.80}; only the 'regular' grid is defined.")
    chunks = (grid.get("configuration") or {}).get("chunk_shape")
    if not isinstance(chunks, list) or len(chunks) != len(shape) or not all(type(c) is int and c >= 0 for c in chunks):
        raise MetadataError(f"'chunk_shape' {chunks!r} of {where} must have one integer per dimension of shape {shape}.")
    empty = 0 in shape
    if any(c == 0 and s > 0 for c, s in zip(chunks, shape, strict=True)):
        raise MetadataError(f"'chunk_shape' {chunks} of {where} has a zero entry for a non-empty dimension.")
    scalar = not shape
    codecs = doc.get("codecs")
    if not isinstance(codecs, list) or not codecs:
        raise MetadataError(f"'codecs' of {where} must be a non-empty list.")
    annotations: dict[str, Any] = {}
    if scalar:
        annotations["_SCALAR"] = True
    model_shape = [1] if scalar else list(shape)
    model_chunks = [1] if scalar else [c if c > 0 else 1 for c in chunks]
    try:
        dtype_str, fill, filters = _pipeline(doc, attrs, model_chunks, where, annotations)
    except ValueError as exc:
        raise MetadataError(f"Codecs of {where} are malformed: {exc}.") from exc
    if doc.get("storage_transformers"):
        filters = [_unsupported(f"{where} uses storage transformers, which hdmf_lindi cannot read")]
    zarray = {
        "zarr_format": 2,
        "shape": model_shape,
        "chunks": model_chunks,
        "dtype": dtype_str,
        "fill_value": fill,
        "order": "C",
        "compressor": None,
        "filters": filters or None,
    }
    return _ArrayModel(zarray, annotations, scalar, empty)


def _pipeline(
    doc: dict[str, Any], attrs: dict[str, Any], chunks: list[int], where: str, annotations: dict[str, Any]
) -> tuple[str, Any, list[dict[str, Any]]]:
    """(model dtype string, model fill value, model filters) of one array."""
    parsed = [_codec_config(c) for c in doc["codecs"]]
    names = [n for n, _ in parsed]
    split = next((i for i, n in enumerate(names) if n in _ARRAY_TO_BYTES), None)
    if split is None:
        raise ValueError(f"no array-to-bytes codec (bytes, vlen-utf8, sharding_indexed) among {names}")
    before, (a2b, a2b_config), after = parsed[:split], parsed[split], parsed[split + 1:]
    unsupported: list[dict[str, Any]] = []
    for name, config in before:
        order = config.get("order")
        if name == "transpose" and isinstance(order, list) and order == sorted(order):
            continue  # the identity permutation
        unsupported.append(_unsupported(f"{where} uses the array-to-array codec {name!r}"))
    b2b = [_bytes_to_bytes(n, c, where) for n, c in after]
    endian = ">" if a2b_config.get("endian") == "big" else "<"
    data_type = doc.get("data_type")
    value = doc.get("fill_value")
    if data_type == "string" or a2b in ("vlen-utf8", "vlen-bytes"):
        if data_type != "string" or a2b != "vlen-utf8":
            return "|O", 0, [_unsupported(f"{where} has data type {data_type!r} with codec {a2b!r}")]
        if attrs.get("_DTYPE") == "object_reference":
            codec = {"id": v3_codecs.ReferencesCodec.codec_id}
            fill: Any = None
        else:
            codec = {"id": v3_codecs.VlenUtf8Codec.codec_id}
            fill = value if isinstance(value, str) and value else 0
        return "|O", fill, unsupported or [dict(JSON2_CONFIG), codec, *b2b]
    if isinstance(data_type, dict) and data_type.get("name") in ("struct", "structured"):
        ref_fields = attrs.get("_REFERENCE_FIELDS") or []
        if not isinstance(ref_fields, list):
            raise MetadataError(f"_REFERENCE_FIELDS of {where} must be a list, got {ref_fields!r:.80}.")
        fields = _struct_fields(data_type, endian, {str(f) for f in ref_fields}, where)
        annotations["_COMPOUND_DTYPE"] = [[name, _field_annotation(t, role)] for name, t, role in fields]
        if a2b != "bytes":
            return "|O", 0, [_unsupported(f"{where} stores a compound with codec {a2b!r}")]
        struct_codec: dict[str, Any] = {"id": v3_codecs.StructCodec.codec_id, "fields": fields}
        return "|O", 0, unsupported or [dict(JSON2_CONFIG), struct_codec, *b2b]
    try:
        dtype, _role = _scalar_type(data_type, endian, where)
    except UnsupportedError as exc:
        return "|u1", 0, [_unsupported(str(exc))]
    fill = encode_fill_value(_fill(value, dtype, where), dtype)
    if a2b == "sharding_indexed":
        return dtype.str, fill, unsupported or [*_sharding(a2b_config, dtype, fill, chunks, where), *b2b]
    return dtype.str, fill, unsupported or b2b


def _sharding(
    config: dict[str, Any], dtype: np.dtype[Any], fill: Any, shard_shape: list[int], where: str
) -> list[dict[str, Any]]:
    inner = [_codec_config(c) for c in config.get("codecs") or [{"name": "bytes"}]]
    if not inner or inner[0][0] != "bytes":
        return [_unsupported(f"{where} is sharded with inner codecs {[n for n, _ in inner]} (not bytes first)")]
    inner_dtype = dtype.newbyteorder(">" if inner[0][1].get("endian") == "big" else "<") if dtype.itemsize > 1 else dtype
    index = [_codec_config(c) for c in config.get("index_codecs") or [{"name": "bytes"}, {"name": "crc32c"}]]
    index_names = [n for n, _ in index]
    if index_names not in (["bytes"], ["bytes", "crc32c"]) or index[0][1].get("endian", "little") != "little":
        return [_unsupported(f"{where} has shard index codecs {index_names}")]
    chunk_shape = config.get("chunk_shape")
    if not isinstance(chunk_shape, list) or len(chunk_shape) != len(shard_shape):
        raise MetadataError(f"sharding_indexed of {where} has chunk_shape {chunk_shape!r}.")
    location = config.get("index_location", "end")
    if location not in ("start", "end"):
        raise MetadataError(f"sharding_indexed of {where} has index_location {location!r}.")
    return [{
        "id": v3_codecs.ShardingCodec.codec_id,
        "shard_shape": shard_shape,
        "chunk_shape": chunk_shape,
        "dtype": inner_dtype.str,
        "fill_value": fill,
        "codecs": [_bytes_to_bytes(n, c, where) for n, c in inner[1:]],
        "index_checksum": index_names == ["bytes", "crc32c"],
        "index_location": location,
    }]


# ---------------------------------------------------------------------------- chunk keys
def _chunk_key_parser(doc: dict[str, Any], ndim: int, where: str) -> tuple[str, str]:
    """(encoding name, separator) of an array's chunk keys."""
    enc = doc.get("chunk_key_encoding") or {"name": "default"}
    if not isinstance(enc, dict) or enc.get("name") not in ("default", "v2"):
        raise MetadataError(f"{where} has chunk_key_encoding {enc!r:.80}; 'default' and 'v2' are defined.")
    sep = (enc.get("configuration") or {}).get("separator", "/" if enc["name"] == "default" else ".")
    if sep not in ("/", "."):
        raise MetadataError(f"{where} has chunk key separator {sep!r}; '/' and '.' are defined.")
    return enc["name"], sep


def _grid_key_pattern(ndim: int) -> re.Pattern[str]:
    """Matches the ``i/j/...`` part of a v3 chunk key of an ``ndim``-d array (decimal, no leading 0)."""
    index = r"(?:0|[1-9][0-9]*)"
    return re.compile(index + (r"/" + index) * (ndim - 1))


def _model_chunk_key(rest: str, encoding: tuple[str, str], ndim: int) -> str | None:
    """The model's chunk key suffix (``i.j``, ``0`` for 0-d) of a v3 one, or None if it is not one."""
    name, sep = encoding
    if name == "default":
        if rest == "c":
            parts: list[str] = []
        elif rest.startswith("c" + sep):
            parts = rest[2:].split(sep)
        else:
            return None
    else:
        parts = [] if rest == "0" and ndim == 0 else rest.split(sep)
    if len(parts) != ndim or not all(p.isdigit() for p in parts):
        return None
    return ".".join(str(int(p)) for p in parts) if parts else "0"


# ---------------------------------------------------------------------------- translation
def _rebase(url: str, base_url: str | None) -> str:
    """A relative file name of a chunk reference, resolved against a remote document's URL."""
    if base_url is None or "://" in url or url.startswith(("/", "./", "{{")):
        return url
    return urljoin(base_url, url)


def translate_v3(refmap: ReferenceMap, *, root_name: str = "", base_url: str | None = None) -> V3Translation:
    """Translate a Zarr v3 reference map into the LINDI v2 model (pure; no chunk is read).

    Parameters
    ----------
    refmap
        The document as loaded (v3 keys).
    root_name
        The store's own file or directory name; external links (``_LINKS`` with another
        ``source``) are relative to the store root and are made relative to the directory
        holding the store.
    base_url
        The URL of a remote document: chunk references naming a relative file (zindi writes
        the HDF5 file's name as it was given, e.g. ``zindi_mock.nwb``) are resolved against it,
        as a local document's are against its directory.

    Returns
    -------
    V3Translation
        The model and what was learnt (which writer's spelling the document follows).

    Raises
    ------
    MetadataError
        For malformed ``zarr.json`` documents, links, chunk grids or key encodings.
    UnsupportedError
        For zindi's version-2 documents (``gen``/``indexes``), which need expanding first.
    """
    source = refmap.source
    for key in ("gen", "indexes"):
        if key in refmap.extra:
            raise UnsupportedError(
                f"{source or 'The document'} is a zindi version-2 reference file system ('{key}'); "
                "expand it to version 1 first (zindi's write_rfs(..., 'name.json'))."
            )
    nodes: dict[str, dict[str, Any]] = {}
    for key, _ in refmap.raw_items():
        parent, _, base = key.rpartition("/")
        if base != "zarr.json":
            continue
        try:
            doc = refmap.get_json(key)
        except ReferenceMapError as exc:
            raise MetadataError(f"zarr.json of {_where(parent, source)} is not JSON: {exc}") from exc
        nodes[parent] = _parse_node(doc, parent, source)
    root = nodes.get("")
    if root is None:
        raise MetadataError(f"{source or 'The document'} has no root zarr.json.")
    consolidated = root.get("consolidated_metadata")
    if isinstance(consolidated, dict) and isinstance(consolidated.get("metadata"), dict):
        for path, doc in consolidated["metadata"].items():
            path = str(path).strip("/")
            if path not in nodes:
                nodes[path] = _parse_node(doc, path, source)
    writer = _detect_writer(refmap, nodes)
    out: dict[str, Any] = {}
    arrays: dict[str, tuple[tuple[str, str], int, bool]] = {}
    tags: dict[str, dict[str, str]] = {}
    for path in sorted(nodes):
        doc = nodes[path]
        attrs = doc.get("attributes") or {}
        text_tags: dict[str, str] | None = {} if writer == "hdmf-zarr" else None
        if doc["node_type"] == "group":
            out[_join(path, ".zgroup")] = {"zarr_format": 2}
            zattrs = _attributes(attrs, path, text_tags)
            if text_tags:
                tags["/" + path] = text_tags
            if zattrs:
                out[_join(path, ".zattrs")] = zattrs
            for name, link in _links(attrs, path, root_name, source).items():
                child = _join(path, name)
                if child in nodes:
                    raise MetadataError(
                        f"Link {name!r} of {_where(path, source)} has the name of an existing node."
                    )
                out[_join(child, ".zgroup")] = {"zarr_format": 2}
                out[_join(child, ".zattrs")] = link
            continue
        model = _array(doc, path, source)
        out[_join(path, ".zarray")] = model.zarray
        zattrs = {**_attributes(attrs, path, text_tags), **model.annotations}
        if text_tags:
            tags["/" + path] = text_tags
        if zattrs:
            out[_join(path, ".zattrs")] = zattrs
        ndim = len(doc["shape"])
        arrays[path] = (_chunk_key_parser(doc, ndim, _where(path, source)), ndim, model.empty)
    translation = V3Translation(ReferenceMap({}, source=source), writer)
    fast = {
        path: _grid_key_pattern(ndim) for path, ((name, sep), ndim, _) in arrays.items()
        if name == "default" and sep == "/" and ndim > 0
    }
    for key, value in refmap.raw_items():
        # the common case first: "<array>/c/<i>/<j>" of a "/"-separated array
        cut = key.rfind("/c/")
        if cut > 0:
            pattern = fast.get(key[:cut])
            rest = key[cut + 3:]
            if pattern is not None and pattern.fullmatch(rest):
                if not arrays[key[:cut]][2]:
                    if base_url is not None and type(value) is list:
                        value = [_rebase(value[0], base_url), *value[1:]]
                    out[key[:cut + 1] + rest.replace("/", ".")] = value
                continue
        if key.rpartition("/")[2] == "zarr.json":
            continue
        array = key
        while array:
            array = array.rpartition("/")[0]
            if array in arrays:
                break
        else:
            if "" not in arrays:
                translation.dropped_keys.append(key)
                continue
        encoding, ndim, empty = arrays[array]
        rest = key[len(array) + 1:] if array else key
        chunk = _model_chunk_key(rest, encoding, ndim)
        if chunk is None:
            translation.dropped_keys.append(key)
            continue
        if not empty:
            if base_url is not None and type(value) is list:
                value = [_rebase(value[0], base_url), *value[1:]]
            out[_join(array, chunk)] = value
    if translation.dropped_keys:
        logger.info(
            "%d keys of %s belong to no Zarr v3 node and were left out (first: %r)",
            len(translation.dropped_keys), source, translation.dropped_keys[0],
        )
    extra = {k: v for k, v in refmap.extra.items() if k not in ("sources",)}
    if tags:
        ours = dict(extra.get(EXTRA_KEY) or {})
        ours["attributeDtypes"] = {**(ours.get("attributeDtypes") or {}), **tags}
        extra[EXTRA_KEY] = ours
    templates = {name: _rebase(url, base_url) for name, url in refmap.templates.items()}
    translation.refmap = ReferenceMap(out, templates=templates, extra=extra, source=source)
    return translation
