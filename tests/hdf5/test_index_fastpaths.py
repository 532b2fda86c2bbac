"""The indexer's fast paths: repeated references, and the file opened with evict-on-close.

* A reference column of many references to a few objects (an NWB electrodes ``group`` column)
  is read as addresses, each target dereferenced once; every element must still be the right
  Reference, null references included, and so must a scalar reference dataset.
* ``index_hdf5`` opens the source with HDF5's evict-on-close (``lowlevel.evict_on_close_fapl``).
  HDF5 refuses that while the same file is open in this process with other settings: the
  index must then open it plainly, read the same, and leave the caller's h5py file usable;
  afterwards h5py must open the file normally again.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from compare import assert_same_tree

from hdmf_lindi import File, index_hdf5


@pytest.fixture
def references_h5(tmp_path: Path) -> Path:
    path = tmp_path / "references.h5"
    with h5py.File(path, "w") as f:
        a = f.create_group("a")
        b = f.create_dataset("b", data=np.arange(3))
        column = [a.ref, b.ref, h5py.Reference()] * 40 + [a.ref]
        f.create_dataset("column", data=np.array(column, dtype=h5py.ref_dtype))
        f.create_dataset("grid", data=np.array(column[:120], dtype=h5py.ref_dtype).reshape(30, 4))
        f.create_dataset("one", data=b.ref, dtype=h5py.ref_dtype)
    return path


def test_repeated_references(references_h5: Path) -> None:
    refmap = index_hdf5(references_h5)
    with File(refmap) as f:
        assert_same_tree(references_h5, f)
        column = f["column"][...]
        assert [r.path if r else None for r in column[:4]] == ["/a", "/b", None, "/a"]


def test_index_while_open_elsewhere(references_h5: Path) -> None:
    with h5py.File(references_h5, "r") as held:
        refmap = index_hdf5(references_h5)
        assert held["b"][1] == 1  # the caller's file is untouched
    with File(refmap) as f:
        assert_same_tree(references_h5, f)
    with h5py.File(references_h5, "r") as again:  # nothing left open with other settings
        assert again["b"].shape == (3,)
