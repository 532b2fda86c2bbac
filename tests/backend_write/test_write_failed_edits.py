"""Failed edits leave the last flushed state; ragged columns grow in append mode.

Matrix: form (json / tar / dir) for each behaviour.

* ``test_with_block_that_raises_keeps_the_file`` -- inside ``with NWBLindiIO(p, "a")``,
  ``add_trial`` and ``add_unit`` succeed, then the block raises: the file is unchanged (our
  canonical description, lindi 0.4.6's reading of it, and ``read_nwb``'s tables), and no
  temporary file is left.
* ``test_half_made_row_is_not_saved`` -- an ``add_unit`` that fails after extending one column
  (a bad value for a later column) inside the ``with`` block: the half-made row is not saved
  and the file still reads (it used to become unreadable: "Must provide same number of ids as
  length of columns").
* ``test_failed_write_leaves_the_file_as_it_was`` -- ``io.write`` whose namespace caching fails
  after the containers were written: nothing of the write is visible (write is one commit).
* ``test_ragged_append_matches_hdf5`` -- ``add_unit`` x2 and ``add_trial`` in mode ``a``, few
  spikes: the tables equal those of the same operations through ``NWBHDF5IO`` on an HDF5 copy.
* ``test_ragged_append_widens_the_index`` -- a units table going past 255 spikes (where hdmf must widen
  the ``uint8`` index, and fails for any dataset read from a file, HDF5 too): ``add_unit`` in
  mode ``a`` works, the index is stored as ``uint16``, the tables equal the same rows written
  in one go, and lindi 0.4.6 reads the file as we do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from interop.test_lindi_interop import as_lindi_reads, assert_same, describe_ours, lindi_dump
from pynwb import NWBHDF5IO
from pynwb.testing.mock.file import mock_NWBFile
from write_corpus import FORMS, SUFFIX

import hdmf_lindi.backend.io as backend_io
from hdmf_lindi import File, NWBLindiIO, read_nwb


class _Boom(Exception):
    pass


def _units_nwb(spikes: list[list[float]], trials: int = 1, quality: list[float] | None = None) -> Any:
    nwbfile = mock_NWBFile()
    nwbfile.add_unit_column(name="quality", description="a float column after spike_times")
    for i, times in enumerate(spikes):
        nwbfile.add_unit(spike_times=times, quality=float(i) if quality is None else quality[i])
    for i in range(trials):
        nwbfile.add_trial(start_time=float(i), stop_time=i + 0.5)
    return nwbfile


def _tables(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    nwbfile = read_nwb(path)
    try:
        return nwbfile.units.to_dataframe(), nwbfile.trials.to_dataframe()
    finally:
        nwbfile.read_io.close()


def _hdf5_tables(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    with NWBHDF5IO(path, "r") as io:
        nwbfile = io.read()
        return nwbfile.units.to_dataframe(), nwbfile.trials.to_dataframe()


def _same_tables(got: tuple[pd.DataFrame, pd.DataFrame], want: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    for g, w in zip(got, want, strict=True):
        assert list(g.index) == list(w.index)
        assert list(g.columns) == list(w.columns)
        for column in w.columns:
            assert [np.asarray(v).tolist() for v in g[column]] == [np.asarray(v).tolist() for v in w[column]], column


def _write(path: Path, nwbfile: Any) -> None:
    with NWBLindiIO(path, "w") as io:
        io.write(nwbfile)


@pytest.mark.parametrize("form", FORMS)
def test_with_block_that_raises_keeps_the_file(tmp_path: Path, form: str, run_lindi: Any) -> None:
    path = tmp_path / f"f{SUFFIX[form]}"
    _write(path, _units_nwb([[0.1, 0.2], [0.3]]))
    before, tables = describe_ours(path), _tables(path)
    with pytest.raises(_Boom), NWBLindiIO(path, "a") as io:
        nwbfile = io.read()
        nwbfile.add_trial(start_time=5.0, stop_time=6.0)
        nwbfile.add_unit(spike_times=[1.0, 2.0, 3.0], quality=9.0)
        assert len(nwbfile.units) == 3  # the edits happened in the open file
        raise _Boom
    assert not io.is_open()
    assert describe_ours(path) == before
    _same_tables(_tables(path), tables)
    assert_same(lindi_dump(run_lindi, path), as_lindi_reads(before), f"lindi's reading of the {form} file")
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


@pytest.mark.parametrize("form", FORMS)
def test_half_made_row_is_not_saved(tmp_path: Path, form: str) -> None:
    path = tmp_path / f"f{SUFFIX[form]}"
    _write(path, _units_nwb([[0.1, 0.2], [0.3]]))
    before, tables = describe_ours(path), _tables(path)
    with pytest.raises(ValueError), NWBLindiIO(path, "a") as io:
        nwbfile = io.read()
        nwbfile.add_unit(spike_times=[1.0, 2.0], quality="not a number")  # spike_times grew first
    assert describe_ours(path) == before
    _same_tables(_tables(path), tables)


@pytest.mark.parametrize("form", FORMS)
def test_failed_write_leaves_the_file_as_it_was(tmp_path: Path, form: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / f"f{SUFFIX[form]}"
    _write(path, _units_nwb([[0.1]]))
    before = describe_ours(path)
    cached: list[Any] = []

    def failing_cache(f: File, catalog: Any) -> None:
        cached.append(sorted(f["processing"].keys()))  # the new module is in the open tree
        raise _Boom("cannot cache the namespaces")

    monkeypatch.setattr(backend_io, "cache_namespaces", failing_cache)
    io = NWBLindiIO(path, "a")
    nwbfile = io.read()
    nwbfile.create_processing_module("added", "never committed")
    with pytest.raises(_Boom):
        io.write(nwbfile)
    io.close()
    assert cached == [["added"]]
    assert describe_ours(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def _append_rows(io: Any) -> None:
    nwbfile = io.read()
    nwbfile.add_unit(spike_times=[1.0, 2.0, 3.0], quality=7.0)
    nwbfile.add_trial(start_time=4.0, stop_time=4.5)
    nwbfile.add_unit(spike_times=[4.0], quality=8.0)
    io.write(nwbfile)


@pytest.mark.parametrize("form", FORMS)
def test_ragged_append_matches_hdf5(tmp_path: Path, form: str) -> None:
    spikes = [[0.1, 0.2], [0.3]]
    path = tmp_path / f"f{SUFFIX[form]}"
    _write(path, _units_nwb(spikes))
    with NWBLindiIO(path, "a") as io:
        _append_rows(io)
    oracle = tmp_path / "oracle.nwb"
    with NWBHDF5IO(oracle, "w") as io:
        io.write(_units_nwb(spikes))
    with NWBHDF5IO(oracle, "a") as io:
        _append_rows(io)
    _same_tables(_tables(path), _hdf5_tables(oracle))


@pytest.mark.parametrize("form", FORMS)
def test_ragged_append_widens_the_index(tmp_path: Path, form: str, run_lindi: Any) -> None:
    spikes = [list(np.arange(200) / 100), list(np.arange(53) / 10)]  # 253 spikes: a uint8 index
    path = tmp_path / f"f{SUFFIX[form]}"
    _write(path, _units_nwb(spikes))
    with File(path) as f:
        assert f["units/spike_times_index"].dtype == np.uint8
    with NWBLindiIO(path, "a") as io:
        _append_rows(io)  # 256 spikes: the first add_unit needs uint16
    with File(path) as f:
        assert f["units/spike_times_index"].dtype == np.uint16
        np.testing.assert_array_equal(f["units/spike_times_index"][...], [200, 253, 256, 257])
    expected = _units_nwb([*spikes, [1.0, 2.0, 3.0], [4.0]], trials=0, quality=[0.0, 1.0, 7.0, 8.0])
    expected.add_trial(start_time=0.0, stop_time=0.5)
    expected.add_trial(start_time=4.0, stop_time=4.5)
    oracle = tmp_path / "oracle.nwb"
    with NWBHDF5IO(oracle, "w") as io:
        io.write(expected)
    _same_tables(_tables(path), _hdf5_tables(oracle))
    with NWBLindiIO(path, "a") as io:  # and again, past the new width's first step
        nwbfile = io.read()
        nwbfile.add_unit(spike_times=list(np.arange(10)), quality=1.0)
        io.write(nwbfile)
    if form == "tar":
        assert_same(lindi_dump(run_lindi, path), as_lindi_reads(describe_ours(path)), "lindi's reading")
    units, _ = _tables(path)
    assert [len(v) for v in units["spike_times"]] == [200, 53, 3, 1, 10]
