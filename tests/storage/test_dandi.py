"""DANDI download URLs: presigned URL resolution, renewal, and where the API token goes.

Two real servers stand in for the two hosts: ``api`` answers the download URL with a redirect to
``storage``, which serves the bytes. ``RemoteOptions.dandi_api_hosts`` names ``api``'s address
as a DANDI API host whose token is in ``DANDI_API_KEY``. The request logs of both servers record
every ``Authorization`` header, so the tests can check that the token reached the API host and
never the storage host, including after renewals. Pure helpers (URL patterns, expiry parsing,
the HTTPS rule) are tested with plain values.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from itertools import count

import pytest
from httpserver import RangeServer

from hdmf_lindi.errors import RemoteReadError
from hdmf_lindi.storage import Fetcher, RemoteOptions, open_container
from hdmf_lindi.storage.dandi import api_token, is_download_url, presigned_expiry

DATA = random.Random(2).randbytes(200_000)
ASSET = "api/assets/0123-abcd/download/"
TOKEN = "s3cr3t-token"


def amz_query(n: int, signed_at: float, expires_s: int = 3600) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(signed_at))
    return f"X-Amz-Date={stamp}&X-Amz-Expires={expires_s}&X-Amz-Signature=sig{n}"


@pytest.fixture
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RangeServer]:
    """The DANDI API host."""
    with RangeServer(tmp_path_factory.mktemp("api")) as server:
        yield server


@pytest.fixture
def storage(http_server: RangeServer) -> RangeServer:
    """The storage host, serving ``DATA`` at ``/blobs/data.bin``."""
    (http_server.root / "blobs").mkdir()
    (http_server.root / "blobs" / "data.bin").write_bytes(DATA)
    return http_server


@pytest.fixture
def options(api: RangeServer) -> RemoteOptions:
    return RemoteOptions(
        dandi_api_hosts=((f"127.0.0.1:{api.port}", "DANDI_API_KEY"),),
        max_retries=2, backoff_base_s=0.001, max_gap_bytes=0,
    )


def presign(api: RangeServer, storage: RangeServer, signed_at: list[float]) -> list[str]:
    """Make ``api`` redirect the asset to a new presigned URL each time; return their queries."""
    issued: list[str] = []
    numbers = count(1)

    def location() -> str:
        n = next(numbers)
        issued.append(amz_query(n, signed_at[min(n, len(signed_at)) - 1]))
        return f"{storage.url('blobs/data.bin')}?{issued[-1]}"

    api.redirect(ASSET, location)
    return issued


def authorizations(server: RangeServer) -> list[str | None]:
    return [r.headers.get("Authorization") for r in server.requests]


def test_token_goes_to_the_api_host_only(
    api: RangeServer, storage: RangeServer, options: RemoteOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DANDI_API_KEY", TOKEN)
    presign(api, storage, [time.time()])
    url = api.url(ASSET)
    fetcher = Fetcher(options=options)
    try:
        ranges = [(i * 20_000, i * 20_000 + 500) for i in range(6)]
        out = fetcher.read_many([(url, s, e) for s, e in ranges])
        assert fetcher.read(url, 7, 9) == DATA[7:9]
    finally:
        fetcher.close()
    assert [bytes(b) for b in out] == [DATA[s:e] for s, e in ranges]
    assert [(r.path, r.status) for r in api.requests] == [("/" + ASSET, 302)]  # resolved once
    assert authorizations(api) == [f"token {TOKEN}"]
    assert len(storage.requests) == 7
    assert authorizations(storage) == [None] * 7
    assert all(r.query.endswith("X-Amz-Signature=sig1") for r in storage.requests)


def test_without_a_token_no_authorization_is_sent(
    api: RangeServer, storage: RangeServer, options: RemoteOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DANDI_API_KEY", raising=False)
    presign(api, storage, [time.time()])
    fetcher = Fetcher(options=options)
    try:
        assert fetcher.read(api.url(ASSET), 0, 100) == DATA[:100]
    finally:
        fetcher.close()
    assert authorizations(api) + authorizations(storage) == [None, None]


def test_expired_presigned_url_is_renewed_on_403(
    api: RangeServer, storage: RangeServer, options: RemoteOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DANDI_API_KEY", TOKEN)
    issued = presign(api, storage, [time.time()])
    url = api.url(ASSET)
    fetcher = Fetcher(options=options)
    try:
        assert fetcher.read(url, 0, 10) == DATA[:10]
        storage.misbehave(f"blobs/data.bin?{issued[0]}", status=403)  # the first URL expires
        assert fetcher.read_many([(url, 1000, 1010), (url, 50_000, 50_010)]) == [DATA[1000:1010], DATA[50_000:50_010]]
        assert fetcher.read(url, 20, 30) == DATA[20:30]
    finally:
        fetcher.close()
    assert len(api.requests) == 2  # one renewal, even with two concurrent reads refused
    assert authorizations(api) == [f"token {TOKEN}"] * 2
    assert set(authorizations(storage)) == {None}
    statuses = [(r.query[-4:], r.status) for r in storage.requests]
    assert statuses[0] == ("sig1", 206)
    assert statuses.count(("sig1", 403)) in (1, 2)  # both concurrent reads may see the 403
    assert statuses.count(("sig2", 206)) == 3
    assert len(statuses) == 1 + statuses.count(("sig1", 403)) + 3


def test_presigned_url_close_to_expiry_is_renewed_before_use(
    api: RangeServer, storage: RangeServer, options: RemoteOptions
) -> None:
    presign(api, storage, [time.time() - 3590, time.time()])  # the first has 10 s left: used once
    url = api.url(ASSET)
    fetcher = Fetcher(options=options)
    try:
        for i in range(3):
            assert fetcher.read(url, i, i + 1) == DATA[i:i + 1]
    finally:
        fetcher.close()
    assert len(api.requests) == 2
    assert [r.query[-4:] for r in storage.requests] == ["sig1", "sig2", "sig2"]


def test_refused_by_the_api_names_the_key(api: RangeServer, storage: RangeServer, options: RemoteOptions) -> None:
    api.misbehave(ASSET, status=401)
    fetcher = Fetcher(options=options)
    try:
        with pytest.raises(RemoteReadError, match=r"answered 401\. .*set DANDI_API_KEY") as info:
            fetcher.read(api.url(ASSET), 0, 10)
    finally:
        fetcher.close()
    assert (info.value.url, info.value.status, info.value.attempts) == (api.url(ASSET), 401, 1)
    assert storage.requests == []


def test_api_5xx_during_resolution_is_retried(
    api: RangeServer, storage: RangeServer, options: RemoteOptions
) -> None:
    presign(api, storage, [time.time()])
    api.misbehave(ASSET, fail_times=1, fail_status=502)
    fetcher = Fetcher(options=options)
    try:
        assert fetcher.read(api.url(ASSET), 0, 10) == DATA[:10]
    finally:
        fetcher.close()
    assert [r.status for r in api.requests] == [502, 302]


def test_lindi_document_with_dandi_references(
    api: RangeServer, storage: RangeServer, options: RemoteOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DANDI_API_KEY", TOKEN)
    presign(api, storage, [time.time()])
    refs = {".zgroup": {"zarr_format": 2}, "x/0": [api.url(ASSET), 100, 50], "x/1": [api.url(ASSET), 90_000, 50]}
    (storage.root / "doc.lindi.json").write_text(json.dumps({"version": 1, "refs": refs}))
    with open_container(storage.url("doc.lindi.json"), options=options) as container:
        assert container.read_many(["x/0", "x/1"]) == [DATA[100:150], DATA[90_000:90_050]]
    assert len(api.requests) == 1
    assert authorizations(storage) == [None] * 3  # the document and two ranges


def test_lindi_document_that_is_itself_a_dandi_asset(
    api: RangeServer, storage: RangeServer, options: RemoteOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DANDI_API_KEY", TOKEN)
    refs = {".zgroup": {"zarr_format": 2}, "x/0": [storage.url("blobs/data.bin"), 10, 20]}
    (storage.root / "blobs" / "doc").write_text(json.dumps({"version": 1, "refs": refs}))
    api.redirect(ASSET, lambda: storage.url("blobs/doc") + "?" + amz_query(1, time.time()))
    with open_container(api.url(ASSET), options=options) as container:
        assert container.read("x/0") == DATA[10:30]
    assert [(r.path, r.status) for r in api.requests] == [("/" + ASSET, 302)]
    assert [(r.path, r.status) for r in storage.requests] == [("/blobs/doc", 206), ("/blobs/data.bin", 206)]
    assert authorizations(api) == [f"token {TOKEN}"]
    assert authorizations(storage) == [None, None]


# ------------------------------------------------------------------------------ pure helpers


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.dandiarchive.org/api/assets/abc-123/download/", True),
        ("https://api.dandiarchive.org/api/assets/abc-123/download", True),
        ("https://api.dandiarchive.org/api/dandisets/000123/versions/draft/assets/abc/download/", True),
        ("https://api-staging.dandiarchive.org/api/assets/abc/download/", True),
        ("https://api.sandbox.dandiarchive.org/api/assets/abc/download/", True),
        ("https://api.dandiarchive.org/api/assets/abc/", False),
        ("https://dandiarchive.s3.amazonaws.com/blobs/abc/download/", False),
        ("https://evil.example/api/assets/abc/download/", False),
    ],
)
def test_download_url_pattern(url: str, expected: bool) -> None:
    assert is_download_url(url) is expected


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        ("https://api.dandiarchive.org/api/assets/a/download/", {"DANDI_API_KEY": "k"}, "k"),
        ("http://api.dandiarchive.org/api/assets/a/download/", {"DANDI_API_KEY": "k"}, None),  # never in clear
        ("https://api-staging.dandiarchive.org/api/assets/a/download/", {"DANDI_API_KEY": "k"}, None),
        ("https://api-staging.dandiarchive.org/x", {"DANDI_STAGING_API_KEY": "s"}, "s"),
        ("https://api.sandbox.dandiarchive.org/x", {"DANDI_STAGING_API_KEY": "s"}, "s"),
        ("https://dandiarchive.s3.amazonaws.com/blobs/x", {"DANDI_API_KEY": "k"}, None),
    ],
)
def test_api_token_goes_only_to_api_hosts_over_https(url: str, env: dict[str, str], expected: str | None) -> None:
    assert api_token(url, environ=env) == expected


def test_presigned_expiry() -> None:
    assert presigned_expiry("https://s3/x?X-Amz-Date=20260101T000000Z&X-Amz-Expires=3600&X-Amz-Signature=s") == 1767229200.0
    assert presigned_expiry("https://cdn/x?Expires=1767229200&Signature=s") == 1767229200.0
    assert presigned_expiry("https://s3/x?X-Amz-Date=garbage&X-Amz-Expires=3600") is None
    assert presigned_expiry("https://s3/x") is None
