"""Append with ``NWBLindiIO(path, "a")``: new objects, table rows, and crashes in the middle.

Matrix: form (json / tar / dir) for each behaviour, and form x fault point for the crash test.

* ``test_append_twice`` -- (mode ``a`` in each form, and ``r+``) two append sessions in a row, each adding a processing module with a
  TimeSeries: the original objects and the first append are unchanged by the second (exact
  canonical description of their part of the tree), and the new data read back equal.
* ``test_add_row_in_append_mode`` -- ``DynamicTable.add_row`` on the trials table and on the
  electrodes table (whose ``group`` column holds object references) after reading in mode ``a``.
* ``test_add_ragged_row_in_append_mode`` -- ``add_unit`` (a ragged ``spike_times`` column).
* ``test_append_crash`` -- the n-th call of a low-level write function (``os.replace``,
  ``os.pwrite``, ``os.fsync`` or the JSON serialiser) raises during ``io.write``; from then on
  every call fails, as if the process had died. The file must then read exactly as before the
  append, and a later append must work.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from faults import Faults, InjectedFault
from interop.test_lindi_interop import describe_ours
from pynwb.testing import TestCase
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.ecephys import mock_ElectrodesTable
from pynwb.testing.mock.file import mock_NWBFile
from write_corpus import FORMS, SUFFIX

from hdmf_lindi import NWBLindiIO


def _base(path: Path) -> Any:
    nwbfile = mock_NWBFile()
    mock_TimeSeries(name="original", data=np.linspace(0, 1, 300).astype("float32"), nwbfile=nwbfile)
    mock_ElectrodesTable(n_rows=3, nwbfile=nwbfile)
    nwbfile.add_trial(start_time=0.0, stop_time=1.0)
    with NWBLindiIO(path, "w") as io:
        io.write(nwbfile)
    return nwbfile


def _append_series(path: Path, module: str, data: np.ndarray, mode: str = "a") -> None:
    with NWBLindiIO(path, mode) as io:
        nwbfile = io.read()
        nwbfile.create_processing_module(module, f"added by append {module}").add(
            mock_TimeSeries(name="series", data=data, rate=100.0)
        )
        io.write(nwbfile)


def _part(desc: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {k: v for k, v in desc.items() if k == prefix or k.startswith(prefix + "/")}


@pytest.mark.parametrize(
    ("form", "mode"), [pytest.param(form, "a", id=form) for form in FORMS] + [pytest.param("tar", "r+", id="tar-r+")]
)
def test_append_twice(tmp_path: Path, form: str, mode: str) -> None:
    path = tmp_path / f"f{SUFFIX[form]}"
    original = _base(path)
    before = describe_ours(path)
    first, second = np.arange(1000, dtype="int16"), np.random.default_rng(0).normal(size=(50, 3))
    _append_series(path, "first", first, mode)
    after_first = describe_ours(path)
    _append_series(path, "second", second, mode)
    after_second = describe_ours(path)

    assert _part(after_second, "/acquisition") == _part(before, "/acquisition")
    assert _part(after_second, "/general") == _part(before, "/general")
    assert _part(after_second, "/processing/first") == _part(after_first, "/processing/first")
    assert set(after_second) - set(after_first) == set(_part(after_second, "/processing/second")) - {"/processing"}
    with NWBLindiIO(path, "r") as io:
        nwbfile = io.read()
        TestCase().assertContainerEqual(original.acquisition["original"], nwbfile.acquisition["original"], ignore_hdmf_attrs=True)
        got_first = nwbfile.processing["first"]["series"].data
        got_second = nwbfile.processing["second"]["series"].data
        assert got_first.dtype == np.int16 and got_second.dtype == np.float64
        np.testing.assert_array_equal(got_first[:], first)
        np.testing.assert_array_equal(got_second[:], second)
        assert nwbfile.processing["second"]["series"].rate == 100.0
        assert sorted(nwbfile.processing) == ["first", "second"]


@pytest.mark.parametrize("form", FORMS)
def test_add_row_in_append_mode(tmp_path: Path, form: str) -> None:
    path = tmp_path / f"f{SUFFIX[form]}"
    _base(path)
    with NWBLindiIO(path, "a") as io:
        nwbfile = io.read()
        nwbfile.add_trial(start_time=2.0, stop_time=3.5)
        group = nwbfile.electrodes["group"][0]
        nwbfile.electrodes.add_row(location="added", group=group, group_name=group.name)
        io.write(nwbfile)
    with NWBLindiIO(path, "r") as io:
        nwbfile = io.read()
        trials = nwbfile.trials.to_dataframe()
        assert trials["start_time"].tolist() == [0.0, 2.0]
        assert trials["stop_time"].tolist() == [1.0, 3.5]
        assert list(nwbfile.trials.id[:]) == [0, 1]
        assert len(nwbfile.electrodes) == 4
        assert list(nwbfile.electrodes["location"][:]) == ["CA1", "CA1", "CA1", "added"]
        assert nwbfile.electrodes["group"][3] is nwbfile.electrodes["group"][0]
        assert list(nwbfile.electrodes.id[:]) == [0, 1, 2, 3]


@pytest.mark.parametrize("form", FORMS)
def test_add_ragged_row_in_append_mode(tmp_path: Path, form: str) -> None:
    path = tmp_path / f"units{SUFFIX[form]}"
    nwbfile = mock_NWBFile()
    nwbfile.add_unit(spike_times=[0.1, 0.2])
    nwbfile.add_unit(spike_times=[0.3])
    with NWBLindiIO(path, "w") as io:
        io.write(nwbfile)
    with NWBLindiIO(path, "a") as io:
        nwbfile = io.read()
        nwbfile.add_unit(spike_times=[1.0, 2.0, 3.0])
        io.write(nwbfile)
    with NWBLindiIO(path, "r") as io:
        units = io.read().units
        assert [list(units["spike_times"][i]) for i in range(len(units))] == [[0.1, 0.2], [0.3], [1.0, 2.0, 3.0]]
        assert list(units.id[:]) == [0, 1, 2]


CRASH_POINTS = {
    "json": [("to_json", 1), ("fsync", 1), ("replace", 1)],
    "dir": [("to_json", 1), ("fsync", 1), ("replace", 1)],
    "tar": [("to_json", 1), ("pwrite", 1), ("fsync", 1), ("pwrite", 2)],  # pwrite 2: the entry record
}


@pytest.mark.parametrize(
    ("form", "fn", "n"),
    [pytest.param(form, fn, n, id=f"{form}-{fn}#{n}") for form in FORMS for fn, n in CRASH_POINTS[form]],
)
def test_append_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form: str, fn: str, n: int) -> None:
    path = tmp_path / f"f{SUFFIX[form]}"
    _base(path)
    _append_series(path, "first", np.arange(100, dtype="int32"))
    before = describe_ours(path)

    faults = Faults(monkeypatch)
    io = NWBLindiIO(path, "a")
    nwbfile = io.read()
    nwbfile.create_processing_module("lost", "never committed").add(
        mock_TimeSeries(name="series", data=np.ones((400, 2), dtype="float32"))
    )
    faults.arm(fn, n)
    with pytest.raises(InjectedFault, match=f"{fn} call {n}"):
        io.write(nwbfile)
    faults.dead = True  # the process "dies": nothing more reaches the disk
    with contextlib.suppress(InjectedFault):
        io.close()
    faults.dead, faults.target = False, None

    assert describe_ours(path) == before
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == [path.name], "temporary files must be cleaned up"
    with NWBLindiIO(path, "r") as reader:
        read = reader.read()
        assert sorted(read.processing) == ["first"]
        np.testing.assert_array_equal(read.processing["first"]["series"].data[:], np.arange(100, dtype="int32"))
    _append_series(path, "later", np.arange(7, dtype="int64"))  # the next writer recovers
    with NWBLindiIO(path, "r") as reader:
        read = reader.read()
        assert sorted(read.processing) == ["first", "later"]
        np.testing.assert_array_equal(read.processing["later"]["series"].data[:], np.arange(7))
