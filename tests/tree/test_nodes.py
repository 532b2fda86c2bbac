"""Groups, lookup, iteration, links, references, attributes, deletion and open modes.

Most tests run once per container kind (json / tar / dir) through the ``path`` fixture; where
h5py defines the behaviour (visit order, which names exist, what ``get`` returns) the same
structure is built in an ``.h5`` file and the two are compared.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from hdmf_lindi import ExternalLink, File, Group, HardLink, Reference, SoftLink
from hdmf_lindi.errors import ModeError, NodeExistsError, NodeNotFoundError, UnsupportedError

KINDS = {"json": "f.lindi.json", "tar": "f.lindi.tar", "dir": "f.lindi.d"}


@pytest.fixture(params=list(KINDS))
def path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A not-yet-existing LINDI path of each container kind."""
    return tmp_path / KINDS[request.param]


def build_tree(f: Any, link: Callable[[str], Any]) -> None:
    """The same small tree in h5py or hdmf_lindi: groups, datasets and soft links."""
    f.create_group("b/inner")
    f.create_group("a/sub/deep")
    f.create_dataset("a/x", data=[1, 2, 3])
    f.create_dataset("z", data=1.5)
    f["a/link_to_b"] = link("/b")
    f["link_to_x"] = link("/a/x")
    f["dangling"] = link("/nowhere")


@pytest.fixture
def tree(path: Path, tmp_path: Path) -> tuple[Path, Path]:
    """``(lindi_path, h5_path)`` holding :func:`build_tree`."""
    with File(path, "w") as f:
        build_tree(f, SoftLink)
    h5_path = tmp_path / "tree.h5"
    with h5py.File(h5_path, "w") as h:
        build_tree(h, h5py.SoftLink)
    return path, h5_path


# ------------------------------------------------------------------------------------ groups
def test_create_group_makes_intermediates(path: Path) -> None:
    with File(path, "w") as f:
        g = f.create_group("a/b/c")
        assert isinstance(g, Group) and g.name == "/a/b/c"
        rel = f["a"].create_group("b/d")
        assert rel.name == "/a/b/d"
    with File(path, "r") as f:
        assert f.keys() == ["a"]
        assert f["a/b"].keys() == ["c", "d"]
        assert f.container.refmap.get_json("a/b/.zgroup") == {"zarr_format": 2}


def test_require_group(path: Path) -> None:
    with File(path, "w") as f:
        made = f.require_group("g/h")
        made.attrs["mark"] = 1
        again = f.require_group("g/h")
        assert again == made and again.attrs["mark"] == 1
        f.create_dataset("d", data=[1])
        with pytest.raises(NodeExistsError, match="'/d' exists and is not a group"):
            f.require_group("d")


@pytest.mark.parametrize(
    ("create", "match"),
    [
        (lambda f: f.create_group("g"), "Unable to create 'g' in '/': '/g' already exists"),
        (lambda f: f.create_dataset("g", data=[1]), "'/g' already exists"),
        (lambda f: f["g"].create_group("/d"), "'/d' already exists"),
        (lambda f: f.create_group("d/under"), "'/d' is a dataset"),
        (lambda f: f.create_dataset("d/under", data=[1]), "'/d' is a dataset"),
    ],
    ids=["group_over_group", "dataset_over_group", "absolute_over_dataset", "group_below_dataset",
         "dataset_below_dataset"],
)
def test_create_existing_or_below_dataset_raises(path: Path, create: Callable[[File], Any], match: str) -> None:
    with File(path, "w") as f:
        f.create_group("g")
        f.create_dataset("d", data=[1])
        with pytest.raises(NodeExistsError, match=match) as info:
            create(f)
        assert isinstance(info.value, ValueError)  # as h5py raises ValueError
        assert sorted(f) == ["d", "g"]


# ------------------------------------------------------------------------------------ lookup
def test_lookup_paths(tree: tuple[Path, Path]) -> None:
    path, _ = tree
    with File(path, "r") as f:
        a = f["a"]
        assert f["/a/sub/deep"].name == "/a/sub/deep"
        assert a["sub/deep"] == f["a/sub/deep"]
        assert a["/b/inner"] == f["b/inner"]  # absolute from a subgroup
        assert a["sub"]["../x"] == f["a/x"]
        assert "sub/deep" in a and "/z" in a and "nope" not in a and 5 not in a
        assert f.get("nope") is None and f.get("nope", 42) == 42
        assert f.get("a/x", getclass=True) is type(f["a/x"])


