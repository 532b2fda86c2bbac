"""Decide how a new dataset is laid out: dtype, shape, chunks, codecs, fill value, annotations.

Pure: turns h5py-style ``create_dataset`` arguments into ``.zarray`` / ``.zattrs`` content and the
coerced data. No I/O.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import LindiWarning, UnsupportedError
from ..format.codecs import JSON2_CONFIG, LINDI_UNREADABLE_CODECS, codec_from_compression
from ..format.dtypes import (
    compound_to_annotation,
    is_reference_dtype,
    ref_dtype,
    string_dtype,
    zarr_dtype_string,
)
from ..format.references import Reference
from ..format.zarr_v2 import ArrayMeta, encode_fill_value

__all__ = ["DatasetPlan", "plan_dataset", "infer_data"]

TARGET_CHUNK_BYTES = 1 << 20  # 1 MiB: small enough for remote slices, large enough for throughput
OBJECT_CHUNK_ELEMENTS = 1 << 16


@dataclass(frozen=True, slots=True)
class DatasetPlan:
    """Everything needed to create a dataset."""

    zarray: dict[str, Any]
    zattrs: dict[str, Any]
    dtype: np.dtype[Any]
    """The dtype presented to users."""
    shape: tuple[int, ...]
    """The user-visible shape (``()`` for scalars)."""
    data: np.ndarray[Any, Any] | None
    """Data to write (already coerced), or None."""


def _looks_like_reference(data: Any) -> bool:
    return isinstance(data, Reference) or (
        isinstance(data, list | tuple) and len(data) > 0 and all(isinstance(v, Reference) for v in data)
    )


def infer_data(data: Any, dtype: Any) -> tuple[np.ndarray[Any, Any], np.dtype[Any]]:
    """Turn user data into an array and choose the dataset dtype.

    Strings (``str``, numpy ``U``, lists of str) become variable-length string datasets;
    ``Reference`` values become reference datasets; bytes stay fixed-length ``S``.

    Raises
    ------
    UnsupportedError
        For complex data or objects that are neither strings nor references.
    """
    want = np.dtype(dtype) if dtype is not None and not isinstance(dtype, np.dtype) else dtype
    if want is not None and (want.kind == "O" or want.fields is not None):
        if want.fields is not None:
            arr = np.asarray(data) if isinstance(data, np.ndarray) else np.array(data, dtype=want)
            return arr, want
        arr = np.empty(np.shape(data), dtype=object)
        arr[...] = data
        return arr, want
    if want is None and _looks_like_reference(data):
        arr = np.empty(np.shape(data) if not isinstance(data, Reference) else (), dtype=object)
        arr[...] = data
        return arr, ref_dtype
    arr = np.asarray(data)
    if arr.dtype.kind == "U":
        obj = np.empty(arr.shape, dtype=object)
        obj[...] = arr.astype(object)
        return obj, string_dtype()
    if arr.dtype.kind == "O":
        flat = arr.reshape(-1)
        if all(isinstance(v, str | bytes) for v in flat):
            return arr, string_dtype()
        if all(isinstance(v, Reference) for v in flat):
            return arr, ref_dtype
        raise UnsupportedError(
            "Object data must hold only strings or only references; got "
            f"{sorted({type(v).__name__ for v in flat})}."
        )
    if arr.dtype.kind == "c":
        raise UnsupportedError("Complex data is not supported by LINDI.")
    if want is not None:
        arr = arr.astype(want)
    return arr, arr.dtype if want is None else want


def _auto_chunks(shape: tuple[int, ...], dtype: np.dtype[Any]) -> tuple[int, ...]:
    if not shape:
        return (1,)
    if any(s == 0 for s in shape):
        return tuple(max(s, 1) for s in shape)
    if dtype.kind == "O" or dtype.fields is not None:
        row = int(np.prod(shape[1:]))
        rows = max(1, OBJECT_CHUNK_ELEMENTS // max(row, 1))
    else:
        row_bytes = int(np.prod(shape[1:])) * dtype.itemsize
        rows = max(1, TARGET_CHUNK_BYTES // max(row_bytes, 1))
    return (min(shape[0], rows),) + tuple(shape[1:])


def plan_dataset(
    *,
    shape: Any,
    dtype: Any,
    data: Any,
    chunks: Any,
    compression: Any,
    compression_opts: Any,
    compressor: Any,
    shuffle: bool,
    fillvalue: Any,
) -> DatasetPlan:
    """Work out the layout of a new dataset from h5py-style arguments.

    Raises
    ------
    ValueError
        If ``shape`` and ``data`` disagree or neither is given.
    MetadataError
        If the layout could not be read back: a negative dimension, or more than 2**63
        elements or chunk bytes.
    UnsupportedError
        For unsupported dtypes or compression names.
    """
    arr: np.ndarray[Any, Any] | None = None
    if data is not None:
        arr, dt = infer_data(data, dtype)
        if shape is not None and tuple(np.shape(arr)) != tuple(shape) and np.size(arr) != int(np.prod(shape)):
            raise ValueError(f"Shape {tuple(shape)} does not match the data's shape {arr.shape}.")
        if shape is not None:
            arr = arr.reshape(tuple(shape))
    else:
        if shape is None:
            raise ValueError("create_dataset needs shape= or data=.")
        if dtype is None:
            dt = np.dtype("f4")  # h5py's default dtype
        elif dtype is str:
            dt = string_dtype()
        else:
            dt = np.dtype(dtype)
    user_shape = tuple(int(s) for s in (arr.shape if arr is not None else np.atleast_1d(shape) if shape != () else ()))
    if arr is None and isinstance(shape, int):
        user_shape = (int(shape),)
    if dt.kind == "U":
        dt = string_dtype()
        if arr is not None:
            arr = arr.astype(object)
    is_scalar = user_shape == ()
    store_shape = (1,) if is_scalar else user_shape
    zarr_dtype = zarr_dtype_string(dt)
    if chunks in (None, True) or is_scalar:
        chunk_shape = _auto_chunks(store_shape, dt) if not is_scalar else (1,)
    else:
        chunk_shape = tuple(int(c) for c in chunks)
        if len(chunk_shape) != len(store_shape) or any(c <= 0 for c in chunk_shape):
            raise ValueError(f"chunks {chunk_shape} must have one positive entry per dimension of {store_shape}.")
    codec = compressor if compressor is not None else codec_from_compression(compression, compression_opts)
    if codec is not None and codec.codec_id in LINDI_UNREADABLE_CODECS:
        warnings.warn(
            f"Chunks compressed with {codec.codec_id!r} cannot be read by lindi 0.4.6 (it zero-pads "
            "compressed chunks before decoding). hdmf_lindi reads them; use 'gzip', 'zlib' or "
            "'blosc' if lindi must read this file.",
            LindiWarning,
            stacklevel=3,
        )
    filters: list[dict[str, Any]] | None = None
    zattrs: dict[str, Any] = {}
    if zarr_dtype == "|O":
        filters = [dict(JSON2_CONFIG)]
        if dt.fields is not None:
            zattrs["_COMPOUND_DTYPE"] = compound_to_annotation(dt)
        fill: Any = 0
    else:
        if shuffle and dt.itemsize > 1:
            filters = [{"id": "shuffle", "elementsize": dt.itemsize}]
        fill = _default_fill(dt) if fillvalue is None else fillvalue
    if is_scalar:
        zattrs["_SCALAR"] = True
    zarray = {
        "zarr_format": 2,
        "shape": list(store_shape),
        "chunks": list(chunk_shape),
        "dtype": zarr_dtype,
        "fill_value": encode_fill_value(fill, dt) if zarr_dtype != "|O" else 0,
        "order": "C",
        "compressor": codec.get_config() if codec is not None else None,
        "filters": filters,
    }
    # what cannot be read back must not be written: the reader's checks (shape, chunks, size)
    ArrayMeta.from_dict(zarray, where="the new dataset")
    if arr is not None and is_scalar:
        arr = arr.reshape((1,))
    if is_reference_dtype(dt) and arr is not None:
        bad = [v for v in arr.reshape(-1) if not isinstance(v, Reference)]
        if bad:
            raise UnsupportedError(f"Reference datasets hold only References; got {type(bad[0]).__name__}.")
    return DatasetPlan(zarray=zarray, zattrs=zattrs, dtype=dt, shape=user_shape, data=arr)


def _default_fill(dtype: np.dtype[Any]) -> Any:
    if dtype.kind == "b":
        return False
    if dtype.kind == "S":
        return b""
    if dtype.kind == "f":
        return 0.0
    return 0
