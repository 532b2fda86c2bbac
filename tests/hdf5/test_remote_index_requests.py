"""Remote indexing of a pynwb-written file in at most 3 requests, reading < 2% of its bytes.

pynwb's late metadata (the last objects written, heaps, attributes) sits at the end of the
file over a span a little larger than a fixed tail guess; the tail read is sized from the file
size the first request learns, and a miss just before it extends it in the same request.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hdmf.backends.hdf5 import H5DataIO
from httpserver import RangeServer, parse_range
from pynwb import NWBHDF5IO
from pynwb.ecephys import ElectricalSeries
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_lindi import index_hdf5
from hdmf_lindi.hdf5.remote_file import HEAD_BYTES, BlockCachedFile

CHANNELS = 128


@pytest.fixture(scope="module")
def ecephys_nwb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ecephys-like pynwb file: 31 MB of raw chunks, a gzip LFP, electrodes, trials, units."""
    path = tmp_path_factory.mktemp("ecephys") / "ecephys.nwb"
    nwbfile = mock_NWBFile()
    data = np.tile(np.arange(CHANNELS, dtype="i2"), (120_000, 1))
    device = nwbfile.create_device("probe")
    group = nwbfile.create_electrode_group("shank", "shank", "brain", device)
    nwbfile.add_electrode_column("label", "label")
    for i in range(CHANNELS):
        nwbfile.add_electrode(group=group, location="CA1", label=f"e{i}")
    region = nwbfile.create_electrode_table_region(list(range(CHANNELS)), "all")
    nwbfile.add_acquisition(
        ElectricalSeries(name="raw", data=H5DataIO(data, chunks=(30_000, 64)), electrodes=region, rate=30_000.0)
    )
    lfp = H5DataIO(data[::10], chunks=(3_000, 64), compression="gzip")
    nwbfile.add_acquisition(ElectricalSeries(name="lfp", data=lfp, electrodes=region, rate=3_000.0))
    for i in range(1500):
        nwbfile.add_trial(start_time=float(i), stop_time=i + 0.5)
    nwbfile.add_unit_column("quality", "quality")
    for i in range(300):
        nwbfile.add_unit(spike_times=np.arange(i % 50) * 0.1, quality="good")
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    return path


def test_remote_index_of_a_pynwb_file_in_three_requests(ecephys_nwb: Path, http_server: RangeServer) -> None:
    (http_server.root / "e.nwb").write_bytes(ecephys_nwb.read_bytes())
    total = ecephys_nwb.stat().st_size
    http_server.reset()
    remote = index_hdf5(http_server.url("e.nwb"))
    ranges = [parse_range(r.range, total) or (0, total) for r in http_server.requests if r.method == "GET"]
    assert len(http_server.requests) <= 3, ranges
    fetched = sum(stop - start for start, stop in ranges)
    assert fetched < 0.02 * total, (fetched, total)
    local = index_hdf5(ecephys_nwb)
    assert sorted(remote.keys()) == sorted(local.keys())


class _Source:
    name = "mem://file"

    def __init__(self, size: int) -> None:
        self.data = bytes(size)
        self.reads: list[tuple[int, int]] = []

    def read_prefix(self, max_bytes: int) -> tuple[bytes, int]:
        self.reads.append((0, max_bytes))
        return self.data[:max_bytes], len(self.data)

    def read_range(self, start: int, stop: int) -> bytes:
        self.reads.append((start, stop))
        return self.data[start:stop]

    def size(self) -> int:
        return len(self.data)

    def close(self) -> None:
        return None


def _read(f: BlockCachedFile, offset: int, length: int) -> None:
    f.seek(offset)
    f.readinto(bytearray(length))


def test_tail_is_one_percent_of_a_large_file() -> None:
    size = 100 << 20
    source = _Source(size)
    f = BlockCachedFile(source)
    _read(f, size - 100, 50)
    start, stop = source.reads[1]
    assert stop == size and size - start == pytest.approx(size / 100, abs=8192)


def test_a_miss_just_before_the_tail_is_read_with_it() -> None:
    size = 10 << 20
    source = _Source(size)
    f = BlockCachedFile(source)
    tail = 256 << 10
    _read(f, size - tail - 50_000, 100)  # before the tail, not read yet: one request for both
    _read(f, size - 10, 5)
    _read(f, size - tail - 100_000, 100)  # within the same request
    assert len(source.reads) == 2 and source.reads[0] == (0, HEAD_BYTES)
    start, stop = source.reads[1]
    assert stop == size and start <= size - tail - 100_000
    _read(f, size - 3 * tail, 100)  # further back: one more request, reaching further still
    assert len(source.reads) == 3 and source.reads[2][0] <= size - 3 * tail


def test_a_far_miss_does_not_extend_the_tail() -> None:
    size = 10 << 20
    source = _Source(size)
    f = BlockCachedFile(source)
    _read(f, size - 10, 5)
    _read(f, 1 << 20, 100)  # a B-tree node among the data: one small block
    assert source.reads[2][1] - source.reads[2][0] <= 16 << 10
