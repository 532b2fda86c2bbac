"""read_table's default executor: processes when MIN_PROCESS_SOURCES (4) or more sources need
indexing on the fly (h5py's lock serialises threads), threads otherwise and inside daemonic
workers."""

from __future__ import annotations

import logging
import multiprocessing
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from hdmf_lindi.batch import index_many, read_table
from hdmf_lindi.batch.pools import MIN_PROCESS_SOURCES, default_kind, needs_indexing
from hdmf_lindi.errors import NodeNotFoundError
from hdmf_lindi.tree.dandi_open import DandiOptions

URL = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def lindi_files(corpus: list[Path], tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    records = index_many(corpus[:2], tmp_path_factory.mktemp("idx"), max_workers=1)
    return [r.destination for r in records]


def test_needs_indexing(corpus: list[Path], lindi_files: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert needs_indexing(str(corpus[0])) and needs_indexing(f"{URL}/a.nwb") and needs_indexing(f"{URL}/b.h5?x=1")
    assert not needs_indexing(lindi_files[0]) and not needs_indexing(f"{URL}/a.nwb.lindi.json")
    name = "dandi://000001/sub-00/a.nwb"
    assert needs_indexing(name, DandiOptions()) and not needs_indexing(name, DandiOptions(index_locations=("bucket",)))
    monkeypatch.setenv("HDMF_LINDI_DANDI_INDEXES", "https://indexes.example/")
    assert not needs_indexing(name)
    monkeypatch.delenv("HDMF_LINDI_DANDI_INDEXES")
    assert needs_indexing(name)


def test_default_kind(corpus: list[Path], lindi_files: list[str]) -> None:
    assert MIN_PROCESS_SOURCES == 4
    hdf5 = [str(p) for p in corpus[:4]]
    assert default_kind(hdf5) == "processes"
    assert default_kind(hdf5[:3]) == "threads"  # a pool's start costs more than it saves
    assert default_kind([f"{URL}/{i}.nwb" for i in range(4)]) == "processes"
    assert default_kind(lindi_files) == "threads"
    assert default_kind([*hdf5[:3], *lindi_files]) == "threads"  # only the files to index count
    assert default_kind([*hdf5, lindi_files[0]]) == "processes"
    names = [f"dandi://000001/{i}.nwb" for i in range(4)]
    assert default_kind(names, DandiOptions()) == "processes"
    assert default_kind(names, DandiOptions(index_locations=("x",))) == "threads"
    assert default_kind([]) == "threads"


def _kind_in_child(sources: list[str], conn: Connection) -> None:
    conn.send(default_kind(sources))


def test_daemonic_workers_use_threads(corpus: list[Path]) -> None:
    """A multiprocessing.Pool or dask worker is daemonic and may not start processes."""
    ctx = multiprocessing.get_context("fork")
    ours, theirs = ctx.Pipe()
    sources = [str(p) for p in corpus[:4]]
    assert default_kind(sources) == "processes"  # here; not in a daemonic child
    child = ctx.Process(target=_kind_in_child, args=(sources, theirs), daemon=True)
    child.start()
    assert ours.recv() == "threads"
    child.join(10)


def test_hdf5_sources_are_read_in_processes(corpus: list[Path], lindi_files: list[str],
                                            caplog: pytest.LogCaptureFixture) -> None:
    units = [str(p) for p in corpus[0:16:4]]  # every units session
    with caplog.at_level(logging.DEBUG, logger="hdmf_lindi.batch"):
        got = read_table(units, "/units")
    used = [r.getMessage() for r in caplog.records if r.name == "hdmf_lindi.batch.table"]
    assert used == [f"reading {len(units)} tables on ProcessPoolExecutor"]
    assert list(got["source"].unique()) == units and len(got) == sum(3 + i % 4 for i in range(0, 16, 4))
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="hdmf_lindi.batch"):
        read_table(lindi_files[:1], "/units")
    assert [r.getMessage() for r in caplog.records if r.name == "hdmf_lindi.batch.table"] == [
        "reading 1 tables on ThreadPoolExecutor"
    ]


def test_errors_cross_the_process_boundary(corpus: list[Path]) -> None:
    sources = [str(corpus[i]) for i in (0, 4, 8, 2)]  # the last, a series session, has no units
    assert default_kind(sources) == "processes"
    with pytest.raises(NodeNotFoundError, match="has no table '/units'"):
        read_table(sources, "/units")