@pytest.mark.parametrize("name", ["nope", "a/nope", "/a/x/inside", "a/sub/deep/nope"])
def test_missing_name_raises_keyerror(tree: tuple[Path, Path], name: str) -> None:
    path, _ = tree
    with File(path, "r") as f, pytest.raises(NodeNotFoundError, match="does not exist") as info:
        f[name]
    assert isinstance(info.value, KeyError)


def test_iteration_matches_h5py(tree: tuple[Path, Path]) -> None:
    path, h5_path = tree
    with File(path, "r") as f, h5py.File(h5_path, "r") as h:
        assert list(f) == list(h) == ["a", "b", "dangling", "link_to_x", "z"]
        assert len(f) == len(h) == 5 and len(f["a"]) == len(h["a"]) == 3
        assert f.keys() == list(h.keys())
        assert [k for k, _ in f.items()] == list(h.keys())
        assert [v.name if v is not None else None for v in f.values()] == [
            "/a", "/b", None, "/a/x", "/z"  # None for the dangling link, as h5py
        ]
        assert [v is None for v in h.values()] == [False, False, True, False, False]


def test_visit_order_and_soft_links_not_followed(tree: tuple[Path, Path]) -> None:
    path, h5_path = tree
    with File(path, "r") as f, h5py.File(h5_path, "r") as h:
        ours: list[tuple[str, str]] = []
        f.visititems(lambda name, node: ours.append((name, type(node).__name__)))
        theirs: list[str] = []
        h.visit(theirs.append)
        assert [n for n, _ in ours] == theirs == ["a", "a/sub", "a/sub/deep", "a/x", "b", "b/inner", "z"]
        assert dict(ours)["a/x"] == "Dataset" and dict(ours)["b"] == "Group"
        names: list[str] = []
        f["a"].visit(names.append)
        assert names == ["sub", "sub/deep", "x"]
        assert f.visit(lambda name: name if name.endswith("deep") else None) == "a/sub/deep"


# ------------------------------------------------------------------------------------- links
def test_soft_links(tree: tuple[Path, Path]) -> None:
    path, _ = tree
    with File(path, "r") as f:
        assert f["a/link_to_b"] == f["b"]
        assert f["a/link_to_b/inner"] == f["b/inner"]  # links are followed inside paths
        np.testing.assert_array_equal(f["link_to_x"][...], [1, 2, 3])
        assert f.get("a/link_to_b", getlink=True) == SoftLink("/b")
        assert f.get("link_to_x", getlink=True, getclass=True) is SoftLink
        assert isinstance(f.get("a", getlink=True), HardLink)
        assert f.get("dangling", getlink=True) == SoftLink("/nowhere")
        assert f.container.refmap.get_json("a/link_to_b/.zattrs") == {"_SOFT_LINK": {"path": "/b"}}
        assert "dangling" not in f and f.get("dangling") is None
        with pytest.raises(NodeNotFoundError, match="points to '/nowhere'.*dangling"):
            f["dangling"]


def test_hard_links_are_rejected(path: Path) -> None:
    with File(path, "w") as f:
        g = f.create_group("g")
        with pytest.raises(UnsupportedError, match="LINDI has no hard links"):
            f["h"] = g


def test_external_links_are_written_and_read_back(path: Path) -> None:
    with File(path, "w") as f:
        f.create_group("g")
        f["g/e"] = ExternalLink("other.lindi.json", "/x/y")
    with File(path) as f:
        assert f["g"].get("e", getlink=True) == ExternalLink("other.lindi.json", "/x/y")
        assert f.container.refmap.get_json("g/e/.zattrs") == {"_EXTERNAL_LINK": ["other.lindi.json", "/x/y"]}
        assert "e" in f["g"].keys()
        with pytest.raises(NodeNotFoundError, match="that file does not exist"):  # followed on read
            f["g/e"]
        assert f["g"].get("e") is None


