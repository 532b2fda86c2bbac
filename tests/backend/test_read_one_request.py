"""``NWBLindiIO(url).read()`` of an index costs one request: the datasets hdmf reads while
constructing (table ids, ``VectorIndex``, text) are inline, in indexes and in written files.

Three small NWB files stand for the kinds of the corpus: ecephys-like (electrodes, an
ElectricalSeries, 1,500 trials, units with a ragged and a text column), ophys-like (plane
segmentation, ROI responses, a two-photon series) and many-objects (60 TimeSeries).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from httpserver import RangeServer
from pynwb import NWBHDF5IO, NWBFile
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.ecephys import mock_ElectricalSeries
from pynwb.testing.mock.file import mock_NWBFile
from pynwb.testing.mock.ophys import (
    mock_PlaneSegmentation,
    mock_RoiResponseSeries,
    mock_TwoPhotonSeries,
)

from hdmf_lindi import File, IndexOptions, NWBLindiIO, index_hdf5
from hdmf_lindi.nwb import convert

N_TRIALS = 1500  # 12,000 bytes of ids: above inline_max_elements, below the eager limit


def _ecephys(nwbfile: NWBFile) -> None:
    mock_ElectricalSeries(nwbfile=nwbfile, data=np.zeros((2000, 5), "i2"))
    for i in range(N_TRIALS):
        nwbfile.add_trial(start_time=float(i), stop_time=i + 0.5)
    nwbfile.add_unit_column("quality", "unit quality")
    for i in range(300):
        nwbfile.add_unit(spike_times=np.arange(i % 50) * 0.1, quality="good")


def _ophys(nwbfile: NWBFile) -> None:
    plane = mock_PlaneSegmentation(nwbfile=nwbfile, n_rois=50)
    mock_RoiResponseSeries(nwbfile=nwbfile, plane_segmentation=plane, n_rois=50)
    mock_TwoPhotonSeries(nwbfile=nwbfile)


def _many(nwbfile: NWBFile) -> None:
    for i in range(60):
        nwbfile.add_acquisition(mock_TimeSeries(name=f"ts{i}", data=np.arange(1500.0), timestamps=np.arange(1500.0)))


KINDS: dict[str, Callable[[NWBFile], None]] = {"ecephys": _ecephys, "ophys": _ophys, "many_objects": _many}


@pytest.fixture(scope="module")
def nwb_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    root = tmp_path_factory.mktemp("kinds")
    for name, build in KINDS.items():
        nwbfile = mock_NWBFile()
        build(nwbfile)
        out[name] = root / f"{name}.nwb"
        with NWBHDF5IO(out[name], "w") as io:
            io.write(nwbfile)
    return out


def _read_requests(server: RangeServer, name: str) -> list[str]:
    server.reset()
    with NWBLindiIO(server.url(name), "r") as io:
        io.read()
    return [r.path for r in server.requests]


@pytest.mark.parametrize("kind", list(KINDS))
def test_read_of_a_served_index_is_one_request(nwb_files: dict[str, Path], http_server: RangeServer, kind: str) -> None:
    shutil.copy(nwb_files[kind], http_server.root / "f.nwb")
    index_hdf5(http_server.url("f.nwb"), http_server.root / "f.lindi.json")
    assert _read_requests(http_server, "f.lindi.json") == ["/f.lindi.json"]


def test_without_eager_inlining_the_trial_ids_cost_a_request(nwb_files: dict[str, Path], http_server: RangeServer) -> None:
    """The counter can fail: the table ids are what hdmf reads while constructing."""
    shutil.copy(nwb_files["ecephys"], http_server.root / "f.nwb")
    plain = http_server.root / "plain.lindi.json"
    eager = http_server.root / "eager.lindi.json"
    index_hdf5(http_server.url("f.nwb"), plain, options=IndexOptions(inline_eager_max_bytes=0))
    index_hdf5(http_server.url("f.nwb"), eager)
    assert _read_requests(http_server, plain.name) == ["/plain.lindi.json", "/f.nwb"]
    growth = eager.stat().st_size - plain.stat().st_size
    assert 0 < growth < 2 * N_TRIALS * 8  # the ids, base64: about 16 KB


@pytest.mark.parametrize("suffix", [".lindi.json", ".lindi.tar"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_read_of_a_written_file_fetches_no_chunk(
    nwb_files: dict[str, Path], http_server: RangeServer, kind: str, suffix: str
) -> None:
    out = http_server.root / f"w{suffix}"
    convert(nwb_files[kind], out)
    http_server.reset()
    with File(http_server.url(out.name)):
        opening = len(http_server.requests)  # a tar: a few ranged reads of its index
    paths = _read_requests(http_server, out.name)
    assert paths == [f"/{out.name}"] * opening  # read() fetched no chunk
    assert opening == 1 if suffix == ".lindi.json" else 1 <= opening <= 3
