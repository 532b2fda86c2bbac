"""``index_hdf5`` on the named HDF5 edge cases of ``conftest.py``.

The matrix: every edge case x every destination (None = the in-memory reference map, and the
three container forms ``.lindi.json``, ``.lindi.tar``, ``.lindi.d``). Each cell indexes the file,
opens the result and compares it with h5py (``compare.assert_same_tree``).

Then targeted checks of the index itself, through the raw reference map: where chunk references
point (source path or ``options.url``, templates for frequent urls), what is inlined and what is
referenced, pseudo-chunk bounds, links for unmappable filters and many chunks, no byte range
referenced twice, the progress callback, and bad input (not HDF5, truncated, failing midway) that
must raise a specific error and leave no destination behind.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import warnings
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import h5py
import pytest
from cases import CASE_OPTIONS, EDGE_CASES, LINDI_UNREADABLE_CASES, SPLIT_BYTES
from compare import assert_same_tree
from interop.test_lindi_interop import lindi_dump

from hdmf_lindi import File, index_hdf5
from hdmf_lindi.errors import FormatError, IndexingError, LindiWarning, NodeNotFoundError
from hdmf_lindi.hdf5 import IndexOptions
from hdmf_lindi.storage.refmap import ReferenceMap

DESTINATIONS = {"memory": None, "json": "index.lindi.json", "tar": "index.lindi.tar", "dir": "index.lindi.d"}


def _h5(request: pytest.FixtureRequest, case: str) -> Path:
    return Path(request.getfixturevalue(case))


def _options(case: str, **extra: Any) -> IndexOptions:
    return IndexOptions(**{**CASE_OPTIONS.get(case, {}), **extra})


def _lindi_warning(case: str) -> AbstractContextManager[Any]:
    """The warning a case's index in the lindi dialect gives (chunks lindi 0.4.6 cannot read)."""
    return pytest.warns(LindiWarning, match="lindi 0.4.6") if case in LINDI_UNREADABLE_CASES else nullcontext()


def _list_refs(refmap: ReferenceMap, prefix: str = "") -> dict[str, list[Any]]:
    """The ``[url, offset, length]`` values (raw, templates unexpanded) under ``prefix``."""
    out = {}
    for key in refmap.keys():
        value = refmap.raw(key)
        if key.startswith(prefix) and isinstance(value, list):
            out[key] = value
    return out


def _chunk_keys(refmap: ReferenceMap, array: str) -> list[str]:
    prefix = array + "/"
    return [
        k for k in refmap.keys()
        if k.startswith(prefix) and "/" not in k[len(prefix):] and not k[len(prefix):].startswith(".")
    ]


# ------------------------------------------------------------------ the matrix


@pytest.mark.parametrize("destination", list(DESTINATIONS))
@pytest.mark.parametrize("case", EDGE_CASES)
def test_index_reads_like_h5py(request: pytest.FixtureRequest, tmp_path: Path, case: str, destination: str) -> None:
    h5 = _h5(request, case)
    name = DESTINATIONS[destination]
    target = None if name is None else tmp_path / name
    with _lindi_warning(case):
        refmap = index_hdf5(h5, target, options=_options(case))
    assert isinstance(refmap, ReferenceMap)
    with File(refmap if target is None else target) as f:
        if target is not None:
            stored = f.container.refmap
            assert set(stored.keys()) == set(refmap.keys())
            # nothing copied into the container: no "./blobs/..." references
            assert not [k for k in stored.keys() if isinstance(stored.raw(k), list) and stored.get(k).is_internal]
        assert_same_tree(h5, f)
    if target is not None and target.is_dir():
        assert sorted(p.name for p in target.iterdir()) == ["lindi.json"]


# Cases whose index references no byte range of the source: their data is all inline (compact,
# scalar, small, string, reference and compound data; empty and null datasets have none) or, for
# filters with no numcodecs equivalent (lzf, lz4, bitshuffle) and a chunk that skipped its
# filters (filter mask), linked whole through _EXTERNAL_ARRAY_LINK. The byte-range check has
# nothing to check there; test_cases_without_byte_ranges keeps this list true.
WITHOUT_BYTE_RANGES = [
    "compact_h5", "empty_dataset_h5", "scalar_h5", "strings_h5", "compound_with_ref_h5",
    "references_h5", "soft_link_h5", "external_link_h5", "attrs_h5", "lzf_h5", "lz4_h5",
    "bitshuffle_h5", "filter_mask_h5", "null_dataspace_h5",
]
WITH_BYTE_RANGES = [case for case in EDGE_CASES if case not in WITHOUT_BYTE_RANGES]


