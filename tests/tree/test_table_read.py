"""The vectorised read path of table-backed arrays (``tree/table_read.py``).

Real HDF5 files (h5py) are indexed with compact chunk tables (small shards, so a slice spans
several) and read through ``hdmf_lindi.File``; every result is compared with the data h5py wrote
and with the per-chunk path (the fast path switched off), on every table variant: gzip and raw
chunks, edge chunks, missing chunks with a fill value, several urls, chunks appended or rewritten
after the table (they win over it), step slices, and index lists (which fall back).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from httpserver import RangeServer

import hdmf_lindi
from hdmf_lindi.errors import ChunkRefError
from hdmf_lindi.hdf5.indexer import IndexOptions, index_hdf5
from hdmf_lindi.storage import RemoteOptions
from hdmf_lindi.storage.refmap import ChunkTable, ReferenceMap
from hdmf_lindi.tree import array as array_module
from hdmf_lindi.tree import table_read

OPTIONS = IndexOptions(chunk_table_threshold=10)

DATASETS: dict[str, dict[str, Any]] = {
    "gzip_edges": dict(shape=(103, 10), dtype="i4", chunks=(4, 3), compression="gzip"),
    "shuffle_gzip": dict(shape=(500, 3), dtype="f8", chunks=(7, 3), compression="gzip", shuffle=True),
    "raw_rows": dict(shape=(1000, 4), dtype="i2", chunks=(1, 4)),
    "raw_3d_edges": dict(shape=(20, 9, 7), dtype="f4", chunks=(3, 4, 2)),
    "raw_bool": dict(shape=(3000,), dtype="?", chunks=(40,)),
}

SELECTIONS: list[Any] = [
    np.s_[...],
    np.s_[3:97],
    np.s_[5],
    np.s_[::3],
    np.s_[10:90:7],
    np.s_[1:200:2, ...],
    np.s_[-40:],
]
SELECTIONS_ND: list[Any] = [
    np.s_[:, 1],
    np.s_[2:95, 1:9:2],
    np.s_[4:60:5, 2],
    np.s_[:, 1:2, ::3],
    np.s_[7, :, 1:],
]


def _values(spec: dict[str, Any]) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(len(spec["shape"]) * 7 + spec["shape"][0])
    shape, dtype = spec["shape"], np.dtype(spec["dtype"])
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    return (rng.random(shape) * 1000 - 500).astype(dtype)


@pytest.fixture(autouse=True)
def small_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hdmf_lindi.storage.chunk_table_codec.SHARD_CHUNKS", 64)
    monkeypatch.setattr("hdmf_lindi.storage.compact_tables.INLINE_MAX_BYTES", 0)  # shards in a blob


@pytest.fixture
def fast_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Records whether each read took the fast path."""
    calls: list[bool] = []
    real = table_read.read_from_table

    def spy(*args: Any) -> bool:
        used = real(*args)
        calls.append(used)
        return used

    monkeypatch.setattr(array_module, "read_from_table", spy)
    yield calls


def _per_chunk(ds: Any, sel: Any, monkeypatch: pytest.MonkeyPatch) -> np.ndarray[Any, Any]:
    with monkeypatch.context() as m:
        m.setattr(array_module, "read_from_table", lambda *a: False)
        return np.asarray(ds[sel])


def _selections(ndim: int) -> list[Any]:
    return SELECTIONS + [s for s in SELECTIONS_ND if len(s) <= ndim]


