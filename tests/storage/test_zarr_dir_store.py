"""Zarr directory stores as a container: metadata, chunk files, errors (local and over HTTP).

The stores are written here by zarr 3 (installed in our environment) with ``zarr.storage.LocalStore``,
so every document and chunk file is the real thing; chunk bytes are compared with the files.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import zarr
from httpserver import RangeServer

from hdmf_lindi.errors import (
    FormatError,
    LindiWarning,
    MissingFileError,
    ModeError,
    RemoteReadError,
    UnsupportedError,
)
from hdmf_lindi.storage.containers import open_container
from hdmf_lindi.storage.zarr_dir_container import ZarrDirContainer


def _make_store(path: Path, *, consolidated: bool = True, sharded: bool = False) -> Path:
    root = zarr.open_group(zarr.storage.LocalStore(str(path)), mode="w", zarr_format=3)
    root.attrs["title"] = "t\u00e9st"
    g = root.create_group("g")
    a = g.create_array("a", shape=(10, 6), chunks=(4, 3), dtype="int16", fill_value=-1)
    a[:8, :] = np.arange(48, dtype="int16").reshape(8, 6)  # the last chunk row stays unwritten
    s = root.create_array("s", shape=(), dtype="float64", fill_value=0.0)
    s[()] = 2.5
    root.create_array("zero", shape=(), dtype="float64", fill_value=0.0)  # equals fill: no chunk
    root.create_group("empty")
    txt = root.create_array("txt", shape=(3,), dtype=str, chunks=(2,))
    txt[:] = np.array(["a", "h\u00e9", "ccc"], dtype=object)
    if sharded:
        h = root.create_array("h", shape=(8,), chunks=(2,), shards=(4,), dtype="int32")
        h[:] = np.arange(8, dtype="int32")
    if consolidated:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "not part of the v3 specification" (it is zarr-python's)
            zarr.consolidate_metadata(zarr.storage.LocalStore(str(path)))
    return path


def _files(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}


@pytest.mark.parametrize("consolidated", [True, False])
def test_local_metadata_and_chunks(tmp_path: Path, consolidated: bool) -> None:
    store = _make_store(tmp_path / "s.zarr", consolidated=consolidated, sharded=True)
    files = _files(store)
    with open_container(store) as c:
        assert isinstance(c, ZarrDirContainer) and c.kind == "zarr" and c.dialect == "zarr3"
        assert c.reader.consolidated is consolidated
        docs = {k: json.loads(v) for k, v in files.items() if k.endswith("zarr.json")}
        assert set(c.reader.metadata) == set(docs)
        for key, doc in docs.items():
            if key != "zarr.json":
                got = dict(c.reader.metadata[key])
                got.pop("consolidated_metadata", None)
                doc.pop("consolidated_metadata", None)
                assert got == doc, key
        assert c.store_key("g/a/1.0") == "g/a/c/1/0"
        assert c.store_key("s/0") == "s/c"
        assert c.store_key("h/1") == "h/c/1"  # sharded: the model's chunk is the shard
        assert c.store_key("g/a/1") is None and c.store_key("g/a/x.0") is None and c.store_key("g/0") is None
        keys = ["g/a/0.0", "g/a/1.1", "g/a/2.1", "s/0", "zero/0", "h/1"]
        got = c.read_many(keys)
        assert got[0] == files["g/a/c/0/0"] and got[1] == files["g/a/c/1/1"]
        assert got[2] is None  # never written: the fill value
        assert got[3] == files["s/c"] and got[4] is None
        assert got[5] == files["h/c/1"]
        ready: list[int] = []
        c.read_many(keys, on_ready=lambda idx, out: ready.extend(idx))
        assert sorted(ready) == list(range(len(keys)))


def test_http_consolidated_is_one_request(http_server: RangeServer) -> None:
    store = _make_store(http_server.root / "s.nwb.zarr")
    files = _files(store)
    for url in (http_server.url("s.nwb.zarr"), http_server.url("s.nwb.zarr/"), http_server.url("s.nwb.zarr/zarr.json")):
        http_server.reset()
        with open_container(url) as c:
            assert isinstance(c, ZarrDirContainer) and c.location == http_server.url("s.nwb.zarr")
            assert http_server.paths() == ["/s.nwb.zarr/zarr.json"]
            assert len(c.reader.metadata) == sum(k.endswith("zarr.json") for k in files)
            got = c.read_many(["g/a/0.0", "g/a/0.1", "g/a/2.0", "s/0"])
            assert got[0] == files["g/a/c/0/0"] and got[1] == files["g/a/c/0/1"]
            assert got[2] is None and got[3] == files["s/c"]
            assert c.stats.requests == 6  # the open, 3 chunk files, and both scalars (fetched together)


def test_http_errors(http_server: RangeServer) -> None:
    _make_store(http_server.root / "s.zarr")
    with open_container(http_server.url("s.zarr")) as c:
        http_server.misbehave("s.zarr/g/a/c/0/0", status=403)
        with pytest.raises(RemoteReadError, match="403"):
            c.read_many(["g/a/0.0", "g/a/0.1"])
    http_server.reset()
    with pytest.raises(MissingFileError, match="neither zarr.json nor .zgroup"):
        open_container(http_server.url("missing.zarr"))
    with pytest.raises(ModeError, match="does not write"):
        open_container(http_server.url("s.zarr"), "a")


def test_http_without_consolidated_metadata(http_server: RangeServer) -> None:
    _make_store(http_server.root / "s.zarr", consolidated=False)
    with pytest.raises(UnsupportedError, match="consolidate"):
        open_container(http_server.url("s.zarr"))
    assert http_server.paths() == ["/s.zarr/zarr.json"]


def test_local_errors(tmp_path: Path) -> None:
    store = _make_store(tmp_path / "s.zarr", consolidated=False)
    with pytest.raises(ModeError, match="does not write.*convert it to a LINDI file"):
        open_container(store, "r+")
    with open_container(store) as c, pytest.raises(ModeError, match="does not write"):
        c.store_chunk("g/a/0.0", b"x")
    bad = tmp_path / "bad.zarr"
    shutil.copytree(store, bad)
    (bad / "g" / "zarr.json").write_text("{not json")
    with pytest.raises(FormatError, match="not a valid JSON"):
        open_container(bad)
    (bad / "g" / "zarr.json").write_text("[1, 2]")
    with pytest.raises(FormatError, match="JSON object"):
        open_container(bad)
    (bad / "zarr.json").write_text(json.dumps({"zarr_format": 3, "node_type": "array"}))
    with pytest.raises(FormatError, match="not the root group"):
        open_container(bad)
    (bad / "g" / "a" / "c" / "0" / "0").unlink()
    (bad / "g" / "a" / "c" / "0" / "0").mkdir()
    (bad / "zarr.json").write_bytes((store / "zarr.json").read_bytes())
    (bad / "g" / "zarr.json").write_bytes((store / "g" / "zarr.json").read_bytes())
    with open_container(bad) as c, pytest.raises(FormatError, match="folder"):
        c.read_many(["g/a/0.0"])


def test_nan_tokens_and_v2_encoding(tmp_path: Path) -> None:
    """Bare NaN/Infinity tokens (zarr-python's non-strict JSON) parse; the v2 chunk key
    encoding maps to ``i.j`` file names."""
    path = tmp_path / "n.zarr"
    root = zarr.open_group(zarr.storage.LocalStore(str(path)), mode="w", zarr_format=3)
    root.attrs["rate"] = float("nan")
    a = root.create_array("a", shape=(4, 4), chunks=(2, 2), dtype="uint8", chunk_key_encoding={"name": "v2", "separator": "."})
    a[:] = 7
    d = root.create_array("d", shape=(4, 4), chunks=(2, 2), dtype="uint8", chunk_key_encoding={"name": "default", "separator": "."})
    d[:2] = 1
    assert "NaN" in (path / "zarr.json").read_text()
    with open_container(path) as c:
        assert np.isnan(c.reader.metadata["zarr.json"]["attributes"]["rate"])
        assert c.store_key("a/1.0") == "a/1.0"
        assert c.read_many(["a/1.0"])[0] == (path / "a" / "1.0").read_bytes()
        assert c.store_key("d/0.1") == "d/c.0.1"
        assert c.read_many(["d/0.1"])[0] == (path / "d" / "c.0.1").read_bytes()
        assert c.unlisted_chunk_keys("d") == ["d/0.0", "d/0.1"]
        assert c.unlisted_chunk_keys("a") == ["a/0.0", "a/0.1", "a/1.0", "a/1.1"]


def test_http_scalars_are_fetched_together(http_server: RangeServer) -> None:
    """The first scalar read over HTTP fetches every 0-d array's chunk at once (but not the
    specifications cache); later scalar reads cost nothing."""
    store = _make_store(http_server.root / "s.zarr", consolidated=False)
    root = zarr.open_group(zarr.storage.LocalStore(str(store)), mode="a", zarr_format=3)
    root.attrs[".specloc"] = "specifications"
    spec = root.create_group("specifications").create_array("ns", shape=(), dtype="float64", fill_value=0.0)
    spec[()] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.consolidate_metadata(zarr.storage.LocalStore(str(store)))
    with open_container(http_server.url("s.zarr")) as c:
        http_server.reset()
        assert c.read_many(["s/0"])[0] == (store / "s" / "c").read_bytes()
        assert sorted(http_server.paths()) == ["/s.zarr/s/c", "/s.zarr/zero/c"]
        assert c.read_many(["zero/0", "s/0", "g/a/0.0"])[:2] == [None, (store / "s" / "c").read_bytes()]
        assert sorted(http_server.paths()) == ["/s.zarr/g/a/c/0/0", "/s.zarr/s/c", "/s.zarr/zero/c"]
        assert c.read_many(["specifications/ns/0"])[0] == (store / "specifications" / "ns" / "c").read_bytes()
        assert len(http_server.paths()) == 4


def test_external_link_between_stores(http_server: RangeServer) -> None:
    """A ``_LINKS`` entry whose source is another store (relative to this store's folder, as
    hdmf-zarr writes it) opens that store, locally and over HTTP."""
    import hdmf_lindi

    other = zarr.open_group(zarr.storage.LocalStore(str(http_server.root / "b.zarr")), mode="w", zarr_format=3)
    other.create_group("t").create_array("x", shape=(4,), dtype="int32")[:] = [1, 2, 3, 4]
    main = zarr.open_group(zarr.storage.LocalStore(str(http_server.root / "a.zarr")), mode="w", zarr_format=3)
    main.create_group("g").attrs["_LINKS"] = [{"name": "ext", "source": "../b.zarr", "path": "/t/x"}]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.consolidate_metadata(zarr.storage.LocalStore(str(http_server.root / "a.zarr")))
        zarr.consolidate_metadata(zarr.storage.LocalStore(str(http_server.root / "b.zarr")))
    for location in (str(http_server.root / "a.zarr"), http_server.url("a.zarr")):
        with hdmf_lindi.File(location) as f:
            assert f["g"].get("ext", getlink=True).path == "/t/x"
            np.testing.assert_array_equal(f["g/ext"][:], [1, 2, 3, 4])
    assert "/b.zarr/zarr.json" in http_server.paths()


def test_cli_info_of_a_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hdmf_lindi.cli import main

    store = _make_store(tmp_path / "s.zarr")
    assert main(["info", str(store)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{store} (zarr, ")
    assert "    a: (10, 6) int16 chunks (4, 3) zstd [chunk files of the store]" in lines


@pytest.mark.parametrize("remote", [False, True])
def test_copies_carry_the_chunk_files(tmp_path: Path, http_server: RangeServer, remote: bool) -> None:
    """A copy out of a store (Group.copy; hdmf-lindi convert goes the same way) carries the
    chunk files the map does not list, as bytes; absent chunks stay absent (the fill value)."""
    import hdmf_lindi

    store = _make_store(http_server.root / "s.zarr", sharded=True)
    with hdmf_lindi.File(http_server.url("s.zarr") if remote else store) as src:
        assert sorted(src.container.unlisted_chunk_keys("g/a")) == (
            [f"g/a/{i}.{j}" for i in range(3) for j in range(2)] if remote
            else [f"g/a/{i}.{j}" for i in range(2) for j in range(2)]  # row 2 was never written
        )
        with hdmf_lindi.File(tmp_path / "copy.lindi.tar", "w") as dst, pytest.warns(LindiWarning, match="'zstd'"):
            for name in ("g", "s", "zero", "h", "txt"):
                dst.copy(src[name], dst, name)  # zarr 3's default zstd chunks, which lindi cannot read
        with hdmf_lindi.File(tmp_path / "copy.lindi.tar") as out:
            for name in ("g/a", "s", "zero", "h", "txt"):
                np.testing.assert_array_equal(out[name][()], src[name][()])
            assert out["g/a"][9, 0] == -1
            assert list(out["txt"][()]) == ["a", "h\u00e9", "ccc"]
            # strings and shards read through model-only codecs are stored decoded
            assert not any("hdmf_lindi." in json.dumps(out.container.refmap.get_json(k))
                           for k in out.container.refmap.keys() if k.endswith(".zarray"))


def test_zarr2_stores(http_server: RangeServer) -> None:
    """Zarr v2 directory stores (the form of hdmf-zarr <= 0.13): the local walk, ``.zmetadata``
    (one more request over HTTP: the ``zarr.json`` probe), both chunk key separators."""
    path = http_server.root / "v2.zarr"
    root = zarr.open_group(zarr.storage.LocalStore(str(path)), mode="w", zarr_format=2)
    dot = root.create_array("dot", shape=(4, 4), chunks=(2, 2), dtype="<i4", fill_value=0)
    dot[:] = np.arange(16).reshape(4, 4)
    slash = root.create_group("g").create_array(
        "slash", shape=(4,), chunks=(2,), dtype="<f8", chunk_key_encoding={"name": "v2", "separator": "/"}
    )
    slash[:2] = [1.5, 2.5]
    assert (path / "dot" / "1.0").is_file() and (path / "g" / "slash" / "0").is_file()
    with open_container(path) as c:
        assert c.dialect == "zarr2" and not c.reader.consolidated
        assert {".zgroup", "dot/.zarray", "g/.zgroup", "g/slash/.zarray"} <= set(c.reader.metadata)
        assert c.read_many(["dot/1.0", "g/slash/0", "g/slash/1"])[:2] == [
            (path / "dot" / "1.0").read_bytes(), (path / "g" / "slash" / "0").read_bytes()
        ]
        assert c.unlisted_chunk_keys("dot") == ["dot/0.0", "dot/0.1", "dot/1.0", "dot/1.1"]
    with pytest.raises(UnsupportedError, match=r"\.zmetadata"):
        open_container(http_server.url("v2.zarr"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.consolidate_metadata(zarr.storage.LocalStore(str(path)))
    http_server.reset()
    with open_container(http_server.url("v2.zarr")) as c:
        assert c.reader.consolidated and http_server.paths() == ["/v2.zarr/zarr.json", "/v2.zarr/.zmetadata"]
        assert c.read_many(["dot/0.1"])[0] == (path / "dot" / "0.1").read_bytes()


def test_folder_urls_are_stores(http_server: RangeServer) -> None:
    """A URL ending in ``/`` that is no LINDI document is tried as a store folder (DANDI
    addresses Zarr assets so); ``.lindi.d/`` stays a LINDI directory."""
    _make_store(http_server.root / "zarr" / "abc-123")
    with open_container(http_server.url("zarr/abc-123/")) as c:
        assert isinstance(c, ZarrDirContainer) and c.location == http_server.url("zarr/abc-123")
    assert http_server.paths() == ["/zarr/abc-123/", "/zarr/abc-123/zarr.json"]
    with pytest.raises(RemoteReadError, match="404"):  # neither: the document's own error
        open_container(http_server.url("zarr/"))
    import hdmf_lindi

    with hdmf_lindi.File(http_server.root / "x.lindi.d", "w") as f:
        f.create_dataset("a", data=[1, 2, 3])
    with open_container(http_server.url("x.lindi.d/")) as c:
        assert c.kind == "dir"


def test_pack_refuses_a_store_and_names_convert(tmp_path: Path) -> None:
    """pack copied none of a store's chunk files (they are not keys) and wrote a file of empty arrays."""
    from hdmf_lindi import pack

    store = _make_store(tmp_path / "s.zarr")
    out = tmp_path / "o.lindi.tar"
    with pytest.raises(UnsupportedError, match="Zarr directory store.*[Cc]onvert"):
        pack(store, out)
    assert not out.exists()


