"""lindi 0.4.6 and the source identities we record under the top-level ``"hdmf_lindi"`` key.

lindi must read an index carrying identities, and an append by lindi must keep them (lindi
carries unknown top-level keys); we must still check them afterwards.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

import hdmf_lindi
from hdmf_lindi import File, index_hdf5
from hdmf_lindi.errors import SourceChangedError
from hdmf_lindi.storage import open_container
from hdmf_lindi.storage.identity import read_identities


@pytest.mark.parametrize("suffix", [".lindi.json", ".lindi.tar"])
def test_lindi_reads_and_keeps_identities(tmp_path: Path, suffix: str, run_lindi: Any) -> None:
    src = tmp_path / "src.h5"
    values = np.arange(4000.0).reshape(400, 10)
    with h5py.File(src, "w") as f:
        f.create_dataset("x", data=values, chunks=(100, 10))
    path = tmp_path / f"i{suffix}"
    index_hdf5(src, path)
    theirs = json.loads(run_lindi("dump", str(path)))
    assert theirs["/x"]["value"] == values.tolist()
    run_lindi("append", str(path))
    with open_container(path) as c:
        assert list(read_identities(c.refmap)) == [str(src.resolve())]
    with File(path) as f:
        assert "lindi_added" in f
        np.testing.assert_array_equal(f["x"][()], values)
    st = os.stat(src)
    os.utime(src, ns=(st.st_mtime_ns + 10**9,) * 2)
    with File(path) as f, pytest.raises(SourceChangedError):
        f["x"][()]


@pytest.mark.parametrize("suffix", [".lindi.json", ".lindi.tar"])
def test_verify_lindi_written_index(tmp_path: Path, suffix: str, run_lindi: Any) -> None:
    """lindi records no identities: verify checks the references' sizes only."""
    src = tmp_path / "src.h5"
    with h5py.File(src, "w") as f:
        f.create_dataset("x", data=np.arange(40000.0).reshape(400, 100), chunks=(100, 100))
        f.create_dataset("small", data=np.arange(7))
    path = tmp_path / f"lindi{suffix}"
    run_lindi("convert", str(src), str(path))
    report = hdmf_lindi.verify(path)
    assert report.ok, report.lines()
    assert [s.recorded for s in report.sources] == [None] and report.sources[0].references == 4
    with open(src, "r+b") as fh:
        fh.truncate(100_000)
    assert not hdmf_lindi.verify(path).ok
