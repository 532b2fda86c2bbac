"""``--dialect {lindi,zarr3}`` of ``hdmf-lindi index`` and ``convert``."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from pynwb import NWBHDF5IO
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

import hdmf_lindi
from hdmf_lindi.cli import main

DATA = np.arange(9000, dtype="<f8").reshape(3000, 3)


def _keys(path: Path) -> set[str]:
    return set(json.loads(path.read_text())["refs"])


def test_index_in_each_dialect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with h5py.File(tmp_path / "s.h5", "w") as f:
        f.create_dataset("g/x", data=DATA, chunks=(100, 3), compression="gzip").attrs["unit"] = "m"
    v2, v3 = tmp_path / "v2.lindi.json", tmp_path / "v3.lindi.json"
    assert main(["index", str(tmp_path / "s.h5"), str(v2), "--quiet"]) == 0
    assert main(["index", str(tmp_path / "s.h5"), str(v3), "--dialect", "zarr3", "--quiet"]) == 0
    capsys.readouterr()
    assert "g/x/.zarray" in _keys(v2) and "g/x/zarr.json" not in _keys(v2)
    assert {"zarr.json", "g/zarr.json", "g/x/zarr.json", "g/x/c/29/0"} <= _keys(v3)
    with hdmf_lindi.File(v3) as f:
        assert f.dialect == "zarr3" and f["g/x"].attrs["unit"] == "m"
        np.testing.assert_array_equal(f["g/x"][()], DATA)


def test_convert_nwb_to_zarr3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nwbfile = mock_NWBFile()
    mock_TimeSeries(name="ts", data=DATA, nwbfile=nwbfile)
    with NWBHDF5IO(str(tmp_path / "s.nwb"), "w") as io:
        io.write(nwbfile)
    out = tmp_path / "s.lindi.json"
    assert main(["convert", str(tmp_path / "s.nwb"), str(out), "--dialect", "zarr3", "--quiet"]) == 0
    capsys.readouterr()
    assert "acquisition/ts/data/zarr.json" in _keys(out) and ".zgroup" not in _keys(out)
    with hdmf_lindi.NWBLindiIO(str(out)) as io:
        np.testing.assert_array_equal(io.read().acquisition["ts"].data[:], DATA)


def test_unknown_dialect_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", str(tmp_path / "s.h5"), str(tmp_path / "o.lindi.json"), "--dialect", "zarr2"]) == 2
    assert "zarr3" in capsys.readouterr().err
