"""Compact chunk tables (lct1): the codec, the document entries, and their validation.

Every variant (gaps, out-of-order offsets, several urls, missing chunks, 1-chunk and edge
shards) is written compactly, read back, and compared key by key with the same map written as
one JSON reference per chunk (the flat form). Corrupting any field of a shard or an entry gives
a :class:`~hdmf_lindi.errors.ReferenceMapError`, never a wrong range.
"""

from __future__ import annotations

import base64
import copy
import json
import math
import time
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hdmf_lindi.errors import ReferenceMapError
from hdmf_lindi.storage.chunk_table_codec import (
    SHARD_CHUNKS,
    decode_shard,
    encode_shard,
    shard_rows,
)
from hdmf_lindi.storage.refmap import ChunkTable, RangeRef, ReferenceMap

URL = "https://example.org/data.nwb"
META = {".zgroup": {"zarr_format": 2}, "x/.zarray": {"zarr_format": 2, "shape": [1], "chunks": [1]}}


def _map(table: ChunkTable, path: str = "x") -> ReferenceMap:
    refmap = ReferenceMap(META)
    refmap.set_chunk_table(path, table)
    return refmap


def _roundtrip(refmap: ReferenceMap) -> ReferenceMap:
    return ReferenceMap.from_json(refmap.to_json())


def _flat(refmap: ReferenceMap) -> dict[str, Any]:
    return dict(refmap.to_dict(expand_tables=True, use_templates=False)["refs"])


def _table(rng: np.random.Generator, grid: tuple[int, ...], *, missing: float = 0.0, shuffle: bool = False,
           n_urls: int = 1, source_size: int | None = None) -> ChunkTable:
    size = math.prod(grid)
    lengths = rng.integers(1, 5000, size)
    offsets = 2048 + np.concatenate([[0], np.cumsum(lengths[:-1] + rng.integers(0, 3, size - 1))]) if size else np.zeros(0)
    if shuffle:
        order = rng.permutation(size)
        offsets, lengths = offsets[order], lengths[order]
    if missing:
        offsets = np.where(rng.random(size) < missing, -1, offsets)
    urls = [f"{URL}.{i}" for i in range(n_urls)] if n_urls > 1 else None
    url_index = rng.integers(0, n_urls, size) if n_urls > 1 else None
    return ChunkTable(URL if urls is None else urls[0], grid, offsets, lengths, urls=urls, url_index=url_index,
                      compact=True, source_size=source_size)


SMALL_SHARDS = 64  # the variants use small shards, so that each spans several


@pytest.fixture
def small_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    from hdmf_lindi.storage import chunk_table_codec

    monkeypatch.setattr(chunk_table_codec, "SHARD_CHUNKS", SMALL_SHARDS)


VARIANTS = {
    "gaps": dict(grid=(300, 7)),
    "out_of_order": dict(grid=(500,), shuffle=True),
    "several_urls": dict(grid=(70, 3, 2), n_urls=3),
    "missing": dict(grid=(400, 3), missing=0.3),
    "all_missing_shard": dict(grid=(10,), missing=1.0),
    "one_chunk": dict(grid=(1,)),
    "one_row_shards": dict(grid=(3, SMALL_SHARDS + 1)),  # a grid row above the target: one row per shard
    "one_chunk_shards": dict(grid=(4, SMALL_SHARDS, 2, 1)),
    "edge_shard": dict(grid=(SMALL_SHARDS // 5 * 2 + 3, 5)),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.usefixtures("small_shards")
def test_every_variant_reads_equal_to_the_flat_form(variant: str) -> None:
    table = _table(np.random.default_rng(len(variant)), **VARIANTS[variant])  # type: ignore[arg-type]
    refmap = _map(table)
    flat = _flat(refmap)
    doc = json.loads(refmap.to_json())
    entry = doc["hdmf_lindi"]["chunkTables"]["x"]
    assert not any(k.startswith("x/") and not k.startswith("x/.") for k in doc["refs"])  # no chunk keys
    assert len(entry["shards"]) == table.n_shards
    assert entry["shardRows"] == shard_rows(table.grid) and (table.n_shards > 1 or math.prod(table.grid) <= 64)
    back = ReferenceMap.from_dict(doc)
    again = back.chunk_table("x")
    assert again is not None and again.pending == bool(table.n_shards)
    assert again.count == table.count
    for key, value in flat.items():
        if key.startswith("x/") and not key.startswith("x/."):
            assert back.get(key) == RangeRef(*value)
    assert _flat(back) == flat
    if table.n_shards:  # an absent chunk stays absent
        absent = np.flatnonzero(table.offsets < 0)
        if absent.size:
            assert back.get("x/" + table.chunk_keys(absent[:1])[0]) is None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-1, 2**40), st.integers(0, 2**33), st.integers(0, 2)),
        min_size=1, max_size=300,
    ),
    st.booleans(),
)
def test_shard_round_trip_property(rows: list[tuple[int, int, int]], with_urls: bool) -> None:
    offsets = np.array([r[0] for r in rows], dtype=np.int64)
    lengths = np.array([r[1] if r[0] >= 0 else 0 for r in rows], dtype=np.int64)
    urls = np.array([r[2] for r in rows]) if with_urls else None
    data = encode_shard(offsets, lengths, urls)
    cols = decode_shard(data, entries=len(rows), count=int((offsets >= 0).sum()), n_urls=3)
    present = offsets >= 0
    assert np.array_equal(cols.offsets, np.where(present, offsets, -1))
    assert np.array_equal(cols.lengths[present], lengths[present])
    if with_urls:
        assert cols.url_index is not None and urls is not None
        assert np.array_equal(cols.url_index[present], urls[present])
    else:
        assert cols.url_index is None


