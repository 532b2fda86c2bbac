"""NWB files to write: every ``mock_*`` of ``pynwb.testing.mock`` plus a small extension.

Containers can be written only once, so :func:`build_nwbfile` builds a fresh NWBFile on every
call. The three files follow ``tests/hdf5/test_nwb_corpus.py``:

* ``main``: every mock called with ``nwbfile=`` on one ``mock_NWBFile()`` except the four
  electrode-table mocks, a gzip-chunked TimeSeries (``H5DataIO``) and one object of the
  extension type (:data:`EXT_TYPE`);
* ``ecephys_tables``: ``mock_ElectrodesTable`` with ``mock_electrodes`` (a region of it) used by
  ``mock_SpikeEventSeries`` (an NWBFile has one electrodes table, so they need a file of their
  own);
* ``legacy``: the deprecated alias ``mock_ElectrodeTable``.

The extension (namespace ``ndx-lindi-write-test``) defines ``LindiWriteTest``, an
``NWBDataInterface`` with attributes of dtype uint8, float32 and int16, a 1-D text dataset, a
2-D int16 dataset with a float32 attribute, and a compound dataset whose third field is an
object reference to a TimeSeries. It is loaded into a private copy of pynwb's type map (never
into the global one, which other tests share); write and read with
``BuildManager(type_map)`` so that the extension classes are the same objects on both sides.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
from hdmf.backends.hdf5 import H5DataIO
from hdmf.build import BuildManager, TypeMap
from nwb_mocks import NOT_ADDED, discover_mocks
from pynwb import NWBFile, get_type_map
from pynwb.spec import (
    NWBAttributeSpec,
    NWBDatasetSpec,
    NWBDtypeSpec,
    NWBGroupSpec,
    NWBNamespaceBuilder,
    NWBRefSpec,
)
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

SUFFIX = {"json": ".lindi.json", "tar": ".lindi.tar", "dir": ".lindi.d"}
"""The three LINDI forms and their suffixes (imported by the test modules: ``conftest`` is not
importable by name when several test folders have one)."""
FORMS = list(SUFFIX)
TABLE_MOCKS = {"mock_ElectrodesTable", "mock_electrodes", "mock_SpikeEventSeries", "mock_ElectrodeTable"}
FILES = ["main", "ecephys_tables", "legacy"]
EXT_NAMESPACE = "ndx-lindi-write-test"
EXT_TYPE = "LindiWriteTest"


def write_extension(outdir: Path) -> Path:
    """Write the extension's namespace and spec YAML into ``outdir``; return the namespace path."""
    builder = NWBNamespaceBuilder(
        doc="hdmf-lindi write tests", name=EXT_NAMESPACE, version="0.1.0", author="tests", contact="tests@example.org"
    )
    builder.include_namespace("core")
    spec = NWBGroupSpec(
        neurodata_type_def=EXT_TYPE,
        neurodata_type_inc="NWBDataInterface",
        doc="attributes and datasets of the dtypes that JSON attributes lose without care",
        attributes=[
            NWBAttributeSpec("gain", "a uint8 attribute", "uint8"),
            NWBAttributeSpec("scale", "a float32 attribute", "float32"),
            NWBAttributeSpec("offset", "an int16 attribute", "int16"),
        ],
        datasets=[
            NWBDatasetSpec(name="notes", doc="a text dataset", dtype="text", shape=(None,)),
            NWBDatasetSpec(
                name="values",
                doc="an int16 dataset",
                dtype="int16",
                shape=(None, None),
                attributes=[NWBAttributeSpec("unit_scale", "a float32 attribute", "float32")],
            ),
            NWBDatasetSpec(
                name="events",
                doc="a compound dataset with a reference field",
                dtype=[
                    NWBDtypeSpec("time", "a float64 field", "float64"),
                    NWBDtypeSpec("label", "an int32 field", "int32"),
                    NWBDtypeSpec("series", "a reference field", NWBRefSpec("TimeSeries", "object")),
                ],
                shape=(None,),
            ),
        ],
    )
    builder.add_spec(f"{EXT_NAMESPACE}.extensions.yaml", spec)
    builder.export(f"{EXT_NAMESPACE}.namespace.yaml", outdir=str(outdir))
    return outdir / f"{EXT_NAMESPACE}.namespace.yaml"


