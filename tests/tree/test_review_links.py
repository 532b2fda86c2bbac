"""Review of f15e1f9 (external links followed on read) and 845fd79 (all-or-nothing copy/move).

Some tests pin bugs found in review and since fixed (link cycles, soft link to an external
link, a link to the open file itself, a failure between metadata writes, broken external links
in NWB); the others pin behaviour checked against h5py 3.
"""

from __future__ import annotations

import gc
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

import hdmf_lindi
from hdmf_lindi import File
from hdmf_lindi.errors import ChunkRefError, RemoteReadError
from hdmf_lindi.format.references import ExternalLink, SoftLink


def _open_fds() -> list[str]:
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            out.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass
    return out


# ---------------------------------------------------------------- h5py parity of link lookups


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    """top -> d1/mid.h5 -> (relative to mid) d2/leaf.h5, plus a dataset target and broken links,
    written both as top.h5 (h5py) and top.lindi.json."""
    (tmp_path / "d1" / "d2").mkdir(parents=True)
    with h5py.File(tmp_path / "d1/d2/leaf.h5", "w") as f:
        f.create_group("g").create_dataset("x", data=[7, 8])
    with h5py.File(tmp_path / "d1/mid.h5", "w") as f:
        f["m"] = h5py.ExternalLink("d2/leaf.h5", "/g")
    links = {
        "t": ("d1/mid.h5", "/m"),
        "ds": ("d1/d2/leaf.h5", "/g/x"),
        "nofile": ("missing.h5", "/g"),
        "nopath": ("d1/d2/leaf.h5", "/nope"),
    }
    with h5py.File(tmp_path / "top.h5", "w") as f, File(tmp_path / "top.lindi.json", "w") as g:
        for name, (filename, path) in links.items():
            f[name] = h5py.ExternalLink(filename, path)
            g[name] = ExternalLink(filename, path)
    return tmp_path


def _summary(f: Any) -> dict[str, Any]:
    def kind(obj: Any) -> str | None:
        if obj is None:
            return None
        return type(obj).__name__

    out: dict[str, Any] = {}
    for key in ("t", "ds", "nofile", "nopath", "t/x", "nofile/x", "ds/z"):
        try:
            got: Any = f[key].name
        except KeyError:
            got = "KeyError"
        out[key] = (
            got,
            key in f,
            kind(f.get(key)),
            kind(f.get(key, getlink=True)),
        )
    out["items"] = [(k, kind(v)) for k, v in f.items()]
    out["values"] = [kind(v) for v in f.values()]
    seen: list[str] = []
    f.visit(seen.append)
    out["visit"] = seen
    return out


def test_link_lookups_match_h5py(chain: Path) -> None:
    with h5py.File(chain / "top.h5", "r") as f:
        expected = _summary(f)
    with File(chain / "top.lindi.json") as f:
        actual = _summary(f)
        assert f["t/x"][()].tolist() == [7, 8]
        assert f["t"].file.filename == str(chain / "d1/d2/leaf.h5")
    names = {"Group": "G", "Dataset": "D", "ExternalLink": "E", "HardLink": "H", None: None}
    norm = {
        k: (v if not isinstance(v, tuple) else (v[0], v[1], names[v[2]], names[v[3]]))
        for k, v in expected.items() if k not in ("items", "values")
    }
    act = {
        k: (v if not isinstance(v, tuple) else (v[0], v[1], names[v[2]], names[v[3]]))
        for k, v in actual.items() if k not in ("items", "values")
    }
    assert act == norm
    assert [(k, names[v]) for k, v in actual["items"]] == [(k, names[v]) for k, v in expected["items"]]
    assert [names[v] for v in actual["values"]] == [names[v] for v in expected["values"]]


def test_linked_files_are_closed_with_the_file(tmp_path: Path) -> None:
    with File(tmp_path / "Q.lindi.tar", "w") as f:
        f.create_group("g").create_dataset("x", data=np.arange(10), chunks=(2,))
    with File(tmp_path / "P.lindi.tar", "w") as f:
        f["ext"] = ExternalLink("Q.lindi.tar", "/g")
        f["ext2"] = ExternalLink("./Q.lindi.tar", "/g")  # same file, another spelling
    def ours() -> list[str]:  # only this test's files (gc may close other tests' descriptors)
        return sorted(p for p in _open_fds() if p.startswith(str(tmp_path)))

    before = ours()
    for _ in range(3):
        with File(tmp_path / "P.lindi.tar") as f:
            assert f["ext/x"][3] == 3
            assert f["ext2/x"][4] == 4
            assert len(f._state.linked) == 1
    gc.collect()
    assert ours() == before