# -------------------------------------------------------------------------------- references
def test_references(path: Path) -> None:
    with File(path, "w") as f:
        f.attrs["object_id"] = "root-id"
        g = f.create_group("g")
        g.attrs["object_id"] = "g-id"
        ds = f.create_dataset("g/x", data=[1, 2])
        assert g.ref == Reference("/g", object_id="g-id", source_object_id="root-id")
        assert ds.ref == Reference("/g/x", object_id=None, source_object_id="root-id")
        f.attrs["to_g"] = g.ref
        g.attrs["to_x"] = ds.ref
    with File(path, "r") as f:
        ref = f.attrs["to_g"]
        assert isinstance(ref, Reference)
        assert f[ref] == f["g"] and f[f["g"].attrs["to_x"]] == f["g/x"]
        assert f["g"][ref] == f["g"]  # dereferencing works from any group
        assert f.container.refmap.get_json(".zattrs")["to_g"] == {
            "_REFERENCE": {"object_id": "g-id", "path": "/g", "source": ".", "source_object_id": "root-id"}
        }


def test_stale_and_dangling_references(path: Path) -> None:
    with File(path, "w") as f:
        g = f.create_group("g")
        g.attrs["object_id"] = "g-id"
        ref = g.ref
        g.attrs["object_id"] = "replaced"
        with pytest.raises(NodeNotFoundError, match="expects object_id 'g-id'.*stale"):
            f[ref]
        del f["g"]
        with pytest.raises(NodeNotFoundError, match="'/g' does not exist"):
            f[ref]


# ---------------------------------------------------------------------------------- attributes
ATTRS = [
    pytest.param("héllo", "héllo", id="str"),
    pytest.param(b"bytes", "bytes", id="bytes_to_str"),
    pytest.param(7, np.int64(7), id="int"),
    pytest.param(np.uint64(2**63 + 5), np.uint64(2**63 + 5), id="uint64_large"),
    pytest.param(1.5, np.float64(1.5), id="float"),
    pytest.param(math.nan, np.float64(math.nan), id="nan"),
    pytest.param(-math.inf, np.float64(-math.inf), id="minus_inf"),
    pytest.param(True, np.True_, id="bool"),
    # exact numeric dtypes survive JSON through the document's "hdmf_lindi" record
    pytest.param(np.array([1, -2, 3], dtype="i2"), np.array([1, -2, 3], dtype="i2"), id="int16_array"),
    pytest.param(np.array([1, 2], dtype=">u4"), np.array([1, 2], dtype="<u4"), id="big_endian_uint32_array"),
    pytest.param(np.uint8(7), np.uint8(7), id="uint8"),
    pytest.param(np.float32(0.1), np.float32(0.1), id="float32"),
    pytest.param(np.int32(-3), np.int32(-3), id="int32"),
    pytest.param(np.array([1.0, math.nan, math.inf]), np.array([1.0, math.nan, math.inf]), id="float_array_nan"),
    pytest.param(np.array([True, False]), np.array([True, False]), id="bool_array"),
    pytest.param(["a", "bé"], np.array(["a", "bé"], dtype=object), id="str_list"),
    pytest.param(np.arange(6).reshape(2, 3), np.arange(6).reshape(2, 3), id="2d"),
    pytest.param(np.array([]), np.array([], dtype="f8"), id="empty"),
    pytest.param(np.array([], dtype="i2"), np.array([], dtype="i2"), id="empty_int16"),
    pytest.param(np.array([], dtype=bool), np.array([], dtype=bool), id="empty_bool"),
    pytest.param(Reference("/g"), Reference("/g"), id="reference"),
]


@pytest.mark.parametrize(("value", "expected"), ATTRS)
def test_attribute_round_trip(path: Path, value: Any, expected: Any) -> None:
    with File(path, "w") as f:
        f.create_group("g").attrs["v"] = value
    with File(path, "r") as f:
        back = f["g"].attrs["v"]
        assert type(back) is type(expected)
        if isinstance(expected, np.ndarray):
            assert back.dtype == expected.dtype and back.shape == expected.shape
        np.testing.assert_array_equal(back, expected)
        assert f["g"].attrs.keys() == ["v"] and f["g"].attrs.get("nope", 3) == 3
        assert dict(f["g"].attrs.items())["v"].__class__ is type(expected)