def test_fixed_size_chunks_take_well_under_two_bytes_each() -> None:
    n = 200_000
    offsets = 4096 + np.arange(n, dtype=np.int64) * 128
    table = ChunkTable(URL, (n,), offsets, np.full(n, 128), compact=True)
    entry = json.loads(_map(table).to_json())["hdmf_lindi"]["chunkTables"]["x"]
    nbytes = sum(s[1] for s in entry["shards"])
    assert nbytes < 0.05 * n


def test_a_million_chunks_encode_and_decode_in_well_under_a_second() -> None:
    rng = np.random.default_rng(1)
    grid = (1000, 1000)
    lengths = rng.integers(100, 140, 10**6)
    offsets = 10_000 + np.concatenate([[0], np.cumsum(lengths[:-1])])
    refmap = _map(ChunkTable(URL, grid, offsets, lengths, compact=True))
    text = refmap.to_json()
    assert len(text) < 2.0 * 10**6 * 4 / 3 + 10_000  # <= 2 bytes per chunk, base64
    start = time.perf_counter()
    back = ReferenceMap.from_json(text)
    table = back.chunk_table("x")
    assert table is not None
    table.load_all()
    assert time.perf_counter() - start < 1.0
    assert np.array_equal(table.offsets, offsets) and np.array_equal(table.lengths, lengths)


def test_first_lookup_loads_only_its_shard() -> None:
    refmap = _roundtrip(_map(_table(np.random.default_rng(2), (4 * SHARD_CHUNKS,))))
    table = refmap.chunk_table("x")
    assert table is not None and table.n_shards == 4
    assert refmap.get(f"x/{2 * SHARD_CHUNKS + 5}") is not None
    assert table._loaded is not None and table._loaded.tolist() == [False, False, True, False]
    refmap.prefetch(["x/0", f"x/{3 * SHARD_CHUNKS}", ".zgroup", "y/0"])
    assert table._loaded is not None and table._loaded.tolist() == [True, False, True, True]
    refmap.prefetch([f"x/{SHARD_CHUNKS}"])
    assert not table.pending


def test_template_urls_and_other_keys_of_hdmf_lindi_survive() -> None:
    refmap = _map(_table(np.random.default_rng(3), (50,)))
    refmap.extra["hdmf_lindi"] = {"sources": {"a": 1}}
    doc = json.loads(refmap.to_json())
    assert doc["hdmf_lindi"]["sources"] == {"a": 1} and "chunkTables" in doc["hdmf_lindi"]
    back = ReferenceMap.from_dict(doc)
    assert back.extra["hdmf_lindi"] == {"sources": {"a": 1}}
    assert json.loads(back.to_json()) == doc  # carried unchanged, not re-encoded


def test_refs_entry_wins_over_the_table_and_is_kept() -> None:
    doc = json.loads(_map(_table(np.random.default_rng(4), (30,))).to_json())
    doc["refs"]["x/3"] = ["other.bin", 0, 7]
    back = ReferenceMap.from_dict(doc)
    assert back.get("x/3") == RangeRef("other.bin", 0, 7)
    assert len(back) == len(doc["refs"]) + 29
    again = json.loads(back.to_json())
    assert again["refs"]["x/3"] == ["other.bin", 0, 7]
    assert again["hdmf_lindi"]["chunkTables"]["x"]["count"] == 29


def test_fallback_link_is_written_for_lindi_and_hidden_from_our_readers() -> None:
    table = _table(np.random.default_rng(5), (20,))
    table.hdf5_path = "acq/data"
    refmap = _map(table)
    refmap.set_json("x/.zattrs", {"unit": "V"})
    doc = json.loads(refmap.to_json())
    assert doc["refs"]["x/.zattrs"] == {
        "unit": "V", "_EXTERNAL_ARRAY_LINK": {"link_type": "hdf5_dataset", "url": URL, "name": "acq/data"},
    }
    back = ReferenceMap.from_dict(doc)
    assert back.get_json("x/.zattrs") == {"unit": "V"}
    assert json.loads(back.to_json()) == doc


# ---------------------------------------------------------------------- corruption
def _doc(**kw: Any) -> dict[str, Any]:
    table = _table(np.random.default_rng(6), (2 * SHARD_CHUNKS + 10,), missing=0.1, source_size=10**12, **kw)
    return json.loads(_map(table).to_json())


