"""An NWB file's LINDI index served by a server that ignores Range (``python -m http.server``).

Such a server answers every ranged GET with ``200`` and the whole file; the whole body is kept
(see ``HttpSource``) and every later range of that URL is served from it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hdmf.backends.hdf5 import H5DataIO
from httpserver import RangeServer
from pynwb import NWBHDF5IO, NWBFile, TimeSeries

import hdmf_lindi
from hdmf_lindi import NWBLindiIO, index_hdf5

DATA = (np.arange(40_000, dtype=np.int32) * 7919) % 100_003


def write_nwb(path: Path) -> None:
    """A small NWB file with one chunked, compressed TimeSeries."""
    nwb = NWBFile("no range", "id", datetime(2026, 1, 1, tzinfo=UTC))
    data = H5DataIO(DATA, chunks=(4_000,), compression="gzip")
    nwb.add_acquisition(TimeSeries(name="ts", data=data, unit="V", rate=10.0))
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


@pytest.mark.parametrize("suffix", [".lindi.tar", ".lindi.json"])
def test_nwb_index_on_a_server_ignoring_range(http_server: RangeServer, suffix: str) -> None:
    write_nwb(http_server.root / "x.nwb")
    index_hdf5(http_server.url("x.nwb"), http_server.root / f"x{suffix}")
    http_server.reset()
    http_server.misbehave(ignore_range=True)
    url = http_server.url(f"x{suffix}")
    with NWBLindiIO(url, "r") as io:
        np.testing.assert_array_equal(io.read().acquisition["ts"].data[:], DATA)
    with hdmf_lindi.File(url) as f:
        np.testing.assert_array_equal(f["acquisition/ts/data"][1234:30_000], DATA[1234:30_000])
    # each open costs one GET of the index, and the HDF5 file is fetched once per open
    assert sorted(http_server.paths()) == sorted([f"/x{suffix}", "/x.nwb"] * 2)
    assert {r.status for r in http_server.requests} == {200}
