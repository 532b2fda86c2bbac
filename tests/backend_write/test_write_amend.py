"""Amend (the seed's use case): index a remote NWB file, then append new data to the index.

An NWB file (the ``ecephys_tables`` corpus file plus a 400 KB chunked TimeSeries) is served by the test
HTTP server, indexed into a ``.lindi.tar`` with ``index_hdf5(url, tar)``, opened with
``NWBLindiIO(tar, "a")``, given a processing module with two new TimeSeries, and written. Then:

* every chunk reference into the remote file is exactly as the indexer wrote it;
* the amendment made no HTTP request (only the new builders are written; nothing old is read
  beyond the index itself);
* the tar grew by the size of the new data (stored raw) plus at most a little tar bookkeeping;
* our reader and lindi 0.4.6 both read old and new data equal to the originals. A second amend
  behaves the same way.

``test_amend_index_add_row``: ``add_row`` on the electrodes table of an indexed (local) HDF5 file
changes the LINDI file only; the HDF5 file keeps its exact bytes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hdmf.backends.hdf5 import H5DataIO
from httpserver import RangeServer
from interop.test_lindi_interop import as_lindi_reads, assert_same, describe_ours, lindi_dump
from pynwb import NWBHDF5IO
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.ecephys import mock_ElectrodesTable
from pynwb.testing.mock.file import mock_NWBFile
from write_corpus import Corpus

from hdmf_lindi import File, NWBLindiIO, index_hdf5
from hdmf_lindi.storage.refmap import RangeRef

BOOKKEEPING_BYTES = 64 << 10  # 64 KiB: tar headers and padding, index growth; not a JSON copy
BIG = np.random.default_rng(1).integers(-1000, 1000, size=(50_000, 4)).astype("int16")  # 400 KB, 10 chunks


def _remote_refs(path: Path) -> dict[str, RangeRef]:
    with File(path) as f:
        refmap = f.container.refmap
        return {k: ref for k in refmap if isinstance(ref := refmap.get(k), RangeRef) and not ref.is_internal}


def _amend(path: Path, module: str, series: dict[str, np.ndarray]) -> None:
    with NWBLindiIO(path, "a") as io:
        nwbfile = io.read()
        mod = nwbfile.create_processing_module(module, "amended")
        for name, data in series.items():
            mod.add(mock_TimeSeries(name=name, data=data, rate=1000.0))
        io.write(nwbfile)


@pytest.fixture
def remote_index(corpus: Corpus, http_server: RangeServer, tmp_path: Path) -> tuple[Path, str]:
    nwbfile = corpus.build("ecephys_tables")
    mock_TimeSeries(name="big", data=H5DataIO(BIG, chunks=(5000, 4)), nwbfile=nwbfile)
    with NWBHDF5IO(http_server.root / "remote.nwb", "w", manager=corpus.manager()) as io:
        io.write(nwbfile)
    url = http_server.url("remote.nwb")
    tar = tmp_path / "amended.lindi.tar"
    index_hdf5(url, tar)
    return tar, url


def test_amend_remote_index(remote_index: tuple[Path, str], http_server: RangeServer, run_lindi: Any) -> None:
    tar, url = remote_index
    old_refs = _remote_refs(tar)
    assert {r.url for r in old_refs.values()} == {url}
    assert sum(k.startswith("acquisition/big/data/") for k in old_refs) == 10
    before = describe_ours(tar)
    size = os.path.getsize(tar)
    new = {"new_float": np.linspace(0, 1, 20_000), "new_int": np.arange(4000, dtype="int16").reshape(1000, 4)}
    new_bytes = sum(a.nbytes for a in new.values())

    http_server.requests.clear()
    _amend(tar, "amended", new)
    assert http_server.requests == [], "amending must not read the remote file"

    assert {k: v for k, v in _remote_refs(tar).items()} == old_refs
    growth = os.path.getsize(tar) - size
    assert new_bytes <= growth <= new_bytes + BOOKKEEPING_BYTES, growth

    after = describe_ours(tar)
    assert {k: v for k, v in after.items() if k in before and k != "/processing"} == {
        k: v for k, v in before.items() if k != "/processing"
    }
    with NWBLindiIO(tar, "r") as io:
        nwbfile = io.read()
        np.testing.assert_array_equal(nwbfile.acquisition["big"].data[:], BIG)
        for name, data in new.items():
            got = nwbfile.processing["amended"][name].data
            assert got.dtype == data.dtype
            np.testing.assert_array_equal(got[:], data)
    assert_same(lindi_dump(run_lindi, tar), as_lindi_reads(after), "lindi 0.4.6 reading the amended index")


def test_amend_twice(remote_index: tuple[Path, str]) -> None:
    tar, _ = remote_index
    old_refs = _remote_refs(tar)
    first, second = np.arange(30_000, dtype="float32"), np.arange(30_000, dtype="int64")
    _amend(tar, "first", {"series": first})
    size = os.path.getsize(tar)
    _amend(tar, "second", {"series": second})
    growth = os.path.getsize(tar) - size
    assert second.nbytes <= growth <= second.nbytes + BOOKKEEPING_BYTES, growth
    assert _remote_refs(tar) == old_refs
    with NWBLindiIO(tar, "r") as io:
        nwbfile = io.read()
        np.testing.assert_array_equal(nwbfile.processing["first"]["series"].data[:], first)
        np.testing.assert_array_equal(nwbfile.processing["second"]["series"].data[:], second)
        np.testing.assert_array_equal(nwbfile.acquisition["big"].data[:], BIG)


def test_amend_index_add_row(tmp_path: Path, run_lindi: Any) -> None:
    """add_row on a table of an indexed HDF5 file writes into the LINDI file, never the HDF5 file."""
    h5 = tmp_path / "local.nwb"
    nwbfile = mock_NWBFile()
    mock_ElectrodesTable(n_rows=3, nwbfile=nwbfile)
    with NWBHDF5IO(h5, "w") as io:
        io.write(nwbfile)
    digest = hashlib.sha256(h5.read_bytes()).hexdigest()
    tar = tmp_path / "local.lindi.tar"
    index_hdf5(h5, tar)
    with NWBLindiIO(tar, "a") as io:
        nwbfile = io.read()
        group = nwbfile.electrodes["group"][0]
        nwbfile.electrodes.add_row(location="added", group=group, group_name=group.name)
        io.write(nwbfile)
    assert hashlib.sha256(h5.read_bytes()).hexdigest() == digest
    with NWBLindiIO(tar, "r") as io:
        nwbfile = io.read()
        assert list(nwbfile.electrodes["location"][:]) == ["CA1", "CA1", "CA1", "added"]
        assert nwbfile.electrodes["group"][3] is nwbfile.electrodes["group"][0]
        assert list(nwbfile.electrodes.id[:]) == [0, 1, 2, 3]
    ours = describe_ours(tar)
    assert ours["/general/extracellular_ephys/electrodes/location"]["value"][-1] == "added"
    assert_same(lindi_dump(run_lindi, tar), as_lindi_reads(ours), "lindi 0.4.6 reading the amended table")
