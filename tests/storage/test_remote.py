"""Remote LINDI files over real HTTP: what an open and a read cost, and how failures surface.

Every test runs against ``http_server`` (``tests/httpserver.py``), a stdlib HTTP server with
byte ranges and switchable faults, and asserts on the server's request log, not only on the
returned bytes. The cases:

* costs: opening a ``.lindi.json`` / ``.lindi.tar`` / ``.lindi.d`` URL, and reading external
  ``[url, offset, length]`` references and internal ``./blobs/...`` references;
* faults x where they hit (open or chunk read): error statuses, an ignored Range, a wrong
  ``Content-Range``, a truncated body, a slow server, a reference past the end of its target;
* policy: remote files are read-only, and a remote document may not read local paths unless
  the caller allows it.
"""

from __future__ import annotations

import json
import logging
import random
import re
import tarfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from httpserver import RangeServer, RequestRecord

from hdmf_lindi.errors import ChunkRefError, ModeError, RemoteReadError
from hdmf_lindi.storage import HttpSource, RemoteOptions, open_container
from hdmf_lindi.storage.containers import INLINE_MAX_BYTES

FAST = RemoteOptions(max_retries=2, backoff_base_s=0.001, backoff_cap_s=0.005)
"""Retries without waiting, so that failure tests stay fast."""
DATA = random.Random(0).randbytes(64 * 1024)
"""Content of ``data.bin``, the target of external references."""
ZGROUP = {"zarr_format": 2}


def payload(n: int, seed: int = 0) -> bytes:
    """Deterministic random bytes."""
    return random.Random(f"{seed}-{n}").randbytes(n)