@pytest.mark.parametrize("case", WITH_BYTE_RANGES)
def test_byte_ranges_are_distinct_and_inside_the_source(request: pytest.FixtureRequest, case: str) -> None:
    # hard links, soft links and split chunks must never reference the same bytes twice
    h5 = _h5(request, case)
    with _lindi_warning(case):
        refmap = index_hdf5(h5, options=_options(case))
    size = h5.stat().st_size
    seen: dict[tuple[int, int], str] = {}
    refs = _list_refs(refmap)
    assert refs, f"{case} references no byte range: move it to WITHOUT_BYTE_RANGES"
    for key, (url, offset, length) in refs.items():
        assert url == str(h5.resolve()), key
        assert length > 0 and offset + length <= size, (key, offset, length, size)
        assert (offset, length) not in seen, f"{key} and {seen[(offset, length)]} reference the same bytes"
        seen[(offset, length)] = key


@pytest.mark.parametrize("case", WITHOUT_BYTE_RANGES)
def test_cases_without_byte_ranges(request: pytest.FixtureRequest, case: str) -> None:
    refmap = index_hdf5(_h5(request, case), options=_options(case))
    assert _list_refs(refmap) == {}, f"{case} references byte ranges: move it to WITH_BYTE_RANGES"


# ------------------------------------------------------------------ where references point


@pytest.mark.parametrize("suffix", [".lindi.json", ".lindi.tar", ".lindi.d"])
def test_local_source_is_recorded_as_absolute_path(
    chunked_gzip_shuffle_h5: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, suffix: str
) -> None:
    monkeypatch.chdir(chunked_gzip_shuffle_h5.parent)
    dest = tmp_path / f"out{suffix}"
    refmap = index_hdf5(chunked_gzip_shuffle_h5.name, dest)
    assert {v[0] for v in _list_refs(refmap).values()} == {str(chunked_gzip_shuffle_h5.resolve())}
    monkeypatch.chdir("/")  # the stored index must not depend on the working directory
    with File(dest) as f:
        stored = f.container.refmap
        urls = {stored.get(k).url for k in stored.keys() if isinstance(stored.raw(k), list)}
        assert urls == {str(chunked_gzip_shuffle_h5.resolve())} and os.path.isabs(urls.pop())
        assert f["i4"][3, 4] == 3 * 40 + 4


def test_options_url_replaces_the_source(many_chunks_h5: Path, tmp_path: Path) -> None:
    url = "https://dandiarchive.example/api/assets/abc/download/"
    dest = tmp_path / "x.lindi.json"
    # "many" (5000 chunks) becomes an external array link, "grid" (2500) chunk references
    options = IndexOptions(url=url, external_link_chunk_threshold=3000)
    refmap = index_hdf5(many_chunks_h5, dest, options=options)
    refs = _list_refs(refmap)
    assert len(refs) == 2500 and {v[0] for v in refs.values()} == {url}
    link = refmap.get_json("many/.zattrs")["_EXTERNAL_ARRAY_LINK"]
    assert link["url"] == url and link["name"] == "many"
    assert str(many_chunks_h5) not in json.dumps(json.loads(dest.read_text())["refs"])
    with File(dest) as f:
        stored = f.container.refmap
        assert {stored.get(k).url for k in stored.keys() if isinstance(stored.raw(k), list)} == {url}


