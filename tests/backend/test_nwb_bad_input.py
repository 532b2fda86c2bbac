"""Bad input and wrong modes: clear exceptions, of the types NWBHDF5IO users already catch.

Every error hdmf_lindi raises on purpose is a ``LindiError``; where NWBHDF5IO raises a builtin
or hdmf type for the same mistake (``TypeError`` for a file without ``nwb_version``,
``UnsupportedOperation`` for reading in a create mode or writing in ``r``, ``ValueError`` for
an unknown mode), NWBLindiIO raises that type too, so code written for NWBHDF5IO keeps working.
``can_read`` answers every case without raising.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from backend_corpus import Corpus
from hdmf.backends.io import UnsupportedOperation
from pynwb import NWBHDF5IO
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_lindi import File, NWBLindiIO
from hdmf_lindi.errors import FormatError, LindiError, MissingFileError


@pytest.fixture
def plain_lindi(tmp_path: Path) -> Path:
    """A valid LINDI file that is not NWB (no ``nwb_version``, no cached namespaces)."""
    path = tmp_path / "plain.lindi.json"
    with File(str(path), "w") as f:
        f.create_group("g").attrs["x"] = 1
        f.create_dataset("d", data=np.arange(3))
    return path


@pytest.fixture
def plain_h5(tmp_path: Path) -> Path:
    """An HDF5 file that is not NWB."""
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as f:
        f.create_group("g")
    return path


BAD_CONTENT = {
    # name: (file name, bytes, message the error must match)
    "truncated_json": ("bad.lindi.json", b'{"refs": {".zgroup": ', "not valid JSON"),
    "not_json": ("bad.lindi.json", b"hello world", "not a LINDI file"),
    "zeros_tar": ("bad.lindi.tar", b"\0" * 3000, "not a LINDI file"),
    "json_list": ("bad.lindi.json", b"[1, 2, 3]", "bad.lindi.json"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONTENT))
def test_corrupt_lindi_file(tmp_path: Path, case: str) -> None:
    name, content, message = BAD_CONTENT[case]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(FormatError, match=message):
        NWBLindiIO(str(path), "r")
    assert NWBLindiIO.can_read(str(path)) is False


@pytest.mark.parametrize(
    "name", ["missing.lindi.json", "missing.lindi.tar", "missing.lindi.d", "missing.nwb"]
)
def test_missing_path(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with pytest.raises(LindiError, match=r"missing\.(lindi|nwb).*no such file"):
        NWBLindiIO(str(path), "r")
    assert NWBLindiIO.can_read(str(path)) is False
    assert not path.exists(), "reading must not create the file"


@pytest.mark.parametrize("kind", ["lindi", "h5"])
def test_non_nwb_file(plain_lindi: Path, plain_h5: Path, kind: str) -> None:
    path = plain_lindi if kind == "lindi" else plain_h5
    # NWBHDF5IO raises TypeError for a file without nwb_version; so do we
    with NWBHDF5IO(str(plain_h5), "r") as io, pytest.raises(TypeError, match="Missing NWB version"):
        io.read()
    with NWBLindiIO(str(path), "r") as io:
        assert io.nwb_version == (None, None)
        with pytest.raises(TypeError, match="Missing NWB version"):
            io.read()
    assert NWBLindiIO.can_read(str(path)) is False


def test_can_read_never_raises(tmp_path: Path, plain_lindi: Path) -> None:
    weird = [
        str(tmp_path),
        "",
        str(tmp_path / "nope" / "x.lindi.json"),
        "http://127.0.0.1:1/x.lindi.json",
    ]
    for path in weird:
        assert NWBLindiIO.can_read(path) is False, path
    assert NWBLindiIO.can_read(str(plain_lindi)) is False


@pytest.mark.parametrize("suffix", [".lindi.json", ".lindi.tar", ".lindi.d"])
def test_read_in_create_mode_is_refused(tmp_path: Path, suffix: str) -> None:
    hdf5_path, lindi_path = tmp_path / "w.nwb", tmp_path / f"w{suffix}"
    with NWBHDF5IO(str(hdf5_path), "w") as io:
        with pytest.raises(UnsupportedOperation, match="mode 'w'"):
            io.read(skip_version_check=True)
    with NWBLindiIO(str(lindi_path), "w") as io:
        with pytest.raises(UnsupportedOperation, match="mode 'w'"):
            io.read(skip_version_check=True)
        with pytest.raises(TypeError, match="Missing NWB version"):  # as NWBHDF5IO does
            io.read()


def test_write_in_read_mode_is_refused(corpus: Corpus) -> None:
    with NWBLindiIO(str(corpus.source("legacy", "json")), "r") as io:
        with pytest.raises(UnsupportedOperation, match="mode 'r'"):
            io.write(mock_NWBFile())


def test_unknown_mode(plain_lindi: Path, plain_h5: Path) -> None:
    with pytest.raises(ValueError, match="mode"):
        NWBHDF5IO(str(plain_h5), "q", load_namespaces=False)
    with pytest.raises(ValueError, match="'q'") as info:
        NWBLindiIO(str(plain_lindi), "q")
    assert isinstance(info.value, LindiError)


def test_exclusive_create_of_existing_file(plain_lindi: Path) -> None:
    before = plain_lindi.read_bytes()
    with pytest.raises(ValueError, match="already exists") as info:
        NWBLindiIO(str(plain_lindi), "w-")
    assert isinstance(info.value, LindiError | UnsupportedOperation)
    assert plain_lindi.read_bytes() == before


@pytest.mark.parametrize("mode", ["r+", "a", "w"])
def test_hdf5_source_is_read_only(corpus: Corpus, mode: str) -> None:
    path = corpus.paths["legacy"]
    before = path.stat().st_mtime_ns, path.stat().st_size
    with pytest.raises(LindiError, match="read-only"):
        NWBLindiIO(str(path), mode)
    assert (path.stat().st_mtime_ns, path.stat().st_size) == before


@pytest.mark.parametrize("source", ["json", "nwb"])
def test_read_twice_and_close_twice(corpus: Corpus, source: str) -> None:
    # as NWBHDF5IO: read() returns the same NWBFile, close() is idempotent, and reading a
    # closed IO raises the same TypeError (its nwb_version is gone)
    io = NWBLindiIO(str(corpus.source("legacy", source)), "r")
    first = io.read()
    assert io.read() is first
    assert first.read_io is io
    io.close()
    io.close()
    assert not io.is_open()
    with pytest.raises(TypeError, match="Missing NWB version"):
        io.read()


@pytest.mark.parametrize("suffix", [".lindi.json", ".lindi.tar", ".lindi.d", ".nwb"])
def test_missing_path_is_a_file_not_found_error(tmp_path: Path, suffix: str) -> None:
    """Code written for NWBHDF5IO (``except FileNotFoundError``) catches ours too."""
    missing = tmp_path / f"missing{suffix}"
    with pytest.raises(FileNotFoundError, match="no such file or directory") as info:
        NWBLindiIO(missing, "r")
    assert isinstance(info.value, MissingFileError)
    assert not missing.exists()
