"""``pack``: a much-updated ``.lindi.tar`` rewritten as a newly created one, and form conversion.

The fixture ``updated_tar`` is what append-and-switch leaves behind: an index of an HDF5 file
(external references) amended many times, each time rewriting chunks (old blobs stay) and
appending a new index and ``lindi.json`` (old ones become ``.trash``). The archive is checked
around the container, with Python's ``tarfile`` and the raw index.

Matrices:

* ``test_values_equal_after_pack`` -- output form (json, tar, dir): every dataset, attribute
  and link reads back equal, external references stay references.
* ``test_convert_between_forms`` -- source form x output form.
* ``test_corrupt_source`` -- one row per damage: OUT is never created and nothing is left
  beside it.
"""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

import hdmf_lindi
from hdmf_lindi import pack
from hdmf_lindi.errors import ChunkRefError, ModeError, TarLayoutError, UnsupportedError
from hdmf_lindi.storage import open_container
from hdmf_lindi.storage.pack import PackStats
from hdmf_lindi.storage.pack import pack as pack_keys

SUFFIX = {"json": ".lindi.json", "tar": ".lindi.tar", "dir": ".lindi.d"}
UPDATES = 25
CHUNK_ROWS = 10  # x 100 float64 = 8000-byte chunks: blobs in tar/dir


