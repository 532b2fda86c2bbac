"""NumPy dtypes <-> Zarr v2 dtype strings and LINDI's ``_COMPOUND_DTYPE``. No I/O.

Kinds of dataset dtype, as LINDI stores them:

* numeric and bool: the NumPy type string (``<f8``, ``|b1``, ``>i4``);
* fixed-length bytes: ``|S<n>``; fixed-length text ``<U<n>`` (lindi's scalar strings);
* variable-length strings, references, compounds: ``|O`` with the ``json2`` filter. Which of the
  three it is comes from annotations (``_COMPOUND_DTYPE``) or, for strings versus references,
  from the element values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import MetadataError, UnsupportedError
from .references import Reference

__all__ = [
    "REFERENCE_TYPE",
    "compound_from_annotation",
    "compound_to_annotation",
    "is_reference_dtype",
    "is_string_dtype",
    "parse_zarr_dtype",
    "ref_dtype",
    "string_dtype",
    "zarr_dtype_string",
]

REFERENCE_TYPE = "<REFERENCE>"

ref_dtype: np.dtype[Any] = np.dtype("O", metadata={"ref": Reference})
"""Dtype of object-reference datasets (like ``h5py.ref_dtype``)."""


def string_dtype(encoding: str = "utf-8") -> np.dtype[Any]:
    """Return the dtype of variable-length string datasets (like ``h5py.string_dtype()``)."""
    return np.dtype("O", metadata={"vlen": str if encoding == "utf-8" else bytes})


def is_reference_dtype(dtype: np.dtype[Any]) -> bool:
    """Whether ``dtype`` marks object references (ours or h5py's)."""
    meta: Any = dtype.metadata or {}
    return dtype.kind == "O" and "ref" in meta


def is_string_dtype(dtype: np.dtype[Any]) -> bool:
    """Whether ``dtype`` is a variable-length string dtype (object with ``vlen`` metadata)."""
    meta: Any = dtype.metadata or {}
    return dtype.kind == "O" and meta.get("vlen") in (str, bytes)


def zarr_dtype_string(dtype: np.dtype[Any]) -> str:
    """Return the Zarr v2 dtype string for a NumPy dtype.

    Raises
    ------
    UnsupportedError
        For complex, datetime, void-without-fields and other dtypes LINDI cannot hold.
    """
    if dtype.fields is not None or dtype.kind == "O":
        return "|O"
    if dtype.kind in "iufbSU":
        return dtype.str
    raise UnsupportedError(
        f"Datasets of dtype {dtype} are not supported by LINDI (numeric, bool, strings, "
        "compound and references are)."
    )


def parse_zarr_dtype(text: Any, *, where: str = "") -> np.dtype[Any]:
    """Parse a Zarr v2 dtype string.

    Raises
    ------
    MetadataError
        If the string is not a NumPy type string (structured Zarr dtypes are not used by LINDI).
    """
    if not isinstance(text, str):
        raise MetadataError(
            f"'dtype' of {where or 'an array'} must be a string, got {text!r}; LINDI stores "
            "compound types as '|O' plus _COMPOUND_DTYPE."
        )
    try:
        return np.dtype(text)
    except TypeError as exc:
        raise MetadataError(f"Unknown dtype {text!r} in {where or 'an array'}: {exc}.") from exc


def compound_to_annotation(dtype: np.dtype[Any]) -> list[list[str]]:
    """Return ``_COMPOUND_DTYPE`` for a structured dtype: ``[[name, type string], ...]``.

    Type strings are NumPy's ``str(dtype)`` (``int32``, ``|S5``, ``>i2``), ``<REFERENCE>`` for
    reference fields and ``object`` for variable-length string fields.

    Raises
    ------
    UnsupportedError
        For nested compounds or sub-array fields.
    """
    assert dtype.names is not None
    out: list[list[str]] = []
    for name in dtype.names:
        field = dtype.fields[name][0]  # type: ignore[index]
        if field.fields is not None or field.subdtype is not None:
            raise UnsupportedError(
                f"Compound field {name!r} has dtype {field}; nested compounds and sub-arrays "
                "are not supported."
            )
        if is_reference_dtype(field):
            out.append([name, REFERENCE_TYPE])
        elif field.kind == "O":
            out.append([name, "object"])
        else:
            out.append([name, str(field)])
    return out


def compound_from_annotation(annotation: Any, *, where: str = "") -> np.dtype[Any]:
    """Build the structured dtype for a ``_COMPOUND_DTYPE`` annotation.

    Raises
    ------
    MetadataError
        If the annotation is not a list of ``[name, type string]`` pairs.
    """
    if not isinstance(annotation, list) or not annotation:
        raise MetadataError(f"_COMPOUND_DTYPE of {where} must be a non-empty list, got {annotation!r}.")
    fields: list[tuple[str, Any]] = []
    for item in annotation:
        if not (isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item)):
            raise MetadataError(
                f"_COMPOUND_DTYPE of {where} has entry {item!r}; expected [name, type string]."
            )
        name, type_string = item
        if type_string == REFERENCE_TYPE:
            fields.append((name, ref_dtype))
        elif type_string in ("object", "|O", "O"):
            fields.append((name, string_dtype()))
        else:
            try:
                fields.append((name, np.dtype(type_string)))
            except TypeError as exc:
                raise MetadataError(
                    f"_COMPOUND_DTYPE of {where} has unknown type {type_string!r} for field {name!r}."
                ) from exc
    try:
        return np.dtype(fields)
    except (ValueError, TypeError) as exc:  # a repeated or empty field name
        raise MetadataError(f"_COMPOUND_DTYPE of {where} is not a valid compound type: {exc}.") from exc