@pytest.mark.parametrize("name", sorted(DATASETS))
@pytest.mark.parametrize("suffix", [".lindi.json", ".lindi.tar"])
def test_every_variant_reads_equal_to_h5py_and_the_per_chunk_path(
    tmp_path: Path, name: str, suffix: str, fast_calls: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = dict(DATASETS[name])
    values = _values(spec)
    src = tmp_path / "src.h5"
    with h5py.File(src, "w") as f:
        f.create_dataset("x", data=values, **{k: v for k, v in spec.items() if k not in ("shape", "dtype")})
    index_hdf5(src, tmp_path / ("i" + suffix), options=OPTIONS)
    with hdmf_lindi.File(tmp_path / ("i" + suffix)) as f:
        ds = f["x"]
        table = f._state.refmap.chunk_table("x")
        assert table is not None and table.n_shards > 1
        for sel in _selections(values.ndim):
            got = ds[sel]
            assert got.dtype == values.dtype and np.array_equal(got, values[sel]), sel
            assert np.array_equal(got, _per_chunk(ds, sel, monkeypatch)), sel
    assert sum(fast_calls) >= 2, fast_calls  # the large selections took the fast path


def test_missing_chunks_read_as_the_fill_value(tmp_path: Path, fast_calls: list[bool]) -> None:
    src = tmp_path / "src.h5"
    expected = np.full((400, 6), 5, dtype=np.int16)
    with h5py.File(src, "w") as f:
        for kwargs in ({}, {"compression": "gzip"}):
            name = "gz" if kwargs else "raw"
            ds = f.create_dataset(name, shape=(400, 6), dtype="i2", chunks=(2, 3), fillvalue=5, **kwargs)
            for start in range(0, 400, 10):  # written: rows 0-3 of every 10 (two chunk rows)
                ds[start:start + 4] = np.arange(24, dtype=np.int16).reshape(4, 6) + start
                expected[start:start + 4] = np.arange(24, dtype=np.int16).reshape(4, 6) + start
    index_hdf5(src, tmp_path / "i.lindi.tar", options=OPTIONS)
    with hdmf_lindi.File(tmp_path / "i.lindi.tar") as f:
        for name in ("raw", "gz"):
            table = f._state.refmap.chunk_table(name)
            assert table is not None and table.count < 400 * 2
            for sel in (np.s_[...], np.s_[3:377:3, 1:], np.s_[5:395, 4]):
                assert np.array_equal(f[name][sel], expected[sel]), (name, sel)
    assert all(fast_calls[:2]), fast_calls


def test_several_urls_and_holes(tmp_path: Path, fast_calls: list[bool]) -> None:
    """A table over two raw files, chunks alternating between them, some without a reference."""
    values = np.arange(600 * 4, dtype="<i4").reshape(600, 4)
    files = [tmp_path / "a.bin", tmp_path / "b.bin"]
    chunk_bytes = [values[i].tobytes() for i in range(600)]
    url_index = np.array([i % 2 if i % 3 else 1 - i % 2 for i in range(600)], dtype=np.uint16)
    offsets = np.zeros(600, dtype=np.int64)
    for k, path in enumerate(files):
        mine = np.flatnonzero(url_index == k)
        path.write_bytes(b"\0" * 100 + b"".join(chunk_bytes[i] for i in mine[::-1]))  # reversed order
        offsets[mine[::-1]] = 100 + 16 * np.arange(len(mine))
    offsets[::17] = -1
    expected = values.copy()
    expected[::17] = -3
    table = ChunkTable(str(files[0]), (600, 1), offsets, np.full(600, 16), urls=[str(p) for p in files],
                       url_index=url_index, compact=True)
    refmap = ReferenceMap({".zgroup": {"zarr_format": 2}, "x/.zattrs": {}, "x/.zarray": {
        "zarr_format": 2, "shape": [600, 4], "chunks": [1, 4], "dtype": "<i4", "compressor": None,
        "fill_value": -3, "filters": None, "order": "C"}})
    refmap.set_chunk_table("x", table)
    path = tmp_path / "m.lindi.json"
    path.write_bytes(refmap.to_json())
    with hdmf_lindi.File(path) as f:
        for sel in (np.s_[...], np.s_[33:580:4, 1:3], np.s_[100:300, 0]):
            assert np.array_equal(f["x"][sel], expected[sel]), sel
    assert all(fast_calls), fast_calls


def test_chunks_written_after_the_table_win(tmp_path: Path, fast_calls: list[bool]) -> None:
    values = _values(DATASETS["gzip_edges"])
    src = tmp_path / "src.h5"
    with h5py.File(src, "w") as f:
        f.create_dataset("x", data=values, chunks=(4, 3), compression="gzip", maxshape=(None, 10))
    for suffix in (".lindi.json", ".lindi.tar", ".lindi.d"):
        path = tmp_path / ("a" + suffix)
        index_hdf5(src, path, options=OPTIONS)
        expected = np.concatenate([values, np.full((20, 10), 9, dtype=values.dtype)])
        expected[40:45] = -7
        with hdmf_lindi.File(path, "a") as f:
            ds = f["x"]
            ds.resize((123, 10))
            ds[103:] = 9
            ds[40:45] = -7
            assert np.array_equal(ds[...], expected), suffix  # in the same session
        with hdmf_lindi.File(path) as f:
            assert f._state.refmap.chunk_table("x") is not None
            for sel in (np.s_[...], np.s_[30:120:3, 2:], np.s_[95:, 9]):
                assert np.array_equal(f["x"][sel], expected[sel]), (suffix, sel)
    assert sum(fast_calls) >= 6, fast_calls  # the small ``[95:, 9]`` (7 chunks) takes the per-chunk path


def test_a_refs_entry_shadowing_a_table_entry_wins(tmp_path: Path, fast_calls: list[bool]) -> None:
    """A document whose ``refs`` holds a chunk key its table holds too (lindi-style append)."""
    values = _values(DATASETS["raw_rows"])
    src = tmp_path / "src.h5"
    with h5py.File(src, "w") as f:
        f.create_dataset("x", data=values, chunks=(1, 4))
    index_hdf5(src, tmp_path / "i.lindi.json", options=OPTIONS)
    doc = json.loads((tmp_path / "i.lindi.json").read_text())
    assert "x" in doc["hdmf_lindi"]["chunkTables"]
    replaced = np.array([11, 22, 33, 44], dtype=values.dtype)
    doc["refs"]["x/500.0"] = "base64:" + base64.b64encode(replaced.tobytes()).decode()
    (tmp_path / "j.lindi.json").write_text(json.dumps(doc))
    expected = values.copy()
    expected[500] = replaced
    with hdmf_lindi.File(tmp_path / "j.lindi.json") as f:
        assert np.array_equal(f["x"][450:550], expected[450:550])
        assert np.array_equal(f["x"][...], expected)
    assert all(fast_calls), fast_calls


def test_index_lists_and_small_reads_take_the_per_chunk_path(tmp_path: Path, fast_calls: list[bool]) -> None:
    values = _values(DATASETS["raw_rows"])
    src = tmp_path / "src.h5"
    with h5py.File(src, "w") as f:
        f.create_dataset("x", data=values, chunks=(1, 4))
    index_hdf5(src, tmp_path / "i.lindi.tar", options=OPTIONS)
    with hdmf_lindi.File(tmp_path / "i.lindi.tar") as f:
        rows = [1, 5, 9, 300, 301, 999]
        assert np.array_equal(f["x"][rows, 1:], values[rows, 1:])
        assert np.array_equal(f["x"][10:20], values[10:20])
        assert np.array_equal(f["x"][10:200], values[10:200])
    assert fast_calls == [False, False, True]


def test_a_damaged_chunk_raises_naming_it(tmp_path: Path) -> None:
    values = _values(DATASETS["gzip_edges"])
    src = tmp_path / "src.h5"
    with h5py.File(src, "w") as f:
        f.create_dataset("x", data=values, chunks=(4, 3), compression="gzip")
    index_hdf5(src, tmp_path / "i.lindi.json", options=OPTIONS)
    with hdmf_lindi.File(tmp_path / "i.lindi.json") as f:
        table = f._state.refmap.chunk_table("x")
        assert table is not None
        offset, length = int(table.offsets[37]), int(table.lengths[37])
    data = bytearray(src.read_bytes())
    data[offset:offset + length] = b"\xff" * length
    stat = src.stat()
    src.write_bytes(bytes(data))
    os.utime(src, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # damage the identity check cannot see
    with hdmf_lindi.File(tmp_path / "i.lindi.json") as f, pytest.raises(ChunkRefError, match="x/9.1"):
        f["x"][...]


def test_remote_slice_is_one_shard_and_the_coalesced_data(tmp_path: Path, http_server: RangeServer) -> None:
    values = _values(DATASETS["raw_rows"])
    served = http_server.root / "src.h5"
    with h5py.File(served, "w") as f:
        f.create_dataset("x", data=values, chunks=(1, 4))
        f.create_dataset("z", data=values, chunks=(5, 4), compression="gzip")
    index_hdf5(served, http_server.root / "i.lindi.tar", options=IndexOptions(
        chunk_table_threshold=10, url=http_server.url("src.h5")))
    with hdmf_lindi.File(http_server.url("i.lindi.tar")) as f:
        http_server.reset()
        assert np.array_equal(f["x"][100:700], values[100:700])
        got = [r.path for r in http_server.requests]
        assert np.array_equal(f["z"][::2, 1:3], values[::2, 1:3])
    data = [p for p in got if p.endswith("src.h5")]
    # the data in one range; the shards came with the archive's first read at opening
    assert len(data) == 1 and len(got) == 1, got


def test_remote_shards_beyond_the_first_read_cost_one_request(
    tmp_path: Path, http_server: RangeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Table blobs the opening reads did not cover are fetched on first use, all in one request."""
    from hdmf_lindi.storage import tar_container

    monkeypatch.setattr(tar_container, "_READ_AHEAD_BYTES", 0)  # opening reads stop at lindi.json
    values = _values(DATASETS["raw_rows"])
    served = http_server.root / "src.h5"
    with h5py.File(served, "w") as f:
        f.create_dataset("x", data=values, chunks=(1, 4))
        f.create_dataset("z", data=values, chunks=(5, 4), compression="gzip")
    index_hdf5(served, http_server.root / "i.lindi.tar", options=IndexOptions(
        chunk_table_threshold=10, url=http_server.url("src.h5")))
    small = RemoteOptions(initial_read_bytes=512)  # the head only: every later part is fetched
    with hdmf_lindi.File(http_server.url("i.lindi.tar"), options=small) as f:
        http_server.reset()
        assert np.array_equal(f["x"][100:700], values[100:700])
        got = [r.path for r in http_server.requests]
    data = [p for p in got if p.endswith("src.h5")]
    assert len(data) == 1 and len(got) == 2 and got[0].endswith("i.lindi.tar"), got


@pytest.mark.parametrize("suffix", [".lindi.tar", ".lindi.d"])
def test_a_table_over_the_containers_own_blobs(tmp_path: Path, suffix: str, fast_calls: list[bool]) -> None:
    """Chunks stored as one blob of the container (``./NAME`` urls), zlib and raw runs."""
    import zlib

    from hdmf_lindi.storage.containers import open_container

    values = np.arange(500 * 3, dtype="<f8").reshape(500, 3) / 7
    path = tmp_path / ("own" + suffix)
    with open_container(path, "w") as c:
        c.set_metadata(".zgroup", {"zarr_format": 2})
        for name, compress in (("z", True), ("r", False)):
            blobs = [zlib.compress(row.tobytes()) if compress else row.tobytes() for row in values]
            url = "./" + c._write_blob(f"{name}/blob", b"".join(blobs))
            offsets = np.concatenate([[0], np.cumsum([len(b) for b in blobs])[:-1]])
            offsets[7::50] = -1
            compressor = {"id": "zlib", "level": 1} if compress else None
            c.set_metadata(f"{name}/.zarray", {
                "zarr_format": 2, "shape": [500, 3], "chunks": [1, 3], "dtype": "<f8",
                "compressor": compressor, "fill_value": 0.5, "filters": None, "order": "C"})
            c.set_metadata(f"{name}/.zattrs", {})
            c.refmap.set_chunk_table(name, ChunkTable(url, (500, 1), offsets, [len(b) for b in blobs], compact=True))
    expected = values.copy()
    expected[7::50] = 0.5
    with hdmf_lindi.File(path) as f:
        for name in ("z", "r"):
            for sel in (np.s_[...], np.s_[3:480:2, 1:]):
                assert np.array_equal(f[name][sel], expected[sel]), (name, sel)
    assert fast_calls == [True] * 4
