"""Whole raw chunks are read straight into the result (no intermediate buffer); same values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import hdmf_lindi
from hdmf_lindi.errors import ChunkRefError

DATA = np.arange(60 * 300, dtype=">i4").reshape(60, 300)


@pytest.mark.parametrize("suffix", [".lindi.tar", ".lindi.d", ".lindi.json"])
@pytest.mark.parametrize("selection", [np.s_[...], np.s_[7:43], np.s_[10:20, :], np.s_[:, 5:9]])
def test_direct_reads_equal_numpy(tmp_path: Path, suffix: str, selection: object) -> None:
    path = tmp_path / f"x{suffix}"
    with hdmf_lindi.File(path, "w") as f:
        f.create_dataset("data", data=DATA, chunks=(5, 300))  # 6000-byte raw chunks: blobs
    with hdmf_lindi.File(path, chunk_cache_bytes=0) as f:
        np.testing.assert_array_equal(f["data"][selection], DATA[selection])
    with hdmf_lindi.File(path) as f:  # with the cache: first read fills nothing, second equal
        np.testing.assert_array_equal(f["data"][selection], DATA[selection])
        np.testing.assert_array_equal(f["data"][selection], DATA[selection])


def test_direct_read_of_a_truncated_blob_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.lindi.d"
    with hdmf_lindi.File(path, "w") as f:
        f.create_dataset("data", data=DATA, chunks=(5, 300))
    blob = path / "blobs" / "data" / "3.0"
    blob.write_bytes(blob.read_bytes()[:100])
    with hdmf_lindi.File(path) as f:
        with pytest.raises(ChunkRefError, match="only 100 bytes"):
            f["data"][...]
