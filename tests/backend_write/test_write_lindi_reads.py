"""lindi 0.4.6 reads what NWBLindiIO writes, in each form.

Matrix: corpus file x form. The written file is described twice in the canonical form of
``tests/interop`` (every group, dataset and attribute, type-strict): as lindi 0.4.6 reads it (in
its own environment) and as ``hdmf_lindi.File`` reads it, with lindi's documented attribute quirks
applied (``as_lindi_reads``, ``docs/format_notes.rst``). The corpus has no compound with a string
field and no zstd data, the two things lindi cannot read.

``test_lindi_reads_appended`` does the same after an append with ``NWBLindiIO(path, "a")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from interop.test_lindi_interop import as_lindi_reads, assert_same, describe_ours, lindi_dump
from pynwb.testing.mock.base import mock_TimeSeries
from write_corpus import FILES, FORMS, SUFFIX, Corpus

from hdmf_lindi import NWBLindiIO


def _write(corpus: Corpus, name: str, path: Path) -> None:
    with NWBLindiIO(path, "w", manager=corpus.manager()) as io:
        io.write(corpus.build(name))


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", FILES)
def test_lindi_reads_written(corpus: Corpus, tmp_path: Path, name: str, form: str, run_lindi: Any) -> None:
    path = tmp_path / f"{name}{SUFFIX[form]}"
    _write(corpus, name, path)
    ours = describe_ours(path)
    assert_same(lindi_dump(run_lindi, path), as_lindi_reads(ours), f"lindi 0.4.6 reading {path.name}")
    # the description covers the data, not only the tree
    assert ours["/"]["attrs"]["neurodata_type"] == "NWBFile"
    if name == "main":
        ext = ours["/processing/extension/ext"]["attrs"]
        assert (ext["gain"], ext["offset"]) == (200, -300)
        events = ours["/processing/extension/ext/events"]["value"]["fields"]
        assert events["series"] == [{"ref": "/acquisition/ext_target"}] * 2
        assert ours["/acquisition/compressed/data"]["value"][-1] == [23996.0, 23997.0, 23998.0, 23999.0]


@pytest.mark.parametrize("form", FORMS)
def test_lindi_reads_appended(corpus: Corpus, tmp_path: Path, form: str, run_lindi: Any) -> None:
    path = tmp_path / f"ecephys_tables{SUFFIX[form]}"
    _write(corpus, "ecephys_tables", path)
    with NWBLindiIO(path, "a", manager=corpus.manager()) as io:
        nwbfile = io.read()
        module = nwbfile.create_processing_module("added", "appended by NWBLindiIO")
        module.add(mock_TimeSeries(name="new_series", data=np.arange(5000, dtype="int32")))
        io.write(nwbfile)
    ours = describe_ours(path)
    assert ours["/processing/added/new_series/data"]["value"] == list(range(5000))
    assert ours["/processing/added/new_series/data"]["dtype"] == "<i4"
    assert_same(lindi_dump(run_lindi, path), as_lindi_reads(ours), f"lindi 0.4.6 reading the appended {path.name}")
