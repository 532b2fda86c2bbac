"""LINDI files with metadata spelled as JSON text read by other kerchunk-spec clients.

zarrita 0.7.5 (JavaScript, ``@zarrita/storage`` ReferenceStore, run under node through
``zarrita_driver.mjs``; installed pinned by ``zarrita_env.py``) reads numeric arrays, groups and
attributes equal to hdmf_lindi's reading, from a local file and over the test HTTP server, when
the metadata values are JSON text; lindi 0.4.6 reads the text spelling equal to the object one.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from httpserver import RangeServer
from test_lindi_interop import as_lindi_reads, assert_same, build_ours, describe_ours, lindi_dump
from zarrita_env import ZarritaEnvError, ensure_zarrita

import hdmf_lindi
from hdmf_lindi.hdf5.indexer import IndexOptions, index_hdf5

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "zarrita_driver.mjs"
DRIVER_TIMEOUT = 120
ATTRS = {"description": "ephys", "rate": 30000.0, "n": 7, "labels": ["a", "b"], "offsets": [1.5, -2.0]}


@pytest.fixture(scope="session")
def zarrita() -> tuple[str, Path]:
    """(node, folder with the pinned zarrita); the tests fail, never skip, without them."""
    try:
        return ensure_zarrita()
    except ZarritaEnvError as exc:
        pytest.fail(f"zarrita (JavaScript) cannot be set up for the interoperability tests:\n{exc}", pytrace=False)


def read_with_zarrita(
    zarrita: tuple[str, Path], tmp_path: Path, source: str, nodes: dict[str, Any], *, local: bool
) -> dict[str, Any]:
    """Run the driver on ``source``; ``nodes`` maps node path -> slice (list of [start, stop]) or None."""
    node, folder = zarrita
    job = tmp_path / "zarrita-job.json"
    job.write_text(json.dumps({
        "source": source, "local": local, "nodes": [{"path": p, "slice": s} for p, s in nodes.items()],
    }))
    cmd = [node, str(DRIVER), str(folder), str(job)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=DRIVER_TIMEOUT, check=False)
    if proc.returncode != 0:
        pytest.fail(f"zarrita driver failed (exit {proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout)["nodes"]
    return result


def make_hdf5(path: Path) -> None:
    """A small NWB-shaped HDF5 file: chunked gzip, contiguous and tiny (inlined) numeric datasets."""
    rng = np.random.default_rng(5)
    with h5py.File(path, "w") as f:
        es = f.create_group("acquisition/ElectricalSeries")
        for key, value in ATTRS.items():
            es.attrs[key] = np.array(value, dtype=h5py.string_dtype()) if key == "labels" else value
        data = es.create_dataset(
            "data", data=rng.normal(size=(3000, 16)).astype("<f4"), chunks=(500, 16), compression="gzip"
        )
        data.attrs["unit"] = "volts"
        es.create_dataset("timestamps", data=np.arange(3000, dtype="<f8") / 30000.0)  # contiguous
        f.create_group("processing/ecephys")
        f.create_dataset("processing/ecephys/counts", data=np.arange(12, dtype="<i8").reshape(3, 4))
        f.create_dataset("processing/ecephys/flags", data=np.array([0, 1, 255, 7], dtype="u1"))


SLICES: dict[str, Any] = {
    "": None,
    "acquisition": None,
    "acquisition/ElectricalSeries": None,
    "acquisition/ElectricalSeries/data": [[1000, 1002], [0, 4]],
    "acquisition/ElectricalSeries/timestamps": [[2990, 3000]],
    "processing": None,
    "processing/ecephys": None,
    "processing/ecephys/counts": None,
    "processing/ecephys/flags": None,
}


def expected(path: Path | str) -> dict[str, Any]:
    """What hdmf_lindi reads for every node of ``SLICES``: kind, children, attributes and data."""
    out: dict[str, Any] = {}
    with hdmf_lindi.File(str(path)) as f:
        for name, slc in SLICES.items():
            obj = f[name] if name else f
            attrs = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in obj.attrs.items()}
            if isinstance(obj, hdmf_lindi.Group):
                out[name] = {"kind": "group", "attrs": attrs, "children": sorted(obj.keys())}
            else:
                sel = tuple(slice(a, b) for a, b in slc) if slc else ()
                value = obj[sel] if sel else obj[...]
                out[name] = {"kind": "array", "attrs": attrs, "shape": list(obj.shape),
                             "dtype": obj.dtype.str, "data": value.ravel().tolist(), "dataShape": list(value.shape)}
    return out


_JS_DTYPES = {"float32": "<f4", "float64": "<f8", "int64": "<i8", "uint8": "|u1"}


def check_equal(theirs: dict[str, Any], ours: dict[str, Any]) -> None:
    """zarrita's reading (node by node) equals ours; children of a group open with the kind we read."""
    errors = {name: got["error"] for name, got in theirs.items() if "error" in got}
    assert not errors, f"zarrita cannot open: {errors}"
    for name, want in ours.items():
        got = theirs[name]
        assert got["kind"] == want["kind"], name
        assert {k: v for k, v in got["attrs"].items() if not k.startswith("_")} == want["attrs"], name
        if want["kind"] == "group":
            for child in want["children"]:
                path = f"{name}/{child}" if name else child
                assert theirs[path]["kind"] == ours[path]["kind"], path
        else:
            assert got["shape"] == want["shape"], name
            assert _JS_DTYPES[got["dtype"]] == want["dtype"], name
            assert got["dataShape"] == want["dataShape"], name
            assert got["data"] == want["data"], name  # exact: same bytes decoded


