"""NWBLindiIO reads every corpus container exactly as NWBHDF5IO reads it.

The matrix: every neurodata type ``pynwb.testing.mock`` offers (one test per mock, comparing
the container it made and everything under it), and every corpus file as a whole, each read
from the three LINDI forms ``index_hdf5`` writes (json, tar, dir) and from the ``.nwb``
directly ("nwb": indexed in memory on open). The reference is what NWBHDF5IO reads from the
same ``.nwb``. Also here: the extension namespace read the default way (cached namespaces) and
through ``extensions=``, attribute dtypes at the builder level, ``nwb_version``/``can_read``,
an HDF5 external link followed, and LindiIO on a plain hdmf-common file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import pytest
from backend_corpus import (
    EXT_META,
    EXT_NAMESPACE,
    EXT_SERIES,
    FILES,
    LINDI_FORMS,
    MOCK_FILE,
    MOCKS,
    NOT_ADDED,
    SOURCES,
    Corpus,
)
from backend_reads import Reads, assert_same_tree
from hdmf.backends.hdf5 import HDF5IO
from hdmf.build import DatasetBuilder, GroupBuilder, ReferenceBuilder
from hdmf.common import DynamicTable
from hdmf.common import get_manager as get_common_manager
from nwb_mocks import write_linked_nwb
from pynwb import NWBHDF5IO

from hdmf_lindi import LindiIO, NWBLindiIO, index_hdf5
from hdmf_lindi.errors import ChunkRefError


def test_every_mock_is_in_the_corpus() -> None:
    assert set(MOCKS) == set(MOCK_FILE) | set(NOT_ADDED)
    assert len(MOCKS) >= 30  # pynwb 4.2 has 34: guard against discovery finding nothing


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("mock", sorted(MOCK_FILE))
def test_mock_container_reads_equal(corpus: Corpus, reads: Reads, mock: str, source: str) -> None:
    file = MOCK_FILE[mock]
    expected_file, actual_file = reads.hdf5(file), reads.lindi(file, source)
    assert corpus.object_ids[mock], f"{mock} made no container"
    for object_id in corpus.object_ids[mock]:
        assert object_id in expected_file.objects, f"{mock}: the container is not in {file}.nwb"
        assert_same_tree(expected_file.objects[object_id], actual_file)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("file", FILES)
def test_file_reads_equal(reads: Reads, file: str, source: str) -> None:
    expected, actual = reads.hdf5(file), reads.lindi(file, source)
    assert set(actual.objects) == set(expected.objects)
    assert_same_tree(expected, actual)


# ---------------------------------------------------------------- the extension namespace


@pytest.fixture(params=SOURCES)
def extension_default_read(request: pytest.FixtureRequest, corpus: Corpus) -> Iterator[Any]:
    """The extension file read by NWBLindiIO the default way (namespaces cached in the file)."""
    with NWBLindiIO(str(corpus.source("extension", request.param)), "r") as io:
        yield io.read()


def test_extension_types_from_cached_namespaces(extension_default_read: Any) -> None:
    meta = extension_default_read.lab_meta_data["lab_meta"]
    series = extension_default_read.acquisition["ext_series"]
    assert (type(meta).__name__, meta.namespace) == (EXT_META, EXT_NAMESPACE)
    assert (type(series).__name__, series.namespace) == (EXT_SERIES, EXT_NAMESPACE)
    # the extension's attributes keep the widths their spec declares, though JSON has none
    assert isinstance(meta.gain, np.uint8) and meta.gain == 200
    assert meta.scale == np.float32(0.1)
    assert isinstance(meta.offset, np.int16) and meta.offset == -3
    assert isinstance(series.channel, np.uint16) and series.channel == 513
    assert meta.notes == "h\u00e9llo notes"
    assert list(meta.tags[:]) == ["a", "bb", "ccc"]
    np.testing.assert_array_equal(series.data[:], np.arange(8.0))


def test_extension_float32_attribute(extension_default_read: Any) -> None:
    # stored as float32 in the HDF5 file; the index records the width next to the JSON double
    scale = extension_default_read.lab_meta_data["lab_meta"].scale
    assert isinstance(scale, np.float32) and scale == np.float32(0.1), repr(scale)


def test_extension_attributes_match_hdf5(reads: Reads) -> None:
    expected = reads.hdf5("extension").lab_meta_data["lab_meta"]
    actual = reads.lindi("extension", "json").lab_meta_data["lab_meta"]
    for name in ("gain", "offset"):
        value, other = getattr(expected, name), getattr(actual, name)
        assert (type(other), other) == (type(value), value), name
    assert actual.scale == expected.scale  # the width: test_extension_float32_attribute


@pytest.mark.parametrize("load_namespaces", [False, True], ids=["yaml-only", "yaml-and-cached"])
@pytest.mark.parametrize("source", ["json", "nwb"])
def test_extensions_argument_loads_the_namespace(
    corpus: Corpus, source: str, load_namespaces: bool
) -> None:
    # NWBZarrIO-style: the namespace YAML given by path (with or without the cached ones)
    path = str(corpus.source("extension", source))
    yaml = str(corpus.extension_yaml)
    with NWBLindiIO(path, "r", load_namespaces=load_namespaces, extensions=yaml) as io:
        meta = io.read().lab_meta_data["lab_meta"]
        assert type(meta).__name__ == EXT_META
        assert isinstance(meta.gain, np.uint8)


# ---------------------------------------------------------------- builders


def _numeric_attributes(root: GroupBuilder) -> dict[str, Any]:
    """``path@attr -> value`` for every numeric attribute (scalar or array) in a builder tree."""
    found: dict[str, Any] = {}

    def visit(builder: GroupBuilder | DatasetBuilder, path: str) -> None:
        for name, value in builder.attributes.items():
            if isinstance(value, np.ndarray | np.generic) and value.dtype.kind in "biuf":
                found[f"{path}@{name}"] = value
        if isinstance(builder, GroupBuilder):
            for child in (*builder.groups.values(), *builder.datasets.values()):
                visit(child, f"{path}/{child.name}")

    visit(root, "")
    return found


def _differences(expected: dict[str, Any], actual: dict[str, Any]) -> dict[str, Any]:
    """Attributes whose value is not exactly the HDF5 value or whose dtype kind differs."""
    wrong = {}
    for key, value in expected.items():
        other = actual.get(key)
        same = (
            other is not None
            and np.dtype(other.dtype).kind == value.dtype.kind
            and np.shape(other) == np.shape(value)
            and np.array_equal(
                np.asarray(other, dtype=value.dtype), value, equal_nan=value.dtype.kind == "f"
            )
            and np.array_equal(
                np.asarray(other).astype(np.float64),
                np.asarray(value).astype(np.float64),
                equal_nan=True,
            )
        )
        if not same:
            wrong[key] = (value, other)
    return wrong


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("file", FILES)
def test_builder_attribute_values_match_hdf5(reads: Reads, file: str, source: str) -> None:
    # JSON keeps no numeric width, so LindiIO restores it from the spec; the restored value must
    # still be exactly the stored one (a float64 attribute whose spec says float32 must not be
    # rounded to float32: pynwb writes Python floats as float64, e.g. rate=30000/1001)
    expected = _numeric_attributes(reads.io("hdf5", file).read_builder())
    actual = _numeric_attributes(reads.io("lindi", file, source).read_builder())
    assert _differences(expected, actual) == {}


@pytest.mark.parametrize("source", SOURCES)
def test_float64_attributes_are_not_rounded(reads: Reads, source: str) -> None:
    expected, actual = (
        reads.hdf5("tables").acquisition["ntsc"],
        reads.lindi("tables", source).acquisition["ntsc"],
    )
    assert (float(actual.rate), float(actual.conversion)) == (30000 / 1001, 0.1)
    assert (actual.rate, actual.conversion) == (expected.rate, expected.conversion)


@pytest.mark.parametrize("source", SOURCES)
def test_spec_dtypes_of_attributes(reads: Reads, source: str) -> None:
    # uint attributes of the core spec come back with their spec dtype, as NWBHDF5IO reads them
    for nwbfile in (reads.hdf5("tables"), reads.lindi("tables", source)):
        binning = nwbfile.acquisition["binned"].binning
        assert isinstance(binning, np.uint8) and binning == 2, repr(binning)
        sweep = nwbfile.acquisition["sweep"].sweep_number
        assert isinstance(sweep, np.uint32) and sweep == 7, repr(sweep)


def _plain(value: Any) -> Any:
    """A comparable form of an attribute or scalar value (references as target paths)."""
    if isinstance(value, ReferenceBuilder):
        return ("ref", value.builder.path)
    if isinstance(value, GroupBuilder | DatasetBuilder):
        return ("ref", value.path)
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.kind, value.shape, tuple(_plain(v) for v in value.ravel()))
    if isinstance(value, list | tuple):
        return ("list", tuple(_plain(v) for v in value))
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, float) and np.isnan(value):
        return "NaN"
    return value


def _describe(builder: GroupBuilder | DatasetBuilder, out: dict[str, Any], path: str = "") -> None:
    """Every group, dataset and link of a builder tree: kind, attributes, data shape and dtype."""
    where = path or "/"
    kind = "group" if isinstance(builder, GroupBuilder) else "dataset"
    out[where] = (kind, {k: _plain(v) for k, v in builder.attributes.items()})
    if isinstance(builder, DatasetBuilder):
        data = builder.data
        if hasattr(data, "shape") and not isinstance(data, np.generic):
            out[f"{where}#data"] = (tuple(data.shape), str(data.dtype))
        else:
            out[f"{where}#data"] = ("scalar", _plain(data))
        return
    for name, child in {**builder.groups, **builder.datasets}.items():
        _describe(child, out, f"{path}/{name}")
    for name, link in builder.links.items():
        out[f"{path}/{name}"] = ("link", link.builder.path)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("file", FILES)
def test_builder_trees_match_hdf5io(reads: Reads, file: str, source: str) -> None:
    # the builders hdmf constructs from: same nodes, links, attribute values, data shapes and
    # dtypes as HDF5IO's (the container comparison above cannot see builder-only differences)
    expected: dict[str, Any] = {}
    actual: dict[str, Any] = {}
    _describe(reads.io("hdf5", file).read_builder(), expected)
    _describe(reads.io("lindi", file, source).read_builder(), actual)
    assert set(actual) == set(expected)
    assert {k: (expected[k], v) for k, v in actual.items() if v != expected[k]} == {}


def test_read_builder_returns_one_tree(corpus: Corpus) -> None:
    with NWBLindiIO(str(corpus.source("tables", "json")), "r") as io:
        root = io.read_builder()
        assert root is io.read_builder()
        assert root.source == io.source
        assert (
            root["acquisition/linked_timestamps"].links["timestamps"].builder
            is root["acquisition/timestamps_source/timestamps"]
        )


# ---------------------------------------------------------------- version and can_read


@pytest.mark.parametrize("source", SOURCES)
def test_nwb_version_and_can_read(corpus: Corpus, source: str) -> None:
    path = corpus.source("mocks", source)
    with NWBHDF5IO(str(corpus.paths["mocks"]), "r") as io:
        expected = io.nwb_version
    with NWBLindiIO(str(path), "r") as io:
        assert io.nwb_version == expected
        assert io.nwb_version[1][0] >= 2
    assert NWBLindiIO.can_read(str(path)) is True


@pytest.mark.parametrize("form", sorted(LINDI_FORMS))
def test_read_nwb_one_liner(corpus: Corpus, form: str) -> None:
    from hdmf_lindi import read_nwb

    nwbfile = read_nwb(corpus.source("tables", form))
    try:
        assert nwbfile.read_io is not None and nwbfile.read_io.is_open()
        np.testing.assert_array_equal(nwbfile.acquisition["big"].data[:5], corpus.big_data[:5])
    finally:
        nwbfile.read_io.close()


# ---------------------------------------------------------------- external links, plain hdmf


@pytest.fixture(scope="module")
def external_link_nwb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An NWB file whose TimeSeries data is an HDF5 external link to ``raw.h5`` beside it."""
    root = tmp_path_factory.mktemp("external_link")
    write_linked_nwb(root)
    with h5py.File(root / "main.nwb", "r") as f:
        assert isinstance(f["acquisition/linked"].get("data", getlink=True), h5py.ExternalLink)
    return root / "main.nwb"


