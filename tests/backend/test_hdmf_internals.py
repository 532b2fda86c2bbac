"""The guard on the hdmf internals hdmf_lindi relies on: it passes on the installed hdmf, names
what changed when an internal is missing or different, and the features fall back to hdmf's
own behaviour (with one warning) instead of breaking."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest
from hdmf.backends.hdf5 import H5DataIO
from hdmf.common.table import VectorIndex
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_lindi import NWBLindiIO
from hdmf_lindi.backend import hdf5_export, hdmf_internals, ragged
from hdmf_lindi.backend.hdmf_internals import (
    PRECISION_METHOD,
    check_hdmf_internals,
    export_problem,
    precision_hook_problem,
)
from hdmf_lindi.errors import HdmfCompatibilityError, LindiError
from hdmf_lindi.nwb import convert

DATA = (np.arange(6000 * 4).reshape(6000, 4) % 1000).astype("i2")


@pytest.fixture(autouse=True)
def _fresh_checks() -> Iterator[None]:
    """The once-per-process caches start and end empty, so no test sees another's verdict."""
    hdmf_internals.warn_fallback.cache_clear()
    hdf5_export._usable.cache_clear()
    yield
    hdmf_internals.warn_fallback.cache_clear()
    hdf5_export._usable.cache_clear()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "hdmf_lindi.backend.hdmf_internals"]


def test_the_installed_hdmf_passes() -> None:
    assert precision_hook_problem() is None and export_problem() is None
    check_hdmf_internals()
    assert getattr(getattr(VectorIndex, PRECISION_METHOD), ragged._HOOKED, False)  # installed at import
    assert issubclass(HdmfCompatibilityError, LindiError) and issubclass(HdmfCompatibilityError, RuntimeError)


def test_a_missing_private_method(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delattr(VectorIndex, PRECISION_METHOD)
    assert "has no private method __adjust_precision" in (precision_hook_problem() or "")
    with pytest.raises(HdmfCompatibilityError, match="growing ragged columns in append mode: .*__adjust_precision"):
        check_hdmf_internals()
    with caplog.at_level(logging.WARNING, logger="hdmf_lindi"):
        ragged.install_precision_hook()
        ragged.install_precision_hook()
    assert not hasattr(VectorIndex, PRECISION_METHOD)  # nothing installed in its place
    assert len(_warnings(caplog)) == 1 and "fails to grow past 255 elements" in _warnings(caplog)[0]


def test_a_changed_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(VectorIndex, PRECISION_METHOD, lambda self, uint, extra: None)
    assert "no longer takes (self, uint)" in (precision_hook_problem() or "")
    with pytest.raises(HdmfCompatibilityError, match="no longer takes"):
        check_hdmf_internals()


def test_export_falls_back_when_h5dataio_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    lindi = tmp_path / "in.lindi.json"
    nwbfile = mock_NWBFile()
    data = H5DataIO(DATA, chunks=(1000, 4), compression="gzip", compression_opts=4)
    nwbfile.add_acquisition(mock_TimeSeries(name="ts", data=data, rate=10.0))
    with NWBLindiIO(lindi, "w") as io:
        io.write(nwbfile)

    kept = tmp_path / "kept.nwb"
    convert(lindi, kept)
    with h5py.File(kept, "r") as f:  # the guard passes: the layout is kept
        assert (f["acquisition/ts/data"].chunks, f["acquisition/ts/data"].compression) == ((1000, 4), "gzip")

    docval = dict(H5DataIO.__init__.__docval__)  # type: ignore[attr-defined]
    docval["args"] = [a for a in docval["args"] if a["name"] != "shape"]
    monkeypatch.setattr(H5DataIO.__init__, "__docval__", docval)  # what get_docval sees; calls unchanged
    assert "H5DataIO no longer takes ['shape']" in (export_problem() or "")
    hdf5_export._usable.cache_clear()
    back = tmp_path / "back.nwb"
    with caplog.at_level(logging.WARNING, logger="hdmf_lindi"):
        convert(lindi, back)
    assert len(_warnings(caplog)) == 1 and "chunk layout and filters not kept" in _warnings(caplog)[0]
    with h5py.File(back, "r") as f:  # hdmf's own path: the data whole, the layout not kept
        np.testing.assert_array_equal(f["acquisition/ts/data"][...], DATA)
        assert f["acquisition/ts/data"].compression is None
