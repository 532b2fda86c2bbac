"""Every tutorial runs as a newcomer would run it, and prints what it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import hdmf_lindi

TUTORIALS = Path(__file__).resolve().parent.parent / "tutorials"


def run_tutorial(name: str, out_dir: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(TUTORIALS / name), str(out_dir)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_create_and_read(tmp_path: Path) -> None:
    out = run_tutorial("01_create_and_read.py", tmp_path)
    assert out.splitlines()[:3] == ["value1", "7", "[12. 12. 12. 12. 12. 12. 12. 12. 12. 12.]"]
    with hdmf_lindi.File(tmp_path / "example.lindi.json") as f:
        np.testing.assert_array_equal(f["dataset1"][...], np.full(10, 12, dtype="f4"))


def test_large_array_tar(tmp_path: Path) -> None:
    out = run_tutorial("02_large_array_tar.py", tmp_path)
    assert "(1000, 1000) float32" in out
    with hdmf_lindi.File(tmp_path / "example.lindi.tar") as f:
        ds = f["dataset1"]
        assert ds.shape == (1000, 1000)
        refs = [f.container.refmap.raw(k) for k in f.container.refmap if k.startswith("dataset1/") and not k.endswith(".zarray")]
        assert refs and all(isinstance(r, list) and r[0].startswith("./blobs/") for r in refs)


@pytest.mark.parametrize("name", sorted(p.name for p in TUTORIALS.glob("*.py")))
def test_every_tutorial_runs(name: str, tmp_path: Path) -> None:
    run_tutorial(name, tmp_path)
