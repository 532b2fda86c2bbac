"""Source identities: recording, JSON form, comparison rules, probing, and checks on read."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from httpserver import RangeServer

from hdmf_lindi.errors import ChunkRefError, ReferenceMapError, SourceChangedError
from hdmf_lindi.storage import ReferenceMap
from hdmf_lindi.storage.fetcher import Fetcher
from hdmf_lindi.storage.identity import (
    SourceIdentity,
    probe_identity,
    read_identities,
    record_identities,
)


def test_json_round_trip_leaves_out_missing_fields() -> None:
    ident = SourceIdentity(10, etag='"abc"', last_modified="Sat, 05 Dec 2026 18:00:00 GMT")
    assert ident.to_json() == {"size": 10, "etag": '"abc"', "last_modified": "Sat, 05 Dec 2026 18:00:00 GMT"}
    assert SourceIdentity.from_json(ident.to_json()) == ident
    assert SourceIdentity.from_json({"size": 3, "future_field": 1}) == SourceIdentity(3)


@pytest.mark.parametrize("bad", [{}, {"size": -1}, {"size": "3"}, {"size": 3, "etag": 5}, [3], {"size": True}])
def test_from_json_rejects_malformed(bad: object) -> None:
    with pytest.raises(ReferenceMapError):
        SourceIdentity.from_json(bad)


def test_matching_rules() -> None:
    rec = SourceIdentity(10, mtime_ns=5)
    assert rec.matches(SourceIdentity(10))  # missing fields are not compared
    assert rec.differences(SourceIdentity(11)) == ["size"]
    assert rec.differences(SourceIdentity(10, mtime_ns=6)) == ["mtime_ns"]
    remote = SourceIdentity(10, etag='"a"', last_modified="x")
    assert remote.matches(SourceIdentity(10, etag='W/"a"', last_modified="y"))  # ETag wins over the date
    assert remote.differences(SourceIdentity(10, etag='"b"')) == ["etag"]
    assert SourceIdentity(10, last_modified="x").differences(SourceIdentity(10, last_modified="y")) == [
        "last_modified"
    ]


def test_record_and_read_in_refmap() -> None:
    refmap = ReferenceMap({".zgroup": {"zarr_format": 2}}, extra={"hdmf_lindi": {"attributeDtypes": {}}})
    assert read_identities(refmap) == {}
    record_identities(refmap, {"/data/a.h5": SourceIdentity(7, mtime_ns=1)})
    assert refmap.dirty
    again = ReferenceMap.from_json(refmap.to_json())
    assert read_identities(again) == {"/data/a.h5": SourceIdentity(7, mtime_ns=1)}
    assert again.extra["hdmf_lindi"]["attributeDtypes"] == {}  # other extras kept


def test_probe_local_and_remote(tmp_path: Path, http_server: RangeServer) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 100)
    st = os.stat(path)
    assert probe_identity(str(path)) == SourceIdentity(100, mtime_ns=st.st_mtime_ns)
    (http_server.root / "b.bin").write_bytes(b"y" * 50)
    ident = probe_identity(http_server.url("b.bin"))
    assert ident.size == 50 and ident.etag and ident.last_modified
    assert [r.method for r in http_server.requests] == ["HEAD"]


def test_probe_falls_back_to_a_ranged_get(http_server: RangeServer) -> None:
    (http_server.root / "b.bin").write_bytes(b"y" * 50)
    http_server.head_status = 405
    ident = probe_identity(http_server.url("b.bin"))
    assert ident.size == 50 and ident.etag is not None
    assert [(r.method, r.range) for r in http_server.requests] == [("HEAD", None), ("GET", "bytes=0-0")]
    http_server.send_validators = False
    assert probe_identity(http_server.url("b.bin")) == SourceIdentity(50)


def _fetcher_expecting(url: str, identity: SourceIdentity, **kw: object) -> Fetcher:
    fetcher = Fetcher(**kw)  # type: ignore[arg-type]
    fetcher.expect({url: identity})
    return fetcher


def test_local_source_checked_once_at_open(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(bytes(range(100)))
    good = probe_identity(str(path))
    fetcher = _fetcher_expecting(str(path), good)
    assert fetcher.read(str(path), 0, 4) == bytes(range(4))
    fetcher.close()
    path.write_bytes(bytes(range(100, 200)))  # same size, new content
    os.utime(path, ns=(good.mtime_ns + 10**9, good.mtime_ns + 10**9))  # type: ignore[operator]
    fetcher = _fetcher_expecting(str(path), good)
    with pytest.raises(SourceChangedError) as info:
        fetcher.read(str(path), 0, 4)
    assert isinstance(info.value, ChunkRefError)
    assert str(path) in str(info.value) and "mtime_ns" in str(info.value)
    assert info.value.recorded == good and info.value.found.size == 100


def test_remote_source_checked_on_answers_without_extra_requests(http_server: RangeServer) -> None:
    data = np.arange(1000, dtype="u1").tobytes()
    (http_server.root / "c.bin").write_bytes(data)
    url = http_server.url("c.bin")
    good = probe_identity(url)
    http_server.reset()
    fetcher = _fetcher_expecting(url, good)
    assert bytes(fetcher.read(url, 10, 20)) == data[10:20]
    assert len(http_server.requests) == 1
    st = os.stat(http_server.root / "c.bin")
    (http_server.root / "c.bin").write_bytes(data[::-1])  # same size: only the ETag tells
    os.utime(http_server.root / "c.bin", ns=(st.st_mtime_ns + 10**9,) * 2)
    with pytest.raises(SourceChangedError) as info:
        fetcher.read(url, 30, 40)
    assert "etag" in str(info.value) and url in str(info.value)
    (http_server.root / "c.bin").write_bytes(data + b"more")  # a size change, without validators
    http_server.send_validators = False
    with pytest.raises(SourceChangedError, match="size"):
        _fetcher_expecting(url, good).read(url, 0, 4)