def test_templates_for_urls_used_five_times(many_chunks_h5: Path, contiguous_h5: Path, tmp_path: Path) -> None:
    index_hdf5(many_chunks_h5, tmp_path / "many.lindi.json")
    doc = json.loads((tmp_path / "many.lindi.json").read_text())
    assert doc["templates"] == {"u1": str(many_chunks_h5.resolve())}
    assert doc["version"] == 1
    lists = [v for v in doc["refs"].values() if isinstance(v, list)]
    assert len(lists) == 5000 + 2500 and all(v[0] == "{{u1}}" for v in lists)
    # 2 references to one url: below lindi's threshold of 5, the url stays literal
    index_hdf5(contiguous_h5, tmp_path / "few.lindi.json")
    few = json.loads((tmp_path / "few.lindi.json").read_text())
    lists = [v for v in few["refs"].values() if isinstance(v, list)]
    assert "templates" not in few
    assert len(lists) == 2 and {v[0] for v in lists} == {str(contiguous_h5.resolve())}


# ------------------------------------------------------------------ inline or referenced


def test_chunked_datasets_are_referenced_chunk_by_chunk(chunked_gzip_shuffle_h5: Path) -> None:
    refmap = index_hdf5(chunked_gzip_shuffle_h5)
    with h5py.File(chunked_gzip_shuffle_h5, "r") as h5:
        for name in h5:
            ds = h5[name]
            keys = _chunk_keys(refmap, name)
            assert len(keys) == ds.id.get_num_chunks() > 1, name
            for i in range(ds.id.get_num_chunks()):
                info = ds.id.get_chunk_info(i)
                key = f"{name}/" + ".".join(str(o // c) for o, c in zip(info.chunk_offset, ds.chunks, strict=True))
                assert refmap.raw(key) == [str(chunked_gzip_shuffle_h5.resolve()), info.byte_offset, info.size]
            zarray = refmap.get_json(f"{name}/.zarray")
            assert zarray["chunks"] == list(ds.chunks) and zarray["compressor"] is None
    filters = refmap.get_json("i4/.zarray")["filters"]
    assert filters == [{"id": "shuffle", "elementsize": 4}, {"id": "zlib", "level": 5}]


@pytest.mark.parametrize(("limit", "inline"), [(1000, True), (8, True), (7, False), (0, False)])
def test_inline_max_elements(contiguous_h5: Path, limit: int, inline: bool) -> None:
    # "small" has 7 elements: inlined only when 7 < inline_max_elements
    refmap = index_hdf5(contiguous_h5, options=IndexOptions(inline_max_elements=limit))
    value = refmap.raw("small/0")
    assert isinstance(value, str) is inline and isinstance(value, list) is not inline
    assert isinstance(refmap.raw("f8/0"), list)  # 2000 elements: referenced either way
    with File(refmap) as f:
        assert f["small"][...].tolist() == list(range(7))


def test_contiguous_pseudo_chunks_are_bounded(contiguous_split_h5: Path) -> None:
    refmap = index_hdf5(contiguous_split_h5, options=IndexOptions(contiguous_max_chunk_bytes=SPLIT_BYTES))
    with h5py.File(contiguous_split_h5, "r") as h5:
        for name in ("rows", "flat", "cube"):
            ds = h5[name]
            zarray = refmap.get_json(f"{name}/.zarray")
            rows = zarray["chunks"][0]
            assert zarray["chunks"][1:] == list(ds.shape[1:])
            keys = sorted(_chunk_keys(refmap, name), key=lambda k: int(k.rsplit("/", 1)[1].split(".")[0]))
            assert len(keys) == math.ceil(ds.shape[0] / rows) > 1, name
            refs = [refmap.raw(k) for k in keys]
            assert all(length <= SPLIT_BYTES for _url, _off, length in refs), refs
            # consecutive, covering exactly the stored bytes
            assert refs[0][1] == ds.id.get_offset()
            assert all(a[1] + a[2] == b[1] for a, b in zip(refs, refs[1:], strict=False))
            assert sum(r[2] for r in refs) == ds.id.get_storage_size()
            assert ds.shape[0] % rows != 0  # 1009 rows: the last pseudo-chunk is short
        assert _chunk_keys(refmap, "at_limit") == ["at_limit/0"]
        assert refmap.raw("at_limit/0")[2] == SPLIT_BYTES


def test_unmappable_filter_becomes_external_array_link(lzf_h5: Path) -> None:
    refmap = index_hdf5(lzf_h5)
    for name in ("i4", "f8_2d", "partial"):
        link = refmap.get_json(f"{name}/.zattrs")["_EXTERNAL_ARRAY_LINK"]
        assert link["link_type"] == "hdf5_dataset" and link["name"] == name
        assert link["url"] == str(lzf_h5.resolve())
        assert "lzf" in link["reason"].lower()
        assert _chunk_keys(refmap, name) == []
    notes = refmap.generation_metadata["notes"]
    assert any("/i4" in n and "lzf" in n.lower() for n in notes)


@pytest.mark.parametrize(("threshold", "linked"), [(None, False), (5000, False), (4999, True), (1000, True)])
def test_external_link_chunk_threshold(many_chunks_h5: Path, threshold: int | None, linked: bool) -> None:
    # "many" has exactly 5000 chunks; lindi links datasets with strictly more than the threshold
    refmap = index_hdf5(many_chunks_h5, options=IndexOptions(external_link_chunk_threshold=threshold))
    zattrs = refmap.get_json("many/.zattrs") or {}
    assert ("_EXTERNAL_ARRAY_LINK" in zattrs) is linked
    assert len(_chunk_keys(refmap, "many")) == (0 if linked else 5000)
    with File(refmap) as f:
        assert f["many"][4990:5010].tolist() == list(range(4990, 5010))


def test_lindi_reads_past_external_links(external_link_h5: Path, tmp_path: Path, run_lindi: Any) -> None:
    # lindi has no external links: hdmf_lindi's form must leave the rest of the file readable
    out = tmp_path / "ext.lindi.json"
    index_hdf5(external_link_h5, out)
    desc = lindi_dump(run_lindi, out)
    assert desc["/local"]["value"] == [0, 1, 2]
    assert desc["/ext_dataset"]["kind"] == desc["/g/ext_group"]["kind"] == "group"


def test_chunks_lindi_cannot_read_warn_in_the_lindi_dialect(zstd_h5: Path, tmp_path: Path, lindi_python: str) -> None:
    out = tmp_path / "zstd.lindi.json"
    with pytest.warns(LindiWarning, match=r"3 dataset\(s\) \(/.*/i4.*\) have chunks compressed with 'zstd'"):
        index_hdf5(zstd_h5, out)
    # the warning is true: lindi 0.4.6 fails on these chunks (hdmf_lindi reads them)
    code = "import sys, lindi; lindi.LindiH5pyFile.from_lindi_file(sys.argv[1])['i4'][()]"
    proc = subprocess.run([lindi_python, "-c", code, str(out)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode != 0 and "Zstd decompression error" in proc.stderr, proc.stderr[-2000:]
    with File(out) as f:
        assert f["i4"][()].tolist() == list(range(10000))
    with warnings.catch_warnings():  # hdmf-zarr reads them: no warning in the zarr3 dialect
        warnings.simplefilter("error", LindiWarning)
        index_hdf5(zstd_h5, tmp_path / "zstd3.lindi.json", options=IndexOptions(dialect="zarr3"))


def test_hard_link_is_not_indexed_twice(hard_link_h5: Path) -> None:
    refmap = index_hdf5(hard_link_h5)
    assert len(_chunk_keys(refmap, "a")) == 4
    assert _chunk_keys(refmap, "also_a") == []


# ------------------------------------------------------------------ progress


def _all_link_paths(h5: Path) -> set[str]:
    """The root and every link path, entering each group once (through its first hard link,
    in h5py's name order, depth first: the order an indexer meets them)."""
    out = {"/"}
    with h5py.File(h5, "r") as f:
        entered = {h5py.h5o.get_info(f.id).addr}

        def walk(group: h5py.Group, base: str) -> None:
            for name in group:
                path = f"{base}/{name}"
                out.add(path)
                if not isinstance(group.get(name, getlink=True), h5py.HardLink):
                    continue
                obj = group[name]
                addr = h5py.h5o.get_info(obj.id).addr
                if isinstance(obj, h5py.Group) and addr not in entered:
                    entered.add(addr)
                    walk(obj, path)

        walk(f, "")
    return out


@pytest.mark.parametrize("case", ["attrs_h5", "soft_link_h5", "hard_link_h5", "external_link_h5"])
def test_progress_called_for_every_object(request: pytest.FixtureRequest, case: str) -> None:
    h5 = _h5(request, case)
    calls: list[tuple[int, str]] = []
    index_hdf5(h5, options=IndexOptions(progress=lambda n, p: calls.append((n, p))))
    expected = _all_link_paths(h5)
    assert [n for n, _ in calls] == list(range(1, len(calls) + 1))
    assert {p for _, p in calls} == expected
    assert len(calls) == len(expected)


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("suffix", [".lindi.json", ".lindi.tar", ".lindi.d"])
def test_not_hdf5_raises_and_writes_nothing(tmp_path: Path, suffix: str) -> None:
    source = tmp_path / "notes.txt"
    source.write_text("this is not an HDF5 file\n" * 100)
    dest = tmp_path / f"out{suffix}"
    with pytest.raises(IndexingError, match=r"notes\.txt.*not a readable HDF5 file"):
        index_hdf5(source, dest)
    assert not dest.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("keep", [0.5, 0.9, 100])
def test_truncated_hdf5_raises_and_writes_nothing(chunked_gzip_shuffle_h5: Path, tmp_path: Path, keep: float) -> None:
    data = chunked_gzip_shuffle_h5.read_bytes()
    source = tmp_path / "truncated.h5"
    source.write_bytes(data[: int(len(data) * keep) if keep < 1 else int(keep)])
    dest = tmp_path / "out.lindi.tar"
    with pytest.raises((IndexingError, FormatError), match=r"truncated\.h5.*(truncated|not a readable HDF5)"):
        index_hdf5(source, dest)
    assert not dest.exists()


def test_missing_source(tmp_path: Path) -> None:
    with pytest.raises(NodeNotFoundError, match=r"nope\.h5"):
        index_hdf5(tmp_path / "nope.h5", tmp_path / "out.lindi.json")
    assert not (tmp_path / "out.lindi.json").exists()


class _Stop(Exception):
    pass


@pytest.mark.parametrize("suffix", [".lindi.json", ".lindi.tar", ".lindi.d"])
def test_failure_midway_writes_nothing(many_chunks_h5: Path, tmp_path: Path, suffix: str) -> None:
    def progress(n: int, path: str) -> None:
        if path == "/grid":
            raise _Stop(path)

    dest = tmp_path / f"out{suffix}"
    with pytest.raises((_Stop, IndexingError)):
        index_hdf5(many_chunks_h5, dest, options=IndexOptions(progress=progress))
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name != many_chunks_h5.name] == []


def test_chunk_tables_are_arrays_and_read_back(many_chunks_h5: Path, tmp_path: Path) -> None:
    refmap = index_hdf5(many_chunks_h5)
    for path, grid in (("many", (5000,)), ("grid", (50, 50))):
        table = refmap.chunk_table(path)
        assert table is not None and table.grid == grid and table.count == math.prod(grid)
    assert "grid/50.0" not in refmap and "grid/0.50" not in refmap
    with h5py.File(many_chunks_h5) as f:
        info = f["grid"].id.get_chunk_info_by_coord((98, 6))
    assert refmap.raw("grid/49.3") == [str(many_chunks_h5.resolve()), info.byte_offset, info.size]
    dest = tmp_path / "many.lindi.json"
    index_hdf5(many_chunks_h5, dest)  # > 5000 refs: tables written straight from the arrays
    assert len(json.loads(dest.read_bytes())["refs"]) == len(refmap)
    with File(dest) as f:
        assert_same_tree(many_chunks_h5, f)


def test_sparse_chunk_grid_is_listed_entry_by_entry(tmp_path: Path) -> None:
    path = tmp_path / "sparse.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("sparse", shape=(1_000_000,), dtype="<i4", chunks=(1,), fillvalue=-7)
        ds[[5, 123_456, 999_999]] = [1, 2, 3]
    refmap = index_hdf5(path)
    assert refmap.chunk_table("sparse") is None  # a 10^6-entry grid for 3 chunks: no table
    assert sorted(k for k in refmap if k.startswith("sparse/") and not k.startswith("sparse/.")) == [
        "sparse/123456", "sparse/5", "sparse/999999",
    ]
    with File(refmap) as f:
        assert f["sparse"][[4, 5, 123_456, 999_999]].tolist() == [-7, 1, 2, 3]
