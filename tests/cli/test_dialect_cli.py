"""``--dialect {lindi,zarr3}`` of ``hdmf-lindi index``, ``convert``, ``index-many`` and ``convert-many``."""

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


def _write_nwb(path: Path) -> None:
    nwbfile = mock_NWBFile()
    mock_TimeSeries(name="ts", data=DATA, nwbfile=nwbfile)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)


def test_convert_nwb_to_zarr3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_nwb(tmp_path / "s.nwb")
    out = tmp_path / "s.lindi.json"
    assert main(["convert", str(tmp_path / "s.nwb"), str(out), "--dialect", "zarr3", "--quiet"]) == 0
    capsys.readouterr()
    assert "acquisition/ts/data/zarr.json" in _keys(out) and ".zgroup" not in _keys(out)
    with hdmf_lindi.NWBLindiIO(str(out)) as io:
        np.testing.assert_array_equal(io.read().acquisition["ts"].data[:], DATA)


def test_unknown_dialect_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", str(tmp_path / "s.h5"), str(tmp_path / "o.lindi.json"), "--dialect", "zarr2"]) == 2
    assert "zarr3" in capsys.readouterr().err


def test_index_many_in_each_dialect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with h5py.File(tmp_path / "s.h5", "w") as f:
        f.create_dataset("g/x", data=DATA, chunks=(100, 3), compression="gzip")
    for dialect in ("lindi", "zarr3"):
        out = tmp_path / dialect
        argv = ["index-many", str(tmp_path / "s.h5"), "--out", str(out), "--jobs", "1", "--quiet"]
        assert main([*argv, "--dialect", dialect]) == 0
        assert "1 ok" in capsys.readouterr().out
        with hdmf_lindi.File(out / "s.h5.lindi.json") as f:
            assert f.dialect == dialect
            np.testing.assert_array_equal(f["g/x"][()], DATA)
    assert "g/x/zarr.json" in _keys(tmp_path / "zarr3" / "s.h5.lindi.json")
    out = tmp_path / "lindi"  # another dialect is another output: not skipped as done
    assert main(["index-many", str(tmp_path / "s.h5"), "--out", str(out), "--jobs", "1", "--quiet",
                 "--dialect", "zarr3"]) == 0
    assert "1 ok, 0 skipped" in capsys.readouterr().out


def test_convert_many_to_zarr3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_nwb(tmp_path / "s.nwb")
    out = tmp_path / "out"
    argv = ["convert-many", str(tmp_path / "s.nwb"), "--out", str(out), "--form", "json", "--jobs", "1"]
    assert main([*argv, "--quiet", "--dialect", "zarr3"]) == 0
    assert "1 ok" in capsys.readouterr().out
    assert "acquisition/ts/data/zarr.json" in _keys(out / "s.nwb.lindi.json")
    with hdmf_lindi.NWBLindiIO(str(out / "s.nwb.lindi.json")) as io:
        np.testing.assert_array_equal(io.read().acquisition["ts"].data[:], DATA)
    assert main([*argv, "--dialect", "zarr2"]) == 2


def test_external_links_in_zarr3_are_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with h5py.File(tmp_path / "s.h5", "w") as f:
        f.create_dataset("x", data=DATA, chunks=(100, 3))
    out = tmp_path / "o.lindi.json"
    argv = ["index", str(tmp_path / "s.h5"), str(out), "--dialect", "zarr3", "--external-link-chunk-threshold", "5"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "external_link_chunk_threshold=5" in err and "Traceback" not in err and not out.exists()
