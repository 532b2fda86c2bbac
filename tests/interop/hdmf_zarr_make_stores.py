# ruff: noqa: E402  (the environment is set before numcodecs is imported)
"""Write NWB files with hdmf-zarr 0.14's NWBZarrIO as Zarr v3 directory stores (run in .venv-hdmf-zarr).

Usage: ``python hdmf_zarr_make_stores.py OUT_DIR``

For each corpus file NAME it writes into ``OUT_DIR``:

* ``NAME.nwb.zarr/``: the store as ``NWBZarrIO.write`` makes it (consolidated metadata in the
  root ``zarr.json``);
* ``NAME.plain.nwb.zarr/``: the same store without the consolidated block (what
  ``consolidate_metadata=False`` gives: every node has its own ``zarr.json`` only);
* ``NAME.nwb``: the store read back with ``NWBZarrIO`` and exported with ``NWBHDF5IO`` -- the
  comparison target of the read tests (it holds what NWBZarrIO reads).

and ``corpus.json``: the files, and the mocks each one holds.

The corpus: ``mocks`` (every ``pynwb.testing.mock`` function called with ``nwbfile=`` except the
electrode-table mocks, which get their own file ``ecephys``), ``rich`` (tables with ragged,
region and text columns, epochs whose ``timeseries`` is a compound with a reference field, links
to datasets and groups, scalars, NaN/Inf, non-ASCII text, an ElectricalSeries over several
chunks), ``sharded`` (a sharded TimeSeries) and ``extension`` (a namespace made here, cached in
the store).
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
import shutil
import sys
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("NUMCODECS_ALLOW_UNSAFE_PICKLE_DECODE", "1")  # hdmf-zarr 0.13 reads its own Pickle codec
import numpy as np
import pynwb.testing.mock as mock_pkg
import zarr
from hdmf.build import BuildManager
from hdmf.common import DynamicTable
from hdmf_zarr import NWBZarrIO
from hdmf_zarr.utils import ZarrDataIO
from pynwb import NWBHDF5IO, TimeSeries, get_type_map
from pynwb.base import ImageReferences, Images
from pynwb.ecephys import ElectricalSeries
from pynwb.image import GrayscaleImage
from pynwb.spec import NWBAttributeSpec, NWBDatasetSpec, NWBGroupSpec, NWBNamespaceBuilder
from pynwb.testing.mock.file import mock_NWBFile

warnings.filterwarnings("ignore")

ZARR2 = zarr.__version__.startswith("2.")
"""hdmf-zarr <= 0.13 on zarr 2: the old v2 layout (``.zgroup``, ``zarr_link``, ``zarr_dtype``)."""

START = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
TABLE_MOCKS = ("mock_ElectrodesTable", "mock_electrodes", "mock_SpikeEventSeries")
SKIPPED_MOCKS = {
    "mock_NWBFile": "builds the NWBFile itself",
    "mock_ElectrodeTable": "deprecated alias of mock_ElectrodesTable",
}
EPHYS_SHAPE = (60_000, 16)
EPHYS_CHUNKS = (10_000, 16)
EXT_NAMESPACE = "ndx-zstores-test"


def discover_mocks() -> dict[str, Any]:
    """Every public ``mock_*`` function of ``pynwb.testing.mock``."""
    found: dict[str, Any] = {}
    for info in pkgutil.iter_modules(mock_pkg.__path__):
        module = importlib.import_module(f"{mock_pkg.__name__}.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("mock_") and fn.__module__ == module.__name__:
                found[name] = fn
    return found


def build_mocks(nwb: Any, mocks: dict[str, Any]) -> list[str]:
    used = []
    for name in sorted(mocks):
        if name in SKIPPED_MOCKS or name in TABLE_MOCKS:
            continue
        mocks[name](nwbfile=nwb)
        used.append(name)
    return used


def build_ecephys(nwb: Any, mocks: dict[str, Any]) -> list[str]:
    table = mocks["mock_ElectrodesTable"](n_rows=8, nwbfile=nwb)
    region = mocks["mock_electrodes"](n_electrodes=8, table=table, nwbfile=nwb)
    mocks["mock_SpikeEventSeries"](data=np.ones((10, 8)), electrodes=region, nwbfile=nwb)
    return list(TABLE_MOCKS)


def build_rich(nwb: Any, mocks: dict[str, Any]) -> list[str]:
    nwb.experimenter = ["Doe, Jane", "Roe, R\u00e9my \u00fc\u2603"]
    nwb.keywords = ["\u00e9t\u00e9", "b"]
    device = nwb.create_device(name="probe")
    groups = [
        nwb.create_electrode_group(name=f"shank{i}", description="shank", location="CA1", device=device)
        for i in range(2)
    ]
    nwb.add_electrode_column(name="label", description="channel label")
    for i in range(EPHYS_SHAPE[1]):
        nwb.add_electrode(group=groups[i % 2], location=f"loc{i}", label=f"ch\u00e9{i}")
    for i, times in enumerate([[0.1, 0.5, 0.9], [1.5], [0.2, 0.3, 0.4, 2.5, 3.0], [7.0, 8.0]]):
        nwb.add_unit(spike_times=times, electrodes=[i, (i + 1) % 4], obs_intervals=[[0.0, 1.0], [2.0, 3.0 + i]])
    nwb.add_trial_column(name="correct", description="whether correct")
    for i in range(4):
        nwb.add_trial(start_time=float(i), stop_time=i + 0.5, correct=bool(i % 2))
    table = DynamicTable(name="ragged", description="ragged, region and text columns")
    table.add_column(name="value", description="one float per row")
    table.add_column(name="ragged", description="VectorIndex", index=True)
    table.add_column(name="words", description="ragged text", index=True)
    table.add_column(name="region", description="DynamicTableRegion", table=nwb.electrodes)
    table.add_column(name="regions", description="ragged region", table=nwb.electrodes, index=True)
    rows = [
        (0.5, [1, 2, 3], ["a", "b\u00e9"], 0, [0, 1]),
        (float("nan"), [4], ["ccc"], 3, [2]),
        (float("inf"), [5, 6], ["d", "e", "f"], 5, [3, 4, 5]),
    ]
    for value, ragged, words, region, regions in rows:
        table.add_row(value=value, ragged=ragged, words=words, region=region, regions=regions)
    nwb.create_processing_module(name="tables", description="ragged and region columns").add(table)

    source = TimeSeries(name="source", data=np.arange(50.0), unit="m", timestamps=np.arange(50) / 10.0)
    nwb.add_acquisition(source)
    nwb.add_acquisition(TimeSeries(name="special", data=np.array([1.5, np.nan, np.inf, -np.inf, 0.0]),
                                   unit="m", rate=1.0, starting_time=0.0))
    nwb.add_acquisition(TimeSeries(name="linked_timestamps", data=np.ones(50), unit="s", timestamps=source))
    nwb.add_acquisition(TimeSeries(name="linked_data", data=source, unit="m", rate=5.0, starting_time=0.25))
    nwb.add_epoch(start_time=0.5, stop_time=1.5, tags=["a", "b"], timeseries=[source])
    nwb.add_epoch(start_time=2.0, stop_time=3.0, tags=["c"], timeseries=[source, nwb.acquisition["special"]])
    images = [GrayscaleImage(name=f"img{i}", data=np.full((3, 4), i, dtype="uint8")) for i in range(3)]
    order = ImageReferences(name="order_of_images", data=[images[2], images[0], images[1]])
    nwb.add_acquisition(Images(name="images", images=images, description="three images", order_of_images=order))

    region = nwb.create_electrode_table_region(list(range(EPHYS_SHAPE[1])), "all electrodes")
    rng = np.random.default_rng(18)
    data = rng.integers(-2000, 2000, size=EPHYS_SHAPE, dtype="int16")
    nwb.add_acquisition(ElectricalSeries(
        name="ephys", data=ZarrDataIO(data, chunks=EPHYS_CHUNKS), electrodes=region,
        rate=30000.0, starting_time=0.0, conversion=1e-6,
    ))
    return []


def build_sharded(nwb: Any, mocks: dict[str, Any]) -> list[str]:
    if ZARR2:
        return []  # zarr 2 has no sharding
    data = ZarrDataIO(np.arange(1000, dtype="float32").reshape(250, 4), chunks=(25, 2), shards=(100, 4))
    nwb.add_acquisition(TimeSeries(name="sharded", data=data, unit="V", rate=10.0))
    return []


def extension_type_map(out: Path) -> Any:
    yaml = out / "ext" / f"{EXT_NAMESPACE}.namespace.yaml"
    if not yaml.exists():
        builder = NWBNamespaceBuilder(doc="zstores test extension", name=EXT_NAMESPACE, version="0.1.0",
                                      author="hdmf_lindi tests", contact="tests@example.org")
        builder.include_type("LabMetaData", namespace="core")
        meta = NWBGroupSpec(
            neurodata_type_def="ZstoresMeta", neurodata_type_inc="LabMetaData", doc="test metadata",
            attributes=[NWBAttributeSpec(name="gain", dtype="float64", doc="float attribute")],  # a uint8 one: NWBZarrIO 0.14 reads it back as int and refuses it
            datasets=[NWBDatasetSpec(name="notes", dtype="text", doc="scalar text"),
                      NWBDatasetSpec(name="tags", dtype="text", shape=(None,), doc="1-D text")],
        )
        builder.add_spec(f"{EXT_NAMESPACE}.extensions.yaml", meta)
        yaml.parent.mkdir(parents=True)
        builder.export(yaml.name, outdir=str(yaml.parent))
    type_map = get_type_map()
    type_map.load_namespaces(str(yaml))
    return type_map


def write(out: Path, name: str, build: Any, mocks: dict[str, Any]) -> list[str]:
    nwb = mock_NWBFile(session_start_time=START, identifier=f"zstores-{name}",
                       session_description=f"hdmf-zarr store: {name}", file_create_date=[START])
    manager = None
    if name == "extension":
        type_map = extension_type_map(out)
        cls = type_map.get_dt_container_cls("ZstoresMeta", EXT_NAMESPACE)
        nwb.add_lab_meta_data(cls(name="lab_meta", gain=2.5, notes="h\u00e9llo", tags=["a", "bb"]))
        manager = BuildManager(type_map)
        used: list[str] = []
    else:
        used = build(nwb, mocks)
    store = out / f"{name}.nwb.zarr"
    kwargs = {} if manager is None else {"manager": manager}
    with NWBZarrIO(str(store), mode="w", **kwargs) as io:
        io.write(nwb)
    # the same store without consolidated metadata
    plain = out / f"{name}.plain.nwb.zarr"
    shutil.copytree(store, plain)
    if ZARR2:
        (plain / ".zmetadata").unlink()
    else:
        root = json.loads((plain / "zarr.json").read_text())
        root.pop("consolidated_metadata", None)
        (plain / "zarr.json").write_text(json.dumps(root, indent=2))
    # the comparison target: what NWBZarrIO reads, exported to HDF5
    with NWBZarrIO(str(store), mode="r", **kwargs) as zio:
        read = zio.read()
        with NWBHDF5IO(str(out / f"{name}.nwb"), mode="w", **kwargs) as hio:
            hio.export(src_io=zio, nwbfile=read, write_args={"link_data": False})
    return used


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    mocks = discover_mocks()
    corpus = {}
    builders = {"mocks": build_mocks, "ecephys": build_ecephys, "rich": build_rich,
                "sharded": build_sharded, "extension": None}
    for name, build in builders.items():
        corpus[name] = write(out, name, build, mocks)
    (out / "corpus.json").write_text(json.dumps({
        "files": corpus, "ephys_shape": EPHYS_SHAPE, "ephys_chunks": EPHYS_CHUNKS,
        "extension": EXT_NAMESPACE,
    }, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