def add_extension_object(nwbfile: NWBFile, type_map: TypeMap) -> None:
    """Add the extension object (and the TimeSeries its compound references) to ``nwbfile``.

    The class comes from ``type_map``: write with a manager over the same type map, since hdmf
    finds a container's object mapper by its class.
    """
    cls = type_map.get_dt_container_cls(EXT_TYPE, EXT_NAMESPACE)
    target = mock_TimeSeries(name="ext_target", nwbfile=nwbfile)
    events = np.array(
        [(0.5, 1, target), (1.5, -2, target)], dtype=[("time", "f8"), ("label", "i4"), ("series", "O")]
    )
    obj = cls(
        name="ext",
        gain=np.uint8(200),
        scale=np.float32(0.1),  # not exactly representable: a float64 detour would show
        offset=np.int16(-300),
        notes=["first", "second, non-ASCII: é"],
        values=np.arange(-6, 6, dtype="int16").reshape(3, 4),
        values__unit_scale=np.float32(2.5),
        events=events,
    )
    nwbfile.create_processing_module("extension", "holds the extension object").add(obj)


def extension_type_map(namespace_path: Path) -> TypeMap:
    """A private copy of pynwb's type map with the extension loaded."""
    type_map = get_type_map()
    type_map.load_namespaces(str(namespace_path))
    return type_map


class Corpus:
    """Builds fresh NWBFiles (one per call) and remembers which mock went into which file."""

    def __init__(self, type_map: TypeMap) -> None:
        self.type_map = type_map
        self.mocks = discover_mocks()
        self.called: dict[str, str] = {}

    def manager(self) -> BuildManager:
        """A new build manager over the extension type map (one per IO, as pynwb does)."""
        return BuildManager(self.type_map)

    def build(self, name: str, **nwbfile_kwargs: Any) -> NWBFile:
        """A new NWBFile of the corpus file ``name`` (one of :data:`FILES`); extra ``mock_NWBFile`` arguments."""
        nwbfile = mock_NWBFile(session_description=f"hdmf_lindi write corpus: {name}", **nwbfile_kwargs)
        {"main": self._main, "ecephys_tables": self._ecephys_tables, "legacy": self._legacy}[name](nwbfile)
        return nwbfile

    def _call(self, file: str, mock: str, /, **kwargs: Any) -> Any:
        self.called.setdefault(mock, file)
        return self.mocks[mock](**kwargs)

    def _main(self, nwbfile: NWBFile) -> None:
        for name in sorted(set(self.mocks) - TABLE_MOCKS - set(NOT_ADDED)):
            self._call("main", name, nwbfile=nwbfile)
        data = H5DataIO(np.arange(24000, dtype="<f4").reshape(-1, 4), compression="gzip", chunks=(500, 4), shuffle=True)
        self._call("main", "mock_TimeSeries", name="compressed", data=data, nwbfile=nwbfile)
        add_extension_object(nwbfile, self.type_map)

    def _ecephys_tables(self, nwbfile: NWBFile) -> None:
        table = self._call("ecephys_tables", "mock_ElectrodesTable", n_rows=8, nwbfile=nwbfile)
        region = self._call("ecephys_tables", "mock_electrodes", n_electrodes=8, table=table, nwbfile=nwbfile)
        self._call("ecephys_tables", "mock_SpikeEventSeries", data=np.ones((10, 8)), electrodes=region, nwbfile=nwbfile)

    def _legacy(self, nwbfile: NWBFile) -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self._call("legacy", "mock_ElectrodeTable", nwbfile=nwbfile)
        assert any(issubclass(w.category, DeprecationWarning) for w in caught)
