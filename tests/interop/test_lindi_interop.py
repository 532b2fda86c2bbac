"""Interoperability with the reference implementation, lindi 0.4.6, in both directions.

lindi runs in its own virtual environment (``lindi_env.py``) through the driver script
``lindi_driver.py`` (fixture ``run_lindi``). Trees are compared through one canonical JSON
description (``lindi_driver.describe_tree``), produced by lindi in its process and by
hdmf_lindi (or h5py) here, and compared type-strictly (``1`` != ``1.0`` != ``true``).

a) files written by hdmf_lindi (json / tar / dir) read by lindi, then appended to by lindi;
b) files written by lindi (its API, and the samples of ``tests/lindi_samples.py``) read by hdmf_lindi;
c) lindi's conversion of an HDF5 file read by hdmf_lindi, compared with h5py's reading;
d) hdmf_lindi's ``.lindi.json`` read by fsspec's reference file system + zarr 3.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import fsspec
import h5py
import numpy as np
import pytest
import zarr

import hdmf_lindi

HERE = Path(__file__).resolve().parent
FORMS = {"json": ".lindi.json", "tar": ".lindi.tar", "dir": ".lindi.d"}


def _load_driver() -> ModuleType:
    name = "_hdmf_lindi_interop_lindi_driver"  # the same module object conftest loads
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, HERE / "lindi_driver.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


D = _load_driver()


# ---------------------------------------------------------------- descriptions


def _jsonable(desc: dict[str, Any]) -> dict[str, Any]:
    """The description as it comes back from JSON (tuples -> lists; no bare NaN allowed)."""
    result: dict[str, Any] = json.loads(json.dumps(desc, allow_nan=False))
    return result


def describe_ours(path: Path | str) -> dict[str, Any]:
    """Canonical description of a LINDI file as hdmf_lindi reads it."""
    with hdmf_lindi.File(str(path), "r") as f:
        return _jsonable(
            D.describe_tree(
                f,
                is_group=lambda o: isinstance(o, hdmf_lindi.Group),
                soft_link_path=lambda link: (
                    link.path if isinstance(link, hdmf_lindi.SoftLink) else None
                ),
                deref=lambda x: f[x].name if isinstance(x, hdmf_lindi.Reference) else None,
            )
        )


def describe_h5py(path: Path | str) -> dict[str, Any]:
    """Canonical description of an HDF5 file as h5py reads it (vlen strings as ``str``)."""

    with h5py.File(path, "r") as f:

        def read(ds: h5py.Dataset) -> Any:
            deref = _h5_deref(f)
            if ds.dtype.names is not None:
                return {"fields": {n: D.canon_value(ds[n], deref) for n in ds.dtype.names}}
            if h5py.check_string_dtype(ds.dtype) is not None and ds.dtype.kind == "O":
                ds = ds.asstr()
            return D.canon_value(ds[()], deref)

        return _jsonable(
            D.describe_tree(
                f,
                is_group=lambda o: isinstance(o, h5py.Group),
                soft_link_path=lambda link: link.path if isinstance(link, h5py.SoftLink) else None,
                deref=_h5_deref(f),
                read_dataset=read,
            )
        )


def _h5_deref(f: h5py.File) -> Any:
    return lambda x: f[x].name if isinstance(x, h5py.Reference) else None


def lindi_dump(run_lindi: Any, path: Path | str, cwd: Path | str | None = None) -> dict[str, Any]:
    """Canonical description of a LINDI file as lindi 0.4.6 reads it."""
    result: dict[str, Any] = json.loads(run_lindi("dump", str(path), cwd=cwd))
    return result


def as_lindi_reads(desc: dict[str, Any]) -> dict[str, Any]:
    """What lindi 0.4.6 reports for a tree, given what hdmf_lindi reports.

    Applies exactly lindi's documented attribute read quirks (lindi-format.md §5.1), nothing
    else: a bool attribute array is read back as int64 (JSON booleans pass lindi's int test),
    and an empty attribute array ``[]`` as an object array.
    """
    out = json.loads(json.dumps(desc))
    for entry in out.values():
        for name, value in entry.get("attrs", {}).items():
            if not (isinstance(value, dict) and "array" in value):
                continue
            if not _flat(value["array"]):
                entry["attrs"][name] = {"array": value["array"], "kind": "O"}
            elif value["kind"] == "b":
                entry["attrs"][name] = {"array": _ints(value["array"]), "kind": "i"}
    return out  # type: ignore[no-any-return]


def _flat(x: Any) -> list[Any]:
    return [z for y in x for z in _flat(y)] if isinstance(x, list) else [x]


def _ints(x: Any) -> Any:
    return [_ints(y) for y in x] if isinstance(x, list) else int(x)


def _exact(x: Any) -> str:
    """Type-strict comparison key: JSON text (``1``, ``1.0`` and ``true`` all differ)."""
    return json.dumps(x, sort_keys=True)


def _short(x: Any, limit: int = 300) -> str:
    text = _exact(x)
    return text if len(text) <= limit else text[:limit] + "..."


def assert_same(actual: dict[str, Any], expected: dict[str, Any], what: str) -> None:
    """Assert two descriptions are equal, type-strictly; list every difference found."""
    problems: list[str] = []
    for path in sorted(set(actual) | set(expected)):
        if path not in actual:
            problems.append(f"{path}: missing in {what} (expected {_short(expected[path])})")
            continue
        if path not in expected:
            problems.append(f"{path}: unexpected in {what}: {_short(actual[path])}")
            continue
        a, e = actual[path], expected[path]
        for key in sorted(set(a) | set(e)):
            if key == "attrs":
                aa, ea = a.get("attrs", {}), e.get("attrs", {})
                for name in sorted(set(aa) | set(ea)):
                    if name not in aa or name not in ea or _exact(aa[name]) != _exact(ea[name]):
                        problems.append(
                            f"{path}: attribute {name!r}: {what} has "
                            f"{_short(aa.get(name, '<missing>'))}, expected {_short(ea.get(name, '<missing>'))}"
                        )
            elif _exact(a.get(key)) != _exact(e.get(key)):
                problems.append(
                    f"{path}: {key}: {what} has {_short(a.get(key))}, expected {_short(e.get(key))}"
                )
    if problems:
        pytest.fail(f"{len(problems)} difference(s) in {what}:\n  " + "\n  ".join(problems[:60]))


# ---------------------------------------------------------------- a file written by hdmf_lindi


def build_ours(path: Path) -> dict[str, Any]:
    """Write a file covering every feature with hdmf_lindi's tree API.

    Returns the canonical values of what was written: ``{path: canonical value}`` for every
    dataset, and ``{path + "@" + attribute: canonical value}`` for every attribute, so what lindi
    reads can be checked against the source data as well as against hdmf_lindi's reading.
    """
    rng = np.random.default_rng(1234)
    written: dict[str, Any] = {}

    def deref(x: Any) -> str | None:
        return x.path if isinstance(x, hdmf_lindi.Reference) else None

    def put(node: Any, name: str, value: Any) -> None:
        node.attrs[name] = value
        # a list of strings reads back, as in h5py, as an object array of str
        source = np.array(value, dtype=object) if isinstance(value, list) else value
        written[f"{node.name}@{name}"] = _jsonable({"v": D.canon_attr(source, deref)})["v"]

    def ds(parent: Any, name: str, data: Any, **kwargs: Any) -> Any:
        d = parent.create_dataset(name, data=data, **kwargs)
        written[d.name] = _jsonable({"v": D.canon_value(data, deref)})["v"]
        return d

    with hdmf_lindi.File(str(path), "w") as f:
        put(f, "object_id", "root-oid")  # first: every reference records it
        grp = f.create_group("grp")
        put(grp, "object_id", "grp-oid")
        sub = f.create_group("grp/sub")
        put(sub, "object_id", "sub-oid")
        put(sub, "descr", "a nested group")
        # attributes of every type
        put(f, "a_str", "hello w\u00f6rld")
        put(f, "a_int", 7)
        put(f, "a_neg_int", -123456789012)
        put(f, "a_float", 2.5)
        put(f, "a_nan", math.nan)
        put(f, "a_inf", math.inf)
        put(f, "a_ninf", -math.inf)
        put(f, "a_true", True)
        put(f, "a_false", False)
        put(f, "a_np_int16", np.int16(-5))
        put(f, "a_np_float32", np.float32(1.25))
        put(f, "a_uint64_big", np.uint64(2**63 + 5))
        put(f, "a_int_arr", np.array([1, 2, 3], dtype="int64"))
        put(f, "a_int16_arr", np.array([-1, 0, 1], dtype="int16"))
        put(f, "a_float_arr", np.array([0.5, math.nan, math.inf, -math.inf, 3.0]))
        put(f, "a_bool_arr", np.array([True, False, True]))
        put(f, "a_str_list", ["x", "yy", "z\u00e9"])
        put(f, "a_2d_int", np.arange(6, dtype="int32").reshape(2, 3))
        put(f, "a_2d_float", np.array([[0.25, -1.5], [math.nan, 4.0]]))
        put(f, "a_empty", np.array([], dtype="float64"))
        put(f, "a_ref_grp", sub.ref)

        data = f.create_group("data")
        gz = rng.standard_normal((45, 30))
        gz[3, 4] = math.nan
        d = ds(data, "f64_gzip", gz, chunks=(20, 16), compression="gzip")  # partial edge chunks
        put(d, "unit", "volt")
        put(d, "scale", 0.5)
        put(d, "object_id", "gzip-oid")
        ds(data, "f64_raw", rng.standard_normal((25, 7)), chunks=(10, 7), compression=None)
        ds(
            data,
            "f64_zlib_shuffle",
            rng.standard_normal(300),
            chunks=(128,),
            compression="zlib",
            compression_opts=6,
            shuffle=True,
        )
        ds(data, "f32_3d", rng.random((4, 5, 6)).astype("float32"), chunks=(3, 2, 4))
        i16 = ds(data, "i16", np.arange(-50, 50, dtype="int16"), chunks=(30,))
        put(i16, "object_id", "i16-oid")
        ds(data, "u8", np.arange(200, dtype="uint8"), chunks=(64,), compression="gzip")
        ds(data, "i4_big_endian", np.arange(100, dtype=">i4"), chunks=(40,))
        ds(data, "i8_one_chunk", np.array([2**62, -(2**62), 0, 1], dtype="int64"))
        ds(data, "bools", rng.random(37) > 0.5, chunks=(10,))
        ds(
            data,
            "strings",
            np.array(["a", "bb", "", "h\u00e9llo", "\u65e5\u672c", "x y", "last"], dtype=object),
            dtype=hdmf_lindi.string_dtype(),
            chunks=(3,),
        )
        ds(
            data,
            "strings_2d",
            np.array([["a", "b", "c"], ["d", "e", "ffff"]], dtype=object),
            dtype=hdmf_lindi.string_dtype(),
        )
        ds(data, "fixed_bytes", np.array([b"abcde", b"xy", b""], dtype="S5"))
        ds(data, "empty", np.zeros((0,), dtype="float64"))
        partial = data.create_dataset(
            "partial", shape=(10,), dtype="int32", chunks=(4,), fillvalue=-1
        )
        partial[0:4] = np.arange(4, dtype="int32")  # chunks 1 and 2 never written: fill value
        written[partial.name] = [0, 1, 2, 3, -1, -1, -1, -1, -1, -1]
        nan_fill = data.create_dataset(
            "nan_fill", shape=(3, 10), dtype="float32", chunks=(2, 4), fillvalue=math.nan
        )
        nan_fill[0:2, 4:8] = 1.5  # one chunk of six written
        expected_nan_fill = np.full((3, 10), math.nan, dtype="float32")
        expected_nan_fill[0:2, 4:8] = 1.5
        written[nan_fill.name] = D.canon_value(expected_nan_fill, deref)
        ds(data, "f64_blosc", rng.standard_normal(1000), chunks=(300,), compression="blosc")
        ds(data, "f16", np.linspace(-2, 2, 9).astype("float16"))
        ds(data, "u64_big", np.array([2**64 - 1, 0, 2**63], dtype="uint64"))
        ds(data, "empty_2d", np.zeros((0, 4), dtype="int16"))
        ds(data, "empty_strings", np.array([], dtype=object), dtype=hdmf_lindi.string_dtype())
        # a deep path with non-ASCII characters: tar member names over ustar's 100 bytes
        deep = "/".join(f"a_rather_long_group_name_{i}" for i in range(4))
        ds(f, f"{deep}/\u00fcn\u00efcode name", rng.standard_normal(500), chunks=(200,))

        scalars = f.create_group("scalars")
        ds(scalars, "int", 42)
        ds(scalars, "float", 3.25)
        ds(scalars, "np_int16", np.int16(-7))
        ds(scalars, "str", "a scalar string")
        ds(scalars, "bool", np.bool_(True))
        ds(scalars, "float32", np.float32(0.1))
        ds(scalars, "fixed_bytes", np.bytes_(b"abc"))

        i16_ref = f["data/i16"].ref
        compound_dtype = np.dtype([("x", "i4"), ("y", "f8"), ("r", hdmf_lindi.ref_dtype)])
        comp = np.array(
            [(1, 2.5, sub.ref), (-3, math.nan, i16_ref), (5, -0.125, grp.ref)], dtype=compound_dtype
        )
        c = data.create_dataset("compound", data=comp)
        written[c.name] = {
            "fields": {
                n: _jsonable({"v": D.canon_value(comp[n], deref)})["v"] for n in ("x", "y", "r")
            }
        }
        ds(
            data,
            "refs",
            np.array([sub.ref, i16_ref, grp.ref, f["data/f64_gzip"].ref], dtype=object),
            dtype=hdmf_lindi.ref_dtype,
        )
        f["grp/link_to_sub"] = hdmf_lindi.SoftLink("/grp/sub")
        f["link_to_ds"] = hdmf_lindi.SoftLink("/data/i16")
    return written


def _check_written(desc: dict[str, Any], written: dict[str, Any], what: str) -> None:
    """Check a description's values against the source data of build_ours (lindi quirks applied
    by the caller when ``desc`` is lindi's)."""
    problems = []
    for key, value in written.items():
        path, _, attr = key.partition("@")
        entry = desc.get(path or "/")
        if entry is None:
            problems.append(f"{path}: missing")
            continue
        got = entry["attrs"].get(attr, "<missing>") if attr else entry["value"]
        if _exact(got) != _exact(value):
            problems.append(f"{key}: {what} has {_short(got)}, written {_short(value)}")
    if problems:
        pytest.fail(f"{what} differs from the data written:\n  " + "\n  ".join(problems))


@pytest.fixture(params=sorted(FORMS))
def form(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_lindi_environment_is_the_reference_version(run_lindi: Any) -> None:
    lindi_version, zarr_version = run_lindi("version").split()
    assert lindi_version == "0.4.6"
    assert zarr_version.startswith("2.")


def test_ours_read_by_lindi(tmp_path: Path, form: str, run_lindi: Any) -> None:
    path = tmp_path / f"ours{FORMS[form]}"
    written = build_ours(path)
    ours = describe_ours(path)
    # our own reading returns what was written (bools and [] as written: no quirks)
    _check_written(ours, written, "hdmf_lindi")
    theirs = lindi_dump(run_lindi, path)
    # lindi reads the same tree, modulo exactly its documented attribute quirks (§5.1)
    assert_same(theirs, as_lindi_reads(ours), f"lindi's reading of our {form} file")
    assert theirs["/"]["attrs"]["a_bool_arr"] == {
        "array": [1, 0, 1],
        "kind": "i",
    }  # the quirk, as documented
    assert theirs["/"]["attrs"]["a_empty"] == {"array": [], "kind": "O"}
    assert theirs["/link_to_ds"] == {"kind": "softlink", "target": "/data/i16"}
    assert theirs["/data/refs"]["value"] == [
        {"ref": "/grp/sub"},
        {"ref": "/data/i16"},
        {"ref": "/grp"},
        {"ref": "/data/f64_gzip"},
    ]


def test_lindi_appends_to_ours(tmp_path: Path, form: str, run_lindi: Any) -> None:
    path = tmp_path / f"ours{FORMS[form]}"
    build_ours(path)
    before = describe_ours(path)
    run_lindi("append", str(path))
    after = describe_ours(path)
    added = {k: v for k, v in after.items() if k == "/lindi_added" or k.startswith("/lindi_added/")}
    kept = {k: v for k, v in after.items() if k not in added}
    assert_same(
        kept, before, f"our reading of our {form} file after lindi appended to it (old part)"
    )
    expected_values = np.random.RandomState(5).rand(900)
    assert added == {
        "/lindi_added": {"kind": "group", "attrs": {"count": 3, "note": "added by lindi"}},
        "/lindi_added/values": {
            "kind": "dataset",
            "attrs": {},
            "shape": [900],
            "dtype": "<f8",
            "value": expected_values.tolist(),
        },
    }
    with hdmf_lindi.File(str(path), "r") as f:
        np.testing.assert_array_equal(f["lindi_added/values"][250:700], expected_values[250:700])
    if form != "json":  # lindi stored its chunks as blobs inside our container
        added_blobs = {f"blobs/lindi_added/values/{i}" for i in range(3)}
        assert added_blobs <= _blob_names(path, form)
    # and lindi still reads the whole appended file as we do
    assert_same(
        lindi_dump(run_lindi, path),
        as_lindi_reads(after),
        f"lindi's reading of our appended {form} file",
    )


def test_ours_appended_by_ours_then_lindi(tmp_path: Path, form: str, run_lindi: Any) -> None:
    """Reopen our file in mode 'a', add data, then let lindi append: all three writers' data read."""
    path = tmp_path / f"ours{FORMS[form]}"
    build_ours(path)
    extra = np.random.default_rng(7).standard_normal((50, 3))
    with hdmf_lindi.File(str(path), "a") as f:
        f.create_dataset("ours_added", data=extra, chunks=(16, 3), compression="gzip")
        f["data/i16"][10:20] = np.full(10, 999, dtype="int16")
        f.attrs["a_int"] = 8
    run_lindi("append", str(path))
    ours = describe_ours(path)
    assert_same(
        lindi_dump(run_lindi, path),
        as_lindi_reads(ours),
        f"lindi's reading of our twice-appended {form} file",
    )
    with hdmf_lindi.File(str(path), "r") as f:
        np.testing.assert_array_equal(f["ours_added"][...], extra)
        np.testing.assert_array_equal(f["data/i16"][8:22], [-42, -41] + [999] * 10 + [-30, -29])
        assert f.attrs["a_int"] == 8
        np.testing.assert_array_equal(
            f["lindi_added/values"][...], np.random.RandomState(5).rand(900)
        )


# ---------------------------------------------------------------- files written by lindi


def test_lindi_written_read_by_ours(tmp_path: Path, form: str, run_lindi: Any) -> None:
    path = tmp_path / f"theirs{FORMS[form]}"
    run_lindi("write", form, str(path))
    theirs = lindi_dump(run_lindi, path)
    ours = describe_ours(path)
    assert_same(as_lindi_reads(ours), theirs, f"our reading of lindi's {form} file")
    with hdmf_lindi.File(str(path), "r") as f:
        rand = f["rand"][...]
        np.testing.assert_array_equal(
            rand[:600], np.random.RandomState(1).rand(600)
        )  # rewritten chunk
        np.testing.assert_array_equal(rand[600:], np.random.RandomState(0).rand(1200)[600:])
        np.testing.assert_array_equal(
            f["rand2d"][...], np.random.RandomState(2).rand(1500).reshape(30, 50)
        )
        assert f.get("h/link", getlink=True) == hdmf_lindi.SoftLink("/g")
        assert f["h/dslink"].name == "/rand"
        assert f[f.attrs["ref_to_g"]].name == "/g"
    if form != "json":
        blobs = _blob_names(path, form)
        assert {"blobs/rand/0", "blobs/rand/1", "blobs/rand/0.v2"} <= blobs, blobs


def _amend_with_ours(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Open a file lindi made in mode 'a' and add to it with hdmf_lindi; return what was added."""
    extra = np.random.default_rng(11).standard_normal((40, 6))
    labels = np.array(["p", "q\u00e9", "rr"], dtype=object)
    with hdmf_lindi.File(str(path), "a") as f:
        g = f.require_group("ours_added")
        g.attrs["note"] = "added by hdmf_lindi"
        g.attrs["levels"] = np.array([0.5, 1.5])
        d = g.create_dataset("extra", data=extra, chunks=(16, 4), compression="gzip")
        d.attrs["object_id"] = "extra-oid"
        g.create_dataset("labels", data=labels, dtype=hdmf_lindi.string_dtype())
        g.create_dataset("ref_back", data=[d.ref], dtype=hdmf_lindi.ref_dtype)
        g["link"] = hdmf_lindi.SoftLink(d.name)
        f.attrs["amended"] = True
    return extra, labels


def test_ours_appends_to_lindi_written(tmp_path: Path, form: str, run_lindi: Any) -> None:
    path = tmp_path / f"theirs{FORMS[form]}"
    run_lindi("write", form, str(path))
    before = lindi_dump(run_lindi, path)
    extra, labels = _amend_with_ours(path)
    with hdmf_lindi.File(str(path), "a") as f:
        f["rand"][600:1200] = np.random.RandomState(3).rand(600)  # rewrite one of lindi's chunks
    theirs = lindi_dump(run_lindi, path)
    ours = describe_ours(path)
    assert_same(
        as_lindi_reads(ours), theirs, f"our reading of lindi's {form} file after we appended"
    )
    old = {k: v for k, v in copy.deepcopy(theirs).items() if not k.startswith("/ours_added")}
    old["/"]["attrs"].pop("amended")
    old["/rand"]["value"][600:] = before["/rand"]["value"][600:]
    assert_same(
        old, before, f"lindi's reading of the old part of its {form} file after we appended"
    )
    assert theirs["/ours_added/extra"]["value"] == extra.tolist()
    assert theirs["/ours_added/labels"]["value"] == labels.tolist()
    assert theirs["/ours_added/ref_back"]["value"] == [{"ref": "/ours_added/extra"}]
    assert theirs["/rand"]["value"][600:] == np.random.RandomState(3).rand(600).tolist()


def test_ours_appends_to_lindi_conversion(tmp_path: Path, run_lindi: Any) -> None:
    """The amend flow: lindi indexes an HDF5 file into a .lindi.tar, hdmf_lindi adds to it."""
    h5path = tmp_path / "source.h5"
    build_hdf5(h5path)
    path = tmp_path / "converted.lindi.tar"
    run_lindi("convert", str(h5path), str(path))
    before = lindi_dump(run_lindi, path)
    extra, _ = _amend_with_ours(path)
    theirs = lindi_dump(run_lindi, path)
    assert_same(
        as_lindi_reads(describe_ours(path)),
        theirs,
        "our reading of lindi's conversion after we appended",
    )
    old = {k: v for k, v in copy.deepcopy(theirs).items() if not k.startswith("/ours_added")}
    old["/"]["attrs"].pop("amended")
    assert_same(old, before, "lindi's reading of the old part of its conversion after we appended")
    assert theirs["/ours_added/extra"]["value"] == extra.tolist()


def _blob_names(path: Path, form: str) -> set[str]:
    if form == "dir":
        return {
            str(p.relative_to(path))
            for p in path.rglob("*")
            if p.is_file() and p.name != "lindi.json"
        }
    import tarfile

    with tarfile.open(path) as tar:
        return {m.name for m in tar.getmembers() if m.name.startswith("blobs/")}


@pytest.mark.parametrize(
    "name", ["written.lindi.json", "written.lindi.tar", "written.lindi.d", "features.lindi.json"]
)
def test_lindi_samples_read_by_ours(
    tmp_path: Path, name: str, run_lindi: Any, monkeypatch: pytest.MonkeyPatch, lindi_samples: Path
) -> None:
    # features.lindi.json refers to features.h5 by a path relative to the working directory
    # (lindi's rule): run both readers in a copy of the samples folder.
    work = tmp_path / "samples"
    shutil.copytree(lindi_samples, work)
    for p in [work, *work.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)  # the cached files are read-only; lindi opens tars r+
    theirs = lindi_dump(run_lindi, work / name, cwd=work)
    monkeypatch.chdir(work)
    ours = describe_ours(work / name)
    assert_same(as_lindi_reads(ours), theirs, f"our reading of the sample {name}")
    if name == "features.lindi.json":
        # lindi's own quirks, seen from lindi's side, are exactly the documented ones
        assert theirs["/"]["attrs"]["a_arr_bool"] == {"array": [1, 0], "kind": "i"}
        assert ours["/"]["attrs"]["a_arr_bool"] == {"array": [True, False], "kind": "b"}
        with h5py.File(work / "features.h5", "r") as h5:
            expected = h5["many_chunks"][...]
        with hdmf_lindi.File(str(work / name), "r") as f:
            np.testing.assert_array_equal(f["many_chunks"][...], expected)  # _EXTERNAL_ARRAY_LINK
            np.testing.assert_array_equal(
                f["contig_split"][...], np.arange(1200.0)
            )  # short last chunk


# ---------------------------------------------------------------- lindi's HDF5 conversion


def build_hdf5(path: Path) -> None:
    """An HDF5 file with the features lindi's converter handles (like make_samples.py)."""
    rng = np.random.default_rng(99)
    with h5py.File(path, "w") as f:
        f.attrs["object_id"] = "root-oid"
        f.attrs["a_str"] = "hello"
        f.attrs["a_bytes"] = np.bytes_(b"bytes-val")
        f.attrs["a_int"] = 7
        f.attrs["a_uint8"] = np.uint8(200)
        f.attrs["a_float"] = 3.5
        f.attrs["a_float32"] = np.float32(0.75)
        f.attrs["a_nan"] = np.nan
        f.attrs["a_inf"] = np.inf
        f.attrs["a_ninf"] = -np.inf
        f.attrs["a_bool"] = True
        f.attrs["a_arr_int16"] = np.array([1, 2, 3], dtype="int16")
        f.attrs["a_arr_float"] = np.array([1.5, np.nan, np.inf])
        f.attrs["a_arr_bool"] = np.array([True, False])
        f.attrs["a_arr_vlen_str"] = np.array(["x", "yy"], dtype=h5py.string_dtype())
        f.attrs["a_arr_fixed_str"] = np.array([b"ab", b"c"], dtype="S2")
        f.attrs["a_2d"] = np.array([[1, 2], [3, 4]])
        f.attrs["a_empty_float_arr"] = np.array([], dtype="float64")
        g = f.create_group("grp")
        g.attrs["object_id"] = "grp-oid"
        g.attrs["descr"] = "group"
        d = g.create_dataset("small_int", data=np.arange(10, dtype="int32"))
        d.attrs["object_id"] = "small-oid"
        d.attrs["unit"] = "count"
        f.attrs["a_ref"] = g.ref
        g.attrs["ref_to_ds"] = d.ref
        f.create_dataset("scalar_int", data=42)
        f.create_dataset("scalar_float32", data=np.float32(1.25))
        f.create_dataset("scalar_bool", data=np.bool_(True))
        f.create_dataset("scalar_vlen_utf8", data="h\u00e9llo", dtype=h5py.string_dtype())
        f.create_dataset("scalar_vlen_ascii", data=b"ascii-val", dtype=h5py.string_dtype("ascii"))
        f.create_dataset("scalar_fixed_str", data=np.bytes_(b"fixed"))
        f.create_dataset(
            "vlen_str_arr", data=["a", "bb", "ccc", "h\u00e9"], dtype=h5py.string_dtype()
        )
        f.create_dataset("fixed_str_arr", data=np.array([b"ab", b"cde"], dtype="S3"))
        f.create_dataset("bool_arr", data=np.array([True, False, True]))
        f.create_dataset("empty_contig", shape=(0,), dtype="float64")
        f.create_dataset(
            "empty_chunked", shape=(0, 3), dtype="int32", chunks=(4, 3), maxshape=(None, 3)
        )
        f.create_dataset("small_float", data=rng.standard_normal((7, 3)))  # inlined by lindi
        f.create_dataset("contig", data=rng.standard_normal(1500))  # referenced (>= 1000 elements)
        f.create_dataset("contig_big_endian", data=np.arange(1200, dtype=">i4"))
        f.create_dataset(
            "chunked_gzip_shuffle",
            data=np.arange(1600, dtype="int32").reshape(40, 40),
            chunks=(20, 20),
            compression="gzip",
            compression_opts=5,
            shuffle=True,
            fillvalue=-1,
        )
        f.create_dataset(
            "chunked_2d_edges",
            data=rng.standard_normal((45, 33)),
            chunks=(20, 16),
            compression="gzip",
        )
        f.create_dataset(
            "chunked_fletcher32",
            data=np.arange(3000, dtype="int16"),
            chunks=(1000,),
            fletcher32=True,
        )
        pn = f.create_dataset(
            "chunked_partial_nan", shape=(1200,), dtype="float32", chunks=(500,), fillvalue=np.nan
        )
        pn[0:500] = 1.0
        f.create_dataset("many_chunks", data=np.arange(1002, dtype="int16"), chunks=(200,))
        ct = np.dtype([("x", "int32"), ("y", "float64"), ("r", h5py.ref_dtype), ("s", "S5")])
        arr = np.zeros(3, dtype=ct)
        arr[0] = (1, 2.5, g.ref, b"hi")
        arr[1] = (3, 4.5, d.ref, b"yo")
        arr[2] = (-5, np.nan, f.ref, b"abcde")
        f.create_dataset("compound", data=arr)
        f.create_dataset("ref_arr", data=np.array([g.ref, d.ref, f.ref], dtype=h5py.ref_dtype))
        f["soft_grp"] = h5py.SoftLink("/grp")
        f["soft_ds"] = h5py.SoftLink("/grp/small_int")
        f["hard_ds"] = d  # a hard link: lindi makes an independent copy


def as_converted(desc: dict[str, Any]) -> dict[str, Any]:
    """What a faithful reader of lindi's conversion reports, given h5py's reading of the source.

    Applies exactly the losses lindi-format.md documents for conversion (§5.1, §5.4): attribute
    bytes and fixed-length string arrays become JSON text (read back as ``str``; string arrays
    as object arrays). Numeric attribute widths are lost too, which the description (kinds, not
    widths) does not show.
    """
    out = json.loads(json.dumps(desc))
    for entry in out.values():
        for name, value in entry.get("attrs", {}).items():
            if isinstance(value, dict) and "bytes" in value:
                entry["attrs"][name] = value["bytes"].encode("latin-1").decode("utf-8")
            elif isinstance(value, dict) and value.get("kind") == "S":
                entry["attrs"][name] = {"array": _texts(value["array"]), "kind": "O"}
    return out  # type: ignore[no-any-return]


def _texts(x: Any) -> Any:
    return (
        [_texts(y) for y in x]
        if isinstance(x, list)
        else x["bytes"].encode("latin-1").decode("utf-8")
    )


CONVERSIONS = {
    "defaults": [],
    # small thresholds: split contiguous pseudo-chunks (short last chunk) and external array links
    "split_and_links": ["--chunks-threshold", "4", "--split-bytes", "4000"],
}


@pytest.mark.parametrize("opts", sorted(CONVERSIONS))
@pytest.mark.parametrize("suffix", [".lindi.json", ".lindi.tar"])
def test_lindi_conversion_read_by_ours(
    tmp_path: Path, suffix: str, opts: str, run_lindi: Any
) -> None:
    h5path = tmp_path / "source.h5"
    build_hdf5(h5path)
    out = tmp_path / f"converted{suffix}"
    run_lindi("convert", str(h5path), str(out), *CONVERSIONS[opts])
    ours = describe_ours(out)
    assert_same(
        ours,
        as_converted(describe_h5py(h5path)),
        f"our reading of lindi's conversion ({suffix}, {opts})",
    )
    # lindi reads its own conversion the same way, modulo its attribute quirks
    assert_same(
        lindi_dump(run_lindi, out),
        as_lindi_reads(ours),
        f"lindi's reading of its conversion ({suffix}, {opts})",
    )
    refs = json.loads(_rfs_text(out))["refs"]
    if opts == "split_and_links":  # the options did take effect
        assert "_EXTERNAL_ARRAY_LINK" in _meta(refs["many_chunks/.zattrs"])
        assert _meta(refs["contig/.zarray"])["chunks"] == [500]
    else:
        assert "many_chunks/0" in refs
    with hdmf_lindi.File(str(out), "r") as f, h5py.File(h5path, "r") as h5:
        for name, sel in [
            ("contig", np.s_[497:1003]),
            ("chunked_2d_edges", np.s_[15:44, 3:33:5]),
            ("chunked_gzip_shuffle", np.s_[::7, 19:21]),
            ("many_chunks", np.s_[190:810]),
        ]:
            np.testing.assert_array_equal(f[name][sel], h5[name][sel], err_msg=name)


def _rfs_text(path: Path) -> str:
    if path.suffix == ".json":
        return path.read_text()
    import tarfile

    with tarfile.open(path) as tar:
        member = tar.extractfile("lindi.json")
        assert member is not None
        return member.read().decode()


def _meta(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


# ---------------------------------------------------------------- fsspec + zarr 3


def test_ours_json_read_by_fsspec_and_zarr3(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    arrays = {
        "f64_gzip": (rng.standard_normal((45, 30)), {"chunks": (20, 16), "compression": "gzip"}),
        "f64_raw": (rng.standard_normal((25, 7)), {"chunks": (10, 7)}),
        "f32_zlib_shuffle": (
            rng.standard_normal(300).astype("float32"),
            {"chunks": (128,), "compression": "zlib", "shuffle": True},
        ),
        "i16": (np.arange(-50, 50, dtype="int16"), {"chunks": (30,)}),
        "u8": (np.arange(200, dtype="uint8"), {"chunks": (64,), "compression": "gzip"}),
        "i4_big_endian": (np.arange(100, dtype=">i4"), {"chunks": (40,)}),
        "grp/f32_3d": (rng.random((4, 5, 6)).astype("float32"), {"chunks": (3, 2, 4)}),
        "grp/bools": (rng.random(37) > 0.5, {"chunks": (10,)}),
    }
    path = tmp_path / "ours.lindi.json"
    with hdmf_lindi.File(str(path), "w") as f:
        for name, (data, kwargs) in arrays.items():
            f.create_dataset(name, data=data, **kwargs)
        p = f.create_dataset(
            "partial", shape=(10,), dtype="float64", chunks=(4,), fillvalue=math.nan
        )
        p[0:4] = np.arange(4.0)
    fs = fsspec.filesystem("reference", fo=str(path))
    root = zarr.open_group(fs.get_mapper(""), mode="r", zarr_format=2)
    for name, (data, _) in arrays.items():
        arr = root[name]
        assert isinstance(arr, zarr.Array), name
        assert arr.shape == data.shape, name
        assert arr.dtype == data.dtype, name
        np.testing.assert_array_equal(arr[...], data, err_msg=name)
    np.testing.assert_array_equal(root["partial"][...], [0, 1, 2, 3] + [math.nan] * 6)
