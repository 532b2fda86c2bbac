"""``hdmf-lindi info``: the chunk-location summary is exact and linear in the number of references."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from httpserver import RangeServer

import hdmf_lindi
from hdmf_lindi.cli import main
from hdmf_lindi.storage import ReferenceMap
from hdmf_lindi.storage.locations import ChunkLocations, chunk_locations
from hdmf_lindi.storage.refmap import ChunkTable

URL = "https://example.org/data.nwb"


def _zarray(n: int) -> dict[str, object]:
    return {
        "zarr_format": 2, "shape": [n * 4], "chunks": [4], "dtype": "<i4", "compressor": None,
        "fill_value": 0, "filters": None, "order": "C",
    }


def _synthetic(n_arrays: int, n_chunks: int) -> dict[str, object]:
    """Arrays whose chunks are, in turn: external (templated), internal blobs, inline, mixed."""
    refs: dict[str, object] = {".zgroup": {"zarr_format": 2}}
    for a in range(n_arrays):
        path = f"g{a % 7}/a{a}"
        refs[f"g{a % 7}/.zgroup"] = {"zarr_format": 2}
        refs[f"{path}/.zarray"] = _zarray(n_chunks)
        refs[f"{path}/.zattrs"] = {}
        for c in range(n_chunks):
            kind = a % 4 if a % 4 != 3 else c % 3
            if kind == 0:
                refs[f"{path}/{c}"] = ["{{u}}", 16 * c, 16]
            elif kind == 1:
                refs[f"{path}/{c}"] = [f"./blobs/{a}", 16 * c, 16]
            else:
                refs[f"{path}/{c}"] = "base64:" + "A" * 24  # 16 zero bytes
    return {"version": 1, "templates": {"u": URL}, "refs": refs}


def _expected(n_arrays: int, n_chunks: int) -> dict[str, ChunkLocations]:
    expected = {}
    for a in range(n_arrays):
        loc = ChunkLocations()
        kinds = [a % 4 if a % 4 != 3 else c % 3 for c in range(n_chunks)]
        loc.inline = kinds.count(2)
        loc.internal = kinds.count(1)
        if kinds.count(0):
            loc.external = {URL: kinds.count(0)}
        expected[f"g{a % 7}/a{a}"] = loc
    return expected


def test_chunk_locations_of_a_big_map_are_exact() -> None:
    # 100,000 chunk references in 2,000 arrays: a per-dataset scan of every key (the old
    # algorithm) would make 2 * 10^8 prefix tests here; one pass makes 10^5.
    refmap = ReferenceMap.from_dict(_synthetic(2000, 50))
    assert len(refmap) > 100_000
    assert chunk_locations(refmap) == _expected(2000, 50)


def test_chunk_tables_are_counted_whole() -> None:
    refmap = ReferenceMap.from_dict(_synthetic(2, 3))
    offsets = np.arange(10) * 16
    offsets[4] = -1  # never written
    refmap.set_chunk_table("big", ChunkTable(URL, (10,), offsets, np.full(10, 16)))
    refmap.set_json("big/.zarray", _zarray(10))
    locations = chunk_locations(refmap)
    assert locations["big"] == ChunkLocations(external={URL: 9})
    assert locations["big"].describe() == f"external {URL}"
    assert ChunkLocations(inline=2, internal=1, external={"b": 1, "a": 3}).describe() == (
        "2 inline, 1 internal, external a, external b"
    )
    assert ChunkLocations().describe() == "no chunks"


def test_info_reads_each_key_a_bounded_number_of_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whatever ``info`` does per dataset, it must not walk the whole map for each one."""
    path = tmp_path / "x.lindi.json"
    path.write_text(json.dumps(_synthetic(400, 20)))
    seen = 0
    iter_keys = ReferenceMap.iter_keys

    def counting(self: ReferenceMap, *, chunk_tables: bool = True) -> Iterator[str]:
        nonlocal seen
        for key in iter_keys(self, chunk_tables=chunk_tables):
            seen += 1
            yield key

    monkeypatch.setattr(ReferenceMap, "iter_keys", counting)
    assert main(["info", str(path)]) == 0
    total = len(ReferenceMap.from_dict(json.loads(path.read_text())))
    assert 0 < seen <= 3 * total, (seen, total)  # quadratic would be ~400 * total
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{path} (json, {total} references)"
    assert f"    a0: (80,) int32 chunks (4,) [external {URL}]" in lines
    assert "    a1: (80,) int32 chunks (4,) [20 internal]" in lines
    assert "    a2: (80,) int32 chunks (4,) [20 inline]" in lines
    assert f"    a3: (80,) int32 chunks (4,) [6 inline, 7 internal, external {URL}]" in lines


def test_info_of_a_written_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "w.lindi.tar"
    with hdmf_lindi.File(path, "w") as f:
        f.create_dataset("big", data=np.arange(100_000), chunks=(25_000,))
        f.create_dataset("small", data=[1, 2, 3])
        f.create_dataset("empty", shape=(10,), dtype="f4", chunks=(5,))
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[1:] == [
        "  big: (100000,) int64 chunks (25000,) [4 internal]",
        "  empty: (10,) float32 chunks (5,) [no chunks]",
        "  small: (3,) int64 chunks (3,) [1 inline]",
    ]


def test_info_stats_and_verbose_summary_over_http(
    http_server: RangeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with hdmf_lindi.File(http_server.root / "s.lindi.tar", "w") as f:
        f.create_dataset("x", data=np.arange(1000), chunks=(100,))
    url = http_server.url("s.lindi.tar")
    assert main(["info", url, "--stats"]) == 0
    out = capsys.readouterr().out.splitlines()
    n = len(http_server.requests)
    assert n > 0 and out[-2].startswith(f"stats: {n} requests, ") and out[-1].startswith(f"  {url}: {n} requests")
    http_server.reset()
    assert main(["info", "-v", url]) == 0
    err = capsys.readouterr().err
    assert f"hdmf-lindi info: I/O {len(http_server.requests)} requests, " in err


def test_info_names_a_zarr3_dialect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing in the output told a Zarr v3 file from a LINDI v2 one."""
    path = tmp_path / "w.lindi.tar"
    with hdmf_lindi.File(path, "w", dialect="zarr3") as f:
        f.create_dataset("small", data=[1, 2, 3])
    assert main(["info", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{path} (tar, dialect zarr3, ") and lines[1:] == ["  small: (3,) int64 chunks (3,) [1 inline]"]
