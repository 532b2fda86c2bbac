"""NWBLindiIO reads ``.lindi.json`` files written by lindi 0.4.6 as NWBHDF5IO reads the HDF5.

lindi's ``LindiH5pyFile.from_hdf5_file(...).write_lindi_file(...)`` converts each corpus file
(run by ``tests/interop/lindi_driver.py convert`` in the lindi virtual environment; chunk
references point at the ``.nwb``). lindi writes attributes without widths and strings its
own way, so these tests check that our reader copes with the reference implementation's
output, not only with our own indexer's. One conversion per file and worker (~1.5 s each), so
only three of the five corpus files: every mock but the electrode-table ones, the hand-made
tables and links, and the extension.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from backend_corpus import BIG_SERIES, FLOAT_WIDTH_LOST, MOCK_FILE, Corpus
from backend_reads import Reads, assert_same_tree

import hdmf_lindi
from hdmf_lindi import NWBLindiIO

Convert = Callable[[str], Path]
FILES = ("mocks", "tables", "extension")


def _read(reads: Reads, lindi_converted: Convert, file: str) -> object:
    manager = reads.manager(file)
    return reads.lindi_path(lindi_converted(file), key=("lindi-written", file), manager=manager)


@pytest.mark.parametrize("file", FILES)
def test_lindi_written_file_reads_equal(reads: Reads, lindi_converted: Convert, file: str) -> None:
    expected, actual = reads.hdf5(file), _read(reads, lindi_converted, file)
    assert set(actual.objects) == set(expected.objects)
    assert_same_tree(expected, actual)


@pytest.mark.parametrize("file", FILES)
def test_lindi_written_file_validates(corpus: Corpus, lindi_converted: Convert, file: str) -> None:
    assert [str(e) for e in hdmf_lindi.validate(lindi_converted(file))] == []


def test_lindi_written_mocks_cover_every_type(
    corpus: Corpus, reads: Reads, lindi_converted: Convert
) -> None:
    actual = _read(reads, lindi_converted, "mocks")
    expected = reads.hdf5("mocks")
    for mock, file in MOCK_FILE.items():
        if file != "mocks":
            continue
        for object_id in corpus.object_ids[mock]:
            assert type(actual.objects[object_id]) is type(expected.objects[object_id]), mock


def test_lindi_written_lazy_data(corpus: Corpus, reads: Reads, lindi_converted: Convert) -> None:
    expected, actual = reads.hdf5("tables"), _read(reads, lindi_converted, "tables")
    np.testing.assert_array_equal(
        actual.acquisition[BIG_SERIES].data[19_990:20_010], corpus.big_data[19_990:20_010]
    )
    for name in ("electrodes", "units", "trials"):
        pd.testing.assert_frame_equal(
            getattr(actual, name).to_dataframe(index=True).drop(columns=["group"], errors="ignore"),
            getattr(expected, name)
            .to_dataframe(index=True)
            .drop(columns=["group"], errors="ignore"),
        )
    assert actual.electrodes["group"][1] is actual.electrode_groups["shank1"]
    assert (
        actual.acquisition["linked_timestamps"].fields["timestamps"]
        is actual.acquisition["timestamps_source"]
    )


@pytest.mark.xfail(strict=True, reason=FLOAT_WIDTH_LOST)
def test_lindi_written_extension_float32(reads: Reads, lindi_converted: Convert) -> None:
    with NWBLindiIO(str(lindi_converted("extension")), "r") as io:
        scale = io.read().lab_meta_data["lab_meta"].scale
        assert isinstance(scale, np.float32), repr(scale)


def test_lindi_written_extension_dtypes(reads: Reads, lindi_converted: Convert) -> None:
    with NWBLindiIO(str(lindi_converted("extension")), "r") as io:
        meta = io.read().lab_meta_data["lab_meta"]
        assert (type(meta.gain), type(meta.offset)) == (np.uint8, np.int16)
        assert meta.scale == np.float32(0.1)
        assert list(meta.tags[:]) == ["a", "bb", "ccc"]
        assert meta.notes == "h\u00e9llo notes"
