"""Indexing a DANDI asset URL pins the immutable blob behind it (issue 15, item 4).

Two real servers stand in for DANDI: ``api`` answers the asset download URL with a redirect to
a presigned URL on ``storage`` (S3), which serves the blob with Range and an ETag.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest
from httpserver import RangeServer

from hdmf_lindi import File, IndexOptions, index_hdf5
from hdmf_lindi.errors import RemoteReadError, SourceChangedError
from hdmf_lindi.storage import RemoteOptions, open_container
from hdmf_lindi.storage.identity import read_identities

ASSET = "api/dandisets/000123/versions/draft/assets/0123-abcd/download/"
BLOB = "blobs/abc/def/abcdef-0001"


def _amz() -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return f"X-Amz-Date={stamp}&X-Amz-Expires=3600&X-Amz-Signature=sig"


def _write(path: Path, seed: int) -> np.ndarray:
    values = np.random.default_rng(seed).random((300, 20))
    path.parent.mkdir(parents=True, exist_ok=True)
    st = os.stat(path) if path.exists() else None
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=values, chunks=(100, 20))
    if st is not None:
        os.utime(path, ns=(st.st_mtime_ns + 10**9,) * 2)
    return values


@pytest.fixture
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RangeServer]:
    with RangeServer(tmp_path_factory.mktemp("api")) as server:
        yield server


@pytest.fixture
def storage(http_server: RangeServer, api: RangeServer) -> RangeServer:
    api.redirect("/" + ASSET, lambda: f"{http_server.url(BLOB)}?{_amz()}")
    return http_server


@pytest.fixture
def options(api: RangeServer) -> RemoteOptions:
    return RemoteOptions(dandi_api_hosts=((f"127.0.0.1:{api.port}", "DANDI_API_KEY"),), max_retries=0)


def test_index_pins_the_blob(tmp_path: Path, api: RangeServer, storage: RangeServer, options: RemoteOptions) -> None:
    values = _write(storage.root / BLOB, 1)
    out = tmp_path / "i.lindi.json"
    refmap = index_hdf5(api.url(ASSET), out, options=IndexOptions(remote=options))
    blob_url = storage.url(BLOB)
    assert refmap.generation_metadata["source"] == blob_url
    assert refmap.generation_metadata["dandi"] == {
        "asset_url": api.url(ASSET), "asset_id": "0123-abcd", "dandiset": "000123", "version": "draft",
        "blob_url": blob_url,
    }
    with open_container(out) as c:
        ident = read_identities(c.refmap)
        assert list(ident) == [blob_url] and ident[blob_url].etag is not None
        assert all(c.refmap.get(k).url == blob_url for k in c.refmap if k.startswith("x/") and "." not in k[2:3])
    assert len([r for r in api.requests if r.method == "GET"]) == 1  # one resolution

    api.reset()  # the asset id is dropped: the API answers 404 from now on
    api.requests.clear()
    with File(out, options=options) as f:
        np.testing.assert_array_equal(f["x"][()], values)
    assert api.requests == []  # reading never asks the API

    _write(storage.root / BLOB, 2)  # the blob changes (same layout)
    with File(out, options=options) as f, pytest.raises(SourceChangedError, match="etag"):
        f["x"][:5]


def test_embargoed_blob_keeps_the_asset_url(
    tmp_path: Path, api: RangeServer, storage: RangeServer, options: RemoteOptions
) -> None:
    values = _write(storage.root / BLOB, 1)
    storage.misbehave(BLOB + "?", status=403)  # the bare URL is refused; presigned ones are served
    refmap = index_hdf5(api.url(ASSET), options=IndexOptions(remote=options))
    assert refmap.generation_metadata["source"] == api.url(ASSET)
    assert refmap.generation_metadata["dandi"]["pinned"].startswith("no")
    with File(refmap, options=options) as f:
        np.testing.assert_array_equal(f["x"][()], values)


def test_pinning_off_and_a_dropped_asset_says_so(
    tmp_path: Path, api: RangeServer, storage: RangeServer, options: RemoteOptions
) -> None:
    _write(storage.root / BLOB, 1)
    out = tmp_path / "old.lindi.json"
    refmap = index_hdf5(api.url(ASSET), out, options=IndexOptions(remote=options, pin_dandi_blob=False))
    assert refmap.generation_metadata["source"] == api.url(ASSET)
    api.reset()  # the asset id is dropped
    with File(out, options=options) as f, pytest.raises(RemoteReadError, match="no longer exists") as info:
        f["x"][:5]
    assert info.value.status == 404 and "pin_dandi_blob" in str(info.value)
