"""Real work on the lazy datasets NWBLindiIO hands to pynwb, against NWBHDF5IO's results.

The matrix: the tables of the ``tables`` corpus file (electrodes, units, trials, and a
DynamicTable with ragged, doubly ragged, ragged-text, region and ragged-region columns) and its
TimeSeries, each read from every source (json, tar, dir, and the ``.nwb`` directly). Tables
are compared through ``to_dataframe()`` (pandas testing) and through indexing; TimeSeries
through slicing and ``get_data_in_units``; references and links through object identity in
the LINDI read itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from backend_corpus import BIG_CHUNK, BIG_SERIES, SOURCES, Corpus
from backend_reads import Reads
from hdmf.container import AbstractContainer
from hdmf.query import HDMFDataset

TABLES = {
    "electrodes": lambda f: f.electrodes,
    "epochs": lambda f: f.epochs,
    "units": lambda f: f.units,
    "trials": lambda f: f.trials,
    "ragged": lambda f: f.processing["tables"]["ragged"],
}


@pytest.fixture(params=SOURCES)
def source(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _pair(reads: Reads, source: str) -> tuple[Any, Any]:
    return reads.hdf5("tables"), reads.lindi("tables", source)


def _plain(value: Any) -> Any:
    """A comparable form of a dataframe cell: containers by object id, frames as records."""
    if isinstance(value, AbstractContainer):
        return ("container", type(value).__name__, value.object_id)
    if isinstance(value, pd.DataFrame):
        return ("frame", tuple(value.index), tuple(_plain_frame(value).itertuples(index=False)))
    if isinstance(value, np.ndarray | list | tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _plain_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = [_plain(v) for v in out[column]]
    return out


# ---------------------------------------------------------------- DynamicTable


@pytest.mark.parametrize("index", [False, True], ids=["nested", "index"])
@pytest.mark.parametrize("table", sorted(TABLES))
def test_to_dataframe_equals_hdf5(reads: Reads, source: str, table: str, index: bool) -> None:
    expected, actual = (TABLES[table](f).to_dataframe(index=index) for f in _pair(reads, source))
    pd.testing.assert_frame_equal(_plain_frame(actual), _plain_frame(expected))


@pytest.mark.parametrize(
    "key",
    [0, 3, -1, slice(1, 3), slice(None, None, 2), [0, 2]],
    ids=["first", "last", "negative", "slice", "step", "list"],
)
@pytest.mark.parametrize("table", sorted(TABLES))
def test_row_selection_equals_hdf5(reads: Reads, source: str, table: str, key: Any) -> None:
    expected, actual = (TABLES[table](f) for f in _pair(reads, source))
    if isinstance(key, int) and key >= len(expected):
        key = len(expected) - 1
    pd.testing.assert_frame_equal(_plain_frame(actual[key]), _plain_frame(expected[key]))


@pytest.mark.parametrize("table", sorted(TABLES))
def test_unsorted_rows(reads: Reads, source: str, table: str) -> None:
    # h5py refuses unsorted index lists; the lazy datasets accept them (backend guide 7.4)
    actual = TABLES[table](reads.lindi("tables", source))
    forward, backward = actual[[0, 2]], actual[[2, 0]]
    pd.testing.assert_frame_equal(_plain_frame(backward), _plain_frame(forward.iloc[::-1]))


def test_ragged_columns(reads: Reads, source: str) -> None:
    table = reads.lindi("tables", source).processing["tables"]["ragged"]
    assert list(table["ragged"][0]) == [1, 2, 3]
    assert list(table["ragged"][3]) == [7, 8, 9, 10]
    assert [list(x) for x in table["doubly"][2]] == [[8], [9], [10, 11]]
    assert list(table["words"][2]) == ["d", "e", "f"]
    assert isinstance(table["ragged"].target.data, HDMFDataset)
    assert len(table["doubly"]) == 4
    assert [list(x) for x in table["ragged"][1:3]] == [[4], [5, 6]]


def test_region_columns_resolve_to_electrode_rows(reads: Reads, source: str) -> None:
    expected_file, actual_file = _pair(reads, source)
    table = actual_file.processing["tables"]["ragged"]
    assert table["region"].table is actual_file.electrodes
    assert table["regions"].target.table is actual_file.electrodes
    np.testing.assert_array_equal(table["region"].data[:], [0, 3, 5, 1])
    rows = table["regions"][2]  # a ragged region resolves to the electrode rows
    expected_rows = expected_file.processing["tables"]["ragged"]["regions"][2]
    pd.testing.assert_frame_equal(_plain_frame(rows), _plain_frame(expected_rows))
    assert list(rows["label"]) == ["ch3", "ch4", "ch5"]
    units_electrodes = actual_file.units["electrodes"][1]
    assert list(units_electrodes.index) == [1, 2]


def test_electrode_group_references_resolve_to_the_same_objects(reads: Reads, source: str) -> None:
    nwbfile = reads.lindi("tables", source)
    groups = nwbfile.electrodes["group"]
    assert groups[0] is nwbfile.electrode_groups["shank0"]
    assert groups[1] is nwbfile.electrode_groups["shank1"]
    assert [g.name for g in groups[:]] == ["shank0", "shank1"] * 3
    assert groups.data.dtype == "object" or np.dtype(groups.data.dtype) == np.dtype(object)


def test_compound_reference_column(reads: Reads, source: str) -> None:
    # epochs.timeseries: compound (idx_start, count, timeseries reference), resolved lazily
    expected_file, nwbfile = _pair(reads, source)
    refs = nwbfile.epochs["timeseries"]
    first = refs[0][0]
    assert first.timeseries is nwbfile.acquisition["timestamps_source"]
    expected = expected_file.epochs["timeseries"][0][0]
    assert (first.idx_start, first.count) == (expected.idx_start, expected.count)
    np.testing.assert_array_equal(first.data, expected.data)
    assert [len(r) for r in refs[:]] == [1, 1, 2, 1]
    assert [list(t) for t in nwbfile.epochs["tags"][:]] == [["a", "b"], ["c"], [], ["d"]]


def test_object_reference_dataset(reads: Reads, source: str) -> None:
    images = reads.lindi("tables", source).acquisition["images"]
    order = images.order_of_images
    assert [order[i] is images.images[f"img{j}"] for i, j in enumerate([2, 0, 1])] == [True] * 3
    assert [image.name for image in order.data] == ["img2", "img0", "img1"]
    np.testing.assert_array_equal(order[0].data[:], np.full((3, 4), 2, dtype="uint8"))


def test_units_spike_times(reads: Reads, source: str) -> None:
    expected, actual = (f.units for f in _pair(reads, source))
    for i in range(len(expected)):
        np.testing.assert_array_equal(
            actual.get_unit_spike_times(i), expected.get_unit_spike_times(i)
        )
        np.testing.assert_array_equal(actual["spike_times"][i], expected["spike_times"][i])
        np.testing.assert_array_equal(
            actual.get_unit_obs_intervals(i), expected.get_unit_obs_intervals(i)
        )
    np.testing.assert_array_equal(actual.get_unit_spike_times(2), [0.2, 0.3, 0.4, 2.5, 3.0])
    assert list(actual.id[:]) == list(expected.id[:]) == [0, 1, 2, 3]


# ---------------------------------------------------------------- TimeSeries


@pytest.mark.parametrize(
    "key",
    [
        slice(None),
        slice(5, 25),
        slice(BIG_CHUNK - 3, BIG_CHUNK + 3),  # across a chunk boundary
        slice(10, 190_000, 997),
        slice(-10, None),
        7,
        -1,
        [3, 1, 40_000, 1],
        np.array([0, 150_000]),
    ],
    ids=["all", "head", "boundary", "stepped", "tail", "int", "negative", "list", "array"],
)
def test_timeseries_slicing(reads: Reads, corpus: Corpus, source: str, key: Any) -> None:
    expected, actual = (f.acquisition[BIG_SERIES].data for f in _pair(reads, source))
    assert isinstance(actual, HDMFDataset) and not isinstance(actual, np.ndarray)
    assert (actual.shape, actual.dtype, len(actual)) == (
        expected.shape,
        expected.dtype,
        len(expected),
    )
    got = actual[key]
    np.testing.assert_array_equal(got, corpus.big_data[key])
    assert np.asarray(got).dtype == np.dtype("<f4")


def test_timeseries_array_protocol(reads: Reads, corpus: Corpus, source: str) -> None:
    data = reads.lindi("tables", source).acquisition[BIG_SERIES].data
    np.testing.assert_array_equal(np.asarray(data), corpus.big_data)
    np.testing.assert_array_equal(data[()], corpus.big_data)


@pytest.mark.parametrize("name", ["scaled", "ntsc", BIG_SERIES, "timestamps_source"])
def test_get_data_in_units(reads: Reads, source: str, name: str) -> None:
    expected, actual = (f.acquisition[name] for f in _pair(reads, source))
    in_units = actual.get_data_in_units()
    np.testing.assert_array_equal(in_units, expected.get_data_in_units())
    assert in_units.dtype == expected.get_data_in_units().dtype
    np.testing.assert_array_equal(actual.get_timestamps(), expected.get_timestamps())


def test_scaled_int16_data(reads: Reads, source: str) -> None:
    series = reads.lindi("tables", source).acquisition["scaled"]
    assert np.dtype(series.data.dtype) == np.dtype("int16") and series.data.shape == (600, 2)
    np.testing.assert_array_equal(series.data[10], [-580, -579])
    np.testing.assert_array_equal(series.get_data_in_units()[0], [-301.25, -300.75])


def test_timestamps_link_resolves_to_the_linked_series(reads: Reads, source: str) -> None:
    expected_file, nwbfile = _pair(reads, source)
    source_series = nwbfile.acquisition["timestamps_source"]
    linked = nwbfile.acquisition["linked_timestamps"]
    assert linked.fields["timestamps"] is source_series
    assert [s.name for s in source_series.timestamp_link] == ["linked_timestamps"]
    assert next(iter(source_series.timestamp_link)) is linked
    np.testing.assert_array_equal(linked.timestamps[:], np.arange(50) / 10.0)
    expected_source = expected_file.acquisition["timestamps_source"]
    assert [s.name for s in expected_source.timestamp_link] == ["linked_timestamps"]


def test_data_link_resolves_to_the_linked_series(reads: Reads, source: str) -> None:
    nwbfile = reads.lindi("tables", source)
    linked = nwbfile.acquisition["linked_data"]
    assert linked.fields["data"] is nwbfile.acquisition["timestamps_source"]
    assert [s.name for s in nwbfile.acquisition["timestamps_source"].data_link] == ["linked_data"]
    np.testing.assert_array_equal(linked.data[:], np.arange(50.0))
