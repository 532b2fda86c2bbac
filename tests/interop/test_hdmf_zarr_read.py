"""NWB files hdmf-zarr writes as Zarr directory stores, read by hdmf_lindi (local and over HTTP).

The stores are written at test time by hdmf-zarr itself (``tests/hdmf_zarr_stores.py``): 0.14
(Zarr v3, the shared convention) and 0.13 on zarr 2 (hdmf-zarr's old v2 layout), each with and
without consolidated metadata, and for each an ``.nwb`` made by reading the store back with
``NWBZarrIO`` and exporting it with ``NWBHDF5IO``: what NWBZarrIO reads, as the reference.

* ``NWBLindiIO`` reads of every store equal that reference (``assertContainerEqual`` on every
  container, matched by ``object_id``);
* ``hdmf_lindi.File`` walks equal a walk of the v3 stores with zarr 3 (every array value and
  attribute, with the convention's annotations undone as the translator documents);
* over HTTP, opening a consolidated store costs one request; absent chunk files (and 404s) read
  as the fill value; a damaged chunk or document raises our errors.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hdmf.build import BuildManager
from hdmf_zarr_stores import HdmfZarrStoresError, ensure_hdmf_zarr_stores
from httpserver import RangeServer
from pynwb import NWBHDF5IO, get_type_map
from pynwb.testing import TestCase

import hdmf_lindi
from hdmf_lindi import NWBLindiIO
from hdmf_lindi.errors import ChunkRefError, FormatError
from hdmf_lindi.format.references import Reference

NAMES = ("mocks", "ecephys", "rich", "sharded", "extension")
HIDDEN_V3 = {"_LINKS", "_DTYPE", "_REFERENCE_FIELDS", "_ARRAY_DIMENSIONS", ".specloc"}
"""Attributes the translator turns into the model's annotations, or hides (format/zarr_v3.py)."""


@pytest.fixture(scope="module")
def stores() -> dict[str, Path]:
    """Layout -> the folder of stores hdmf-zarr wrote (made once per checkout, then cached)."""
    try:
        return {layout: ensure_hdmf_zarr_stores(layout) for layout in ("v3", "v2")}
    except HdmfZarrStoresError as exc:
        pytest.fail(f"The hdmf-zarr stores cannot be made:\n{exc}", pytrace=False)


@pytest.fixture(scope="module")
def server(stores: dict[str, Path]) -> Iterator[RangeServer]:
    """A Range server over the cache folder that holds both layouts' stores."""
    assert stores["v3"].parent == stores["v2"].parent
    with RangeServer(stores["v3"].parent) as srv:
        yield srv


def _url(server: RangeServer, stores: dict[str, Path], layout: str, name: str) -> str:
    return server.url(f"{stores[layout].name}/{name}")


def _manager(folder: Path, name: str) -> BuildManager | None:
    """One type map for both readers of the extension file (its classes are made per type map)."""
    if name != "extension":
        return None
    corpus = json.loads((folder / "corpus.json").read_text())
    type_map = get_type_map()
    type_map.load_namespaces(str(folder / "ext" / f"{corpus['extension']}.namespace.yaml"))
    return BuildManager(type_map)


def _assert_same_nwb(expected: Any, actual: Any) -> None:
    """Every container under ``expected`` equals its namesake (by object_id) in ``actual``."""
    case = TestCase()
    case.maxDiff = None
    for container in [expected, *expected.all_children()]:
        assert container.object_id in actual.objects, f"{type(container).__name__} {container.name!r} not read"
        case.assertContainerEqual(
            container, actual.objects[container.object_id], ignore_hdmf_attrs=True,
            message=f"{type(container).__name__} {container.name!r}",
        )


SOURCES = {
    "v3": ("v3", "{}.nwb.zarr", False),
    "v3-plain": ("v3", "{}.plain.nwb.zarr", False),
    "v3-http": ("v3", "{}.nwb.zarr", True),
    "v2": ("v2", "{}.nwb.zarr", False),
    "v2-plain": ("v2", "{}.plain.nwb.zarr", False),
    "v2-http": ("v2", "{}.nwb.zarr", True),
}


