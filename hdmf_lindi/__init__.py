"""hdmf-lindi: LINDI files as a first-class home for NWB data."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import errors
from .errors import LindiError
from .format import ExternalLink, Reference, SoftLink, ref_dtype, string_dtype
from .tree import Dataset, File, Group, HardLink

try:
    __version__ = version("hdmf-lindi")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"


def open_file(location: str, mode: str = "r", **kwargs: object) -> File:
    """Open a LINDI file; the same as ``File(location, mode, ...)``."""
    return File(location, mode, **kwargs)  # type: ignore[arg-type]


__all__ = [
    "Dataset",
    "ExternalLink",
    "File",
    "Group",
    "HardLink",
    "LindiError",
    "Reference",
    "SoftLink",
    "__version__",
    "errors",
    "open_file",
    "ref_dtype",
    "string_dtype",
]
