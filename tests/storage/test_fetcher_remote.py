"""The fetcher over real HTTP: concurrency, coalescing, retries, and what is never retried.

Every test runs against ``http_server`` (``tests/httpserver.py``) and asserts on its request
log. The cases:

* concurrency: with added latency, N far-apart ranges cost about one round trip, not N; the
  bound ``max_workers`` holds; results come back in request order across several URLs;
* retries (transient failures): 500/503 then OK, 429 with ``Retry-After`` (honoured, or refused
  when too long), connection resets, all counted in ``attempts``;
* never retried: other 4xx, and responses that fail validation (wrong ``Content-Range``, an
  ignored Range, a short body) — one request, an error, and never the wrong bytes;
* timeouts are per read, redirects are followed, a remote ``File`` refuses local paths;
* any batch (hypothesis: overlapping, empty, repeated ranges over two URLs, any gap and worker
  setting) comes back as exactly the requested bytes.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import replace
from pathlib import Path

import pytest
from httpserver import RangeServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hdmf_lindi
from hdmf_lindi.errors import ChunkRefError, RemoteReadError
from hdmf_lindi.storage import Fetcher, RemoteOptions
from hdmf_lindi.storage import fetcher as fetcher_module

DATA = random.Random(1).randbytes(1 << 20)
FAST = RemoteOptions(max_retries=3, backoff_base_s=0.001, backoff_cap_s=0.005, max_gap_bytes=0)
"""Retries without waiting; no merging, so each range is one request."""
LATENCY_S = 0.15


@pytest.fixture
def urls(http_server: RangeServer) -> list[str]:
    """Three copies of ``DATA`` at ``a.bin``, ``b.bin``, ``c.bin``."""
    for name in "abc":
        (http_server.root / f"{name}.bin").write_bytes(DATA)
    return [http_server.url(f"{name}.bin") for name in "abc"]


def far_ranges(n: int) -> list[tuple[int, int]]:
    """``n`` ranges of 1000 bytes, 100 KB apart, in shuffled order."""
    starts = [i * 100_000 for i in range(n)]
    random.Random(n).shuffle(starts)
    return [(s, s + 1000) for s in starts]


# ------------------------------------------------------------------------------ concurrency


@pytest.mark.parametrize(("max_workers", "min_rtts"), [(8, 1), (2, 4)])
def test_far_ranges_run_concurrently_within_the_bound(
    http_server: RangeServer, urls: list[str], max_workers: int, min_rtts: float
) -> None:
    http_server.misbehave(latency_s=LATENCY_S)
    ranges = far_ranges(8)
    fetcher = Fetcher(options=RemoteOptions(max_gap_bytes=0, max_workers=max_workers))
    try:
        fetcher.read(urls[0], 0, 10)  # open a connection first: count only the batch
        http_server.reset()
        http_server.misbehave(latency_s=LATENCY_S)
        began = time.perf_counter()
        out = fetcher.read_many([(urls[0], s, e) for s, e in ranges])
        elapsed = time.perf_counter() - began
    finally:
        fetcher.close()
    assert [bytes(b) for b in out] == [DATA[s:e] for s, e in ranges]
    assert len(http_server.requests) == 8
    # 8 requests at 2 workers take at least four round trips. Concurrency is shown by the
    # connections the server saw (each in-flight request needs its own), not by an upper time
    # bound, which a loaded machine breaks: more than one connection, never more than the bound.
    assert min_rtts * LATENCY_S <= elapsed, elapsed
    connections = {r.client_port for r in http_server.requests}
    assert 2 <= len(connections) <= max_workers, connections


def test_connections_are_pooled_and_reused(http_server: RangeServer, urls: list[str]) -> None:
    fetcher = Fetcher(options=RemoteOptions(max_gap_bytes=0, max_workers=4))
    try:
        for i in range(5):
            assert fetcher.read(urls[i % 3], i, i + 10) == DATA[i:i + 10]
        assert len({r.client_port for r in http_server.requests}) == 1  # one keep-alive connection
        for _ in range(3):
            fetcher.read_many([(urls[0], s, e) for s, e in far_ranges(8)])
    finally:
        fetcher.close()
    assert len(http_server.requests) == 5 + 3 * 8
    assert len({r.client_port for r in http_server.requests}) <= 4  # the pool bound, reused


def test_close_ranges_merge_into_one_request_and_split_back(http_server: RangeServer, urls: list[str]) -> None:
    ranges = [(5000, 6000), (0, 100), (6000, 6001), (3000, 4000), (100, 200)]
    with_local = [(urls[0], s, e) for s, e in ranges]
    fetcher = Fetcher()
    try:
        out = fetcher.read_many(with_local)
    finally:
        fetcher.close()
    assert [bytes(b) for b in out] == [DATA[s:e] for s, e in ranges]
    assert [r.range for r in http_server.requests] == ["bytes=0-6000"]


@pytest.mark.parametrize("max_workers", [1, 3, 8])
def test_a_large_contiguous_batch_is_spread_over_the_workers(
    http_server: RangeServer, urls: list[str], max_workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetcher_module, "SPLIT_MIN_BYTES", 100_000)  # instead of 1 MiB
    ranges = [(i * 100_000, (i + 1) * 100_000) for i in range(10)]  # 1 MB in one run
    fetcher = Fetcher(options=RemoteOptions(max_workers=max_workers))
    try:
        out = fetcher.read_many([(urls[0], s, e) for s, e in ranges])
    finally:
        fetcher.close()
    assert [bytes(b) for b in out] == [DATA[s:e] for s, e in ranges]
    # at most one request per worker, at least half of the workers busy, together exact
    assert max_workers // 2 <= len(http_server.requests) <= max_workers
    served = sorted(tuple(int(x) for x in r.range[6:].split("-")) for r in http_server.requests if r.range)
    assert served[0][0] == 0 and served[-1][1] == 999_999
    assert all(b[0] == a[1] + 1 for a, b in zip(served, served[1:], strict=False))


def test_batch_across_urls_and_a_local_file_keeps_request_order(
    http_server: RangeServer, urls: list[str], tmp_path: Path
) -> None:
    local = tmp_path / "local.bin"
    local.write_bytes(DATA[::-1])
    batch = [(urls[i % 3], i * 1000, i * 1000 + 10) for i in range(9)]
    batch.insert(4, (str(local), 7, 17))
    fetcher = Fetcher(options=RemoteOptions(max_gap_bytes=0))
    try:
        out = fetcher.read_many(batch)
    finally:
        fetcher.close()
    expected = [DATA[s:e] if u.startswith("http") else DATA[::-1][s:e] for u, s, e in batch]
    assert [bytes(b) for b in out] == expected
    assert sorted(http_server.paths()) == ["/a.bin"] * 3 + ["/b.bin"] * 3 + ["/c.bin"] * 3


def test_one_bad_answer_in_a_concurrent_batch_fails_the_batch(http_server: RangeServer, urls: list[str]) -> None:
    http_server.misbehave("b.bin", wrong_content_range=True)
    fetcher = Fetcher(options=FAST)
    try:
        with pytest.raises(RemoteReadError, match=r"b\.bin: the server answered 206 with Content-Range .* does not match") as info:
            fetcher.read_many([(u, 0, 100) for u in urls])
    finally:
        fetcher.close()
    assert (info.value.url, info.value.attempts) == (urls[1], 1)
    assert http_server.paths().count("/b.bin") == 1  # a validation failure is never retried


# ---------------------------------------------------------------------------------- retries


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_transient_status_then_ok_is_retried(http_server: RangeServer, urls: list[str], status: int) -> None:
    http_server.misbehave("a.bin", fail_times=2, fail_status=status)
    fetcher = Fetcher(options=FAST)
    try:
        assert fetcher.read(urls[0], 10, 20) == DATA[10:20]
        source = fetcher.source(urls[0])
        assert (source.requests_made, source.retries) == (3, 2)  # type: ignore[attr-defined]
    finally:
        fetcher.close()
    assert [r.status for r in http_server.requests] == [status, status, 206]


def test_retries_run_out_with_an_error_naming_url_range_status_and_attempts(
    http_server: RangeServer, urls: list[str]
) -> None:
    http_server.misbehave("a.bin", status=503)
    fetcher = Fetcher(options=FAST)
    try:
        with pytest.raises(
            RemoteReadError, match=r"bytes 10-19 of http://.*/a\.bin: the server answered 503\. .*Gave up after 4 attempts"
        ) as info:
            fetcher.read(urls[0], 10, 20)
    finally:
        fetcher.close()
    assert (info.value.url, info.value.status, info.value.byte_range, info.value.attempts) == (urls[0], 503, (10, 20), 4)
    assert len(http_server.requests) == 4


def test_retry_after_is_honoured(http_server: RangeServer, urls: list[str]) -> None:
    http_server.misbehave("a.bin", fail_times=1, fail_status=429, retry_after="1")
    fetcher = Fetcher(options=FAST)
    try:
        began = time.perf_counter()
        assert fetcher.read(urls[0], 0, 10) == DATA[:10]
        assert time.perf_counter() - began >= 1.0  # not the 1 ms backoff
    finally:
        fetcher.close()
    assert [r.status for r in http_server.requests] == [429, 206]


def test_retry_after_longer_than_allowed_fails_at_once(http_server: RangeServer, urls: list[str]) -> None:
    http_server.misbehave("a.bin", status=429, retry_after="120")
    fetcher = Fetcher(options=FAST)
    try:
        with pytest.raises(RemoteReadError, match=r"answered 429.*retry after 120 s, more than max_retry_after_s") as info:
            fetcher.read(urls[0], 0, 10)
    finally:
        fetcher.close()
    assert (info.value.status, info.value.attempts, len(http_server.requests)) == (429, 1, 1)


def test_connection_reset_is_retried(http_server: RangeServer, urls: list[str]) -> None:
    http_server.misbehave("a.bin", reset_times=2)
    fetcher = Fetcher(options=FAST)
    try:
        assert fetcher.read(urls[0], 0, 10) == DATA[:10]
    finally:
        fetcher.close()
    assert [r.status for r in http_server.requests] == [0, 0, 206]


def test_connection_reset_every_time_runs_out(http_server: RangeServer, urls: list[str]) -> None:
    http_server.misbehave("a.bin", reset_times=100)
    fetcher = Fetcher(options=FAST)
    try:
        with pytest.raises(RemoteReadError, match=r"Cannot reach .*a\.bin.*Gave up after 4 attempts") as info:
            fetcher.read(urls[0], 0, 10)
    finally:
        fetcher.close()
    assert (info.value.status, info.value.attempts, len(http_server.requests)) == (None, 4, 4)


# ---------------------------------------------------------------------------- never retried


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_other_4xx_are_never_retried(http_server: RangeServer, urls: list[str], status: int) -> None:
    http_server.misbehave("a.bin", status=status)
    fetcher = Fetcher(options=FAST)
    try:
        with pytest.raises(RemoteReadError, match=rf"answered {status}") as info:
            fetcher.read(urls[0], 0, 10)
    finally:
        fetcher.close()
    assert (info.value.status, info.value.attempts, len(http_server.requests)) == (status, 1, 1)


@pytest.mark.parametrize(
    ("switch", "message"),
    [
        ("wrong_content_range", r"Content-Range 'bytes 101-200/\d+', which does not match"),
        ("ignore_range", r"answered 200 with 1048576 bytes \(Range ignored; a whole body is kept only up to"),
        ("short_body", r"expected 100 bytes, got 50 \(truncated response\)"),
    ],
)
def test_validation_failures_are_never_retried_or_returned(
    http_server: RangeServer, urls: list[str], switch: str, message: str
) -> None:
    http_server.misbehave("a.bin", **{switch: True})
    fetcher = Fetcher(options=replace(FAST, max_ignored_range_bytes=len(DATA) - 1))
    try:
        with pytest.raises(RemoteReadError, match=message) as info:
            fetcher.read_many([(urls[0], 100, 200), (urls[1], 100, 200)])
    finally:
        fetcher.close()
    assert (info.value.url, info.value.attempts) == (urls[0], 1)
    assert http_server.paths().count("/a.bin") == 1


# ---------------------------------------------------------------------------- other switches


def test_timeout_is_per_read_not_per_request(http_server: RangeServer, urls: list[str]) -> None:
    # 160 KB at 400 KB/s takes 0.4 s, in 16 KB pieces 0.04 s apart: a 0.2 s read timeout holds.
    http_server.misbehave("a.bin", bandwidth_bytes_per_s=400_000)
    fetcher = Fetcher(options=RemoteOptions(timeout_s=0.2, max_retries=0))
    try:
        began = time.perf_counter()
        assert fetcher.read(urls[0], 0, 160_000) == DATA[:160_000]
        assert time.perf_counter() - began >= 0.35
    finally:
        fetcher.close()
    assert len(http_server.requests) == 1


def test_redirected_reference_is_followed(http_server: RangeServer, urls: list[str]) -> None:
    http_server.redirect("moved.bin", urls[2])
    fetcher = Fetcher(options=FAST)
    try:
        assert fetcher.read(http_server.url("moved.bin"), 40, 50) == DATA[40:50]
    finally:
        fetcher.close()
    assert [(r.path, r.status) for r in http_server.requests] == [("/moved.bin", 302), ("/c.bin", 206)]


def test_remote_file_refuses_local_paths(http_server: RangeServer, urls: list[str], tmp_path: Path) -> None:
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"\x01\x02\x03\x04")
    zarray = {"zarr_format": 2, "shape": [4], "chunks": [4], "dtype": "|u1", "compressor": None,
              "fill_value": 0, "order": "C", "filters": None}
    doc = {"version": 1, "refs": {".zgroup": {"zarr_format": 2}, "x/.zarray": zarray, "x/0": [str(secret), 0, 4]}}
    (http_server.root / "doc.lindi.json").write_text(json.dumps(doc))
    with hdmf_lindi.File(http_server.url("doc.lindi.json")) as f:
        with pytest.raises(ChunkRefError, match=r"Refusing to read local path .*secret\.bin"):
            f["x"][:]
    with hdmf_lindi.File(http_server.url("doc.lindi.json"), allow_local_paths=True) as f:
        assert f["x"][:].tolist() == [1, 2, 3, 4]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    spans=st.lists(st.tuples(st.integers(0, len(DATA) - 1), st.integers(0, 50_000)), min_size=1, max_size=40),
    max_gap_bytes=st.sampled_from([0, 100, 10_000, 1 << 20]),
    max_workers=st.integers(1, 8),
)
def test_any_batch_returns_exactly_the_requested_bytes(
    http_server: RangeServer, urls: list[str], spans: list[tuple[int, int]], max_gap_bytes: int, max_workers: int
) -> None:
    ranges = [(start, min(start + length, len(DATA))) for start, length in spans]
    fetcher = Fetcher(options=RemoteOptions(max_gap_bytes=max_gap_bytes, max_workers=max_workers))
    try:
        out = fetcher.read_many([(urls[i % 2], s, e) for i, (s, e) in enumerate(ranges)])
    finally:
        fetcher.close()
    assert [bytes(b) for b in out] == [DATA[s:e] for s, e in ranges]


def test_files_opened_one_after_another_reuse_the_connection(http_server: RangeServer) -> None:
    """The HTTP session is process-wide: a second file's requests go out on a warm connection
    (over HTTPS that saves the TCP and TLS handshakes of every open)."""
    import numpy as np

    import hdmf_lindi

    with hdmf_lindi.File(http_server.root / "x.lindi.json", "w") as f:
        f.create_dataset("x", data=np.arange(10))
    http_server.reset()
    for _ in range(3):
        with hdmf_lindi.File(http_server.url("x.lindi.json")) as f:
            assert f["x"][3] == 3
    assert len(http_server.requests) == 3
    assert len({r.client_port for r in http_server.requests}) == 1


def test_fetchers_share_one_bounded_request_pool(
    http_server: RangeServer, urls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second fetcher runs its requests on threads that were running before it (no new thread
    starts), and the pool bound holds across fetchers."""
    import threading

    from hdmf_lindi.storage.sources import HttpSource

    workers: list[set[threading.Thread]] = [set(), set()]
    current: list[set[threading.Thread]] = workers[:1]
    original = HttpSource.read_range

    def recording(self: HttpSource, *args: object, **kwargs: object) -> bytes:
        current[0].add(threading.current_thread())
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(HttpSource, "read_range", recording)
    options = RemoteOptions(max_workers=3, max_gap_bytes=0)
    batch = [(urls[0], i * 100_000, i * 100_000 + 10) for i in range(6)]  # six requests
    running_before: set[threading.Thread] = set()
    for round_ in range(2):
        current[0] = workers[round_]
        running_before = set(threading.enumerate())
        fetcher = Fetcher(options=options)
        try:
            out = fetcher.read_many(batch)
        finally:
            fetcher.close()
        assert [bytes(b) for b in out] == [DATA[s:e] for _, s, e in batch]
    assert threading.current_thread() not in workers[0] | workers[1]
    assert len(workers[0] | workers[1]) <= 3
    assert workers[1] <= running_before  # the second fetcher started no thread


@pytest.mark.parametrize("with_netrc", [True, False])
def test_netrc_credentials_are_used_only_when_a_netrc_exists(
    http_server: RangeServer, urls: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_netrc: bool
) -> None:
    """Without a .netrc the session skips requests' per-request .netrc lookup; with one, its
    credentials still go out as requests would send them."""
    import base64

    from hdmf_lindi.storage.sources import HttpSource, make_session

    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc here
    if with_netrc:
        netrc = tmp_path / "creds"
        netrc.write_text("machine 127.0.0.1 login user password secret\n")
        netrc.chmod(0o600)
        monkeypatch.setenv("NETRC", str(netrc))
    else:
        monkeypatch.delenv("NETRC", raising=False)
    session = make_session(RemoteOptions())
    assert HttpSource(urls[0], session, FAST).read_range(10, 20) == DATA[10:20]
    sent = http_server.requests[-1].headers.get("Authorization")
    if with_netrc:
        assert sent == "Basic " + base64.b64encode(b"user:secret").decode()
    else:
        assert sent is None and session.auth is not None  # the lookup is skipped, nothing sent
