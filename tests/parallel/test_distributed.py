"""Our handles and dask arrays on a real ``dask.distributed`` cluster of two worker processes.

One ``LocalCluster`` (2 processes x 1 thread, loopback only) serves the whole module (~2 s to
start). Workers keep their open-file caches between tests, so every test uses files of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import pytest
from distributed import Client, LocalCluster
from httpserver import RangeServer
from parallel_samples import write_nwb, write_sample
from parallel_tasks import cache_state, read_all, total

import hdmf_lindi
from hdmf_lindi import NWBLindiIO
from hdmf_lindi.dask import to_dask
from hdmf_lindi.dask_plugin import LindiWorkerPlugin
from hdmf_lindi.errors import SourceChangedError
from hdmf_lindi.storage import RemoteOptions
from hdmf_lindi.tree.handle import DatasetHandle

WORKERS = 2


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=WORKERS, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, worker_dashboard_address=None,
        ) as cluster,
        Client(cluster) as c,
    ):
        c.wait_for_workers(WORKERS)
        yield c


def _ephys(path: Path) -> np.ndarray[Any, Any]:
    """Write a 4000 x 64 int16 gzip array in chunks of 250 rows; return it."""
    data = (np.arange(4000 * 64, dtype=np.int64).reshape(4000, 64) % 997 - 400).astype("<i2")
    with hdmf_lindi.File(path, "w") as f:
        f.create_dataset("data", data=data, chunks=(250, 64), compression="gzip")
    return data


@pytest.mark.parametrize("kind", ["json", "tar", "dir"])
def test_handles_and_lindi_datasets_cross_to_workers(client: Client, tmp_path: Path, kind: str) -> None:
    path, expected = write_sample(tmp_path, kind)
    with hdmf_lindi.File(path) as f:
        handles = [DatasetHandle.of(f[name]) for name in ("data/i16", "data/f8", "data/cmp")]
    assert client.gather(client.map(total, handles[:2])) == pytest.approx(
        [total(expected["data/i16"]), total(expected["data/f8"])]
    )
    cmp = client.submit(read_all, handles[2]).result()
    np.testing.assert_array_equal(cmp, expected["data/cmp"])


def test_nwb_datasets_cross_to_workers(client: Client, tmp_path: Path) -> None:
    nwb = tmp_path / "rec.nwb.lindi.tar"
    want = write_nwb(nwb)
    with NWBLindiIO(str(nwb), "r") as io:
        data = io.read().acquisition["ElectricalSeries"].data
        assert client.submit(total, data).result() == pytest.approx(total(want["data"]))


def test_distributed_reduction_over_http_costs_one_request_per_task(
    client: Client, http_server: RangeServer
) -> None:
    data = _ephys(http_server.root / "ephys.lindi.tar")
    with hdmf_lindi.File(http_server.url("ephys.lindi.tar")) as f:
        arr = to_dask(f["data"], target_bytes=2 * 250 * 64 * 2)
        assert arr.chunks[0] == (500,) * 8
        mean = arr.astype("f8").mean(axis=0)
        http_server.reset()
        result = client.compute(mean).result()
    np.testing.assert_allclose(result, data.astype("f8").mean(axis=0))
    tasks = arr.npartitions
    gets = [r for r in http_server.requests if r.path == "/ephys.lindi.tar"]
    assert all(r.status in (200, 206) for r in gets)
    assert len(gets) <= tasks + 2 * WORKERS, [r.range for r in gets]


def test_file_replaced_between_graph_and_compute(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "replaced.lindi.tar"
    _ephys(path)
    with hdmf_lindi.File(path) as f:
        summed = to_dask(f["data"]).astype("f8").sum()
    with hdmf_lindi.File(tmp_path / "other.lindi.tar", "w") as f:
        f.create_dataset("data", data=np.ones((4000, 64), dtype="<i2"), chunks=(250, 64), compression="gzip")
    (tmp_path / "other.lindi.tar").replace(path)
    with pytest.raises(SourceChangedError, match="changed since this handle was made"):
        client.compute(summed).result()


def test_transient_503_inside_a_task_is_retried(client: Client, http_server: RangeServer) -> None:
    data = _ephys(http_server.root / "flaky.lindi.tar")
    with hdmf_lindi.File(http_server.url("flaky.lindi.tar")) as f:
        arr = to_dask(f["data"], target_bytes=4 * 250 * 64 * 2)
    http_server.reset()
    http_server.misbehave("flaky.lindi.tar", fail_times=3, fail_status=503)
    assert float(client.compute(arr.astype("f8").sum()).result()) == float(data.astype("f8").sum())
    statuses = [r.status for r in http_server.requests]
    assert statuses.count(503) == 3 and 206 in statuses


def test_worker_plugin_sets_options_and_closes_files(client: Client, tmp_path: Path) -> None:
    options = RemoteOptions(max_retries=7)
    client.register_plugin(LindiWorkerPlugin(options=options, file_cache_size=4))
    try:
        path, expected = write_sample(tmp_path, "tar")
        with hdmf_lindi.File(path) as f:
            handle = DatasetHandle.of(f["data/f8"])
        futures = client.map(total, [handle] * 4, pure=False)
        assert client.gather(futures) == pytest.approx([total(expected["data/f8"])] * 4)
        states = client.run(cache_state)
        assert len(states) == WORKERS and all(opts == options for opts, _ in states.values()), states
        assert 1 <= sum(n for _, n in states.values()) <= WORKERS
    finally:
        client.unregister_worker_plugin(LindiWorkerPlugin.name)
    assert all(state == (None, 0) for state in client.run(cache_state).values())


def test_plain_from_array_of_tree_datasets_runs_on_the_cluster(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "plain.lindi.json"
    data = _ephys(path)
    with hdmf_lindi.File(path) as f:
        arr = da.from_array(f["data"], chunks=(1000, 64))  # the dataset itself crosses to workers
        assert float(client.compute(arr.astype("f8").sum()).result()) == float(data.astype("f8").sum())
        assert client.submit(read_all, f["data"]).result().shape == data.shape
