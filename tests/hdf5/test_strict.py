"""IndexOptions(strict=True) refuses to leave anything out; the default records it in notes."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

import hdmf_lindi
from hdmf_lindi.errors import IndexingError


@pytest.fixture
def lossy_h5(tmp_path: Path) -> Path:
    # an Empty attribute has no JSON form, so an exact index is impossible
    path = tmp_path / "lossy.h5"
    with h5py.File(path, "w") as f:
        f.attrs["nothing"] = h5py.Empty("f4")
        f.create_dataset("x", data=np.arange(3))
    return path


def test_strict_raises_and_writes_nothing(tmp_path: Path, lossy_h5: Path) -> None:
    out = tmp_path / "x.lindi.json"
    with pytest.raises(IndexingError, match=r"Cannot index .* exactly: skipped attribute 'nothing' of /: null dataspace"):
        hdmf_lindi.index_hdf5(lossy_h5, out, options=hdmf_lindi.IndexOptions(strict=True))
    assert not out.exists()


def test_default_records_the_loss(tmp_path: Path, lossy_h5: Path) -> None:
    refmap = hdmf_lindi.index_hdf5(lossy_h5)
    assert refmap.generation_metadata["notes"] == [
        "skipped attribute 'nothing' of /: null dataspace (h5py.Empty) has no JSON form"
    ]
    with hdmf_lindi.File(refmap) as f:
        assert "nothing" not in f.attrs
        np.testing.assert_array_equal(f["x"][...], [0, 1, 2])
