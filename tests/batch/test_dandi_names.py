"""dandi:// names in NWBLindiIO / read_nwb / read_table: resolved through the DANDI API stand-in,
pre-built indexes found in a local folder or under an HTTP base URL, else indexed on open and
cached on disk by blob identity."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dandi_server import DandiServer

from hdmf_lindi.batch import index_dandiset, read_table
from hdmf_lindi.errors import FormatError, ModeError, NodeNotFoundError, UnsupportedError
from hdmf_lindi.nwb import NWBLindiIO, read_nwb
from hdmf_lindi.tree.dandi_open import DandiOptions, open_dandi, parse_dandi_name

UNITS = "sub-00/sub-00_ses-units.nwb"


@pytest.fixture
def archive(dandi_server: DandiServer, corpus: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DandiServer:
    for path in corpus[:4]:
        dandi_server.add_asset(f"{path.parent.name}/{path.name}", path)
    dandi_server.add_asset("sub-98/zarr.nwb", None, zarr=True)
    monkeypatch.setenv("HDMF_LINDI_DANDI_API_URL", dandi_server.api_url)
    monkeypatch.setenv("HDMF_LINDI_INDEX_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HDMF_LINDI_DANDI_INDEXES", raising=False)
    return dandi_server


def _blob_requests(server: DandiServer) -> int:
    return sum(r.path.startswith("/blobs/") for r in server.requests)


def test_open_indexes_then_caches(archive: DandiServer, tmp_path: Path) -> None:
    nwbfile = read_nwb(f"dandi://000001@draft/{UNITS}")
    try:
        assert len(nwbfile.units) == 3 and nwbfile.session_description == "units session 0"
    finally:
        nwbfile.read_io.close()
    assert _blob_requests(archive) > 0
    assert len(list((tmp_path / "cache").rglob("*.lindi.json"))) == 1

    archive.reset()
    with NWBLindiIO(f"dandi://000001@draft/{UNITS}", "r") as io:
        assert io.read().session_description == "units session 0"
    assert [r.path for r in archive.requests] == ["/api/dandisets/000001/versions/draft/assets/"]  # one request

    archive.replace_blob(archive.assets[0], archive.root / archive.blob_path(archive.assets[2].blob or ""))
    with NWBLindiIO(f"dandi://000001/{UNITS}", "r") as io:  # the version resolved: draft
        assert io.read().session_description == "series session 2"  # changed bytes: a new index
    assert len(list((tmp_path / "cache").rglob("*.lindi.json"))) == 2


def test_prebuilt_indexes_local_and_served(archive: DandiServer, tmp_path: Path) -> None:
    bucket = tmp_path / "bucket"
    index_dandiset("000001", bucket, api_url=archive.api_url, max_workers=1)
    dandi = DandiOptions(api_url=archive.api_url, index_locations=(str(tmp_path / "empty"), str(bucket)))
    archive.reset()
    with open_dandi(f"dandi://000001@draft/{UNITS}", dandi=dandi) as f:
        assert f.filename.startswith(str(bucket)) and "units" in f
    assert _blob_requests(archive) == 0

    shutil.copytree(bucket, archive.root / "bucket")
    served = DandiOptions(api_url=archive.api_url, index_locations=(archive.url("nothing"), archive.url("bucket")))
    archive.reset()
    with open_dandi(f"dandi://000001@draft/{UNITS}", dandi=served) as f:
        assert "units" in f
    paths = [r.path for r in archive.requests]
    assert _blob_requests(archive) == 0 and sum(p.startswith("/bucket/") for p in paths) == 1
    assert not (tmp_path / "cache").exists()  # nothing indexed on open

    # an index in the asset's place that was made from another asset is not taken
    first, second = (bucket / "dandisets" / "000001" / "assets" / a.asset_id / "nwb.lindi.json" for a in archive.assets[:2])
    shutil.copyfile(second, first)
    with open_dandi(f"dandi://000001@draft/{UNITS}", dandi=dandi) as f:
        assert not f.filename.startswith(str(bucket))


def test_asset_id_and_read_table(archive: DandiServer) -> None:
    asset = archive.assets[0]
    with open_dandi(f"dandi://{asset.asset_id}") as f:
        assert "units" in f
    names = [f"dandi://000001@draft/{a.path}" for a in archive.assets[:1]]
    frame = read_table(names, "/units")
    assert list(frame["source"].unique()) == names and len(frame) == 3


def test_errors(archive: DandiServer) -> None:
    with pytest.raises(FormatError, match="is not a DANDI name"):
        parse_dandi_name("dandi://17/x.nwb")
    with pytest.raises(NodeNotFoundError, match="has no asset 'sub-00/nope.nwb'"):
        read_nwb("dandi://000001@draft/sub-00/nope.nwb")
    with pytest.raises(UnsupportedError, match="is a Zarr asset"):
        open_dandi("dandi://000001@draft/sub-98/zarr.nwb")
    with pytest.raises(ModeError, match="opens read-only"):
        NWBLindiIO(f"dandi://000001@draft/{UNITS}", "r+")
    with pytest.raises(NodeNotFoundError, match="Asset 00000000-0000-0000-0000-000000000000 not found"):
        open_dandi("dandi://00000000-0000-0000-0000-000000000000")
