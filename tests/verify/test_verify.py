"""``hdmf_lindi.verify`` and ``hdmf-lindi verify``: sources, references and chunks (issue 15, item 6)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
from httpserver import RangeServer

import hdmf_lindi
from hdmf_lindi import File, index_hdf5
from hdmf_lindi.cli import main


def _h5(path: Path, seed: int = 1) -> None:
    st = os.stat(path) if path.exists() else None
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.random.default_rng(seed).random((300, 20)), chunks=(100, 20))
        f.create_dataset("small", data=np.arange(7))
        f.create_dataset("s", data=["a", "bc"], dtype=h5py.string_dtype())
    if st is not None:
        os.utime(path, ns=(st.st_mtime_ns + 10**9,) * 2)


@pytest.mark.parametrize("suffix", [".lindi.json", ".lindi.tar", ".lindi.d"])
def test_local_index_ok_then_changed_then_truncated(tmp_path: Path, suffix: str) -> None:
    src = tmp_path / "src.h5"
    _h5(src)
    index = tmp_path / f"i{suffix}"
    index_hdf5(src, index)
    report = hdmf_lindi.verify(index)
    assert report.ok, report.lines()
    [source] = report.sources
    assert source.url == str(src.resolve()) and source.references == 3 and source.recorded is not None
    assert report.chunks_decoded >= 2  # the inline datasets

    _h5(src, seed=2)  # same layout, other values
    report = hdmf_lindi.verify(index)
    assert not report.ok
    assert "changed since indexed (mtime_ns)" in report.sources[0].problems[0]

    with open(src, "r+b") as fh:
        fh.truncate(20000)  # inside the chunk data
    problems = hdmf_lindi.verify(index).sources[0].problems
    assert any("size" in p for p in problems) and any("past the end" in p for p in problems)

    os.unlink(src)
    assert hdmf_lindi.verify(index).sources[0].problems[0].startswith("missing")


def test_files_without_identities_are_checked_by_size(tmp_path: Path) -> None:
    src = tmp_path / "src.h5"
    _h5(src)
    index = tmp_path / "i.lindi.json"
    index_hdf5(src, index)
    doc = json.loads(index.read_text())
    del doc["hdmf_lindi"]["sources"]  # as lindi writes it
    index.write_text(json.dumps(doc))
    report = hdmf_lindi.verify(index)
    assert report.ok and report.sources[0].recorded is None
    assert "sizes only" in "\n".join(report.lines())
    with open(src, "r+b") as fh:
        fh.truncate(1000)
    assert "past the end" in hdmf_lindi.verify(index).sources[0].problems[0]


def test_remote_source(tmp_path: Path, http_server: RangeServer) -> None:
    src = http_server.root / "src.h5"
    _h5(src)
    index = tmp_path / "i.lindi.tar"
    index_hdf5(http_server.url("src.h5"), index)
    http_server.reset()
    assert hdmf_lindi.verify(index).ok
    assert [r.method for r in http_server.requests] == ["HEAD"]  # one request per source
    _h5(src, seed=2)
    assert "etag" in hdmf_lindi.verify(index).sources[0].problems[0]
    os.unlink(src)
    assert "HTTP 404" in hdmf_lindi.verify(index).sources[0].problems[0]


def test_damaged_internal_chunk(tmp_path: Path) -> None:
    path = tmp_path / "w.lindi.d"
    with File(path, "w") as f:
        f.create_dataset("z", data=np.random.default_rng(0).random((500, 40)), chunks=(100, 40), compression="gzip")
    assert hdmf_lindi.verify(path).ok
    blob = sorted((path / "blobs").rglob("*"))[-1]
    assert blob.is_file()
    blob.write_bytes(b"\x00" * blob.stat().st_size)
    report = hdmf_lindi.verify(path)
    assert not report.ok and "decode" in report.problems[0]
    assert hdmf_lindi.verify(path, decode=False).ok


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src.h5"
    _h5(src)
    good, other = tmp_path / "a.lindi.json", tmp_path / "b.lindi.tar"
    index_hdf5(src, good)
    index_hdf5(src, other)
    assert main(["verify", str(good), str(other)]) == 0
    out = capsys.readouterr().out
    assert f"{good}: OK" in out and f"{other}: OK" in out
    _h5(src, seed=3)
    assert main(["verify", str(good)]) == 1
    assert "changed since indexed" in capsys.readouterr().out
    assert main(["verify", str(tmp_path / "missing.lindi.json")]) == 1
    assert "cannot open" in capsys.readouterr().out
    assert main(["verify"]) == 2


@pytest.mark.parametrize("suffix", [".lindi.json", ".lindi.tar"])
def test_zarr3_files_have_their_chunks_decoded(tmp_path: Path, suffix: str) -> None:
    """A Zarr v3 file is checked like a LINDI one (it reported "0 chunks decoded", OK, whatever its chunks held)."""
    path = tmp_path / f"w{suffix}"
    with File(path, "w", dialect="zarr3") as f:
        f.create_dataset("z", data=np.arange(4000.0).reshape(100, 40), chunks=(50, 40), compression="gzip")
        f.create_dataset("s", data=["a", "bc"], dtype=h5py.string_dtype())
        f.create_dataset("one", data=3.5)
    report = hdmf_lindi.verify(path)
    assert report.ok, report.lines()
    assert report.chunks_decoded == 4  # z's two chunks, s, one
    if suffix == ".lindi.json":  # damage an inline chunk of z
        doc = json.loads(path.read_text())
        doc["refs"]["z/c/1/0"] = "base64:AAAAAAAAAAAAAAAA"
        path.write_text(json.dumps(doc))
    else:  # damage a blob inside the tar (the last chunk written)
        size = path.stat().st_size
        with File(path) as f:
            assert f.dialect == "zarr3"
        with open(path, "r+b") as fh:
            data = bytearray(fh.read())
            start = data.rfind(b"\x1f\x8b")  # the last gzip stream
            assert start > 0
            fh.seek(start)
            fh.write(b"\x00" * 16)
        assert path.stat().st_size == size
    report = hdmf_lindi.verify(path)
    assert not report.ok and "'z/c/1/0'" in report.problems[0], report.lines()  # named as in the file


def test_zarr3_index_sources_are_checked(tmp_path: Path) -> None:
    src = tmp_path / "src.h5"
    _h5(src)
    index = tmp_path / "i.lindi.json"
    index_hdf5(src, index, options=hdmf_lindi.IndexOptions(dialect="zarr3"))
    report = hdmf_lindi.verify(index)
    assert report.ok and report.sources[0].references == 3 and report.chunks_decoded >= 2, report.lines()
    assert f"  {report.chunks_decoded} inline/internal chunks decoded" in report.lines()
    os.unlink(src)
    assert hdmf_lindi.verify(index).sources[0].problems[0].startswith("missing")


def test_zarr_directory_store_chunk_files_are_decoded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A store's chunk files are no keys of its map: verify reported OK with 0 chunks decoded."""
    import warnings

    import zarr

    store = tmp_path / "s.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = zarr.open_group(zarr.storage.LocalStore(str(store)), mode="w", zarr_format=3)
        root.create_array("a", shape=(10,), chunks=(4,), dtype="int32")[:] = np.arange(10, dtype="int32")
        root.create_array("s", shape=(), dtype="float64")[()] = 2.5
        zarr.consolidate_metadata(zarr.storage.LocalStore(str(store)))
    report = hdmf_lindi.verify(store)
    assert report.ok and report.chunks_decoded == 4, report.lines()  # a's 3 chunk files and s's
    assert "  4 store chunk files decoded" in report.lines() and report.zarr_store
    assert main(["verify", str(store)]) == 0
    assert "4 store chunk files decoded" in capsys.readouterr().out
    (store / "a" / "c" / "1").write_bytes(b"\x00" * 5)
    report = hdmf_lindi.verify(store)
    assert not report.ok and report.problems[0].startswith("chunk 'a/c/1'"), report.lines()
