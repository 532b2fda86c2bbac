"""Growing ragged columns of tables read from a LINDI file (``add_unit(spike_times=...)``).

hdmf's ``VectorIndex`` widens its integers (``uint8`` -> ``uint16`` ...) when the target column
outgrows them, but only for data held as a list or a NumPy array: for any dataset read from a
file it raises ``cannot adjust precision of type ... to uint16`` -- which, since a ``VectorIndex``
read from a file always starts from ``uint8``, happens on the first ``add_row`` once the column
holds more than 255 elements (NWBHDF5IO too). The hook below widens a :class:`LindiDataset` in
place (:meth:`hdmf_lindi.Dataset.retype`, never narrowing) and leaves every other type to hdmf.

It replaces a private method of hdmf's; ``hdmf_internals.precision_hook_problem`` checks that
the installed hdmf still has it, with the same signature, and if not no hook is installed
(hdmf's own behaviour, one warning).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .datasets import LindiDataset
from .hdmf_internals import PRECISION_METHOD, precision_hook_problem, warn_fallback

__all__ = ["install_precision_hook", "widen"]

_HOOKED = "_hdmf_lindi_hook"


def widen(data: LindiDataset, uint: Any) -> None:
    """Make the stored dtype of ``data`` hold every value of ``uint`` (no-op if it already does).

    Raises
    ------
    ModeError
        If the file is read-only.
    """
    wanted = np.dtype(uint)
    if np.can_cast(wanted, data.dtype, casting="safe"):
        return
    data.dataset.retype(wanted)


def install_precision_hook() -> None:
    """Let ``VectorIndex`` widen a :class:`LindiDataset` as it widens a NumPy array (idempotent).

    If the installed hdmf changed the private method this replaces, nothing is installed and a
    warning is logged once.
    """
    from hdmf.common.table import VectorIndex

    problem = precision_hook_problem()
    if problem is not None:
        warn_fallback("growing ragged columns in append mode", problem,
                      "no hook installed; a ragged column read from a file fails to grow past 255 elements, "
                      "as with NWBHDF5IO")
        return
    original = getattr(VectorIndex, PRECISION_METHOD)
    if getattr(original, _HOOKED, False):
        return

    def adjust_precision(self: VectorIndex, uint: Any) -> None:
        if isinstance(self.data, LindiDataset):
            widen(self.data, uint)
            return
        original(self, uint)

    adjust_precision.__doc__ = original.__doc__
    setattr(adjust_precision, _HOOKED, True)
    setattr(VectorIndex, PRECISION_METHOD, adjust_precision)

