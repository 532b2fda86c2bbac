"""Attribute values <-> JSON, as LINDI stores them in ``.zattrs`` (lindi-format.md §5.1). No I/O.

Encoding follows lindi exactly (non-finite floats as ``"NaN"``/``"Infinity"``/``"-Infinity"``,
bytes as UTF-8 text, references as ``_REFERENCE`` objects). Decoding follows lindi too, but
keeps booleans as booleans and reads ``[]`` as an empty float64 array.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..errors import MetadataError, UnsupportedError
from .references import Reference, is_reference_json

__all__ = ["ANNOTATION_KEYS", "TEXT_TAG", "apply_dtype_tag", "decode_attr", "dtype_tag", "encode_attr"]

ANNOTATION_KEYS = frozenset(
    {"_SCALAR", "_SOFT_LINK", "_REFERENCE", "_COMPOUND_DTYPE", "_EXTERNAL_ARRAY_LINK", "_EXTERNAL_LINK"}
)
"""Reserved ``.zattrs`` keys, hidden from user-visible attributes. The first five are lindi's;
``_EXTERNAL_LINK`` is hdmf_lindi's form for HDF5 external links, ``[filename, path]`` on an
empty group (lindi shows it as a string-array attribute, which it reads without error)."""

_NONFINITE_TEXT = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def rebase_link_files(zattrs: dict[str, Any], rebase: Callable[[str], str]) -> dict[str, Any]:
    """Return ``zattrs`` with the files its link annotations name passed through ``rebase``.

    The ``url`` of ``_EXTERNAL_ARRAY_LINK`` and the file name of ``_EXTERNAL_LINK`` name another
    file, possibly by a path relative to the LINDI file; a tool that moves the LINDI file (pack)
    rewrites them with this. Returns ``zattrs`` itself when there is nothing to change.
    """
    out = zattrs
    link = zattrs.get("_EXTERNAL_ARRAY_LINK")
    if isinstance(link, dict) and isinstance(link.get("url"), str):
        url = rebase(link["url"])
        if url != link["url"]:
            out = {**out, "_EXTERNAL_ARRAY_LINK": {**link, "url": url}}
    ext = zattrs.get("_EXTERNAL_LINK")
    if isinstance(ext, list) and len(ext) == 2 and isinstance(ext[0], str):
        filename = rebase(ext[0])
        if filename != ext[0]:
            out = {**out, "_EXTERNAL_LINK": [filename, ext[1]]}
    return out


def _encode_float(x: float) -> float | str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def _encode_scalar(value: Any, name: str) -> Any:
    if isinstance(value, Reference):
        return value.to_json()
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        if not -(2**63) <= value < 2**64:
            raise UnsupportedError(
                f"Attribute {name!r}: the integer {value} does not fit a 64-bit integer type."
            )
        return int(value)
    if isinstance(value, float | np.floating):
        return _encode_float(float(value))
    if isinstance(value, str | np.str_):
        return str(value)
    if isinstance(value, bytes | np.bytes_):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnsupportedError(
                f"Attribute {name!r}: bytes that are not UTF-8 cannot be stored in LINDI JSON."
            ) from exc
    raise UnsupportedError(
        f"Attribute {name!r} has a value of type {type(value).__name__}, which LINDI cannot store "
        "(use numbers, bools, strings, bytes, references or arrays of those)."
    )


def encode_attr(value: Any, name: str = "") -> Any:
    """Return the JSON form of an attribute value.

    Raises
    ------
    UnsupportedError
        For None, complex numbers, dicts, compound arrays, mixed lists, non-UTF-8 bytes,
        integers outside the int64/uint64 range, or a scalar string equal to
        ``NaN``/``Infinity``/``-Infinity`` (reserved for floats).
    """
    if isinstance(value, list | tuple):
        if any(isinstance(v, Reference) for v in value):
            raise UnsupportedError(
                f"Attribute {name!r}: lists of references are not supported in LINDI attributes."
            )
        kinds = {_list_item_kind(v) for v in _leaves(value)}
        try:
            value = np.asarray(value)
        except ValueError as exc:
            raise UnsupportedError(f"Attribute {name!r}: ragged lists are not supported.") from exc
        # np.asarray would silently turn [1, "a"] into strings and [True, 2] into ints
        if value.dtype.kind == "O" or len(kinds) > 1:
            raise UnsupportedError(
                f"Attribute {name!r}: a list mixing types is not supported; use one type."
            )
    if isinstance(value, np.ndarray):
        if value.dtype.fields is not None or value.dtype.kind == "c":
            raise UnsupportedError(
                f"Attribute {name!r} has dtype {value.dtype}; compound and complex attributes "
                "are not supported."
            )
        if value.ndim == 0:
            return encode_attr(value[()], name)
        return _encode_nested(value.tolist(), name)
    if isinstance(value, str | np.str_) and str(value) in _NONFINITE_TEXT:
        raise UnsupportedError(
            f"Attribute {name!r}: the string {str(value)!r} is reserved for non-finite floats in "
            "LINDI and would read back as a float."
        )
    if isinstance(value, complex | np.complexfloating):
        raise UnsupportedError(f"Attribute {name!r}: complex values are not supported.")
    return _encode_scalar(value, name)


def _leaves(items: Any) -> Iterator[Any]:
    for v in items:
        if isinstance(v, list | tuple):
            yield from _leaves(v)
        elif isinstance(v, np.ndarray):
            yield from v.reshape(-1).tolist()
        else:
            yield v


def _list_item_kind(value: Any) -> str:
    if isinstance(value, str | bytes | np.str_ | np.bytes_):
        return "text"
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | float | np.integer | np.floating):
        return "number"
    return type(value).__name__


def _encode_nested(items: list[Any], name: str) -> list[Any]:
    return [_encode_nested(v, name) if isinstance(v, list) else _encode_scalar(v, name) for v in items]


def _decode_nonfinite(obj: Any) -> Any:
    if isinstance(obj, str):
        return _NONFINITE_TEXT.get(obj, obj)
    if isinstance(obj, list):
        return [_decode_nonfinite(v) for v in obj]
    return obj


def _flatten(obj: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in obj:
        out.extend(_flatten(v) if isinstance(v, list) else [v])
    return out


def decode_attr(obj: Any, name: str = "") -> Any:
    """Return the value of a JSON attribute: numpy scalars and arrays, str, or Reference.

    Raises
    ------
    MetadataError
        For JSON objects other than ``_REFERENCE``, for lists mixing strings and numbers, and for
        ragged nested lists.
    """
    if is_reference_json(obj):
        return Reference.from_json(obj, where=f" in attribute {name!r}")
    if isinstance(obj, bool):
        return np.bool_(obj)
    if isinstance(obj, int):
        return _int_dtype([obj], name).type(obj)
    if isinstance(obj, float):
        return np.float64(obj)
    if isinstance(obj, str):
        value = _NONFINITE_TEXT.get(obj)
        return obj if value is None else np.float64(value)
    if isinstance(obj, list):
        return _decode_list(obj, name)
    raise MetadataError(f"Attribute {name!r} holds a JSON {type(obj).__name__}, which LINDI does not define.")


def _nested_shape(obj: Any) -> tuple[int, ...] | None:
    """Return the shape of a rectangular nested list, or None if it is ragged."""
    if not isinstance(obj, list):
        return ()
    shapes = {_nested_shape(v) for v in obj}
    if len(shapes) > 1 or None in shapes:
        return None
    inner = shapes.pop() if shapes else ()
    return None if inner is None else (len(obj), *inner)


def _int_dtype(values: list[int], name: str) -> np.dtype[Any]:
    """Return int64, or uint64 when a value needs it; raise if no 64-bit integer holds them all."""
    low, high = min(values), max(values)
    if -(2**63) <= low and high < 2**63:
        return np.dtype(np.int64)
    if 0 <= low and high < 2**64:
        return np.dtype(np.uint64)
    raise MetadataError(
        f"Attribute {name!r} holds integers from {low} to {high}; no 64-bit integer type holds "
        "them all."
    )


def _decode_list(obj: list[Any], name: str) -> np.ndarray[Any, Any]:
    if _nested_shape(obj) is None:
        raise MetadataError(f"Attribute {name!r} is a ragged nested list ({obj!r:.80}); LINDI does not define it.")
    flat = _flatten(obj)
    if not flat:
        return np.asarray(obj, dtype=np.float64)
    if all(isinstance(v, str) for v in flat):
        if all(v in _NONFINITE_TEXT for v in flat):
            return np.asarray(_decode_nonfinite(obj), dtype=np.float64)
        return np.asarray(obj, dtype=object)
    if all(isinstance(v, bool) for v in flat):
        return np.asarray(obj, dtype=bool)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in flat):
        return np.asarray(obj, dtype=_int_dtype(flat, name))
    if all(isinstance(v, int | float) and not isinstance(v, bool) or isinstance(v, str) and v in _NONFINITE_TEXT for v in flat):
        return np.asarray(_decode_nonfinite(obj), dtype=np.float64)
    if all(is_reference_json(v) for v in flat):
        out = np.empty(len(flat), dtype=object)
        out[:] = [Reference.from_json(v) for v in flat]
        return out
    raise MetadataError(f"Attribute {name!r} is a list mixing types ({obj!r:.80}); LINDI does not define it.")


_JSON_NATIVE = frozenset({"<i8", "<f8", "|b1"})


def dtype_tag(value: Any) -> str | None:
    """Return the dtype to record for a numeric attribute JSON would widen, else None.

    JSON numbers read back as int64 or float64; a ``uint8``, ``int32`` or ``float32`` attribute
    (scalar or array) gets its numpy dtype string (``"|u1"``, ``"<i4"``, ``"<f4"``) recorded next
    to the document, so that it reads back with the same dtype (docs/format_notes.rst). An empty
    bool array gets ``"|b1"`` (a non-empty one reads back as bool from its JSON ``true``/``false``).
    """
    dtype = getattr(value, "dtype", None)
    if isinstance(value, np.ndarray) and value.size == 0 and value.dtype.kind == "b":
        return "|b1"
    if not isinstance(dtype, np.dtype) or dtype.kind not in "iuf" or isinstance(value, bool):
        return None
    tag = dtype.newbyteorder("<").str if dtype.byteorder == ">" else dtype.str
    return None if tag in _JSON_NATIVE else tag


TEXT_TAG = "text"
"""The tag of a text attribute whose value is ``"NaN"``, ``"Infinity"`` or ``"-Infinity"`` (or a
list of only those), which the JSON alone would read as floats. Files in the Zarr v3 dialect of
hdmf-zarr have such text attributes (it writes float attributes as bare JSON tokens)."""

_TEXT_OF = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _nonfinite_as_text(value: Any) -> Any:
    """Turn the floats a :data:`TEXT_TAG` attribute decoded to back into their text."""
    if isinstance(value, np.floating):
        return _TEXT_OF.get(str(float(value)), value)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        out = np.empty(value.shape, dtype=object)
        out.reshape(-1)[:] = [_TEXT_OF.get(str(float(v)), str(v)) for v in value.reshape(-1)]
        return out
    return value


def apply_dtype_tag(value: Any, tag: str | None) -> Any:
    """Cast a decoded numeric attribute to a recorded dtype; anything else is returned as is."""
    if tag is None:
        return value
    if tag == TEXT_TAG:
        return _nonfinite_as_text(value)
    try:
        dtype = np.dtype(tag)
    except TypeError:
        return value
    if dtype.kind == "b" and isinstance(value, np.ndarray) and value.size == 0:
        return value.astype(dtype)  # JSON [] reads as float64
    if dtype.kind not in "iuf":
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind in "iuf":
        return value.astype(dtype)
    if isinstance(value, np.integer | np.floating):
        return dtype.type(value)
    return value
