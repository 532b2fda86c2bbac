"""``Dataset.retype``: a numeric dataset stored again with another dtype, in place.

Matrix: form (json / tar / dir) x codec (none, gzip + shuffle) for the conversion itself; then
the refusals (values that do not fit, floating point to integers, read-only files) and a
dataset whose chunks are references into an HDF5 file (they become chunks of the LINDI file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from hdmf_lindi import File, index_hdf5
from hdmf_lindi.errors import ModeError

FORMS = {"json": "x.lindi.json", "tar": "x.lindi.tar", "dir": "x.lindi.d"}
CODECS: dict[str, dict[str, Any]] = {"raw": {}, "gzip-shuffle": {"compression": "gzip", "shuffle": True}}
DATA = (np.arange(1000) % 251).astype("uint16")


@pytest.mark.parametrize("codec", list(CODECS))
@pytest.mark.parametrize("form", list(FORMS))
def test_retype_widens_in_place(tmp_path: Path, form: str, codec: str) -> None:
    path = tmp_path / FORMS[form]
    with File(path, "w") as f:
        ds = f.create_dataset("x", data=DATA, chunks=(300,), **CODECS[codec])
        ds.attrs["unit"] = "count"
    with File(path, "a") as f:
        ds = f["x"]
        ds.retype("uint32")
        assert ds.dtype == np.uint32
        ds[0] = 2**20  # fits only the new dtype
    with File(path) as f:
        ds = f["x"]
        assert ds.dtype == np.uint32 and ds.chunks == (300,) and ds.attrs["unit"] == "count"
        assert ds.compression == ("gzip" if codec != "raw" else None) and ds.shuffle == (codec != "raw")
        if codec != "raw":
            assert {"id": "shuffle", "elementsize": 4} in (ds.filters or [])
        expected = DATA.astype("uint32")
        expected[0] = 2**20
        np.testing.assert_array_equal(ds[...], expected)


def test_retype_refuses_what_does_not_fit(tmp_path: Path) -> None:
    with File(tmp_path / "x.lindi.json", "w") as f:
        signed = f.create_dataset("s", data=np.array([-1, 2], dtype="int16"))
        with pytest.raises(TypeError, match="do not fit"):
            signed.retype("uint16")
        floats = f.create_dataset("f", data=[0.5, 1.0])
        with pytest.raises(TypeError, match="floating point"):
            floats.retype("int64")
        strings = f.create_dataset("t", data=["a"])
        with pytest.raises(TypeError, match="numeric"):
            strings.retype("int64")
        positive = f.create_dataset("p", data=np.array([1, 2], dtype="int64"))
        positive.retype("uint64")  # not a safe cast, but the values fit
        np.testing.assert_array_equal(positive[...], [1, 2])
        assert signed.dtype == np.int16  # a refusal changes nothing
    with File(tmp_path / "x.lindi.json") as f, pytest.raises(ModeError):
        f["s"].retype("int32")


def test_retype_of_referenced_chunks(tmp_path: Path) -> None:
    h5 = tmp_path / "src.h5"
    with h5py.File(h5, "w") as f:
        f.create_dataset("x", data=DATA, chunks=(300,), compression="gzip")
    index_hdf5(h5, tmp_path / "x.lindi.tar")
    with File(tmp_path / "x.lindi.tar") as f:
        assert f.container.refmap.get("x/0").url == str(h5)  # type: ignore[union-attr]
    with File(tmp_path / "x.lindi.tar", "a") as f:
        f["x"].retype("uint32")
    with File(tmp_path / "x.lindi.tar") as f:
        assert f["x"].dtype == np.uint32
        np.testing.assert_array_equal(f["x"][...], DATA)
    with h5py.File(h5) as f:  # the source is untouched
        assert f["x"].dtype == np.uint16