def _read_all(doc: dict[str, Any]) -> None:
    refmap = ReferenceMap.from_dict(doc)
    table = refmap.chunk_table("x")
    assert table is not None
    table.load_all()


def _shard_bytes(doc: dict[str, Any]) -> bytearray:
    return bytearray(base64.b64decode(doc["hdmf_lindi"]["chunkTables"]["x"]["data"]["base64"]))


def _set_bytes(doc: dict[str, Any], data: bytes) -> None:
    doc["hdmf_lindi"]["chunkTables"]["x"]["data"]["base64"] = base64.b64encode(data).decode()


ENTRY_DAMAGE = {
    "format": ("format", "lct9", "not an 'lct1' table"),
    "grid": ("grid", [0.5], "bad grid"),
    "count": ("count", 10**9, "bad count"),
    "count_vs_shards": ("count", 5, "its shards hold"),
    "urls": ("urls", [], "bad url list"),
    "shard_rows": ("shardRows", 7, "shardRows"),
    "shards_missing": ("shards", [], "shards expected"),
    "source": ("source", {"size": -1}, "bad source size"),
    "data": ("data", "nope", "'data' must be"),
    "base64": ("data", {"base64": "@@@"}, "not valid base64"),
    "hdf5_path": ("hdf5Path", 3, "bad hdf5Path"),
}


@pytest.mark.parametrize("case", sorted(ENTRY_DAMAGE))
def test_damaged_entry_fields_raise(case: str) -> None:
    field, value, message = ENTRY_DAMAGE[case]
    doc = _doc()
    doc["hdmf_lindi"]["chunkTables"]["x"]["hdf5Path"] = "x"  # the fallback link is looked for first
    doc["refs"]["x/.zattrs"] = {"_EXTERNAL_ARRAY_LINK": {"link_type": "hdf5_dataset", "url": URL, "name": "x"}}
    doc["hdmf_lindi"]["chunkTables"]["x"][field] = value
    with pytest.raises(ReferenceMapError, match=message):
        _read_all(doc)


def test_a_flipped_byte_anywhere_in_a_shard_raises() -> None:
    doc = _doc()
    data = _shard_bytes(doc)
    for pos in range(0, len(data), max(1, len(data) // 97)):
        damaged = copy.deepcopy(doc)
        bad = bytearray(data)
        bad[pos] ^= 0x10
        _set_bytes(damaged, bytes(bad))
        with pytest.raises(ReferenceMapError, match="does not match its directory"):
            _read_all(damaged)


def test_shard_directory_fields_are_checked() -> None:
    doc = _doc()
    shards = doc["hdmf_lindi"]["chunkTables"]["x"]["shards"]
    for field, message in ((1, "does not match its directory"), (2, "does not match its directory")):
        damaged = copy.deepcopy(doc)
        damaged["hdmf_lindi"]["chunkTables"]["x"]["shards"][0][field] += 1
        with pytest.raises(ReferenceMapError, match=message):
            _read_all(damaged)
    damaged = copy.deepcopy(doc)  # counts moved between shards: the total still agrees
    damaged["hdmf_lindi"]["chunkTables"]["x"]["shards"][0][3] += 1
    damaged["hdmf_lindi"]["chunkTables"]["x"]["shards"][1][3] -= 1
    with pytest.raises(ReferenceMapError, match="its directory says"):
        _read_all(damaged)
    damaged = copy.deepcopy(doc)
    damaged["hdmf_lindi"]["chunkTables"]["x"]["data"] = ["./t", 0, shards[-1][0]]
    with pytest.raises(ReferenceMapError, match="outside its"):
        _read_all(damaged)


def test_checksummed_but_inconsistent_shards_raise_specific_errors() -> None:
    """A shard rewritten with a valid crc but wrong content (a buggy writer) is still caught."""
    ones = np.ones(10, dtype=np.int64)
    good = encode_shard(np.arange(10) * 4, ones)
    with pytest.raises(ReferenceMapError, match="covers 10 grid entries, expected 11"):
        decode_shard(good, entries=11)
    with pytest.raises(ReferenceMapError, match="holds 10 chunks"):
        decode_shard(good, entries=10, count=9)
    with pytest.raises(ReferenceMapError, match="past the end"):
        decode_shard(good, entries=10, source_size=36)
    decode_shard(good, entries=10, source_size=37)
    with pytest.raises(ReferenceMapError, match="names url 2"):
        decode_shard(encode_shard(np.arange(3), np.ones(3), np.array([0, 2, 1])), entries=3, n_urls=2)
    with pytest.raises(ReferenceMapError, match="crc32c"):
        decode_shard(good[:-1] + bytes([good[-1] ^ 1]), entries=10)
    with pytest.raises(ReferenceMapError, match="truncated"):
        decode_shard(b"ab", entries=10)
    with pytest.raises(ReferenceMapError, match="negative length|outside"):
        ChunkTable(URL, (2,), [0, 5], [3, -1])
