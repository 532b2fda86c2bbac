"""Growing ragged columns of tables read from a LINDI file (``add_unit(spike_times=...)``).

hdmf's ``VectorIndex`` widens its integers (``uint8`` -> ``uint16`` ...) when the target column
outgrows them, but only for data held as a list or a NumPy array: for any dataset read from a
file it raises ``cannot adjust precision of type ... to uint16`` -- which, since a ``VectorIndex``
read from a file always starts from ``uint8``, happens on the first ``add_row`` once the column
holds more than 255 elements (NWBHDF5IO too). The hook below widens a :class:`LindiDataset` in
place (:meth:`hdmf_lindi.Dataset.retype`, never narrowing) and leaves every other type to hdmf.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .datasets import LindiDataset

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
    """Let ``VectorIndex`` widen a :class:`LindiDataset` as it widens a NumPy array (idempotent)."""
    from hdmf.common.table import VectorIndex

    original = VectorIndex._VectorIndex__adjust_precision
    if getattr(original, _HOOKED, False):
        return

    def adjust_precision(self: VectorIndex, uint: Any) -> None:
        if isinstance(self.data, LindiDataset):
            widen(self.data, uint)
            return
        original(self, uint)

    adjust_precision.__doc__ = original.__doc__
    setattr(adjust_precision, _HOOKED, True)
    VectorIndex._VectorIndex__adjust_precision = adjust_precision

