"""Every codec of the Zarr v3 convention, on real stores that zarr 3 writes in memory.

Each array is written by zarr 3 (its own codec implementations encode the chunks), packed into a
version-1 reference file system, opened with ``hdmf_lindi.File`` and compared with the data.
"""

from __future__ import annotations

import base64
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
import zarr.codecs as zc
from zarr_v3_stores import new_store, refs_of, write_doc

from hdmf_lindi import File
from hdmf_lindi.errors import ChunkRefError, UnsupportedError

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:zarr")

DATA_2D = np.arange(10 * 7, dtype="<i2").reshape(10, 7) * 3 - 50


def _roundtrip(tmp_path: Path, dtype: str, data: np.ndarray[Any, Any], **kwargs: Any) -> Any:
    store, root = new_store()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arr = root.create_array("x", shape=data.shape, dtype=dtype, **kwargs)
        arr[...] = data
    path = write_doc(tmp_path / "doc.json", refs_of(store))
    with File(path) as f:
        return f["x"][()], f["x"].dtype


with warnings.catch_warnings():  # zarr warns that numcodecs.* names are outside the v3 spec
    warnings.simplefilter("ignore")
    CODECS = {
        "no compression": {"compressors": None},
        "zstd default": {},
        "zstd checksum": {"compressors": [zc.ZstdCodec(level=3, checksum=True)]},
        "gzip": {"compressors": [zc.GzipCodec(level=4)]},
        "blosc shuffle": {"compressors": [zc.BloscCodec(cname="lz4", clevel=5, shuffle="shuffle", typesize=2)]},
        "blosc bitshuffle": {"compressors": [zc.BloscCodec(cname="zstd", clevel=3, shuffle="bitshuffle", typesize=2)]},
        "blosc noshuffle": {"compressors": [zc.BloscCodec(cname="zlib", clevel=1, shuffle="noshuffle")]},
        "crc32c": {"compressors": [zc.Crc32cCodec()]},
        "gzip then crc32c": {"compressors": [zc.GzipCodec(level=1), zc.Crc32cCodec()]},
        "numcodecs shuffle+zlib": {"compressors": [zc.Shuffle(elementsize=2), zc.Zlib(level=3)]},
        "numcodecs fletcher32": {"compressors": [zc.Fletcher32()]},
        "numcodecs zstd": {"compressors": [zc.Zstd(level=2)]},
    }


@pytest.mark.parametrize("name", sorted(CODECS))
def test_codec_reads_what_zarr3_wrote(tmp_path: Path, name: str) -> None:
    values, dtype = _roundtrip(tmp_path, "<i2", DATA_2D, chunks=(4, 4), **CODECS[name])
    assert dtype == np.dtype("int16")
    np.testing.assert_array_equal(values, DATA_2D)


def test_big_endian_bytes_codec(tmp_path: Path) -> None:
    store, root = new_store()
    arr = root.create_array("x", shape=(5,), dtype="<f8", chunks=(2,), compressors=None, serializer=zc.BytesCodec(endian="big"))
    arr[:] = [1.5, -2.0, np.nan, np.inf, 7.25]
    doc = json.loads(refs_of(store)["x/zarr.json"])
    assert doc["codecs"][0] == {"name": "bytes", "configuration": {"endian": "big"}}
    with File(write_doc(tmp_path / "d.json", refs_of(store))) as f:
        np.testing.assert_array_equal(f["x"][()], [1.5, -2.0, np.nan, np.inf, 7.25])


def test_bytes_codec_without_configuration_on_one_byte_types(tmp_path: Path) -> None:
    store, root = new_store()
    for name, dtype, values in (("b", "bool", [True, False, True]), ("u", "uint8", [0, 200, 255]), ("i", "int8", [-5, 0, 5])):
        root.create_array(name, shape=(3,), dtype=dtype)[:] = values
    refs = refs_of(store)
    assert json.loads(refs["b/zarr.json"])["codecs"][0] == {"name": "bytes"}
    with File(write_doc(tmp_path / "d.json", refs)) as f:
        assert f["b"].dtype == np.bool_ and f["b"][()].tolist() == [True, False, True]
        assert f["u"][()].tolist() == [0, 200, 255] and f["i"][()].tolist() == [-5, 0, 5]


def test_vlen_utf8_strings_with_missing_chunks(tmp_path: Path) -> None:
    store, root = new_store()
    arr = root.create_array("s", shape=(7,), dtype=str, chunks=(2,))
    arr[:5] = ["a", "bé", "", "dd\u2603", "e"]  # chunk 3 (elements 6-7) never written
    with File(write_doc(tmp_path / "d.json", refs_of(store))) as f:
        assert f["s"][()].tolist() == ["a", "bé", "", "dd\u2603", "e", "", ""]
        assert f["s"][1:4].tolist() == ["bé", "", "dd\u2603"]


