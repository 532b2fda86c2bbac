"""Reading hdmf-zarr's old Zarr v2 layout (hdmf-zarr <= 0.13), read-only: a v2 key map -> the model.

hdmf-zarr before 0.14 wrote NWB files as Zarr v2 stores with annotations of its own, not LINDI's
(layout notes §8.C): this module turns such a key map (``.zgroup`` / ``.zattrs`` / ``.zarray``
documents, chunk keys ``i.j``) into the LINDI v2 model the tree reads, once, at open. No I/O.

What maps to what:

* ``zarr_link`` (a group's list of ``{"name", "source", "path"}``) -> child groups carrying
  ``_SOFT_LINK`` (``source "."``) or ``_EXTERNAL_LINK`` (another store, relative to this
  store's folder, as hdmf-zarr resolves it);
* attributes ``{"zarr_dtype": "object", "value": {"source", "path", ...}}`` -> ``_REFERENCE``
  objects; ``.specloc`` (a group name) -> a reference to that group, as HDF5 stores it;
* ``zarr_dtype: "scalar"`` -> ``_SCALAR`` (the arrays already have shape ``[1]``);
* object arrays (strings with ``vlen-utf8``/``vlen-bytes``, references and compounds with the
  ``pickle`` object codec, or ``json``/``json2``) -> ``|O`` + ``json2`` over
  :class:`HdmfZarrObjectsCodec`, which turns the stored elements into the model's ``json2``
  text (reference dicts -> ``_REFERENCE`` objects, compound rows -> lists); compounds get
  ``_COMPOUND_DTYPE`` from ``zarr_dtype``. Pickled chunks are read by an unpickler that only
  rebuilds NumPy arrays (any other global is refused), never by ``pickle.loads``;
* numeric compounds stored as Zarr structured dtypes -> the same codec over the raw rows;
* hidden: ``zarr_dtype``, ``zarr_link`` (turned into the model's annotations).

Other keys (chunk references of a reference file system) are carried over unchanged; chunk keys
written with ``dimension_separator "/"`` are renamed to the model's ``i.j``.
"""

from __future__ import annotations

import io
import json
import logging
import pickle
import posixpath
from collections.abc import Iterator
from typing import Any

import numcodecs
import numpy as np
from numcodecs.abc import Codec

from ..errors import MetadataError, UnsupportedError
from ..storage.refmap import ReferenceMap
from .codecs import JSON2_CONFIG
from .dtypes import REFERENCE_TYPE

__all__ = ["HdmfZarrObjectsCodec", "is_hdmf_zarr_v2", "translate_hdmf_zarr_v2", "uses_hdmf_zarr_v2_codecs"]

logger = logging.getLogger(__name__)

_META = (".zgroup", ".zattrs", ".zarray")
_EVIDENCE_HDMF_ZARR = ("zarr_dtype", "zarr_link")
_EVIDENCE_LINDI = ("_SOFT_LINK", "_SCALAR", "_COMPOUND_DTYPE", "_EXTERNAL_ARRAY_LINK", "_EXTERNAL_LINK")
_OBJECT_CODECS = ("pickle", "vlen-utf8", "vlen-bytes", "json", "json2")


# ---------------------------------------------------------------------------- sniffing
def _split(key: str) -> tuple[str, str]:
    path, _, name = key.rpartition("/")
    return path, name


def is_hdmf_zarr_v2(refmap: ReferenceMap) -> bool:
    """Whether a Zarr v2 key map is hdmf-zarr's old layout rather than LINDI's.

    Decided by the attributes (layout notes §8.C): a root ``.specloc`` that is a plain group name,
    or ``zarr_dtype`` / ``zarr_link`` attributes, before any LINDI annotation is seen.
    """
    if ".zgroup" not in refmap or "zarr.json" in refmap:
        return False
    root = refmap.get_json(".zattrs") or {}
    if isinstance(root.get(".specloc"), str) or any(k in root for k in _EVIDENCE_HDMF_ZARR):
        return True
    if ".specloc" in root:
        return False  # a reference, as LINDI (and HDF5) store it
    if refmap.generation_metadata is not None:
        return False  # LINDI's generationMetadata
    for key in refmap.iter_keys(chunk_tables=False):
        if not key.endswith(".zattrs"):
            continue
        attrs = refmap.get_json(key) or {}
        if any(k in attrs for k in _EVIDENCE_LINDI):
            return False
        if any(k in attrs for k in _EVIDENCE_HDMF_ZARR):
            return True
    return False


