"""Files opened before ``fork`` (multiprocessing's default start method on Linux) work in the child.

The decode pool and the fetcher's HTTP pool are threads: a forked child inherits the pool objects
but not their threads, so work sent to them would never run (the child hung before this was
handled). The child must also not share the parent's HTTP connections.
"""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from httpserver import RangeServer

import hdmf_lindi

DATA = np.arange(100_000, dtype="<i8").reshape(1000, 100)


def _child(file: Any, queue: Any) -> None:
    queue.put(int(file["x"][100:900].sum()))


def _read_in_forked_child(file: hdmf_lindi.File) -> int:
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(file, queue))
    proc.start()
    proc.join(30)
    if proc.is_alive():
        proc.kill()
        pytest.fail("the forked child hung reading a file opened before the fork")
    assert proc.exitcode == 0
    return int(queue.get(timeout=5))


@pytest.fixture
def gzip_tar(tmp_path: Path) -> Path:
    path = tmp_path / "x.lindi.tar"
    with hdmf_lindi.File(path, "w") as f:
        f.create_dataset("x", data=DATA, chunks=(50, 100), compression="gzip")
    return path


def test_local_file_read_before_and_after_fork(gzip_tar: Path) -> None:
    with hdmf_lindi.File(gzip_tar, chunk_cache_bytes=0) as f:
        assert int(f["x"][...].sum()) == int(DATA.sum())  # the decode pool now exists
        assert _read_in_forked_child(f) == int(DATA[100:900].sum())
        assert int(f["x"][100:900].sum()) == int(DATA[100:900].sum())  # the parent still works


def test_remote_file_read_before_and_after_fork(gzip_tar: Path, http_server: RangeServer) -> None:
    (http_server.root / "x.lindi.tar").write_bytes(gzip_tar.read_bytes())
    with hdmf_lindi.File(http_server.url("x.lindi.tar"), chunk_cache_bytes=0) as f:
        assert int(f["x"][...].sum()) == int(DATA.sum())  # the HTTP pool and session exist
        before = len(http_server.requests)
        assert _read_in_forked_child(f) == int(DATA[100:900].sum())
        assert len(http_server.requests) > before  # the child fetched, on its own connections
        assert int(f["x"][100:900].sum()) == int(DATA[100:900].sum())
