"""lindi 0.4.6 and tars whose index + lindi.json pair has been moved into reused space.

Our updates write the new pair into regions left by earlier flushes (``tar_container``), so
after a few flushes the live ``lindi.json`` sits before dead members, not at the end. lindi
must still read such a tar, append to it (it appends after the end marker and may relocate
the index or ``lindi.json``), and we must keep reusing space in the file lindi changed.
"""

from __future__ import annotations

import json
import tarfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from test_lindi_interop import (
    _amend_with_ours,
    as_lindi_reads,
    assert_same,
    build_hdf5,
    build_ours,
    describe_ours,
    lindi_dump,
)

import hdmf_lindi


def _index(path: Path) -> dict[str, dict[str, int]]:
    data = path.read_bytes()
    entry = json.loads(data[512:1536])["index"]
    files = json.loads(data[entry["d"]:entry["d"] + entry["s"]])["files"]
    return {r["n"]: r for r in files}


def _check_listing(path: Path) -> None:
    """tarfile lists every member; each live name once, where the index says; the rest is trash."""
    index = _index(path)
    with tarfile.open(path) as tf:
        members = tf.getmembers()
        doc = tf.extractfile("lindi.json")
        assert doc is not None and "refs" in json.loads(doc.read())
    for m in members:
        if m.name in index:
            assert (m.offset, m.size) == (index[m.name]["o"], index[m.name]["s"]), m.name
        else:
            assert m.name.startswith(".trash/"), m.name
    assert Counter(m.name for m in members if m.name in index) == Counter(list(index))
    assert path.read_bytes()[-1024:] == bytes(1024)


def _small_flushes(path: Path, n: int, tag: str) -> list[tuple[int, int]]:
    """n sessions adding an attribute and a 300-element dataset; (file size, index offset)."""
    out = []
    for i in range(n):
        with hdmf_lindi.File(str(path), "a") as f:
            f.attrs[f"{tag}_{i}"] = i
            f.create_dataset(f"{tag}/d{i}", data=np.arange(300, dtype="i8") + i, chunks=(300,))
        out.append((path.stat().st_size, _index(path)[".tar_index.json"]["o"]))
    return out


def test_lindi_reads_and_appends_after_reuse_flushes(tmp_path: Path, run_lindi: Any) -> None:
    path = tmp_path / "ours.lindi.tar"
    build_ours(path)
    history = _small_flushes(path, 4, "reuse")
    assert len({o for _, o in history}) == 2  # the pair ping-pongs between two regions
    blob = 512 + 2560  # one 2400-byte chunk per flush
    assert [b - a for (a, _), (b, _) in zip(history, history[1:], strict=False)] == [blob] * 3
    _check_listing(path)
    ours = describe_ours(path)
    assert_same(lindi_dump(run_lindi, path), as_lindi_reads(ours), "lindi's reading after reuse flushes")

    run_lindi("append", str(path))
    after = describe_ours(path)
    assert after["/lindi_added/values"]["value"] == np.random.RandomState(5).rand(900).tolist()
    assert_same(
        {k: v for k, v in after.items() if not k.startswith("/lindi_added")}, ours,
        "our reading of the old part after lindi appended",
    )
    _check_listing(path)

    # we keep reusing space in the file lindi changed, and lindi reads the result
    size = path.stat().st_size
    again = _small_flushes(path, 3, "again")
    assert [s for s, _ in again] == [size + (i + 1) * blob for i in range(3)]
    _check_listing(path)
    assert_same(
        lindi_dump(run_lindi, path), as_lindi_reads(describe_ours(path)),
        "lindi's reading after lindi appended and we flushed again",
    )


def test_repeated_amends_of_a_lindi_conversion(tmp_path: Path, run_lindi: Any) -> None:
    """lindi indexes an HDF5 file into a tar; our amends after the first grow it by their data."""
    h5path = tmp_path / "source.h5"
    build_hdf5(h5path)
    path = tmp_path / "converted.lindi.tar"
    run_lindi("convert", str(h5path), str(path))
    _amend_with_ours(path)
    history = _small_flushes(path, 4, "amend")
    growth = [b - a for (a, _), (b, _) in zip(history, history[1:], strict=False)]
    assert growth == [512 + 2560] * 3, growth
    _check_listing(path)
    theirs = lindi_dump(run_lindi, path)
    assert_same(as_lindi_reads(describe_ours(path)), theirs, "our reading of lindi's conversion, amended 5 times")
    assert theirs["/amend/d3"]["value"] == (np.arange(300) + 3).tolist()
