"""``_EXTERNAL_ARRAY_LINK`` datasets are read by delegating to h5py on the linked file or URL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

import hdmf_lindi
from hdmf_lindi.errors import ChunkRefError, NodeNotFoundError, UnsupportedError

DATA = np.arange(1002, dtype="<i2")


def write_index(path: Path, url: str, name: str = "many_chunks") -> None:
    """Write the LINDI document lindi's converter makes for a dataset with too many chunks."""
    doc = {
        "version": 1,
        "refs": {
            ".zgroup": {"zarr_format": 2},
            "many_chunks/.zarray": {
                "zarr_format": 2, "shape": [1002], "chunks": [200], "dtype": "<i2",
                "fill_value": 0, "order": "C", "compressor": None, "filters": None,
            },
            "many_chunks/.zattrs": {
                "_EXTERNAL_ARRAY_LINK": {"link_type": "hdf5_dataset", "url": url, "name": name},
                "unit": "volts",
            },
        },
    }
    path.write_text(json.dumps(doc))


@pytest.fixture
def h5_file(tmp_path: Path) -> Path:
    path = tmp_path / "source.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("many_chunks", data=DATA, chunks=(200,))
    return path


@pytest.mark.parametrize("selection", [np.s_[...], np.s_[5:17], np.s_[::100], np.s_[999]])
def test_local_link_reads_through_h5py(tmp_path: Path, h5_file: Path, selection: Any) -> None:
    write_index(tmp_path / "x.lindi.json", str(h5_file))
    with hdmf_lindi.File(tmp_path / "x.lindi.json") as f:
        ds = f["many_chunks"]
        assert ds.shape == (1002,) and ds.dtype == np.dtype("<i2")
        assert ds.attrs["unit"] == "volts" and "_EXTERNAL_ARRAY_LINK" not in ds.attrs
        np.testing.assert_array_equal(ds[selection], DATA[selection])


def test_remote_link_reads_with_few_requests(tmp_path: Path, h5_file: Path, http_server: Any) -> None:
    (http_server.root / "source.h5").write_bytes(h5_file.read_bytes())
    write_index(http_server.root / "x.lindi.json", http_server.url("source.h5"))
    with hdmf_lindi.File(http_server.url("x.lindi.json")) as f:
        np.testing.assert_array_equal(f["many_chunks"][100:700], DATA[100:700])
        h5_requests = [r for r in http_server.requests if r.path.endswith("source.h5")]
        # the 1 MiB block cache holds this small file: a size probe and one block, never per chunk
        assert 1 <= len(h5_requests) <= 3
        assert all(r.status in (200, 206) for r in h5_requests)


def test_missing_link_target_is_a_clear_error(tmp_path: Path, h5_file: Path) -> None:
    write_index(tmp_path / "x.lindi.json", str(h5_file), name="nope")
    with hdmf_lindi.File(tmp_path / "x.lindi.json") as f:
        with pytest.raises(NodeNotFoundError, match="External array link target 'nope' is missing"):
            f["many_chunks"][...]


def test_linked_dataset_cannot_be_written(tmp_path: Path, h5_file: Path) -> None:
    write_index(tmp_path / "x.lindi.json", str(h5_file))
    with hdmf_lindi.File(tmp_path / "x.lindi.json", "a") as f:
        with pytest.raises(UnsupportedError, match="links to an HDF5 dataset"):
            f["many_chunks"][0:2] = [1, 2]


def test_remote_document_linking_a_local_file_is_refused(h5_file: Path, http_server: Any) -> None:
    write_index(http_server.root / "x.lindi.json", str(h5_file))  # an absolute local path
    with hdmf_lindi.File(http_server.url("x.lindi.json")) as f:
        with pytest.raises(ChunkRefError, match="Refusing to read local path"):
            f["many_chunks"][0:5]
    with hdmf_lindi.File(http_server.url("x.lindi.json"), allow_local_paths=True) as f:
        np.testing.assert_array_equal(f["many_chunks"][0:5], DATA[0:5])
