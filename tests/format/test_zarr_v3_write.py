"""Writing the shared Zarr v3 convention (``dialect="zarr3"``): what zarr 3 reads back.

zarr 3 in our own environment (3.1) reads every non-compound array of what we write through
fsspec's reference file system, equal to the values written; compounds (``struct``, which needs
zarr >= 3.2) are read by hdmf-zarr's zarr 3.4 in ``tests/interop/test_hdmf_zarr_write.py``.
"""

from __future__ import annotations

import json
import math
import tarfile
import warnings
from pathlib import Path
from typing import Any

import fsspec
import h5py
import numcodecs
import numpy as np
import pytest
import zarr
from zarr.storage import FsspecStore

import hdmf_lindi
from hdmf_lindi.errors import DialectError
from hdmf_lindi.format.references import Reference
from hdmf_lindi.format.zarr_v3_write import to_zarr3
from hdmf_lindi.hdf5 import IndexOptions, index_hdf5
from hdmf_lindi.storage.refmap import ReferenceMap

pytestmark = pytest.mark.filterwarnings("ignore:Numcodecs codecs are not in the Zarr version 3")

NUMERIC = ["i1", "u1", "<i2", ">i2", "<u2", "<i4", ">i4", "<u4", "<i8", "<u8", "<f2", "<f4", ">f4", "<f8", ">f8", "|b1"]
CODECS: dict[str, dict[str, Any]] = {
    "none": {},
    "gzip": {"compression": "gzip"},
    "gzip_shuffle": {"compression": "gzip", "shuffle": True},
    "blosc": {"compressor": numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)},
    "blosc_auto": {"compressor": numcodecs.Blosc(cname="zstd", shuffle=numcodecs.Blosc.AUTOSHUFFLE)},
    "zstd": {"compressor": numcodecs.Zstd(level=3)},
    "zlib": {"compressor": numcodecs.Zlib(level=1)},
    "gzip_numcodecs": {"compressor": numcodecs.GZip(level=2)},
}


def _open_v3(path: Path) -> zarr.Group:
    fs = fsspec.filesystem("reference", fo=str(path), asynchronous=True)
    return zarr.open_group(FsspecStore(fs, read_only=True, path=""), mode="r")


def _doc(path: Path) -> dict[str, Any]:
    def refuse(token: str) -> Any:
        raise AssertionError(f"the document is not strict JSON: {token}")

    return json.loads(path.read_text(), parse_constant=refuse)


