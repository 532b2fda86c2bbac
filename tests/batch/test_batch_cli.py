"""hdmf-lindi index-many / index-dandiset / convert-many, called in-process: output, progress
on stderr, the manifest, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dandi_server import DandiServer

from hdmf_lindi.cli import main


def test_index_many_progress_summary_and_exit_code(
    tmp_path: Path, corpus: list[Path], text_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    sources = [str(p) for p in corpus[:3]] + [str(text_file), str(tmp_path / "missing.nwb")]
    assert main(["index-many", *sources, "--out", str(out), "--jobs", "1"]) == 1
    captured = capsys.readouterr()
    assert "indexed 5 files: 3 ok, 0 skipped, 1 unsupported, 1 failed" in captured.out
    assert f"failed: {tmp_path / 'missing.nwb'}: NodeNotFoundError" in captured.out
    lines = captured.err.splitlines()  # one plain line per file (no TTY), in completion order
    assert [line.split()[0] for line in lines] == [f"{i}/5" for i in range(1, 6)]
    assert sorted(line.split()[1] for line in lines) == ["failed", "ok", "ok", "ok", "unsupported"]
    assert len((out / "manifest.jsonl").read_text().splitlines()) == 5

    assert main(["index-many", *sources[:3], "--out", str(out), "--jobs", "1", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "indexed 3 files: 0 ok, 3 skipped" in captured.out and captured.err == ""
    assert main(["index-many", *sources[:1], "--out", str(out), "--jobs", "1", "--force", "--quiet"]) == 0
    assert "1 ok" in capsys.readouterr().out


def test_index_dandiset_and_convert_many(
    tmp_path: Path, dandi_server: DandiServer, corpus: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    asset = dandi_server.add_asset("sub-00/a.nwb", corpus[0])
    manifest = tmp_path / "m.jsonl"
    argv = ["index-dandiset", "000001@draft", "--out", str(tmp_path / "bucket"), "--api-url",
            dandi_server.api_url, "--jobs", "1", "--manifest", str(manifest), "--quiet"]
    assert main(argv) == 0
    assert "indexed 1 files: 1 ok" in capsys.readouterr().out
    assert (tmp_path / "bucket" / "dandisets" / "000001" / "assets" / asset.asset_id / "nwb.lindi.json").exists()
    assert json.loads(manifest.read_text())["extra"]["asset_path"] == "sub-00/a.nwb"
    assert main([*argv[:2], "--out", str(tmp_path), "--api-url", dandi_server.url("nothing"), "--quiet"]) == 1
    assert "not found" in capsys.readouterr().err

    assert main(["convert-many", str(corpus[1]), "--out", str(tmp_path / "conv"), "--jobs", "1", "--quiet"]) == 0
    assert (tmp_path / "conv" / f"{corpus[1].name}.lindi.tar").exists()


def test_usage_error() -> None:
    assert main(["index-many", "x.nwb"]) == 2  # --out is required