def test_exact_attribute_dtypes_live_outside_zattrs(path: Path) -> None:
    """The record is a top-level document key (lindi ignores and keeps those); .zattrs stay lindi's."""
    with File(path, "w") as f:
        g = f.create_group("g")
        g.attrs["u8"] = np.uint8(7)
        g.attrs["i"] = 5
    with File(path, "a") as f:
        assert f.container.refmap.get_json("g/.zattrs") == {"u8": 7, "i": 5}
        assert f.container.refmap.extra == {"hdmf_lindi": {"attributeDtypes": {"/g": {"u8": "|u1"}}}}
        f["g"].attrs["u8"] = 300  # a plain int now: the record goes
        assert f.container.refmap.extra == {"hdmf_lindi": {"attributeDtypes": {}}}
        f["g"].attrs["i"] = np.int16(2)
        del f["g"]
        assert f.container.refmap.extra == {"hdmf_lindi": {"attributeDtypes": {}}}
    with File(path) as f:
        assert "g" not in f


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (None, "type NoneType, which LINDI cannot store"),
        (1 + 2j, "complex values are not supported"),
        (np.array([1j]), "complex attributes are not supported"),
        ({"a": 1}, "type dict, which LINDI cannot store"),
        ([1, "a"], "a list mixing types is not supported"),
        ([True, 2], "a list mixing types is not supported"),
        ("NaN", "'NaN' is reserved for non-finite floats"),
        ([Reference("/g")], "lists of references are not supported"),
        (b"\xff", "not UTF-8"),
    ],
    ids=["none", "complex", "complex_array", "dict", "mixed_list", "bool_int_list", "nan_string",
         "reference_list", "non_utf8_bytes"],
)
def test_unsupported_attribute_raises(path: Path, value: Any, match: str) -> None:
    with File(path, "w") as f:
        with pytest.raises(UnsupportedError, match=match):
            f.attrs["v"] = value
        assert "v" not in f.attrs


def test_attribute_manager_mapping(path: Path) -> None:
    with File(path, "w") as f:
        ds = f.create_dataset("d", data=5)
        ds.attrs["b"] = 2
        ds.attrs.create("a", [1, 2, 3, 4], shape=(2, 2), dtype="i2")
        with pytest.raises(UnsupportedError, match="'_SCALAR' is reserved"):
            ds.attrs["_SCALAR"] = False
    with File(path, "a") as f:
        attrs = f["d"].attrs
        assert "_SCALAR" not in attrs and len(attrs) == 2  # annotations are hidden
        assert sorted(attrs) == ["a", "b"] and dict(attrs.items())["b"] == 2
        np.testing.assert_array_equal(attrs["a"], [[1, 2], [3, 4]])
        del attrs["b"]
        with pytest.raises(NodeNotFoundError, match="Attribute 'b' does not exist on '/d'"):
            attrs["b"]
        with pytest.raises(NodeNotFoundError, match="Attribute '_SCALAR' does not exist"):
            del attrs["_SCALAR"]
    with File(path, "r") as f:
        assert list(f["d"].attrs) == ["a"]
        assert f.container.refmap.get_json("d/.zattrs")["_SCALAR"] is True
        assert f["d"][()] == 5  # still a scalar


# ------------------------------------------------------------------------------------ delete
def test_delete_group_and_dataset(path: Path) -> None:
    with File(path, "w") as f:
        f.create_dataset("g/sub/x", data=np.arange(2000), chunks=(500,))
        f.create_dataset("keep", data=[1])
        f["link"] = SoftLink("/keep")
    with File(path, "a") as f:
        del f["link"]  # removes the link, not its target
        assert "link" not in f and "keep" in f
        del f["g/sub/x"]
        assert "g/sub/x" not in f and f["g/sub"].keys() == []
        del f["g"]
        with pytest.raises(NodeNotFoundError, match="does not exist"):
            del f["g"]
        f.create_dataset("g", data=[9])  # the name is free again
    with File(path, "r") as f:
        assert f.keys() == ["g", "keep"]
        assert not [k for k in f.container.refmap if k.startswith("g/sub")]
        np.testing.assert_array_equal(f["g"][...], [9])


