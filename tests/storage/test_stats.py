"""I/O counters (``File.stats``, ``LindiIO.stats``, ``hdmf_lindi.stats()``) against what
really happened: the real Range server's request log, and the bytes on disk."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from httpserver import RangeServer, parse_range

import hdmf_lindi
from hdmf_lindi.storage import RemoteOptions
from hdmf_lindi.storage.stats import IOStats, SourceStats

FAST = RemoteOptions(max_retries=3, backoff_base_s=0.001, backoff_cap_s=0.005)
DATA = np.arange(40_000, dtype="<i4").reshape(400, 100)  # 16 chunks of 25 x 100 (10,000 bytes each)


def _served_bytes(server: RangeServer, path: str) -> int:
    """Body bytes the server sent, from its log (206 ranges, 200 whole files)."""
    total = (server.root / path.lstrip("/")).stat().st_size
    sent = 0
    for r in server.requests:
        if r.status == 206:
            start, stop = parse_range(r.range, total)  # type: ignore[misc]
            sent += stop - start
        elif r.status == 200:
            sent += total
    return sent


@pytest.fixture
def served_tar(http_server: RangeServer) -> str:
    """A .lindi.tar with 16 zlib chunks in ``x`` (internal blobs), served over HTTP."""
    with hdmf_lindi.File(http_server.root / "f.lindi.tar", "w") as f:
        f.create_dataset("x", data=DATA, chunks=(25, 100), compression="gzip")
    return http_server.url("f.lindi.tar")


def test_remote_reads_match_the_server_log(http_server: RangeServer, served_tar: str) -> None:
    with hdmf_lindi.File(served_tar) as f:
        stats = f.stats
        opened = len(http_server.requests)
        assert stats.requests == opened > 0
        np.testing.assert_array_equal(f["x"][:], DATA)
        assert stats.requests == len(http_server.requests) > opened
        assert stats.bytes_fetched == _served_bytes(http_server, "f.lindi.tar")
        assert stats.per_source == {
            served_tar: SourceStats(requests=stats.requests, bytes_fetched=stats.bytes_fetched)
        }
        assert (stats.chunks_decoded, stats.bytes_decoded) == (16, DATA.nbytes)
        assert (stats.cache_hits, stats.cache_misses) == (0, 16)
        before = stats.snapshot()
        np.testing.assert_array_equal(f["x"][:50], DATA[:50])  # two cached chunks: no request
        after = stats.snapshot()
        assert after.requests == before.requests and after.cache_hits == 2
        assert after.chunks_decoded == before.chunks_decoded
        assert stats.retries == 0


def test_retries_are_counted(http_server: RangeServer, served_tar: str) -> None:
    with hdmf_lindi.File(served_tar, options=FAST) as f:
        http_server.misbehave("f.lindi.tar", fail_times=2, fail_status=503)
        f["x"][0]
        assert f.stats.retries == 2
        assert f.stats.requests == len(http_server.requests)
        assert [r.status for r in http_server.requests].count(503) == 2


def test_local_reads_count_per_file(tmp_path: Path) -> None:
    path = tmp_path / "local.lindi.tar"
    with hdmf_lindi.File(path, "w") as f:
        f.create_dataset("x", data=DATA, chunks=(25, 100))  # raw chunks: read straight into place
        f.create_dataset("z", data=DATA, chunks=(25, 100), compression="gzip")
    with hdmf_lindi.File(path) as f:
        refmap = f.container.refmap
        referenced = sum(refmap.get(k).length for k in refmap if k[2:3].isdigit())  # type: ignore[union-attr]
        base = f.stats.snapshot()
        f["x"][:]
        f["z"][:]
        s = f.stats.snapshot()
    fetched = s.bytes_fetched - base.bytes_fetched
    # every referenced byte once; merged reads also take the 512-byte tar headers between blobs
    assert referenced <= fetched <= referenced + 32 * 512
    assert set(s.per_source) == {str(path)}
    assert s.chunks_decoded == 16  # z's chunks; x's raw chunks are copied, not decoded


def test_a_scope_counts_every_file_in_a_block_and_stops_after(
    http_server: RangeServer, served_tar: str, tmp_path: Path
) -> None:
    local = tmp_path / "l.lindi.tar"
    with hdmf_lindi.File(local, "w") as f:
        f.create_dataset("z", data=DATA, chunks=(25, 100), compression="gzip")
    with hdmf_lindi.stats() as outer:
        with hdmf_lindi.File(served_tar) as remote:
            remote["x"][:]
        with hdmf_lindi.stats() as inner, hdmf_lindi.File(local) as f:
            f["z"][:]
    assert isinstance(outer, IOStats)
    assert outer.requests == len(http_server.requests) + inner.requests
    assert set(outer.per_source) == {served_tar, str(local)}
    assert set(inner.per_source) == {str(local)}
    assert outer.chunks_decoded == 32 and inner.chunks_decoded == 16
    final = outer.snapshot()
    with hdmf_lindi.File(served_tar) as remote:  # after the block: not counted
        remote["x"][:]
    assert outer.snapshot() == final
    assert "requests" in outer.describe() and served_tar in outer.describe()


def test_counters_are_exact_under_threads(http_server: RangeServer, served_tar: str) -> None:
    with hdmf_lindi.File(served_tar, chunk_cache_bytes=0) as f:
        http_server.reset()

        def read(row: int) -> None:
            for _ in range(10):
                f["x"][row * 25:(row + 1) * 25]

        with hdmf_lindi.stats() as scope:
            threads = [threading.Thread(target=read, args=(i,)) for i in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    assert len(http_server.requests) == 80
    assert scope.requests == 80 and scope.chunks_decoded == 80
    assert scope.bytes_fetched == _served_bytes(http_server, "f.lindi.tar")


def test_disk_cache_hits(http_server: RangeServer, served_tar: str, tmp_path: Path) -> None:
    options = RemoteOptions(cache_dir=str(tmp_path / "cache"))
    with hdmf_lindi.File(served_tar, options=options) as f:
        f["x"][:]
        assert (f.stats.disk_cache_hits, f.stats.disk_cache_misses) == (0, 16)
    http_server.reset()
    with hdmf_lindi.File(served_tar, options=options) as f:
        f["x"][:]
        s = f.stats
        assert (s.disk_cache_hits, s.disk_cache_misses) == (16, 0)
        assert s.requests == len(http_server.requests)  # the open only


def test_reset_and_repr() -> None:
    s = IOStats()
    assert s.requests == 0 and "0 requests" in repr(s)
    with pytest.raises(AttributeError):
        s.no_such_counter  # noqa: B018


def test_nwb_io_stats_count_a_remote_read_and_survive_close(http_server: RangeServer) -> None:
    from pynwb.testing.mock.base import mock_TimeSeries
    from pynwb.testing.mock.file import mock_NWBFile

    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="ts", data=DATA.astype("f8")))
    with hdmf_lindi.NWBLindiIO(http_server.root / "n.lindi.tar", "w") as io:
        io.write(nwbfile)
    with hdmf_lindi.stats() as scope, hdmf_lindi.NWBLindiIO(http_server.url("n.lindi.tar")) as io:
        read = io.read()
        np.testing.assert_array_equal(read.acquisition["ts"].data[:10], DATA[:10])
    assert io.stats.requests == len(http_server.requests) == scope.requests > 0
    assert io.stats.bytes_fetched == _served_bytes(http_server, "n.lindi.tar")
    assert io.stats.chunks_decoded >= 1
