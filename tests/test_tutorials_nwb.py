"""The NWB tutorials (05-07) run as a newcomer would run them, locally and against a local server."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
from httpserver import RangeServer

import hdmf_lindi

TUTORIALS = Path(__file__).resolve().parent.parent / "tutorials"


def run_tutorial(name: str, out_dir: Path, *args: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, str(TUTORIALS / name), str(out_dir), *args],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def _serve_mock_nwb(tmp_path: Path, http_server: RangeServer) -> str:
    """Write the tutorials' mock NWB once (tutorial 05 without a URL) and serve it."""
    local = tmp_path / "make"
    local.mkdir()
    run_tutorial("05_read_remote_nwb.py", local)
    shutil.copyfile(local / "remote_example.nwb", http_server.root / "example.nwb")
    return http_server.url("example.nwb")


def test_read_remote_nwb_over_http(tmp_path: Path, http_server: RangeServer) -> None:
    url = _serve_mock_nwb(tmp_path, http_server)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = run_tutorial("05_read_remote_nwb.py", out_dir, url)
    index = out_dir / "remote_example.nwb.lindi.json"
    assert out[0] == f"{index.name}: {index.stat().st_size:,} bytes for {url}"
    assert out[1] == "<LindiDataset '/acquisition/ElectricalSeries/data' shape=(20000, 16) dtype=int16>"
    with h5py.File(http_server.root / "example.nwb") as f:
        expected = f["acquisition/ElectricalSeries/data"][0:1000, :]
    assert out[2] == f"first second: (1000, 16) int16 mean {float(expected.mean())}"
    assert out[-1] == "validation errors: []"
    assert "session: session_description" in out
    # the index references the served file, and nothing was copied next to it
    assert not (out_dir / "remote_example.nwb").exists()
    with hdmf_lindi.File(index) as f:
        ref = f.container.refmap.get("acquisition/ElectricalSeries/data/0.0")
        assert getattr(ref, "url", None) == url


def test_amend_remote_nwb_over_http(tmp_path: Path, http_server: RangeServer) -> None:
    url = _serve_mock_nwb(tmp_path, http_server)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = run_tutorial("06_amend_remote_nwb.py", out_dir, url)
    match = re.fullmatch(r"amended.lindi.tar: ([\d,]+) -> ([\d,]+) bytes \(new data: 20,000 bytes\)", out[0])
    assert match, out[0]
    assert out[1] == "modules: ['ecephys']"
    assert out[3] == "raw data still remote: (20000, 16)"
    with h5py.File(http_server.root / "example.nwb") as f:
        raw = f["acquisition/ElectricalSeries/data"][0:5000, :].astype(np.float32)
    expected = np.square(raw).mean(axis=1)
    with hdmf_lindi.NWBLindiIO(out_dir / "amended.lindi.tar") as io:
        nwbfile = io.read()
        np.testing.assert_allclose(nwbfile.processing["ecephys"]["mean_power"].data[:], expected, rtol=1e-6)
        data = nwbfile.acquisition["ElectricalSeries"].data
        assert data.dataset.file.container.refmap.get("acquisition/ElectricalSeries/data/0.0").url == url


def test_write_nwb(tmp_path: Path) -> None:
    out = run_tutorial("07_write_nwb.py", tmp_path)
    assert out[1] == "voltage: (10000, 4) float32 chunks (1000, 4) gzip"
    assert out[2] == "streamed: (3000, 8)"
    assert out[3] == "exported to HDF5: ['added_later', 'counts', 'streamed', 'voltage']"
    assert out[4] == "validation errors: []"
    with h5py.File(tmp_path / "tutorial.nwb") as f:
        streamed = f["acquisition/streamed/data"][:]
    np.testing.assert_array_equal(streamed, np.repeat(np.arange(3000, dtype=np.int16)[:, None], 8, axis=1))
    with hdmf_lindi.File(tmp_path / "tutorial.lindi.tar") as f:
        assert f["acquisition/counts/data"].compressor["id"] == "blosc"
