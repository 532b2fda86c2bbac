"""The on-disk chunk cache: repeated remote reads cost no request, damage is a miss, the size
stays bounded, and two processes can hammer one directory without ever reading wrong bytes.

The fetcher cases run over the real test server and count its requests; the cache cases use
``DiskChunkCache`` directly with deterministic payloads, so any torn or misplaced entry shows up
as a byte mismatch.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import random
from pathlib import Path

import pytest
from httpserver import RangeServer

from hdmf_lindi.storage import Fetcher, RemoteOptions
from hdmf_lindi.storage.chunk_cache import DiskChunkCache

DATA = random.Random(3).randbytes(300_000)


@pytest.fixture
def url(http_server: RangeServer) -> str:
    (http_server.root / "data.bin").write_bytes(DATA)
    return http_server.url("data.bin")


def entry_files(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file() and not p.name.endswith(".tmp")]


def test_second_fetcher_reads_from_the_cache(http_server: RangeServer, url: str, tmp_path: Path) -> None:
    options = RemoteOptions(cache_dir=str(tmp_path / "cache"), max_gap_bytes=0)
    ranges = [(i * 10_000, i * 10_000 + 3000) for i in range(10)]
    first = Fetcher(options=options)
    try:
        assert [bytes(b) for b in first.read_many([(url, s, e) for s, e in ranges])] == [DATA[s:e] for s, e in ranges]
    finally:
        first.close()
    assert len(http_server.requests) == 10
    second = Fetcher(options=options)  # a new process would see the same directory
    try:
        # four cached ranges plus one new one: only the new one is requested
        batch = [(url, s, e) for s, e in ranges[:4]] + [(url, 250_000, 250_100)]
        assert [bytes(b) for b in second.read_many(batch)] == [DATA[s:e] for _, s, e in batch]
        assert second.cache is not None
        assert (second.cache.hits, second.cache.misses) == (4, 1)
    finally:
        second.close()
    assert len(http_server.requests) == 11
    assert http_server.requests[-1].range == "bytes=250000-250099"


def test_merged_requests_are_cached_per_requested_range(http_server: RangeServer, url: str, tmp_path: Path) -> None:
    options = RemoteOptions(cache_dir=str(tmp_path / "cache"))
    fetcher = Fetcher(options=options)
    try:
        fetcher.read_many([(url, 0, 100), (url, 200, 300)])  # one merged request
        assert len(http_server.requests) == 1
        assert fetcher.read(url, 200, 300) == DATA[200:300]
        assert fetcher.read(url, 100, 200) == DATA[100:200]  # the gap was not cached
    finally:
        fetcher.close()
    assert len(http_server.requests) == 2
    assert len(entry_files(tmp_path / "cache")) == 3


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "swap"])
def test_damaged_entries_are_misses(http_server: RangeServer, url: str, tmp_path: Path, damage: str) -> None:
    cache = DiskChunkCache(tmp_path / "cache", max_bytes=1 << 20)
    fetcher = Fetcher(cache=cache)
    try:
        fetcher.read(url, 0, 1000)
        fetcher.read(url, 5000, 6000)
        first, second = sorted(entry_files(tmp_path / "cache"), key=lambda p: p.stat().st_mtime_ns)
        blob = first.read_bytes()
        if damage == "flip":
            first.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
        elif damage == "truncate":
            first.write_bytes(blob[:-10])
        elif damage == "empty":
            first.write_bytes(b"")
        else:  # the other key's entry under this key's name
            os.replace(second, first)
        http_server.reset()
        assert fetcher.read(url, 0, 1000) == DATA[:1000]
    finally:
        fetcher.close()
    assert len(http_server.requests) == 1  # refetched, and stored again
    assert cache.get(url, 0, 1000) == DATA[:1000]


def test_size_stays_bounded_and_least_recently_used_go_first(tmp_path: Path) -> None:
    cache = DiskChunkCache(tmp_path, max_bytes=100_000)
    payload = bytes(5000)
    ranges = [(i * 5000, (i + 1) * 5000) for i in range(40)]

    def path(i: int) -> str:
        return cache._path(cache._digest("u", *ranges[i]))

    for i in range(10):
        cache.put("u", *ranges[i], payload)
        os.utime(path(i), (1000 + i, 1000 + i))  # entry 0 oldest, then 1, 2, ...
    assert cache.get("u", *ranges[0]) == payload  # a hit makes entry 0 the most recent
    saw_eviction = False
    for i in range(10, 40):
        cache.put("u", *ranges[i], payload)
        assert cache.size_bytes() <= 100_000
        if not saw_eviction and not os.path.exists(path(1)):
            saw_eviction = True
            assert os.path.exists(path(0))  # refreshed by the hit: outlives older entries
    assert saw_eviction
    assert cache.get("u", *ranges[39]) == payload  # the newest survived
    cache.put("u", 0, 20_000, bytes(20_000))  # larger than a tenth of the bound: not stored
    assert cache.get("u", 0, 20_000) is None


def _payload(key: int) -> bytes:
    return hashlib.sha256(str(key).encode()).digest() * (30 + key * 7)


def _hammer(directory: str, seed: int, rounds: int, queue: multiprocessing.Queue[tuple[int, int, int]]) -> None:
    cache = DiskChunkCache(directory, max_bytes=60_000)
    rng = random.Random(seed)
    wrong = 0
    for _ in range(rounds):
        key = rng.randrange(40)
        data = _payload(key)
        got = cache.get("http://x/data", key, key + len(data))
        if got is None:
            cache.put("http://x/data", key, key + len(data), data)
        elif got != data:
            wrong += 1
    queue.put((wrong, cache.hits, cache.misses))


def test_two_processes_hammering_one_directory(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[tuple[int, int, int]] = ctx.Queue()
    procs = [ctx.Process(target=_hammer, args=(str(tmp_path), seed, 1500, queue)) for seed in (1, 2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert [wrong for wrong, _, _ in results] == [0, 0]
    assert all(hits > 0 and misses > 0 for _, hits, misses in results)  # both shared and evicted
    # each process re-measures after writing a tenth of the bound: overshoot stays small
    assert DiskChunkCache(tmp_path, max_bytes=60_000).size_bytes() <= 60_000 * 1.25
    assert not list(tmp_path.rglob("*.tmp"))


def test_file_option_caches_chunks_across_opens(http_server: RangeServer, url: str, tmp_path: Path) -> None:
    import json

    import hdmf_lindi

    zarray = {"zarr_format": 2, "shape": [3000], "chunks": [1000], "dtype": "|u1", "compressor": None,
              "fill_value": 0, "order": "C", "filters": None}
    refs = {".zgroup": {"zarr_format": 2}, "x/.zarray": zarray}
    refs.update({f"x/{i}": [url, 50_000 * i, 1000] for i in range(3)})
    (http_server.root / "doc.lindi.json").write_text(json.dumps({"version": 1, "refs": refs}))
    options = RemoteOptions(cache_dir=str(tmp_path / "cache"))
    expected = list(DATA[0:1000] + DATA[50_000:51_000] + DATA[100_000:101_000])
    for _ in range(2):
        with hdmf_lindi.File(http_server.url("doc.lindi.json"), options=options) as f:
            assert f["x"][:].tolist() == expected
    # two opens of the document; the three chunks were fetched (in one merged request) by the
    # first read only
    assert http_server.paths() == ["/doc.lindi.json", "/data.bin", "/doc.lindi.json"]
