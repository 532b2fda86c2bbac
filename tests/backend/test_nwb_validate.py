"""``pynwb.validate`` passes on what NWBLindiIO reads exactly as on the HDF5 original.

The matrix: every corpus file, from every source (json, tar, dir, and the ``.nwb`` directly),
through ``pynwb.validate(io=NWBLindiIO(...))`` (pynwb's own validator over our builders) and
through ``hdmf_lindi.validate(path)`` (the path-based entry point pynwb cannot dispatch to).
JSON keeps no numeric widths, so these pass only if attribute dtypes are restored from the
spec. A deliberately invalid file checks that the validator sees errors through us at all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pynwb
import pytest
from backend_corpus import FILES, Corpus
from pynwb import NWBHDF5IO, TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

import hdmf_lindi
from hdmf_lindi import NWBLindiIO, index_hdf5


def _messages(errors: list[object]) -> list[str]:
    return sorted(str(e) for e in errors)


@pytest.mark.parametrize("file", FILES)
def test_corpus_is_valid_hdf5(corpus: Corpus, file: str) -> None:
    # the reference: NWBHDF5IO finds every corpus file valid
    with NWBHDF5IO(str(corpus.paths[file]), "r") as io:
        assert _messages(pynwb.validate(io=io)) == []


# pynwb.validate costs about a second a file. The three LINDI forms hold the same reference
# map (test_nwb_roundtrip.py shows their reads are equal), so json stands for all three, and
# tar and dir are validated on one file.
VALIDATE_CASES = [(file, source) for file in FILES for source in ("json", "nwb")] + [
    ("tables", "tar"),
    ("tables", "dir"),
]


@pytest.mark.parametrize(("file", "source"), VALIDATE_CASES)
def test_pynwb_validate_io(corpus: Corpus, file: str, source: str) -> None:
    with NWBLindiIO(str(corpus.source(file, source)), "r") as io:
        assert _messages(pynwb.validate(io=io)) == []


@pytest.mark.parametrize("file", FILES)
def test_hdmf_lindi_validate_path(corpus: Corpus, file: str) -> None:
    assert _messages(hdmf_lindi.validate(corpus.source(file, "json"))) == []


@pytest.mark.parametrize("source", ["tar", "nwb"])
def test_hdmf_lindi_validate_str_path(corpus: Corpus, source: str) -> None:
    assert hdmf_lindi.validate(str(corpus.source("tables", source))) == []


@pytest.fixture(scope="module")
def invalid_nwb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An NWB file whose TimeSeries data lacks its required ``unit`` attribute."""
    path = tmp_path_factory.mktemp("invalid") / "invalid.nwb"
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(TimeSeries(name="ts", data=np.arange(5.0), unit="V", rate=1.0))
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    import h5py

    with h5py.File(path, "r+") as f:
        del f["acquisition/ts/data"].attrs["unit"]
    return path


@pytest.mark.parametrize("form", ["json", "nwb"])
def test_validation_errors_are_reported(invalid_nwb: Path, tmp_path: Path, form: str) -> None:
    path = invalid_nwb
    if form == "json":
        path = tmp_path / "invalid.lindi.json"
        index_hdf5(invalid_nwb, path)
    with NWBHDF5IO(str(invalid_nwb), "r") as io:
        expected = _messages(pynwb.validate(io=io))
    assert expected, "the invalid file should not validate"
    with NWBLindiIO(str(path), "r") as io:
        assert _messages(pynwb.validate(io=io)) == expected
    assert _messages(hdmf_lindi.validate(path)) == expected