# ------------------------------------------------------------------------------------- modes
READ_ONLY_WRITES: dict[str, Callable[[File], Any]] = {
    "create_group": lambda f: f.create_group("new"),
    "require_group": lambda f: f.require_group("new"),
    "create_dataset": lambda f: f.create_dataset("new", data=[1]),
    "setitem_dataset": lambda f: f.__setitem__("new", [1]),
    "soft_link": lambda f: f.__setitem__("new", SoftLink("/d")),
    "write_data": lambda f: f["d"].__setitem__(0, 5),
    "resize": lambda f: f["d"].resize((1,)),
    "set_attr": lambda f: f.attrs.__setitem__("b", 1),
    "delete_attr": lambda f: f.attrs.__delitem__("a"),
    "delete_node": lambda f: f.__delitem__("d"),
    "flush": lambda f: f.flush(),
}


@pytest.mark.parametrize("write", list(READ_ONLY_WRITES))
def test_read_only_mode_rejects_writes(path: Path, write: str) -> None:
    with File(path, "w") as f:
        f.create_dataset("d", data=[1, 2])
        f.attrs["a"] = 1
    with File(path, "r") as f:
        assert f.mode == "r"
        with pytest.raises(ModeError, match="read-only"):
            READ_ONLY_WRITES[write](f)
        assert f.keys() == ["d"] and list(f.attrs) == ["a"]
        np.testing.assert_array_equal(f["d"][...], [1, 2])


@pytest.mark.parametrize(("mode", "reported"), [("r", "r"), ("r+", "r+"), ("a", "r+"), ("w", "r+")])
def test_mode_reported_like_h5py(path: Path, mode: str, reported: str) -> None:
    with File(path, "w") as f:
        f.create_group("g")
    with File(path, mode) as f:
        assert f.mode == reported
        assert ("g" in f) == (mode != "w")  # w truncates


@pytest.mark.parametrize(
    ("mode", "exists", "match"),
    [
        ("w-", True, "already exists"),
        ("x", True, "already exists"),
        ("r", False, "no such file"),
        ("r+", False, "no such file"),
        ("rw", False, "Unknown mode 'rw'"),
    ],
)
def test_bad_mode_raises(path: Path, mode: str, exists: bool, match: str) -> None:
    if exists:
        File(path, "w").close()
    with pytest.raises(ModeError, match=match):
        File(path, mode)


def test_create_exclusive_and_append_create(path: Path) -> None:
    with File(path, "x") as f:
        f.create_group("from_x")
    path2 = path.with_name("other" + path.name[1:])
    with File(path2, "a") as f:
        f.create_group("from_a")
    with File(path, "r") as f, File(path2, "r") as f2:
        assert f.keys() == ["from_x"] and f2.keys() == ["from_a"]


def test_context_manager_closes(path: Path) -> None:
    with File(path, "w") as f:
        f.create_group("g")
        assert not f.closed and bool(f)
    assert f.closed and not bool(f)
    with pytest.raises(ModeError, match="closed"):
        f.create_group("h")


def test_exception_inside_with_does_not_publish(path: Path) -> None:
    with File(path, "w") as f:
        f.create_dataset("d", data=np.arange(2000), chunks=(500,))
        f.attrs["state"] = "old"
    with pytest.raises(RuntimeError, match="boom"), File(path, "a") as f:
        f["d"][0:600] = -1  # rewrites blobs in tar/dir
        f.attrs["state"] = "half-written"
        f.create_group("new")
        raise RuntimeError("boom")
    with File(path, "r") as f:
        assert f.attrs["state"] == "old" and "new" not in f
        np.testing.assert_array_equal(f["d"][...], np.arange(2000))
    with File(path, "a") as f:  # and the file can still be modified afterwards
        f.attrs["state"] = "new"
    with File(path, "r") as f:
        assert f.attrs["state"] == "new"


def test_hdf5_file_is_rejected(tmp_path: Path) -> None:
    h5_path = tmp_path / "data.h5"
    with h5py.File(h5_path, "w") as h:
        h["x"] = [1, 2]
    with pytest.raises(UnsupportedError, match="is an HDF5 file, not a LINDI file"):
        File(h5_path, "r")
