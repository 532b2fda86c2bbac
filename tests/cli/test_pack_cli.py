"""``hdmf-lindi pack IN OUT``, called in-process through ``main(argv)``: output, exit codes, files.

Exit codes: 0 packed, 1 a bad or damaged input or a refused destination (one line on stderr,
the traceback only with ``-v``), 2 bad usage.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from cli_terminal import run_on_terminal

import hdmf_lindi
from hdmf_lindi.cli import main


@pytest.fixture
def updated_tar(tmp_path: Path) -> Path:
    """A tar updated ten times: each update leaves a dead blob, an old index and lindi.json."""
    path = tmp_path / "in.lindi.tar"
    rng = np.random.default_rng(0)
    with hdmf_lindi.File(path, "w") as f:
        f.create_dataset("x", data=rng.random((100, 100)), chunks=(10, 100))
    for i in range(10):
        with hdmf_lindi.File(path, "a") as f:
            f["x"][i * 10:(i + 1) * 10] = rng.random((10, 100))
            f.attrs["i"] = i
    return path


def _values(path: Path) -> tuple[np.ndarray, int]:
    with hdmf_lindi.File(path) as f:
        return f["x"][...], f.attrs["i"]


def test_pack_prints_sizes(tmp_path: Path, updated_tar: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.lindi.tar"
    assert main(["pack", str(updated_tar), str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # not a terminal: no progress bar, no carriage returns
    line = captured.out.strip()
    match = re.fullmatch(
        rf"packed {re.escape(str(updated_tar))} -> {re.escape(str(out))}: ([\d,]+) -> ([\d,]+) "
        r"bytes \(10 blobs and 0 inline chunks copied, 0 references kept\)",
        line,
    )
    assert match, line
    before, after = (int(g.replace(",", "")) for g in match.groups())
    assert before == updated_tar.stat().st_size and after == out.stat().st_size
    assert after < before / 2
    x, i = _values(out)
    np.testing.assert_array_equal(x, _values(updated_tar)[0])
    assert i == 9


def test_progress_on_a_terminal_is_cleared_and_quiet_hides_it(tmp_path: Path, updated_tar: Path) -> None:
    code, shown = run_on_terminal(["pack", str(updated_tar), str(tmp_path / "a.lindi.tar")])
    assert code == 0
    assert "packing" in shown  # the bar was drawn ...
    assert shown.endswith("\r") and not shown.rsplit("\r", 2)[-2].strip()  # ... and erased
    code, shown = run_on_terminal(["pack", "--quiet", str(updated_tar), str(tmp_path / "b.lindi.tar")])
    assert (code, shown) == (0, "")


def test_error_after_progress_starts_on_a_clean_line(
    tmp_path: Path, updated_tar: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hdmf_lindi.storage import pack as pack_module

    monkeypatch.setattr(pack_module, "BATCH_BYTES", 30_000)
    data = bytearray(updated_tar.read_bytes())  # drop the last chunk's blob from the index
    entry = json.loads(data[512:1536])["index"]
    index = json.loads(data[entry["d"]:entry["d"] + entry["s"]])
    with hdmf_lindi.File(updated_tar) as f:
        last = f.container.refmap.get("x/9.0")
    index["files"] = [r for r in index["files"] if "./" + r["n"] != last[0]]
    text = json.dumps(index).encode()
    data[entry["d"]:entry["d"] + entry["s"]] = text + b" " * (entry["s"] - len(text))
    updated_tar.write_bytes(bytes(data))
    out = tmp_path / "out.lindi.tar"
    code, shown = run_on_terminal(["pack", str(updated_tar), str(out)])
    assert code == 1
    bar, error = shown.rsplit("\r", 1)  # the bar is erased, then the error starts at column 0
    assert "packing" in bar and not bar.rsplit("\r", 1)[-1].strip()
    assert error.startswith("hdmf-lindi pack: Chunk 'x/9.0' of ") and "not in the archive's index" in error
    assert error.endswith("\n") and error.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize(("suffix", "kind"), [(".lindi.json", "json"), (".lindi.d", "dir")])
def test_pack_converts_by_suffix(tmp_path: Path, updated_tar: Path, suffix: str, kind: str) -> None:
    out = tmp_path / f"out{suffix}"
    assert main(["pack", str(updated_tar), str(out)]) == 0
    with hdmf_lindi.File(out) as f:
        assert f.container.kind == kind
    np.testing.assert_array_equal(_values(out)[0], _values(updated_tar)[0])


def test_existing_output_needs_force(tmp_path: Path, updated_tar: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.lindi.tar"
    out.write_bytes(b"keep me")
    assert main(["pack", str(updated_tar), str(out)]) == 1
    err = capsys.readouterr().err
    assert err == f"hdmf-lindi pack: {out} exists; pass --force to replace it.\n"
    assert out.read_bytes() == b"keep me"
    assert main(["pack", "--force", str(updated_tar), str(out)]) == 0
    np.testing.assert_array_equal(_values(out)[0], _values(updated_tar)[0])


def test_pack_in_place(tmp_path: Path, updated_tar: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected = _values(updated_tar)[0]
    size = updated_tar.stat().st_size
    assert main(["pack", str(updated_tar), str(updated_tar)]) == 0
    assert f"-> {updated_tar}: {size:,} -> {updated_tar.stat().st_size:,} bytes" in capsys.readouterr().out
    assert updated_tar.stat().st_size < size / 2
    np.testing.assert_array_equal(_values(updated_tar)[0], expected)
    assert [p.name for p in tmp_path.iterdir()] == [updated_tar.name]


def test_truncated_input_exits_1_and_creates_nothing(
    tmp_path: Path, updated_tar: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    updated_tar.write_bytes(updated_tar.read_bytes()[:50_000])
    out = tmp_path / "out.lindi.tar"
    assert main(["pack", str(updated_tar), str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hdmf-lindi pack: Member ") and "the file is truncated" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [updated_tar.name]


def test_verbose_shows_the_traceback(
    tmp_path: Path, updated_tar: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    updated_tar.write_bytes(b"{ not json")
    assert main(["-v", "pack", str(updated_tar), str(tmp_path / "out.lindi.tar")]) == 1
    assert "is not valid JSON" in capsys.readouterr().err
    assert any(r.exc_info is not None for r in caplog.records)
    assert "Traceback" in caplog.text


def test_unwritable_destination_exits_1(tmp_path: Path, updated_tar: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "no" / "such" / "dir" / "out.lindi.tar"
    assert main(["pack", str(updated_tar), str(out)]) == 1
    err = capsys.readouterr().err
    assert err == f"hdmf-lindi pack: Cannot write {out}: the directory {out.parent} does not exist.\n"


@pytest.mark.parametrize(
    "argv", [["pack"], ["pack", "only-one.lindi.tar"], ["pack", "a", "b", "c"], ["pack", "--frobnicate", "a", "b"]]
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: hdmf-lindi") and "error: " in err


def test_help_mentions_pack(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pack", "--help"]) == 0
    text = capsys.readouterr().out
    assert "IN itself (packed in place, atomically)" in text.replace("\n", " ").replace("  ", " ")
    assert "--force" in text
