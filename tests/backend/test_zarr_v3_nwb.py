"""NWB files in the Zarr v3 convention read through ``NWBLindiIO`` (fixtures in tests/fixtures).

* zindi's document of ``zindi_mock.nwb`` reads equal, container by container, to ``NWBHDF5IO``'s
  read of that HDF5 file;
* hdmf-zarr's ``nwb_tables`` packed as a reference file system reads equal to what
  ``NWBZarrIO`` reads from it (run in the hdmf-zarr environment by
  ``tests/interop/v3read_hdmf_zarr_driver.py``) and, served over HTTP, costs one request.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from backend_reads import assert_same_tree
from httpserver import RangeServer
from interop.conftest import hdmf_zarr_python  # noqa: F401
from pynwb import NWBHDF5IO

from hdmf_lindi import NWBLindiIO
from hdmf_lindi.errors import LindiWarning

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "zarr-v3-samples"
DRIVER = Path(__file__).resolve().parent.parent / "interop" / "v3read_hdmf_zarr_driver.py"


def test_zindi_document_reads_like_nwbhdf5io_on_its_hdf5() -> None:
    with NWBHDF5IO(SAMPLES / "zindi_mock.nwb", "r") as h5io, NWBLindiIO(str(SAMPLES / "zindi_mock.zindi.json"), "r") as io:
        expected = h5io.read()
        actual = io.read()
        assert_same_tree(expected, actual)
        assert len(expected.all_children()) > 20
        es = actual.acquisition["es"]
        np.testing.assert_array_equal(es.data[:], expected.acquisition["es"].data[:])
        assert es.electrodes.table is actual.electrodes


def test_hdmf_zarr_rfs_reads_its_tables() -> None:
    with NWBLindiIO(str(SAMPLES / "nwb_tables.rfs.json"), "r") as io:
        nwbfile = io.read()
        assert nwbfile.identifier == "nwb-tables"
        units = nwbfile.units.to_dataframe()
        assert units["quality"].tolist()[:2] == ["good", "mua"] and "obs_intervals" in units
        electrodes = nwbfile.electrodes.to_dataframe()
        assert electrodes["x"].tolist() == [0.0, 1.0, 2.0, 3.0] and np.isnan(electrodes["z"]).all()
        assert {g.name for g in electrodes["group"]} == {"shank0"}
        events = nwbfile.processing["behavior"]["events"].to_dataframe()
        assert events["flags"].tolist() == [True, False] and [list(w) for w in events["words"]] == [["x", "yy"], ["zzz"]]


def test_remote_v3_document_read_is_one_request(http_server: RangeServer) -> None:
    shutil.copy(SAMPLES / "nwb_tables.rfs.json", http_server.root / "t.json")
    http_server.reset()
    with NWBLindiIO(http_server.url("t.json"), "r") as io:
        nwbfile = io.read()
        nwbfile.units.to_dataframe()  # every chunk is inline
    assert [r.path for r in http_server.requests] == ["/t.json"]


def test_hdmf_zarr_rfs_reads_like_nwbzarrio(hdmf_zarr_python: str, tmp_path: Path) -> None:  # noqa: F811
    """NWBZarrIO (hdmf-zarr 0.14, its own venv) reads the document and exports what it read to
    HDF5; that export, read with NWBHDF5IO here, equals NWBLindiIO's read of the document."""
    exported = tmp_path / "zarrio.nwb"
    proc = subprocess.run(
        [hdmf_zarr_python, str(DRIVER), "export", str(SAMPLES / "nwb_tables.rfs.json"), str(exported)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    with NWBHDF5IO(exported, "r") as h5io, NWBLindiIO(str(SAMPLES / "nwb_tables.rfs.json"), "r") as io:
        expected = h5io.read()
        assert_same_tree(expected, io.read())
        assert len(expected.all_children()) > 20


def test_nwbzarrio_mock_corpus_reads_like_nwbzarrio(hdmf_zarr_python: str, tmp_path: Path) -> None:  # noqa: F811
    """An NWB file of mock types written by NWBZarrIO at test time, packed as a v3 reference
    file system: NWBLindiIO's read equals NWBZarrIO's (exported to HDF5 by the driver)."""
    proc = subprocess.run(
        [hdmf_zarr_python, str(DRIVER), "mock", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    with NWBHDF5IO(tmp_path / "mock_export.nwb", "r") as h5io, NWBLindiIO(str(tmp_path / "mock.rfs.json"), "r") as io:
        expected = h5io.read()
        actual = io.read()
        assert_same_tree(expected, actual)
        ts1, ts2, ts3 = (actual.acquisition[f"ts{i}"] for i in (1, 2, 3))
        assert ts2.fields["timestamps"] is ts1 and ts3.fields["data"] is ts1  # dataset links
        np.testing.assert_array_equal(ts3.data[:], [1.0, np.nan, np.inf, -np.inf])
        assert actual.experimenter == ("Doe, Jane", "Roe, R\u00e9my")
        epochs = actual.epochs.to_dataframe()
        assert [len(v) for v in epochs["timeseries"]] == [2, 1]
        assert tuple(actual.electrode_groups["shank0"].position.tolist()) == (1.0, 2.0, 3.0)


@contextmanager
def _zstd_warning_allowed() -> Iterator[None]:
    """hdmf-zarr's zstd chunks copied into LINDI v2 warn that lindi 0.4.6 cannot read them."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Chunks compressed with 'zstd'", LindiWarning)
        yield


def test_export_of_a_v3_document_to_lindi_v2_carries_no_model_only_codec(tmp_path: Path) -> None:
    """Exporting what NWBLindiIO read from a v3 document into a LINDI v2 file writes LINDI's own
    forms (json2 object arrays, no hdmf_lindi.v3_* codec); numeric chunks of the HDF5 file stay
    references into it."""
    for name in ("nwb_tables.rfs.json", "zindi_mock.zindi.json"):
        out = tmp_path / f"{name}.lindi.json"
        with NWBLindiIO(str(SAMPLES / name), "r") as src, _zstd_warning_allowed():
            NWBLindiIO.export_io(str(out), src)
        text = out.read_text()
        assert "hdmf_lindi.v3" not in text and "zarr.json" not in text
        with NWBLindiIO(str(SAMPLES / name), "r") as a, NWBLindiIO(str(out), "r") as b:
            assert_same_tree(a.read(), b.read())
    assert str(SAMPLES / "zindi_mock.nwb") in (tmp_path / "zindi_mock.zindi.json.lindi.json").read_text()


def test_group_copy_from_v3_into_a_lindi_file(tmp_path: Path) -> None:
    from hdmf_lindi import File

    with File(SAMPLES / "nwb_tables.rfs.json") as src, File(tmp_path / "c.lindi.json", "w") as dst, _zstd_warning_allowed():
        src.copy("general", dst)
        src.copy("identifier", dst)
    assert "hdmf_lindi.v3" not in (tmp_path / "c.lindi.json").read_text()
    with File(SAMPLES / "nwb_tables.rfs.json") as src, File(tmp_path / "c.lindi.json") as copy:
        column = "general/extracellular_ephys/electrodes/group"
        assert [r.path for r in copy[column][()]] == [r.path for r in src[column][()]]
        assert copy["identifier"][()] == "nwb-tables" and copy["identifier"].shape == ()
