"""``assert_same_tree``: an HDF5 file read by h5py must equal its LINDI index read by hdmf_lindi.

The walk starts at the root and visits every link of every group (hard, soft and external, in
name order), so hard-linked objects are compared under each of their names. Every difference is
collected and reported together. Anything not on the list below is a difference.

Documented equivalences (LINDI cannot say it the h5py way, or lindi 0.4.6 would not read it):

Datasets

1. Variable-length strings (utf-8 or ascii): h5py reads ``bytes`` elements with
   ``h5py.string_dtype(...)``; ours are ``str`` elements (the h5py bytes decoded with their
   charset) and the dtype is exactly ``hdmf_lindi.string_dtype()`` (object, ``vlen=str``).
2. Object and region references: ours are :class:`hdmf_lindi.Reference` with ``ref_dtype``;
   ``h5[ours.path]`` must be the same HDF5 object (same address) as ``h5[h5py_ref]``. A region
   reference therefore matches a reference to its whole dataset (LINDI has no region form, as
   lindi). A null h5py reference matches ``None`` or a falsy Reference.
3. Compounds: compared field by field (names in order), each field by these same rules.
4. Enums: ours are the base integer dtype (same type string), without the enum mapping.
5. Everything else: the NumPy type string is identical (byte order included), values equal
   exactly (NaN equal to NaN), and scalars come back as scalars (``ds[()]``).

Every non-empty, non-scalar dataset is also compared on a strided selection of its first axis
(``ds[1::3]``), which crosses chunk boundaries.

Attributes (JSON numbers are int64 or float64; the index records every other numeric dtype under
the top-level ``hdmf_lindi`` key, and the reader casts back to it: docs/format_notes.rst)

6. Integers, scalar or array: ours have h5py's kind (``i`` or ``u``) and width (itemsize), and
   exactly h5py's values. Byte order is the machine's (JSON has none), as h5py's own reading of
   an attribute written big-endian is compared by value, not by bytes.
7. Floats, scalar or array: the same, with NaN equal to NaN; values are compared as they come,
   never cast to one dtype first (a float16 read of a float32 attribute is a difference).
8. Strings: h5py ``str`` or ``bytes``/``np.bytes_`` (fixed-length) match our ``str`` equal to
   the text (bytes decoded as UTF-8); string arrays (vlen or fixed) match object arrays of
   ``str`` of the same shape.
9. Empty arrays: numeric ones follow rules 6-7 (their dtype is recorded like any other); JSON
   ``[]`` has no element type, so for an empty string array any dtype of ours matches. The
   shape must match in both cases.
10. A scalar reference attribute follows rule 2.
11. An attribute with no form lindi 0.4.6 can read -- an ``h5py.Empty`` (null dataspace), or an
    array of object references -- must be absent from ours *and* named (attribute name and
    object path) in the index's ``generationMetadata`` notes. The same holds for a dataset with
    a null dataspace: absent from ours, named in the notes.

Links

12. A soft link reads as :class:`hdmf_lindi.SoftLink` with the same path, or with the path made
    absolute from the link's parent group (lindi resolves targets from the root); following it
    gives the same object as in h5py (``None`` for a dangling link on both sides).
13. An external link reads as :class:`hdmf_lindi.ExternalLink` with h5py's filename and path.
14. A further hard link to an object already indexed under another name may read as a SoftLink
    to that other name, provided h5py finds the same object there; the data must still read.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

import h5py
import numpy as np

import hdmf_lindi
from hdmf_lindi.format.dtypes import is_reference_dtype

__all__ = ["assert_same_tree", "tree_problems"]

STRIDE = slice(1, None, 3)


def _addr(obj: Any) -> int:
    return int(h5py.h5o.get_info(obj.id).addr)


def _h5_string_encoding(dtype: np.dtype) -> str | None:
    info = h5py.check_string_dtype(dtype)
    return None if info is None or dtype.kind != "O" else info.encoding


def _is_h5_ref(dtype: np.dtype) -> bool:
    return dtype.kind == "O" and (
        h5py.check_ref_dtype(dtype) is not None
        or h5py.check_dtype(ref=dtype) is not None
    )


class _Comparer:
    def __init__(self, h5: h5py.File, lf: hdmf_lindi.File) -> None:
        self.h5 = h5
        self.lf = lf
        self.problems: list[str] = []
        meta = lf.container.refmap.generation_metadata
        notes = meta.get("notes") if isinstance(meta, dict) else None
        self.notes: list[str] = [str(n) for n in notes] if isinstance(notes, list) else []
        self._groups_done: set[int] = set()

    def fail(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    # ------------------------------------------------------------------ references
    def _same_target(self, h5_ref: Any, ours: Any, where: str) -> None:
        if not h5_ref:
            if ours is not None and not (isinstance(ours, hdmf_lindi.Reference) and not ours):
                self.fail(where, f"null reference read as {ours!r}")
            return
        if not isinstance(ours, hdmf_lindi.Reference):
            self.fail(where, f"reference read as {type(ours).__name__} {ours!r}")
            return
        expected = self.h5[h5_ref]
        target = self.h5.get(ours.path)
        if target is None:
            self.fail(where, f"reference path {ours.path!r} does not exist in the HDF5 file")
        elif _addr(target) != _addr(expected):
            self.fail(where, f"reference to {ours.path!r}, h5py's points at {expected.name!r}")
        try:
            resolved = self.lf[ours]
        except KeyError as exc:
            self.fail(where, f"reference to {ours.path!r} does not dereference: {exc}")
            return
        if isinstance(resolved, hdmf_lindi.Dataset) != isinstance(expected, h5py.Dataset):
            self.fail(where, f"reference to {ours.path!r} dereferences to {resolved!r}")

    # ------------------------------------------------------------------ dtypes and values
    def _dtype(self, h5_dtype: np.dtype, ours: np.dtype, where: str) -> None:
        if h5_dtype.names is not None:
            if ours.names != h5_dtype.names:
                self.fail(where, f"compound fields {ours.names} != h5py's {h5_dtype.names}")
                return
            for name in h5_dtype.names:
                self._dtype(h5_dtype.fields[name][0], ours.fields[name][0], f"{where} field {name!r}")
            return
        if _h5_string_encoding(h5_dtype) is not None:
            meta = ours.metadata or {}
            if ours.kind != "O" or meta.get("vlen") is not str:
                self.fail(where, f"dtype {ours} {dict(meta)} is not string_dtype() (h5py: vlen string)")
            return
        if _is_h5_ref(h5_dtype):
            if not is_reference_dtype(ours):
                self.fail(where, f"dtype {ours} {ours.metadata} is not ref_dtype (h5py: reference)")
            return
        if ours.str != h5_dtype.str or ours.kind != h5_dtype.kind:
            self.fail(where, f"dtype {ours.str} != h5py's {h5_dtype.str}")
        elif ours.metadata and "enum" in ours.metadata:
            self.fail(where, "enum metadata on our dtype (expected the base integer type)")

    def _values(self, h5_dtype: np.dtype, expected: Any, ours: Any, where: str) -> None:
        """Compare a dataset read (array, or scalar element) under the rules for ``h5_dtype``."""
        if h5_dtype.names is not None:
            if not isinstance(ours, np.ndarray | np.void) or ours.dtype.names != h5_dtype.names:
                self.fail(where, f"compound read as {type(ours).__name__} {getattr(ours, 'dtype', '')}")
                return
            if np.shape(ours) != np.shape(expected):
                self.fail(where, f"shape {np.shape(ours)} != h5py's {np.shape(expected)}")
                return
            for name in h5_dtype.names:
                # np.void fields are scalars, array fields arrays: compared as they come
                self._values(h5_dtype.fields[name][0], expected[name], ours[name], f"{where} field {name!r}")
            return
        scalar = not isinstance(expected, np.ndarray)
        if scalar and isinstance(ours, np.ndarray):
            self.fail(where, f"scalar read as an array of shape {ours.shape}")
            return
        exp_arr = np.asarray(expected, dtype=expected.dtype if hasattr(expected, "dtype") else object)
        if h5_dtype.kind == "O":
            exp_arr = np.asarray(expected, dtype=object)
        our_arr = np.asarray(ours, dtype=object) if h5_dtype.kind == "O" else np.asarray(ours)
        if exp_arr.shape != our_arr.shape:
            self.fail(where, f"shape {our_arr.shape} != h5py's {exp_arr.shape}")
            return
        encoding = _h5_string_encoding(h5_dtype)
        if encoding is not None:
            for i, (e, o) in enumerate(zip(exp_arr.reshape(-1), our_arr.reshape(-1), strict=True)):
                text = e.decode(encoding) if isinstance(e, bytes) else e
                if type(o) is not str or o != text:
                    self.fail(where, f"string element {i}: {o!r} != h5py's {text!r}")
                    return
            return
        if _is_h5_ref(h5_dtype):
            for i, (e, o) in enumerate(zip(exp_arr.reshape(-1), our_arr.reshape(-1), strict=True)):
                self._same_target(e, o, f"{where} element {i}")
            return
        if h5_dtype.kind == "O":
            self.fail(where, f"h5py object dtype {h5_dtype} is not covered by the equivalences")
            return
        if scalar:
            same_nan = isinstance(expected, np.floating) and np.isnan(expected) and np.isnan(ours)
            if type(ours) is not type(expected):
                self.fail(where, f"scalar read as {type(ours).__name__} {ours!r}, h5py gives {type(expected).__name__}")
            elif isinstance(expected, np.generic) and ours.dtype.str != expected.dtype.str:
                self.fail(where, f"scalar of dtype {ours.dtype.str}, h5py's {expected.dtype.str}")
            elif not (ours == expected or same_nan):
                self.fail(where, f"scalar {ours!r} != h5py's {expected!r}")
            return
        base = np.dtype(h5_dtype.str)
        if our_arr.dtype.str != base.str:
            self.fail(where, f"values of dtype {our_arr.dtype.str}, h5py's {base.str}")
            return
        if not np.array_equal(exp_arr, our_arr, equal_nan=base.kind == "f"):
            diff = np.argwhere(~((exp_arr == our_arr) | (base.kind == "f" and np.isnan(exp_arr) & np.isnan(our_arr))))
            first = tuple(int(x) for x in diff[0]) if diff.size else ()
            self.fail(
                where,
                f"values differ at {len(diff)} positions, first {first}: ours "
                f"{our_arr[first] if first else our_arr!r} h5py {exp_arr[first] if first else exp_arr!r}",
            )

    # ------------------------------------------------------------------ attributes
    def _attr(self, expected: Any, ours: Any, where: str) -> None:
        if isinstance(expected, h5py.Reference | h5py.RegionReference):
            self._same_target(expected, ours, where)
            return
        if isinstance(expected, np.ndarray) and expected.ndim > 0:
            self._attr_array(expected, ours, where)
            return
        if isinstance(expected, np.ndarray):  # 0-d array
            expected = expected[()]
        if isinstance(expected, bytes | np.bytes_):
            expected = bytes(expected).decode("utf-8")
        if isinstance(expected, str):
            if type(ours) is not str or ours != expected:
                self.fail(where, f"{ours!r} != h5py's {expected!r}")
        elif isinstance(expected, bool | np.bool_):
            if not isinstance(ours, bool | np.bool_) or bool(ours) != bool(expected):
                self.fail(where, f"{ours!r} ({type(ours).__name__}) != h5py's bool {expected!r}")
        elif isinstance(expected, int | np.integer):
            if not isinstance(ours, int | np.integer) or isinstance(ours, bool | np.bool_) or int(ours) != int(expected):
                self.fail(where, f"{ours!r} ({type(ours).__name__}) != h5py's int {expected!r}")
            else:
                self._width(np.asarray(expected).dtype, np.asarray(ours).dtype, where)
        elif isinstance(expected, float | np.floating):
            # float() of any float width is exact: nothing is rounded before comparing
            ok = isinstance(ours, float | np.floating) and (
                float(ours) == float(expected) or (np.isnan(expected) and np.isnan(ours))
            )
            if not ok:
                self.fail(where, f"{ours!r} ({type(ours).__name__}) != h5py's float {expected!r}")
            else:
                self._width(np.asarray(expected).dtype, np.asarray(ours).dtype, where)
        else:
            self.fail(where, f"h5py value {expected!r} ({type(expected).__name__}) is not covered by the equivalences")

    def _attr_array(self, expected: np.ndarray, ours: Any, where: str) -> None:
        if not isinstance(ours, np.ndarray) or ours.shape != expected.shape:
            self.fail(where, f"{ours!r} is not an array of shape {expected.shape} (h5py: {expected!r})")
            return
        kind = expected.dtype.kind
        if expected.size == 0 and kind not in "biuf":
            return  # rule 9
        if kind == "O" and _is_h5_ref(expected.dtype):
            for i, (e, o) in enumerate(zip(expected.reshape(-1), ours.reshape(-1), strict=True)):
                self._same_target(e, o, f"{where} element {i}")
            return
        if kind in "OSU":
            texts = [e.decode("utf-8") if isinstance(e, bytes) else e for e in expected.reshape(-1)]
            got = list(ours.reshape(-1))
            if ours.dtype.kind != "O" or any(type(o) is not str for o in got) or got != texts:
                self.fail(where, f"{ours!r} != h5py's strings {texts!r}")
            return
        if kind not in "biuf":
            self.fail(where, f"h5py array of dtype {expected.dtype} is not covered by the equivalences")
        elif self._width(expected.dtype, ours.dtype, where):
            # same kind and width, byte order aside: NumPy compares these exactly, element by element
            if not np.array_equal(expected, ours, equal_nan=kind == "f"):
                self.fail(where, f"{ours!r} != h5py's {expected!r}")

    def _width(self, h5_dtype: np.dtype, ours: np.dtype, where: str) -> bool:
        """Rules 6-7: the same kind and itemsize as h5py's (byte order aside); report if not."""
        if ours.kind != h5_dtype.kind or ours.itemsize != h5_dtype.itemsize:
            self.fail(where, f"dtype {ours.str} != h5py's {h5_dtype.str} (kind and width must match)")
            return False
        return True

    def attrs(self, h5_obj: Any, ours: Any, where: str) -> None:
        expected: dict[str, Any] = {}
        for name in h5_obj.attrs:
            value = h5_obj.attrs[name]
            ref_array = isinstance(value, np.ndarray) and h5py.check_dtype(ref=value.dtype) is not None
            if isinstance(value, h5py.Empty) or ref_array:
                if name in ours.attrs:
                    self.fail(f"{where} attr {name!r}", f"attribute with no LINDI form read as {ours.attrs[name]!r}")
                if not any(repr(name) in n and h5_obj.name in n for n in self.notes):
                    self.fail(f"{where} attr {name!r}", "attribute with no LINDI form dropped without a note")
                continue
            expected[name] = value
        names = set(ours.attrs.keys())
        if names != set(expected):
            self.fail(where, f"attributes missing {sorted(set(expected) - names)}, extra {sorted(names - set(expected))}")
        for name in sorted(set(expected) & names):
            self._attr(expected[name], ours.attrs[name], f"{where} attr {name!r}")

    # ------------------------------------------------------------------ nodes
    def dataset(self, h5_ds: h5py.Dataset, ours: Any, where: str) -> None:
        if not isinstance(ours, hdmf_lindi.Dataset):
            self.fail(where, f"h5py dataset read as {ours!r}")
            return
        self.attrs(h5_ds, ours, where)
        if h5_ds.shape is None:
            self.fail(where, "null-dataspace dataset is not covered by the equivalences")
            return
        if tuple(ours.shape) != h5_ds.shape:
            self.fail(where, f"shape {ours.shape} != h5py's {h5_ds.shape}")
            return
        self._dtype(h5_ds.dtype, ours.dtype, where)
        try:
            got = ours[()] if h5_ds.shape == () else ours[...]
        except Exception as exc:  # noqa: BLE001 -- any failure to read is a finding
            self.fail(where, f"read failed: {type(exc).__name__}: {exc}")
            return
        expected = h5_ds[()] if h5_ds.shape == () else h5_ds[...]
        self._values(h5_ds.dtype, expected, got, where)
        if h5_ds.ndim and h5_ds.shape[0] > 1 and h5_ds.dtype.names is None:
            try:
                part = ours[STRIDE]
            except Exception as exc:  # noqa: BLE001
                self.fail(where, f"read of [1::3] failed: {type(exc).__name__}: {exc}")
                return
            self._values(h5_ds.dtype, h5_ds[STRIDE], part, f"{where}[1::3]")

    def link(self, h5_group: h5py.Group, ours: Any, name: str) -> None:
        where = posixpath.join(h5_group.name, name)
        h5_link = h5_group.get(name, getlink=True)
        our_link = ours.get(name, getlink=True)
        if isinstance(h5_link, h5py.SoftLink):
            absolute = posixpath.normpath(posixpath.join(h5_group.name, h5_link.path))
            if not isinstance(our_link, hdmf_lindi.SoftLink) or our_link.path not in (h5_link.path, absolute):
                self.fail(where, f"soft link to {h5_link.path!r} read as {our_link!r}")
            target = h5_group.get(name)
            resolved = ours.get(name)
            if target is None or resolved is None:
                if (target is None) != (resolved is None):
                    self.fail(where, f"soft link resolves to {resolved!r}, in h5py to {target!r}")
            elif isinstance(target, h5py.Dataset):
                self.dataset(target, resolved, f"{where} (via soft link)")
            elif not isinstance(resolved, hdmf_lindi.Group) or set(resolved.keys()) != set(target.keys()):
                self.fail(where, f"soft link resolves to {resolved!r}, in h5py to a group with {sorted(target)}")
            return
        if isinstance(h5_link, h5py.ExternalLink):
            if not (
                isinstance(our_link, hdmf_lindi.ExternalLink)
                and our_link.filename == h5_link.filename
                and our_link.path == h5_link.path
            ):
                self.fail(where, f"external link to {h5_link.filename}:{h5_link.path} read as {our_link!r}")
            return
        h5_obj = h5_group[name]
        if isinstance(our_link, hdmf_lindi.SoftLink):  # rule 14
            other = self.h5.get(our_link.path)
            if other is None or _addr(other) != _addr(h5_obj):
                self.fail(where, f"hard link read as a soft link to {our_link.path!r}, another object")
                return
        elif not isinstance(our_link, hdmf_lindi.HardLink):
            self.fail(where, f"hard link read as {our_link!r}")
            return
        try:
            node = ours[name]
        except KeyError as exc:
            self.fail(where, f"cannot open ours: {exc}")
            return
        if isinstance(h5_obj, h5py.Dataset):
            self.dataset(h5_obj, node, where)
        elif isinstance(h5_obj, h5py.Group):
            self.group(h5_obj, node, where)
        else:
            self.fail(where, f"h5py object {h5_obj!r} is not covered by the equivalences")

    def group(self, h5_group: h5py.Group, ours: Any, where: str) -> None:
        if not isinstance(ours, hdmf_lindi.Group):
            self.fail(where, f"h5py group read as {ours!r}")
            return
        self.attrs(h5_group, ours, where)
        h5_names, our_names = set(h5_group.keys()), set(ours.keys())
        for name in sorted(h5_names - our_names):
            obj = h5_group.get(name)
            if isinstance(obj, h5py.Dataset) and obj.shape is None and any(obj.name in n and "null dataspace" in n for n in self.notes):
                h5_names.discard(name)  # rule 11: a null-dataspace dataset, named in the notes
        if h5_names != our_names:
            self.fail(where, f"members missing {sorted(h5_names - our_names)}, extra {sorted(our_names - h5_names)}")
        addr = _addr(h5_group)
        if addr in self._groups_done:  # a group reached again through a hard link: no cycles
            return
        self._groups_done.add(addr)
        for name in sorted(h5_names & our_names):
            self.link(h5_group, ours, name)


def tree_problems(h5_path: str | Path, lindi_file: hdmf_lindi.File) -> list[str]:
    """Return every difference between the HDF5 file and the LINDI file (empty when equal)."""
    with h5py.File(h5_path, "r") as h5:
        comparer = _Comparer(h5, lindi_file)
        comparer.group(h5, lindi_file, "/")
        return comparer.problems


def assert_same_tree(h5_path: str | Path, lindi_file: hdmf_lindi.File) -> None:
    """Assert that ``lindi_file`` reads exactly as h5py reads ``h5_path`` (see module docstring)."""
    problems = tree_problems(h5_path, lindi_file)
    if problems:
        shown = "\n  ".join(problems[:60])
        more = f"\n  ... and {len(problems) - 60} more" if len(problems) > 60 else ""
        raise AssertionError(f"{len(problems)} differences between {h5_path} and its index:\n  {shown}{more}")
