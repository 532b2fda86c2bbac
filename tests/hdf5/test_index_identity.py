"""Source identities recorded by ``index_hdf5`` and checked on every read (issue 15, item 3).

A source replaced by a file of the same layout but other values must raise
``SourceChangedError`` on the first read, locally and over HTTP, before any wrong value is
returned; an unchanged remote source must cost exactly the requests it cost before.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
from httpserver import RangeServer

from hdmf_lindi import File, index_hdf5
from hdmf_lindi.errors import SourceChangedError
from hdmf_lindi.storage import ReferenceMap, open_container
from hdmf_lindi.storage.identity import SourceIdentity, read_identities

FORMS = ("json", "tar", "d")


def _write_h5(path: Path, seed: int) -> np.ndarray:
    values = np.random.default_rng(seed).random((400, 50))
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=values, chunks=(100, 50))
        f.create_dataset("small", data=np.arange(5) + seed)
    return values


def _replace_same_layout(path: Path, seed: int) -> np.ndarray:
    """Rewrite ``path`` with other values and the same layout; keep its size, move its mtime."""
    st = os.stat(path)
    values = _write_h5(path, seed)
    assert os.stat(path).st_size == st.st_size
    os.utime(path, ns=(st.st_mtime_ns + 10**9, st.st_mtime_ns + 10**9))
    return values


@pytest.mark.parametrize("form", FORMS)
def test_local_index_records_identity_and_catches_replacement(tmp_path: Path, form: str) -> None:
    src = tmp_path / "src.h5"
    values = _write_h5(src, 1)
    index = tmp_path / f"i.lindi.{form}"
    index_hdf5(src, index)
    with open_container(index) as c:
        recorded = read_identities(c.refmap)
    st = os.stat(src)
    assert recorded == {str(src.resolve()): SourceIdentity(st.st_size, mtime_ns=st.st_mtime_ns)}
    with File(index) as f:
        np.testing.assert_array_equal(f["x"][()], values)
    _replace_same_layout(src, 2)
    with File(index) as f:
        np.testing.assert_array_equal(f["small"][()], np.arange(5) + 1)  # inline: still right
        with pytest.raises(SourceChangedError) as info:
            f["x"][:10]
    err = info.value
    assert err.url == str(src.resolve()) and "mtime_ns" in str(err)
    assert err.recorded == recorded[str(src.resolve())]


def test_remote_index_records_etag_and_catches_replacement(tmp_path: Path, http_server: RangeServer) -> None:
    src = http_server.root / "src.h5"
    values = _write_h5(src, 1)
    url = http_server.url("src.h5")
    index = tmp_path / "i.lindi.json"
    index_hdf5(url, index)
    recorded = read_identities(ReferenceMap.from_json(index.read_bytes()))[url]
    assert recorded.size == src.stat().st_size and recorded.etag and recorded.last_modified

    # Unchanged: exactly the requests of the same index without identities.
    bare = tmp_path / "bare.lindi.json"
    doc = json.loads(index.read_text())
    del doc["hdmf_lindi"]["sources"]
    bare.write_text(json.dumps(doc))
    counts = []
    for path in (bare, index):
        http_server.reset()
        with File(path) as f:
            np.testing.assert_array_equal(f["x"][()], values)
            np.testing.assert_array_equal(f["x"][5:7], values[5:7])
        counts.append(len(http_server.requests))
    assert counts[0] == counts[1] > 0

    _replace_same_layout(src, 2)
    http_server.reset()
    with File(index) as f, pytest.raises(SourceChangedError, match="etag"):
        f["x"][:10]
    with File(bare) as f:  # no identity recorded: reads as before (the new values)
        assert not np.array_equal(f["x"][:10], values[:10])


def test_index_of_a_changing_remote_source_fails(tmp_path: Path, http_server: RangeServer) -> None:
    """A source that changes while it is indexed is caught, not mixed into one index."""
    src = http_server.root / "src.h5"
    _write_h5(src, 1)
    seen = []

    def progress(count: int, path: str) -> None:
        if not seen:
            seen.append(path)
            _replace_same_layout(src, 2)

    from hdmf_lindi import IndexOptions

    with pytest.raises(SourceChangedError):
        index_hdf5(http_server.url("src.h5"), tmp_path / "i.lindi.json", options=IndexOptions(progress=progress))
    assert not (tmp_path / "i.lindi.json").exists()


def test_checks_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src.h5"
    _write_h5(src, 1)
    index = tmp_path / "i.lindi.json"
    index_hdf5(src, index)
    values = _replace_same_layout(src, 2)
    monkeypatch.setenv("HDMF_LINDI_CHECK_SOURCES", "0")
    with File(index) as f:
        np.testing.assert_array_equal(f["x"][()], values)
