"""A synthetic dandiset: 16 small NWB files of four kinds, written once per test session.

Kinds (why each matters): ``units`` (a DynamicTable with a ragged column, string and float
columns: what read_table is for), ``trials`` (another table at another path), ``series`` (a
plain TimeSeries, no table: read_table must say so), ``ephys`` (electrodes table with object
references and an ElectricalSeries: a region column and a chunked array). Plus ``notes.txt`` (no
HDF5 at all: ``unsupported``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dandi_server import DandiServer  # noqa: E402

KINDS = ("units", "trials", "series", "ephys")
N_FILES = 16


def _nwbfile(kind: str, i: int) -> object:
    from pynwb import TimeSeries
    from pynwb.testing.mock.ecephys import mock_ElectricalSeries
    from pynwb.testing.mock.file import mock_NWBFile

    rng = np.random.default_rng(i)
    nwbfile = mock_NWBFile(session_description=f"{kind} session {i}", identifier=f"synthetic-{i}")
    if kind == "units":
        nwbfile.add_unit_column("quality", "label")
        nwbfile.add_unit_column("firing_rate", "rate")
        for u in range(3 + i % 4):
            spikes = np.sort(rng.uniform(0, 10, size=5 + u))
            nwbfile.add_unit(spike_times=spikes, quality=["good", "mua"][u % 2], firing_rate=float(rng.uniform(1, 9)))
    elif kind == "trials":
        nwbfile.add_trial_column("outcome", "result")
        for t in range(4 + i % 3):
            nwbfile.add_trial(start_time=float(t), stop_time=t + 0.5, outcome=["hit", "miss"][t % 2])
    elif kind == "series":
        nwbfile.add_acquisition(TimeSeries(name="trace", data=rng.normal(size=(2000,)), unit="V", rate=100.0))
    else:
        mock_ElectricalSeries(nwbfile=nwbfile, data=rng.normal(size=(50, 5)))  # added to acquisition
    return nwbfile


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """16 NWB files ``sub-XX/sub-XX_ses-<kind>.nwb`` (4 of each kind) in a session directory."""
    from pynwb import NWBHDF5IO

    root = tmp_path_factory.mktemp("corpus")
    paths = []
    for i in range(N_FILES):
        kind = KINDS[i % len(KINDS)]
        path = root / f"sub-{i:02d}" / f"sub-{i:02d}_ses-{kind}.nwb"
        path.parent.mkdir()
        with NWBHDF5IO(str(path), "w") as io:
            io.write(_nwbfile(kind, i))
        paths.append(path)
    return paths


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    """A file that is no HDF5 (and no LINDI) file."""
    path = tmp_path / "notes.txt"
    path.write_text("not an HDF5 file\n" * 200)
    return path


@pytest.fixture
def dandi_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DandiServer]:
    """A started, empty :class:`~dandi_server.DandiServer` (dandiset 000001, draft only)."""
    with DandiServer(tmp_path_factory.mktemp("dandi")) as server:
        yield server


@pytest.fixture(scope="session")
def spawn_pool() -> Iterator[ProcessPoolExecutor]:
    """Two spawned worker processes, shared by the tests (starting them costs seconds)."""
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        yield pool
