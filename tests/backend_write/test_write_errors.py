"""Errors: writing read-only, creating over an existing file, unsupported data.

Every error is matched by type and message, and every case then checks that the file on disk
is exactly what it was before (canonical description, ``describe_ours``) and still reads as NWB.

* mode ``r``: ``write``/``write_builder`` raise hdmf's ``UnsupportedOperation``;
* modes ``w-`` and ``x`` over an existing file: ``ModeError`` (NWBHDF5IO raises
  ``UnsupportedOperation`` there; ``ModeError`` is a ``ValueError`` and a ``LindiError``);
* ``export`` outside mode ``w``, and from another backend without ``link_data=False``;
* unsupported data in append mode (form x case): ``H5DataIO(compression="lzf")``, a
  ``datetime64`` array, complex numbers (through ``LindiIO.write_builder``: hdmf refuses them
  before a backend sees them), and arbitrary Python objects. A failed write is discarded: the
  file stays exactly as it was, in mode ``a`` and when replacing it in mode ``w``
  (``test_failed_replace_keeps_previous_file``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hdmf.backends.errors import UnsupportedOperation
from hdmf.backends.hdf5 import H5DataIO
from hdmf.build import DatasetBuilder
from interop.test_lindi_interop import describe_ours
from pynwb import NWBHDF5IO
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile
from write_corpus import FORMS, SUFFIX

from hdmf_lindi import LindiIO, NWBLindiIO
from hdmf_lindi.errors import LindiError, ModeError, UnsupportedError

pytestmark = pytest.mark.filterwarnings("ignore:lzf compression may not be available:UserWarning")


def _existing(tmp_path: Path, form: str) -> Path:
    path = tmp_path / f"existing{SUFFIX[form]}"
    nwbfile = mock_NWBFile()
    mock_TimeSeries(name="kept", data=np.arange(20, dtype="int16"), nwbfile=nwbfile)
    with NWBLindiIO(path, "w") as io:
        io.write(nwbfile)
    return path


def _assert_readable(path: Path) -> None:
    """The previous content reads back as NWB (whatever else the file may now hold)."""
    with NWBLindiIO(path, "r") as io:
        nwbfile = io.read()
        assert list(nwbfile.acquisition) == ["kept"]
        np.testing.assert_array_equal(nwbfile.acquisition["kept"].data[:], np.arange(20, dtype="int16"))


def _assert_intact(path: Path, before: dict[str, Any]) -> None:
    """Exactly the previous content, and readable."""
    assert describe_ours(path) == before
    _assert_readable(path)


@pytest.mark.parametrize("form", FORMS)
def test_write_in_read_mode(tmp_path: Path, form: str) -> None:
    path = _existing(tmp_path, form)
    before = describe_ours(path)
    with NWBLindiIO(path, "r") as io:
        nwbfile = io.read()
        nwbfile.add_acquisition(mock_TimeSeries(name="refused"))
        with pytest.raises(UnsupportedOperation, match=r"Cannot write to file .* in mode 'r'\. Please use mode"):
            io.write(nwbfile)
        with pytest.raises(UnsupportedOperation, match=r"Cannot write to file .* in mode 'r'"):
            io.write_builder(io.read_builder())
    _assert_intact(path, before)


@pytest.mark.parametrize("mode", ["w-", "x"])
@pytest.mark.parametrize("form", FORMS)
def test_create_mode_on_existing_file(tmp_path: Path, form: str, mode: str) -> None:
    path = _existing(tmp_path, form)
    before = describe_ours(path)
    message = f"Cannot create {re.escape(str(path))} in mode '{mode}': it already exists. Use mode 'w' to replace it"
    with pytest.raises(ModeError, match=message) as info:
        NWBLindiIO(path, mode)
    assert isinstance(info.value, ValueError | LindiError)
    _assert_intact(path, before)


@pytest.mark.parametrize("mode", ["w-", "x"])
def test_create_mode_on_new_file(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "new.lindi.tar"
    nwbfile = mock_NWBFile()
    mock_TimeSeries(name="kept", data=np.arange(20, dtype="int16"), nwbfile=nwbfile)
    with NWBLindiIO(path, mode) as io:
        io.write(nwbfile)
    with NWBLindiIO(path, "r") as io:
        assert list(io.read().acquisition) == ["kept"]


def test_modify_mode_on_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.lindi.tar"
    with pytest.raises(ModeError, match=r"mode 'r\+'"):
        NWBLindiIO(path, "r+")
    assert not path.exists()
    with NWBLindiIO(path, "a") as io:  # mode a creates the file, as in h5py
        io.write(mock_NWBFile())
    with NWBLindiIO(path, "r") as io:
        assert io.read().acquisition == {}


def test_export_errors(tmp_path: Path) -> None:
    source = _existing(tmp_path, "json")
    h5 = tmp_path / "source.nwb"
    with NWBHDF5IO(h5, "w") as io:
        io.write(mock_NWBFile())
    with NWBLindiIO(source, "r") as src, NWBLindiIO(_existing(tmp_path, "tar"), "a") as io:
        with pytest.raises(UnsupportedOperation, match=r"Cannot export to file .* in mode 'a'\. Please use mode 'w'"):
            io.export(src)
    with NWBHDF5IO(h5, "r") as src, NWBLindiIO(tmp_path / "out.lindi.json", "w") as io:
        with pytest.raises(UnsupportedOperation, match=r"link_data=True\. Set write_args=\{'link_data': False\}"):
            io.export(src)


def _add_lzf(nwbfile: Any) -> None:
    nwbfile.add_acquisition(mock_TimeSeries(name="lzf", data=H5DataIO(np.arange(5.0), compression="lzf")))


def _add_datetime64(nwbfile: Any) -> None:
    nwbfile.add_scratch(np.array(["2020-01-01", "2021-06-30"], dtype="datetime64[D]"), name="dates", description="d")


def _add_python_objects(nwbfile: Any) -> None:
    nwbfile.add_scratch(np.array([object(), object()], dtype=object), name="objects", description="o")


UNSUPPORTED = {
    "lzf": (_add_lzf, r"H5DataIO compression 'lzf' has no numcodecs codec; use 'gzip'"),
    "datetime64": (_add_datetime64, r"Datasets of dtype datetime64 are not supported by LINDI"),
    "python_objects": (_add_python_objects, r"Object data holding object values is not supported by LINDI"),
}


@pytest.mark.parametrize(
    ("form", "case"), [pytest.param(form, case, id=f"{form}-{case}") for form in FORMS for case in UNSUPPORTED]
)
def test_unsupported_data_in_append(tmp_path: Path, form: str, case: str) -> None:
    path = _existing(tmp_path, form)
    before = describe_ours(path)
    add, message = UNSUPPORTED[case]
    with pytest.raises(UnsupportedError, match=message):
        with NWBLindiIO(path, "a") as io:
            nwbfile = io.read()
            nwbfile.create_processing_module("fine", "written before the bad object").add(mock_TimeSeries(name="ok"))
            add(nwbfile)
            io.write(nwbfile)
    _assert_intact(path, before)  # the module written before the error is discarded too


@pytest.mark.parametrize("form", FORMS)
def test_complex_data_through_write_builder(tmp_path: Path, form: str) -> None:
    path = _existing(tmp_path, form)
    before = describe_ours(path)
    with pytest.raises(UnsupportedError, match="Complex data is not supported by LINDI"):
        with LindiIO(path, "a") as io:
            root = io.read_builder()
            root.set_dataset(DatasetBuilder("complex", data=np.ones(3, dtype="complex128")))
            io.write_builder(root)
    _assert_intact(path, before)


@pytest.mark.parametrize("form", FORMS)
def test_failed_replace_keeps_previous_file(tmp_path: Path, form: str) -> None:
    path = _existing(tmp_path, form)
    before = describe_ours(path)
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="first"))
    _add_lzf(nwbfile)
    with pytest.raises(UnsupportedError, match="lzf"):
        with NWBLindiIO(path, "w") as io:
            io.write(nwbfile)
    _assert_intact(path, before)
