"""index_hdf5 with compact chunk tables: every form reads equal to the flat index, lazily.

An HDF5 file with a 10,500-chunk gzip dataset (above the 10^4 threshold) and a small one (below
it) is indexed with tables and without (``chunk_table_threshold=None``: one JSON reference per
chunk), into ``.lindi.json``, ``.lindi.tar`` and ``.lindi.d``. Remotely, over the local Range
server, opening fetches the document only and a slice fetches one shard, then the data.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from httpserver import RangeServer

import hdmf_lindi
from hdmf_lindi.hdf5.indexer import IndexOptions, index_hdf5
from hdmf_lindi.storage import compact_tables
from hdmf_lindi.storage.containers import open_container
from hdmf_lindi.storage.zarr_store import LindiZarrStore

ROWS = 10_500
FORMS = (".lindi.json", ".lindi.tar", ".lindi.d")


def _values() -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(0)
    return rng.integers(-300, 300, (ROWS, 6), dtype=np.int16)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("compact") / "src.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("acq/big", data=_values(), chunks=(1, 6), compression="gzip")
        f.create_dataset("small", data=np.arange(5000, dtype=np.float32), chunks=(100,))
    return path


def _tree_size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


@pytest.mark.parametrize("suffix", FORMS)
def test_each_form_reads_equal_to_the_flat_index(source: Path, tmp_path: Path, suffix: str) -> None:
    compact = tmp_path / ("compact" + suffix)
    flat = tmp_path / ("flat" + suffix)
    index_hdf5(source, compact)
    index_hdf5(source, flat, options=IndexOptions(chunk_table_threshold=None))
    assert _tree_size(compact) < 0.2 * _tree_size(flat)  # a tar keeps growth room for its JSON
    with hdmf_lindi.File(compact) as a, hdmf_lindi.File(flat) as b:
        for sel in (np.s_[...], np.s_[17:9000:3], np.s_[ROWS - 5:, 2]):
            assert np.array_equal(a["acq/big"][sel], b["acq/big"][sel])
        assert np.array_equal(a["small"][...], b["small"][...])
        assert a["acq/big"].attrs.keys() == b["acq/big"].attrs.keys()  # the lindi link is hidden
        refmap = a._state.refmap
        table = refmap.chunk_table("acq/big")
        assert table is not None and table.compact and table.hdf5_path == "acq/big"
        assert refmap.chunk_table("small") is None  # below the threshold: JSON references
    doc_path = compact / "lindi.json" if compact.is_dir() else compact
    if suffix != ".lindi.tar":
        doc = json.loads(doc_path.read_text())
        assert doc["refs"]["acq/big/.zattrs"]["_EXTERNAL_ARRAY_LINK"]["name"] == "acq/big"
        assert "small/0" in doc["refs"] and "acq/big/0.0" not in doc["refs"]


def test_zarr_store_serves_chunk_keys_from_the_table(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.lindi.tar"
    index_hdf5(source, out)
    with open_container(out) as container:
        store = LindiZarrStore(container)
        import zarr

        arr = zarr.open_array(store=store, path="acq/big", mode="r")
        assert np.array_equal(arr[100:200], _values()[100:200])


@pytest.mark.parametrize("suffix", [".lindi.tar", ".lindi.d"])
def test_remote_open_fetches_the_skeleton_then_one_shard(
    source: Path, http_server: RangeServer, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compact_tables, "INLINE_MAX_BYTES", 0)  # this small table is put in a blob
    monkeypatch.setattr("hdmf_lindi.storage.chunk_table_codec.SHARD_CHUNKS", 4096)
    served = http_server.root / "src.h5"
    served.write_bytes(source.read_bytes())
    name = "src" + suffix
    index_hdf5(served, http_server.root / name, options=IndexOptions(url=http_server.url("src.h5")))
    http_server.reset()
    with hdmf_lindi.File(http_server.url(name)) as f:
        opened = list(http_server.requests)
        assert all(not r.path.endswith("src.h5") for r in opened)
        assert len(opened) <= 3  # the tar's head + index/json, or the directory's lindi.json
        http_server.reset()
        data = f["acq/big"][5000:5400]
        got = [r.path for r in http_server.requests]
    assert np.array_equal(data, _values()[5000:5400])
    table_requests = [p for p in got if not p.endswith("src.h5")]
    # the one shard covering rows 5000-5399; a tar's came with its first read at opening
    assert len(table_requests) == (0 if suffix == ".lindi.tar" else 1), got
    assert 1 <= len(got) - len(table_requests) <= 2  # the data, coalesced


def test_append_to_a_table_backed_array_in_every_form(source: Path, tmp_path: Path) -> None:
    for suffix in FORMS:
        path = tmp_path / ("a" + suffix)
        index_hdf5(source, path)
        extra = np.full((10, 6), 7, dtype=np.int16)
        with hdmf_lindi.File(path, "a") as f:
            ds = f["acq/big"]
            ds.resize((ROWS + 10, 6))
            ds[ROWS:] = extra
            ds[3] = extra[0]
        expected = np.concatenate([_values(), extra])
        expected[3] = 7
        with hdmf_lindi.File(path) as f:
            ds = f["acq/big"]
            assert np.array_equal(ds[:10], expected[:10]) and np.array_equal(ds[ROWS - 50:], expected[ROWS - 50:]), suffix
            table = f._state.refmap.chunk_table("acq/big")
            assert table is not None and table.compact
        size = _tree_size(path)
        assert size < 200_000, (suffix, size)  # still a table, not 10,500 JSON refs


def test_writing_a_remote_opened_map_elsewhere_carries_the_table(source: Path, tmp_path: Path) -> None:
    """A table read from one container is written into another without being expanded."""
    first = tmp_path / "one.lindi.tar"
    index_hdf5(source, first)
    for suffix in FORMS:
        with open_container(first) as src:
            dst = open_container(tmp_path / ("two" + suffix), "w")
            dst.refmap = src.refmap
            dst.refmap.dirty = True
            dst.close()
        with hdmf_lindi.File(tmp_path / ("two" + suffix)) as f:
            assert np.array_equal(f["acq/big"][:50], _values()[:50])
        assert _tree_size(tmp_path / ("two" + suffix)) < 200_000


def test_source_size_guards_against_a_replaced_file(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.lindi.json"
    index_hdf5(source, out)
    doc = json.loads(out.read_text())
    doc["hdmf_lindi"]["chunkTables"]["acq/big"]["source"]["size"] = 1000
    out.write_text(json.dumps(doc))
    with hdmf_lindi.File(out) as f, pytest.raises(hdmf_lindi.errors.ReferenceMapError, match="past the end"):
        f["acq/big"][0]
    assert os.path.getsize(source) > 1000


@pytest.mark.parametrize("suffix", FORMS)
def test_pack_and_copy_carry_the_table(source: Path, tmp_path: Path, suffix: str) -> None:
    from hdmf_lindi.storage.pack import pack

    first = tmp_path / "first.lindi.tar"
    index_hdf5(source, first)
    packed = tmp_path / ("packed" + suffix)
    pack(first, packed)
    copied = tmp_path / ("copied" + suffix)
    with hdmf_lindi.File(first) as a, hdmf_lindi.File(copied, "w") as b:
        a.copy("acq/big", b, name="big2")
    for path, name in ((packed, "acq/big"), (copied, "big2")):
        with hdmf_lindi.File(path) as f:
            assert np.array_equal(f[name][ROWS - 300:], _values()[ROWS - 300:])
            table = f._state.refmap.chunk_table(name)
            assert table is not None and table.compact and table.count == ROWS
        assert _tree_size(path) < 200_000  # a table, never 10,500 JSON references


def test_info_shows_the_compact_table(source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hdmf_lindi.cli import main

    out = tmp_path / "i.lindi.json"
    index_hdf5(source, out)
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"{ROWS:,} chunks in a compact table (1 shards, " in text
    assert "small: (5000,) float32" in text


def test_lindi_io_reads_a_table_backed_nwb_dataset(tmp_path: Path) -> None:
    from hdmf.backends.hdf5 import H5DataIO
    from pynwb import NWBHDF5IO, TimeSeries
    from pynwb.testing.mock.file import mock_NWBFile

    from hdmf_lindi.nwb import read_nwb

    values = _values()
    nwbfile = mock_NWBFile()
    data = H5DataIO(values, chunks=(1, 6), compression="gzip")
    nwbfile.add_acquisition(TimeSeries(name="ts", data=data, unit="V", rate=30_000.0))
    source = tmp_path / "s.nwb"
    with NWBHDF5IO(str(source), "w") as io:
        io.write(nwbfile)
    out = tmp_path / "s.lindi.tar"
    refmap = index_hdf5(source, out)
    table = refmap.chunk_table("acquisition/ts/data")
    assert table is not None and table.compact
    read = read_nwb(out)
    assert np.array_equal(read.acquisition["ts"].data[400:900], values[400:900])


def test_pack_expand_tables_writes_json_references(source: Path, tmp_path: Path) -> None:
    from hdmf_lindi.cli import main

    first = tmp_path / "t.lindi.tar"
    index_hdf5(source, first)
    out = tmp_path / "flat.lindi.json"
    assert main(["pack", str(first), str(out), "--expand-tables", "--quiet"]) == 0
    doc = json.loads(out.read_text())
    assert "chunkTables" not in doc.get("hdmf_lindi", {})
    assert sum(k.startswith("acq/big/") and not k.startswith("acq/big/.") for k in doc["refs"]) == ROWS
    assert "_EXTERNAL_ARRAY_LINK" not in doc["refs"].get("acq/big/.zattrs", {})
    with hdmf_lindi.File(out) as f:
        assert np.array_equal(f["acq/big"][:40], _values()[:40])


def test_index_cli_threshold_options(source: Path, tmp_path: Path) -> None:
    from hdmf_lindi.cli import main

    for args, compact in (([], True), (["--no-chunk-tables"], False), (["--chunk-table-threshold", "20000"], False)):
        out = tmp_path / f"cli{len(args)}{compact}.lindi.json"
        assert main(["index", str(source), str(out), "--quiet", *args]) == 0
        doc = json.loads(out.read_text())
        assert ("chunkTables" in doc.get("hdmf_lindi", {})) is compact, args
