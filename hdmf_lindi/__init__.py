"""hdmf-lindi: LINDI files as a first-class home for NWB data."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import errors
from .errors import LindiError
from .format import ExternalLink, Reference, SoftLink, ref_dtype, string_dtype
from .storage.stats import IOStats, StatsSnapshot, stats
from .tree import Dataset, File, Group, HardLink
from .tree.pack import pack

try:
    __version__ = version("hdmf-lindi")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"


def __getattr__(name: str) -> object:
    # index_hdf5 needs h5py, the backend hdmf and pynwb: import them only when asked for, so
    # "import hdmf_lindi" stays light.
    if name in ("index_hdf5", "IndexOptions"):
        from . import hdf5

        return getattr(hdf5, name)
    if name in ("LindiIO", "LindiDataset", "LindiDataIO"):
        from . import backend

        return getattr(backend, name)
    if name in ("NWBLindiIO", "read_nwb", "validate", "convert"):
        from . import nwb

        return getattr(nwb, name)
    if name in ("verify", "VerifyReport"):
        from . import verification

        return getattr(verification, name)
    if name == "open_dask":
        from . import dask  # dask is an optional extra

        return dask.open_dask
    if name == "to_xarray":
        from . import xarray_backend  # xarray is an optional extra

        return xarray_backend.to_xarray
    raise AttributeError(f"module 'hdmf_lindi' has no attribute {name!r}")


def open_file(location: str, mode: str = "r", **kwargs: object) -> File:
    """Open a LINDI file; the same as ``File(location, mode, ...)``."""
    return File(location, mode, **kwargs)  # type: ignore[arg-type]


__all__ = [
    "Dataset",
    "ExternalLink",
    "File",
    "Group",
    "HardLink",
    "IndexOptions",
    "LindiDataIO",
    "LindiDataset",
    "LindiError",
    "LindiIO",
    "NWBLindiIO",
    "Reference",
    "SoftLink",
    "VerifyReport",
    "__version__",
    "convert",
    "errors",
    "index_hdf5",
    "open_dask",
    "open_file",
    "pack",
    "read_nwb",
    "ref_dtype",
    "string_dtype",
    "to_xarray",
    "validate",
    "verify",
    "IOStats",
    "StatsSnapshot",
    "stats",
]