def _spelling(path: Path) -> set[type]:
    refs = json.loads(path.read_text())["refs"]
    return {type(v) for k, v in refs.items() if k.rpartition("/")[2] in (".zattrs", ".zgroup", ".zarray")}


def test_indexed_hdf5_read_by_zarrita_local(tmp_path: Path, zarrita: tuple[str, Path]) -> None:
    make_hdf5(tmp_path / "s.h5")
    out = tmp_path / "s.lindi.json"
    index_hdf5(tmp_path / "s.h5", out, options=IndexOptions(metadata_as_text=True, inline_max_elements=16))
    assert _spelling(out) == {str}
    ours = expected(out)
    assert ours["acquisition/ElectricalSeries"]["attrs"] == ATTRS  # what was written
    check_equal(read_with_zarrita(zarrita, tmp_path, str(out), SLICES, local=True), ours)


def test_indexed_hdf5_read_by_zarrita_over_http(
    tmp_path: Path, zarrita: tuple[str, Path], http_server: RangeServer
) -> None:
    make_hdf5(http_server.root / "s.h5")
    out = http_server.root / "s.lindi.json"
    index_hdf5(
        http_server.root / "s.h5", out,
        options=IndexOptions(metadata_as_text=True, url=http_server.url("s.h5"), inline_max_elements=16),
    )
    ours = expected(http_server.url("s.lindi.json"))
    http_server.requests.clear()
    theirs = read_with_zarrita(zarrita, tmp_path, http_server.url("s.lindi.json"), SLICES, local=False)
    check_equal(theirs, ours)
    assert any(r.path.endswith("s.h5") for r in http_server.requests)  # chunks came by range requests


def test_file_written_text_spelling_read_by_zarrita(
    tmp_path: Path, zarrita: tuple[str, Path], http_server: RangeServer
) -> None:
    """A file written by our File API (inline chunks) with the text spelling, local and over HTTP."""
    make_hdf5(tmp_path / "s.h5")
    with h5py.File(tmp_path / "s.h5") as src, hdmf_lindi.File(
        str(http_server.root / "w.lindi.json"), "w", metadata_as_text=True
    ) as dst:
        for name in SLICES:
            obj = src[name] if name else src
            node = dst.require_group(name) if isinstance(obj, h5py.Group) and name else dst
            if isinstance(obj, h5py.Dataset):
                node = dst.create_dataset(name, data=obj[...], chunks=obj.chunks, compression=obj.compression)
            for key, value in obj.attrs.items():
                node.attrs[key] = [str(v) for v in value] if key == "labels" else value
    ours = expected(http_server.root / "w.lindi.json")
    check_equal(read_with_zarrita(zarrita, tmp_path, str(http_server.root / "w.lindi.json"), SLICES, local=True), ours)
    check_equal(read_with_zarrita(zarrita, tmp_path, http_server.url("w.lindi.json"), SLICES, local=False), ours)


def test_object_spelling_is_what_zarrita_cannot_read(tmp_path: Path, zarrita: tuple[str, Path]) -> None:
    """Why the option exists: the default (lindi's) spelling is not kerchunk's, and zarrita fails on it."""
    make_hdf5(tmp_path / "s.h5")
    out = tmp_path / "s.lindi.json"
    index_hdf5(tmp_path / "s.h5", out)
    assert _spelling(out) == {dict}
    theirs = read_with_zarrita(zarrita, tmp_path, str(out), {"acquisition/ElectricalSeries/data": None}, local=True)
    assert "NotFoundError" in theirs["acquisition/ElectricalSeries/data"]["error"]
    text = tmp_path / "t.lindi.json"
    hdmf_lindi.pack(out, text, metadata_as_text=True)  # the fix for an existing file
    check_equal(read_with_zarrita(zarrita, tmp_path, str(text), SLICES, local=True), expected(out))


def test_text_spelling_read_by_lindi_equal(tmp_path: Path, run_lindi: Any) -> None:
    """lindi 0.4.6 and hdmf_lindi read the text spelling of a file as they read the object one."""
    path = tmp_path / "ours.lindi.json"
    build_ours(path)
    text = tmp_path / "text.lindi.json"
    hdmf_lindi.pack(path, text, metadata_as_text=True)
    assert _spelling(path) == {dict}
    assert _spelling(text) == {str}
    ours = describe_ours(path)
    assert_same(describe_ours(text), ours, "our reading of the text spelling")
    assert_same(lindi_dump(run_lindi, text), as_lindi_reads(ours), "lindi's reading of the text spelling")


def test_node_folder_is_ignored_by_git() -> None:
    """The npm install folder never shows up as untracked files (it lives under .cache/)."""
    _, folder = ensure_zarrita()
    git = shutil.which("git")
    assert git is not None
    proc = subprocess.run(
        [git, "check-ignore", "-q", str(folder)], cwd=HERE, capture_output=True, check=False
    )
    assert proc.returncode in (0, 128), proc.stderr  # 128: not a git checkout (an sdist)
