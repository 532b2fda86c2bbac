"""The zarr 3 view: ``zarr.open_group(LindiZarrStore(c), zarr_format=2)`` reads numeric arrays."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import numpy as np
import pytest
import zarr
from zarr.core.buffer import default_buffer_prototype

import hdmf_lindi
from hdmf_lindi.errors import ModeError
from hdmf_lindi.storage import open_container
from hdmf_lindi.storage.zarr_store import LindiZarrStore


@pytest.mark.parametrize("suffix", [".lindi.json", ".lindi.tar", ".lindi.d"])
def test_our_files_read_through_zarr(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"x{suffix}"
    data = np.arange(3000, dtype="<f8").reshape(60, 50)
    with hdmf_lindi.File(path, "w") as f:
        f.attrs["title"] = "zarr view"
        g = f.create_group("g")
        g.create_dataset("a", data=data, chunks=(16, 16), compression="gzip")
        g.create_dataset("b", data=np.arange(7, dtype="u1"))
    with open_container(path) as container:
        root = zarr.open_group(LindiZarrStore(container), mode="r", zarr_format=2)
        assert root.attrs["title"] == "zarr view"
        np.testing.assert_array_equal(root["g/a"][...], data)
        np.testing.assert_array_equal(root["g/b"][2:5], [2, 3, 4])
        assert sorted(root["g"].array_keys()) == ["a", "b"]


def test_lindi_split_contiguous_short_last_chunk_is_padded(tmp_path: Path, lindi_samples: Path) -> None:
    # features.lindi.json splits a 1200-float contiguous dataset into 500-element pseudo-chunks;
    # the last one is 1600 bytes short, which plain zarr cannot decode without lindi's padding.
    for name in ("features.lindi.json", "features.h5"):
        shutil.copy(lindi_samples / name, tmp_path / name)
    with open_container(tmp_path / "features.lindi.json") as container:
        root = zarr.open_group(LindiZarrStore(container), mode="r", zarr_format=2)
        np.testing.assert_array_equal(root["contig_split"][...], np.arange(1200, dtype="f8"))


def test_store_is_read_only(tmp_path: Path) -> None:
    path = tmp_path / "x.lindi.json"
    with hdmf_lindi.File(path, "w") as f:
        f.create_dataset("a", data=[1, 2, 3])
    with open_container(path) as container:
        store = LindiZarrStore(container)
        assert store.read_only
        with pytest.raises(ValueError, match="read-only"):
            zarr.open_array(store, path="a", mode="r+", zarr_format=2)
        with pytest.raises(ModeError, match="read-only"):
            asyncio.run(store.set("a/0", default_buffer_prototype().buffer.from_bytes(b"x")))
