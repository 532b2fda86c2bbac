"""hdmf-lindi: LINDI files as a first-class home for NWB data."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import errors
from .errors import LindiError

try:
    __version__ = version("hdmf-lindi")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["LindiError", "__version__", "errors"]