CASES = [
    *((name, source) for source in ("v3", "v2") for name in NAMES if (source, name) != ("v2", "sharded")),
    *((name, source) for source in ("v3-plain", "v3-http", "v2-plain", "v2-http") for name in ("rich", "mocks")),
]
"""Every corpus file from each layout's local store; the unconsolidated and HTTP forms on the
two files that hold every feature (tables, links, references, compounds) and every mock."""


@pytest.mark.parametrize(("name", "source"), CASES)
def test_nwb_read_equals_nwbzarrio(stores: dict[str, Path], server: RangeServer, name: str, source: str) -> None:
    layout, pattern, remote = SOURCES[source]
    folder = stores[layout]
    location = _url(server, stores, layout, pattern.format(name)) if remote else str(folder / pattern.format(name))
    manager = _manager(folder, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pynwb's and hdmf's warnings about the mock data
        with NWBHDF5IO(str(folder / f"{name}.nwb"), "r", manager=manager) as ref_io:
            expected = ref_io.read()
            with NWBLindiIO(location, "r", manager=_manager(folder, name) if manager is None else manager) as io:
                actual = io.read()
                _assert_same_nwb(expected, actual)


@pytest.mark.parametrize("layout", ["v3", "v2"])
def test_convert_to_lindi_tar(stores: dict[str, Path], tmp_path: Path, layout: str) -> None:
    """``hdmf-lindi convert`` of a store: every chunk travels (the store's files are not in the
    map), decoded where the model's codecs exist only in memory; the result reads equal to
    NWBZarrIO's read and names no hdmf_lindi.* codec."""
    from hdmf_lindi.cli import main

    out = tmp_path / "rich.lindi.tar"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["convert", str(stores[layout] / "rich.nwb.zarr"), str(out)]) == 0
        with NWBHDF5IO(str(stores[layout] / "rich.nwb"), "r") as ref_io, NWBLindiIO(str(out)) as io:
            _assert_same_nwb(ref_io.read(), io.read())
    with hdmf_lindi.File(out) as f:
        refmap = f.container.refmap
        assert not any("hdmf_lindi." in json.dumps(refmap.get_json(k)) for k in refmap.keys() if k.endswith(".zarray"))
        with hdmf_lindi.File(stores[layout] / "rich.nwb.zarr") as src:
            np.testing.assert_array_equal(f["acquisition/ephys/data"][()], src["acquisition/ephys/data"][()])


def test_http_open_is_one_request(stores: dict[str, Path], server: RangeServer) -> None:
    # v2: the zarr.json probe answers 404 first, then .zmetadata: two requests
    for layout, metas in (("v3", ["zarr.json"]), ("v2", ["zarr.json", ".zmetadata"])):
        server.reset()
        with hdmf_lindi.File(_url(server, stores, layout, "rich.nwb.zarr")) as f:
            assert server.paths() == [f"/{stores[layout].name}/rich.nwb.zarr/{m}" for m in metas]
            assert "acquisition/ephys/data" in f
            assert len(server.requests) == len(metas)
            # 1 s of ephys at 30 kHz: the chunk files it covers, one GET each
            data = f["acquisition/ephys/data"][15_000:45_000]
        local = hdmf_lindi.File(stores[layout] / "rich.nwb.zarr")
        np.testing.assert_array_equal(data, local["acquisition/ephys/data"][15_000:45_000])
        assert sorted(server.paths()[len(metas):]) == [
            f"/{stores[layout].name}/rich.nwb.zarr/acquisition/ephys/data/{key}"
            for key in (("c/1/0", "c/2/0", "c/3/0", "c/4/0") if layout == "v3" else ("1.0", "2.0", "3.0", "4.0"))
        ]
        local.close()


