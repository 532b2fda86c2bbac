"""read_table across many files equals the concatenation of pynwb's per-file to_dataframe(),
for LINDI indexes and HDF5 files, local and served; it reads only what it needs."""

from __future__ import annotations

import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from httpserver import RangeServer
from pynwb import NWBHDF5IO

from hdmf_lindi.batch import index_many, read_table
from hdmf_lindi.errors import FormatError, NodeNotFoundError
from hdmf_lindi.hdf5 import IndexOptions, index_hdf5

TABLES = {"units": (0, "/units", "units"), "trials": (1, "/intervals/trials", "trials")}
"""kind -> (first corpus index of that kind, path, NWBFile attribute)."""


def _expected(paths: list[Path], attr: str, names: list[str], drop_arrays: bool) -> pd.DataFrame:
    frames = []
    for path, name in zip(paths, names, strict=True):
        with NWBHDF5IO(str(path), "r") as io:
            frame = getattr(io.read(), attr).to_dataframe(index=True)
        if drop_arrays:
            frame = frame[[c for c in frame.columns if c != "spike_times"]]
        frames.append(frame.assign(source=name))
    return pd.concat(frames)


def _assert_same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(got.columns) == list(expected.columns)
    ragged = [c for c in expected.columns if len(expected) and isinstance(expected[c].iloc[0], np.ndarray)]
    for column in ragged:
        assert len(got[column]) == len(expected[column])
        for a, b in zip(got[column], expected[column], strict=True):
            np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(got.drop(columns=ragged), expected.drop(columns=ragged), check_dtype=False)


@pytest.fixture(scope="module")
def indexed(corpus: list[Path], tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """LINDI indexes of the whole corpus, in corpus order."""
    records = index_many(corpus, tmp_path_factory.mktemp("indexed"), max_workers=1)
    return [r.destination for r in records]


@pytest.mark.parametrize("kind", sorted(TABLES))
@pytest.mark.parametrize("drop_arrays", [True, False])
@pytest.mark.parametrize("form", ["lindi", "hdf5"])
def test_equals_pynwb(corpus: list[Path], indexed: list[str], kind: str, drop_arrays: bool, form: str) -> None:
    first, path, attr = TABLES[kind]
    picks = list(range(first, len(corpus), 4))
    names = [indexed[i] if form == "lindi" else str(corpus[i]) for i in picks]
    got = read_table(names, path, exclude_array_columns=drop_arrays)
    _assert_same(got, _expected([corpus[i] for i in picks], attr, names, drop_arrays))


def test_served_lindi_costs_one_request_a_file(http_server: RangeServer, indexed: list[str], corpus: list[Path]) -> None:
    picks = [0, 4, 8, 12]
    for i in picks:
        shutil.copyfile(indexed[i], http_server.root / f"{i}.lindi.json")
    urls = [http_server.url(f"{i}.lindi.json") for i in picks]
    got = read_table(urls, "/units", columns=["quality"])
    assert list(got.columns) == ["quality", "source"] and list(got["source"].unique()) == urls
    assert len(http_server.requests) == len(urls)  # the columns are inline in each index
    _assert_same(got.drop(columns="source"), _expected([corpus[i] for i in picks], "units", urls, True)[["quality"]])


def test_served_hdf5_in_a_process_pool(
    http_server: RangeServer, corpus: list[Path], spawn_pool: ProcessPoolExecutor
) -> None:
    picks = [0, 4]
    for i in picks:
        shutil.copyfile(corpus[i], http_server.root / corpus[i].name)
    urls = [http_server.url(corpus[i].name) for i in picks]
    got = read_table(urls, "/units", executor=spawn_pool, exclude_array_columns=False)
    _assert_same(got, _expected([corpus[i] for i in picks], "units", urls, False))


def test_only_the_table_is_indexed(corpus: list[Path]) -> None:
    refmap = index_hdf5(corpus[3], options=IndexOptions(only=("/general/extracellular_ephys/electrodes",)))
    keys = set(refmap.iter_keys(chunk_tables=False))
    assert "general/extracellular_ephys/electrodes/location/.zarray" in keys
    assert ".zattrs" in keys and "general/.zgroup" in keys
    assert not any(k.startswith(("acquisition/", "general/extracellular_ephys/ElectrodeGroup")) for k in keys)


def test_errors(corpus: list[Path], indexed: list[str]) -> None:
    with pytest.raises(NodeNotFoundError, match="has no table '/units'"):
        read_table([indexed[2]], "/units")
    with pytest.raises(NodeNotFoundError, match=r"has no column \['nope'\]"):
        read_table([indexed[0]], "/units", columns=["nope"])
    with pytest.raises(FormatError, match="is not a DynamicTable"):
        read_table([indexed[0]], "/general")
    assert read_table([], "/units").empty