def write_doc(path: Path, refs: dict[str, Any]) -> None:
    """Write a LINDI JSON document by hand (independently of ``ReferenceMap``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1, "refs": {".zgroup": ZGROUP, **refs}}))


@pytest.fixture
def data_url(http_server: RangeServer) -> str:
    """URL of ``data.bin`` (``DATA``) on the test server."""
    (http_server.root / "data.bin").write_bytes(DATA)
    return http_server.url("data.bin")


@pytest.fixture
def doc_url(http_server: RangeServer, data_url: str) -> str:
    """URL of ``doc.lindi.json``, whose ``x/0`` is ``DATA[100:600]`` and ``x/1`` is ``DATA[5000:8000]``."""
    write_doc(
        http_server.root / "doc.lindi.json",
        {"x/.zattrs": {"a": 1}, "x/0": [data_url, 100, 500], "x/1": [data_url, 5000, 3000]},
    )
    return http_server.url("doc.lindi.json")


def write_local(path: Path, chunks: dict[str, bytes]) -> None:
    """Create a LINDI file of any form with our writer."""
    with open_container(path, "w") as container:
        container.set_metadata("x/.zattrs", {"a": 1})
        for key, data in chunks.items():
            container.store_chunk(key, data)


def blob_range(tar_path: Path, member: str, length: int) -> str:
    """The Range header a read of a whole member must send, found with ``tarfile``."""
    with tarfile.open(tar_path) as tf:
        start = tf.getmember(member).offset_data
    return f"bytes={start}-{start + length - 1}"


# ---------------------------------------------------------------------------------- costs


def test_json_opens_in_one_request_and_each_chunk_costs_one(
    http_server: RangeServer, doc_url: str
) -> None:
    with open_container(doc_url, "r") as container:
        assert http_server.requests == [RequestRecord("GET", "/doc.lindi.json", None, 200)]
        assert json.loads(container.read("x/.zattrs") or b"") == {"a": 1}
        assert len(http_server.requests) == 1  # inline values cost nothing
        assert container.read("x/0") == DATA[100:600]
        assert container.read("x/1") == DATA[5000:8000]
    assert http_server.requests[1:] == [
        RequestRecord("GET", "/data.bin", "bytes=100-599", 206),
        RequestRecord("GET", "/data.bin", "bytes=5000-7999", 206),
    ]


@pytest.mark.parametrize(("max_gap_bytes", "n_requests"), [(1 << 20, 1), (0, 2)])
def test_read_many_merges_ranges_closer_than_max_gap(
    http_server: RangeServer, doc_url: str, max_gap_bytes: int, n_requests: int
) -> None:
    options = RemoteOptions(max_gap_bytes=max_gap_bytes)
    with open_container(doc_url, options=options) as container:
        http_server.reset()
        assert container.read_many(["x/1", "x/0"]) == [DATA[5000:8000], DATA[100:600]]
    assert http_server.paths() == ["/data.bin"] * n_requests


def test_small_tar_opens_in_one_request_and_reads_blobs(http_server: RangeServer) -> None:
    big, small = payload(5000), payload(INLINE_MAX_BYTES - 1)
    path = http_server.root / "x.lindi.tar"
    write_local(path, {"x/0": big, "x/1": small})
    with open_container(http_server.url("x.lindi.tar")) as container:
        assert len(http_server.requests) == 1
        assert container.read("x/1") == small
        assert len(http_server.requests) == 1  # inline
        assert container.read("x/0") == big
    assert http_server.requests[1] == RequestRecord(
        "GET", "/x.lindi.tar", blob_range(path, "blobs/x/0", len(big)), 206
    )


def test_tar_with_lindi_json_past_the_first_mib_opens_in_at_most_three_requests(
    http_server: RangeServer,
) -> None:
    path = http_server.root / "x.lindi.tar"
    chunks = {f"x/{i}": payload(700_000, seed=i) for i in range(3)}  # 2.1 MB of blobs
    write_local(path, chunks)
    with open_container(path, "a") as container:  # appends a new index and lindi.json at the end
        container.store_chunk("x/3", b"late")
    with tarfile.open(path) as tf:
        assert tf.getmember("lindi.json").offset_data > RemoteOptions().initial_read_bytes
    with open_container(http_server.url("x.lindi.tar")) as container:
        assert 2 <= len(http_server.requests) <= 3
        assert all(r.status == 206 for r in http_server.requests)
        http_server.reset()
        assert container.read("x/3") == b"late"
        assert container.read("x/2") == chunks["x/2"]
    assert len(http_server.requests) == 1


@pytest.mark.parametrize("initial_read_bytes", [1024, 4096])
def test_tar_opens_with_a_small_initial_read(http_server: RangeServer, initial_read_bytes: int) -> None:
    path = http_server.root / "x.lindi.tar"
    write_local(path, {"x/0": payload(3000)})
    options = RemoteOptions(initial_read_bytes=initial_read_bytes)
    with open_container(http_server.url("x.lindi.tar"), options=options) as container:
        assert 2 <= len(http_server.requests) <= 3
        assert http_server.requests[0].range == f"bytes=0-{initial_read_bytes - 1}"
        assert container.read("x/0") == payload(3000)


@pytest.mark.parametrize("suffix", ["", "/"])
def test_remote_directory_reads_lindi_json_and_blobs(http_server: RangeServer, suffix: str) -> None:
    big = payload(4000)
    write_local(http_server.root / "x.lindi.d", {"x/0": big, "x/1": b"tiny"})
    with open_container(http_server.url("x.lindi.d") + suffix) as container:
        assert http_server.paths() == ["/x.lindi.d/lindi.json"]
        assert container.read("x/1") == b"tiny"
        assert container.read("x/0") == big
    assert http_server.requests[1] == RequestRecord(
        "GET", "/x.lindi.d/blobs/x/0", f"bytes=0-{len(big) - 1}", 206
    )


@pytest.mark.parametrize("initial_read_bytes", [64, 1 << 20])
def test_json_without_json_suffix_is_sniffed(http_server: RangeServer, doc_url: str, initial_read_bytes: int) -> None:
    (http_server.root / "doc").write_bytes((http_server.root / "doc.lindi.json").read_bytes())
    options = RemoteOptions(initial_read_bytes=initial_read_bytes)
    with open_container(http_server.url("doc"), options=options) as container:
        assert container.read("x/0") == DATA[100:600]
    # 64 bytes: the prefix, then the rest of the document; 1 MiB: the whole document at once.
    expected = 2 if initial_read_bytes == 64 else 1
    assert http_server.paths() == ["/doc"] * expected + ["/data.bin"]


# ------------------------------------------------------------------ ignored Range at open


@pytest.mark.parametrize("name", ["doc", "x.lindi.tar"])
def test_ignored_range_at_open_counts_as_the_whole_file(
    http_server: RangeServer, doc_url: str, name: str
) -> None:
    if name == "doc":
        (http_server.root / "doc").write_bytes((http_server.root / "doc.lindi.json").read_bytes())
    else:
        write_local(http_server.root / name, {"x/0": payload(2000)})
    http_server.misbehave(name, ignore_range=True)
    with open_container(http_server.url(name)) as container:
        assert [(r.range, r.status) for r in http_server.requests] == [("bytes=0-1048575", 200)]
        assert json.loads(container.read("x/.zattrs") or b"") == {"a": 1}


# ---------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "hint"),
    [(401, "needs authentication"), (403, "forbidden"), (404, "does not exist"), (500, "server failed")],
)
@pytest.mark.parametrize("name", ["x.lindi.json", "x.lindi.tar", "x.lindi.d"])
def test_error_status_at_open(http_server: RangeServer, status: int, hint: str, name: str) -> None:
    if status != 404:
        http_server.misbehave(status=status)
    url = http_server.url(name)
    with pytest.raises(RemoteReadError, match=rf"answered {status}\. .*{hint}") as info:
        open_container(url, options=FAST)
    assert info.value.status == status
    assert info.value.url == (url + "/lindi.json" if name.endswith(".d") else url)
    assert info.value.attempts == len(http_server.requests)
    # never retry a 4xx; a 5xx is tried max_retries + 1 times
    assert len(http_server.requests) == (1 if status < 500 else FAST.max_retries + 1)


@pytest.mark.parametrize("status", [403, 404, 500, 503])
def test_error_status_at_chunk_read_is_never_returned_as_data(
    http_server: RangeServer, doc_url: str, data_url: str, status: int
) -> None:
    http_server.misbehave("data.bin", status=status)
    with open_container(doc_url, options=FAST) as container:
        with pytest.raises(RemoteReadError, match=rf"bytes 100-599 of .*data\.bin: the server answered {status}") as info:
            container.read("x/0")
    assert (info.value.url, info.value.status, info.value.byte_range) == (data_url, status, (100, 600))
    assert info.value.attempts == (1 if status < 500 else FAST.max_retries + 1)
    assert len(http_server.paths()) == 1 + info.value.attempts


def test_missing_chunk_target_is_404(http_server: RangeServer, doc_url: str, data_url: str) -> None:
    (http_server.root / "data.bin").unlink()
    with open_container(doc_url) as container, pytest.raises(RemoteReadError, match="answered 404") as info:
        container.read("x/0")
    assert (info.value.status, info.value.url) == (404, data_url)
    assert len(http_server.requests) == 2


def test_ignored_range_at_chunk_read_keeps_the_whole_body(
    http_server: RangeServer, doc_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # python -m http.server answers every ranged GET with 200 and the whole file
    http_server.misbehave("data.bin", ignore_range=True)
    with caplog.at_level(logging.INFO, logger="hdmf_lindi.storage.sources"), open_container(doc_url) as container:
        assert container.read("x/0") == DATA[100:600]
        assert container.read("x/1") == DATA[5000:8000]
        assert container.read_many(["x/1", "x/0"]) == [DATA[5000:8000], DATA[100:600]]
    assert [(r.path, r.status) for r in http_server.requests] == [("/doc.lindi.json", 200), ("/data.bin", 200)]
    assert [r.message for r in caplog.records].count(
        f"{http_server.url('data.bin')}: the server ignores Range requests; keeping its whole "
        "65536-byte body in memory and serving later ranges from it"
    ) == 1


def test_ignored_range_above_the_cap_is_an_error(http_server: RangeServer, doc_url: str) -> None:
    http_server.misbehave("data.bin", ignore_range=True)
    options = replace(FAST, max_ignored_range_bytes=len(DATA) - 1)
    with open_container(doc_url, options=options) as container:
        with pytest.raises(
            RemoteReadError,
            match=r"answered 200 with 65536 bytes \(Range ignored; a whole body is kept only up to "
            r"max_ignored_range_bytes=65535\)",
        ) as info:
            container.read("x/0")
        assert (info.value.status, info.value.byte_range) == (200, (100, 600))
        with pytest.raises(RemoteReadError, match=r"Range ignored"):
            container.read("x/1")  # nothing was kept: every read asks again
    assert http_server.paths().count("/data.bin") == 2


def test_ignored_range_with_a_body_of_another_size_is_an_error(http_server: RangeServer, doc_url: str) -> None:
    with open_container(doc_url) as container:
        assert container.read("x/0") == DATA[100:600]  # a 206 states the size: 65536
        http_server.misbehave("data.bin", ignore_range=True, short_body=True)
        with pytest.raises(RemoteReadError, match=r"answered 200 with 32768 bytes \(Range ignored\)"):
            container.read("x/1")
        http_server.misbehave("data.bin", ignore_range=True, truncate_body=True)
        with pytest.raises(RemoteReadError, match=r"truncated body"):
            container.read("x/1")
        http_server.misbehave("data.bin", ignore_range=True)
        assert container.read("x/1") == DATA[5000:8000]  # a good whole body is then kept


def test_ignored_range_at_blob_read(http_server: RangeServer) -> None:
    chunks = {"x/0": payload(2000), "x/1": payload(3000, seed=1)}
    write_local(http_server.root / "x.lindi.tar", chunks)
    with open_container(http_server.url("x.lindi.tar"), options=FAST) as container:
        http_server.misbehave(ignore_range=True)
        assert container.read("x/0") == chunks["x/0"]
        assert container.read("x/1") == chunks["x/1"]
    assert [r.status for r in http_server.requests] == [206, 200]


@pytest.mark.parametrize("initial_read_bytes", [1 << 20, 1024])
def test_tar_on_a_server_ignoring_range_costs_one_request(
    http_server: RangeServer, tmp_path: Path, initial_read_bytes: int
) -> None:
    chunks = {f"x/{i}": payload(3000, seed=i) for i in range(4)}
    local = tmp_path / "x.lindi.tar"
    write_local(local, chunks)
    (http_server.root / "x.lindi.tar").write_bytes(local.read_bytes())
    http_server.misbehave(ignore_range=True)
    options = RemoteOptions(initial_read_bytes=initial_read_bytes)
    with open_container(http_server.url("x.lindi.tar"), options=options) as container:
        assert container.read_many(list(chunks)) == list(chunks.values())
        with open_container(local, "r") as here:
            assert json.loads(container.read("x/.zattrs") or b"") == json.loads(here.read("x/.zattrs") or b"")
            assert [container.read(k) for k in chunks] == [here.read(k) for k in chunks]
    assert [(r.method, r.status) for r in http_server.requests] == [("GET", 200)]


def test_wrong_content_range_at_chunk_read(http_server: RangeServer, doc_url: str) -> None:
    http_server.misbehave("data.bin", wrong_content_range=True)
    with open_container(doc_url) as container:
        with pytest.raises(RemoteReadError, match=r"Content-Range 'bytes 101-600/65536', which does not match"):
            container.read("x/0")


def test_wrong_content_range_at_open(http_server: RangeServer) -> None:
    write_local(http_server.root / "x.lindi.tar", {"x/0": payload(2000)})
    http_server.misbehave(wrong_content_range=True)
    with pytest.raises(RemoteReadError, match=r"expected 'bytes 0-N/SIZE'"):
        open_container(http_server.url("x.lindi.tar"))


@pytest.mark.parametrize("name", ["doc.lindi.json", "data.bin"])
def test_truncated_body(http_server: RangeServer, doc_url: str, name: str) -> None:
    # A body that breaks off is a broken connection: retried, then reported with the attempts.
    http_server.misbehave(name, truncate_body=True)
    with pytest.raises(RemoteReadError, match=r"truncated body.*Gave up after 3 attempts") as info:
        with open_container(doc_url, options=FAST) as container:
            container.read("x/0")
    assert (info.value.url, info.value.attempts) == (http_server.url(name), 3)
    assert http_server.paths().count("/" + name) == 3


@pytest.mark.parametrize("name", ["x.lindi.tar", "data.bin"])
def test_short_body_with_matching_content_length(
    http_server: RangeServer, doc_url: str, name: str
) -> None:
    write_local(http_server.root / "x.lindi.tar", {"x/0": payload(2000)})
    http_server.misbehave(name, short_body=True)
    url = doc_url if name == "data.bin" else http_server.url(name)
    with pytest.raises(RemoteReadError, match=r"expected \d+ bytes, got \d+ \(truncated response\)") as info:
        with open_container(url) as container:
            container.read("x/0")
    assert (info.value.url, info.value.status) == (http_server.url(name), 206)
    assert len(http_server.requests) == (2 if name == "data.bin" else 1)  # the first bad answer fails


def test_slow_server_times_out(http_server: RangeServer, doc_url: str) -> None:
    http_server.misbehave(latency_s=1.0)
    with pytest.raises(RemoteReadError, match=r"Cannot reach .*doc\.lindi\.json.*timed out") as info:
        open_container(doc_url, options=RemoteOptions(timeout_s=0.1, max_retries=1, backoff_base_s=0.001))
    assert (info.value.status, info.value.attempts) == (None, 2)


@pytest.mark.parametrize(("offset", "length"), [(len(DATA), 10), (len(DATA) + 100, 1), (len(DATA) - 10, 20)])
def test_ref_past_the_end_of_its_target(
    http_server: RangeServer, data_url: str, offset: int, length: int
) -> None:
    write_doc(http_server.root / "doc.lindi.json", {"x/0": [data_url, offset, length]})
    with open_container(http_server.url("doc.lindi.json")) as container:
        with pytest.raises(ChunkRefError, match=r"Cannot read a chunk of .*doc\.lindi\.json: .*past the end") as info:
            container.read("x/0")
    assert info.value.url == data_url


def test_a_failed_request_leaves_the_source_usable(http_server: RangeServer, data_url: str) -> None:
    http_server.misbehave("data.bin", fail_times=1)
    with requests.Session() as session:
        source = HttpSource(data_url, session, RemoteOptions(max_retries=0))
        with pytest.raises(RemoteReadError, match="answered 500"):
            source.read_range(0, 10)
        assert source.read_range(0, 10) == DATA[:10]
        assert source.size() == len(DATA)
    assert [r.status for r in http_server.requests] == [500, 206]


# ---------------------------------------------------------------------------------- policy


@pytest.mark.parametrize("mode", ["r+", "a", "w", "w-", "x"])
def test_remote_files_are_read_only(http_server: RangeServer, doc_url: str, mode: str) -> None:
    with pytest.raises(ModeError, match=rf"Cannot open .* in mode '{re.escape(mode)}': remote files are read-only"):
        open_container(doc_url, mode)
    assert http_server.requests == []


@pytest.mark.parametrize("form", ["absolute", "file://", "relative"])
def test_remote_document_may_not_read_local_paths(
    http_server: RangeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"local secret")
    monkeypatch.chdir(tmp_path)
    target = {"absolute": str(secret), "file://": f"file://{secret}", "relative": "secret.txt"}[form]
    write_doc(http_server.root / "doc.lindi.json", {"x/0": [target, 6, 6]})
    url = http_server.url("doc.lindi.json")
    with open_container(url) as container:
        with pytest.raises(ChunkRefError, match=r"Refusing to read local path .*allow_local_paths=True"):
            container.read("x/0")
    with open_container(url, allow_local_paths=True) as container:
        assert container.read("x/0") == b"secret"
    assert http_server.paths() == ["/doc.lindi.json"] * 2