def test_missing_chunks_are_fill_values(stores: dict[str, Path], server: RangeServer) -> None:
    folder = stores["v3"] / "rich.nwb.zarr"
    assert not (folder / "acquisition" / "ephys" / "starting_time" / "c").exists()  # 0.0 = fill: not written
    for location in (str(folder), _url(server, stores, "v3", "rich.nwb.zarr")):
        server.reset()
        with hdmf_lindi.File(location) as f:
            assert f["acquisition/ephys/starting_time"][()] == 0.0
            assert f["acquisition/ephys/starting_time"].attrs["rate"] == 30000.0
    missing = [r for r in server.requests if r.path.endswith("/acquisition/ephys/starting_time/c")]
    assert [r.status for r in missing] == [404]  # the absent chunk file, read as the fill value


def test_damaged_stores_raise_our_errors(stores: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.nwb.zarr"
    shutil.copytree(stores["v3"] / "rich.nwb.zarr", bad)
    for p in bad.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    chunk = bad / "acquisition" / "ephys" / "data" / "c" / "1" / "0"
    chunk.write_bytes(chunk.read_bytes()[:100])
    with hdmf_lindi.File(bad) as f:
        np.testing.assert_array_equal(f["acquisition/ephys/data"][:10], hdmf_lindi.File(stores["v3"] / "rich.nwb.zarr")["acquisition/ephys/data"][:10])
        with pytest.raises(ChunkRefError, match="c/1/0|1.0"):
            f["acquisition/ephys/data"][10_000:10_010]
    (bad / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group", "consolidated_metadata": {"kind": "inline", "metadata": []}}')
    with pytest.raises(FormatError, match="consolidated_metadata"):
        hdmf_lindi.File(bad)
    (bad / "zarr.json").write_text("{truncated")
    with pytest.raises(FormatError, match="not a valid JSON"):
        hdmf_lindi.File(bad)


# ---------------------------------------------------------------------------- zarr 3 walk
WALK = Path(__file__).resolve().parent / "hdmf_zarr_walk.py"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _plain(value: Any) -> Any:
    """One of our values in the form the walk prints (references as their target paths)."""
    if isinstance(value, Reference):
        return value.path
    if isinstance(value, np.void | tuple):
        return [_plain(v) for v in (value.tolist() if isinstance(value, np.void) else value)]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


def _zarr_attr(value: Any) -> Any:
    if isinstance(value, dict) and "_REFERENCE" in value:
        return value["_REFERENCE"]["path"]
    if isinstance(value, list):
        return [_zarr_attr(v) for v in value]
    return value


@pytest.mark.parametrize("name", ["mocks", "rich", "sharded"])
def test_file_walk_equals_zarr3(stores: dict[str, Path], hdmf_zarr_python: str, name: str) -> None:
    folder = stores["v3"] / f"{name}.nwb.zarr"
    proc = subprocess.run([hdmf_zarr_python, str(WALK), str(folder)], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    walk = json.loads(proc.stdout)
    arrays = 0
    with hdmf_lindi.File(folder) as f:
        for path, node in walk.items():
            ours = f[path] if path else f
            expected_attrs = {k: _zarr_attr(v) for k, v in node["attrs"].items() if k not in HIDDEN_V3}
            got_attrs = {k: _plain(v) for k, v in ours.attrs.items() if k != ".specloc"}
            assert set(got_attrs) == set(expected_attrs), path
            for key, value in expected_attrs.items():
                assert _same(got_attrs[key], value), (path, key, got_attrs[key], value)
            if node["kind"] != "array":
                assert isinstance(ours, hdmf_lindi.Group), path
                continue
            arrays += 1
            assert list(ours.shape) == node["shape"] or (ours.shape == () and node["shape"] == []), path
            values = ours[()]
            if not isinstance(values, np.ndarray):  # a scalar
                assert _same([_plain(values)], node["values"]), path
                continue
            if "sha256" in node:
                little = np.ascontiguousarray(values.astype(np.dtype(node["dtype"]), copy=False))
                assert hashlib.sha256(little.tobytes()).hexdigest() == node["sha256"], path
            else:
                assert _same([_plain(v) for v in values.reshape(-1)], node["values"]), path
    assert arrays > 10
