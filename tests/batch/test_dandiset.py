"""index_dandiset against a local DANDI API stand-in (paged listing with metadata, redirects)
and bucket (Range + ETag): layout, token only to the API host, faults, resume, changed blobs."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import distributed
import pytest
from dandi_server import DandiServer

import hdmf_lindi
from hdmf_lindi.batch import index_dandiset, index_many, list_assets
from hdmf_lindi.errors import NodeNotFoundError
from hdmf_lindi.hdf5 import IndexOptions
from hdmf_lindi.storage import RemoteOptions

OPTIONS = IndexOptions(remote=RemoteOptions(max_retries=1, backoff_base_s=0.01))


@pytest.fixture
def dandiset(dandi_server: DandiServer, corpus: list[Path], text_file: Path) -> DandiServer:
    """16 NWB assets, a text file named .nwb, a Zarr asset, an asset whose blob is gone, and a
    JSON file the glob leaves out."""
    for path in corpus:
        dandi_server.add_asset(f"{path.parent.name}/{path.name}", path)
    dandi_server.add_asset("sub-97/sub-97_notes.nwb", text_file)
    dandi_server.add_asset("sub-98/sub-98_ses-zarr.nwb", None, zarr=True)
    gone = dandi_server.add_asset("sub-99/sub-99_gone.nwb", corpus[0])
    dandi_server.remove_blob(gone)
    dandi_server.add_asset("dataset_description.json", text_file)
    return dandi_server


def _blob_requests(server: DandiServer) -> list[str]:
    return [r.path for r in server.requests if r.path.startswith("/blobs/")]


def test_index_dandiset_layout_token_and_resume(
    tmp_path: Path, dandiset: DandiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DANDI_API_KEY", "secret-token")
    dandiset.misbehave("api/dandisets/000001/versions/draft/assets/", fail_times=1, fail_status=503)
    out = tmp_path / "bucket"
    with ThreadPoolExecutor(4) as pool:
        records = index_dandiset("000001", out, api_url=dandiset.api_url, executor=pool, options=OPTIONS, page_size=5)
    by_path = {r.extra["asset_path"]: r for r in records}
    assert len(records) == 19 and "dataset_description.json" not in by_path
    assert [r.status for r in records[:16]] == ["ok"] * 16  # path order: sub-00 .. sub-15
    assert by_path["sub-97/sub-97_notes.nwb"].status == "unsupported"
    assert by_path["sub-98/sub-98_ses-zarr.nwb"].status == "unsupported"
    assert by_path["sub-99/sub-99_gone.nwb"].status == "failed"
    assert "404" in str(by_path["sub-99/sub-99_gone.nwb"].error_message)

    api = [r for r in dandiset.requests if r.path.startswith("/api/")]
    listing = [r for r in api if r.path.endswith("/assets/") and r.status == 200]
    assert len(listing) == 4  # 19 assets, 5 a page
    assert all(r.headers.get("Authorization") == "token secret-token" for r in api)
    assert all("Authorization" not in r.headers for r in dandiset.requests if r.path.startswith("/blobs/"))

    first = dandiset.assets[0]
    dest = out / "dandisets" / "000001" / "assets" / first.asset_id / "nwb.lindi.json"
    assert records[0].destination == str(dest)
    doc = json.loads(dest.read_text())
    assert doc["generationMetadata"]["asset_id"] == first.asset_id
    assert doc["generationMetadata"]["source"] == dandiset.blob_url(first.blob or "")
    assert records[0].identity == {"size": first.size, "etag": first.etag}
    with hdmf_lindi.File(str(dest)) as f:
        assert "units" in f

    dandiset.reset()
    dandiset.replace_blob(dandiset.assets[1], Path(dandiset.root / dandiset.blob_path(dandiset.assets[5].blob or "")))
    with ThreadPoolExecutor(4) as pool:
        again = index_dandiset("000001", out, api_url=dandiset.api_url, executor=pool, options=OPTIONS, page_size=5)
    statuses = [r.status for r in again[:16]]
    assert statuses == ["skipped", "ok"] + ["skipped"] * 14
    changed = {dandiset.blob_path(dandiset.assets[1].blob or ""), dandiset.blob_path(dandiset.assets[18].blob or "")}
    changed |= {dandiset.blob_path(dandiset.assets[16].blob or "")}
    assert {p.lstrip("/") for p in _blob_requests(dandiset)} <= changed  # no request for a skipped asset


def test_dask_local_cluster(tmp_path: Path, dandiset: DandiServer) -> None:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
    ) as cluster, distributed.Client(cluster) as client:
        records = index_dandiset(
            "000001", tmp_path / "out", api_url=dandiset.api_url, executor=client.get_executor(),
            options=OPTIONS, glob="sub-0[0-7]/*.nwb",
        )
        # the same cluster by its scheduler address (a client made for the run)
        again = index_many([records[0].url, records[1].url], tmp_path / "by-address",
                           scheduler=cluster.scheduler_address, options=OPTIONS)
    assert [r.status for r in records] == ["ok"] * 8
    assert [r.status for r in again] == ["ok"] * 2


def test_versions_and_missing(tmp_path: Path, dandi_server: DandiServer, corpus: list[Path]) -> None:
    dandi_server.published = "0.260101.0000"
    dandi_server.add_asset("sub-00/a.nwb", corpus[0])
    assets = list(list_assets("000001", "0.260101.0000", api_url=dandi_server.api_url))
    assert [a.path for a in assets] == ["sub-00/a.nwb"] and assets[0].blob_url is not None
    records = index_dandiset("000001", tmp_path, api_url=dandi_server.api_url, max_workers=1)
    assert records[0].extra["version"] == "0.260101.0000"
    with pytest.raises(NodeNotFoundError, match="Dandiset 000002 not found"):
        index_dandiset("000002", tmp_path, api_url=dandi_server.api_url, max_workers=1)
    with pytest.raises(NodeNotFoundError, match="version 9.9 not found"):
        index_dandiset("000001@9.9", tmp_path, api_url=dandi_server.api_url, max_workers=1)
