"""DataChunkIterator writes, and storage settings (H5DataIO, LindiDataIO) carried into LINDI.

``test_iterator_values`` -- one row per iterator shape, each written with ``NWBLindiIO`` and with
``NWBHDF5IO`` from the same recipe; the LINDI file must read back what the HDF5 file reads back
(and what the recipe says), dtype and shape included:

* ``unknown_length``: a generator of scalars, ``maxshape=(None,)``, buffer of 100;
* ``unknown_length_bands``: 40,000 rows x 8 float64 from a generator in buffers of 7,777 rows,
  so several ~1 MiB chunk bands are filled by pieces that straddle their edges;
* ``gaps``: a generator of rows with ``None`` (DataChunkIterator's gaps) at the start, in the
  middle and at the end; unwritten rows hold the fill value (0);
* ``gaps_fillvalue``: the same inside ``H5DataIO(fillvalue=-7)``;
* ``multi_dim_buffer``: a 3-D array in buffers of 7 rows;
* ``generic``: a ``GenericDataChunkIterator`` with ``chunk_shape=(10, 5, 3)``, which also becomes
  the storage chunk shape;
* ``gzip_iterator``: ``H5DataIO(DataChunkIterator(...), chunks=..., compression="gzip")``.

The settings tests read the chunking and codecs back through ``NWBLindiIO`` (``data.chunks``,
``data.compression``) and through ``hdmf_lindi.File`` (codec configuration, shuffle, fill value).
``test_lindi_reads_iterative`` has lindi 0.4.6 read the iterator-written file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest
from hdmf.backends.hdf5 import H5DataIO
from hdmf.data_utils import DataChunkIterator, GenericDataChunkIterator
from interop.test_lindi_interop import as_lindi_reads, assert_same, describe_ours, lindi_dump
from pynwb import NWBHDF5IO
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile
from write_corpus import FORMS, SUFFIX

from hdmf_lindi import File, LindiDataIO, NWBLindiIO

ARR3 = np.arange(97 * 5 * 3, dtype="float32").reshape(97, 5, 3)
BANDS = np.random.default_rng(3).normal(size=(40_000, 8))  # 2.5 MB: 16,384-row (1 MiB) bands
GAPS_AT = {0, 1, 2, 10, 11, 12, 13, 40, 58, 59}  # rows 58, 59 are trailing gaps
GAP_ROWS = 60


class ArrayIterator(GenericDataChunkIterator):  # type: ignore[misc]
    """The simplest GenericDataChunkIterator: slices of an in-memory array."""

    def __init__(self, array: np.ndarray, **kwargs: Any) -> None:
        self._array = array
        super().__init__(**kwargs)

    def _get_data(self, selection: tuple[slice, ...]) -> np.ndarray:
        return self._array[selection]

    def _get_maxshape(self) -> tuple[int, ...]:
        return self._array.shape

    def _get_dtype(self) -> np.dtype[Any]:
        return self._array.dtype


def _gap_rows() -> Iterator[np.ndarray | None]:
    for i in range(GAP_ROWS):
        yield None if i in GAPS_AT else np.array([i, -i, 2 * i], dtype="int32")


def _gaps_expected(fill: int) -> np.ndarray:
    last = max(i for i in range(GAP_ROWS) if i not in GAPS_AT)
    out = np.full((last + 1, 3), fill, dtype="int32")
    for i in range(last + 1):
        if i not in GAPS_AT:
            out[i] = [i, -i, 2 * i]
    return out


RECIPES: dict[str, tuple[Callable[[], Any], np.ndarray]] = {
    "unknown_length": (
        lambda: DataChunkIterator(
            data=(np.float64(i) * 0.5 for i in range(1234)), maxshape=(None,), dtype=np.dtype("f8"), buffer_size=100
        ),
        np.arange(1234) * 0.5,
    ),
    "unknown_length_bands": (
        lambda: DataChunkIterator(data=iter(BANDS), maxshape=(None, 8), dtype=np.dtype("f8"), buffer_size=7777),
        BANDS,
    ),
    "gaps": (lambda: DataChunkIterator(data=_gap_rows(), maxshape=(None, 3), dtype=np.dtype("i4"), buffer_size=4), _gaps_expected(0)),
    "gaps_fillvalue": (
        lambda: H5DataIO(
            DataChunkIterator(data=_gap_rows(), maxshape=(None, 3), dtype=np.dtype("i4"), buffer_size=4), fillvalue=-7
        ),
        _gaps_expected(-7),
    ),
    "multi_dim_buffer": (lambda: DataChunkIterator(data=ARR3, buffer_size=7), ARR3),
    "generic": (lambda: ArrayIterator(ARR3, chunk_shape=(10, 5, 3), buffer_shape=(30, 5, 3)), ARR3),
    "gzip_iterator": (
        lambda: H5DataIO(DataChunkIterator(data=ARR3, buffer_size=11), chunks=(16, 5, 3), compression="gzip"),
        ARR3,
    ),
}


def _write(io_cls: Any, path: Path, names: list[str], **write_args: Any) -> None:
    nwbfile = mock_NWBFile()
    for name in names:
        mock_TimeSeries(name=name, data=RECIPES[name][0](), nwbfile=nwbfile)
    with io_cls(path, "w") as io:
        io.write(nwbfile, **write_args)


@pytest.fixture(scope="module")
def hdf5_written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[np.ndarray, tuple[int, ...] | None, str | None]]:
    """What NWBHDF5IO stores for every recipe: (values, chunks, compression)."""
    path = tmp_path_factory.mktemp("iterative") / "baseline.nwb"
    _write(NWBHDF5IO, path, list(RECIPES))
    with NWBHDF5IO(path, "r") as io:
        acq = io.read().acquisition
        return {name: (acq[name].data[()], acq[name].data.chunks, acq[name].data.compression) for name in RECIPES}


@pytest.mark.parametrize("name", list(RECIPES))
def test_iterator_values(tmp_path: Path, name: str, hdf5_written: dict[str, Any]) -> None:
    path = tmp_path / "iterative.lindi.tar"
    _write(NWBLindiIO, path, [name])
    expected = RECIPES[name][1]
    h5_values, h5_chunks, h5_compression = hdf5_written[name]
    np.testing.assert_array_equal(h5_values, expected)  # the recipe describes what HDF5 does
    with NWBLindiIO(path, "r") as io:
        data = io.read().acquisition[name].data
        assert (data.shape, data.dtype) == (expected.shape, expected.dtype)
        np.testing.assert_array_equal(data[:], expected)
        if name in ("generic", "gzip_iterator"):
            assert (data.chunks, data.compression) == (h5_chunks, h5_compression)
        if name == "unknown_length_bands":
            assert data.chunks[0] * 2 < data.shape[0]  # at least three chunk bands were streamed


@pytest.mark.parametrize("form", FORMS)
def test_iterators_in_each_form(tmp_path: Path, form: str) -> None:
    path = tmp_path / f"iterative{SUFFIX[form]}"
    names = ["unknown_length", "gaps", "generic"]
    _write(NWBLindiIO, path, names)
    with NWBLindiIO(path, "r") as io:
        acq = io.read().acquisition
        for name in names:
            np.testing.assert_array_equal(acq[name].data[:], RECIPES[name][1])


def test_exhaust_dci_false(tmp_path: Path) -> None:
    """``exhaust_dci=False``: the iterators are drained after the whole tree is written."""
    path = tmp_path / "deferred.lindi.tar"
    names = ["unknown_length", "gaps_fillvalue", "generic", "gzip_iterator"]
    _write(NWBLindiIO, path, names, exhaust_dci=False)
    with NWBLindiIO(path, "r") as io:
        acq = io.read().acquisition
        for name in names:
            np.testing.assert_array_equal(acq[name].data[:], RECIPES[name][1])
        assert acq["gzip_iterator"].data.compression == "gzip"
        assert acq["gaps_fillvalue"].data.dtype == np.int32


def test_lindi_reads_iterative(tmp_path: Path, run_lindi: Any) -> None:
    path = tmp_path / "iterative.lindi.json"
    names = [n for n in RECIPES if n != "unknown_length_bands"]  # keep the JSON small
    _write(NWBLindiIO, path, names)
    ours = describe_ours(path)
    assert ours["/acquisition/gaps_fillvalue/data"]["value"] == _gaps_expected(-7).tolist()
    assert_same(lindi_dump(run_lindi, path), as_lindi_reads(ours), "lindi 0.4.6 reading iterator-written data")


def _settings_file(path: Path) -> None:
    nwbfile = mock_NWBFile()
    gz = H5DataIO(np.arange(10_000, dtype="int32"), chunks=(1000,), compression="gzip", compression_opts=4, shuffle=True)
    mock_TimeSeries(name="gzip", data=gz, nwbfile=nwbfile)
    blosc = numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.SHUFFLE)
    mock_TimeSeries(name="blosc", data=LindiDataIO(np.arange(5000, dtype="int64"), chunks=(512,), compressor=blosc), nwbfile=nwbfile)
    fill = H5DataIO(np.arange(10, dtype="float32"), chunks=(4,), fillvalue=-1.0)
    mock_TimeSeries(name="fill", data=fill, nwbfile=nwbfile)
    with NWBLindiIO(path, "w") as io:
        io.write(nwbfile)


@pytest.mark.parametrize("form", FORMS)
def test_storage_settings_kept(tmp_path: Path, form: str) -> None:
    path = tmp_path / f"settings{SUFFIX[form]}"
    _settings_file(path)
    with NWBLindiIO(path, "r") as io:
        acq = io.read().acquisition
        assert (acq["gzip"].data.chunks, acq["gzip"].data.compression) == ((1000,), "gzip")
        assert acq["blosc"].data.chunks == (512,)
        np.testing.assert_array_equal(acq["gzip"].data[:], np.arange(10_000, dtype="int32"))
        np.testing.assert_array_equal(acq["blosc"].data[:], np.arange(5000, dtype="int64"))
        np.testing.assert_array_equal(acq["fill"].data[:], np.arange(10, dtype="float32"))
    with File(path) as f:
        gz, blosc, fill = (f[f"acquisition/{n}/data"] for n in ("gzip", "blosc", "fill"))
        assert (gz.compression, gz.compression_opts, gz.shuffle) == ("gzip", 4, True)
        assert gz.dtype == np.int32
        assert blosc.compressor == {"id": "blosc", "cname": "zstd", "clevel": 3, "shuffle": 1, "blocksize": 0}
        assert (fill.chunks, fill.fillvalue, fill.dtype) == ((4,), -1.0, np.float32)
        # the codecs really are in use: 10,000 int32 counting up compress well below 40 kB
        refs = f.container.refmap
        stored = sum(len(v) if isinstance(v := refs.get(k), bytes) else v.length for k in refs if k.startswith("acquisition/gzip/data/") and not k.rsplit("/", 1)[1].startswith("."))
        assert stored < 40_000 // 4, stored


def test_lindi_reads_storage_settings(tmp_path: Path, run_lindi: Any) -> None:
    path = tmp_path / "settings.lindi.tar"
    _settings_file(path)
    assert_same(lindi_dump(run_lindi, path), as_lindi_reads(describe_ours(path)), "lindi 0.4.6 reading gzip/blosc data")