# ---------------------------------------------------------------------------- element values
def _source(value: Any) -> str:
    """A reference's ``source``: ``"."`` for this store (hdmf-zarr also wrote ``""``/None)."""
    if value in (None, "", ".", "./"):
        return "."
    return str(value)


def _reference(value: dict[str, Any]) -> dict[str, Any]:
    path = value.get("path")
    if not isinstance(path, str):
        raise ValueError(f"reference {value!r} has no string 'path'")
    return {
        "_REFERENCE": {
            "object_id": value.get("object_id"),
            "path": path if path.startswith("/") else "/" + path,
            "source": _source(value.get("source")),
            "source_object_id": value.get("source_object_id"),
        }
    }


def _element(value: Any) -> Any:
    """One stored element (or compound field) -> its form in the model's ``json2`` text."""
    if isinstance(value, dict):
        return _reference(value)
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8")
    if isinstance(value, np.void) or isinstance(value, tuple):
        return [_element(v) for v in (value.tolist() if isinstance(value, np.void) else value)]
    if isinstance(value, np.generic):
        return _element(value.item())
    if isinstance(value, np.ndarray):
        return [_element(v) for v in value.tolist()]
    return value


class _ArrayUnpickler(pickle.Unpickler):
    """Rebuilds pickled NumPy arrays of plain Python values (and hdmf-zarr's ``ZarrReference``
    dicts, as plain dicts); refuses every other global."""

    _ALLOWED = frozenset({
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    })

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("hdmf_zarr.utils", "ZarrReference"):
            return dict  # hdmf-zarr's reference type is a dict subclass: rebuilt as a plain dict
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"the chunk's pickle names {module}.{name}, which is not allowed")


def _unpickle(data: bytes) -> Any:
    try:
        return _ArrayUnpickler(io.BytesIO(data)).load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError) as exc:
        raise ValueError(f"cannot read the pickled chunk safely: {exc}") from exc


class HdmfZarrObjectsCodec(Codec):
    """Decode hdmf-zarr v2 object-array chunks into the model's ``json2`` chunk text.

    Parameters
    ----------
    source
        The object codec the store used (``{"id": "pickle"}``, ``vlen-utf8``, ``vlen-bytes``,
        ``json``, ``json2``), or ``{"id": "raw", "dtype": [[name, type], ...]}`` for a numeric
        compound stored as a Zarr structured dtype.
    """

    codec_id = "hdmf_lindi.hdmf_zarr_v2_objects"

    def __init__(self, source: dict[str, Any]) -> None:
        self.source = dict(source)
        kind = self.source.get("id")
        if kind == "raw":
            self._raw_dtype = np.dtype([(str(n), str(t)) for n, t in self.source.get("dtype", [])])
        elif kind not in _OBJECT_CODECS:
            raise UnsupportedError(f"hdmf-zarr object codec {kind!r} is not supported.")

    def _items(self, buf: Any) -> Iterator[Any]:
        kind = self.source["id"]
        data = bytes(memoryview(buf).cast("B")) if not isinstance(buf, bytes) else buf
        if kind == "raw":
            if len(data) % self._raw_dtype.itemsize:
                raise ValueError(f"{len(data)} bytes are not a whole number of {self._raw_dtype} rows")
            yield from np.frombuffer(data, dtype=self._raw_dtype)
            return
        if kind == "pickle":
            arr = _unpickle(data)
            if not isinstance(arr, np.ndarray):
                raise ValueError(f"the pickled chunk holds a {type(arr).__name__}, not an array")
            yield from arr.reshape(-1)
            return
        try:
            decoded = numcodecs.get_codec(self.source).decode(data)
        except Exception as exc:  # noqa: BLE001 - numcodecs raises anything on bad input
            raise ValueError(f"{kind} cannot decode the chunk: {exc}") from exc
        yield from np.asarray(decoded, dtype=object).reshape(-1)

    def decode(self, buf: Any, out: Any = None) -> bytes:
        items = [_element(v) for v in self._items(buf)]
        items.extend(["|O", [len(items)]])
        text = json.dumps(items, ensure_ascii=True, allow_nan=True, sort_keys=True, separators=(",", ":"))
        return text.encode("utf-8")

    def encode(self, buf: Any) -> bytes:
        raise UnsupportedError("hdmf-zarr v2 stores are read-only; their object chunks are never encoded.")

    def get_config(self) -> dict[str, Any]:
        return {"id": self.codec_id, "source": self.source}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> HdmfZarrObjectsCodec:
        return cls(config["source"])


