"""Names and options of the HDF5 edge cases (the fixtures themselves live in ``conftest.py``)."""

from __future__ import annotations

from typing import Any

SPLIT_BYTES = 4000
"""``contiguous_max_chunk_bytes`` for ``contiguous_split_h5``: its 1009-row datasets do not split
evenly into pseudo-chunks of at most this many bytes."""

EDGE_CASES = [
    "contiguous_h5", "contiguous_split_h5", "compact_h5", "chunked_gzip_shuffle_h5",
    "fletcher32_h5", "partial_chunks_h5", "unlimited_gzip_h5", "empty_dataset_h5", "scalar_h5",
    "strings_h5", "compound_with_ref_h5", "references_h5", "soft_link_h5", "external_link_h5",
    "hard_link_h5", "attrs_h5", "enum_h5", "bool_h5", "big_endian_h5", "many_chunks_h5",
    "lzf_h5", "blosc_h5", "zstd_h5", "lz4_h5", "bitshuffle_h5",
    # beyond the layouts and types (more_fixtures.py)
    "filter_mask_h5", "virtual_h5", "odd_names_h5", "null_dataspace_h5", "numeric_dtypes_h5",
]
"""Every edge-case fixture (``conftest.py``, ``more_fixtures.py``), in the order of the matrix."""

CASE_OPTIONS: dict[str, dict[str, Any]] = {
    "contiguous_split_h5": {"contiguous_max_chunk_bytes": SPLIT_BYTES},
}
"""``IndexOptions`` keywords a case needs to exercise its edge."""

LINDI_UNREADABLE_CASES = frozenset({"zstd_h5"})
"""Cases whose referenced chunks lindi 0.4.6 cannot decode: indexing them in the ``lindi``
dialect warns (``LindiWarning``)."""
