"""Requests and bytes of remote indexing for the layouts h5py and pynwb write (hdf5/readahead.py).

Each file is written by pynwb and indexed over HTTP from the real Range server; the counts are
the server's. Every case is a layout that cost more before the read-ahead learned it (the
figures in each test, measured with the previous policy on the same files):

* ``ecephys``: a 25 MB gzip ElectricalSeries; pynwb writes the objects created after it (its
  ``electrodes`` region, ``starting_time``, ``analysis``) mid-file, after the chunks written by
  then: metadata in three places (head, mid-file, tail), so three requests is the floor at
  < 2% of the bytes (before: four, the mid-file cluster spanning two blocks);
* ``many`` (100 TimeSeries, 2.8 MB) and ``many_big`` (100 TimeSeries of 15,000 samples, 24 MB):
  object headers and data alternate through the whole file, so the floor is two requests (the
  head, then everything) and the bytes floor is the file; before: 26 and 64 requests;
* ``btree``: 12.5 MB of raw chunks whose v1 B-tree leaves lie among the data: misses on
  chunk-index nodes must not make the file count as "spread" and be read whole.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from hdmf.backends.hdf5 import H5DataIO
from httpserver import RangeServer, parse_range
from pynwb import NWBHDF5IO, NWBFile
from pynwb.ecephys import ElectricalSeries
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_lindi import index_hdf5
from hdmf_lindi.hdf5 import IndexOptions
from hdmf_lindi.hdf5.readahead import is_chunk_index_node
from hdmf_lindi.hdf5.remote_file import BlockCachedFile


def _electrodes(nwbfile: NWBFile, channels: int) -> object:
    device = nwbfile.create_device("probe")
    group = nwbfile.create_electrode_group("shank", "shank", "brain", device)
    for _ in range(channels):
        nwbfile.add_electrode(group=group, location="CA1")
    return nwbfile.create_electrode_table_region(list(range(channels)), "all")


def _write(nwbfile: NWBFile, path: Path) -> Path:
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return path


def _ecephys(path: Path) -> Path:
    """384 channels x 2 s at 30 kHz, gzip 1 in (30000, 64) chunks, 100 trials, 20 units."""
    nwbfile = mock_NWBFile()
    rng = np.random.default_rng(0)
    base = np.cumsum(rng.integers(-3, 4, size=(60_000, 1), dtype=np.int16), axis=0, dtype=np.int16)
    data = (base + rng.integers(-40, 40, size=(60_000, 384), dtype=np.int16)).astype("i2")
    region = _electrodes(nwbfile, 384)
    series = H5DataIO(data, chunks=(30_000, 64), compression="gzip", compression_opts=1)
    nwbfile.add_acquisition(ElectricalSeries(name="raw", data=series, electrodes=region, rate=30_000.0))
    for i in range(100):
        nwbfile.add_trial(start_time=float(i), stop_time=i + 0.5)
    nwbfile.add_unit_column("quality", "quality")
    for i in range(20):
        nwbfile.add_unit(spike_times=np.arange(i % 50) * 0.1, quality="good")
    return _write(nwbfile, path)


def _many(path: Path, samples: int) -> Path:
    nwbfile = mock_NWBFile()
    for i in range(100):
        values = np.arange(float(samples))
        nwbfile.add_acquisition(mock_TimeSeries(name=f"ts{i}", data=values, timestamps=values))
    return _write(nwbfile, path)


def _btree(path: Path) -> Path:
    """128 channels x 48,000 int16 in (500, 64) chunks: 192 chunks, three B-tree leaves."""
    nwbfile = mock_NWBFile()
    region = _electrodes(nwbfile, 128)
    data = np.random.default_rng(0).integers(-500, 500, (48_000, 128), dtype="i2")
    nwbfile.add_acquisition(
        ElectricalSeries(name="raw", data=H5DataIO(data, chunks=(500, 64)), electrodes=region, rate=30_000.0)
    )
    return _write(nwbfile, path)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("readahead")
    return {
        "ecephys": _ecephys(folder / "ecephys.nwb"),
        "many": _many(folder / "many.nwb", 1_500),
        "many_big": _many(folder / "many_big.nwb", 15_000),
        "btree": _btree(folder / "btree.nwb"),
    }


def _index_remotely(path: Path, server: RangeServer) -> tuple[int, int]:
    """Index ``path`` from ``server``; return the requests and the bytes it answered."""
    target = server.root / path.name
    try:
        os.link(path, target)
    except OSError:
        shutil.copyfile(path, target)
    total = path.stat().st_size
    server.reset()
    remote = index_hdf5(server.url(path.name))
    requests = list(server.requests)
    assert all(r.method == "GET" and r.status == 206 for r in requests), requests
    fetched = sum(stop - start for start, stop in (parse_range(r.range, total) or (0, total) for r in requests))
    assert sorted(remote.keys()) == sorted(index_hdf5(path).keys())
    return len(requests), fetched


def _object_addresses(path: Path) -> list[float]:
    """Where each object header sits, as a fraction of the file."""
    found: list[float] = []
    with h5py.File(path, "r") as f:
        size = f.id.get_filesize()
        f.visit(lambda name: found.append(h5py.h5o.get_info(f[name].id).addr / size))
    return found


def test_ecephys_with_metadata_after_its_data_block_in_three_requests(
    files: dict[str, Path], http_server: RangeServer, record_property: pytest.RecordProperty
) -> None:
    path = files["ecephys"]
    # the layout this case is about: object headers in the middle of the file, after the data
    assert any(0.1 < at < 0.9 for at in _object_addresses(path))
    requests, fetched = _index_remotely(path, http_server)
    total = path.stat().st_size
    record_property("requests", requests)
    record_property("bytes", fetched)
    assert requests <= 3, (requests, fetched, total)
    assert fetched < 0.02 * total, f"{fetched} bytes = {fetched / total:.2%} of {total}"


@pytest.mark.parametrize(("name", "most"), [("many", 3), ("many_big", 5)])
def test_many_objects_are_read_whole_in_few_requests(
    files: dict[str, Path], http_server: RangeServer, name: str, most: int
) -> None:
    # 2.8 MB: the head, the tail, then everything else at the first miss outside them; 24 MB:
    # read whole once two misses in the middle showed the metadata to be spread out
    path = files[name]
    requests, fetched = _index_remotely(path, http_server)
    assert requests <= most, (requests, fetched)
    assert fetched <= path.stat().st_size + (64 << 10)  # the whole file, windows read again


def test_chunk_index_nodes_do_not_make_a_file_read_whole(
    files: dict[str, Path], http_server: RangeServer
) -> None:
    path = files["btree"]
    with h5py.File(path, "r") as f:
        assert f["acquisition/raw/data"].id.get_num_chunks() > 128  # B-tree leaves among the data
    requests, fetched = _index_remotely(path, http_server)
    total = path.stat().st_size
    # head, tail, one small window per leaf; a whole read (100%) would cost fewer requests
    assert requests <= 5, requests
    assert fetched < 0.05 * total, f"{fetched} bytes = {fetched / total:.2%} of {total}"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"TREE\x01\x00", True),  # v1 B-tree of raw data chunks
        (b"TREE\x00\x00", False),  # v1 B-tree of a group's links
        (b"BTIN\x00\x0a", True),  # v2 B-tree node of unfiltered chunk records
        (b"BTLF\x00\x0b", True),  # ... of filtered chunk records
        (b"BTHD\x00\x05", False),  # v2 B-tree of link names
        (b"FADB\x00\x00", True),  # fixed array data block
        (b"EAIB\x00\x00", True),  # extensible array index block
        (b"HEAP\x00\x00", False),  # local heap
        (b"SNOD\x01\x00", False),  # symbol table node
        (b"\x01\x00\x00\x05\x01\x00", False),  # v1 object header
        (b"TRE", False),
    ],
)
def test_is_chunk_index_node(head: bytes, expected: bool) -> None:
    assert is_chunk_index_node(head) is expected


def test_the_btree_nodes_of_a_written_file_are_told_apart(files: dict[str, Path]) -> None:
    """Every v1 B-tree node of the pynwb file: chunk indexes (type 1) and groups (type 0)."""
    data = files["btree"].read_bytes()
    nodes = _signatures(data, b"TREE")
    chunk_nodes = [at for at in nodes if is_chunk_index_node(data[at:at + 6])]
    group_nodes = [at for at in nodes if data[at + 4] == 0]
    # 192 chunks of the big dataset: a root and three leaves at least; groups: one per group
    assert len(chunk_nodes) >= 4 and group_nodes, (len(chunk_nodes), len(group_nodes))
    assert all(data[at + 4] == 1 for at in chunk_nodes)
    assert not any(is_chunk_index_node(data[at:at + 6]) for at in group_nodes)


def _signatures(data: bytes, signature: bytes) -> list[int]:
    found, at = [], data.find(signature)
    while at >= 0:
        found.append(at)
        at = data.find(signature, at + 1)
    return found


class _Memory:
    """In-memory bytes with ``read_prefix`` (like HttpSource); records each request."""

    name = "mem://file"

    def __init__(self, data: bytes) -> None:
        self.data = data
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


def test_misses_in_one_cluster_are_one_place_and_far_ones_make_the_file_read_whole() -> None:
    size = 20 << 20  # read whole after 2 places: 20 MiB <= 8 MiB x (1 + 2)
    source = _Memory(bytes(size))  # zeros: no chunk-index signature anywhere
    f = BlockCachedFile(source)

    def read(offset: int) -> None:
        f.seek(offset)
        f.readinto(bytearray(512))

    read(size - 100)  # the tail
    cluster = 12 << 20
    for offset in (cluster, cluster + 200_000, cluster - 150_000, cluster + 60_000, cluster + 240_000):
        read(offset)  # objects written together: one place, however many misses
    assert all(stop - start < 1 << 20 for start, stop in source.reads[2:]), source.reads
    read(3 << 20)  # a second place
    assert max(stop - start for start, stop in source.reads) < 1 << 20
    read(7 << 20)  # the third miss far from the others: everything not read yet, at once
    assert source.reads[-1][1] - source.reads[-1][0] > size // 2
    requests = len(source.reads)
    for offset in range(0, size, 1 << 20):
        read(offset)
    assert len(source.reads) == requests


def _session(path: Path) -> Path:
    """A units table (with a string column) and 10 TimeSeries after 6 MB of raw data."""
    nwbfile = mock_NWBFile()
    rng = np.random.default_rng(0)
    data = rng.integers(-2000, 2000, size=(48_000, 64), dtype=np.int16)
    nwbfile.add_acquisition(mock_TimeSeries(name="raw", data=H5DataIO(data, chunks=(6_000, 64)), rate=30_000.0))
    module = nwbfile.create_processing_module(name="behavior", description="behaviour")
    for i in range(10):
        module.add(mock_TimeSeries(name=f"ts{i}", data=rng.normal(size=2_000)))
    nwbfile.add_unit_column("quality", "quality")
    for i in range(400):
        nwbfile.add_unit(spike_times=np.sort(rng.uniform(0, 600, 50)), quality=["good", "mua", "noise"][i % 3])
    return _write(nwbfile, path)


def test_a_partial_index_of_a_multi_megabyte_file_reads_a_small_part_of_it(
    tmp_path: Path, http_server: RangeServer, record_property: pytest.RecordProperty
) -> None:
    # a full index reads this file whole (6.7 MB <= 8 MiB: at its first miss outside head and tail);
    # the walk of /units alone must not: the previous policy read all of it (3 requests)
    path = _session(tmp_path / "session.nwb")
    total = path.stat().st_size
    assert total > 5_000_000
    os.link(path, http_server.root / path.name)
    options = IndexOptions(only=("/units",))
    remote = index_hdf5(http_server.url(path.name), options=options)
    requests = list(http_server.requests)
    fetched = sum(stop - start for start, stop in (parse_range(r.range, total) or (0, total) for r in requests))
    record_property("requests", len(requests))
    record_property("bytes", fetched)
    assert sorted(remote.keys()) == sorted(index_hdf5(path, options=options).keys())
    assert any(key.startswith("units/quality") for key in remote.keys())
    assert fetched < 0.25 * total, f"{fetched} bytes = {fetched / total:.2%} of {total} in {len(requests)} requests"
    assert len(requests) <= 4, [r.range for r in requests]


def test_a_partial_walk_never_reads_a_large_file_whole() -> None:
    size = 20 << 20  # a full walk reads this whole at the third far miss (see the test above)
    source = _Memory(bytes(size))
    f = BlockCachedFile(source, partial=True)
    for offset in (size - 100, 12 << 20, 3 << 20, 7 << 20, 16 << 20, 1 << 20):
        f.seek(offset)
        f.readinto(bytearray(512))
    assert len(source.reads) == 7  # the head, the tail, one window per far miss
    assert sum(stop - start for start, stop in source.reads[2:]) < 1 << 20, source.reads


def test_a_partial_walk_reads_up_to_the_tail_from_a_miss_just_before_it() -> None:
    size = 20 << 20  # tail: the last 256 KiB
    source = _Memory(bytes(size))
    f = BlockCachedFile(source, partial=True)
    for offset in (size - 100, size - (400 << 10), size - (380 << 10), size - (300 << 10)):
        f.seek(offset)
        f.readinto(bytearray(512))
    # head, tail; then from the miss 144 KiB before the tail up to it: the later misses are hits
    assert len(source.reads) == 3, source.reads
    start, stop = source.reads[2]
    assert stop == source.reads[1][0] and stop - start <= 256 << 10
