"""``--metadata-as-text`` of ``hdmf-lindi index``, ``convert`` and ``pack`` (and ``--metadata-as-objects``)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from pynwb import NWBHDF5IO
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

import hdmf_lindi
from hdmf_lindi.cli import main
from hdmf_lindi.storage.refmap import is_metadata_key

DATA = np.arange(300, dtype="<f8").reshape(100, 3)


def spelling(path: Path) -> set[type]:
    refs = json.loads(path.read_text())["refs"]
    return {type(v) for k, v in refs.items() if is_metadata_key(k)}


def test_index_then_pack_both_ways(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with h5py.File(tmp_path / "s.h5", "w") as f:
        f.create_dataset("g/x", data=DATA, chunks=(10, 3)).attrs["unit"] = "m"
    text, objects, kept = (tmp_path / f"{n}.lindi.json" for n in ("text", "objects", "kept"))
    assert main(["index", str(tmp_path / "s.h5"), str(text), "--metadata-as-text", "--quiet"]) == 0
    assert spelling(text) == {str}
    assert main(["pack", str(text), str(objects), "--metadata-as-objects", "--quiet"]) == 0
    assert spelling(objects) == {dict}
    assert main(["pack", str(objects), str(kept), "--quiet"]) == 0
    assert spelling(kept) == {dict}
    assert main(["pack", str(objects), str(kept), "--metadata-as-text", "--force", "--quiet"]) == 0
    assert spelling(kept) == {str}
    capsys.readouterr()
    for path in (text, objects, kept):
        with hdmf_lindi.File(path) as f:
            assert f["g/x"].attrs["unit"] == "m"
            np.testing.assert_array_equal(f["g/x"][...], DATA)
    # one spelling or the other: bad usage
    assert main(["pack", str(text), str(kept), "--metadata-as-text", "--metadata-as-objects"]) == 2
    assert "not allowed with" in capsys.readouterr().err


def test_convert_nwb_with_text_metadata(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nwb = tmp_path / "in.nwb"
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="ts", data=DATA, rate=10.0))
    with NWBHDF5IO(nwb, "w") as io:
        io.write(nwbfile)
    out = tmp_path / "out.lindi.json"
    assert main(["convert", str(nwb), str(out), "--metadata-as-text", "--quiet"]) == 0
    capsys.readouterr()
    assert spelling(out) == {str}
    with hdmf_lindi.NWBLindiIO(str(out), "r") as io:
        np.testing.assert_array_equal(io.read().acquisition["ts"].data[:], DATA)