@pytest.mark.parametrize("source", SOURCES)
def test_external_link_is_followed(external_link_nwb: Path, source: str) -> None:
    path = external_link_nwb
    if source != "nwb":
        path = external_link_nwb.with_name(f"main{LINDI_FORMS[source]}")
        if not path.exists():
            index_hdf5(external_link_nwb, path)
    with NWBHDF5IO(str(external_link_nwb), "r") as expected_io, NWBLindiIO(str(path), "r") as io:
        expected, actual = expected_io.read(), io.read()
        assert_same_tree(expected, actual)
        np.testing.assert_array_equal(
            actual.acquisition["linked"].data[995:1005], np.arange(995, 1005)
        )


def test_remote_file_does_not_follow_an_external_link_to_a_local_file(
    external_link_nwb: Path, http_server: Any
) -> None:
    """A remote file must not make us read local files: an external link of a served index
    that names a local path is refused unless the caller allows local paths."""
    import json
    import shutil

    shutil.copy(external_link_nwb, http_server.root / "main.nwb")
    index = http_server.root / "main.lindi.json"
    index_hdf5(http_server.url("main.nwb"), index)
    doc = json.loads(index.read_text())
    zattrs = doc["refs"]["acquisition/linked/data/.zattrs"]
    zattrs = json.loads(zattrs) if isinstance(zattrs, str) else zattrs
    assert zattrs["_EXTERNAL_LINK"][0] == "raw.h5"
    zattrs["_EXTERNAL_LINK"][0] = str(external_link_nwb.with_name("raw.h5"))  # absolute, local
    doc["refs"]["acquisition/linked/data/.zattrs"] = zattrs
    index.write_text(json.dumps(doc))
    with NWBLindiIO(http_server.url("main.lindi.json"), "r") as io:
        with pytest.raises(ChunkRefError, match="Refusing to follow the external link"):
            io.read()
    with NWBLindiIO(http_server.url("main.lindi.json"), "r", allow_local_paths=True) as io:
        np.testing.assert_array_equal(io.read().acquisition["linked"].data[995:1005], np.arange(995, 1005))


class _ObjectsOf:
    """``objects`` (object_id -> container) of a tree, as NWBFile offers it."""

    def __init__(self, root: Any) -> None:
        self.objects = {c.object_id: c for c in (root, *root.all_children())}


def test_plain_hdmf_common_table(tmp_path: Path) -> None:
    # LindiIO is an HDMFIO for any hdmf namespace, not only NWB
    table = DynamicTable(name="table", description="hdmf-common only")
    table.add_column(name="x", description="floats")
    table.add_column(name="tags", description="ragged text", index=True)
    for i in range(3):
        table.add_row(x=i / 3, tags=["a"] * i)
    with HDF5IO(str(tmp_path / "table.h5"), "w", manager=get_common_manager()) as io:
        io.write(table)
    index_hdf5(tmp_path / "table.h5", tmp_path / "table.lindi.json")
    with HDF5IO(str(tmp_path / "table.h5"), "r", manager=get_common_manager()) as io:
        expected = io.read()
        with LindiIO(str(tmp_path / "table.lindi.json"), "r", manager=get_common_manager()) as lio:
            actual = lio.read()
            assert_same_tree(expected, _ObjectsOf(actual))
            pd.testing.assert_frame_equal(actual.to_dataframe(), expected.to_dataframe())
