"""Concurrent writers through the tree API (issue 15, item 1): no append is ever lost.

N processes each open the same file M times in mode ``a``, add one dataset and close. With
``lock_timeout`` every append lands; without waiting, each append either lands or its caller
got ``FileLockedError`` -- and the file holds exactly the appends that were reported done.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hdmf_lindi import File
from hdmf_lindi.errors import FileLockedError

N_PROCS = 4
M_APPENDS = 10
FORMS = (".lindi.json", ".lindi.tar", ".lindi.d")
CTX = mp.get_context("fork")


def _appender(path: str, proc: int, timeout: float, start: Any, done: Any) -> None:
    start.wait(30)
    for i in range(M_APPENDS):
        try:
            with File(path, "a", lock_timeout=timeout) as f:
                f.create_dataset(f"p{proc}_{i}", data=np.full(300, proc * 100 + i, dtype="i8"))
        except FileLockedError:
            continue
        done.put(f"p{proc}_{i}")


def _run(path: Path, timeout: float) -> set[str]:
    start, done = CTX.Event(), CTX.Queue()
    procs = [CTX.Process(target=_appender, args=(str(path), p, timeout, start, done)) for p in range(N_PROCS)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    reported = set()
    while not done.empty():
        reported.add(done.get())
    return reported


@pytest.mark.parametrize("suffix", FORMS)
def test_waiting_writers_lose_nothing(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"h{suffix}"
    File(path, "w").close()
    reported = _run(path, timeout=60)
    expected = {f"p{p}_{i}" for p in range(N_PROCS) for i in range(M_APPENDS)}
    assert reported == expected
    with File(path) as f:
        assert set(f.keys()) == expected
        assert all(f[name][0] == int(name[1]) * 100 + int(name.split("_")[1]) for name in expected)
    assert [n for n in os.listdir(tmp_path) if n != path.name] == []  # no sidecar, no temp file


@pytest.mark.parametrize("suffix", FORMS)
def test_refused_writers_know(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"h{suffix}"
    File(path, "w").close()
    reported = _run(path, timeout=0)
    with File(path) as f:
        assert set(f.keys()) == reported  # each append landed exactly when its caller was told so
    assert reported  # at least the first writer of all got in
