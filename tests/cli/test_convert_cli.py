"""``hdmf-lindi convert IN OUT``: NWB HDF5 <-> LINDI through the backends' export, in-process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pynwb import NWBHDF5IO
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

import hdmf_lindi
from hdmf_lindi.cli import main

DATA = np.arange(3000, dtype="f8").reshape(1000, 3)


@pytest.fixture
def nwb_file(tmp_path: Path) -> Path:
    path = tmp_path / "in.nwb"
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="ts", data=DATA, rate=10.0))
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    return path


def test_hdf5_to_lindi_and_back(tmp_path: Path, nwb_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lindi = tmp_path / "out.lindi.tar"
    assert main(["convert", str(nwb_file), str(lindi)]) == 0
    assert capsys.readouterr().out == f"converted {nwb_file} -> {lindi}\n"
    with hdmf_lindi.File(lindi) as f:  # data copied into the tar, not referenced
        np.testing.assert_array_equal(f["acquisition/ts/data"][...], DATA)
        assert all(
            not isinstance(v, tuple) or v[0].startswith("./")
            for v in (f.container.refmap.get(k) for k in f.container.refmap)
        )
    back = tmp_path / "back.nwb"
    assert main(["convert", str(lindi), str(back)]) == 0
    with NWBHDF5IO(back, "r") as io:
        np.testing.assert_array_equal(io.read().acquisition["ts"].data[:], DATA)


def test_existing_output_needs_force(tmp_path: Path, nwb_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.lindi.json"
    out.write_text("keep")
    assert main(["convert", str(nwb_file), str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"hdmf-lindi convert: {out} exists") and err.count("\n") == 1
    assert out.read_text() == "keep"
    assert main(["convert", "--force", str(nwb_file), str(out)]) == 0
    with hdmf_lindi.File(out) as f:
        np.testing.assert_array_equal(f["acquisition/ts/data"][...], DATA)


def test_missing_input_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", str(tmp_path / "missing.nwb"), str(tmp_path / "out.lindi.tar")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hdmf-lindi convert: ") and "missing.nwb" in err and err.count("\n") == 1
    assert not (tmp_path / "out.lindi.tar").exists()


def test_non_nwb_input_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import h5py

    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["x"] = [1, 2]
    assert main(["convert", str(plain), str(tmp_path / "out.lindi.json")]) == 1
    assert "not a valid NWB file" in capsys.readouterr().err
