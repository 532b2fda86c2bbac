"""Writers that copy references to another file carry the source identities along.

``Group.copy`` between files and ``pack`` keep the recorded identity of every referenced file,
under the name the copy uses for it (a relative path is rebased), so the copy checks its
sources as the original did.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

import hdmf_lindi
from hdmf_lindi import File, index_hdf5
from hdmf_lindi.errors import SourceChangedError
from hdmf_lindi.storage import open_container
from hdmf_lindi.storage.identity import read_identities


def _indexed(tmp_path: Path) -> tuple[Path, Path]:
    src = tmp_path / "src.h5"
    with h5py.File(src, "w") as f:
        f.create_dataset("x", data=np.arange(4000.0).reshape(400, 10), chunks=(100, 10))
    index = tmp_path / "i.lindi.json"
    index_hdf5(src, index)
    return src, index


def _touch(path: Path) -> None:
    st = os.stat(path)
    os.utime(path, ns=(st.st_mtime_ns + 10**9,) * 2)


def test_copy_between_files_carries_identity(tmp_path: Path) -> None:
    src, index = _indexed(tmp_path)
    out = tmp_path / "copy.lindi.tar"
    with File(index) as f, File(out, "w") as g:
        g.copy(f["x"], "y")
    with open_container(index) as a, open_container(out) as b:
        assert read_identities(b.refmap) == read_identities(a.refmap)
        assert list(read_identities(b.refmap)) == [str(src.resolve())]
    _touch(src)
    with File(out) as g, pytest.raises(SourceChangedError):
        g["y"][()]


def test_pack_rebases_identities(tmp_path: Path) -> None:
    src = tmp_path / "src.h5"
    with h5py.File(src, "w") as f:
        f.create_dataset("x", data=np.arange(4000.0).reshape(400, 10), chunks=(100, 10))
    index = tmp_path / "i.lindi.json"
    index_hdf5(src, index)
    doc = json.loads(index.read_text())  # make the reference relative, as a hand-moved index has it
    text = json.dumps(doc).replace(str(src.resolve()), "src.h5")
    index.write_text(text)
    (tmp_path / "out").mkdir()
    packed = tmp_path / "out" / "p.lindi.tar"
    hdmf_lindi.pack(index, packed)
    with open_container(packed) as c:
        assert list(read_identities(c.refmap)) == [os.path.join("..", "src.h5")]
    with File(packed) as g:
        np.testing.assert_array_equal(g["x"][:2], [np.arange(10.0), np.arange(10.0, 20)])
    _touch(src)
    with File(packed) as g, pytest.raises(SourceChangedError):
        g["x"][()]
