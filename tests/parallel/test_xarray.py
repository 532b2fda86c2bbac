"""xarray over LINDI files (issue 16, step 5): the ``hdmf_lindi`` engine and ``to_xarray``."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from httpserver import RangeServer
from parallel_samples import write_nwb, write_sample
from xarray.indexes import RangeIndex

import hdmf_lindi
from hdmf_lindi import NWBLindiIO


@pytest.fixture(scope="module")
def nwb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    path = tmp_path_factory.mktemp("xr") / "rec.nwb.lindi.tar"
    return path, write_nwb(path)


def _assert_lazy_time(obj: xr.Dataset | xr.DataArray, start: float, rate: float, n: int) -> None:
    assert isinstance(obj.xindexes["time"], RangeIndex)
    assert not isinstance(obj["time"].variable._data, np.ndarray)  # nothing materialised
    np.testing.assert_allclose(obj["time"].values, start + np.arange(n) / rate)


def test_engine_is_registered_and_guesses_lindi_files() -> None:
    assert "hdmf_lindi" in xr.backends.list_engines()
    engine = xr.backends.list_engines()["hdmf_lindi"]
    assert engine.guess_can_open("a/b.nwb.lindi.tar") and engine.guess_can_open("x.lindi.d/")
    assert not engine.guess_can_open("a.nc")


def test_open_dataset_electrical_series(nwb: tuple[Path, dict[str, Any]]) -> None:
    path, want = nwb
    ds = xr.open_dataset(path, engine="hdmf_lindi", group="acquisition/ElectricalSeries")
    assert ds["data"].dims == ("time", "channel")
    _assert_lazy_time(ds, 2.5, 1000.0, 5000)
    np.testing.assert_array_equal(ds["channel"].values, want["ids"])
    assert ds["data"].attrs["unit"] == "volts" and ds["data"].attrs["conversion"] == pytest.approx(0.5e-6)
    np.testing.assert_array_equal(ds["data"][100:110].values, want["data"][100:110])
    # xarray's RangeIndex selects with method="nearest" only; a slice ends before its stop
    window = ds["data"].sel(time=slice(3.0, 3.5), method="nearest").astype("f8").mean("time")
    np.testing.assert_allclose(window.values, want["data"][500:1000].mean(axis=0))
    # chunks={}: dask arrays whose blocks are whole storage chunks (500 rows)
    chunked = xr.open_dataset(path, engine="hdmf_lindi", group="acquisition/ElectricalSeries", chunks={})
    data = chunked["data"].data
    assert isinstance(data, da.Array) and all(c % 500 == 0 for c in data.chunks[0][:-1])
    np.testing.assert_array_equal(data.compute(), want["data"])
    assert len(pickle.dumps(data)) < 20_000


def test_open_dataset_over_http_and_timestamps(http_server: RangeServer, nwb: tuple[Path, dict[str, Any]]) -> None:
    path, want = nwb
    (http_server.root / path.name).write_bytes(path.read_bytes())
    ds = xr.open_dataset(http_server.url(path.name), engine="hdmf_lindi", group="acquisition/stamped", chunks={})
    np.testing.assert_array_equal(ds["time"].values, want["stamps"])
    np.testing.assert_array_equal(ds["data"].values, want["values"])
    assert ds["data"].dims == ("time",)


def test_open_datatree_and_plain_groups(tmp_path: Path, nwb: tuple[Path, dict[str, Any]]) -> None:
    path, want = nwb
    tree = xr.open_datatree(path, engine="hdmf_lindi")
    np.testing.assert_array_equal(tree["acquisition/ElectricalSeries"]["data"].values, want["data"])
    assert "general" in tree.children
    sample, expected = write_sample(tmp_path, "dir")
    ds = xr.open_dataset(sample, engine="hdmf_lindi", group="data", drop_variables="f8")
    assert "f8" not in ds and "cmp" not in ds  # dropped; compounds have no xarray form
    assert ds["i16"].dims == ("i16_dim_0", "i16_dim_1")
    for name in ("i16", "u1", "b", "str"):
        np.testing.assert_array_equal(ds[name].values, expected[f"data/{name}"])


def test_to_xarray(nwb: tuple[Path, dict[str, Any]]) -> None:
    path, want = nwb
    with NWBLindiIO(str(path), "r") as io:
        nwbfile = io.read()
        es = hdmf_lindi.to_xarray(nwbfile.acquisition["ElectricalSeries"])
        assert es.dims == ("time", "channel") and isinstance(es.data, da.Array)
        _assert_lazy_time(es, 2.5, 1000.0, 5000)
        np.testing.assert_array_equal(es["channel"].values, want["ids"])
        assert es.attrs["unit"] == "volts" and es.attrs["rate"] == 1000.0
        np.testing.assert_array_equal(es.values, want["data"])
        stamped = hdmf_lindi.to_xarray(nwbfile.acquisition["stamped"])
        np.testing.assert_array_equal(stamped["time"].values, want["stamps"])
        np.testing.assert_array_equal(stamped.values, want["values"])
