"""Zarr v2 ``.zarray`` metadata: parsing, validation, fill values and chunk keys. No I/O."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import MetadataError
from .codecs import Pipeline
from .dtypes import parse_zarr_dtype

__all__ = ["ArrayMeta", "chunk_key", "decode_fill_value", "encode_fill_value"]

_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def chunk_key(index: tuple[int, ...]) -> str:
    """Return the Zarr v2 key suffix of a chunk grid index (``"i.j.k"``; ``"0"`` for 0-d)."""
    return ".".join(map(str, index)) if index else "0"


def decode_fill_value(value: Any, dtype: np.dtype[Any], *, where: str = "") -> Any:
    """Decode a ``fill_value`` as Zarr v2 stores it (NaN strings, base64 bytes).

    Raises
    ------
    MetadataError
        If the value is not one element of ``dtype`` (a list, an object, a string for an integer
        dtype, an integer out of range), or, for an object dtype, not a JSON scalar.
    """
    if value is None:
        return None
    if dtype.kind == "f" and isinstance(value, str):
        return _NONFINITE.get(value, math.nan)
    if dtype.kind == "S" and isinstance(value, str):
        try:
            return base64.b64decode(value)
        except ValueError:
            return value.encode("utf-8")
    if dtype.kind == "O":
        if not isinstance(value, str | int | float | bool):
            raise MetadataError(
                f"'fill_value' of {where} must be a JSON scalar for dtype |O, got {value!r}."
            )
        return value
    try:
        ok = np.asarray(value, dtype=dtype).ndim == 0
    except (ValueError, TypeError, OverflowError):
        ok = False
    if not ok:
        raise MetadataError(f"'fill_value' {value!r} of {where} is not a value of dtype {dtype}.")
    return value


def encode_fill_value(value: Any, dtype: np.dtype[Any]) -> Any:
    """Encode a fill value the way zarr 2 writes it."""
    if value is None:
        return None
    if dtype.kind == "f":
        f = float(value)
        if math.isnan(f):
            return "NaN"
        if math.isinf(f):
            return "Infinity" if f > 0 else "-Infinity"
        return f
    if dtype.kind == "b":
        return bool(value)
    if dtype.kind in "iu":
        return int(value)
    if dtype.kind == "S":
        return base64.b64encode(bytes(value)).decode("ascii")
    if dtype.kind == "O":
        return 0
    return value


_MAX_SIZE = 2**63 - 1
"""The largest element count (and byte count) NumPy can index."""


def _int_list(value: Any, name: str, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(type(v) is int and v >= 0 for v in value):
        raise MetadataError(
            f"'{name}' of {where} must be a list of non-negative integers, got {value!r}."
        )
    if any(v > _MAX_SIZE for v in value):
        raise MetadataError(f"'{name}' {value!r} of {where} has an entry of 2**63 or more.")
    return tuple(value)


@dataclass(frozen=True, slots=True)
class ArrayMeta:
    """A validated ``.zarray``."""

    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    dtype: np.dtype[Any]
    fill_value: Any
    compressor: dict[str, Any] | None
    filters: list[dict[str, Any]] | None
    pipeline: Pipeline = field(compare=False, repr=False)

    @classmethod
    def from_dict(cls, obj: Any, *, where: str) -> ArrayMeta:
        """Parse and validate a ``.zarray`` object.

        Raises
        ------
        MetadataError
            If a field is missing or malformed.
        UnsupportedError
            If a codec is unknown to numcodecs.
        """
        if not isinstance(obj, dict):
            raise MetadataError(f".zarray of {where} must be an object, got {type(obj).__name__}.")
        if obj.get("zarr_format") != 2:
            raise MetadataError(
                f".zarray of {where} has zarr_format {obj.get('zarr_format')!r}; only Zarr v2 "
                "metadata is used in LINDI files."
            )
        shape = _int_list(obj.get("shape"), "shape", where)
        chunks = _int_list(obj.get("chunks"), "chunks", where)
        if len(chunks) != len(shape) or any(c == 0 for c in chunks):
            raise MetadataError(
                f"'chunks' {list(chunks)} of {where} must have one positive entry per dimension of "
                f"shape {list(shape)}."
            )
        if obj.get("order", "C") != "C":
            raise MetadataError(f"{where} uses order {obj.get('order')!r}; only 'C' is supported.")
        dtype = parse_zarr_dtype(obj.get("dtype"), where=where)
        if math.prod(shape) > _MAX_SIZE or math.prod(chunks) * max(dtype.itemsize, 1) > _MAX_SIZE:
            raise MetadataError(
                f"shape {list(shape)} / chunks {list(chunks)} of {where} describe more than 2**63 "
                "elements or bytes; NumPy cannot index such an array."
            )
        return cls(
            shape=shape,
            chunks=chunks,
            dtype=dtype,
            fill_value=decode_fill_value(obj.get("fill_value"), dtype, where=where),
            compressor=obj.get("compressor"),
            filters=obj.get("filters"),
            pipeline=Pipeline(obj.get("compressor"), obj.get("filters"), where=f" of {where}"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the ``.zarray`` object as zarr 2 writes it."""
        dtype_str = "|O" if self.dtype.kind == "O" or self.dtype.fields else self.dtype.str
        return {
            "zarr_format": 2,
            "shape": list(self.shape),
            "chunks": list(self.chunks),
            "dtype": dtype_str,
            "fill_value": encode_fill_value(self.fill_value, self.dtype),
            "order": "C",
            "compressor": self.compressor,
            "filters": self.filters,
        }

    @property
    def grid(self) -> tuple[int, ...]:
        """Number of chunks along each dimension."""
        return tuple(-(-s // c) for s, c in zip(self.shape, self.chunks, strict=True))