def test_structured_compound(tmp_path: Path) -> None:
    dtype = np.dtype([("x", "<i4"), ("y", "<f8"), ("ok", "?")])
    data = np.array([(1, 2.5, True), (3, np.nan, False), (5, -1.0, True)], dtype=dtype)
    values, presented = _roundtrip(tmp_path, dtype, data, chunks=(2,))
    assert presented.names == ("x", "y", "ok")
    assert values["x"].tolist() == [1, 3, 5] and values["ok"].tolist() == [True, False, True]
    np.testing.assert_array_equal(values["y"], [2.5, np.nan, -1.0])


@pytest.mark.parametrize("index_location", ["end", "start"])
def test_sharding_with_missing_inner_chunks_and_shards(tmp_path: Path, index_location: str) -> None:
    store, root = new_store()
    sharding = zc.ShardingCodec(
        chunk_shape=(2, 2), codecs=[zc.BytesCodec(), zc.ZstdCodec()], index_location=index_location
    )
    arr = root.create_array(
        "x", shape=(8, 8), dtype="<f4", chunks=(4, 4), serializer=sharding, compressors=None, fill_value=-1.0
    )
    expected = np.full((8, 8), -1.0, dtype="<f4")
    expected[0:2, 0:4] = np.arange(8, dtype="<f4").reshape(2, 4)  # shard (0,0): 2 of 4 inner chunks
    expected[4:8, 6:8] = 9.5  # shard (1,1): 2 of 4 inner chunks; shards (0,1), (1,0) absent
    arr[...] = expected
    refs = refs_of(store)
    assert sorted(k for k in refs if "/c/" in k) == ["x/c/0/0", "x/c/1/1"]
    with File(write_doc(tmp_path / "d.json", refs)) as f:
        np.testing.assert_array_equal(f["x"][()], expected)
        np.testing.assert_array_equal(f["x"][3:6, 1:7], expected[3:6, 1:7])


def test_sharding_index_checksum_mismatch_is_a_chunk_error(tmp_path: Path) -> None:
    store, root = new_store()
    arr = root.create_array("x", shape=(4,), dtype="<i4", chunks=(4,), shards=None, compressors=None,
                            serializer=zc.ShardingCodec(chunk_shape=(2,)))
    arr[:] = [1, 2, 3, 4]
    refs = refs_of(store)
    shard = bytearray(base64.b64decode(refs["x/c/0"][len("base64:"):]))
    shard[-6] ^= 0xFF  # inside the index, before its crc32c
    refs["x/c/0"] = "base64:" + base64.b64encode(bytes(shard)).decode()
    with File(write_doc(tmp_path / "d.json", refs)) as f, pytest.raises(ChunkRefError, match="crc32c mismatch"):
        f["x"][()]


def test_crc32c_mismatch_of_a_chunk_is_a_chunk_error(tmp_path: Path) -> None:
    store, root = new_store()
    root.create_array("x", shape=(4,), dtype="<i4", compressors=[zc.Crc32cCodec()])[:] = [1, 2, 3, 4]
    refs = refs_of(store)
    chunk = bytearray(base64.b64decode(refs["x/c/0"][len("base64:"):]))
    chunk[0] ^= 1
    refs["x/c/0"] = "base64:" + base64.b64encode(bytes(chunk)).decode()
    with File(write_doc(tmp_path / "d.json", refs)) as f, pytest.raises(ChunkRefError):
        f["x"][()]


def test_unknown_codec_fails_that_array_only(tmp_path: Path) -> None:
    store, root = new_store()
    root.create_array("good", shape=(3,), dtype="<i4")[:] = [1, 2, 3]
    root.create_array("bad", shape=(3,), dtype="<i4")[:] = [1, 2, 3]
    refs = refs_of(store)
    doc = json.loads(refs["bad/zarr.json"])
    doc["codecs"].append({"name": "frobnicate", "configuration": {}})
    refs["bad/zarr.json"] = json.dumps(doc)
    with File(write_doc(tmp_path / "d.json", refs)) as f:
        assert f["good"][()].tolist() == [1, 2, 3]
        assert f["bad"].shape == (3,) and f["bad"].dtype == np.dtype("<i4")  # what hdmf's read() needs
        with pytest.raises(UnsupportedError, match="frobnicate") as info:
            f["bad"][()]
        assert "abstract" not in str(info.value) and "Supported: bytes" in str(info.value)


