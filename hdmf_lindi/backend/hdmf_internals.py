"""The few hdmf internals hdmf_lindi relies on, checked against the installed hdmf.

Two features reach past hdmf's public API:

* growing ragged columns in append mode (``backend/ragged.py``) replaces
  ``VectorIndex``'s private ``__adjust_precision(self, uint)``;
* exporting to HDF5 with the chunk layout kept (``backend/hdf5_export.py``)
  swaps a ``DatasetBuilder``'s data through its ``dict`` item ``"data"``, hands ``HDF5IO``'s
  ``write_dataset(parent, builder, ...)`` an ``H5DataIO(data=None, shape=, dtype=, ...)`` and
  asks ``HDF5IO.get_written``.

Each check below says what changed, or None. The features check at first use and, if the
installed hdmf changed what they need, fall back to hdmf's own behaviour with one warning:
no hook (a ragged column read from a file then fails to grow past 255 elements, as with
``NWBHDF5IO``), and HDF5IO's generic write (the data is exported whole; the chunk layout and
filters are not kept). :func:`check_hdmf_internals` raises
:class:`~hdmf_lindi.errors.HdmfCompatibilityError` listing every change at once.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any

import hdmf

from ..errors import HdmfCompatibilityError

__all__ = ["check_hdmf_internals", "export_problem", "precision_hook_problem", "warn_fallback"]

logger = logging.getLogger(__name__)

PRECISION_METHOD = "_VectorIndex__adjust_precision"
"""The name-mangled private method of ``hdmf.common.table.VectorIndex`` the ragged hook replaces."""


def _docval_names(func: Any) -> set[str] | None:
    from hdmf.utils import get_docval

    try:
        return {str(arg["name"]) for arg in get_docval(func)}
    except Exception:  # noqa: BLE001 - no docval (any error): the caller reports the change
        return None


def precision_hook_problem() -> str | None:
    """What keeps the ragged-column hook (``ragged.install_precision_hook``) from working, or None."""
    from hdmf.common.table import VectorIndex

    method: Callable[..., Any] | None = getattr(VectorIndex, PRECISION_METHOD, None)
    if method is None or not callable(method):
        return f"hdmf.common.table.VectorIndex has no private method {PRECISION_METHOD[12:]}"
    try:
        params = list(inspect.signature(method).parameters.values())
    except (TypeError, ValueError):
        return f"VectorIndex.{PRECISION_METHOD[12:]} has no inspectable signature"
    if len(params) != 2 or any(p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params):
        return f"VectorIndex.{PRECISION_METHOD[12:]} no longer takes (self, uint): {inspect.signature(method)}"
    return None


def export_problem() -> str | None:
    """What keeps the layout-keeping export (``hdf5_export.DirectChunkExportMixin``) from working, or None."""
    from hdmf.backends.hdf5 import HDF5IO, H5DataIO
    from hdmf.build import DatasetBuilder

    problems = []
    if not issubclass(DatasetBuilder, dict):
        problems.append("DatasetBuilder is no longer a dict")
    else:
        probe = DatasetBuilder("probe", data=[1])
        if dict.get(probe, "data") is not probe.data:
            problems.append("DatasetBuilder no longer holds its data in the item 'data'")
    write_args = _docval_names(HDF5IO.write_dataset)
    if write_args is None or not {"parent", "builder"} <= write_args:
        problems.append(f"HDF5IO.write_dataset no longer takes parent and builder (takes {sorted(write_args or [])})")
    io_args = _docval_names(H5DataIO.__init__)
    wanted = {"data", "shape", "dtype", "chunks", "compression", "compression_opts", "shuffle", "fillvalue", "maxshape"}
    if io_args is None or not wanted <= io_args:
        problems.append(f"H5DataIO no longer takes {sorted(wanted - (io_args or set()))}")
    if not callable(getattr(HDF5IO, "get_written", None)):
        problems.append("HDF5IO has no get_written")
    return "; ".join(problems) or None


def check_hdmf_internals() -> None:
    """Check every hdmf internal hdmf_lindi relies on.

    Raises
    ------
    HdmfCompatibilityError
        If the installed hdmf changed any of them; the message lists each change.
    """
    problems = [f"{what}: {problem}" for what, problem in (
        ("growing ragged columns in append mode", precision_hook_problem()),
        ("exporting to HDF5 with the chunk layout kept", export_problem()),
    ) if problem is not None]
    if problems:
        raise HdmfCompatibilityError(
            f"The installed hdmf {hdmf.__version__} changed internals hdmf_lindi relies on. "
            + " ".join(f"{p}." for p in problems)
            + " hdmf_lindi falls back to hdmf's own behaviour for these features; "
            "install the hdmf version named in hdmf_lindi's requirements, or report this."
        )


@functools.cache
def warn_fallback(feature: str, problem: str, fallback: str) -> None:
    """Log, once per process and feature, that ``feature`` falls back because of ``problem``."""
    logger.warning("hdmf %s changed an internal that %s relies on (%s): %s.",
                   hdmf.__version__, feature, problem, fallback)
