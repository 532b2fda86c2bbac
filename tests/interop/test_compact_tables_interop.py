"""lindi 0.4.6 reads arrays indexed into compact chunk tables (through its HDF5 fallback link).

``index_hdf5`` holds a dataset above the chunk-table threshold as a compact table and writes
lindi's ``_EXTERNAL_ARRAY_LINK`` beside it; lindi ignores the ``"hdmf_lindi"`` key and reads the
dataset through h5py on the source file. Below the threshold, plain references stay.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import h5py
import numpy as np
import pytest

from hdmf_lindi.hdf5.indexer import index_hdf5


@pytest.mark.parametrize("suffix", [".lindi.json", ".lindi.tar"])
def test_lindi_reads_a_table_backed_array_equal(
    tmp_path: Path, suffix: str, run_lindi: Any, driver: ModuleType
) -> None:
    big = np.random.default_rng(3).integers(-99, 99, (10_200, 3), dtype=np.int16)
    small = np.arange(3000, dtype=np.float64)
    source = tmp_path / "src.h5"
    with h5py.File(source, "w") as f:
        f.create_dataset("big", data=big, chunks=(1, 3), compression="gzip")
        f.create_dataset("small", data=small, chunks=(100,))
    out = tmp_path / ("x" + suffix)
    refmap = index_hdf5(source, out)
    table = refmap.chunk_table("big")
    assert table is not None and table.compact
    dump = json.loads(run_lindi("dump", str(out), cwd=tmp_path))

    def canon(values: np.ndarray[Any, Any]) -> Any:
        return json.loads(json.dumps(driver.canon_value(values, lambda x: None)))

    assert dump["/big"]["value"] == canon(big)
    assert dump["/big"]["shape"] == [10_200, 3]
    assert dump["/small"]["value"] == canon(small)
    assert "_EXTERNAL_ARRAY_LINK" not in dump["/big"]["attrs"]  # lindi hides its own link