def test_unknown_data_type_reads_as_unsupported_once(tmp_path: Path) -> None:
    store, root = new_store()
    root.create_array("c", shape=(2,), dtype="<i4")[:] = [1, 2]
    refs = refs_of(store)
    doc = json.loads(refs["c/zarr.json"])
    doc["data_type"] = "complex64"
    refs["c/zarr.json"] = json.dumps(doc)
    with File(write_doc(tmp_path / "d.json", refs)) as f:
        with pytest.raises(UnsupportedError, match="complex64") as info:
            f["c"][()]
        assert ".." not in str(info.value)


def test_transpose_codec_is_unsupported_but_identity_is_fine(tmp_path: Path) -> None:
    store, root = new_store()
    root.create_array("t", shape=(2, 3), dtype="<i4", filters=[zc.TransposeCodec(order=(1, 0))])[:] = [[1, 2, 3], [4, 5, 6]]
    root.create_array("i", shape=(2, 3), dtype="<i4", filters=[zc.TransposeCodec(order=(0, 1))])[:] = [[1, 2, 3], [4, 5, 6]]
    with File(write_doc(tmp_path / "d.json", refs_of(store))) as f:
        assert f["i"][()].tolist() == [[1, 2, 3], [4, 5, 6]]
        with pytest.raises(UnsupportedError, match="transpose"):
            f["t"][()]


def test_model_codecs_encode_back_what_they_decode() -> None:
    """The model-only codecs are inverses (what a writer needs to write a v3 file back)."""
    import numcodecs

    from hdmf_lindi.format import v3_codecs

    raw = v3_codecs.encode_vlen_utf8(["a", "", "é\u2603"])
    vlen = numcodecs.get_codec({"id": "hdmf_lindi.v3_vlen_utf8"})
    assert vlen.encode(vlen.decode(raw)) == raw
    refs = numcodecs.get_codec({"id": "hdmf_lindi.v3_references"})
    raw = v3_codecs.encode_vlen_utf8(["/a/b", "", json.dumps({"source": "../o.zarr", "path": "/x"})])
    assert json.loads(refs.decode(raw))[:3] == [
        v3_codecs.lindi_reference("/a/b"), None, v3_codecs.lindi_reference("/x", "../o.zarr"),
    ]
    assert refs.encode(refs.decode(raw)) == raw
    fields = [["n", "<i4", "value"], ["t", "<U4", "text"], ["b", "|S3", "bytes"], ["r", "<U8", "reference"]]
    struct = numcodecs.get_codec({"id": "hdmf_lindi.v3_struct", "fields": fields})
    rows = np.array([(1, "ab", b"xy", "/g"), (2, "", b"", "")], dtype=[(n, t) for n, t, _ in fields])
    decoded = json.loads(struct.decode(rows.tobytes()))
    assert decoded[:2] == [[1, "ab", "xy", v3_codecs.lindi_reference("/g")], [2, "", "", None]]
    assert struct.encode(struct.decode(rows.tobytes())) == rows.tobytes()


@pytest.mark.parametrize(
    "raw",
    [b"\x01\x00", b"\x02\x00\x00\x00\x01\x00\x00\x00a", b"\x01\x00\x00\x00\x05\x00\x00\x00ab", b"\x00\x00\x00\x00x"],
)
def test_damaged_vlen_utf8_chunks_are_refused(raw: bytes) -> None:
    from hdmf_lindi.format.v3_codecs import decode_vlen_utf8

    with pytest.raises(ValueError, match="vlen-utf8"):
        decode_vlen_utf8(raw)


def test_zarr_reads_back_what_the_sharding_decoder_was_checked_against(tmp_path: Path) -> None:
    """The sharded store read by zarr 3 itself equals our read (both sides of the comparison real)."""
    store, root = new_store()
    arr = root.create_array("x", shape=(6, 5), dtype="<i8", chunks=(6, 5), shards=None,
                            serializer=zc.ShardingCodec(chunk_shape=(3, 5), codecs=[zc.BytesCodec(), zc.GzipCodec()]))
    arr[...] = np.arange(30).reshape(6, 5)
    with File(write_doc(tmp_path / "d.json", refs_of(store))) as f:
        np.testing.assert_array_equal(f["x"][()], zarr.open_array(store, path="x")[...])


def test_sharding_with_big_endian_inner_chunks_and_nan_fill(tmp_path: Path) -> None:
    store, root = new_store()
    sharding = zc.ShardingCodec(chunk_shape=(2,), codecs=[zc.BytesCodec(endian="big")])
    arr = root.create_array("x", shape=(8,), dtype="<f8", chunks=(4,), serializer=sharding,
                            compressors=None, fill_value=np.nan)
    arr[0:2] = [1.5, -2.5]
    arr[6:8] = [3.0, 4.0]
    with File(write_doc(tmp_path / "d.json", refs_of(store))) as f:
        np.testing.assert_array_equal(f["x"][()], [1.5, -2.5, np.nan, np.nan, np.nan, np.nan, 3.0, 4.0])
