"""Writers exclude each other (issue 15, item 1) and a flush refuses to overwrite another's commit (item 2).

Real processes (multiprocessing, fork) hold real ``flock`` locks; every form is covered.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from hdmf_lindi.errors import ConcurrentModificationError, FileLockedError, ModeError
from hdmf_lindi.storage import open_container
from hdmf_lindi.storage.locking import lock_path

FORMS = (".lindi.json", ".lindi.tar", ".lindi.d")
CTX = mp.get_context("fork")


def _new(path: Path, **kw: Any) -> None:
    with open_container(path, "w", **kw) as c:
        c.store_chunk("a/0", b"x" * 3000)
        c.set_metadata("a/.zattrs", {"v": 0})


def _hold(path: str, ready: Any, go: Any) -> None:
    """Child: open for writing, say so, wait, write one key, close."""
    with open_container(path, "a") as c:
        ready.set()
        go.wait(30)
        c.set_metadata("held/.zattrs", {"by": os.getpid()})


@pytest.mark.parametrize("suffix", FORMS)
def test_second_writer_is_refused_then_waits(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"f{suffix}"
    _new(path)
    ready, go = CTX.Event(), CTX.Event()
    child = CTX.Process(target=_hold, args=(str(path), ready, go))
    child.start()
    try:
        assert ready.wait(30)
        with pytest.raises(FileLockedError) as info:
            open_container(path, "a")
        assert info.value.holder == f"{child.pid}@{socket.gethostname()}"
        assert str(child.pid) in str(info.value) and str(path) in str(info.value)
        assert isinstance(info.value, OSError)
        with open_container(path, "r") as r:  # readers are never blocked
            assert r.refmap.get_json("a/.zattrs") == {"v": 0}
        for mode in ("r+", "w", "w-", "x"):
            with pytest.raises((FileLockedError, ModeError)):
                open_container(path, mode)
        go.set()
        t0 = time.monotonic()
        with open_container(path, "a", lock_timeout=30) as c:  # waits for the child's close
            assert time.monotonic() - t0 < 30
            assert c.refmap.get_json("held/.zattrs") == {"by": child.pid}  # its commit, then ours
            c.set_metadata("after/.zattrs", {"ok": 1})
    finally:
        go.set()
        child.join(30)
    assert child.exitcode == 0
    assert not os.path.exists(lock_path(str(path)))  # the sidecar is removed on close
    with open_container(path) as r:
        assert r.refmap.get_json("after/.zattrs") == {"ok": 1}


def test_same_process_second_writer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f.lindi.tar"
    with open_container(path, "w"):
        with pytest.raises(FileLockedError, match="another writer"):
            open_container(path, "a")
        with pytest.raises(FileLockedError):
            open_container(path, "a", lock_timeout=0.2)
    with open_container(path, "a"):  # released by close
        pass


def _crash_holding(path: str, ready: Any) -> None:
    c = open_container(path, "a")
    c.set_metadata("lost/.zattrs", {})
    ready.set()
    time.sleep(60)


@pytest.mark.parametrize("suffix", FORMS)
def test_a_crashed_writer_does_not_wedge_the_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"f{suffix}"
    _new(path)
    ready = CTX.Event()
    child = CTX.Process(target=_crash_holding, args=(str(path), ready))
    child.start()
    assert ready.wait(30)
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join(30)
    assert os.path.exists(lock_path(str(path)))  # left behind, unlocked
    with open_container(path, "a") as c:
        assert "lost/.zattrs" not in c.refmap
        c.set_metadata("next/.zattrs", {})
    assert not os.path.exists(lock_path(str(path)))


def test_locking_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f.lindi.json"
    _new(path)
    with open_container(path, "a", locking=False), open_container(path, "a", locking=False):
        assert not os.path.exists(lock_path(str(path)))
    monkeypatch.setenv("HDMF_LINDI_USE_FILE_LOCKING", "FALSE")
    with open_container(path, "a"), open_container(path, "a"):
        pass
    monkeypatch.setenv("HDMF_LINDI_USE_FILE_LOCKING", "BEST_EFFORT")
    with open_container(path, "a"), pytest.raises(FileLockedError):
        open_container(path, "a")
    monkeypatch.setenv("HDMF_LINDI_USE_FILE_LOCKING", "maybe")
    with pytest.raises(ModeError, match="HDMF_LINDI_USE_FILE_LOCKING"):
        open_container(path, "a")
    with pytest.raises(ModeError, match="locking"):
        open_container(path, "a", locking="yes")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- commit check
@pytest.mark.parametrize("suffix", FORMS)
def test_flush_refuses_to_overwrite_a_replaced_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"f{suffix}"
    _new(path)
    mine = open_container(path, "a", locking=False)
    mine.store_chunk("mine/0", b"m" * 5000)
    mine.set_metadata("mine/.zattrs", {})
    with open_container(path, "a", locking=False) as other:  # commits without the lock
        other.store_chunk("other/0", b"o" * 5000)
        other.set_metadata("other/.zattrs", {})
    listing = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(ConcurrentModificationError, match="not saved"):
        mine.flush()
    with pytest.raises(ConcurrentModificationError):
        mine.close()
    assert mine.closed
    with open_container(path) as r:  # the other's content, whole; nothing of mine
        assert "other/.zattrs" in r.refmap and "mine/.zattrs" not in r.refmap
        assert r.read("other/0") == b"o" * 5000
        assert r.read("a/0") == b"x" * 3000
    if suffix == ".lindi.d":  # my blob was removed
        assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == [
            p for p in listing if "mine" not in str(p)
        ]
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


@pytest.mark.parametrize("suffix", FORMS)
def test_new_file_refuses_to_replace_one_created_meanwhile(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"f{suffix}"
    mine = open_container(path, "a", locking=False)  # does not exist yet: created at flush
    mine.set_metadata("mine/.zattrs", {})
    _new(path, locking=False)
    with pytest.raises(ConcurrentModificationError, match="was created"):
        mine.close()
    with open_container(path) as r:
        assert r.refmap.get_json("a/.zattrs") == {"v": 0}
    replacing = open_container(path, "w", locking=False)  # mode w replaces on purpose
    replacing.set_metadata("w/.zattrs", {})
    replacing.close()
    with open_container(path) as r:
        assert "a/.zattrs" not in r.refmap and "w/.zattrs" in r.refmap


def test_own_successive_flushes_pass_the_check(tmp_path: Path) -> None:
    for suffix in FORMS:
        path = tmp_path / f"g{suffix}"
        with open_container(path, "w") as c:
            for i in range(3):
                c.store_chunk(f"k/{i}", bytes([i]) * 2000)
                c.set_metadata(f"k{i}/.zattrs", {})
                c.flush()
        with open_container(path) as r:
            assert r.read("k/2") == b"\x02" * 2000
