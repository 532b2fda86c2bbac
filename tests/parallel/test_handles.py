"""Picklable handles (issue 16, step 2): by location, small, reopened once per process, checked.

Everything runs in this process (the cross-process runs are in ``test_distributed.py``): a
handle unpickled here has no live dataset, so it reads through the per-process cache exactly as
a dask worker would. Each test gets a fresh cache (``fresh_cache``) so that counts are its own.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from httpserver import RangeServer
from parallel_samples import SUFFIXES, write_nwb, write_sample

import hdmf_lindi
from hdmf_lindi import NWBLindiIO
from hdmf_lindi.errors import NotPicklableError, SourceChangedError
from hdmf_lindi.storage import ReferenceMap, RemoteOptions
from hdmf_lindi.tree import handle as handle_module
from hdmf_lindi.tree.handle import DatasetHandle, FileHandle, OpenFiles


@pytest.fixture
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenFiles]:
    cache = OpenFiles(maxsize=8)
    monkeypatch.setattr(handle_module, "OPEN_FILES", cache)
    yield cache
    cache.close_all()


def _round_trip(obj: object) -> object:
    return pickle.loads(pickle.dumps(obj))


@pytest.mark.parametrize("kind", ["json", "tar", "dir"])
def test_handles_pickle_small_and_read_the_same_values(tmp_path: Path, kind: str, fresh_cache: OpenFiles) -> None:
    path, expected = write_sample(tmp_path, kind)
    with hdmf_lindi.File(path) as f:
        for name, want in expected.items():
            blob = pickle.dumps(DatasetHandle.of(f[name]))
            assert len(blob) < 400, (name, len(blob))
            copy = pickle.loads(blob)
            assert copy._live is None
            assert (copy.shape, copy.dtype, copy.chunks) == (want.shape, f[name].dtype, f[name].chunks)
            np.testing.assert_array_equal(copy[...], want)
            np.testing.assert_array_equal(copy[3:17], want[3:17])
    # one open for all the datasets of the file, and it stays open after the original closed
    assert fresh_cache.opened == 1 and len(fresh_cache) == 1


def test_url_handle_reopens_with_its_options_and_no_token(
    http_server: RangeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_cache: OpenFiles
) -> None:
    path, expected = write_sample(http_server.root, "tar")
    token = "s3cr3t-dandi-token-6f1d"
    monkeypatch.setenv("HDMF_LINDI_TEST_TOKEN", token)
    host = f"127.0.0.1:{http_server.port}"
    options = RemoteOptions(max_workers=3, dandi_api_hosts=((host, "HDMF_LINDI_TEST_TOKEN"),))
    url = http_server.url(path.name)
    with hdmf_lindi.File(url, options=options) as f:
        handle = DatasetHandle.of(f["data/i16"])
        blob = pickle.dumps(handle)
    assert token.encode() not in blob
    assert handle.file.identity is not None and handle.file.identity.size == path.stat().st_size
    assert handle.file.identity.etag  # the test server sends one
    copy = pickle.loads(blob)
    assert copy.file.remote_options() == options
    assert copy.file.allow_local_paths is False
    np.testing.assert_array_equal(copy[100:300], expected["data/i16"][100:300])
    # the token was in use: the worker-side reopen sent it, read from its own environment
    assert any(r.headers.get("Authorization") == f"token {token}" for r in http_server.requests)


def test_identity_mismatch_on_reopen_is_an_error(tmp_path: Path, fresh_cache: OpenFiles) -> None:
    path, expected = write_sample(tmp_path, "tar")
    with hdmf_lindi.File(path) as f:
        blob = pickle.dumps(DatasetHandle.of(f["data/f8"]))
    copy = pickle.loads(blob)
    np.testing.assert_array_equal(copy[:10], expected["data/f8"][:10])
    # replace the file (same name) with another one: the process that has it open and a
    # fresh one both refuse to read it
    (tmp_path / "again").mkdir()
    replacement, _ = write_sample(tmp_path / "again", "tar", seed=1)
    os.replace(replacement, path)
    with pytest.raises(SourceChangedError, match="changed since this handle was made"):
        pickle.loads(blob)[:10]
    with pytest.raises(SourceChangedError, match="changed"):
        OpenFiles().get(copy.file)


def test_url_identity_mismatch(http_server: RangeServer, tmp_path: Path, fresh_cache: OpenFiles) -> None:
    path, _ = write_sample(http_server.root, "json")
    with hdmf_lindi.File(http_server.url(path.name)) as f:
        blob = pickle.dumps(DatasetHandle.of(f["data/f8"]))
    replacement, _ = write_sample(tmp_path, "json", seed=3)
    shutil.copyfile(replacement, path)
    identity = pickle.loads(blob).file.identity
    assert identity is not None and replacement.stat().st_size != identity.size
    with pytest.raises(SourceChangedError, match="changed"):
        pickle.loads(blob)[:3]


def test_write_modes_and_memory_files_refuse_to_pickle(tmp_path: Path) -> None:
    path, _ = write_sample(tmp_path, "tar")
    with hdmf_lindi.File(path, "a") as f, pytest.raises(NotPicklableError, match="open for writing"):
        pickle.dumps(DatasetHandle.of(f["data/f8"]))
    refmap = ReferenceMap.from_json(hdmf_lindi.File(write_sample(tmp_path, "json", seed=2)[0]).container.refmap.to_json())
    with hdmf_lindi.File(refmap) as f, pytest.raises(NotPicklableError, match="in-memory"):
        DatasetHandle.of(f["data/f8"])
    assert issubclass(NotPicklableError, TypeError)


@pytest.mark.parametrize("suffix", [".nwb.lindi.json", ".nwb.lindi.tar"])
def test_nwb_lindi_dataset_pickles(tmp_path: Path, suffix: str, fresh_cache: OpenFiles) -> None:
    path = tmp_path / f"rec{suffix}"
    expected = write_nwb(path)
    with NWBLindiIO(str(path), "r") as io:
        nwbfile = io.read()
        data = nwbfile.acquisition["ElectricalSeries"].data
        blob = pickle.dumps(data)
        assert len(blob) < 500
        copy = pickle.loads(blob)
        assert type(copy) is type(data) and copy.io is None
        np.testing.assert_array_equal(copy[10:20], expected["data"][10:20])
        np.testing.assert_array_equal(np.asarray(copy), expected["data"])
    with NWBLindiIO(str(path), "a") as io, pytest.raises(NotPicklableError):
        pickle.dumps(io.read().acquisition["ElectricalSeries"].data)


def test_cache_is_bounded_and_never_closes_a_file_in_use(tmp_path: Path) -> None:
    cache = OpenFiles(maxsize=2)
    handles = []
    for seed, kind in enumerate([*SUFFIXES, "json"]):
        path, _ = write_sample(tmp_path, kind, seed=seed)
        with hdmf_lindi.File(path) as f:
            handles.append(FileHandle.of(f))
    with cache.reading(handles[0]) as first:
        with cache.reading(handles[0]) as again:
            assert again is first and cache.opened == 1
        with cache.reading(handles[1]), cache.reading(handles[2]):
            pass
        # evicted while a read is in flight: still open until that read ends
        assert len(cache) == 2 and not first.closed and cache.opened == 3
        assert first["data/f8"][:3].shape == (3,)
    assert first.closed
    # files whose nodes were handed out (unpickled nodes) leave the cache but stay open
    pinned = cache.get(handles[3])
    for h in handles[:3]:
        with cache.reading(h):
            pass
    assert not pinned.closed and len(cache) == 2
    cache.close_all()
    assert len(cache) == 0 and pinned.closed


def _read_in_child(blob: bytes) -> tuple[int, float]:
    copy = pickle.loads(blob)
    total = float(np.asarray(copy[...]).sum())
    return handle_module.OPEN_FILES.opened, total


def test_forked_child_opens_its_own_file(tmp_path: Path) -> None:
    path, expected = write_sample(tmp_path, "tar")
    with hdmf_lindi.File(path) as f:
        blob = pickle.dumps(DatasetHandle.of(f["data/f8"]))
    pickle.loads(blob)[:5]  # the parent has it open in its cache
    with multiprocessing.get_context("fork").Pool(1) as pool:
        opened, total = pool.apply(_read_in_child, (blob,))
    assert opened == 1
    assert total == pytest.approx(float(expected["data/f8"].sum()))


@pytest.mark.parametrize("kind", ["json", "tar", "dir", "url"])
def test_tree_nodes_pickle_by_location(
    tmp_path: Path, kind: str, http_server: RangeServer, fresh_cache: OpenFiles
) -> None:
    where = http_server.root if kind == "url" else tmp_path
    path, expected = write_sample(where, "tar" if kind == "url" else kind)
    location = http_server.url(path.name) if kind == "url" else str(path)
    with hdmf_lindi.File(location) as f:
        blobs = [pickle.dumps(obj) for obj in (f, f["data"], f["data/i16"])]
        assert all(len(b) < 400 for b in blobs), [len(b) for b in blobs]
    file, group, dataset = (pickle.loads(b) for b in blobs)
    assert isinstance(file, hdmf_lindi.File) and file.filename == location and file.mode == "r"
    assert isinstance(group, hdmf_lindi.Group) and group.name == "/data" and group.file is file
    assert isinstance(dataset, hdmf_lindi.Dataset)
    np.testing.assert_array_equal(dataset[...], expected["data/i16"])
    np.testing.assert_array_equal(group["str"][...], expected["data/str"])
    assert fresh_cache.opened == 1


def test_tree_nodes_of_writable_and_memory_files_refuse(tmp_path: Path) -> None:
    path, _ = write_sample(tmp_path, "json")
    with hdmf_lindi.File(path, "r+") as f:
        for obj in (f, f["data"], f["data/f8"]):
            with pytest.raises(NotPicklableError, match="open for writing"):
                pickle.dumps(obj)
    with hdmf_lindi.File(path) as f:
        refmap = ReferenceMap.from_json(f.container.refmap.to_json())
    with hdmf_lindi.File(refmap) as f, pytest.raises(NotPicklableError, match="in-memory"):
        pickle.dumps(f["data"])
    closed = hdmf_lindi.File(path)
    closed.close()
    with pytest.raises(NotPicklableError, match="closed"):
        pickle.dumps(closed)


def test_url_replaced_by_a_file_of_the_same_size(http_server: RangeServer, fresh_cache: OpenFiles) -> None:
    path, _ = write_sample(http_server.root, "tar")
    with hdmf_lindi.File(http_server.url(path.name)) as f:
        blob = pickle.dumps(f["data/f8"])
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # same bytes, new ETag
    with pytest.raises(SourceChangedError, match="etag"):
        pickle.loads(blob)