def padded(n: int) -> int:
    return -(-n // 512) * 512


def index_of(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    entry = json.loads(data[512:1536])["index"]
    files: list[dict[str, Any]] = json.loads(data[entry["d"]:entry["d"] + entry["s"]])["files"]
    return files


def snapshot(path: Path) -> dict[str, Any]:
    """Every node of a LINDI file: attributes, and values of datasets (as nested lists)."""
    out: dict[str, Any] = {}
    with hdmf_lindi.File(path) as f:

        def visit(group: hdmf_lindi.Group) -> None:
            out[group.name] = dict(group.attrs)
            for name in group:
                link = group.get(name, getlink=True)
                if isinstance(link, hdmf_lindi.SoftLink):
                    out[f"{group.name}/{name}"] = ("link", link.path)
                    continue
                node = group[name]
                if isinstance(node, hdmf_lindi.Group):
                    visit(node)
                else:
                    value = node[()]
                    value = value.tolist() if isinstance(value, np.ndarray) else value
                    out[node.name] = (dict(node.attrs), node.dtype.str, value)

        visit(f)
    return out


def assert_same(a: Path, b: Path) -> None:
    """Both files hold the same nodes, attributes and values (NaN equal to NaN)."""
    first, second = snapshot(a), snapshot(b)
    assert sorted(first) == sorted(second) and len(first) > 2
    np.testing.assert_equal(first, second)


def raw_refs(path: Path) -> dict[str, Any]:
    with open_container(path) as c:
        return {key: c.refmap.get(key) for key in c.refmap}


@pytest.fixture
def h5_source(tmp_path: Path) -> Path:
    path = tmp_path / "source.h5"
    with h5py.File(path, "w") as f:
        f.attrs["title"] = "indexed"
        f.create_dataset("ext", data=np.arange(40000, dtype="i4").reshape(400, 100), chunks=(100, 100))
    return path


@pytest.fixture
def updated_tar(tmp_path: Path, h5_source: Path) -> Path:
    """An HDF5 index amended UPDATES times: rewritten chunks, new groups, attributes, a link."""
    path = tmp_path / "updated.lindi.tar"
    hdmf_lindi.index_hdf5(h5_source, path)
    rng = np.random.default_rng(0)
    with hdmf_lindi.File(path, "a") as f:
        # 12 chunks along axis 0, so that key order must put 10 and 11 after 9
        f.create_dataset("own/x", data=rng.random((12 * CHUNK_ROWS, 100)), chunks=(CHUNK_ROWS, 100))
        f.create_dataset("own/small", data=np.arange(5, dtype="i2"))
        f["own/alias"] = hdmf_lindi.SoftLink("/own/x")
    for i in range(UPDATES):
        with hdmf_lindi.File(path, "a") as f:
            row = (i % 12) * CHUNK_ROWS
            f["own/x"][row:row + CHUNK_ROWS] = rng.random((CHUNK_ROWS, 100))
            f.attrs["updates"] = i + 1
            if i % 5 == 0:
                f.create_group(f"g{i}").attrs["i"] = i
    return path


def test_updated_tar_shrinks_to_its_live_size(tmp_path: Path, updated_tar: Path) -> None:
    out = tmp_path / "packed.lindi.tar"
    stats = pack(updated_tar, out)
    assert isinstance(stats, PackStats)
    assert stats.bytes_before == updated_tar.stat().st_size
    assert stats.bytes_after == out.stat().st_size
    assert stats.blobs_copied == 12 and stats.bytes_copied == 12 * CHUNK_ROWS * 100 * 8
    assert stats.references_kept == 4  # the 4 chunks of the HDF5 dataset
    live = 12 * (512 + padded(CHUNK_ROWS * 100 * 8))
    # live blobs + lindi's creation layout: entry, index and lindi.json slots, end marker
    layout = (512 + 1024) + (512 + 8192) + (512 + 8192) + 1024
    assert stats.bytes_after == live + layout
    # at least the UPDATES chunks rewritten (their old blobs are dead) were dropped
    assert stats.bytes_before - stats.bytes_after >= UPDATES * (512 + padded(CHUNK_ROWS * 100 * 8))


def test_packed_tar_has_the_creation_layout(tmp_path: Path, updated_tar: Path) -> None:
    with tarfile.open(updated_tar) as tf:
        before = [m.name for m in tf.getmembers()]
    assert any(n.startswith(".trash/") for n in before)
    assert sum(n.startswith("blobs/own/x/") and ".v" in n for n in before) == UPDATES
    out = tmp_path / "packed.lindi.tar"
    pack(updated_tar, out)
    with tarfile.open(out) as tf:
        members = tf.getmembers()
    names = [m.name for m in members]
    blobs = [f"blobs/own/x/{i}.0" for i in range(12)]  # key order: 0.0, 1.0, ..., 10.0, 11.0
    assert names == [".tar_entry.json", ".tar_index.json", "lindi.json", *blobs]
    index = index_of(out)
    assert [(r["n"], r["o"], r["s"]) for r in index] == [(m.name, m.offset, m.size) for m in members]
    assert index[2] == {"n": "lindi.json", "o": 10240, "d": 10752, "s": 8192}
    refs = raw_refs(out)
    assert refs["own/x/3.0"] == ("./blobs/own/x/3.0", 0, 8000)


@pytest.mark.parametrize("form", ["json", "tar", "dir"])
def test_values_equal_after_pack(tmp_path: Path, updated_tar: Path, h5_source: Path, form: str) -> None:
    out = tmp_path / f"packed{SUFFIX[form]}"
    pack(updated_tar, out)
    assert_same(out, updated_tar)
    with hdmf_lindi.File(out) as f:
        assert f.attrs["updates"] == UPDATES
        assert f.container.kind == form
    refs = raw_refs(out)
    assert refs["ext/0.0"] == (str(h5_source), *raw_refs(updated_tar)["ext/0.0"][1:])


def test_relative_local_references_are_rebased(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b" / "deeper").mkdir(parents=True)
    (tmp_path / "a" / "data.bin").write_bytes(np.arange(10, dtype="<i4").tobytes())
    doc = {
        "version": 1,
        "refs": {
            ".zgroup": {"zarr_format": 2},
            "x/.zarray": {
                "zarr_format": 2, "shape": [10], "chunks": [10], "dtype": "<i4", "compressor": None,
                "fill_value": 0, "filters": None, "order": "C",
            },
            "x/.zattrs": {},
            "x/0": ["data.bin", 0, 40],
        },
    }
    src = tmp_path / "a" / "doc.lindi.json"
    src.write_text(json.dumps(doc))
    out = tmp_path / "b" / "deeper" / "doc.lindi.tar"
    stats = pack(src, out)
    assert stats.references_kept == 1
    assert raw_refs(out)["x/0"] == ("../../a/data.bin", 0, 40)
    with hdmf_lindi.File(out) as f:
        np.testing.assert_array_equal(f["x"][...], np.arange(10))


@pytest.mark.parametrize("dst_form", ["json", "tar", "dir"])
@pytest.mark.parametrize("src_form", ["json", "tar", "dir"])
def test_convert_between_forms(tmp_path: Path, src_form: str, dst_form: str) -> None:
    src = tmp_path / f"src{SUFFIX[src_form]}"
    with hdmf_lindi.File(src, "w") as f:
        f.attrs["form"] = src_form
        f.create_dataset("big", data=np.random.default_rng(1).random((300, 10)), chunks=(100, 10))
        f.create_dataset("s", data="text")
    out = tmp_path / f"out{SUFFIX[dst_form]}"
    stats = pack(src, out)
    assert_same(out, src)
    internal = [v for v in raw_refs(out).values() if isinstance(v, tuple)]
    # 3 chunks of 8000 bytes: blobs in tar/dir, inline (base64) in json
    assert len(internal) == (0 if dst_form == "json" else 3)
    assert stats.blobs_copied + stats.inline_copied == 4


def test_existing_output_is_refused_unless_overwrite(tmp_path: Path, updated_tar: Path) -> None:
    out = tmp_path / "out.lindi.tar"
    out.write_bytes(b"precious")
    with pytest.raises(ModeError, match="already exists; refusing to overwrite"):
        pack(updated_tar, out)
    assert out.read_bytes() == b"precious"
    pack(updated_tar, out, overwrite=True)
    assert_same(out, updated_tar)


def test_pack_in_place_is_atomic(tmp_path: Path, updated_tar: Path) -> None:
    expected = snapshot(updated_tar)
    size = updated_tar.stat().st_size
    with open(updated_tar, "rb") as reader:  # a reader that has the old file open keeps it
        stats = pack(updated_tar, updated_tar)
        assert len(reader.read()) == size
    assert stats.bytes_before == size and stats.bytes_after == updated_tar.stat().st_size
    assert size - stats.bytes_after >= UPDATES * (512 + padded(CHUNK_ROWS * 100 * 8))
    np.testing.assert_equal(snapshot(updated_tar), expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source.h5", "updated.lindi.tar"]


@pytest.mark.parametrize("form", ["json", "dir"])
def test_pack_in_place_other_forms(tmp_path: Path, updated_tar: Path, form: str) -> None:
    path = tmp_path / f"f{SUFFIX[form]}"
    pack(updated_tar, path)
    with hdmf_lindi.File(path, "a") as f:  # a rewritten chunk: a dead blob in a .lindi.d
        f["own/x"][:CHUNK_ROWS] = 0.5
    expected = snapshot(path)
    stats = pack(path, path)
    assert stats.bytes_after <= stats.bytes_before
    if form == "dir":
        # the old blobs/own/x/0.0 (8000 bytes), and 3 bytes of lindi.json (".v2")
        assert stats.bytes_before - stats.bytes_after == 8003
        assert (path / "blobs/own/x/0.0").is_file() and not (path / "blobs/own/x/0.0.v2").exists()
    np.testing.assert_equal(snapshot(path), expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["source.h5", "updated.lindi.tar", path.name])


def test_internal_chunks_are_read_in_batches(
    tmp_path: Path, updated_tar: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hdmf_lindi.storage import pack as pack_module

    monkeypatch.setattr(pack_module, "BATCH_BYTES", 20_000)  # 3 chunks of 8000 bytes per batch
    out = tmp_path / "packed.lindi.tar"
    calls: list[tuple[int, int]] = []
    stats = pack(updated_tar, out, progress=lambda n, nbytes: calls.append((n, nbytes)))
    assert stats.blobs_copied == 12
    assert calls == [(3, 24_000), (6, 48_000), (9, 72_000), (12, 96_000)]
    assert [m.name for m in tarfile.open(out)][3:] == [f"blobs/own/x/{i}.0" for i in range(12)]
    assert_same(out, updated_tar)


def test_remote_source(tmp_path: Path, updated_tar: Path, http_server: Any) -> None:
    (http_server.root / "remote.lindi.tar").write_bytes(updated_tar.read_bytes())
    url = http_server.url("remote.lindi.tar")
    out = tmp_path / "local.lindi.tar"
    stats = pack(url, out)
    assert stats.bytes_before is None and stats.source == url
    assert stats.blobs_copied == 12
    assert_same(out, updated_tar)
    gets = [r for r in http_server.requests if r.method == "GET"]
    assert all(r.status == 206 for r in gets) and len(gets) < 12  # chunk reads were merged


def test_failed_in_place_pack_leaves_the_file_untouched(
    tmp_path: Path, updated_tar: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = updated_tar.read_bytes()

    def no_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_replace)
    with pytest.raises(OSError, match="No space left"):
        pack(updated_tar, updated_tar)
    assert updated_tar.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source.h5", "updated.lindi.tar"]


def test_in_place_pack_cannot_change_the_form(tmp_path: Path, updated_tar: Path) -> None:
    misnamed = tmp_path / "misnamed.json"
    updated_tar.rename(misnamed)
    with pytest.raises(ModeError, match="in place: it is a .lindi.tar but its name asks for a .lindi.json"):
        pack(misnamed, misnamed)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:20000])


def _drop_blob_from_index(path: Path) -> None:
    data = bytearray(path.read_bytes())
    entry = json.loads(data[512:1536])["index"]
    index = json.loads(data[entry["d"]:entry["d"] + entry["s"]])
    index["files"] = [r for r in index["files"] if not r["n"].startswith("blobs/own/x/5.0")]
    text = json.dumps(index).encode()
    data[entry["d"]:entry["d"] + entry["s"]] = text + b" " * (entry["s"] - len(text))
    path.write_bytes(bytes(data))


def _garble_entry(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[512:520] = b"garbage!"
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "error", "match"),
    [
        (_truncate, TarLayoutError, "truncated"),
        (_garble_entry, TarLayoutError, "not valid JSON"),
        (_drop_blob_from_index, ChunkRefError, "not in the archive's index"),
    ],
    ids=["truncated", "garbled-entry", "blob-missing"],
)
def test_corrupt_source(
    tmp_path: Path, updated_tar: Path, damage: Any, error: type[Exception], match: str
) -> None:
    damage(updated_tar)
    out = tmp_path / "out" / "packed.lindi.tar"
    out.parent.mkdir()
    with pytest.raises(error, match=match):
        pack(updated_tar, out)
    assert list(out.parent.iterdir()) == []


def test_hdf5_source_is_refused(tmp_path: Path, h5_source: Path) -> None:
    with pytest.raises(UnsupportedError, match="Index it first"):
        pack(h5_source, tmp_path / "x.lindi.tar")
    assert not (tmp_path / "x.lindi.tar").exists()


def test_lindi_sample(tmp_path: Path, lindi_samples: Path) -> None:
    sample = tmp_path / "written.lindi.tar"
    sample.write_bytes((lindi_samples / "written.lindi.tar").read_bytes())
    out = tmp_path / "packed.lindi.tar"
    pack(sample, out)
    assert_same(out, sample)
    with tarfile.open(out) as tf:
        assert [m.name for m in tf.getmembers()][:3] == [".tar_entry.json", ".tar_index.json", "lindi.json"]


def test_large_map_leaves_only_the_two_initial_slots(tmp_path: Path) -> None:
    """A reference map over 8 KiB does not fit lindi's initial slots: it is appended after the
    blobs (as when lindi or hdmf-lindi create such a file) and the two empty initial slots stay
    behind as trash, 17 KiB in all. Everything else is live."""
    src = tmp_path / "many.lindi.tar"
    with hdmf_lindi.File(src, "w") as f:
        for i in range(150):
            f.create_group(f"group_{i:03d}").attrs["description"] = f"group number {i}"
        f.create_dataset("x", data=np.random.default_rng(2).random((3, 1000)), chunks=(1, 1000))
    out = tmp_path / "packed.lindi.tar"
    stats = pack(src, out)
    with tarfile.open(out) as tf:
        names = [m.name for m in tf.getmembers()]
    names = [n.rsplit(".", 1)[0] if n.startswith(".trash/") else n for n in names]  # random suffix
    assert names[:3] == [".tar_entry.json", ".trash/.tar_index.json", ".trash/lindi.json"]
    assert names[3:6] == ["blobs/x/0.0", "blobs/x/1.0", "blobs/x/2.0"]
    index = {r["n"]: r for r in index_of(out)}
    dead = 2 * (512 + 8192)
    live = 1536 + sum(512 + padded(r["s"]) for n, r in index.items() if n != ".tar_entry.json")
    assert stats.bytes_after == live + dead + 1024
    assert_same(out, src)


def test_packed_tar_can_be_updated_again(tmp_path: Path, updated_tar: Path) -> None:
    out = tmp_path / "packed.lindi.tar"
    pack(updated_tar, out)
    with hdmf_lindi.File(out, "a") as f:
        f["own/x"][:CHUNK_ROWS] = 2.0
        f.create_dataset("after_pack", data=np.arange(3000))
    with hdmf_lindi.File(out) as f:
        np.testing.assert_array_equal(f["own/x"][:CHUNK_ROWS], 2.0)
        np.testing.assert_array_equal(f["after_pack"][...], np.arange(3000))
        np.testing.assert_array_equal(f["ext"][...], np.arange(40000).reshape(400, 100))


@pytest.fixture
def features_copy(tmp_path: Path, lindi_samples: Path) -> Path:
    """lindi's sample with chunk references to features.h5 through a template, and an
    _EXTERNAL_ARRAY_LINK attribute to it: both name it by a relative path."""
    for name in ("features.lindi.json", "features.h5"):
        (tmp_path / name).write_bytes((lindi_samples / name).read_bytes())
    return tmp_path / "features.lindi.json"


def test_lindi_features_sample_packed_beside_it(features_copy: Path) -> None:
    out = features_copy.parent / "features.lindi.tar"
    stats = pack(features_copy, out)
    assert stats.references_kept > 0
    assert {v[0] for v in raw_refs(out).values() if isinstance(v, tuple)} == {"features.h5"}
    assert_same(out, features_copy)


def test_relative_chunk_references_rebased_into_a_subdirectory(features_copy: Path) -> None:
    out = features_copy.parent / "sub" / "features.lindi.json"
    out.parent.mkdir()
    pack(features_copy, out)
    assert {v[0] for v in raw_refs(out).values() if isinstance(v, tuple)} == {"../features.h5"}


def _array_link_urls(path: Path) -> list[str]:
    """The ``_EXTERNAL_ARRAY_LINK`` urls of a .lindi.json, as stored."""
    refs = json.loads(path.read_text())["refs"]
    attrs = [json.loads(v) if isinstance(v, str) else v for k, v in refs.items() if k.endswith(".zattrs")]
    return [a["_EXTERNAL_ARRAY_LINK"]["url"] for a in attrs if "_EXTERNAL_ARRAY_LINK" in a]


def test_relative_external_array_link_rebased_into_a_subdirectory(features_copy: Path) -> None:
    out = features_copy.parent / "sub" / "features.lindi.json"
    out.parent.mkdir()
    pack(features_copy, out)
    assert set(_array_link_urls(features_copy)) == {"features.h5"}
    assert set(_array_link_urls(out)) == {"../features.h5"}
    assert_same(out, features_copy)


def test_storage_pack_alone_leaves_attributes_as_they_are(features_copy: Path) -> None:
    # the key-level copy does not know link annotations; hdmf_lindi.pack passes the hook
    out = features_copy.parent / "sub" / "features.lindi.json"
    out.parent.mkdir()
    pack_keys(features_copy, out)
    assert set(_array_link_urls(out)) == {"features.h5"}
    assert {v[0] for v in raw_refs(out).values() if isinstance(v, tuple)} == {"../features.h5"}


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("target.h5", "../target.h5"),
        ("/abs/target.h5", "/abs/target.h5"),
        ("https://example.org/target.h5", "https://example.org/target.h5"),
    ],
    ids=["relative", "absolute", "url"],
)
def test_external_link_file_rebased_into_a_subdirectory(tmp_path: Path, filename: str, expected: str) -> None:
    src = tmp_path / "links.lindi.json"
    with hdmf_lindi.File(src, "w") as f:
        f["ext"] = hdmf_lindi.ExternalLink(filename, "/x")
        f["plain"] = np.arange(3)
    out = tmp_path / "sub" / "links.lindi.tar"
    out.parent.mkdir()
    pack(src, out)
    with hdmf_lindi.File(out) as f:
        link = f.get("ext", getlink=True)
        assert isinstance(link, hdmf_lindi.ExternalLink)
        assert (link.filename, link.path) == (expected, "/x")
        np.testing.assert_array_equal(f["plain"][...], np.arange(3))


