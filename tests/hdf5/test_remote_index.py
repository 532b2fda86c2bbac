"""``index_hdf5`` over HTTP, against the real range server of ``tests/httpserver.py``.

The source is a pynwb-written NWB file that is mostly chunk data (a ~20 MB ElectricalSeries in
~640 KB chunks). Indexing it must read only HDF5 metadata: every request a 206 range request,
and fewer than 2% of the file's bytes transferred (the issue's target). Chunk references point
at the URL, and the index reads back equal to h5py's reading of the local file. A 404, a 500 and
a server that ignores Range each raise a clear ``RemoteReadError`` and write no index.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from compare import assert_same_tree
from hdmf.backends.hdf5 import H5DataIO
from httpserver import RangeServer, RequestRecord
from pynwb import NWBHDF5IO
from pynwb.testing.mock.ecephys import mock_ElectricalSeries
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_lindi import File, index_hdf5
from hdmf_lindi.errors import IndexingError, RemoteReadError

N_CHANNELS = 32
N_SAMPLES = 320_000  # int16: 20.48 MB
MAX_FRACTION = 0.02
_RANGE = re.compile(r"bytes=(\d+)-(\d+)")


@pytest.fixture(scope="module")
def big_nwb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An NWB file whose ElectricalSeries (chunked, uncompressed) is ~99% of its bytes."""
    path = tmp_path_factory.mktemp("remote") / "big.nwb"
    nwbfile = mock_NWBFile(session_description="remote indexing")
    data = np.random.default_rng(0).integers(-2000, 2000, size=(N_SAMPLES, N_CHANNELS), dtype="<i2")
    mock_ElectricalSeries(
        name="raw", data=H5DataIO(data, chunks=(10_000, N_CHANNELS)), nwbfile=nwbfile
    )
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return path


@pytest.fixture
def served(big_nwb: Path, http_server: RangeServer) -> str:
    """URL of ``big.nwb`` on the test server (hard-linked into its root when possible)."""
    target = http_server.root / big_nwb.name
    try:
        os.link(big_nwb, target)
    except OSError:
        shutil.copyfile(big_nwb, target)
    return http_server.url(big_nwb.name)


def _bytes_sent(record: RequestRecord, size: int) -> int:
    if record.status == 206 and record.range:
        match = _RANGE.fullmatch(record.range)
        assert match, record
        return min(int(match.group(2)) + 1, size) - int(match.group(1))
    return size if record.status == 200 else 0


def test_remote_index_reads_only_metadata(served: str, big_nwb: Path, http_server: RangeServer) -> None:
    size = big_nwb.stat().st_size
    assert size > 20_000_000
    refmap = index_hdf5(served)
    during = list(http_server.requests)
    assert during, "indexing sent no request"
    assert all(r.method == "GET" and r.status == 206 and r.range for r in during), during
    transferred = sum(_bytes_sent(r, size) for r in during)
    assert transferred < MAX_FRACTION * size, (
        f"indexing transferred {transferred} bytes in {len(during)} requests = "
        f"{transferred / size:.2%} of the {size}-byte file (target < {MAX_FRACTION:.0%})"
    )
    # the head (with the size, no probe) and the tail where pynwb left the metadata; the
    # chunk B-tree of 32 chunks fits one node, which lies in one of those
    assert len(during) <= 3, during
    # the chunk table of the big dataset references the URL, chunk by chunk
    chunk_refs = {k: v for k, v in ((k, refmap.raw(k)) for k in refmap.keys()) if isinstance(v, list)}
    data_refs = [k for k in chunk_refs if k.startswith("acquisition/raw/data/")]
    assert len(data_refs) == -(-N_SAMPLES // 10_000)
    assert {v[0] for v in chunk_refs.values()} == {served}


def test_remote_index_values_equal_h5py(served: str, big_nwb: Path, tmp_path: Path) -> None:
    dest = tmp_path / "big.lindi.json"
    refmap = index_hdf5(served, dest)
    with File(refmap) as f:
        assert_same_tree(big_nwb, f)
    with File(dest) as f:
        assert f["acquisition/raw/data"][12_345:12_350, 3].tolist() == (
            np.random.default_rng(0).integers(-2000, 2000, size=(N_SAMPLES, N_CHANNELS), dtype="<i2")[12_345:12_350, 3].tolist()
        )


def test_remote_404(http_server: RangeServer, tmp_path: Path) -> None:
    dest = tmp_path / "x.lindi.json"
    with pytest.raises(RemoteReadError, match=r"missing\.nwb.*404") as info:
        index_hdf5(http_server.url("missing.nwb"), dest)
    assert info.value.status == 404
    assert not dest.exists()


def test_remote_500(served: str, http_server: RangeServer, tmp_path: Path) -> None:
    http_server.misbehave(status=500)
    dest = tmp_path / "x.lindi.tar"
    with pytest.raises(RemoteReadError, match=r"big\.nwb.*500") as info:
        index_hdf5(served, dest)
    assert info.value.status == 500
    assert not dest.exists()


def test_remote_server_ignoring_range(served: str, http_server: RangeServer, tmp_path: Path) -> None:
    http_server.misbehave(ignore_range=True)
    dest = tmp_path / "x.lindi.d"
    with pytest.raises((RemoteReadError, IndexingError), match=r"big\.nwb.*Range"):
        index_hdf5(served, dest)
    assert not dest.exists()
    # a server that ignores Range sends the whole file with every answer: stop at the first
    assert len(http_server.requests) <= 2, http_server.requests


def test_remote_source_that_is_not_hdf5(http_server: RangeServer, tmp_path: Path) -> None:
    (http_server.root / "page.html").write_bytes(b"<html>not hdf5</html>\n" * 5000)
    with pytest.raises(IndexingError, match=r"page\.html.*not a readable HDF5 file"):
        index_hdf5(http_server.url("page.html"), tmp_path / "x.lindi.json")
    assert not (tmp_path / "x.lindi.json").exists()
    assert all(r.status == 206 for r in http_server.requests)