def test_folder_url_that_is_neither_says_both(http_server: RangeServer) -> None:
    """A folder URL answering an HTML listing (python -m http.server) was reported only as 'not a LINDI file'."""
    (http_server.root / "listing.html").write_text("<!DOCTYPE HTML>\n<html>a listing</html>")
    http_server.redirect("session/", http_server.url("listing.html"))
    with pytest.raises(FormatError, match=r"not a LINDI file.*nor is it a Zarr directory store.*zarr\.json"):
        open_container(http_server.url("session/"))


def test_store_url_without_slash_names_how_stores_are_addressed(http_server: RangeServer) -> None:
    """``http://host/sess`` (python -m http.server redirects it to ``sess/``, an HTML listing)
    said only 'not a LINDI file'."""
    _make_store(http_server.root / "sess")
    (http_server.root / "listing.html").write_text("<!DOCTYPE HTML>\n<html>a listing</html>")
    http_server.redirect("sess", http_server.url("listing.html"), status=301)
    with pytest.raises(FormatError, match=r"not a LINDI file.*URL ending in '\.zarr' or '/' \(e\.g\. .*/sess/\)"):
        open_container(http_server.url("sess"))
    with open_container(http_server.url("sess/")) as c:  # as the message says
        assert isinstance(c, ZarrDirContainer)
    (http_server.root / "page.lindi.json").write_text("<html>not json</html>")
    with pytest.raises(FormatError) as info:  # a LINDI file's name: no store hint
        open_container(http_server.url("page.lindi.json"))
    assert "not a LINDI file" in str(info.value) and ".zarr" not in str(info.value)


def test_copying_zstd_chunks_into_lindi_v2_warns_that_lindi_cannot_read_them(tmp_path: Path) -> None:
    """zarr 3's (and hdmf-zarr's) default zstd chunks were copied into LINDI v2 silently; lindi 0.4.6
    zero-pads compressed chunks and then fails on every one ('Zstd decompression error: Src size is incorrect')."""
    from hdmf_lindi import File
    from hdmf_lindi.errors import LindiWarning

    store = _make_store(tmp_path / "s.zarr")
    with File(store) as src:
        with File(tmp_path / "v2.lindi.json", "w") as dst, pytest.warns(LindiWarning, match="'zstd'.*lindi 0.4.6"):
            src.copy("g/a", dst, "a")
        with File(tmp_path / "v3.lindi.json", "w", dialect="zarr3") as dst, warnings.catch_warnings():
            warnings.simplefilter("error", LindiWarning)
            src.copy("g/a", dst, "a")
    with File(tmp_path / "v2.lindi.json") as f:
        assert f["a"][:8].tolist() == np.arange(48, dtype="int16").reshape(8, 6).tolist()
