"""Which datasets an index copies inline because hdmf reads them while constructing containers.

``NWBLindiIO(url).read()`` should cost one request: the index itself. hdmf reads a few
datasets' values eagerly while it builds containers — a ``DynamicTable``'s ``id`` column
(``ElementIdentifiers``) and the ``VectorIndex`` datasets of its ragged columns — so a
referenced chunk of one of them costs a round trip per table on every ``read()``. Those are
copied into the index when their decoded size is at most ``IndexOptions.inline_eager_max_bytes``
(64 KiB by default: 8,192 int64 ids); larger ones stay referenced. Other datasets follow
``inline_max_elements`` as before, so the index grows only by these columns. ``NWBLindiIO``
writes the same datasets' chunks inline in a ``.lindi.tar`` / ``.lindi.d`` (not as blobs).
"""

from __future__ import annotations

from typing import Any

__all__ = ["EAGER_INLINE_MAX_BYTES", "EAGER_TYPES", "read_eagerly"]

EAGER_INLINE_MAX_BYTES = 64 << 10
"""Default decoded size up to which such datasets are inlined (indexing and writing)."""

EAGER_TYPES = frozenset({"ElementIdentifiers", "VectorIndex"})
"""The ``neurodata_type`` values whose datasets hdmf reads while constructing."""


def read_eagerly(zattrs: dict[str, Any], nbytes: int, limit: int) -> bool:
    """Whether a numeric dataset with attributes ``zattrs`` and ``nbytes`` decoded is inlined."""
    return 0 < nbytes <= limit and zattrs.get("neurodata_type") in EAGER_TYPES