@pytest.fixture
def cycle(tmp_path: Path) -> Path:
    """A.lindi.tar:/ext -> B.lindi.tar:/ext -> A.lindi.tar:/ext (and the same in HDF5)."""
    with File(tmp_path / "A.lindi.tar", "w") as f:
        f["ext"] = ExternalLink("B.lindi.tar", "/ext")
    with File(tmp_path / "B.lindi.tar", "w") as f:
        f["ext"] = ExternalLink("A.lindi.tar", "/ext")
    with h5py.File(tmp_path / "A.h5", "w") as f:
        f["ext"] = h5py.ExternalLink("B.h5", "/ext")
    with h5py.File(tmp_path / "B.h5", "w") as f:
        f["ext"] = h5py.ExternalLink("A.h5", "/ext")
    return tmp_path


def test_h5py_reports_an_external_link_cycle_as_a_key_error(cycle: Path) -> None:
    with h5py.File(cycle / "A.h5", "r") as f:
        with pytest.raises(KeyError, match="too many links"):
            f["ext"]
        assert f.get("ext") is None


def test_external_link_cycle_is_a_key_error(cycle: Path) -> None:
    with File(cycle / "A.lindi.tar") as f:
        with pytest.raises(KeyError):
            f["ext"]
        assert f.get("ext") is None
        assert f.values() == [None]


def test_external_link_cycle_opens_few_files_and_leaks_none(cycle: Path) -> None:
    def ours() -> list[str]:  # only this test's files: other tests in the worker keep theirs open
        return sorted(p for p in _open_fds() if p.startswith(str(cycle)))

    before = ours()
    with File(cycle / "A.lindi.tar") as f:
        try:
            f["ext"]
        except (KeyError, RecursionError):
            pass
        opened = [p for p in ours() if p.endswith(".lindi.tar")]
        assert len(opened) <= 4  # A (top), B, and maybe A again: not one per hop
    gc.collect()
    assert ours() == before


def test_soft_link_to_an_external_link_is_followed_further(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "T.h5", "w") as f:
        f.create_group("a").create_dataset("b", data=[1, 2])
    with h5py.File(tmp_path / "S.h5", "w") as f:
        f["ext"] = h5py.ExternalLink("T.h5", "/")
        f["s"] = h5py.SoftLink("/ext")
    with h5py.File(tmp_path / "S.h5", "r") as f:
        assert f["s/a/b"][()].tolist() == [1, 2]  # h5py follows soft -> external -> inner path
        assert "s/a" in f
    with File(tmp_path / "S.lindi.json", "w") as f:
        f["ext"] = ExternalLink("T.h5", "/")
        f["s"] = SoftLink("/ext")
    with File(tmp_path / "S.lindi.json") as f:
        assert f["ext/a/b"][()].tolist() == [1, 2]
        assert "s/a" in f
        assert f.get("s/a") is not None
        assert f["s/a/b"][()].tolist() == [1, 2]


def test_h5py_link_to_the_file_itself_sees_unsaved_changes(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "self.h5", "w") as f:
        f["self"] = h5py.ExternalLink("self.h5", "/g2")
        f.create_group("g2/new")
        assert f["self/new"].name == "/g2/new"


@pytest.mark.parametrize("suffix", [".lindi.json", ".lindi.tar"])
def test_link_to_the_file_itself_sees_unsaved_changes(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"self{suffix}"
    with File(path, "w") as f:
        f["self"] = ExternalLink(path.name, "/g2")
        f.create_group("g2/new")
        assert f["self"].name == "/g2"
        assert f["self/new"].name == "/g2/new"


# ---------------------------------------------------------------- remote documents and local paths


def test_remote_chain_never_reaches_a_local_file(tmp_path: Path, http_server: Any) -> None:
    """remote A -> (relative, so remote) B.h5 -> absolute local C.h5: refused unless allowed;
    the remote B never inherits allow_local_paths."""
    local = tmp_path / "C.h5"
    with h5py.File(local, "w") as f:
        f.create_dataset("x", data=[1, 2, 3])
    with h5py.File(http_server.root / "B.h5", "w") as f:
        f["local"] = h5py.ExternalLink(str(local), "/x")
        f.create_dataset("y", data=[4, 5])
    with File(http_server.root / "A.lindi.json", "w") as f:
        f["b"] = ExternalLink("B.h5", "/")
        f["abs"] = ExternalLink(str(local), "/x")
        f["up"] = ExternalLink("../../../../../../../../" + str(local).lstrip("/"), "/x")
    for allow in (False, True):
        with File(http_server.url("A.lindi.json"), allow_local_paths=allow) as f:
            assert f["b/y"][()].tolist() == [4, 5]
            with pytest.raises(ChunkRefError):
                f["b/local"]  # the remote B may never read local paths
            with pytest.raises((KeyError, RemoteReadError), match="404|not exist"):
                f["up"]  # a relative name is a URL on the server, not a local path
            if not allow:
                with pytest.raises(ChunkRefError):
                    f["abs"]
                with pytest.raises(ChunkRefError):
                    f.get("abs")
                with pytest.raises(ChunkRefError):
                    "abs/x" in f  # noqa: B015
            else:
                assert f["abs"][()].tolist() == [1, 2, 3]


def test_copy_out_of_a_remote_file_does_not_hand_on_local_links(tmp_path: Path, http_server: Any) -> None:
    with File(http_server.root / "R.lindi.json", "w") as f:
        g = f.create_group("g")
        g["abs"] = ExternalLink("/etc/hostname", "/x")
        f.create_dataset("e/d", data=[1.0, 2.0])
        f._state.container.set_metadata(
            "e/d/.zattrs", {"_EXTERNAL_ARRAY_LINK": {"link_type": "hdf5_dataset", "url": "/etc/hostname", "name": "/x"}}
        )
        f.create_group("h")["rel"] = ExternalLink("other.h5", "/x")
    with File(tmp_path / "dst.lindi.json", "w") as dst, File(http_server.url("R.lindi.json")) as src:
        with pytest.raises(ChunkRefError):
            dst.copy(src["g"], dst, "g")
        assert "g" not in dst
        with pytest.raises(ChunkRefError):
            dst.copy(src["e"], dst, "e")
        assert "e" not in dst
        dst.copy(src["h"], dst, "h")
        assert dst.get("h/rel", getlink=True).filename == http_server.url("other.h5")
    with File(tmp_path / "dst.lindi.json") as dst:
        assert list(dst) == ["h"]


# ---------------------------------------------------------------- all-or-nothing copy / move


def _snapshot(path: Path) -> tuple[dict[str, Any], list[str]]:
    out: dict[str, Any] = {}
    with File(path) as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[()].tolist() if isinstance(o, hdmf_lindi.Dataset) else dict(o.attrs)))
        return out, sorted(f._state.refmap)


