"""Round trip of the whole corpus through NWBLindiIO, in each of the three forms.

Matrix: corpus file (``main`` with the extension, ``ecephys_tables``, ``legacy``) x form
(``.lindi.json``, ``.lindi.tar``, ``.lindi.d``). Each case builds fresh containers, writes
them with ``NWBLindiIO(path, "w")``, reads them back and compares with pynwb's
``assertContainerEqual`` against the original objects (the same check pynwb's own round-trip
tests use); ``hdmf_lindi.validate`` (pynwb's validator over ``NWBLindiIO``) must report nothing.

The extension's classes come from a private type map, so reading uses
``BuildManager(that type map)``; ``test_extension_from_cached_spec`` reads with the namespaces
cached in the file instead (no manager) and checks the extension's values and dtypes.

``test_write_matches_nwbhdf5io`` compares the stored files themselves: what ``NWBLindiIO`` writes
reads (through ``hdmf_lindi.File``) exactly as what ``NWBHDF5IO`` writes from the same recipe
reads through h5py, in the canonical, type-strict description of ``tests/interop``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pynwb
import pytest
from interop.test_lindi_interop import assert_same, describe_h5py, describe_ours
from pynwb.testing import TestCase
from pynwb.testing.mock import utils as mock_utils
from write_corpus import EXT_TYPE, FILES, FORMS, NOT_ADDED, SUFFIX, Corpus, add_extension_object

import hdmf_lindi
from hdmf_lindi import NWBLindiIO


def _compare(original: Any, read_back: Any) -> None:
    case = TestCase()
    case.maxDiff = None
    case.assertContainerEqual(original, read_back, ignore_hdmf_attrs=True)


def _write(corpus: Corpus, name: str, path: Path) -> Any:
    nwbfile = corpus.build(name)
    with NWBLindiIO(path, "w", manager=corpus.manager()) as io:
        io.write(nwbfile)
    return nwbfile


def test_every_mock_is_written(corpus: Corpus) -> None:
    for name in FILES:
        corpus.build(name)
    assert set(corpus.mocks) == set(corpus.called) | set(NOT_ADDED)
    assert len(corpus.mocks) >= 30  # pynwb 4.2 has 34: guard against discovery finding nothing


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", FILES)
def test_roundtrip(corpus: Corpus, tmp_path: Path, name: str, form: str) -> None:
    path = tmp_path / f"{name}{SUFFIX[form]}"
    original = _write(corpus, name, path)
    assert (path.is_dir() if form == "dir" else path.is_file())
    with NWBLindiIO(path, "r", manager=corpus.manager()) as io:
        read_back = io.read()
        _compare(original, read_back)
        assert read_back.container_source == str(path.absolute())
    assert hdmf_lindi.validate(path) == []  # pynwb.validate(io=NWBLindiIO(path)) with the cached spec


def test_pynwb_validate_accepts_the_io(corpus: Corpus, tmp_path: Path) -> None:
    path = tmp_path / "ecephys_tables.lindi.json"
    (series,) = _write(corpus, "ecephys_tables", path).acquisition  # mock names count up per process
    with NWBLindiIO(path, "r") as io:
        assert list(pynwb.validate(io=io)) == []
    # and the validator does see problems: drop a required attribute of a TimeSeries
    with hdmf_lindi.File(path, "r+") as f:
        del f[f"acquisition/{series}/data"].attrs["unit"]
    with NWBLindiIO(path, "r") as io:
        errors = [str(e) for e in pynwb.validate(io=io)]
    assert any("unit" in e for e in errors), errors


@pytest.mark.parametrize("name", FILES)
def test_write_matches_nwbhdf5io(corpus: Corpus, tmp_path: Path, name: str) -> None:
    """NWBLindiIO stores what NWBHDF5IO stores: same tree, values, dataset dtypes and attributes.

    The same recipe is built twice with the mock name counters reset, so that both files have the
    same names; only ``object_id`` (random UUIDs) may differ.
    """
    fixed = {"identifier": "write-corpus", "file_create_date": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)}
    h5, lindi = tmp_path / f"{name}.nwb", tmp_path / f"{name}.lindi.json"
    for path, io_cls in ((h5, pynwb.NWBHDF5IO), (lindi, NWBLindiIO)):
        mock_utils.name_generator_registry.clear()
        nwbfile = corpus.build(name, **fixed)
        with io_cls(path, "w", manager=corpus.manager()) as io:
            io.write(nwbfile)
    expected, ours = describe_h5py(h5), describe_ours(lindi)
    for desc in (expected, ours):
        for entry in desc.values():
            entry.get("attrs", {}).pop("object_id", None)
    assert_same(ours, expected, f"{lindi.name} written by NWBLindiIO")
    assert len(expected) > 40  # many objects were compared


@pytest.mark.parametrize("form", FORMS)
def test_extension_from_cached_spec(corpus: Corpus, tmp_path: Path, form: str) -> None:
    path = tmp_path / f"main{SUFFIX[form]}"
    original = _write(corpus, "main", path).processing["extension"]["ext"]
    with NWBLindiIO(path, "r") as io:  # no manager: the namespaces cached in the file
        ext = io.read().processing["extension"]["ext"]
        assert type(ext).__name__ == EXT_TYPE
        assert type(ext) is not type(original)  # really built from the cached spec
        for field, dtype in [("gain", np.uint8), ("scale", np.float32), ("offset", np.int16)]:
            value = getattr(ext, field)
            assert type(value) is dtype, field
            assert value == getattr(original, field)
        assert type(ext.values__unit_scale) is np.float32 and ext.values__unit_scale == np.float32(2.5)
        assert ext.values.dtype == np.int16
        np.testing.assert_array_equal(ext.values[:], original.values)
        assert list(ext.notes[:]) == ["first", "second, non-ASCII: é"]
        events = ext.events[:]
        assert [(row[0], row[1]) for row in events] == [(0.5, 1), (1.5, -2)]
        assert {row[2].name for row in events} == {"ext_target"}
        assert events[0][2] is io.read().get_acquisition("ext_target")


def test_extensions_argument(extension_path: Path, tmp_path: Path) -> None:
    """``extensions=`` loads the namespace YAML into the IO's own type map (write and read)."""
    from pynwb.testing.mock.file import mock_NWBFile

    path = tmp_path / "ext.lindi.tar"
    original = mock_NWBFile()
    with NWBLindiIO(path, "w", extensions=str(extension_path)) as io:
        add_extension_object(original, io.manager.type_map)  # the IO's own extension class
        io.write(original)
    with NWBLindiIO(path, "r", extensions=str(extension_path)) as io:
        ext = io.read().processing["extension"]["ext"]
        assert type(ext).__name__ == EXT_TYPE
        assert (ext.gain, ext.offset) == (np.uint8(200), np.int16(-300))
        np.testing.assert_array_equal(ext.values[:], original.processing["extension"]["ext"].values)


