"""The ``mock_*`` functions of ``pynwb.testing.mock``, found by walking the package.

Shared by the NWB corpora of tests/hdf5, tests/backend and tests/backend_write, so that each
fails the same way when pynwb gains a mock that a corpus neither calls nor lists.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pynwb.testing.mock as mock_pkg

NOT_ADDED = {"mock_NWBFile": "builds the NWBFile itself; every corpus file is one"}
"""Mocks no corpus adds to a file, with the reason."""


def discover_mocks() -> dict[str, Callable[..., Any]]:
    """Every public ``mock_*`` function defined in a module of ``pynwb.testing.mock``."""
    found: dict[str, Callable[..., Any]] = {}
    for info in pkgutil.iter_modules(mock_pkg.__path__):
        module = importlib.import_module(f"{mock_pkg.__name__}.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("mock_") and fn.__module__ == module.__name__:
                found[name] = fn
    return found


def write_linked_nwb(directory: Path) -> Path:
    """Write ``raw.h5`` and ``main.nwb`` into ``directory``; the NWB's TimeSeries ``linked``
    holds its data as an HDF5 external link to ``raw.h5``'s ``/raw`` (``arange(3000)``, int16).
    Returns the NWB's path."""
    import h5py
    import numpy as np
    from pynwb import NWBHDF5IO, TimeSeries
    from pynwb.testing.mock.file import mock_NWBFile

    with h5py.File(directory / "raw.h5", "w") as f:
        f.create_dataset("raw", data=np.arange(3000, dtype="int16"), chunks=(1000,))
    nwbfile = mock_NWBFile()
    with h5py.File(directory / "raw.h5", "r") as f:
        nwbfile.add_acquisition(TimeSeries(name="linked", data=f["raw"], unit="V", rate=1.0))
        with NWBHDF5IO(str(directory / "main.nwb"), "w") as io:
            io.write(nwbfile, link_data=True)
    return directory / "main.nwb"