@pytest.mark.parametrize("suffix", [".lindi.tar", ".lindi.d"])
@pytest.mark.parametrize("op", ["copy", "move", "copy_other"])
@pytest.mark.parametrize("n", [1, 4])
def test_blob_write_failure_leaves_the_file_as_it_was(tmp_path: Path, suffix: str, op: str, n: int) -> None:
    src_path, other = tmp_path / f"s{suffix}", tmp_path / f"o{suffix}"
    with File(src_path, "w") as f:
        g = f.create_group("src")
        g.attrs["a"] = 1
        for i in range(3):
            g.create_dataset(f"d{i}", data=np.arange(8192, dtype="f8") + i, chunks=(4096,))
    with File(other, "w") as f:
        f.create_dataset("keep", data=[1, 2])
    target = other if op == "copy_other" else src_path
    before = _snapshot(target)
    with File(src_path, "a") as f, File(other, "a") as o:
        container = (o if op == "copy_other" else f)._state.container
        real, calls = container._write_blob, [0]

        def failing(key: str, data: bytes) -> str:
            calls[0] += 1
            if calls[0] == n:
                raise OSError("injected")
            return real(key, data)

        container._write_blob = failing
        with pytest.raises(OSError, match="injected"):
            if op == "copy":
                f.copy("src", "a/b")
            elif op == "move":
                f.move("src", "a/b")
            else:
                f.copy(f["src"], o, "a/b")
        container._write_blob = real
    assert _snapshot(target) == before


@pytest.mark.parametrize("suffix", [".lindi.json", ".lindi.tar"])
def test_failure_between_zarray_and_zattrs_leaves_no_dataset(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"f{suffix}"
    with File(path, "w") as f:
        ds = f.create_dataset("src", data=[1, 2, 3])
        ds.attrs["unit"] = "V"
    before = _snapshot(path)
    with File(path, "a") as f:
        container = f._state.container
        real = container.set_metadata

        def failing(key: str, obj: dict[str, Any]) -> None:
            if key == "dst/.zattrs":
                raise OSError("injected")
            real(key, obj)

        container.set_metadata = failing
        with pytest.raises(OSError, match="injected"):
            f.copy("src", "dst")
        container.set_metadata = real
        assert "dst" not in f
    assert _snapshot(path) == before


# ---------------------------------------------------------------- NWB through NWBLindiIO


@pytest.fixture
def broken_external_link_nwb(tmp_path: Path) -> Path:
    from nwb_mocks import write_linked_nwb

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_linked_nwb(tmp_path / "a")
    shutil.copy(tmp_path / "a/main.nwb", tmp_path / "b/main.nwb")  # raw.h5 is not beside it
    return tmp_path / "b/main.nwb"


def test_nwbhdf5io_reads_a_broken_external_link_with_a_warning(broken_external_link_nwb: Path) -> None:
    from hdmf.backends.warnings import BrokenLinkWarning
    from pynwb import NWBHDF5IO

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.warns(BrokenLinkWarning), NWBHDF5IO(str(broken_external_link_nwb), "r") as io:
            assert "linked" in io.read().acquisition


def test_nwblindiio_reads_a_broken_external_link_with_a_warning(broken_external_link_nwb: Path) -> None:
    from hdmf.backends.warnings import BrokenLinkWarning

    from hdmf_lindi.nwb import NWBLindiIO

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.warns(BrokenLinkWarning), NWBLindiIO(str(broken_external_link_nwb), "r") as io:
            assert "linked" in io.read().acquisition
