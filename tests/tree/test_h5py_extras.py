"""h5py calls beyond the basics: ``copy``, ``move``, h5py's own link objects, ``attrs.modify``,
``astype`` and ``iter_chunks``.

Where h5py defines the behaviour, the same steps run on an ``.h5`` file and the two results are
compared; each test runs once per container kind (json / tar / dir).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

import hdmf_lindi
from hdmf_lindi import File, SoftLink
from hdmf_lindi.errors import (
    ChunkRefError,
    ModeError,
    NodeExistsError,
    NodeNotFoundError,
    UnsupportedError,
)

KINDS = {"json": "f.lindi.json", "tar": "f.lindi.tar", "dir": "f.lindi.d"}
DATA = np.arange(1000, dtype=np.int32).reshape(100, 10)


@pytest.fixture(params=list(KINDS))
def path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A not-yet-existing LINDI path of each container kind."""
    return tmp_path / KINDS[request.param]


def build(f: Any, soft_link: Any) -> None:
    """The same tree in h5py or hdmf_lindi: nested groups, chunked gzip data, attributes, links."""
    a = f.create_group("a")
    a.attrs["level"] = np.int16(1)
    a.attrs["names"] = ["x", "y"]
    sub = a.create_group("sub")
    sub.attrs["deep"] = 2.5
    sub.create_dataset("d", data=DATA, chunks=(10, 5), compression="gzip", compression_opts=4)
    sub["d"].attrs["unit"] = "m"
    sub.create_group("deeper").create_dataset("s", data=3.0)
    a.create_dataset("text", data=["one", "two"], dtype=h5py.string_dtype())
    a["to_d"] = soft_link("/a/sub/d")
    a["to_sub"] = soft_link("sub")
    f.create_group("elsewhere")


def walk(group: Any) -> dict[str, Any]:
    """Every member below ``group`` with its kind, attributes and data; links as their paths."""
    out: dict[str, Any] = {}

    def visit(prefix: str, g: Any) -> None:
        for name in g:
            link = g.get(name, getlink=True)
            rel = f"{prefix}{name}"
            if type(link).__name__ == "SoftLink":
                out[rel] = ("link", link.path)
                continue
            node = g[name]
            attrs = {k: _plain(v) for k, v in node.attrs.items()}
            if hasattr(node, "shape"):
                data = node.asstr()[()] if node.dtype.kind == "O" else node[()]
                # chunks only where h5py has them too (a LINDI array always has chunks)
                out[rel] = ("dataset", _plain(data), attrs, node.chunks if node.compression else None)
            else:
                out[rel] = ("group", attrs)
                visit(rel + "/", node)

    visit("", group)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()] if value.dtype.kind == "O" else (value.dtype.str, value.tolist())
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return (value.dtype.str, value.item())
    return value


@pytest.fixture()
def pair(path: Path, tmp_path: Path) -> tuple[File, h5py.File]:
    ours = File(path, "w")
    build(ours, SoftLink)
    ref = h5py.File(tmp_path / "ref.h5", "w")
    build(ref, h5py.SoftLink)
    yield ours, ref
    ours.close()
    ref.close()


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"shallow": True}, {"without_attrs": True}, {"expand_soft": True}],
    ids=["default", "shallow", "without_attrs", "expand_soft"],
)
def test_copy_group_matches_h5py(pair: tuple[File, h5py.File], kwargs: dict[str, bool]) -> None:
    ours, ref = pair
    ours.copy("a", "elsewhere/copy", **kwargs)
    ref.copy("a", "elsewhere/copy", **kwargs)
    expected = walk(ref["elsewhere/copy"])
    assert walk(ours["elsewhere/copy"]) == expected
    assert len(expected) >= 4
    assert walk(ours["a"]) == walk(ref["a"])  # the source is untouched


def test_copy_survives_reopen_and_is_independent(path: Path) -> None:
    with File(path, "w") as f:
        build(f, SoftLink)
        f.copy(f["a"], f["elsewhere"])  # a Group as dest: copied under the source's base name
        f.copy("a/sub/d", "d_copy")
        f["d_copy"][0, 0] = -1
    with File(path, "r") as f:
        assert f["elsewhere/a/sub/d"][:].tolist() == DATA.tolist()
        assert f["elsewhere/a/sub/d"].compression == "gzip"
        assert f["elsewhere/a/to_d"][5, 5] == DATA[5, 5]  # the link still names /a/sub/d
        assert f["a/sub/d"][0, 0] == 0
        assert f["d_copy"][0, 0] == -1
        assert f["elsewhere/a"].attrs["level"].dtype == np.int16


