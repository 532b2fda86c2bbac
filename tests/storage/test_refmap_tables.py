"""ReferenceMap chunk tables: a map holding chunks as a ChunkTable behaves like one holding lists.

Every test builds the same content twice -- once with the chunk references as one
``[url, offset, length]`` list per key, once as a :class:`ChunkTable` -- and compares what the
public API returns. ``to_json`` of a large map takes the fast path (entries written from the
arrays), which must parse back to the same document as ``to_dict``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from hdmf_lindi.errors import ReferenceMapError
from hdmf_lindi.storage.refmap import ChunkTable, RangeRef, ReferenceMap

URL = "https://example.org/f\u00e9.nwb"
META = {
    ".zgroup": {"zarr_format": 2},
    "arr/.zarray": {"zarr_format": 2, "shape": [6, 8], "chunks": [2, 2], "dtype": "<i2"},
    "other/0": ["other.h5", 5, 7],
}


def _grid_table(grid: tuple[int, ...], *, missing: tuple[int, ...] = (), url: str = URL) -> ChunkTable:
    size = int(np.prod(grid))
    offsets = np.arange(size, dtype=np.int64) * 100 + 3
    lengths = np.arange(size, dtype=np.int64) + 10
    offsets[list(missing)] = -1
    return ChunkTable(url, grid, offsets, lengths)


def _as_lists(path: str, table: ChunkTable) -> dict[str, list[Any]]:
    prefix = path + "/" if path else ""
    out = {}
    for flat in range(table.offsets.size):
        if table.offsets[flat] >= 0:
            key = ".".join(str(int(i)) for i in np.unravel_index(flat, table.grid))
            out[prefix + key] = [table.url, int(table.offsets[flat]), int(table.lengths[flat])]
    return out


def _pair(grid: tuple[int, ...] = (3, 4), missing: tuple[int, ...] = (5,), path: str = "arr") -> tuple[ReferenceMap, ReferenceMap]:
    with_table = ReferenceMap(META, tables={path: _grid_table(grid, missing=missing)})
    with_lists = ReferenceMap({**META, **_as_lists(path, _grid_table(grid, missing=missing))})
    return with_table, with_lists


def test_access_is_the_same() -> None:
    table_map, list_map = _pair()
    assert len(table_map) == len(list_map) == len(META) + 11
    assert sorted(table_map) == sorted(list_map)
    assert table_map.keys()[: len(META)] == list(META)  # inline entries first, in insertion order
    for key in list_map:
        assert key in table_map
        assert table_map.get(key) == list_map.get(key)
        assert table_map.raw(key) == list_map.raw(key)
    assert table_map.get("arr/0.1") == RangeRef(URL, 103, 11)
    assert table_map.to_dict() == list_map.to_dict()


@pytest.mark.parametrize("key", ["arr/1.1", "arr/3.0", "arr/0.4", "arr/0", "arr/0.0.0", "arr/00.1", "arr/0.+1", "arr/\u0661.0", "arx/0.0"])
def test_absent_or_non_canonical_keys(key: str) -> None:
    table_map, list_map = _pair()  # flat index 5 = chunk (1, 1) has no reference
    assert key not in table_map and key not in list_map
    assert table_map.get(key) is None
    with pytest.raises(KeyError):
        table_map.raw(key)
    assert table_map.get_json(key) is None


def test_metadata_key_in_a_table_is_rejected_by_get_json() -> None:
    table_map, _ = _pair()
    with pytest.raises(ReferenceMapError, match=r"'arr/0\.0'.* byte-range reference"):
        table_map.get_json("arr/0.0")


def test_setting_a_table_key_overrides_it() -> None:
    table_map, list_map = _pair()
    for refmap in (table_map, list_map):
        refmap.dirty = False
        refmap.set_range("arr/0.0", "x.h5", 1, 2)
        refmap.set_bytes("arr/1.1", b"\x00\x01")  # absent before
        assert refmap.dirty
    assert sorted(table_map) == sorted(list_map)
    assert len(table_map) == len(list_map)
    assert table_map.get("arr/0.0") == RangeRef("x.h5", 1, 2)
    assert table_map.raw("arr/1.1") == list_map.raw("arr/1.1")
    assert table_map.to_dict() == list_map.to_dict()


def test_delete_removes_a_table_entry() -> None:
    table_map, _ = _pair()
    table_map.dirty = False
    table_map.delete("arr/2.3")
    assert table_map.dirty and "arr/2.3" not in table_map and len(table_map) == len(META) + 10
    table_map.dirty = False
    table_map.delete("arr/2.3")
    assert not table_map.dirty


def test_constructor_entry_wins_over_the_table() -> None:
    refmap = ReferenceMap({**META, "arr/0.0": ["y.h5", 9, 9]}, tables={"arr": _grid_table((3, 4))})
    assert refmap.get("arr/0.0") == RangeRef("y.h5", 9, 9)
    assert refmap.keys().count("arr/0.0") == 1
    assert len(refmap) == len(META) + 12


def test_set_chunk_table_replaces_entries_of_its_grid() -> None:
    refmap = ReferenceMap({**META, "arr/0.0": ["y.h5", 9, 9], "arr/9.9": ["y.h5", 1, 1], "arr/.zattrs": {}})
    refmap.dirty = False
    refmap.set_chunk_table("arr", _grid_table((3, 4), missing=(0,)))
    assert refmap.dirty
    assert "arr/0.0" not in refmap  # replaced by the table, which has no chunk (0, 0)
    assert refmap.get("arr/9.9") == RangeRef("y.h5", 1, 1)  # outside the grid: kept
    assert "arr/.zattrs" in refmap
    assert refmap.chunk_table("arr") is not None and refmap.chunk_table("nope") is None


def test_root_level_array() -> None:
    table_map, list_map = _pair(grid=(7,), missing=(), path="")
    assert table_map.get("6") == RangeRef(URL, 603, 16)
    assert sorted(table_map) == sorted(list_map)
    assert table_map.to_dict() == list_map.to_dict()


@pytest.mark.parametrize("grid", [(6000,), (100, 60), (10, 20, 30)])
def test_large_map_json_matches_to_dict(grid: tuple[int, ...]) -> None:
    table_map, list_map = _pair(grid=grid, missing=(0, 17))
    data = table_map.to_json()
    assert data.isascii()
    doc = json.loads(data)
    assert doc == json.loads(list_map.to_json()) == list_map.to_dict()
    assert doc["templates"] == {"u1": URL}  # the table's url is used often: a template
    assert doc["refs"]["other/0"] == ["other.h5", 5, 7]
    assert ReferenceMap.from_json(data).get("arr/" + ".".join(["0"] * (len(grid) - 1) + ["5"])) == table_map.get(
        "arr/" + ".".join(["0"] * (len(grid) - 1) + ["5"])
    )


def test_small_map_json_is_the_same_text() -> None:
    table_map, list_map = _pair()
    assert table_map.to_json() == list_map.to_json()


def test_rarely_used_url_stays_literal() -> None:
    big = {f"z/{i}": ["https://a/x", i, 1] for i in range(6000)}
    refmap = ReferenceMap(big, tables={"arr": _grid_table((2, 2), url="rare.h5")})
    doc = json.loads(refmap.to_json())
    assert doc["templates"] == {"u1": "https://a/x"}
    assert doc["refs"]["arr/1.1"] == ["rare.h5", 303, 13]
    assert doc["refs"]["z/7"] == ["{{u1}}", 7, 1]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((URL, (2, 2), [0, 1, 2], [1, 1, 1]), r"grid \(2, 2\) needs 4 offsets"),
        ((URL, (), [], []), r"grid \(\) needs 1"),
        ((URL, (2,), [0, 1], [1, -1]), r"negative length"),
        (("{{u1}}", (1,), [0], [1]), r"must not use a template"),
    ],
)
def test_invalid_tables_are_rejected(args: tuple[Any, ...], match: str) -> None:
    with pytest.raises(ReferenceMapError, match=match):
        ChunkTable(*args)


def test_table_arrays_are_copied() -> None:
    offsets = np.array([0, 10])
    table = ChunkTable(URL, (2,), offsets, [10, 10])
    offsets[0] = -1
    assert table.count == 2 and table.slot("0") == 0


def test_iter_keys_without_tables_still_finds_every_node() -> None:
    table_map, _ = _pair()
    assert list(table_map.iter_keys(chunk_tables=False)) == list(META)
    assert list(table_map.iter_keys()) == list(table_map) == table_map.keys()
    assert len(table_map.keys()) == len(table_map)
