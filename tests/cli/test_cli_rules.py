"""The command line's shared rules, through the real CLI: --force, suffixes, wording, pipes, help.

Most cases call ``main(argv)`` in-process; those that depend on the process itself (a closed
pipe, what libhdf5 prints on its own, stderr being a file) run ``python -m hdmf_lindi``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from cli_terminal import run_on_terminal

import hdmf_lindi
from hdmf_lindi.cli import _parser, main
from hdmf_lindi.errors import FileNameError

ACCEPTED = ".lindi.json, .lindi.tar or .lindi.d"


@pytest.fixture
def h5_file(tmp_path: Path) -> Path:
    path = tmp_path / "source.h5"
    with h5py.File(path, "w") as f:
        for i in range(300):  # enough objects for the progress callback to fire
            f.create_dataset(f"g{i // 50}/d{i}", data=np.arange(10))
    return path


def _run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hdmf_lindi", *argv], cwd=cwd, capture_output=True, text=True, timeout=120
    )


# --- help ------------------------------------------------------------------------------------


def test_every_option_of_every_command_has_help() -> None:
    parser = _parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert {"index", "info", "convert", "pack", "validate"} <= set(sub.choices)
    for name, command in sub.choices.items():
        assert command.description or name in {a.dest for a in sub._choices_actions}
        for action in command._actions:
            assert action.help and action.help.strip(), f"hdmf-lindi {name} {action.option_strings or action.dest}"
    for action in sub._choices_actions:
        assert action.help, action.dest


# --- --force and existing outputs ------------------------------------------------------------


def test_index_refuses_to_overwrite_without_force(tmp_path: Path, h5_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.lindi.json"
    out.write_text("keep")
    assert main(["index", str(h5_file), str(out)]) == 1
    assert capsys.readouterr().err == f"hdmf-lindi index: {out} exists; pass --force to replace it.\n"
    assert out.read_text() == "keep"
    assert main(["index", "--force", str(h5_file), str(out)]) == 0
    with hdmf_lindi.File(out) as f:
        np.testing.assert_array_equal(f["g0/d0"][...], np.arange(10))


# --- suffixes --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["out.nwb", "out.h5", "out.hdf5", "out.txt", "out"])
def test_lindi_writers_refuse_other_names(
    tmp_path: Path, h5_file: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / name
    assert main(["index", str(h5_file), str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"hdmf-lindi index: Cannot write a LINDI file named {out}") and ACCEPTED in err
    assert err.count("\n") == 1
    lindi = tmp_path / "in.lindi.tar"
    assert main(["index", "--quiet", str(h5_file), str(lindi)]) == 0
    capsys.readouterr()
    assert main(["pack", str(lindi), str(out)]) == 1
    assert ACCEPTED in capsys.readouterr().err
    with pytest.raises(FileNameError, match="Cannot write a LINDI file named"):
        hdmf_lindi.File(out, "w")
    with pytest.raises(FileNameError, match=ACCEPTED):
        hdmf_lindi.NWBLindiIO(out, "w")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.lindi.tar", "source.h5"]


def test_convert_writes_hdf5_for_hdf5_names_and_refuses_unknown_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pynwb import NWBHDF5IO
    from pynwb.testing.mock.base import mock_TimeSeries
    from pynwb.testing.mock.file import mock_NWBFile

    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="ts", data=np.arange(10.0)))
    lindi = tmp_path / "in.lindi.json"
    with hdmf_lindi.NWBLindiIO(lindi, "w") as io:
        io.write(nwbfile)
    assert main(["convert", "--quiet", str(lindi), str(tmp_path / "out.h5")]) == 0
    with NWBHDF5IO(tmp_path / "out.h5", "r") as io:
        np.testing.assert_array_equal(io.read().acquisition["ts"].data[:], np.arange(10.0))
    assert main(["convert", str(lindi), str(tmp_path / "out.txt")]) == 1
    assert ACCEPTED in capsys.readouterr().err
    assert not (tmp_path / "out.txt").exists()


# --- wording of errors -------------------------------------------------------------------------


def test_command_line_wording(tmp_path: Path, h5_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.nwb"
    for argv in (["index", str(missing), str(tmp_path / "o.lindi.json")], ["info", str(missing)],
                 ["convert", str(missing), str(tmp_path / "o.lindi.tar")], ["validate", str(missing)],
                 ["pack", str(missing), str(tmp_path / "o.lindi.tar")]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err == f"hdmf-lindi {argv[0]}: {missing}: no such file or directory (the input).\n", err
    no_dir = tmp_path / "no" / "such" / "o.lindi.tar"
    for argv in (["index", str(h5_file), str(no_dir)], ["convert", str(h5_file), str(no_dir)]):
        assert main(argv) == 1
        assert capsys.readouterr().err == (
            f"hdmf-lindi {argv[0]}: Cannot write {no_dir}: the directory {no_dir.parent} does not exist.\n"
        )
    assert main(["index", str(tmp_path), str(tmp_path / "o.lindi.json")]) == 1
    assert capsys.readouterr().err == f"hdmf-lindi index: {tmp_path} is a directory, not an HDF5 file.\n"
    assert main(["info", str(h5_file)]) == 1
    err = capsys.readouterr().err
    assert f"hdmf-lindi index {h5_file} OUT.lindi.json" in err and "index_hdf5" not in err
    assert not list(tmp_path.glob("*.lindi.*"))


def test_libhdf5_prints_nothing_of_its_own(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nwb"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 600)  # an HDF5 signature, then garbage
    for source in (bad, tmp_path):
        done = _run("index", str(source), "o.lindi.json", cwd=tmp_path)
        assert done.returncode == 1
        assert done.stderr.startswith("hdmf-lindi index: ") and done.stderr.count("\n") == 1, done.stderr
        assert "HDF5-DIAG" not in done.stderr and "Traceback" not in done.stderr


# --- pipes, terminals, files -------------------------------------------------------------------


def test_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    path = tmp_path / "many.lindi.json"
    with hdmf_lindi.File(path, "w") as f:
        for i in range(3000):
            f.create_dataset(f"d{i:04}", data=[i])
    reader = subprocess.Popen(
        [sys.executable, "-m", "hdmf_lindi", "info", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert reader.stdout is not None and reader.stderr is not None
    assert reader.stdout.readline().startswith(str(path))  # as "| head -1" does
    reader.stdout.close()
    err = reader.stderr.read()
    assert reader.wait(timeout=120) == 141
    assert err == ""


def test_progress_goes_to_a_terminal_only(tmp_path: Path, h5_file: Path) -> None:
    code, shown = run_on_terminal(["index", str(h5_file), str(tmp_path / "a.lindi.json")])
    assert code == 0 and "indexing" in shown
    assert shown.endswith("\r") and not shown.rsplit("\r", 2)[-2].strip()  # erased when done
    with open(tmp_path / "err.txt", "w") as err:  # stderr a file: not a single byte of progress
        done = subprocess.run(
            [sys.executable, "-m", "hdmf_lindi", "index", str(h5_file), "b.lindi.json"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=err, text=True, timeout=120,
        )
    assert done.returncode == 0 and done.stdout.startswith("wrote b.lindi.json: ")
    assert (tmp_path / "err.txt").read_text() == ""


def test_convert_shows_activity_on_a_terminal(tmp_path: Path) -> None:
    from pynwb.testing.mock.base import mock_TimeSeries
    from pynwb.testing.mock.file import mock_NWBFile

    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="ts", data=np.arange(10.0)))
    src = tmp_path / "in.lindi.json"
    with hdmf_lindi.NWBLindiIO(src, "w") as io:
        io.write(nwbfile)
    code, shown = run_on_terminal(["convert", str(src), str(tmp_path / "out.lindi.tar")])
    assert code == 0 and "converting" in shown and not shown.rsplit("\r", 2)[-2].strip()
    code, shown = run_on_terminal(["convert", "--quiet", "--force", str(src), str(tmp_path / "out.lindi.tar")])
    assert (code, shown) == (0, "")


# --- validate ----------------------------------------------------------------------------------


def test_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pynwb import NWBHDF5IO, TimeSeries
    from pynwb.testing.mock.file import mock_NWBFile

    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(TimeSeries(name="ts", data=np.arange(5.0), unit="V", rate=1.0))
    good = tmp_path / "good.nwb"
    with NWBHDF5IO(good, "w") as io:
        io.write(nwbfile)
    index = tmp_path / "good.lindi.json"
    assert main(["index", "--quiet", str(good), str(index)]) == 0
    capsys.readouterr()
    assert main(["validate", str(index)]) == 0
    assert capsys.readouterr().out == f"{index}: valid\n"
    with h5py.File(good, "r+") as f:  # a required attribute removed
        del f["acquisition/ts/data"].attrs["unit"]
    assert main(["validate", str(good)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"{good}: {len(lines) - 1} validation error{'s' if len(lines) > 2 else ''}"
    assert any("unit" in line for line in lines[:-1])


# --- NWBLindiIO(file=h5py.File(...)) -------------------------------------------------------------


def test_nwb_io_reads_an_open_h5py_file(tmp_path: Path) -> None:
    from pynwb import NWBHDF5IO
    from pynwb.testing.mock.base import mock_TimeSeries
    from pynwb.testing.mock.file import mock_NWBFile

    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="ts", data=np.arange(3000.0).reshape(1000, 3)))
    path = tmp_path / "x.nwb"
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    with h5py.File(path, "r") as h5:
        with hdmf_lindi.NWBLindiIO(file=h5) as io:
            data = io.read().acquisition["ts"].data
            np.testing.assert_array_equal(data[10:20], np.arange(3000.0).reshape(1000, 3)[10:20])
        assert h5  # the h5py file is the caller's: still open
    with h5py.File(path, "r") as h5, pytest.raises(hdmf_lindi.errors.ModeError, match="use mode 'r'"):
        hdmf_lindi.NWBLindiIO(file=h5, mode="a")
    with h5py.File(path, "a") as h5, pytest.raises(hdmf_lindi.errors.ModeError, match="open for writing"):
        hdmf_lindi.NWBLindiIO(file=h5)
    with pytest.raises(hdmf_lindi.errors.UnsupportedError, match="file= takes"):
        hdmf_lindi.NWBLindiIO(file=os.fspath(path))  # type: ignore[arg-type]


def test_verify_of_several_files_shows_a_bar_on_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = []
    for i in range(3):
        path = tmp_path / f"f{i}.lindi.tar"
        with hdmf_lindi.File(path, "w") as f:
            f.create_dataset("x", data=np.arange(100), chunks=(10,))
        paths.append(str(path))
    code, shown = run_on_terminal(["verify", *paths])
    assert code == 0 and "verifying" in shown and not shown.rsplit("\r", 2)[-2].strip()
    out = capsys.readouterr().out
    assert all(p in out for p in paths)
    code, shown = run_on_terminal(["verify", "--quiet", *paths])
    assert (code, shown) == (0, "")
