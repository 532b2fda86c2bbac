"""The NWB corpus of the backend fidelity tests: what is in each file, and how it is built.

Five NWB files, written with ``NWBHDF5IO`` (the reference reader of every comparison):

* ``mocks``: every ``mock_*`` of ``pynwb.testing.mock`` called with ``nwbfile=`` on one
  ``mock_NWBFile()``, except the electrode-table mocks below (the same split as
  ``tests/hdf5/test_nwb_corpus.py``: an NWBFile has one electrodes table, and each of those
  mocks makes its own);
* ``ecephys``: ``mock_ElectrodesTable``, ``mock_electrodes`` (a region of it) and
  ``mock_SpikeEventSeries`` using that region;
* ``legacy``: the deprecated alias ``mock_ElectrodeTable``;
* ``tables``: hand-made cases for real work on lazy data: an electrodes table with two groups
  and a text column, units (ragged ``spike_times`` and ``obs_intervals``, a ragged
  ``DynamicTableRegion`` into the electrodes), trials with an extra column, a DynamicTable
  with a ragged, a doubly ragged, a ragged-text, a region and a ragged-region column, a large
  gzip-chunked TimeSeries (its chunks are referenced, never inlined), epochs whose
  ``timeseries`` column is a compound dataset with a reference field, an Images container
  whose ``order_of_images`` is a dataset of object references, a TimeSeries whose
  timestamps and one whose data are links to another, a scaled int16 TimeSeries
  (``get_data_in_units``), a TimeSeries whose float64 rate and conversion are not exact in
  float32 (their spec dtype), a OnePhotonSeries with a ``uint8`` binning and a
  CurrentClampSeries with a ``uint32`` sweep number;
* ``extension``: a namespace made here with ``NWBNamespaceBuilder``: a LabMetaData subtype
  with ``uint8``/``float32``/``int16`` attributes, a scalar text dataset and a 1-D text
  dataset, and a TimeSeries subtype with a ``uint16`` attribute. The namespace is loaded into
  a private copy of pynwb's type map, never into the global one, so other tests never see it.

Each mock's returned container is remembered by ``object_id`` (``Corpus.object_ids``) so the
round-trip tests can compare it alone, with a test id naming the mock.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
from hdmf.backends.hdf5 import H5DataIO
from hdmf.build import BuildManager
from hdmf.common import DynamicTable
from nwb_mocks import NOT_ADDED, discover_mocks
from pynwb import NWBHDF5IO, TimeSeries, get_type_map
from pynwb.base import ImageReferences, Images
from pynwb.icephys import CurrentClampSeries
from pynwb.image import GrayscaleImage
from pynwb.spec import NWBAttributeSpec, NWBDatasetSpec, NWBGroupSpec, NWBNamespaceBuilder
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_lindi import index_hdf5

FILES = ("mocks", "ecephys", "legacy", "tables", "extension")
LINDI_FORMS = {"json": ".lindi.json", "tar": ".lindi.tar", "dir": ".lindi.d"}
SOURCES = (*LINDI_FORMS, "nwb")
"""Where NWBLindiIO reads from: an index_hdf5 output of each form, or the ``.nwb`` itself."""

TABLE_MOCKS = {
    "mock_ElectrodesTable": "ecephys",
    "mock_electrodes": "ecephys",
    "mock_SpikeEventSeries": "ecephys",
}
LEGACY_MOCKS = {"mock_ElectrodeTable": "legacy"}

EXT_NAMESPACE = "ndx-lindi-test"
EXT_META = "LindiTestMetaData"
EXT_SERIES = "LindiTestSeries"
FLOAT_WIDTH_LOST = (
    "a file lindi 0.4.6 wrote records no attribute widths (hdmf_lindi's indexes and writes do, "
    "outside .zattrs), and LindiIO keeps float attributes float64 (pynwb writes float32-declared "
    "core attributes such as rate and conversion as float64), so a float32 the writer chose "
    "explicitly comes back float64 with the same value"
)
"""Why a float32 attribute of a lindi-written file cannot keep its width (xfail reason)."""
BIG_SERIES = "big"
"""The TimeSeries of ``tables`` whose data are referenced chunks (200,000 float32, 10 chunks)."""
BIG_CHUNK = 20_000


MOCKS = discover_mocks()
MOCK_FILE = {
    name: TABLE_MOCKS.get(name) or LEGACY_MOCKS.get(name) or "mocks"
    for name in sorted(set(MOCKS) - set(NOT_ADDED))
}
"""The corpus file each mock is called in."""


class Corpus:
    """The corpus files under ``root``; :meth:`build` writes them, :meth:`source` indexes lazily."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.paths = {name: root / f"{name}.nwb" for name in FILES}
        self.object_ids: dict[str, list[str]] = {}
        """Mock name -> object ids of the containers it returned."""
        self.extension_yaml = root / "ext" / f"{EXT_NAMESPACE}.namespace.yaml"
        self.big_data = np.linspace(-1.0, 1.0, 10 * BIG_CHUNK, dtype="<f4")
        self._indexed: dict[tuple[str, str], Path] = {}

    # ------------------------------------------------------------------ access
    def source(self, name: str, source: str) -> Path:
        """Return the path NWBLindiIO reads for file ``name`` from ``source`` (indexed once)."""
        if source == "nwb":
            return self.paths[name]
        key = (name, source)
        if key not in self._indexed:
            out = self.root / "indexed" / f"{name}{LINDI_FORMS[source]}"
            out.parent.mkdir(exist_ok=True)
            index_hdf5(self.paths[name], out)
            self._indexed[key] = out
        return self._indexed[key]

    def extension_type_map(self) -> Any:
        """A private copy of pynwb's type map with the test extension loaded."""
        type_map = get_type_map()
        type_map.load_namespaces(str(self.extension_yaml))
        return type_map

    # ------------------------------------------------------------------ building
    def build(self) -> None:
        """Write every corpus file with NWBHDF5IO."""
        self._write_extension_spec()
        for name in FILES:
            nwbfile = mock_NWBFile(session_description=f"hdmf_lindi backend corpus: {name}")
            manager = getattr(self, f"_build_{name}")(nwbfile)
            with NWBHDF5IO(str(self.paths[name]), "w", manager=manager) as io:
                io.write(nwbfile)

    def _call(self, mock: str, /, **kwargs: Any) -> Any:
        container = MOCKS[mock](**kwargs)
        self.object_ids.setdefault(mock, []).append(container.object_id)
        return container

    def _build_mocks(self, nwbfile: Any) -> None:
        for name, file in MOCK_FILE.items():
            if file == "mocks":
                self._call(name, nwbfile=nwbfile)

    def _build_ecephys(self, nwbfile: Any) -> None:
        table = self._call("mock_ElectrodesTable", n_rows=8, nwbfile=nwbfile)
        region = self._call("mock_electrodes", n_electrodes=8, table=table, nwbfile=nwbfile)
        self._call(
            "mock_SpikeEventSeries", data=np.ones((10, 8)), electrodes=region, nwbfile=nwbfile
        )

    def _build_legacy(self, nwbfile: Any) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self._call("mock_ElectrodeTable", nwbfile=nwbfile)

    def _build_tables(self, nwbfile: Any) -> None:
        device = nwbfile.create_device(name="probe")
        groups = [
            nwbfile.create_electrode_group(
                name=f"shank{i}", description="shank", location="CA1", device=device
            )
            for i in range(2)
        ]
        nwbfile.add_electrode_column(name="label", description="channel label")
        for i in range(6):
            nwbfile.add_electrode(group=groups[i % 2], location=f"loc{i}", label=f"ch{i}")
        spikes = [[0.1, 0.5, 0.9], [1.5], [0.2, 0.3, 0.4, 2.5, 3.0], [7.0, 8.0]]
        for i, times in enumerate(spikes):
            nwbfile.add_unit(
                spike_times=times,
                electrodes=[i, (i + 1) % 6],
                obs_intervals=[[0.0, 1.0], [2.0, 3.0 + i]],
            )
        nwbfile.add_trial_column(name="correct", description="whether correct")
        for i in range(4):
            nwbfile.add_trial(start_time=float(i), stop_time=i + 0.5, correct=bool(i % 2))
        module = nwbfile.create_processing_module(
            name="tables", description="ragged and region columns"
        )
        module.add(self._ragged_table(nwbfile.electrodes))
        self._add_series(nwbfile)

    @staticmethod
    def _ragged_table(electrodes: Any) -> DynamicTable:
        table = DynamicTable(name="ragged", description="ragged, doubly ragged and region columns")
        table.add_column(name="value", description="one float per row")
        table.add_column(name="ragged", description="VectorIndex", index=True)
        table.add_column(name="doubly", description="two VectorIndexes", index=2)
        table.add_column(name="words", description="ragged text", index=True)
        table.add_column(name="region", description="DynamicTableRegion", table=electrodes)
        table.add_column(
            name="regions", description="ragged DynamicTableRegion", table=electrodes, index=True
        )
        rows = [
            (0.5, [1, 2, 3], [[1, 2], [3]], ["a", "bb"], 0, [0, 1]),
            (1.5, [4], [[5, 6, 7]], ["ccc"], 3, [2]),
            (2.5, [5, 6], [[8], [9], [10, 11]], ["d", "e", "f"], 5, [3, 4, 5]),
            (3.5, [7, 8, 9, 10], [[12]], ["g"], 1, [1]),
        ]
        for value, ragged, doubly, words, region, regions in rows:
            table.add_row(
                value=value,
                ragged=ragged,
                doubly=doubly,
                words=words,
                region=region,
                regions=regions,
            )
        return table

    def _add_series(self, nwbfile: Any) -> None:
        data = H5DataIO(self.big_data, chunks=(BIG_CHUNK,), compression="gzip")
        nwbfile.add_acquisition(TimeSeries(name=BIG_SERIES, data=data, unit="V", rate=1000.0))
        source = TimeSeries(
            name="timestamps_source",
            data=np.arange(50.0),
            unit="m",
            timestamps=np.arange(50) / 10.0,
        )
        nwbfile.add_acquisition(source)
        # a compound dataset with an object reference field (TimeSeriesReferenceVectorData)
        nwbfile.add_epoch(start_time=0.5, stop_time=1.5, tags=["a", "b"], timeseries=[source])
        nwbfile.add_epoch(start_time=2.0, stop_time=3.0, tags=["c"], timeseries=[source])
        nwbfile.add_epoch(start_time=3.5, stop_time=4.0, tags=[], timeseries=[source, source])
        nwbfile.add_epoch(start_time=4.5, stop_time=4.9, tags=["d"], timeseries=[source])
        # a dataset of object references (ImageReferences)
        images = [
            GrayscaleImage(name=f"img{i}", data=np.full((3, 4), i, dtype="uint8")) for i in range(3)
        ]
        order = ImageReferences(name="order_of_images", data=[images[2], images[0], images[1]])
        nwbfile.add_acquisition(
            Images(name="images", images=images, description="three images", order_of_images=order)
        )
        nwbfile.add_acquisition(
            TimeSeries(name="linked_timestamps", data=np.ones(50), unit="s", timestamps=source)
        )
        nwbfile.add_acquisition(TimeSeries(name="linked_data", data=source, unit="m", rate=5.0))
        nwbfile.add_acquisition(
            TimeSeries(
                name="scaled",
                data=np.arange(-600, 600, dtype="int16").reshape(-1, 2),
                unit="mV",
                rate=20.0,
                conversion=0.5,
                offset=-1.25,
            )
        )
        # rate and conversion are float32 in the spec, but pynwb stores Python floats as float64:
        # neither value is exact in float32
        nwbfile.add_acquisition(
            TimeSeries(
                name="ntsc", data=np.arange(30.0), unit="V", rate=30000 / 1001, conversion=0.1
            )
        )
        MOCKS["mock_OnePhotonSeries"](
            name="binned", binning=np.uint8(2), nwbfile=nwbfile
        )  # uint8 in the spec
        electrode = MOCKS["mock_IntracellularElectrode"](nwbfile=nwbfile)
        nwbfile.add_acquisition(
            CurrentClampSeries(
                name="sweep",
                data=np.arange(10.0),
                electrode=electrode,
                gain=0.02,
                rate=100.0,
                sweep_number=np.uint32(7),
            )
        )

    def _write_extension_spec(self) -> None:
        builder = NWBNamespaceBuilder(
            doc="hdmf_lindi test extension",
            name=EXT_NAMESPACE,
            version="0.1.0",
            author="hdmf_lindi tests",
            contact="tests@example.org",
        )
        builder.include_type("LabMetaData", namespace="core")
        builder.include_type("TimeSeries", namespace="core")
        meta = NWBGroupSpec(
            neurodata_type_def=EXT_META,
            neurodata_type_inc="LabMetaData",
            doc="metadata with narrow numeric attributes and text datasets",
            attributes=[
                NWBAttributeSpec(name="gain", dtype="uint8", doc="uint8 attribute"),
                NWBAttributeSpec(name="scale", dtype="float32", doc="float32 attribute"),
                NWBAttributeSpec(name="offset", dtype="int16", doc="int16 attribute"),
            ],
            datasets=[
                NWBDatasetSpec(name="notes", dtype="text", doc="scalar text dataset"),
                NWBDatasetSpec(name="tags", dtype="text", shape=(None,), doc="1-D text dataset"),
            ],
        )
        series = NWBGroupSpec(
            neurodata_type_def=EXT_SERIES,
            neurodata_type_inc="TimeSeries",
            doc="a TimeSeries with a uint16 attribute",
            attributes=[NWBAttributeSpec(name="channel", dtype="uint16", doc="uint16 attribute")],
        )
        builder.add_spec(f"{EXT_NAMESPACE}.extensions.yaml", meta)
        builder.add_spec(f"{EXT_NAMESPACE}.extensions.yaml", series)
        self.extension_yaml.parent.mkdir()
        builder.export(self.extension_yaml.name, outdir=str(self.extension_yaml.parent))

    def _build_extension(self, nwbfile: Any) -> BuildManager:
        type_map = self.extension_type_map()
        meta_cls = type_map.get_dt_container_cls(EXT_META, EXT_NAMESPACE)
        series_cls = type_map.get_dt_container_cls(EXT_SERIES, EXT_NAMESPACE)
        nwbfile.add_lab_meta_data(
            meta_cls(
                name="lab_meta",
                gain=np.uint8(200),
                scale=np.float32(0.1),
                offset=np.int16(-3),
                notes="h\u00e9llo notes",
                tags=["a", "bb", "ccc"],
            )
        )
        nwbfile.add_acquisition(
            series_cls(
                name="ext_series", data=np.arange(8.0), unit="V", rate=2.0, channel=np.uint16(513)
            )
        )
        return BuildManager(type_map)
