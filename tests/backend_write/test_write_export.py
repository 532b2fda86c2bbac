"""Export between HDF5 and LINDI, and between LINDI files.

* ``test_hdf5_lindi_hdf5`` -- each corpus file through one LINDI form (each form once): ``NWBHDF5IO`` file -> ``NWBLindiIO``
  export -> ``NWBHDF5IO`` export; h5py then sees every group, dataset, link and attribute of the
  original with the same value *and dtype* (``h5_walk``), float64 attributes whose spec says
  float32 included (``test_float64_attribute_precision`` checks one that float32 would round).
  No exceptions. ``test_export_from_hdf5_keeps_compression``: the source's chunks and gzip too.
* ``test_lindi_to_lindi_export`` -- every form as source and as destination: the export reads back equal
  to the source, and does not depend on the source file any more (it is moved away first).
* ``test_index_export_keeps_remote_chunks`` -- an index of an HDF5 file (``index_hdf5``) exported
  to a ``.lindi.tar``: every chunk reference into the HDF5 file is kept as it was (no bytes
  copied), and the containers read back equal.
* ``test_link_data_for_data_read_from_another_file`` -- ``io.write`` of data read from another
  LINDI file: an external link by default, a copy with ``link_data=False`` or
  ``LindiDataIO(link_data=False)``.
* ``test_export_io`` -- the classmethod ``NWBLindiIO.export_io``.
* ``test_export_modified_container`` -- ``export(src_io, nwbfile=...)`` with a new object added.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from h5_walk import describe_h5, diff_descriptions
from pynwb import NWBHDF5IO, TimeSeries
from pynwb.testing import TestCase
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile
from write_corpus import FILES, FORMS, SUFFIX, Corpus

from hdmf_lindi import ExternalLink, File, HardLink, LindiDataIO, NWBLindiIO, index_hdf5
from hdmf_lindi.storage.refmap import RangeRef


def _compare(a: Any, b: Any) -> None:
    case = TestCase()
    case.maxDiff = None
    case.assertContainerEqual(a, b, ignore_hdmf_attrs=True)


def _round_trip(corpus: Corpus, source: Path, tmp_path: Path, form: str) -> Path:
    lindi = tmp_path / f"exported{SUFFIX[form]}"
    back = tmp_path / "back.nwb"
    with NWBHDF5IO(source, "r", manager=corpus.manager()) as src, NWBLindiIO(lindi, "w", manager=corpus.manager()) as io:
        io.export(src, write_args={"link_data": False})
    with NWBLindiIO(lindi, "r", manager=corpus.manager()) as src, NWBHDF5IO(back, "w", manager=corpus.manager()) as io:
        io.export(src, write_args={"link_data": False})
    return back


# each corpus file once, each form once: the forms differ in storage only, which the other
# modules cover in full matrices
CASES = [pytest.param(name, form, id=f"{name}-{form}") for name, form in zip(FILES, ["json", "tar", "dir"], strict=True)]


@pytest.mark.parametrize(("name", "form"), CASES)
def test_hdf5_lindi_hdf5(corpus: Corpus, corpus_h5: dict[str, Path], tmp_path: Path, name: str, form: str) -> None:
    original = describe_h5(corpus_h5[name])
    back = describe_h5(_round_trip(corpus, corpus_h5[name], tmp_path, form))
    assert diff_descriptions(original, back) == []
    # the comparison is not vacuous: typed datasets of every kind were seen
    kinds = {entry["value"][0] for entry in original.values() if entry["kind"] == "dataset"}
    assert {"num", "str"} <= kinds
    if name == "main":
        assert {"ref", "compound"} <= kinds
        ext = back["/processing/extension/ext"]["attrs"]
        assert (ext["gain"][1], ext["scale"][1], ext["offset"][1]) == ("|u1", "<f4", "<i2")


def test_float64_attribute_precision(tmp_path: Path) -> None:
    nwbfile = mock_NWBFile()
    mock_TimeSeries(name="ts", rate=30000.123, conversion=0.1, nwbfile=nwbfile)
    path = tmp_path / "rate.lindi.json"
    with NWBLindiIO(path, "w") as io:
        io.write(nwbfile)
    with NWBLindiIO(path, "r") as io:
        ts = io.read().acquisition["ts"]
        # NWBHDF5IO returns exactly what was written (float64)
        assert float(ts.rate) == 30000.123
        assert float(ts.conversion) == 0.1


def test_export_from_hdf5_keeps_compression(corpus: Corpus, corpus_h5: dict[str, Path], tmp_path: Path) -> None:
    lindi = tmp_path / "exported.lindi.tar"
    with NWBHDF5IO(corpus_h5["main"], "r", manager=corpus.manager()) as src, NWBLindiIO(
        lindi, "w", manager=corpus.manager()
    ) as io:
        io.export(src, write_args={"link_data": False})
    with h5py.File(corpus_h5["main"], "r") as f:
        assert (f["acquisition/compressed/data"].chunks, f["acquisition/compressed/data"].compression) == ((500, 4), "gzip")
    with File(lindi) as f:
        ds = f["acquisition/compressed/data"]
        # HDF5's gzip filter writes zlib streams: the chunks are copied as they are, codec zlib
        assert (ds.chunks, ds.compression) == ((500, 4), "zlib")


def _lindi_copy(corpus: Corpus, path: Path) -> None:
    with NWBLindiIO(path, "w", manager=corpus.manager()) as io:
        io.write(corpus.build("main"))


def _move(path: Path, to: Path) -> None:
    shutil.move(str(path), str(to))


@pytest.mark.parametrize(
    ("src", "dst"),
    # every form as source and as destination (json and dir through tar, tar to all)
    [pytest.param(s, d, id=f"{s}-to-{d}") for s, d in [("json", "tar"), ("dir", "tar"), ("tar", "json"), ("tar", "dir"), ("tar", "tar")]],
)
def test_lindi_to_lindi_export(corpus: Corpus, tmp_path: Path, src: str, dst: str) -> None:
    source = tmp_path / f"source{SUFFIX[src]}"
    target = tmp_path / "out" / f"target{SUFFIX[dst]}"
    target.parent.mkdir()
    _lindi_copy(corpus, source)
    with NWBLindiIO(source, "r", manager=corpus.manager()) as src_io, NWBLindiIO(
        target, "w", manager=corpus.manager()
    ) as io:
        io.export(src_io)
    moved = tmp_path / "elsewhere" / source.name
    moved.parent.mkdir()
    _move(source, moved)  # the export must not point into the source file
    with NWBLindiIO(moved, "r", manager=corpus.manager()) as a, NWBLindiIO(target, "r", manager=corpus.manager()) as b:
        _compare(a.read(), b.read())
    with File(target) as f:
        refs = f.container.refmap
        urls = {ref.url for key in refs if isinstance(ref := refs.get(key), RangeRef)}
    assert not any(str(source) in url or str(moved) in url for url in urls), urls


@pytest.mark.parametrize("dst", FORMS)
def test_index_export_keeps_remote_chunks(corpus: Corpus, corpus_h5: dict[str, Path], tmp_path: Path, dst: str) -> None:
    h5 = tmp_path / "main.nwb"
    shutil.copy(corpus_h5["main"], h5)
    index = tmp_path / "main.lindi.json"
    index_hdf5(h5, index)
    target = tmp_path / f"exported{SUFFIX[dst]}"
    with NWBLindiIO(index, "r", manager=corpus.manager()) as src, NWBLindiIO(target, "w", manager=corpus.manager()) as io:
        io.export(src)
    with File(index) as a, File(target) as b:
        old, new = a.container.refmap, b.container.refmap
        into_h5 = {k: old.get(k) for k in old if isinstance(old.get(k), RangeRef)}
        assert len(into_h5) >= 12  # the 12 gzip chunks of acquisition/compressed/data at least
        assert all(Path(r.url) == h5 for r in into_h5.values())
        assert {k: new.get(k) for k in into_h5} == into_h5
    with NWBLindiIO(index, "r", manager=corpus.manager()) as a, NWBLindiIO(target, "r", manager=corpus.manager()) as b:
        _compare(a.read(), b.read())


def test_export_io(corpus: Corpus, corpus_h5: dict[str, Path], tmp_path: Path) -> None:
    target = tmp_path / "exported.lindi.tar"
    with NWBHDF5IO(corpus_h5["ecephys_tables"], "r", manager=corpus.manager()) as src:
        NWBLindiIO.export_io(str(target), src, write_args={"link_data": False}, manager=corpus.manager())
    with NWBHDF5IO(corpus_h5["ecephys_tables"], "r", manager=corpus.manager()) as a, NWBLindiIO(
        target, "r", manager=corpus.manager()
    ) as b:
        _compare(a.read(), b.read())


@pytest.mark.parametrize("case", ["link", "write_link_data_false", "lindi_dataio_link_data_false"])
def test_link_data_for_data_read_from_another_file(tmp_path: Path, case: str) -> None:
    """Data read from another LINDI file: an external link by default, a copy on request (as HDF5IO)."""
    source, target = tmp_path / "source.lindi.tar", tmp_path / "target.lindi.json"
    values = np.arange(5000, dtype="int32")
    nwbfile = mock_NWBFile()
    mock_TimeSeries(name="src", data=values, nwbfile=nwbfile)
    with NWBLindiIO(source, "w") as io:
        io.write(nwbfile)
    with NWBLindiIO(source, "r") as src_io:
        data = src_io.read().acquisition["src"].data
        if case == "lindi_dataio_link_data_false":
            data = LindiDataIO(data, link_data=False)
        new = mock_NWBFile()
        new.add_acquisition(TimeSeries(name="reused", data=data, unit="u", rate=1.0))
        with NWBLindiIO(target, "w") as io:
            io.write(new, link_data=case != "write_link_data_false")
    with File(target) as f:
        link = f["acquisition/reused"].get("data", getlink=True)
    if case == "link":
        assert link == ExternalLink("source.lindi.tar", "/acquisition/src/data")
    else:
        assert isinstance(link, HardLink)
        source.unlink()  # a copy does not need the source
    with NWBLindiIO(target, "r") as io:
        got = io.read().acquisition["reused"].data
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got[:], values)


@pytest.mark.parametrize("target_name", ["modified.lindi.json", "modified.nwb"])
def test_export_modified_container(tmp_path: Path, target_name: str) -> None:
    """``export(src_io, nwbfile=...)`` of a read file with a new object: old and new data both there."""
    source, target = tmp_path / "source.lindi.tar", tmp_path / target_name
    nwbfile = mock_NWBFile()
    mock_TimeSeries(name="old", data=np.arange(100, dtype="int64"), nwbfile=nwbfile)
    nwbfile.add_trial(start_time=0.0, stop_time=1.0)
    with NWBLindiIO(source, "w") as io:
        io.write(nwbfile)
    io_cls = NWBHDF5IO if target.suffix == ".nwb" else NWBLindiIO
    with NWBLindiIO(source, "r") as src:
        read = src.read()
        read.add_acquisition(mock_TimeSeries(name="new", data=np.ones(7, dtype="float32")))
        with io_cls(target, "w") as io:
            io.export(src, nwbfile=read, write_args={"link_data": False} if io_cls is NWBHDF5IO else {})
    with io_cls(target, "r") as io:
        got = io.read()
        assert sorted(got.acquisition) == ["new", "old"]
        np.testing.assert_array_equal(got.acquisition["old"].data[:], np.arange(100))
        assert got.acquisition["new"].data.dtype == np.float32
        np.testing.assert_array_equal(got.acquisition["new"].data[:], np.ones(7))
        assert got.trials.to_dataframe()["stop_time"].tolist() == [1.0]
