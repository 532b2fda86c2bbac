"""BlockCachedFile: the request pattern h5py's metadata reads turn into, over a counting source."""

from __future__ import annotations

import io

import numpy as np
import pytest

from hdmf_lindi.errors import RemoteReadError
from hdmf_lindi.hdf5.remote_file import (
    BLOCK_BYTES,
    HEAD_BYTES,
    MAX_REQUEST_BYTES,
    TAIL_BYTES,
    BlockCachedFile,
)

SIZE = 10 << 20  # 10 MiB
BIG = 72 << 20  # 72 MiB: more than MAX_WHOLE_BYTES, never read whole


class CountingSource:
    """In-memory bytes; records every (start, stop) asked for."""

    name = "mem://file"

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.reads: list[tuple[int, int]] = []

    def read_range(self, start: int, stop: int) -> bytes:
        assert 0 <= start < stop <= len(self.data), (start, stop)
        self.reads.append((start, stop))
        return self.data[start:stop]

    def size(self) -> int:
        self.reads.append((0, 0))  # a size probe is a request too
        return len(self.data)

    def close(self) -> None:
        return None


class PrefixSource(CountingSource):
    """Like HttpSource: leading bytes and the size in one request."""

    def __init__(self, data: bytes, *, ignore_range: bool = False) -> None:
        super().__init__(data)
        self.ignore_range = ignore_range

    def read_prefix(self, max_bytes: int) -> tuple[bytes, int]:
        self.reads.append((0, max_bytes))
        if self.ignore_range:
            return self.data, len(self.data)
        return self.data[:max_bytes], len(self.data)


@pytest.fixture(scope="module")
def data() -> bytes:
    return np.random.default_rng(0).integers(0, 256, SIZE, dtype=np.uint8).tobytes()


@pytest.fixture(scope="module")
def big_data() -> bytes:
    return (np.arange(BIG, dtype=np.uint32) * 2654435761 >> 13).astype(np.uint8).tobytes()


def read_at(f: BlockCachedFile, offset: int, length: int) -> bytes:
    f.seek(offset)
    buf = bytearray(length)
    n = f.readinto(buf)
    return bytes(buf[:n])


def test_head_and_size_in_one_request(data: bytes) -> None:
    source = PrefixSource(data)
    f = BlockCachedFile(source)
    assert source.reads == [(0, HEAD_BYTES)]
    assert f.seek(0, io.SEEK_END) == SIZE
    assert read_at(f, 0, 8) == data[:8]
    assert read_at(f, 100, HEAD_BYTES - 100) == data[100:HEAD_BYTES]
    assert f.requests == 1 and len(source.reads) == 1


def test_source_without_prefix_reads_lazily(data: bytes) -> None:
    source = CountingSource(data)
    f = BlockCachedFile(source)
    assert source.reads == [(0, 0)]
    assert read_at(f, 10, 100) == data[10:110]
    # a window: the block and its neighbour (the head of an HDF5 file in one request)
    assert source.reads[1:] == [(0, 2 * BLOCK_BYTES)]


def test_first_tail_miss_reads_the_whole_tail(data: bytes) -> None:
    source = PrefixSource(data)
    f = BlockCachedFile(source)
    assert read_at(f, SIZE - 1000, 100) == data[SIZE - 1000:SIZE - 900]
    assert source.reads[1] == (SIZE - TAIL_BYTES, SIZE)
    # everything in the tail is now resident, in any order
    for offset in (SIZE - TAIL_BYTES, SIZE - 200_000, SIZE - 50):
        assert read_at(f, offset, 50) == data[offset:offset + 50]
    assert len(source.reads) == 2


def test_isolated_misses_read_a_small_window(big_data: bytes) -> None:
    source = PrefixSource(big_data)
    f = BlockCachedFile(source)
    for offset in (2_000_000, 25_000_000, 50_000_000):  # objects far apart
        assert read_at(f, offset, 2616) == big_data[offset:offset + 2616]
    sizes = [stop - start for start, stop in source.reads[1:]]
    assert len(sizes) == 3 and all(s <= 2 * BLOCK_BYTES for s in sizes), source.reads


def test_read_past_end_is_short(data: bytes) -> None:
    f = BlockCachedFile(PrefixSource(data))
    assert read_at(f, SIZE - 10, 100) == data[-10:]
    assert read_at(f, SIZE + 5, 10) == b""


def test_dense_misses_grow_the_requests(big_data: bytes) -> None:
    source = PrefixSource(big_data)
    f = BlockCachedFile(source)
    start = 1 << 20
    for offset in range(start, start + (3 << 20), 4096):  # a region dense with metadata
        assert read_at(f, offset, 600) == big_data[offset:offset + 600]
    sizes = [stop - first for first, stop in source.reads[1:]]
    # the first miss reads its block and the one before (it reads near the start of its
    # block); the next misses, each close to the previous window, double it
    assert source.reads[1] == (start - BLOCK_BYTES, start + BLOCK_BYTES)
    assert sizes[:4] == [2 * BLOCK_BYTES, 2 * BLOCK_BYTES, 4 * BLOCK_BYTES, 8 * BLOCK_BYTES]
    assert max(sizes) <= MAX_REQUEST_BYTES
    assert len(sizes) <= 10  # 3 MiB in doubling requests, not 384 blocks


def test_random_reads_equal_the_bytes(data: bytes) -> None:
    source = PrefixSource(data)
    f = BlockCachedFile(source)
    rng = np.random.default_rng(1)
    for _ in range(300):
        offset = int(rng.integers(0, SIZE))
        length = int(rng.integers(1, 70_000))
        assert read_at(f, offset, length) == data[offset:offset + length]
    reads = source.reads
    fetched = sum(stop - start for start, stop in reads)
    # a 10 MiB file is read whole at its second miss outside the tail (the first one showed
    # its metadata to be spread out): head, perhaps the tail, one window, the rest
    assert len(reads) <= 4, reads
    whole = max(range(len(reads)), key=lambda k: reads[k][1] - reads[k][0])
    assert reads[whole][1] - reads[whole][0] > SIZE // 2
    # no block read twice, but the window(s) the whole read covers again
    assert fetched <= SIZE + sum(stop - first for first, stop in reads[1:whole])


def test_server_ignoring_range_on_the_first_request(data: bytes) -> None:
    source = PrefixSource(data, ignore_range=True)
    with pytest.raises(RemoteReadError, match=r"mem://file.*Range ignored") as info:
        BlockCachedFile(source)
    assert info.value.status == 200
