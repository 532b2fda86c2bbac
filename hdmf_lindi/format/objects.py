"""The ``json2`` chunk layout of object arrays: strings, references and compound rows. No I/O.

A chunk is the JSON text of ``array.tolist()`` followed by two items, the dtype string ``"|O"``
and the chunk shape (lindi-format.md §5.3), serialised exactly as numcodecs' ``JSON`` codec does
with LINDI's configuration, so zarr 2 and lindi read what we write.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..errors import MetadataError
from .references import Reference, is_reference_json

__all__ = ["decode_object_chunk", "encode_object_chunk", "element_to_json", "element_from_json"]


def element_to_json(value: Any) -> Any:
    """Convert one element (or compound field value) to its JSON form."""
    if isinstance(value, Reference):
        return value.to_json()
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.void):
        return [element_to_json(v) for v in value.tolist()]
    if isinstance(value, tuple):
        return [element_to_json(v) for v in value]
    return value


def element_from_json(value: Any) -> Any:
    """Convert one JSON element back: ``_REFERENCE`` objects become References."""
    if is_reference_json(value):
        return Reference.from_json(value)
    return value


def encode_object_chunk(chunk: np.ndarray[Any, Any]) -> bytes:
    """Return the ``json2`` text of an object (or structured) chunk array."""
    if chunk.dtype.fields is not None:
        items: list[Any] = [element_to_json(tuple(row)) for row in chunk.reshape(-1)]
        listing = _nest(items, chunk.shape)
    else:
        listing = _nest([element_to_json(v) for v in chunk.reshape(-1)], chunk.shape)
    listing.extend(["|O", list(chunk.shape)])
    return json.dumps(
        listing, ensure_ascii=True, allow_nan=True, sort_keys=True, separators=(",", ":")
    ).encode("utf-8")


def _nest(flat: list[Any], shape: tuple[int, ...]) -> list[Any]:
    if len(shape) <= 1:
        return list(flat)
    step = len(flat) // shape[0] if shape[0] else 0
    return [_nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def decode_object_chunk(raw: bytes | bytearray | memoryview, *, where: str = "") -> tuple[list[Any], tuple[int, ...]]:
    """Parse ``json2`` chunk text into a flat element list (C order) and the chunk shape.

    Raises
    ------
    MetadataError
        If the text is not a ``json2`` chunk.
    """
    try:
        items = json.loads(bytes(raw))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MetadataError(f"Object chunk{where} is not valid JSON: {exc}.") from exc
    if not isinstance(items, list) or len(items) < 2 or not isinstance(items[-1], list):
        raise MetadataError(f"Object chunk{where} lacks the trailing dtype and shape items.")
    shape = items[-1]
    if not all(type(s) is int and s >= 0 for s in shape):
        raise MetadataError(
            f"Object chunk{where} ends with shape {shape!r}; expected a list of non-negative integers."
        )
    body = items[:-2]
    flat: list[Any] = []
    _flatten_to(body, len(shape), flat, where)
    return flat, tuple(shape)


def _flatten_to(items: list[Any], depth: int, out: list[Any], where: str) -> None:
    if depth <= 1:
        out.extend(items)
        return
    for sub in items:
        if not isinstance(sub, list):
            raise MetadataError(
                f"Object chunk{where} has {sub!r} where a nested list of {depth - 1} levels belongs."
            )
        _flatten_to(sub, depth - 1, out, where)
