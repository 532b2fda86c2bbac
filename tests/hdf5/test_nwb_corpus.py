"""A pynwb-written NWB corpus covering every ``mock_*`` of ``pynwb.testing.mock``, indexed.

The corpus (built once per module) is three NWB files:

* ``main``: every mock called with ``nwbfile=`` on one ``mock_NWBFile()``, except the four
  electrode-table mocks below, plus a gzip-chunked TimeSeries (``H5DataIO``);
* ``ecephys_tables``: ``mock_ElectrodesTable`` with ``mock_electrodes`` (a region of it) used
  by ``mock_SpikeEventSeries``. They cannot join ``main``: an NWBFile has one electrodes table,
  and each of these mocks creates its own when not given one;
* ``legacy``: the deprecated alias ``mock_ElectrodeTable`` (it too sets ``nwbfile.electrodes``).

Mocks not added to any file, with the reason (``NOT_ADDED``):

* ``mock_NWBFile``: it builds the NWBFile itself; every corpus file is one.

``test_every_mock_is_in_the_corpus`` fails when pynwb gains a mock that is neither called nor
listed here. Each file is indexed and compared with h5py (``compare.assert_same_tree``), and its
``.lindi.json`` is read by lindi 0.4.6 (interop venv) and compared with h5py's values.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from compare import assert_same_tree
from hdmf.backends.hdf5 import H5DataIO
from interop.test_lindi_interop import (
    as_converted,
    as_lindi_reads,
    assert_same,
    describe_h5py,
    lindi_dump,
)
from nwb_mocks import NOT_ADDED, discover_mocks
from pynwb import NWBHDF5IO
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_lindi import File, index_hdf5

TABLE_MOCKS = {"mock_ElectrodesTable", "mock_electrodes", "mock_SpikeEventSeries", "mock_ElectrodeTable"}
FILES = ["main", "ecephys_tables", "legacy"]


class _Corpus:
    def __init__(self, root: Path) -> None:
        self.mocks = discover_mocks()
        self.called: dict[str, str] = {}
        self.paths = {name: root / f"{name}.nwb" for name in FILES}

    def call(self, file: str, mock: str, /, **kwargs: Any) -> Any:
        self.called.setdefault(mock, file)
        return self.mocks[mock](**kwargs)

    def build(self) -> None:
        builders = {"main": self._main, "ecephys_tables": self._ecephys_tables, "legacy": self._legacy}
        for name in FILES:
            nwbfile = mock_NWBFile(session_description=f"hdmf_lindi corpus: {name}")
            builders[name](nwbfile)
            with NWBHDF5IO(str(self.paths[name]), "w") as io:
                io.write(nwbfile)

    def _main(self, nwbfile: Any) -> None:
        for name in sorted(set(self.mocks) - TABLE_MOCKS - set(NOT_ADDED)):
            self.call("main", name, nwbfile=nwbfile)
        data = H5DataIO(np.arange(24000, dtype="<f4").reshape(-1, 4), compression="gzip", chunks=(500, 4), shuffle=True)
        self.call("main", "mock_TimeSeries", name="compressed", data=data, nwbfile=nwbfile)

    def _ecephys_tables(self, nwbfile: Any) -> None:
        table = self.call("ecephys_tables", "mock_ElectrodesTable", n_rows=8, nwbfile=nwbfile)
        region = self.call("ecephys_tables", "mock_electrodes", n_electrodes=8, table=table, nwbfile=nwbfile)
        self.call("ecephys_tables", "mock_SpikeEventSeries", data=np.ones((10, 8)), electrodes=region, nwbfile=nwbfile)

    def _legacy(self, nwbfile: Any) -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.call("legacy", "mock_ElectrodeTable", nwbfile=nwbfile)
        assert any(issubclass(w.category, DeprecationWarning) for w in caught)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> _Corpus:
    built = _Corpus(tmp_path_factory.mktemp("nwb_corpus"))
    built.build()
    return built


def test_every_mock_is_in_the_corpus(corpus: _Corpus) -> None:
    assert set(corpus.mocks) == set(corpus.called) | set(NOT_ADDED)
    assert not set(corpus.called) & set(NOT_ADDED)
    assert len(corpus.mocks) >= 30  # pynwb 4.2 has 34: guard against discovery finding nothing


@pytest.mark.parametrize("destination", [None, "index.lindi.tar"])
@pytest.mark.parametrize("name", FILES)
def test_nwb_index_reads_like_h5py(corpus: _Corpus, tmp_path: Path, name: str, destination: str | None) -> None:
    source = corpus.paths[name]
    target = None if destination is None else tmp_path / destination
    refmap = index_hdf5(source, target)
    with File(refmap if target is None else target) as f:
        assert_same_tree(source, f)
        assert f.attrs["neurodata_type"] == "NWBFile"


@pytest.mark.parametrize("name", FILES)
def test_lindi_reads_the_nwb_index(corpus: _Corpus, tmp_path: Path, name: str, run_lindi: Any) -> None:
    source = corpus.paths[name]
    out = tmp_path / f"{name}.lindi.json"
    index_hdf5(source, out)
    # lindi 0.4.6 reads the index as h5py reads the NWB file, modulo the attribute losses that
    # JSON imposes (as_converted) and lindi's own attribute quirks (as_lindi_reads)
    assert_same(
        lindi_dump(run_lindi, out),
        as_lindi_reads(as_converted(describe_h5py(source))),
        f"lindi 0.4.6 reading the index of {name}.nwb",
    )
