"""Drive the reference implementation, lindi 0.4.6, for the interoperability tests.

Run by the python of a virtual environment that has lindi 0.4.6 (zarr 2, h5py); it never imports
hdmf_lindi. Subcommands::

    dump FILE                      print a canonical JSON description of FILE as lindi reads it
    write FORM OUTPATH             write a file from scratch with lindi's h5py-like API
    convert H5PATH OUTPATH [--chunks-threshold N] [--split-bytes N]
                                   convert an HDF5 file with lindi (.lindi.json or .lindi.tar)
    append FILE                    add a group ``lindi_added`` to an existing LINDI file
    version                        print the versions of lindi and zarr

The canonical description (:func:`describe_tree`) uses only numpy at import time, so the tests
import this module to describe the trees that hdmf_lindi and h5py read in exactly the same way.
Its shape::

    {"/": {"kind": "group", "attrs": {...}},
     "/a/b": {"kind": "dataset", "attrs": {...}, "shape": [...], "dtype": "<f8", "value": ...},
     "/a/link": {"kind": "softlink", "target": "/a/b"}}

Values are JSON: numbers stay numbers (ints as ints, floats as floats, NaN and +/-Inf as the
strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``), bools stay bools, ``str`` stays a string,
``bytes`` become ``{"bytes": latin-1 text}``, references ``{"ref": target path}``. An array
attribute is ``{"array": nested list, "kind": dtype kind}``; a dataset's value is the nested list
(or the scalar); a compound dataset's value is ``{"fields": {name: per-field values}}``.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

# ---------------------------------------------------------------- canonical description


def _float(x: float) -> Any:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def canon_value(value: Any, deref: Callable[[Any], str | None]) -> Any:
    """Return the canonical JSON form of a value read from an attribute or a dataset.

    ``deref(x)`` returns the target path when ``x`` is an object reference, else None.
    """
    target = deref(value)
    if target is not None:
        return {"ref": target}
    if isinstance(value, np.ndarray):
        return (
            [canon_value(v, deref) for v in value] if value.ndim else canon_value(value[()], deref)
        )
    if isinstance(value, list | tuple):
        return [canon_value(v, deref) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return _float(float(value))
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes | np.bytes_):
        return {"bytes": bytes(value).decode("latin-1")}
    raise TypeError(f"cannot describe a value of type {type(value).__name__}: {value!r}")


def canon_attr(value: Any, deref: Callable[[Any], str | None]) -> Any:
    """Canonical form of an attribute: scalars as they are, arrays with their dtype kind."""
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return {"array": canon_value(value, deref), "kind": value.dtype.kind}
    return canon_value(value, deref)


def canon_dtype(dtype: np.dtype) -> Any:
    """Canonical dtype: the NumPy type string; ``"object"`` for variable-length strings,
    ``U`` strings and references (the values tell which); fields for compounds."""
    if dtype.names is not None:
        return {"compound": [[n, canon_dtype(dtype.fields[n][0])] for n in dtype.names]}
    if dtype.kind in "OU":
        return "object"
    return dtype.str


def describe_tree(
    root: Any,
    *,
    is_group: Callable[[Any], bool],
    soft_link_path: Callable[[Any], str | None],
    deref: Callable[[Any], str | None],
    read_dataset: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    """Describe every object below (and including) ``root``, an h5py-like file.

    ``soft_link_path(link)`` returns the target path of what ``group.get(name, getlink=True)``
    returned when it is a soft link, else None. ``read_dataset(ds)`` returns the dataset's full
    value (default: ``ds[()]`` for scalars, per-field ``ds[name][...]`` for compounds, else
    ``ds[...]``).
    """
    out: dict[str, Any] = {}

    def attrs_of(obj: Any) -> dict[str, Any]:
        return {k: canon_attr(obj.attrs[k], deref) for k in sorted(obj.attrs.keys())}

    def default_read(ds: Any) -> Any:
        if ds.dtype.names is not None:
            return {"fields": {n: canon_value(ds[n][...], deref) for n in ds.dtype.names}}
        if ds.shape == ():
            return canon_value(ds[()], deref)
        return canon_value(ds[...], deref)

    reader = read_dataset or default_read

    def walk(group: Any, path: str) -> None:
        out[path or "/"] = {"kind": "group", "attrs": attrs_of(group)}
        for name in sorted(group.keys()):
            child_path = f"{path}/{name}"
            link = group.get(name, getlink=True)
            target = soft_link_path(link)
            if target is not None:
                out[child_path] = {"kind": "softlink", "target": target}
                continue
            obj = group[name]
            if is_group(obj):
                walk(obj, child_path)
            else:
                value = reader(obj)
                out[child_path] = {
                    "kind": "dataset",
                    "attrs": attrs_of(obj),
                    "shape": list(obj.shape),
                    "dtype": canon_dtype(obj.dtype),
                    "value": value,
                }

    walk(root, "")
    return out


# ---------------------------------------------------------------- lindi side


def _open(path: str, mode: str) -> Any:
    import lindi

    return lindi.LindiH5pyFile.from_lindi_file(path, mode=mode)


def cmd_dump(path: str) -> dict[str, Any]:
    import lindi

    f = _open(path, "r")
    try:

        def deref(x: Any) -> str | None:
            if isinstance(x, lindi.LindiH5pyReference):
                return str(f[x].name)
            return None

        def soft(link: Any) -> str | None:
            if isinstance(link, lindi.LindiH5pySoftLink):
                return str(link.path)
            return None

        return describe_tree(
            f,
            is_group=lambda o: isinstance(o, lindi.LindiH5pyGroup | lindi.LindiH5pyFile),
            soft_link_path=soft,
            deref=deref,
        )
    finally:
        f.close()


def _random(seed: int, n: int) -> np.ndarray:
    return np.random.RandomState(seed).rand(n)


def cmd_write(form: str, outpath: str) -> None:
    """Write a file from scratch with lindi; every chunk of a multi-chunk array is >= 1000 bytes
    after compression (random float64), which avoids lindi's dropped-chunk bug (format §9.5)."""
    import h5py

    expected_suffix = {"json": ".lindi.json", "tar": ".lindi.tar", "dir": ".lindi.d"}[form]
    if not outpath.endswith(expected_suffix):
        raise SystemExit(f"write {form}: OUTPATH must end with {expected_suffix}")
    with _open(outpath, "w") as f:
        f.attrs["title"] = "written by lindi"
        f.attrs["nan_attr"] = float("nan")
        f.attrs["inf_attr"] = float("inf")
        f.attrs["int_attr"] = 7
        f.attrs["float_list"] = np.array([1.5, -2.25, np.nan])
        f.attrs["int_arr_2d"] = np.array([[1, 2, 3], [4, 5, 6]], dtype="int32")
        f.attrs["str_list"] = ["x", "yy"]
        f.attrs["object_id"] = "root-oid"
        grp = f.create_group("g")
        grp.attrs["object_id"] = "g-oid"
        grp.attrs["descr"] = "a group"
        # 2 chunks of random float64 (~4.4 KB each after blosc) -> blobs in tar/dir
        rand = f.create_dataset("rand", data=_random(0, 1200), chunks=(600,))
        rand.attrs["unit"] = "volt"
        # 2-D, 2 x 2 chunks (three of them partial edge chunks), gzip
        f.create_dataset(
            "rand2d",
            data=_random(2, 30 * 50).reshape(30, 50),
            chunks=(20, 30),
            compression="gzip",
            compression_opts=3,
        )
        # no compressor: raw 4800-byte chunks. Not in the JSON form, where lindi 0.4.6 itself
        # fails ("value must be bytes": zarr hands its store a numpy buffer, not bytes).
        if form != "json":
            f.create_dataset(
                "rand_raw", data=_random(3, 1800).reshape(600, 3), chunks=(200, 3), compression=None
            )
        f.create_dataset("rand_zlib", data=_random(4, 1500), chunks=(600,), compression="zlib")
        # small -> always inline
        f.create_dataset("small", data=np.arange(10, dtype="int16"))
        f.create_dataset("bools", data=np.array([True, False, True]))
        f.create_dataset("fixed", data=np.array([b"ab", b"cde"], dtype="S3"))
        grp.create_dataset("strs", data=np.array(["a", "b", "h\u00e9llo"], dtype=object))
        grp.create_dataset("strs2d", data=np.array([["a", "bb"], ["", "d"]], dtype=object))
        f.create_dataset("scalar", data=3.5)
        f.create_dataset("scalar_int", data=np.int32(-4))
        f.create_dataset("scalar_str", data="hi there")
        f.create_group("h")["link"] = h5py.SoftLink("/g")
        f["h"]["dslink"] = h5py.SoftLink("/rand")
        f.attrs["ref_to_g"] = grp.ref
    # reopen and overwrite one chunk -> blobs/rand/0.v2 in tar/dir forms
    with _open(outpath, "a") as f:
        f["rand"][0:600] = _random(1, 600)