numcodecs.register_codec(HdmfZarrObjectsCodec)


def uses_hdmf_zarr_v2_codecs(zarray: dict[str, Any]) -> bool:
    """Whether a model ``.zarray`` names :class:`HdmfZarrObjectsCodec`, which exists only in
    memory: a copy must store such an array's chunks decoded (``json2``), never with that id."""
    return any(
        isinstance(f, dict) and f.get("id") == HdmfZarrObjectsCodec.codec_id for f in zarray.get("filters") or ()
    )


# ---------------------------------------------------------------------------- metadata
def _attr_value(value: Any, where: str) -> Any:
    if isinstance(value, dict) and "zarr_dtype" in value:
        if value.get("zarr_dtype") == "object" and isinstance(value.get("value"), dict):
            try:
                return _reference(value["value"])
            except ValueError as exc:
                raise MetadataError(f"Attribute {where}: {exc}.") from exc
        raise MetadataError(f"Attribute {where} has an unknown hdmf-zarr annotation {value!r}.")
    return value


def _attributes(attrs: dict[str, Any], path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in attrs.items():
        if name in _EVIDENCE_HDMF_ZARR:
            continue
        if name == ".specloc" and isinstance(value, str) and not path:
            out[name] = _reference({"path": "/" + value.strip("/"), "source": "."})
            continue
        out[name] = _attr_value(value, f"{name!r} of /{path}")
    return out


def _links(attrs: dict[str, Any], path: str, root_name: str) -> dict[str, dict[str, Any]]:
    """Child name -> ``.zattrs`` of the link group, from a group's ``zarr_link`` list."""
    links = attrs.get("zarr_link")
    if links is None:
        return {}
    if not isinstance(links, list):
        raise MetadataError(f"zarr_link of /{path} must be a list, got {links!r}.")
    out: dict[str, dict[str, Any]] = {}
    for link in links:
        if not (isinstance(link, dict) and isinstance(link.get("name"), str) and isinstance(link.get("path"), str)):
            raise MetadataError(f"zarr_link of /{path} has a malformed entry {link!r}.")
        target = link["path"] if link["path"].startswith("/") else "/" + link["path"]
        source = _source(link.get("source"))
        if source == ".":
            out[link["name"]] = {"_SOFT_LINK": {"path": target}}
        else:
            # relative to this store's folder, as hdmf-zarr resolves it
            other = posixpath.normpath(posixpath.join(root_name, source)) if root_name else source
            out[link["name"]] = {"_EXTERNAL_LINK": [other, target]}
    return out


def _zarr_dtype_fields(zarr_dtype: Any, where: str) -> list[list[str]]:
    if not all(isinstance(f, dict) and isinstance(f.get("name"), str) for f in zarr_dtype):
        raise MetadataError(f"zarr_dtype of {where} is not a list of {{name, dtype}}: {zarr_dtype!r}.")
    out = []
    for f in zarr_dtype:
        dt = f.get("dtype")
        if dt == "object":
            out.append([f["name"], REFERENCE_TYPE])
        elif dt in ("str", "utf", "utf8", "utf-8", "text", "ascii", "bytes"):
            out.append([f["name"], "object"])
        else:
            try:
                out.append([f["name"], str(np.dtype(dt))])
            except TypeError as exc:
                raise MetadataError(f"zarr_dtype of {where} has an unknown field type {dt!r}.") from exc
    return out


def _array(zarray: dict[str, Any], attrs: dict[str, Any], path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model's ``.zarray`` and extra ``.zattrs`` for one hdmf-zarr array."""
    where = f"/{path}"
    zarr_dtype = attrs.get("zarr_dtype")
    out = {k: v for k, v in zarray.items() if k != "dimension_separator"}
    extra: dict[str, Any] = {}
    if zarr_dtype == "scalar":
        if list(zarray.get("shape") or []) != [1]:
            raise MetadataError(f"{where} is marked scalar by hdmf-zarr but has shape {zarray.get('shape')!r}.")
        extra["_SCALAR"] = True
    dtype = zarray.get("dtype")
    filters = list(zarray.get("filters") or [])
    if isinstance(dtype, list):  # a Zarr structured dtype
        object_fields = any(len(f) >= 2 and f[1] in ("|O", "O") for f in dtype)
        if object_fields:
            source, filters = _object_source(filters, where)
        else:
            source = {"id": "raw", "dtype": [[str(f[0]), str(f[1])] for f in dtype]}
        if isinstance(zarr_dtype, list):
            extra["_COMPOUND_DTYPE"] = _zarr_dtype_fields(zarr_dtype, where)
        else:
            extra["_COMPOUND_DTYPE"] = [[str(f[0]), "object" if f[1] in ("|O", "O") else str(np.dtype(f[1]))] for f in dtype]
        out.update(dtype="|O", fill_value=0, filters=[JSON2_CONFIG, {"id": HdmfZarrObjectsCodec.codec_id, "source": source}, *filters])
    elif dtype == "|O":
        if filters and filters[0].get("id") in ("json2", "json") and zarr_dtype != "object":
            out["filters"] = [JSON2_CONFIG, *filters[1:]]  # already the model's form
        else:
            source, rest = _object_source(filters, where)
            out.update(filters=[JSON2_CONFIG, {"id": HdmfZarrObjectsCodec.codec_id, "source": source}, *rest])
        out["fill_value"] = 0
    return out, extra


def _object_source(filters: list[Any], where: str) -> tuple[dict[str, Any], list[Any]]:
    """Split an object array's filters into its object codec and the filters after it."""
    if not filters or not isinstance(filters[0], dict) or filters[0].get("id") not in _OBJECT_CODECS:
        raise UnsupportedError(
            f"Object array {where} has filters {filters!r}; hdmf-zarr's object codecs are "
            f"{', '.join(_OBJECT_CODECS)}."
        )
    first = filters[0]
    source = {"id": "pickle"} if first["id"] == "pickle" else dict(first)
    return source, filters[1:]


def translate_hdmf_zarr_v2(refmap: ReferenceMap, *, root_name: str = "") -> ReferenceMap:
    """Translate an hdmf-zarr v2 key map into the LINDI v2 model (a new map; ``refmap`` is kept).

    ``root_name`` is the store's folder name (``x.nwb.zarr``), against whose parent the
    ``source`` of external links is resolved.

    Raises
    ------
    MetadataError
        For malformed ``zarr_link`` or ``zarr_dtype`` annotations.
    UnsupportedError
        For object arrays with an object codec hdmf-zarr does not use.
    """
    keys = list(refmap.iter_keys(chunk_tables=False))
    arrays = {_split(k)[0] for k in keys if k.endswith(".zarray")}
    groups = {_split(k)[0] for k in keys if k.endswith(".zgroup")}
    model = ReferenceMap(source=refmap.source, templates=refmap.templates)
    separators: dict[str, str] = {}
    for key in keys:
        path, name = _split(key)
        if name == ".zmetadata" and not path:
            continue
        if name not in _META:
            continue
        doc = refmap.get_json(key)
        if not isinstance(doc, dict):
            raise MetadataError(f"{key} of {refmap.source} must be a JSON object.")
        prefix = path + "/" if path else ""
        if name == ".zgroup":
            model.set_json(key, doc)
            if prefix + ".zattrs" not in refmap:
                model.set_json(prefix + ".zattrs", {})
        elif name == ".zattrs" and path in groups:
            model.set_json(key, _attributes(doc, path))
            for child, link_attrs in _links(doc, path, root_name).items():
                model.set_json(f"{prefix}{child}/.zgroup", {"zarr_format": 2})
                model.set_json(f"{prefix}{child}/.zattrs", link_attrs)
        elif name == ".zarray":
            attrs = refmap.get_json(prefix + ".zattrs") or {}
            zarray, extra = _array(doc, attrs, path)
            separators[path] = str(doc.get("dimension_separator") or ".")
            model.set_json(key, zarray)
            model.set_json(prefix + ".zattrs", {**_attributes(attrs, path), **extra})
        elif name == ".zattrs" and path not in arrays:
            model.set_json(key, _attributes(doc, path))
    for key in keys:
        path, name = _split(key)
        if name in _META or (name == ".zmetadata" and not path):
            continue
        # a chunk: carried over, renamed to i.j where the store used "/"
        for array, sep in separators.items():
            if sep == "/" and key.startswith(array + "/"):
                model.set_raw(array + "/" + key[len(array) + 1:].replace("/", "."), refmap.raw(key))
                break
        else:
            model.set_raw(key, refmap.raw(key))
    logger.debug("translated hdmf-zarr v2 map %s: %d keys -> %d", refmap.source, len(keys), len(model))
    return model
