"""``on_ready``: results are handed over as requests complete, so decoding overlaps transfer."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from httpserver import RangeServer

import hdmf_lindi
from hdmf_lindi.errors import RemoteReadError
from hdmf_lindi.storage import Fetcher, RemoteOptions

DATA = bytes(random.Random(7).randrange(256) for _ in range(1_000_000))


def test_fetcher_reports_each_result_once_as_it_arrives(http_server: RangeServer, tmp_path: Path) -> None:
    (http_server.root / "a.bin").write_bytes(DATA)
    local = tmp_path / "b.bin"
    local.write_bytes(DATA)
    url = http_server.url("a.bin")
    # four far-apart remote ranges (four requests), two local ones
    requests = [(url, i * 200_000, i * 200_000 + 1000) for i in range(4)] + [(str(local), 10, 20), (str(local), 30, 40)]
    seen: list[int] = []
    snapshots: dict[int, bytes] = {}
    caller = threading.get_ident()

    def ready(indices: list[int], out: list[bytes]) -> None:
        assert threading.get_ident() == caller  # called in the calling thread
        for i in indices:
            snapshots[i] = bytes(out[i])  # the data is in place when reported
        seen.extend(indices)

    fetcher = Fetcher(options=RemoteOptions(max_gap_bytes=0), allow_local=True)
    try:
        out = fetcher.read_many(requests, on_ready=ready)
    finally:
        fetcher.close()
    assert sorted(seen) == list(range(len(requests)))  # each exactly once
    expected = [DATA[s:e] for _, s, e in requests]
    assert [bytes(b) for b in out] == expected
    assert [snapshots[i] for i in range(len(requests))] == expected
    assert len(http_server.requests) == 4


def test_slow_request_does_not_hold_back_the_others(http_server: RangeServer) -> None:
    """With one request delayed, the fast ones are reported before it completes."""
    (http_server.root / "a.bin").write_bytes(DATA)
    (http_server.root / "slow.bin").write_bytes(DATA)
    http_server.misbehave("slow.bin", latency_s=0.4)
    requests = [(http_server.url("slow.bin"), 0, 100)] + [
        (http_server.url("a.bin"), i * 200_000, i * 200_000 + 100) for i in range(3)
    ]
    times: dict[int, float] = {}
    start = time.perf_counter()

    def ready(indices: list[int], out: list[bytes]) -> None:
        for i in indices:
            times[i] = time.perf_counter() - start

    fetcher = Fetcher(options=RemoteOptions(max_gap_bytes=0))
    try:
        fetcher.read_many(requests, on_ready=ready)
    finally:
        fetcher.close()
    assert times[0] >= 0.4
    assert max(times[i] for i in (1, 2, 3)) < times[0]


def test_tree_reads_compressed_remote_chunks_equal(http_server: RangeServer, tmp_path: Path) -> None:
    """The overlapped decode path (many gzip chunks over HTTP) returns the same array."""
    path = http_server.root / "gz.lindi.tar"
    data = np.arange(200_000, dtype="<i4").reshape(1000, 200)
    with hdmf_lindi.File(path, "w") as f:
        f.create_dataset("x", data=data, chunks=(50, 200), compression="gzip")
    with hdmf_lindi.File(http_server.url("gz.lindi.tar"), chunk_cache_bytes=0) as f:
        np.testing.assert_array_equal(f["x"][...], data)
        np.testing.assert_array_equal(f["x"][123:877, 5:9], data[123:877, 5:9])


def test_ranges_of_one_request_are_reported_as_their_bytes_arrive(http_server: RangeServer) -> None:
    """One merged 1 MB request at 4 MB/s: its ranges are handed on while it is still streaming."""
    (http_server.root / "a.bin").write_bytes(DATA)
    http_server.misbehave("a.bin", bandwidth_bytes_per_s=4_000_000)
    url = http_server.url("a.bin")
    requests = [(url, i * 100_000, (i + 1) * 100_000) for i in range(10)]
    times: dict[int, float] = {}
    calls = 0
    start = time.perf_counter()

    def ready(indices: list[int], out: list[bytes]) -> None:
        nonlocal calls
        calls += 1
        for i in indices:
            assert bytes(out[i]) == DATA[requests[i][1]:requests[i][2]]
            times[i] = time.perf_counter() - start

    fetcher = Fetcher(options=RemoteOptions(max_workers=1))
    try:
        out = fetcher.read_many(requests, on_ready=ready)
        total = time.perf_counter() - start
    finally:
        fetcher.close()
    assert len(http_server.requests) == 1
    assert calls >= 3  # several hand-overs from the one answer
    assert sorted(times) == list(range(10))
    assert times[0] < 0.6 * total  # the first range well before the last byte (~0.25 s in)
    assert [times[i] for i in range(10)] == sorted(times[i] for i in range(10))
    assert [bytes(b) for b in out] == [DATA[s:e] for _, s, e in requests]


def test_truncated_stream_raises_after_reporting_only_whole_ranges(http_server: RangeServer) -> None:
    """Ranges handed on before a truncated answer are correct, each once; the read then fails."""
    (http_server.root / "a.bin").write_bytes(DATA)
    http_server.misbehave("a.bin", truncate_body=True)
    url = http_server.url("a.bin")
    requests = [(url, i * 100_000, (i + 1) * 100_000) for i in range(10)]
    seen: list[int] = []

    def ready(indices: list[int], out: list[bytes]) -> None:
        for i in indices:
            assert bytes(out[i]) == DATA[requests[i][1]:requests[i][2]]
        seen.extend(indices)

    fetcher = Fetcher(options=RemoteOptions(max_workers=1, max_retries=2, backoff_base_s=0.001))
    try:
        with pytest.raises(RemoteReadError, match="truncated|broke off"):
            fetcher.read_many(requests, on_ready=ready)
    finally:
        fetcher.close()
    assert len(seen) == len(set(seen))  # retries re-stream from byte 0 but report nothing twice
    assert set(seen) == set(range(5))  # the server sends half the body each time: 5 whole ranges
    assert len(http_server.requests) == 3


def test_failed_streamed_read_leaves_no_decoded_chunks_behind(http_server: RangeServer) -> None:
    """A tree read that fails mid-stream raises, and a later read returns the right data."""
    path = http_server.root / "gz.lindi.tar"
    data = np.arange(400_000, dtype="<i4").reshape(2000, 200)
    with hdmf_lindi.File(path, "w") as f:
        f.create_dataset("x", data=data, chunks=(50, 200), compression="gzip")
    with hdmf_lindi.File(http_server.url("gz.lindi.tar"), options=RemoteOptions(max_retries=0)) as f:
        ds = f["x"]
        http_server.misbehave("gz.lindi.tar", truncate_body=True)
        with pytest.raises(RemoteReadError):
            ds[...]
        http_server.reset()
        np.testing.assert_array_equal(ds[...], data)