def test_chunk_tables_are_carried_over_as_arrays(tmp_path: Path) -> None:
    """A map holding an array's references as a ChunkTable (as a fresh HDF5 index does) keeps
    it as one table, rebased, instead of a million single references. Driven through the copy
    step, since a map read from a file holds no tables yet."""
    from hdmf_lindi.storage.memory_container import MemoryContainer
    from hdmf_lindi.storage.pack import _copy
    from hdmf_lindi.storage.refmap import ChunkTable, ReferenceMap

    n = 1000
    refmap = ReferenceMap({
        ".zgroup": {"zarr_format": 2},
        "x/.zarray": {
            "zarr_format": 2, "shape": [n * 10], "chunks": [10], "dtype": "<i4",
            "compressor": None, "fill_value": 0, "filters": None, "order": "C",
        },
        "x/.zattrs": {},
        "y/.zarray": {
            "zarr_format": 2, "shape": [3], "chunks": [3], "dtype": "<i4",
            "compressor": None, "fill_value": 0, "filters": None, "order": "C",
        },
        "y/0": "base64:" + "AQAAAAIAAAADAAAA",
    })
    offsets = np.arange(n) * 40
    offsets[7] = -1  # a chunk never written
    refmap.set_chunk_table("x", ChunkTable("data.bin", (n,), offsets, np.full(n, 40)))
    src = MemoryContainer(refmap)
    (tmp_path / "sub").mkdir()
    with open_container(tmp_path / "sub" / "out.lindi.tar", "w") as dst:
        counts = _copy(src, dst, str(tmp_path / "sub"), None)
        table = dst.refmap.chunk_table("x")
        assert table is not None and table.url == os.path.relpath(os.path.abspath("data.bin"), tmp_path / "sub")
        np.testing.assert_array_equal(table.offsets, offsets)
        assert counts.kept == n - 1 and counts.inline == 1
        assert dst.refmap.get("y/0") == np.array([1, 2, 3], dtype="<i4").tobytes()
        assert "x/7" not in dst.refmap and dst.refmap.get("x/8") == (table.url, 320, 40)