def test_copy_between_files_keeps_data_and_links(path: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.lindi.tar"  # tar blobs must be read and stored again
    with File(other, "w") as src:
        build(src, SoftLink)
    with File(other, "r") as src, File(path, "w") as dst:
        dst.copy(src["a"], dst, name="imported")
        dst.copy(src["a/sub/d"], "just_d")
    with File(path, "r") as f:
        assert f["imported/sub/d"][:].tolist() == DATA.tolist()
        assert f["imported/sub/d"].attrs["unit"] == "m"
        assert f["just_d"][:].tolist() == DATA.tolist()
        assert f.get("imported/to_sub", getlink=True).path == "sub"
        assert f["imported/to_sub"].attrs["deep"] == 2.5


def test_copy_errors(path: Path) -> None:
    with File(path, "w") as f:
        build(f, SoftLink)
        with pytest.raises(NodeExistsError):
            f.copy("a", "elsewhere")
        with pytest.raises(UnsupportedError, match="into itself"):
            f.copy("a", "a/sub/again")
        with pytest.raises(NodeNotFoundError):
            f.copy("missing", "x")
        with pytest.raises(UnsupportedError, match="expand_refs"):
            f.copy("a", "b", expand_refs=True)
        f["loop/back"] = SoftLink("/loop")
        with pytest.raises(UnsupportedError, match="loop"):
            f.copy("loop", "loop_copy", expand_soft=True)
    with File(path, "r") as f, pytest.raises(ModeError):
        f.copy("a", "b")


def test_move_matches_h5py(pair: tuple[File, h5py.File]) -> None:
    ours, ref = pair
    for f in (ours, ref):
        f.move("a/sub", "elsewhere/renamed")  # a group with members
        f.move("a/to_d", "moved_link")  # a soft link moves as a link
        f["a"].move("text", "/text_moved")  # from a group, to an absolute path
    assert walk(ours) == walk(ref)
    assert "sub" not in ours["a"]
    assert ours.get("moved_link", getlink=True).path == "/a/sub/d"  # now dangling, as in h5py
    assert ours.get("moved_link") is None


def test_move_survives_reopen(path: Path) -> None:
    with File(path, "w") as f:
        build(f, SoftLink)
        f.move("a", "b/c/a2")
    with File(path, "r") as f:
        assert "a" not in f
        assert f["b/c/a2/sub/d"][:].tolist() == DATA.tolist()
        assert f["b/c/a2"].attrs["level"] == 1


def test_move_errors(path: Path) -> None:
    with File(path, "w") as f:
        build(f, SoftLink)
        with pytest.raises(NodeExistsError):
            f.move("a", "elsewhere")
        with pytest.raises(NodeNotFoundError):
            f.move("missing", "x")
        with pytest.raises(UnsupportedError, match="into itself"):
            f.move("a", "a/sub/a")
        with pytest.raises(UnsupportedError, match="root"):
            f.move("/", "x")
        assert f["a/sub/d"][:].tolist() == DATA.tolist()  # nothing was lost on the way
    with File(path, "r") as f, pytest.raises(ModeError):
        f.move("a", "b")


def test_h5py_link_objects_are_accepted(path: Path, tmp_path: Path) -> None:
    with File(path, "w") as f:
        f.create_dataset("x", data=[1, 2, 3])
        f["soft"] = h5py.SoftLink("/x")
        f["ext"] = h5py.ExternalLink("other.h5", "/data")
    with File(path, "r") as f:
        assert f["soft"][:].tolist() == [1, 2, 3]
        assert f.get("soft", getlink=True) == SoftLink("/x")
        link = f.get("ext", getlink=True)
        assert (link.filename, link.path) == ("other.h5", "/data")


def test_attrs_modify_keeps_the_type_as_h5py(pair: tuple[File, h5py.File]) -> None:
    ours, ref = pair
    for f in (ours, ref):
        f["a"].attrs.modify("level", 7.9)  # int16 stays int16
        f["a"].attrs.modify("new", np.float32(1.5))  # a new name is created
        f["a"].attrs.create("arr", np.arange(3, dtype=np.uint8))
        f["a"].attrs.modify("arr", [4, 5, 6])
    for name in ("level", "new", "arr"):
        assert _plain(ours["a"].attrs[name]) == _plain(ref["a"].attrs[name]), name


def test_astype_and_iter_chunks_match_h5py(pair: tuple[File, h5py.File]) -> None:
    ours, ref = pair
    d, r = ours["a/sub/d"], ref["a/sub/d"]
    view = d.astype("f4")
    assert view.dtype == np.dtype("f4")
    assert len(view) == len(r.astype("f4"))
    got = view[3:7, ::2]
    assert got.dtype == np.float32 and got.tolist() == r.astype("f4")[3:7, ::2].tolist()
    assert np.asarray(view).tolist() == np.asarray(r.astype("f4")[()]).tolist()
    for sel in (None, np.s_[5:47, 3:9], np.s_[0:100, 0:10], np.s_[99:100, 4:5]):
        assert list(d.iter_chunks(sel)) == list(r.iter_chunks(sel)), sel
    with pytest.raises(TypeError):
        ours["a/sub/deeper/s"].iter_chunks()


def test_names_must_be_text_as_in_h5py(pair: tuple[File, h5py.File]) -> None:
    for f in pair:
        with pytest.raises(TypeError):
            f.create_dataset(5, data=[1])  # type: ignore[arg-type]
        f.create_group(b"from_bytes")
        assert "from_bytes" in f


def test_copy_and_move_large_chunks_stored_as_blobs(path: Path, tmp_path: Path) -> None:
    """Chunks above the inline size live as tar members or directory blobs; copies and moves
    store them again, within a file and between files."""
    big = np.random.default_rng(5).integers(0, 2**31, size=(4, 20_000), dtype=np.int32)  # 80 kB chunks
    with File(path, "w") as f:
        f.create_dataset("g/big", data=big, chunks=(1, 20_000))
        f.copy("g", "g_copy")
        f.move("g/big", "moved/big")
    other = tmp_path / ("other.lindi.d" if path.name.endswith(".tar") else "other.lindi.tar")
    with File(path, "r") as f, File(other, "w") as g:
        assert "big" not in f["g"]
        assert f["moved/big"][:].tolist() == big.tolist()
        assert f["g_copy/big"][:].tolist() == big.tolist()
        g.copy(f["moved"], g, name="imported")
    with File(other, "r") as g:
        assert g["imported/big"][:].tolist() == big.tolist()


# ------------------------------------------------------------------------------ external links
def _linked_pair(root: Path) -> tuple[Path, Path]:
    """``main.h5`` with external links into ``raw.h5`` (a group, a dataset), written by h5py."""
    with h5py.File(root / "raw.h5", "w") as raw:
        raw.create_dataset("inner/x", data=DATA, chunks=(10, 10))
        raw["inner"].attrs["kind"] = "raw"
    with h5py.File(root / "main.h5", "w") as main:
        main["to_group"] = h5py.ExternalLink("raw.h5", "/inner")
        main["to_data"] = h5py.ExternalLink("raw.h5", "/inner/x")
        main["missing"] = h5py.ExternalLink("nowhere.h5", "/a")
    return root / "main.h5", root / "raw.h5"


def test_external_links_are_followed_as_h5py_follows_them(tmp_path: Path) -> None:
    main_h5, _ = _linked_pair(tmp_path)
    hdmf_lindi.index_hdf5(main_h5, tmp_path / "main.lindi.json")
    with h5py.File(main_h5, "r") as ref, File(tmp_path / "main.lindi.json") as f:
        for name in ("to_data", "to_group/x", "/to_group/x"):
            assert f[name][3:5].tolist() == ref[name][3:5].tolist(), name
            assert f[name].name == ref[name].name == "/inner/x"
        assert f["to_group"].attrs["kind"] == ref["to_group"].attrs["kind"]
        assert f["to_group"].keys() == list(ref["to_group"].keys())
        assert ("to_group/x" in f) == ("to_group/x" in ref) is True
        assert ("to_group/nope" in f) == ("to_group/nope" in ref) is False
        assert f.get("missing") is None and ref.get("missing") is None
        with pytest.raises(KeyError):
            f["missing"]
        assert f.get("to_group/x", getclass=True) is hdmf_lindi.Dataset
        assert f["to_group"].file.filename.endswith("raw.h5")  # the node lives in the linked file
        linked = f["to_group"].file
    assert linked.closed  # closed with the file that opened it
    with File(tmp_path / "main.lindi.json", "a") as f:
        f.copy("to_group/x", "copied")  # lookups reach into the linked file ...
        assert f["copied"][:].tolist() == DATA.tolist()
        with pytest.raises(UnsupportedError, match="external link"):
            del f["to_group/x"]  # ... changes do not
        with pytest.raises(UnsupportedError, match="external link"):
            f.create_group("to_group/new")


def test_external_link_between_lindi_files(path: Path) -> None:
    other = path.with_name("other" + "".join(path.suffixes))
    with File(other, "w") as o:
        o.create_dataset("a/b", data=[5, 6, 7])
    with File(path, "w") as f:
        f["link"] = h5py.ExternalLink(other.name, "/a")  # a relative name
    with File(path) as f:
        assert f["link/b"][:].tolist() == [5, 6, 7]
        assert f["link"]["b"][1] == 6


def test_remote_file_does_not_follow_an_external_link_to_a_local_file(tmp_path: Path, http_server: Any) -> None:
    main_h5, raw_h5 = _linked_pair(tmp_path)
    (http_server.root / "raw.h5").write_bytes(raw_h5.read_bytes())
    with File(http_server.root / "local.lindi.json", "w") as f:
        f["local"] = hdmf_lindi.ExternalLink(str(raw_h5), "/inner")  # absolute local path
        f["beside"] = hdmf_lindi.ExternalLink("raw.h5", "/inner")  # relative: resolved on the server
    with File(http_server.url("local.lindi.json")) as f:
        assert f["beside/x"][0, :3].tolist() == DATA[0, :3].tolist()
        with pytest.raises(ChunkRefError, match="Refusing to follow the external link"):
            f["local"]
    with File(http_server.url("local.lindi.json"), allow_local_paths=True) as f:
        assert f["local/x"][1, 1] == DATA[1, 1]


def test_a_handle_to_a_moved_dataset_says_it_is_gone(path: Path) -> None:
    with File(path, "w") as f:
        f.create_dataset("x", data=[1, 2, 3])
        handle = f["x"]
        f.move("x", "y")
        with pytest.raises(NodeNotFoundError, match="no longer exists"):
            handle[:]
        assert f["y"][:].tolist() == [1, 2, 3]


def test_copy_to_another_directory_keeps_relative_references_working(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "data.bin").write_bytes(np.arange(4, dtype="<i4").tobytes())
    doc = {
        "version": 1,
        "refs": {
            ".zgroup": {"zarr_format": 2},
            "x/.zarray": {
                "zarr_format": 2, "shape": [4], "chunks": [4], "dtype": "<i4", "compressor": None,
                "filters": None, "fill_value": 0, "order": "C",
            },
            "x/0": ["data.bin", 0, 16],  # relative to a/
        },
    }
    (a / "src.lindi.json").write_text(json.dumps(doc))
    with File(a / "src.lindi.json") as src, File(b / "dst.lindi.json", "w") as dst:
        dst.copy(src["x"], dst)
    with File(b / "dst.lindi.json") as dst:
        assert dst["x"][:].tolist() == [0, 1, 2, 3]
        assert dst.container.refmap.get("x/0").url == str(a / "data.bin")


def test_iter_chunks_with_integers_and_modify_of_a_string_match_h5py(pair: tuple[File, h5py.File]) -> None:
    ours, ref = pair
    for sel in [(2, slice(0, 10)), (slice(15, 40), 9)]:
        assert list(ours["a/sub/d"].iter_chunks(sel)) == list(ref["a/sub/d"].iter_chunks(sel)), sel
    for f in pair:
        f.attrs["s"] = "abc"
        with pytest.raises(TypeError):
            f.attrs.modify("s", 5)
        f.attrs.modify("s", "xyz")
        assert f.attrs["s"] == "xyz"


def test_remote_link_to_a_missing_file_is_a_key_error(http_server: Any) -> None:
    with File(http_server.root / "doc.lindi.json", "w") as f:
        f["gone"] = hdmf_lindi.ExternalLink("gone.lindi.json", "/x")
    with File(http_server.url("doc.lindi.json")) as f:
        with pytest.raises(NodeNotFoundError, match="answered 404"):
            f["gone"]
        assert f.get("gone") is None and "gone/y" not in f
