"""A packed file opens in the reference implementation, lindi 0.4.6, with the values it had.

lindi runs in its own environment through the interop fixtures (``tests/interop/conftest.py``);
these tests fail, never skip, when that environment is missing. Two sources: an archive that
hdmf-lindi updated many times (dead blobs, trash), and lindi's own sample with its trash.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from interop.conftest import _lindi_env, run_lindi  # noqa: F401  (fixtures)

import hdmf_lindi
from hdmf_lindi.storage.pack import pack


def lindi_dump(run_lindi: Callable[..., str], path: Path) -> Any:  # noqa: F811
    return json.loads(run_lindi("dump", str(path)))


@pytest.fixture
def updated_tar(tmp_path: Path) -> Path:
    path = tmp_path / "updated.lindi.tar"
    rng = np.random.default_rng(3)
    with hdmf_lindi.File(path, "w") as f:
        f.attrs["title"] = "updated"
        f.create_dataset("x", data=rng.random((120, 50)), chunks=(10, 50), compression="gzip")
        f.create_dataset("labels", data=np.array(["a", "bb", "ccc"], dtype=object))
        f["alias"] = hdmf_lindi.SoftLink("/x")
    for i in range(10):
        with hdmf_lindi.File(path, "a") as f:
            f["x"][i * 10:(i + 1) * 10] = rng.random((10, 50))
            f.create_group(f"g{i}").attrs["i"] = i
    return path


def test_lindi_reads_a_packed_tar_with_equal_values(
    tmp_path: Path, updated_tar: Path, run_lindi: Callable[..., str]  # noqa: F811
) -> None:
    out = tmp_path / "packed.lindi.tar"
    stats = pack(updated_tar, out)
    assert stats.bytes_after < stats.bytes_before / 2
    before = lindi_dump(run_lindi, updated_tar)
    after = lindi_dump(run_lindi, out)
    assert after == before
    assert "/x" in after and "/g9" in after


def test_lindi_written_and_appended_tar_packs_and_reads_the_same_in_lindi(
    tmp_path: Path, run_lindi: Callable[..., str]  # noqa: F811
) -> None:
    src = tmp_path / "lindi.lindi.tar"
    run_lindi("write", "tar", str(src))
    run_lindi("append", str(src))  # lindi rewrites chunks (blobs/rand/0.v2) and trashes lindi.json
    with tarfile.open(src) as tf:
        before_names = [m.name for m in tf.getmembers()]
    assert "blobs/rand/0.v2" in before_names
    assert any(n.startswith(".trash/lindi.json.") for n in before_names)
    out = tmp_path / "packed.lindi.tar"
    stats = pack(src, out)
    assert stats.bytes_after < stats.bytes_before
    with tarfile.open(out) as tf:
        names = [m.name for m in tf.getmembers()]
    assert "blobs/rand/0" in names and not any(n.endswith(".v2") for n in names)
    blobs = [n for n in names if n.startswith("blobs/")]
    assert blobs == sorted(blobs)  # key order (no key here has a two-digit chunk index)
    assert lindi_dump(run_lindi, out) == lindi_dump(run_lindi, src)


def test_lindi_sample_packed_in_place_reads_the_same_in_lindi(
    tmp_path: Path, run_lindi: Callable[..., str], lindi_samples: Path  # noqa: F811
) -> None:
    original = tmp_path / "original.lindi.tar"  # lindi opens tars r+b, even to read: a copy
    shutil.copyfile(lindi_samples / "written.lindi.tar", original)
    sample = tmp_path / "written.lindi.tar"
    shutil.copyfile(original, sample)
    pack(sample, sample)
    assert sample.read_bytes() != original.read_bytes()
    assert lindi_dump(run_lindi, sample) == lindi_dump(run_lindi, original)