@pytest.mark.parametrize("src_form", ["json", "tar"])
@pytest.mark.parametrize("dst_form", sorted(SUFFIX))
def test_zarr3_file_packs_to_a_zarr3_file(tmp_path: Path, src_form: str, dst_form: str) -> None:
    """A Zarr v3 file stays a readable Zarr v3 file (pack added a v2 root '.zgroup' beside 'zarr.json':
    the output could not be opened, 'ambiguous')."""
    src = tmp_path / f"src{SUFFIX[src_form]}"
    data = np.arange(3000.0).reshape(300, 10)
    with hdmf_lindi.File(src, "w", dialect="zarr3") as f:
        d = f.create_dataset("g/x", data=data, chunks=(100, 10), compression="gzip")
        d.attrs["bad"] = np.nan  # a bare NaN token: the node is stored as JSON text
        f.create_dataset("s", data=["a", "bc"])
    dst = tmp_path / f"dst{SUFFIX[dst_form]}"
    pack(src, dst)
    with hdmf_lindi.File(dst) as f:
        assert f.dialect == "zarr3"
        np.testing.assert_array_equal(f["g/x"][()], data)
        assert np.isnan(f["g/x"].attrs["bad"])
        assert [s.decode() if isinstance(s, bytes) else s for s in f["s"][()]] == ["a", "bc"]
    assert hdmf_lindi.verify(dst).ok
    if dst_form == "json":
        doc = json.loads(dst.read_text(), parse_constant=_no_constant)  # strict JSON: NaN stays in a text value
        assert ".zgroup" not in doc["refs"] and "zarr.json" in doc["refs"]


def _no_constant(token: str) -> None:
    raise AssertionError(f"bare {token} in the document")
