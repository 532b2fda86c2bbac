"""The command line, called in-process through ``main(argv)``: output and exit codes."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

import hdmf_lindi
from hdmf_lindi.cli import main


@pytest.fixture
def h5_file(tmp_path: Path) -> Path:
    path = tmp_path / "source.h5"
    with h5py.File(path, "w") as f:
        f.attrs["title"] = "cli"
        g = f.create_group("acq")
        g.create_dataset("data", data=np.arange(20000, dtype="i4").reshape(200, 100), chunks=(50, 100), compression="gzip")
        f["link"] = h5py.SoftLink("/acq")
    return path


@pytest.mark.parametrize("suffix", [".lindi.json", ".lindi.tar", ".lindi.d"])
def test_index_then_info(tmp_path: Path, h5_file: Path, suffix: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"x{suffix}"
    assert main(["index", str(h5_file), str(out), "--quiet"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    with hdmf_lindi.File(out) as f:
        np.testing.assert_array_equal(f["acq/data"][...], np.arange(20000).reshape(200, 100))
    assert main(["info", str(out), "--attrs"]) == 0
    text = capsys.readouterr().out
    assert "data: (200, 100) int32 chunks (50, 100) zlib [external " in text
    assert str(h5_file) in text and "link -> SoftLink(path='/acq')" in text and "@title = 'cli'" in text


def test_index_records_url_option(tmp_path: Path, h5_file: Path) -> None:
    out = tmp_path / "x.lindi.json"
    assert main(["index", str(h5_file), str(out), "--quiet", "--url", "https://example.org/f.nwb"]) == 0
    with hdmf_lindi.File(out) as f:
        assert f.container.refmap.raw("acq/data/0.0")[0] == "https://example.org/f.nwb"


def test_errors_are_one_line_with_exit_code_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5 at all")
    assert main(["index", str(bad), str(tmp_path / "x.lindi.json")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hdmf-lindi index: Cannot index") and err.count("\n") == 1
    assert not (tmp_path / "x.lindi.json").exists()
    assert main(["info", str(tmp_path / "missing.lindi.json")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert main([]) == 2
