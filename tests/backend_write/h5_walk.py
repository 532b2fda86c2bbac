"""Describe an HDF5 file with h5py, exactly enough to compare two files value by value.

:func:`describe_h5` returns ``{path: entry}`` for every group, dataset and soft link (external
links by target). Values are canonical tuples so that ``==`` compares dtype, shape and content
exactly (NaN-safe, bit-exact for numbers):

* numbers and bools: ``("num", dtype.str, shape, raw bytes)``;
* strings: ``("str", encoding, shape, values)`` with h5py's string encoding (``utf-8`` or
  ``ascii``) -- fixed-length and variable-length strings of one encoding compare equal, the
  length is an HDF5 storage detail;
* object references: ``("ref", shape, target paths)``;
* compound datasets: ``("compound", ((field, canonical field values), ...))``.

Attributes keep their dtype the same way, so an int32 attribute that came back as int64 differs.
"""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np


def _canon(value: Any, f: h5py.File, dtype: np.dtype[Any] | None = None) -> tuple[Any, ...]:
    if isinstance(value, h5py.Reference):
        return ("ref", (), (f[value].name,) if value else (None,))
    if isinstance(value, str | bytes):
        encoding = "utf-8" if isinstance(value, str) else "bytes"
        return ("str", encoding, (), (value,))
    arr = np.asarray(value)
    dt = dtype if dtype is not None else arr.dtype
    if dt.names is not None:
        return ("compound", tuple((n, _canon(arr[n], f, dt.fields[n][0])) for n in dt.names))
    if h5py.check_ref_dtype(dt) is not None or (arr.dtype.kind == "O" and arr.size and isinstance(arr.flat[0], h5py.Reference)):
        return ("ref", arr.shape, tuple(f[r].name if r else None for r in arr.reshape(-1)))
    string = h5py.check_string_dtype(dt)
    if string is not None or arr.dtype.kind in "OU":
        items = tuple(v.decode(string.encoding if string else "utf-8") if isinstance(v, bytes) else str(v) for v in arr.reshape(-1))
        return ("str", string.encoding if string else "utf-8", arr.shape, items)
    if arr.dtype.kind == "S":
        return ("str", "ascii", arr.shape, tuple(v.decode("ascii") for v in arr.reshape(-1)))
    return ("num", arr.dtype.str, arr.shape, arr.tobytes())


def _dataset_value(ds: h5py.Dataset) -> tuple[Any, ...]:
    f = ds.file
    if ds.dtype.names is not None:
        return (
            "compound",
            tuple((n, _canon(ds.fields(n)[()], f, ds.dtype.fields[n][0])) for n in ds.dtype.names),
        )
    if h5py.check_string_dtype(ds.dtype) is not None:
        return _canon(ds.asstr()[()] if ds.shape != () else ds.asstr()[()], f, ds.dtype)
    return _canon(ds[()], f, ds.dtype)


def _attrs(obj: h5py.Group | h5py.Dataset) -> dict[str, tuple[Any, ...]]:
    out = {}
    for name in obj.attrs:
        dtype = obj.attrs.get_id(name).dtype
        out[name] = _canon(obj.attrs[name], obj.file, dtype)
    return out


def describe_h5(path: Any) -> dict[str, dict[str, Any]]:
    """Every object of the HDF5 file at ``path``: kind, attributes and (datasets) shape and value."""
    out: dict[str, dict[str, Any]] = {}
    with h5py.File(path, "r") as f:

        def walk(group: h5py.Group) -> None:
            out[group.name] = {"kind": "group", "attrs": _attrs(group)}
            for name in group:
                link = group.get(name, getlink=True)
                child = f"{group.name.rstrip('/')}/{name}"
                if isinstance(link, h5py.SoftLink):
                    out[child] = {"kind": "softlink", "target": link.path}
                    continue
                if isinstance(link, h5py.ExternalLink):
                    out[child] = {"kind": "extlink", "target": (link.filename, link.path)}
                    continue
                obj = group[name]
                if isinstance(obj, h5py.Group):
                    walk(obj)
                else:
                    out[child] = {"kind": "dataset", "attrs": _attrs(obj), "shape": obj.shape, "value": _dataset_value(obj)}

        walk(f)
    return out


def diff_descriptions(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> list[str]:
    """Human-readable differences between two :func:`describe_h5` results (empty if equal)."""
    problems = [f"only in the first: {p}" for p in sorted(set(a) - set(b))]
    problems += [f"only in the second: {p}" for p in sorted(set(b) - set(a))]
    for path in sorted(set(a) & set(b)):
        x, y = a[path], b[path]
        for key in sorted(set(x) | set(y)):
            if key == "attrs":
                for name in sorted(set(x["attrs"]) | set(y["attrs"])):
                    vx, vy = x["attrs"].get(name), y["attrs"].get(name)
                    if vx != vy:
                        problems.append(f"{path} attribute {name}: {_short(vx)} != {_short(vy)}")
            elif x.get(key) != y.get(key):
                problems.append(f"{path} {key}: {_short(x.get(key))} != {_short(y.get(key))}")
    return problems


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 300 else text[:300] + "..."
