"""Which type map NWBLindiIO reads with: pynwb's own, unless the file's cache adds something.

hdmf ignores a cached namespace whose name is already loaded, so for a file that caches only
namespaces pynwb has loaded (the usual core + hdmf-common file), NWBLindiIO reads with pynwb's
global type map instead of loading the cache into a fresh deep copy, as NWBHDF5IO does. These
tests pin down when that happens and that nothing leaks into pynwb's global state.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from backend_corpus import EXT_META, EXT_NAMESPACE, Corpus
from pynwb import get_type_map
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

import hdmf_lindi
from hdmf_lindi import NWBLindiIO


@pytest.fixture
def core_only(tmp_path: Path) -> Path:
    path = tmp_path / "core.lindi.json"
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="ts"))
    with NWBLindiIO(str(path), "w") as io:
        io.write(nwbfile)
    return path


def test_core_only_file_reads_with_pynwbs_type_map(core_only: Path) -> None:
    with NWBLindiIO(str(core_only), "r") as io:
        assert io.manager.type_map is get_type_map(copy=False)
        assert io.read().acquisition["ts"].data[:].shape == (4,)


@pytest.mark.parametrize("mode", ["a", "r+"])
def test_writable_modes_load_into_a_copy(core_only: Path, mode: str) -> None:
    with NWBLindiIO(str(core_only), mode) as io:
        assert io.manager.type_map is not get_type_map(copy=False)


def test_extension_cached_in_the_file_is_loaded_into_a_copy(corpus: Corpus) -> None:
    with NWBLindiIO(str(corpus.source("extension", "json")), "r") as io:
        assert io.manager.type_map is not get_type_map(copy=False)
        assert type(io.read().lab_meta_data["lab_meta"]).__name__ == EXT_META
    assert EXT_NAMESPACE not in get_type_map(copy=False).namespace_catalog.namespaces


def test_extensions_argument_loads_into_a_copy(corpus: Corpus) -> None:
    yaml = str(corpus.extension_yaml)
    with NWBLindiIO(str(corpus.source("extension", "json")), "r", extensions=yaml) as io:
        assert io.manager.type_map is not get_type_map(copy=False)
    assert EXT_NAMESPACE not in get_type_map(copy=False).namespace_catalog.namespaces


def test_newer_cached_version_warns_as_hdf5io_does(core_only: Path) -> None:
    # re-cache hdmf-common as a newer version (hdmf warns about a newer cached core namespace,
    # not an older one), as HDF5IO would have written it (the group named
    # by the version, the version also inside the namespace document)
    with hdmf_lindi.File(str(core_only), "a") as f:
        common = f["specifications/hdmf-common"]
        (version,) = list(common.keys())
        texts = {name: ds[()] for name, ds in common[version].items()}
        doc = json.loads(texts["namespace"])
        doc["namespaces"][0]["version"] = "99.0.0"
        texts["namespace"] = json.dumps(doc)
        del common[version]
        other = common.create_group("99.0.0")
        for name, text in texts.items():
            other.create_dataset(name, data=text)
    with pytest.warns(UserWarning, match=r"(?s)Ignoring the following cached namespace.*hdmf-common - cached version: 99\.0\.0"):
        io = NWBLindiIO(str(core_only), "r")
    with io:
        assert io.manager.type_map is get_type_map(copy=False)
        assert io.read().acquisition["ts"].name == "ts"
