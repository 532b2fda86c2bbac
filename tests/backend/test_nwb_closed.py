"""Containers read through a closed IO behave as with ``NWBHDF5IO``: what was read stays, data raise.

The same NWB file is written as HDF5 (read with ``NWBHDF5IO``, the oracle) and as each LINDI
form (read with ``NWBLindiIO``); after the IO is closed, each operation below must raise in both
or in neither, and where ours raises it is a :class:`ClosedFileError` that is also the builtin
type h5py raised.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pynwb import NWBHDF5IO, TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_lindi import NWBLindiIO
from hdmf_lindi.errors import ClosedFileError

OPERATIONS: dict[str, Callable[[Any], Any]] = {
    "repr": lambda nwb: repr(nwb),
    "html": lambda nwb: nwb._repr_html_(),
    "series repr": lambda nwb: str(nwb.acquisition["ts"]),
    "shape": lambda nwb: nwb.acquisition["ts"].data.shape,
    "len": lambda nwb: len(nwb.acquisition["ts"].data),
    "num_samples": lambda nwb: nwb.acquisition["ts"].num_samples,
    "data slice": lambda nwb: nwb.acquisition["ts"].data[:3],
    "units dataframe": lambda nwb: nwb.units.to_dataframe(),
    "units row": lambda nwb: nwb.units[0],
}


def _nwb() -> Any:
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(TimeSeries(name="ts", data=np.arange(10.0), unit="m", rate=1.0))
    nwbfile.add_unit(spike_times=[0.1, 0.2])
    return nwbfile


def _outcomes(io_class: Any, path: Path) -> dict[str, type[BaseException] | None]:
    with io_class(path, "w") as io:
        io.write(_nwb())
    with io_class(path, "r") as io:
        nwbfile = io.read()
    out: dict[str, type[BaseException] | None] = {}
    for name, op in OPERATIONS.items():
        try:
            op(nwbfile)
            out[name] = None
        except Exception as exc:  # noqa: BLE001 - recording what each backend raises
            out[name] = type(exc)
    return out


@pytest.mark.parametrize("suffix", [".lindi.json", ".lindi.tar", ".lindi.d"])
def test_closed_io_behaves_like_nwbhdf5io(tmp_path: Path, suffix: str) -> None:
    oracle = _outcomes(NWBHDF5IO, tmp_path / "f.nwb")
    ours = _outcomes(NWBLindiIO, tmp_path / f"f{suffix}")
    assert {k: v is None for k, v in ours.items()} == {k: v is None for k, v in oracle.items()}
    assert oracle["data slice"] is not None  # the oracle does refuse data reads
    for name, raised in ours.items():
        if raised is not None:
            assert issubclass(raised, ClosedFileError), name
            h5py_type = oracle[name]
            assert h5py_type is not None
            if issubclass(h5py_type, (ValueError, KeyError, RuntimeError)):
                assert issubclass(raised, h5py_type), (name, h5py_type)