def cmd_convert(
    h5path: str, outpath: str, chunks_threshold: int | None, split_bytes: int | None
) -> None:
    import lindi

    kwargs: dict[str, Any] = {}
    if chunks_threshold is not None or split_bytes is not None:
        opts: dict[str, Any] = {}
        if chunks_threshold is not None:
            opts["num_dataset_chunks_threshold"] = chunks_threshold
        if split_bytes is not None:
            opts["contiguous_dataset_max_chunk_size"] = split_bytes
        kwargs["zarr_store_opts"] = lindi.LindiH5ZarrStoreOpts(**opts)
    x = lindi.LindiH5pyFile.from_hdf5_file(h5path, url=os.path.abspath(h5path), **kwargs)
    try:
        x.write_lindi_file(outpath)
    finally:
        x.close()


def cmd_append(path: str) -> None:
    with _open(path, "a") as f:
        g = f.create_group("lindi_added")
        g.attrs["note"] = "added by lindi"
        g.attrs["count"] = 3
        # 3 chunks of random float64: each >= 1000 bytes after compression (format §9.5)
        g.create_dataset("values", data=_random(5, 900), chunks=(300,))


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[0], argv[1:]
    if cmd == "dump" and len(args) == 1:
        json.dump(cmd_dump(args[0]), sys.stdout, sort_keys=True, allow_nan=False)
        sys.stdout.write("\n")
    elif cmd == "write" and len(args) == 2:
        cmd_write(args[0], args[1])
    elif cmd == "convert" and len(args) >= 2:
        opts: dict[str, int | None] = {"--chunks-threshold": None, "--split-bytes": None}
        rest = args[2:]
        while rest:
            if len(rest) < 2 or rest[0] not in opts:
                print(f"bad convert options: {rest}", file=sys.stderr)
                return 2
            opts[rest[0]] = int(rest[1])
            rest = rest[2:]
        cmd_convert(args[0], args[1], opts["--chunks-threshold"], opts["--split-bytes"])
    elif cmd == "append" and len(args) == 1:
        cmd_append(args[0])
    elif cmd == "version" and not args:
        import importlib.metadata

        import zarr

        print(importlib.metadata.version("lindi"), zarr.__version__)
    else:
        print(f"unknown command or wrong arguments: {argv}\n{__doc__}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
