"""Every tutorial runs as a newcomer would run it, and prints what it promises."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from httpserver import RangeServer

import hdmf_lindi

TUTORIALS = Path(__file__).resolve().parent.parent / "tutorials"


def run_tutorial(name: str, out_dir: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(TUTORIALS / name), str(out_dir), *args],
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


def test_pack_tar(tmp_path: Path) -> None:
    out = run_tutorial("04_pack_tar.py", tmp_path).splitlines()
    path = tmp_path / "updated.lindi.tar"
    match = re.fullmatch(r"updated.lindi.tar: ([\d,]+) bytes before, ([\d,]+) after packing", out[0])
    assert match, out[0]
    before, after = (int(n.replace(",", "")) for n in match.groups())
    assert after == path.stat().st_size
    assert before - after >= 20 * 80_000  # the twenty blobs of rewritten chunks, at least
    assert out[1:] == ["10 chunks copied (800,000 bytes of chunk data)", "updates: 20 - data unchanged: True"]
    with hdmf_lindi.File(path) as f:
        assert f["data"].shape == (1000, 100)


def test_index_hdf5_local_then_over_http(tmp_path: Path, http_server: RangeServer) -> None:
    """Tutorial 03 on its own mock NWB file, then on the same file served by a local server."""
    local = tmp_path / "local"
    local.mkdir()
    out = run_tutorial("03_index_hdf5.py", local).splitlines()
    assert out[0] == f"index of {local / 'example.nwb'}: {(local / 'example.nwb.lindi.json').stat().st_size:,} bytes"
    assert out[2:] == [
        "ElectricalSeries (ElectricalSeries): (30000, 32) int16",
        "  first samples: [  18 -986  -54 -794 -969]",
    ]

    shutil.copyfile(local / "example.nwb", http_server.root / "example.nwb")
    url = http_server.url("example.nwb")
    remote = tmp_path / "remote"
    remote.mkdir()
    remote_out = run_tutorial("03_index_hdf5.py", remote, url).splitlines()
    assert remote_out[0].startswith(f"index of {url}: ")
    assert remote_out[1:] == out[1:]
    assert not (remote / "example.nwb").exists()
    doc = json.loads((remote / "example.nwb.lindi.json").read_text())
    urls = {v[0] for v in doc["refs"].values() if isinstance(v, list)} | set(doc.get("templates", {}).values())
    assert url in urls and not any(str(local) in u for u in urls)
    gets = [r for r in http_server.requests if r.method == "GET"]
    assert gets and all(r.range is not None and r.status == 206 for r in gets)


@pytest.mark.parametrize("name", sorted(p.name for p in TUTORIALS.glob("*.py")))
def test_every_tutorial_runs(name: str, tmp_path: Path) -> None:
    run_tutorial(name, tmp_path)
