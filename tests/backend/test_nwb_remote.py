"""NWBLindiIO over HTTP: what opening and reading cost, in requests, and that data still come.

A real Range server on 127.0.0.1 (``http_server``, which logs every request) serves the
``tables`` corpus file and indexes of it made from its URL, so their chunk references point at
``/tables.nwb`` on the server. The matrix: the index as ``.lindi.json``, ``.lindi.tar`` and
``.lindi.d`` (served as its files), and the ``.nwb`` itself (indexed in memory on open).
Contract (design.md, data flow 1): opening a JSON index is one GET, a tar a few ranged GETs,
``read()`` fetches nothing more, and no data chunk is fetched until the data are sliced.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from backend_corpus import BIG_CHUNK, BIG_SERIES, LINDI_FORMS, Corpus
from httpserver import RangeServer, parse_range

import hdmf_lindi
from hdmf_lindi import NWBLindiIO, index_hdf5
from hdmf_lindi.hdf5.readahead import SMALL_FILE_BYTES

NWB_NAME = "tables.nwb"
MAX_TAR_OPEN_REQUESTS = 3


@dataclass
class Served:
    server: RangeServer
    url: str
    """The URL NWBLindiIO opens."""
    path: str
    """Its URL path, as the request log records it."""
    chunks: list[tuple[int, int]]
    """``(start, stop)`` in ``/tables.nwb`` of each chunk of the big TimeSeries."""

    def requested(self, path: str) -> list[tuple[int, int]]:
        """Byte ranges requested from ``path`` so far (a whole-file GET as one range)."""
        total = (self.server.root / path.lstrip("/")).stat().st_size
        out = []
        for record in self.server.requests:
            if record.path == path and record.method == "GET":
                out.append(parse_range(record.range, total) or (0, total))
        return out


def _big_chunks(refmap: Any) -> list[tuple[int, int]]:
    chunks = []
    for key in refmap.keys():
        if key.startswith(f"acquisition/{BIG_SERIES}/data/") and not key.rsplit("/", 1)[
            1
        ].startswith("."):
            ref = refmap.get(key)
            assert not isinstance(ref, bytes), f"{key} should be referenced, not inlined"
            chunks.append((ref.offset, ref.offset + ref.length))
    assert len(chunks) == 10
    return sorted(chunks)


@pytest.fixture(params=[*LINDI_FORMS, "nwb"])
def served(
    request: pytest.FixtureRequest, corpus: Corpus, http_server: RangeServer
) -> Iterator[Served]:
    shutil.copy(corpus.paths["tables"], http_server.root / NWB_NAME)
    refmap = index_hdf5(http_server.url(NWB_NAME))
    name = NWB_NAME
    if request.param in LINDI_FORMS:
        name = f"tables{LINDI_FORMS[request.param]}"
        index_hdf5(http_server.url(NWB_NAME), http_server.root / name)
    http_server.reset()
    yield Served(http_server, http_server.url(name), "/" + name, _big_chunks(refmap))


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def test_open_and_read_fetch_no_data_chunk(served: Served, corpus: Corpus) -> None:
    io = NWBLindiIO(served.url, "r")
    try:
        opened = len(served.server.requests)
        nwbfile = io.read()
        assert served.server.requests[opened:] == [], "read() made requests after open"
        data = nwbfile.acquisition[BIG_SERIES].data
        assert data.shape == corpus.big_data.shape
        assert served.server.requests[opened:] == [], "shape and dtype made requests"
        fetched = served.requested("/" + NWB_NAME)
        if served.path == "/" + NWB_NAME and corpus.paths["tables"].stat().st_size <= SMALL_FILE_BYTES:
            # the .nwb indexed on open is small enough to be read whole (hdf5/readahead.py):
            # the head, then the rest -- 2 requests instead of one per metadata miss (7 for
            # this 0.9 MB file, reading 38% of it)
            assert len(fetched) <= 2, fetched
        else:
            # no chunk of the big TimeSeries was fetched (metadata blocks of the .nwb may touch
            # a chunk's first or last bytes, never the whole chunk)
            for chunk in served.chunks:
                assert sum(_overlap(chunk, r) for r in fetched) < chunk[1] - chunk[0], chunk
        if served.path != "/" + NWB_NAME:
            assert fetched == [], "opening an index must not read the .nwb"
    finally:
        io.close()


@pytest.mark.parametrize("form", ["json", "dir"])
def test_json_index_opens_in_one_request(
    corpus: Corpus, http_server: RangeServer, form: str
) -> None:
    shutil.copy(corpus.paths["tables"], http_server.root / NWB_NAME)
    name = f"tables{LINDI_FORMS[form]}"
    index_hdf5(http_server.url(NWB_NAME), http_server.root / name)
    http_server.reset()
    with NWBLindiIO(http_server.url(name), "r") as io:
        io.read()
    assert len(http_server.requests) == 1, http_server.requests
    assert http_server.requests[0].path.startswith(f"/{name}")


def test_tar_index_opens_in_few_requests(corpus: Corpus, http_server: RangeServer) -> None:
    shutil.copy(corpus.paths["tables"], http_server.root / NWB_NAME)
    index_hdf5(http_server.url(NWB_NAME), http_server.root / "tables.lindi.tar")
    http_server.reset()
    with NWBLindiIO(http_server.url("tables.lindi.tar"), "r") as io:
        io.read()
    assert {r.path for r in http_server.requests} == {"/tables.lindi.tar"}
    assert 1 <= len(http_server.requests) <= MAX_TAR_OPEN_REQUESTS


@pytest.mark.parametrize(
    "key", [slice(19_990, 20_010), slice(0, 5), slice(-3, None)], ids=["boundary", "head", "tail"]
)
def test_slicing_after_read_fetches_only_the_chunks_needed(
    served: Served, corpus: Corpus, key: slice
) -> None:
    with NWBLindiIO(served.url, "r") as io:
        data = io.read().acquisition[BIG_SERIES].data
        served.server.reset()
        np.testing.assert_array_equal(data[key], corpus.big_data[key])
        fetched = served.requested("/" + NWB_NAME)
    assert fetched, "the data must come from the .nwb"
    needed = {i for i, chunk in enumerate(served.chunks) for r in fetched if _overlap(chunk, r)}
    rows = range(len(corpus.big_data))[key]
    first, last = rows[0] // BIG_CHUNK, rows[-1] // BIG_CHUNK
    assert needed == set(range(first, last + 1))
    assert {r.path for r in served.server.requests} == {"/" + NWB_NAME}


def test_remote_tables_and_references(served: Served) -> None:
    with NWBLindiIO(served.url, "r") as io:
        nwbfile = io.read()
        frame = nwbfile.units.to_dataframe()
        assert list(frame.index) == [0, 1, 2, 3]
        np.testing.assert_array_equal(frame["spike_times"][2], [0.2, 0.3, 0.4, 2.5, 3.0])
        assert nwbfile.electrodes["group"][0] is nwbfile.electrode_groups["shank0"]
        linked = nwbfile.acquisition["linked_timestamps"]
        assert linked.fields["timestamps"] is nwbfile.acquisition["timestamps_source"]


def test_read_nwb_url(served: Served, corpus: Corpus) -> None:
    nwbfile = hdmf_lindi.read_nwb(served.url)
    try:
        np.testing.assert_array_equal(nwbfile.acquisition[BIG_SERIES].data[:3], corpus.big_data[:3])
    finally:
        nwbfile.read_io.close()
    assert NWBLindiIO.can_read(served.url) is True


def test_validate_url(corpus: Corpus, http_server: RangeServer) -> None:
    shutil.copy(corpus.paths["tables"], http_server.root / NWB_NAME)
    index_hdf5(http_server.url(NWB_NAME), http_server.root / "tables.lindi.json")
    assert hdmf_lindi.validate(http_server.url("tables.lindi.json")) == []


def test_missing_url_is_a_clear_error(http_server: RangeServer) -> None:
    from hdmf_lindi.errors import LindiError

    with pytest.raises(LindiError, match="missing.lindi.json"):
        NWBLindiIO(http_server.url("missing.lindi.json"), "r")
    assert NWBLindiIO.can_read(http_server.url("missing.lindi.json")) is False