def _meta(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc["refs"][key]
    return json.loads(value) if isinstance(value, str) else value


def _values(rng: np.random.Generator, dtype: str, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    if dt.kind == "f":
        return (rng.standard_normal(shape) * 100).astype(dt)
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, shape, dtype=dt.newbyteorder("=")).astype(dt)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray[Any, Any]]]:
    """One file with every dtype x codec (edge chunks), scalars, text, references and specials."""
    path = tmp_path_factory.mktemp("v3") / "all.lindi.json"
    rng = np.random.default_rng(7)
    expected: dict[str, np.ndarray[Any, Any]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zstd: lindi cannot read it (irrelevant here)
        with hdmf_lindi.File(path, "w", dialect="zarr3") as f:
            for dtype in NUMERIC:
                for codec, kwargs in CODECS.items():
                    data = _values(rng, dtype, (37, 5))
                    name = f"num/{codec}/{np.dtype(dtype).str.replace('|', '').replace('<', 'le').replace('>', 'be')}"
                    f.create_dataset(name, data=data, chunks=(10, 3), **kwargs)
                    expected[name] = data
            for name, value in {"s_int": np.int16(-3), "s_float": 2.5, "s_bool": True, "s_be": np.array(9, ">u4")}.items():
                f.create_dataset(f"scalar/{name}", data=value)
                expected[f"scalar/{name}"] = np.asarray(value)
            f.create_dataset("scalar/s_text", data="héllo wörld")
            expected["scalar/s_text"] = np.asarray("héllo wörld", dtype=object)
            text = np.array([f"row {i} é" for i in range(70_000)], dtype=object)  # > one json2 chunk
            f.create_dataset("text/many", data=text)
            expected["text/many"] = text
            f.create_dataset("text/fixed", data=np.array([b"ab", b"c", b""]))
            expected["text/fixed"] = np.array(["ab", "c", ""], dtype=object)
            f.create_dataset("text/empty", shape=(0,), dtype=hdmf_lindi.string_dtype())
            expected["text/empty"] = np.array([], dtype=object)
            f.create_dataset("refs/list", data=[Reference("/num/none/lei4"), Reference("/text")])
            expected["refs/list"] = np.array(["/num/none/lei4", "/text"], dtype=object)
            f.create_dataset("special/empty2d", shape=(0, 3), dtype="f4")
            expected["special/empty2d"] = np.zeros((0, 3), "f4")
            d = f.create_dataset("special/nanfill", shape=(25,), chunks=(10,), dtype="f8", fillvalue=np.nan)
            d[10:20] = 1.0
            expected["special/nanfill"] = np.r_[np.full(10, np.nan), np.ones(10), np.full(5, np.nan)]
            f.create_group("groups/empty")
            g = f.create_group("groups/attrs")
            g.attrs["nan"] = np.nan
            g.attrs["infs"] = np.array([1.0, np.inf, -np.inf])
            g.attrs["text"] = "NaN-free text"
            g.attrs["ref"] = Reference("/text/many")
            g["soft_ds"] = hdmf_lindi.SoftLink("/text/many")
            g["soft_grp"] = hdmf_lindi.SoftLink("/groups/empty")
    return path, expected


def test_zarr3_reads_every_array_equal(written: tuple[Path, dict[str, np.ndarray[Any, Any]]]) -> None:
    path, expected = written
    root = _open_v3(path)
    for name, want in expected.items():
        array = root[name]
        got = np.asarray(array[...])
        assert got.shape == want.shape, name
        if want.dtype.kind == "O":
            assert [str(v) for v in np.asarray(got).reshape(-1).tolist()] == want.reshape(-1).tolist(), name
        else:
            assert array.dtype.newbyteorder("=") == want.dtype.newbyteorder("="), name
            np.testing.assert_array_equal(got, want, err_msg=name)


def test_zarr3_reads_attributes(written: tuple[Path, dict[str, np.ndarray[Any, Any]]]) -> None:
    attrs = _open_v3(written[0])["groups/attrs"].attrs
    assert isinstance(attrs["nan"], float) and math.isnan(attrs["nan"])  # a float, not the text
    assert attrs["infs"] == [1.0, math.inf, -math.inf]
    assert attrs["ref"] == {"_REFERENCE": {"source": ".", "path": "/text/many"}}
    assert attrs["_LINKS"][0] == {"name": "soft_ds", "source": ".", "path": "/text/many"}


def test_metadata_follows_the_convention(written: tuple[Path, dict[str, np.ndarray[Any, Any]]]) -> None:
    path, _ = written
    doc = _doc(path)  # strict JSON outside: NaN only inside metadata text
    refs = doc["refs"]
    assert not [k for k in refs if k.rpartition("/")[2] in (".zgroup", ".zarray", ".zattrs")]
    for group in ("", "num", "groups", "groups/empty", "refs", "special"):
        assert _meta(doc, f"{group}/zarr.json" if group else "zarr.json")["node_type"] == "group"
    attrs = _meta(doc, "groups/attrs/zarr.json")["attributes"]
    assert isinstance(refs["groups/attrs/zarr.json"], str) and "NaN" in refs["groups/attrs/zarr.json"]
    assert math.isnan(attrs["nan"]) and attrs["infs"] == [1.0, math.inf, -math.inf]
    assert attrs["text"] == "NaN-free text"
    assert attrs["ref"] == {"_REFERENCE": {"source": ".", "path": "/text/many"}}
    assert attrs["_LINKS"] == [
        {"name": "soft_ds", "source": ".", "path": "/text/many"},
        {"name": "soft_grp", "source": ".", "path": "/groups/empty"},
    ]
    assert "groups/attrs/soft_ds/zarr.json" not in refs
    scalar = _meta(doc, "scalar/s_text/zarr.json")
    assert scalar["shape"] == [] and scalar["data_type"] == "string" and "scalar/s_text/c" in refs
    assert _meta(doc, "refs/list/zarr.json")["attributes"]["_DTYPE"] == "object_reference"
    assert _meta(doc, "num/gzip/lei4/zarr.json")["codecs"][1] == {"name": "gzip", "configuration": {"level": 4}}
    assert [c["name"] for c in _meta(doc, "num/zlib/bei4/zarr.json")["codecs"]] == ["bytes", "numcodecs.zlib"]
    assert _meta(doc, "num/zlib/bei4/zarr.json")["codecs"][0]["configuration"] == {"endian": "big"}
    blosc = _meta(doc, "num/blosc_auto/u1/zarr.json")["codecs"][1]
    assert blosc["name"] == "blosc" and blosc["configuration"]["shuffle"] == "bitshuffle"
    for key in refs:
        if key.endswith("zarr.json") and _meta(doc, key)["node_type"] == "array":
            meta = _meta(doc, key)
            assert "_DTYPE" in meta["attributes"] or isinstance(meta["data_type"], dict), key
            assert all(c >= 1 for c in meta["chunk_grid"]["configuration"]["chunk_shape"]), key


def test_numeric_chunks_are_copied_not_recoded(tmp_path: Path) -> None:
    data = np.arange(1000, dtype="<i4")
    with hdmf_lindi.File(tmp_path / "v2.lindi.json", "w") as f:
        f.create_dataset("x", data=data, chunks=(300,), compression="gzip")
    with hdmf_lindi.File(tmp_path / "v3.lindi.json", "w", dialect="zarr3") as f:
        f.create_dataset("x", data=data, chunks=(300,), compression="gzip")
    v2, v3 = _doc(tmp_path / "v2.lindi.json")["refs"], _doc(tmp_path / "v3.lindi.json")["refs"]
    assert [v2[f"x/{i}"] for i in range(4)] == [v3[f"x/c/{i}"] for i in range(4)]


def _make_h5(path: Path) -> dict[str, Any]:
    with h5py.File(path, "w") as f:
        f.create_dataset("contig", data=np.arange(700_001, dtype="<f8"))  # 5.6 MB: split at 4 MiB
        f.create_dataset("gz", data=np.arange(1003 * 7, dtype="<i4").reshape(1003, 7), chunks=(100, 4), compression="gzip", shuffle=True)
        f.create_dataset("fl32", data=np.arange(5000, dtype="<i2"), chunks=(999,), fletcher32=True)
        f.create_dataset("be", data=np.arange(3000, dtype=">i4"), chunks=(1000,))
        d = f.create_dataset("partial", shape=(5000,), chunks=(1000,), dtype="f4", fillvalue=np.nan)
        d[1000:2000] = 1.5
        f.create_dataset("strs", data=np.array(["a", "bé", "c"], dtype=h5py.string_dtype()))
        f.create_dataset("scal", data=7)
        f["soft"] = h5py.SoftLink("/gz")
        f.attrs["nan"] = np.nan
        f["gz"].attrs["ref"] = f["be"].ref
        return {name: f[name][()] for name in ("contig", "gz", "fl32", "be", "partial", "scal")}


@pytest.mark.parametrize("form", [".lindi.json", ".lindi.tar", ".lindi.d"])
def test_hdf5_index_in_zarr3(tmp_path: Path, form: str) -> None:
    source = tmp_path / "src.h5"
    expected = _make_h5(source)
    out = tmp_path / f"idx{form}"
    model = index_hdf5(source, out, options=IndexOptions(dialect="zarr3"))
    assert ".zgroup" in model  # the returned map stays the LINDI v2 model
    if form == ".lindi.tar":
        with tarfile.open(out) as tar:
            member = tar.extractfile("lindi.json")
            assert member is not None
            doc = json.loads(member.read().rstrip(b" \x00"))
    elif form == ".lindi.d":
        doc = json.loads((out / "lindi.json").read_text())
    else:
        doc = _doc(out)
    refs = doc["refs"]
    assert "zarr.json" in refs and ".zgroup" not in refs
    assert refs["gz/c/10/1"][0].endswith("src.h5") or refs["gz/c/10/1"][0].startswith("{{")
    if form != ".lindi.json":
        return  # fsspec resolves no container-relative names: only the JSON form opens in zarr
    root = _open_v3(out)
    for name, want in expected.items():
        np.testing.assert_array_equal(root[name][...], want, err_msg=name)
    assert root["strs"][...].tolist() == ["a", "bé", "c"]
    contig = _meta(doc, "contig/zarr.json")["chunk_grid"]["configuration"]["chunk_shape"][0]
    assert 700_001 % contig == 0  # re-described as full-size chunks of the same bytes
    assert [c["name"] for c in _meta(doc, "gz/zarr.json")["codecs"]] == ["bytes", "numcodecs.shuffle", "numcodecs.zlib"]
    assert _meta(doc, "zarr.json")["attributes"]["_LINKS"] == [{"name": "soft", "source": ".", "path": "/gz"}]


def test_external_array_link_cannot_be_written(tmp_path: Path) -> None:
    refmap = ReferenceMap({
        ".zgroup": {"zarr_format": 2},
        "x/.zarray": {"zarr_format": 2, "shape": [10], "chunks": [10], "dtype": "<i4", "fill_value": 0,
                      "order": "C", "compressor": None, "filters": None},
        "x/.zattrs": {"_EXTERNAL_ARRAY_LINK": {"link_type": "hdf5_dataset", "url": "a.h5", "name": "x"}},
    })
    with pytest.raises(DialectError, match="_EXTERNAL_ARRAY_LINK"):
        to_zarr3(refmap, lambda keys: [None] * len(keys))
    path = tmp_path / "eal.lindi.json"
    path.write_text(json.dumps(refmap.to_dict()))
    before = path.read_bytes()
    with hdmf_lindi.File(path, "a") as f, pytest.raises(DialectError, match="_EXTERNAL_ARRAY_LINK"):
        f.dialect = "zarr3"  # at once, not at flush
    assert path.read_bytes() == before
    with pytest.raises(DialectError, match="external_link_chunk_threshold=10 .* dialect='lindi'"):
        index_hdf5(tmp_path / "any.h5", options=IndexOptions(dialect="zarr3", external_link_chunk_threshold=10))


def test_unknown_dialect_is_refused(tmp_path: Path) -> None:
    from hdmf_lindi import NWBLindiIO
    from hdmf_lindi.errors import UnknownDialectError

    with pytest.raises(UnknownDialectError, match="zarr3"):  # a LindiError (it was a bare ValueError) ...
        hdmf_lindi.File(tmp_path / "x.lindi.json", "w", dialect="zarr2")
    with pytest.raises(ValueError, match="zarr3"):  # ... and still a ValueError
        index_hdf5(tmp_path / "missing.h5", options=IndexOptions(dialect="v3"))
    with pytest.raises(UnknownDialectError):
        NWBLindiIO(tmp_path / "y.lindi.json", "w", dialect="v3")
    with pytest.raises(UnknownDialectError):
        hdmf_lindi.convert(tmp_path / "missing.nwb", tmp_path / "z.lindi.json", dialect="zarr")
    assert not list(tmp_path.iterdir())


def test_round_trip_through_our_reader(written: tuple[Path, dict[str, np.ndarray[Any, Any]]]) -> None:
    path, expected = written
    with hdmf_lindi.File(path) as f:
        assert f.dialect == "zarr3"
        for name, want in expected.items():
            got = np.asarray(f[name][()])
            assert got.shape == want.shape, name
            if want.dtype.kind == "O":
                texts = [v.path if isinstance(v, Reference) else str(v) for v in got.reshape(-1).tolist()]
                assert texts == want.reshape(-1).tolist(), name
            else:
                np.testing.assert_array_equal(got, want, err_msg=name)
        attrs = f["groups/attrs"].attrs
        assert math.isnan(attrs["nan"]) and attrs["text"] == "NaN-free text"
        assert attrs["ref"].path == "/text/many"
        assert f["groups/attrs/soft_ds"][()].tolist() == expected["text/many"].tolist()


def test_saved_again_stays_zarr3(tmp_path: Path) -> None:
    path = tmp_path / "x.lindi.json"
    with hdmf_lindi.File(path, "w", dialect="zarr3") as f:
        f.create_dataset("a", data=np.arange(5))
    with hdmf_lindi.File(path, "a") as f:
        f.create_dataset("b", data=["x", "y"])
    refs = _doc(path)["refs"]
    assert {"a/zarr.json", "b/zarr.json", "a/c/0", "b/c/0"} <= set(refs) and ".zgroup" not in refs
    with hdmf_lindi.File(path, "a") as f:
        f.dialect = "lindi"  # and back: LINDI v2 again
    assert ".zgroup" in _doc(path)["refs"]


def test_zarr3_to_lindi_rewrites_the_v3_readers_codecs(tmp_path: Path) -> None:
    path = tmp_path / "x.lindi.json"
    compound = np.array([(1, 2.0, b"ab")], dtype=[("a", "<i4"), ("b", "<f8"), ("c", "S2")])
    with hdmf_lindi.File(path, "w", dialect="zarr3") as f:
        f.create_dataset("s", data=["a", "bé"])
        f.create_dataset("r", data=[Reference("/s")])
        f.create_dataset("c", data=compound)
        f.create_dataset("n", data=np.arange(10), compression="gzip")
    before = _doc(path)["refs"]["n/c/0"]
    with hdmf_lindi.File(path, "a") as f:
        f.dialect = "lindi"
        assert f["s"][()].tolist() == ["a", "bé"]  # readable at once (engines rebuilt)
    text = path.read_text()
    assert "hdmf_lindi.v3_" not in text and "zarr.json" not in text
    assert _doc(path)["refs"]["n/0"] == before  # numeric chunks untouched
    with hdmf_lindi.File(path) as f:
        assert f.dialect == "lindi"
        assert f["s"][()].tolist() == ["a", "bé"] and f["r"][()][0].path == "/s"
        got = f["c"][()]
        assert got["a"].tolist() == [1] and got["b"].tolist() == [2.0]


def test_missing_chunks_of_recoded_arrays(tmp_path: Path) -> None:
    path = tmp_path / "x.lindi.json"
    with hdmf_lindi.File(path, "w", dialect="zarr3") as f:
        d = f.create_dataset("s", shape=(4,), dtype=hdmf_lindi.string_dtype(), chunks=(2,))
        d[0:2] = ["a", "b"]  # chunk 1 is never written
    root = _open_v3(path)
    assert [str(v) for v in root["s"][...].tolist()] == ["a", "b", "", ""]
    with hdmf_lindi.File(path) as f:
        assert f["s"][()].tolist() == ["a", "b", "", ""]


@pytest.mark.parametrize("form", [".lindi.tar", ".lindi.d"])
def test_containers_with_blobs_round_trip(tmp_path: Path, form: str) -> None:
    path = tmp_path / f"x{form}"
    big = np.arange(400_000, dtype="<i4")  # chunks stored as blobs of the container
    with hdmf_lindi.File(path, "w", dialect="zarr3") as f:
        f.create_dataset("big", data=big, chunks=(100_000,), compression="gzip")
        f.create_dataset("s", data=["x", "y"])
    with hdmf_lindi.File(path, "a") as f:
        assert f.dialect == "zarr3"
        f.attrs["more"] = 1
    with hdmf_lindi.File(path) as f:
        assert f.dialect == "zarr3" and f.attrs["more"] == 1
        np.testing.assert_array_equal(f["big"][()], big)
        assert f["s"][()].tolist() == ["x", "y"]
