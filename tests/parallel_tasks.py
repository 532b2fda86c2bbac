"""Functions the parallel tests run on dask workers: light to import (numpy and hdmf_lindi only)."""

from __future__ import annotations

from typing import Any

import numpy as np


def total(data: Any) -> float:
    """The sum of all elements of an array-like, in float64."""
    return float(np.asarray(data[...]).astype("f8").sum())


def read_all(data: Any) -> Any:
    """All elements of an array-like."""
    return data[...]


def cache_state() -> tuple[Any, int]:
    """This process's handle options override and the number of files its cache holds."""
    from hdmf_lindi.tree.handle import OPEN_FILES

    return OPEN_FILES.options, len(OPEN_FILES)