@pytest.mark.parametrize("name", ["session.nwb", "session", "session.lindi"])
def test_other_suffixes_are_refused_for_new_files_and_sniffed_for_existing_ones(tmp_path: Path, name: str) -> None:
    """A new file needs one of the LINDI names (the name picks the form); an existing file is
    opened whatever its name, by its content."""
    from pynwb.testing.mock.base import mock_TimeSeries
    from pynwb.testing.mock.file import mock_NWBFile

    path = tmp_path / name
    nwbfile = mock_NWBFile()
    mock_TimeSeries(name="series", data=np.arange(10, dtype="int32"), nwbfile=nwbfile)
    with pytest.raises(hdmf_lindi.errors.FileNameError, match=".lindi.json, .lindi.tar or .lindi.d"):
        NWBLindiIO(path, "w")
    assert not path.exists()
    written = tmp_path / "written.lindi.tar"
    with NWBLindiIO(written, "w") as io:
        io.write(nwbfile)
    path.write_bytes(written.read_bytes())
    disguised = tmp_path / "disguised.lindi.json"  # the suffix lies: the content decides
    disguised.write_bytes(path.read_bytes())
    for candidate in (path, disguised):
        assert NWBLindiIO.can_read(str(candidate))
        with NWBLindiIO(candidate, "r") as io:
            np.testing.assert_array_equal(io.read().acquisition["series"].data[:], np.arange(10, dtype="int32"))
    with NWBLindiIO(path, "a") as io:
        nwbfile = io.read()
        nwbfile.add_acquisition(mock_TimeSeries(name="added", data=np.ones(3)))
        io.write(nwbfile)
    assert path.read_bytes()[257:262] == b"ustar"
    with NWBLindiIO(path, "r") as io:
        assert sorted(io.read().acquisition) == ["added", "series"]
