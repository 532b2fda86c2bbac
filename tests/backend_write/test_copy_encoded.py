"""Copy, don't re-encode: chunks travel HDF5 -> LINDI -> HDF5 as the same bytes, layout kept."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from hdmf.backends.hdf5 import H5DataIO
from httpserver import RangeServer
from pynwb import NWBHDF5IO
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_lindi import File, LindiDataIO, NWBLindiIO, index_hdf5
from hdmf_lindi.cli import main
from hdmf_lindi.nwb import convert
from hdmf_lindi.storage.refmap import RangeRef

RNG = np.random.default_rng(7)
DATA = (RNG.normal(size=(5000, 16)) * 300).astype("i2")
CHUNKS = (700, 16)  # the last chunk along axis 0 is partial
LAYOUTS = {
    "gzip_shuffle": {"compression": "gzip", "compression_opts": 6, "shuffle": True},
    "gzip_fletcher": {"compression": "gzip", "compression_opts": 1, "fletcher32": True},
    "raw": {},
}


def _write_nwb(path: Path, layout: dict[str, object]) -> None:
    nwbfile = mock_NWBFile()
    data = H5DataIO(DATA, chunks=CHUNKS, **layout)  # type: ignore[arg-type]
    nwbfile.add_acquisition(mock_TimeSeries(name="ts", data=data, rate=10.0))
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)


def _raw_chunks(path: Path, name: str = "acquisition/ts/data") -> dict[tuple[int, ...], bytes]:
    out: dict[tuple[int, ...], bytes] = {}
    with h5py.File(path, "r") as f:
        ds = f[name]
        for i in range(ds.id.get_num_chunks()):
            info = ds.id.get_chunk_info(i)
            out[info.chunk_offset] = bytes(ds.id.read_direct_chunk(info.chunk_offset)[1])
    return out


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_export_copies_hdf5_chunk_bytes(tmp_path: Path, layout: str) -> None:
    src = tmp_path / "in.nwb"
    _write_nwb(src, LAYOUTS[layout])
    dst = tmp_path / "out.lindi.tar"
    with NWBHDF5IO(src, "r") as src_io, NWBLindiIO(dst, "w") as io:
        io.export(src_io, write_args={"link_data": False})
    raw = _raw_chunks(src)
    assert len(raw) == 8
    with File(dst) as f:
        ds = f["acquisition/ts/data"]
        assert ds.chunks == CHUNKS
        np.testing.assert_array_equal(ds[...], DATA)
        keys = [f"acquisition/ts/data/{o[0] // CHUNKS[0]}.0" for o in raw]
        blobs = f.container.read_many(keys)
    assert [bytes(b) for b in blobs if b is not None] == list(raw.values())


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_round_trip_keeps_layout_and_bytes(tmp_path: Path, layout: str) -> None:
    src = tmp_path / "in.nwb"
    _write_nwb(src, LAYOUTS[layout])
    lindi = tmp_path / "mid.lindi.tar"
    back = tmp_path / "back.nwb"
    convert(src, lindi)
    convert(lindi, back)
    with h5py.File(src, "r") as a, h5py.File(back, "r") as b:
        da, db = a["acquisition/ts/data"], b["acquisition/ts/data"]
        kept = ("chunks", "compression", "compression_opts", "shuffle", "fletcher32", "dtype", "shape")
        assert {k: getattr(db, k) for k in kept} == {k: getattr(da, k) for k in kept}
        np.testing.assert_array_equal(db[...], DATA)
    assert _raw_chunks(back) == _raw_chunks(src)
    assert abs(back.stat().st_size - src.stat().st_size) <= 0.02 * src.stat().st_size
    with NWBHDF5IO(back, "r") as io:
        np.testing.assert_array_equal(io.read().acquisition["ts"].data[:], DATA)


def test_lindi_gzip_codec_is_recoded_keeping_chunks(tmp_path: Path) -> None:
    """numcodecs' GZip framing is not HDF5's deflate: decoded and re-encoded, chunks and level kept."""
    lindi = tmp_path / "w.lindi.tar"
    nwbfile = mock_NWBFile()
    data = H5DataIO(DATA, chunks=CHUNKS, compression="gzip", compression_opts=5, shuffle=True)
    nwbfile.add_acquisition(mock_TimeSeries(name="ts", data=data, rate=10.0))
    with NWBLindiIO(lindi, "w") as io:
        io.write(nwbfile)
    with File(lindi) as f:
        assert f["acquisition/ts/data"].compressor == {"id": "gzip", "level": 5}
    back = tmp_path / "back.nwb"
    convert(lindi, back)
    with h5py.File(back, "r") as b:
        db = b["acquisition/ts/data"]
        assert (db.chunks, db.compression, db.compression_opts, db.shuffle) == (CHUNKS, "gzip", 5, True)
        np.testing.assert_array_equal(db[...], DATA)


def test_other_settings_are_recoded(tmp_path: Path) -> None:
    """Data wrapped in new settings are decoded and stored with those settings."""
    src = tmp_path / "in.nwb"
    _write_nwb(src, LAYOUTS["gzip_shuffle"])
    dst = tmp_path / "out.lindi.tar"
    with NWBHDF5IO(src, "r") as src_io:
        nwbfile = src_io.read()
        ts = nwbfile.acquisition["ts"]
        h5ds = ts.data
        with NWBLindiIO(dst, "w") as io:
            nwbfile2 = mock_NWBFile()
            nwbfile2.add_acquisition(
                mock_TimeSeries(name="ts", data=LindiDataIO(h5ds, chunks=(1000, 16), compression="gzip"), rate=10.0)
            )
            io.write(nwbfile2)
    with File(dst) as f:
        ds = f["acquisition/ts/data"]
        assert (ds.chunks, ds.compressor) == ((1000, 16), {"id": "gzip", "level": 4})
        np.testing.assert_array_equal(ds[...], DATA)


@pytest.mark.parametrize("suffix", [".lindi.tar", ".lindi.d"])
def test_self_contained_convert_of_a_served_index(tmp_path: Path, suffix: str) -> None:
    served = tmp_path / "served"
    served.mkdir()
    _write_nwb(served / "in.nwb", LAYOUTS["gzip_shuffle"])
    raw = _raw_chunks(served / "in.nwb")
    index = tmp_path / "idx.lindi.json"
    out = tmp_path / f"out{suffix}"
    kept = tmp_path / "kept.lindi.tar"
    with RangeServer(served) as server:
        index_hdf5(server.url("in.nwb"), index)
        convert(index, kept)  # the default keeps the references
        with File(kept) as f:
            assert f.container.refmap.get("acquisition/ts/data/0.0").url == server.url("in.nwb")  # type: ignore[union-attr]
        convert(index, out, self_contained=True)
    # the server is gone: everything must come from the output
    with File(out) as f:
        refs = [f.container.refmap.get(k) for k in f.container.refmap]
        assert not [r for r in refs if isinstance(r, RangeRef) and not r.is_internal]
        keys = [f"acquisition/ts/data/{o[0] // CHUNKS[0]}.0" for o in raw]
        assert [bytes(b) for b in f.container.read_many(keys) if b is not None] == list(raw.values())
    with NWBLindiIO(out, "r") as io:
        np.testing.assert_array_equal(io.read().acquisition["ts"].data[:], DATA)


def test_self_contained_cli_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    served = tmp_path / "served"
    served.mkdir()
    _write_nwb(served / "in.nwb", LAYOUTS["raw"])
    index = tmp_path / "idx.lindi.json"
    out = tmp_path / "out.lindi.tar"
    with RangeServer(served) as server:
        index_hdf5(server.url("in.nwb"), index)
        assert main(["convert", "--self-contained", str(index), str(out)]) == 0
    assert capsys.readouterr().out == f"converted {index} -> {out}\n"
    with File(out) as f:
        np.testing.assert_array_equal(f["acquisition/ts/data"][...], DATA)


@pytest.mark.filterwarnings("ignore:lzf compression may not be available")
def test_convert_of_a_filter_without_codec_goes_through_pynwb(tmp_path: Path) -> None:
    """lzf has no numcodecs codec: the index would link to the source, so convert exports instead."""
    src = tmp_path / "in.nwb"
    _write_nwb(src, {"compression": "lzf"})
    out = tmp_path / "out.lindi.tar"
    convert(src, out)
    src.unlink()  # the output must not need it
    with File(out) as f:
        refs = [f.container.refmap.get(k) for k in f.container.refmap]
        assert not [r for r in refs if isinstance(r, RangeRef) and not r.is_internal]
        assert "_EXTERNAL_ARRAY_LINK" not in f["acquisition/ts/data"].attrs
        np.testing.assert_array_equal(f["acquisition/ts/data"][...], DATA)
