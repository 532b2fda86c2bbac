"""hdmf-zarr 0.14 reads what hdmf_lindi writes in the ``zarr3`` dialect (issue 18, item 3).

The NWB write corpus (every ``pynwb.testing.mock`` type, ``tests/backend_write/write_corpus.py``)
is written by ``NWBLindiIO`` as LINDI v2 and exported by ``NWBLindiIO(..., dialect="zarr3")``;
an HDF5 NWB of it is indexed with ``IndexOptions(dialect="zarr3")`` (chunks stay references
into the ``.nwb``). In ``.venv-hdmf-zarr`` (driver ``hdmf_zarr_read_ours.py``) ``NWBZarrIO``
reads each through fsspec's reference file system, ``pynwb.validate`` runs on it, and it is
exported to an ``.nwb`` that this process compares, container by container, with what it reads
itself; zarr 3.4 reads every array, compared with our read of the v2 file.

The corpus' extension object is left out: its uint8/int16/float32 attributes come back from
any JSON attribute store as Python ints/floats, which hdmf-zarr hands to the generated class
unconverted ("incorrect type for 'gain'"); hdmf-zarr cannot read its own write of it either.
``.lindi.tar`` / ``.lindi.d`` in the zarr3 dialect are read by hdmf_lindi only: their inline
blobs are ``./`` names inside the container, which fsspec's reference file system does not
resolve (see ``docs/user_guide/zarr3.rst``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "backend_write"))  # write_corpus (tests/ has no __init__.py)
sys.path.insert(0, str(HERE.parent / "backend"))  # backend_reads.assert_same_tree

from backend_reads import assert_same_tree  # noqa: E402
from pynwb import NWBHDF5IO, NWBFile, TimeSeries  # noqa: E402
from write_corpus import Corpus, extension_type_map, write_extension  # noqa: E402

import hdmf_lindi  # noqa: E402
from hdmf_lindi import NWBLindiIO  # noqa: E402
from hdmf_lindi.format.references import Reference  # noqa: E402
from hdmf_lindi.hdf5 import IndexOptions, index_hdf5  # noqa: E402

DRIVER = HERE / "hdmf_zarr_read_ours.py"
FILES = ["main", "ecephys_tables", "legacy"]

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


class _NoExtension(Corpus):
    """The write corpus without the extension object (see the module docstring)."""

    def _main(self, nwbfile: NWBFile) -> None:
        from hdmf.backends.hdf5 import H5DataIO

        for name in sorted(set(self.mocks) - {"mock_ElectrodesTable", "mock_electrodes", "mock_SpikeEventSeries", "mock_ElectrodeTable", "mock_NWBFile"}):
            self._call("main", name, nwbfile=nwbfile)
        data = H5DataIO(np.arange(24000, dtype="<f4").reshape(-1, 4), compression="gzip", chunks=(500, 4), shuffle=True)
        self._call("main", "mock_TimeSeries", name="compressed", data=data, nwbfile=nwbfile)


def _drive(python: str, *args: str | Path, cwd: Path) -> list[dict[str, Any]]:
    """Run the driver in the hdmf-zarr venv; one parsed result line per store."""
    cmd = [python, str(DRIVER), *(str(a) for a in args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=cwd, check=False)
    if proc.returncode != 0:
        pytest.fail(f"hdmf-zarr driver failed: {' '.join(cmd)}\n{proc.stderr[-6000:]}", pytrace=False)
    return [json.loads(line) for line in proc.stdout.strip().splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """name -> (LINDI v2 file, the same exported as zarr3); plus "hdf5" -> (.nwb, its zarr3 index)."""
    root = tmp_path_factory.mktemp("zarr3_write")
    corpus = _NoExtension(extension_type_map(write_extension(root)))
    out: dict[str, tuple[Path, Path]] = {}
    for name in FILES:
        v2, v3 = root / f"{name}.lindi.json", root / f"{name}.zarr3.lindi.json"
        with NWBLindiIO(str(v2), "w", manager=corpus.manager()) as io:
            io.write(corpus.build(name))
        with NWBLindiIO(str(v2), "r") as src, NWBLindiIO(str(v3), "w", dialect="zarr3") as dst:
            dst.export(src_io=src, write_args={"link_data": False})
        out[name] = (v2, v3)
    translated = root / "main.translated.lindi.json"  # the same model, only translated
    shutil.copy(out["main"][0], translated)
    with hdmf_lindi.File(translated, "a") as f:
        f.dialect = "zarr3"
    out["translated"] = (out["main"][0], translated)
    amended = root / "amended.zarr3.lindi.json"  # a zarr3 file amended through pynwb: saved as zarr3
    shutil.copy(out["ecephys_tables"][1], amended)
    with NWBLindiIO(str(amended), "a") as io:
        nwbfile = io.read()
        nwbfile.add_acquisition(TimeSeries(name="added", data=np.arange(50.0), unit="V", rate=10.0))
        io.write(nwbfile)
    out["amended"] = (amended, amended)
    nwb = root / "main.nwb"
    with NWBHDF5IO(str(nwb), "w", manager=corpus.manager()) as io:
        io.write(corpus.build("main"))
    index = root / "main.index.lindi.json"
    index_hdf5(nwb, index, options=IndexOptions(dialect="zarr3"))
    out["hdf5"] = (nwb, index)
    return out


@pytest.fixture(scope="module")
def hdmf_zarr_reads(
    written: dict[str, tuple[Path, Path]], hdmf_zarr_python: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[dict[str, Any], Path]]:
    """name -> (driver result, the .nwb hdmf-zarr exported from its read): one driver run."""
    root = tmp_path_factory.mktemp("hdmf_zarr_reads")
    names = [*FILES, "hdf5", "amended"]
    args = [str(a) for name in names for a in (written[name][1], root / f"{name}.nwb")]
    results = _drive(hdmf_zarr_python, "nwb", *args, cwd=root)
    assert len(results) == len(names)
    return {name: (result, root / f"{name}.nwb") for name, result in zip(names, results, strict=True)}


@pytest.mark.parametrize("name", [*FILES, "hdf5", "amended"])
def test_nwbzarrio_reads_ours_equal_and_valid(
    name: str, written: dict[str, tuple[Path, Path]], hdmf_zarr_reads: dict[str, tuple[dict[str, Any], Path]]
) -> None:
    source, _ = written[name]
    result, exported = hdmf_zarr_reads[name]
    assert result["validation"] == []
    ours: Any = NWBHDF5IO(str(source), "r") if name == "hdf5" else NWBLindiIO(str(source), "r")
    with ours, NWBHDF5IO(str(exported), "r") as theirs:
        expected, actual = ours.read(), theirs.read()
        assert result["objects"] == len(expected.objects)
        assert_same_tree(expected, actual)
        if name == "amended":
            assert actual.acquisition["added"].data[:].tolist() == list(np.arange(50.0))


def _same(ours: Any, theirs: np.ndarray[Any, Any], where: str) -> None:
    ours = np.asarray(ours)
    if ours.dtype.fields is not None:
        assert theirs.dtype.names == ours.dtype.names, where
        for field in ours.dtype.names or ():
            _same(ours[field], theirs[field], f"{where}.{field}")
        return
    if ours.dtype.kind == "O" or ours.dtype.kind in "SU":
        flat = [v.path if isinstance(v, Reference) else v.decode() if isinstance(v, bytes) else str(v) for v in ours.reshape(-1).tolist()]
        assert theirs.reshape(-1).tolist() == flat, where
        assert theirs.shape == ours.shape, where
        return
    np.testing.assert_array_equal(theirs, ours, err_msg=where)
    assert theirs.dtype == ours.dtype.newbyteorder("="), where


def test_zarr34_reads_every_array_equal(written: dict[str, tuple[Path, Path]], hdmf_zarr_python: str, tmp_path: Path) -> None:
    v2, v3 = written["translated"]
    (result,) = _drive(hdmf_zarr_python, "arrays", v3, tmp_path / "arrays.npz", cwd=tmp_path)
    with np.load(tmp_path / "arrays.npz") as arrays, hdmf_lindi.File(v2) as f:
        assert result["arrays"] == len(arrays.files) > 200
        compounds = 0
        for key in arrays.files:
            path = key.replace("|", "/")
            theirs = arrays[key]
            compounds += theirs.dtype.fields is not None
            _same(f[path][()], theirs, path)
        assert compounds >= 2  # the intracellular recordings' reference-field compounds
    attributes = result["attributes"]
    assert attributes[""][".specloc"] == "specifications"
    refs = [a for a in attributes.values() if any(isinstance(v, dict) and "_REFERENCE" in v for v in a.values())]
    assert refs and all(set(v["_REFERENCE"]) == {"source", "path"} for a in refs for v in a.values() if isinstance(v, dict) and "_REFERENCE" in v)
    assert any("_LINKS" in a for a in attributes.values())


def test_convert_lindi_to_zarr3_keeps_remote_chunk_refs(written: dict[str, tuple[Path, Path]], tmp_path: Path) -> None:
    """convert(dialect="zarr3") of an HDF5 index: metadata translated, chunk refs kept as refs."""
    nwb, _ = written["hdf5"]
    index = tmp_path / "v2.lindi.json"
    index_hdf5(nwb, index)
    out = tmp_path / "v3.lindi.json"
    hdmf_lindi.convert(index, out, dialect="zarr3")
    docs = [json.loads(p.read_text()) for p in (index, out)]

    def chunk(doc: dict[str, Any], key: str) -> list[Any]:
        url, offset, length = doc["refs"][key]
        for name, full in doc.get("templates", {}).items():
            url = url.replace("{{" + name + "}}", full)
        return [url, offset, length]

    key = "acquisition/compressed/data"
    assert chunk(docs[1], f"{key}/c/0/0") == chunk(docs[0], f"{key}/0.0")
    assert os.path.samefile(chunk(docs[1], f"{key}/c/0/0")[0], nwb)
    assert "zarr.json" in docs[1]["refs"] and ".zgroup" not in docs[1]["refs"]


@pytest.mark.parametrize("name", ["main", "hdf5"])
def test_our_reader_reads_our_zarr3_equal(name: str, written: dict[str, tuple[Path, Path]]) -> None:
    """The round trip through hdmf_lindi's own v3 reader (``format/zarr_v3.py``)."""
    source, v3 = written[name]
    ours: Any = NWBHDF5IO(str(source), "r") if name == "hdf5" else NWBLindiIO(str(source), "r")
    with ours, NWBLindiIO(str(v3), "r") as again:
        assert again.file.dialect == "zarr3"
        assert_same_tree(ours.read(), again.read())


def test_convert_zarr3_back_to_lindi(written: dict[str, tuple[Path, Path]], tmp_path: Path, run_lindi: Any) -> None:
    """v3 -> v2: convert() of our zarr3 file reads equal through NWBLindiIO and lindi 0.4.6, and
    none of the v3 reader's own codecs reaches the LINDI v2 file."""
    v2, v3 = written["main"]
    back = tmp_path / "back.lindi.json"
    hdmf_lindi.convert(v3, back)
    assert "hdmf_lindi.v3_" not in back.read_text()
    with NWBLindiIO(str(v2), "r") as first, NWBLindiIO(str(back), "r") as again:
        assert again.file.dialect == "lindi"
        assert_same_tree(first.read(), again.read())
    # the cached specs differ by export's re-caching (schema source names), not by the dialects
    theirs, first_dump = (
        {k: v for k, v in json.loads(run_lindi("dump", p)).items() if not k.startswith("/specifications")}
        for p in (back, v2)
    )
    assert theirs == first_dump and len(theirs) > 20
