"""The Zarr v3 translator feature by feature, on small hand-written v3 documents (layout §2-4)."""

from __future__ import annotations

import base64
import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from zarr_v3_stores import array_doc, write_doc

from hdmf_lindi import File
from hdmf_lindi.errors import ChunkRefError, MetadataError, ModeError, UnsupportedError
from hdmf_lindi.format.references import Reference
from hdmf_lindi.format.v3_codecs import encode_vlen_utf8
from hdmf_lindi.format.zarr_v3 import is_zarr_v3, translate_v3
from hdmf_lindi.storage.refmap import ReferenceMap

GROUP = {"zarr_format": 3, "node_type": "group", "attributes": {}}


def b64(data: bytes) -> str:
    return "base64:" + base64.b64encode(data).decode("ascii")


def group(**attrs: Any) -> dict[str, Any]:
    return {**GROUP, "attributes": attrs}


def open_doc(tmp_path: Path, refs: dict[str, Any], name: str = "doc.json", **top: Any) -> File:
    return File(write_doc(tmp_path / name, refs, **top))


def vlen_array(values: list[str], attributes: dict[str, Any] | None = None, shape: list[int] | None = None) -> tuple[dict[str, Any], str]:
    doc = array_doc([len(values)] if shape is None else shape, "string", fill_value="",
                    codecs=[{"name": "vlen-utf8", "configuration": {}}], attributes=attributes)
    return doc, b64(encode_vlen_utf8(values))


# ---------------------------------------------------------------------------- metadata spellings
def test_metadata_as_json_text_and_as_objects_read_the_same(tmp_path: Path) -> None:
    x = array_doc([3], "int32", attributes={"unit": "m"})
    chunk = b64(np.array([1, 2, 3], "<i4").tobytes())
    for i, spell in enumerate((json.dumps, lambda d: d)):
        refs = {"zarr.json": spell(group(title="t")), "x/zarr.json": spell(x), "x/c/0": chunk}
        with open_doc(tmp_path, refs, f"d{i}.json") as f:
            assert f.attrs["title"] == "t" and f["x"].attrs["unit"] == "m"
            assert f["x"][()].tolist() == [1, 2, 3]


def test_bare_nan_tokens_in_zarr_json_text_are_float_attributes(tmp_path: Path) -> None:
    root = '{"zarr_format":3,"node_type":"group","attributes":{"a_nan":NaN,"a_inf":Infinity,"a_ninf":-Infinity,"l":[1.5,NaN]}}'
    with open_doc(tmp_path, {"zarr.json": root}) as f:
        assert math.isnan(f.attrs["a_nan"]) and f.attrs["a_inf"] == math.inf and f.attrs["a_ninf"] == -math.inf
        assert f.attrs["l"][0] == 1.5 and math.isnan(f.attrs["l"][1])


def test_nan_strings_are_text_for_hdmf_zarr_and_floats_for_zindi(tmp_path: Path) -> None:
    attrs = {"s": "NaN", "l": ["Infinity", "NaN"], "f": math.nan, "plain": "x"}
    hdmf_zarr = {"zarr.json": {**group(**attrs), "consolidated_metadata": {"kind": "inline", "must_understand": False, "metadata": {}}}}
    with open_doc(tmp_path, hdmf_zarr, "h.json") as f:
        assert f.attrs["s"] == "NaN" and f.attrs["l"].tolist() == ["Infinity", "NaN"]
        assert math.isnan(f.attrs["f"]) and f.attrs["plain"] == "x"
        assert dict(f.attrs.items())["s"] == "NaN"
    zindi_attrs = {**attrs, "f": "NaN"}  # zindi writes float NaN as a string, never a bare token
    zindi = {"zarr.json": json.dumps(group(**zindi_attrs))}  # metadata as text: zindi's spelling
    with open_doc(tmp_path, zindi, "z.json") as f:
        assert math.isnan(f.attrs["s"]) and f.attrs["l"][0] == math.inf and math.isnan(f.attrs["f"])


def test_base64_and_plain_text_chunk_values(tmp_path: Path) -> None:
    refs = {
        "zarr.json": GROUP,
        "t/zarr.json": array_doc([4], "uint8"),
        "t/c/0": "abcd",  # printable bytes stored as text (zindi's rule)
        "b/zarr.json": array_doc([2], "int16"),
        "b/c/0": b64(np.array([-1, 300], "<i2").tobytes()),
    }
    with open_doc(tmp_path, refs) as f:
        assert bytes(f["t"][()]) == b"abcd" and f["b"][()].tolist() == [-1, 300]


# ---------------------------------------------------------------------------- consolidated metadata
def test_consolidated_metadata_supplies_missing_nodes_and_per_node_docs_win(tmp_path: Path) -> None:
    stale = array_doc([2], "int32", attributes={"v": "consolidated"})
    fresh = array_doc([2], "int32", attributes={"v": "own"})
    root = {**group(), "consolidated_metadata": {"kind": "inline", "must_understand": False, "metadata": {
        "g": group(only="consolidated"), "g/x": stale, "y": array_doc([2], "int32", attributes={"v": "consolidated"}),
    }}}
    chunk = b64(np.array([5, 6], "<i4").tobytes())
    refs = {"zarr.json": root, "g/x/zarr.json": fresh, "g/x/c/0": chunk, "y/c/0": chunk}
    with open_doc(tmp_path, refs) as f:
        assert f["g"].attrs["only"] == "consolidated"
        assert f["g/x"].attrs["v"] == "own" and f["y"].attrs["v"] == "consolidated"
        assert f["y"][()].tolist() == [5, 6]


# ---------------------------------------------------------------------------- links and references
def test_links_become_soft_and_external_links(tmp_path: Path) -> None:
    (tmp_path / "other.lindi.json").write_text(json.dumps({"version": 1, "refs": {
        ".zgroup": {"zarr_format": 2}, "t/.zarray": {"zarr_format": 2, "shape": [2], "chunks": [2], "dtype": "<i4",
        "fill_value": 0, "order": "C", "compressor": None, "filters": None}, "t/0": b64(np.array([8, 9], "<i4").tobytes()),
    }}))
    links = [
        {"name": "to_ds", "source": ".", "path": "/g/x"},
        {"name": "to_grp", "source": ".", "path": "/g"},
        {"name": "ext", "source": "../other.lindi.json", "path": "/t"},
    ]
    refs = {
        "zarr.json": group(_LINKS=[{"name": "root_link", "source": ".", "path": "/g/x"}]),
        "g/zarr.json": GROUP,
        "g/x/zarr.json": array_doc([2], "int32"),
        "g/x/c/0": b64(np.array([1, 2], "<i4").tobytes()),
        "h/zarr.json": group(_LINKS=links, keep="yes"),
    }
    with open_doc(tmp_path, refs) as f:
        assert list(f["h"].attrs) == ["keep"]
        assert f["h/to_ds"][()].tolist() == [1, 2] and f["root_link"][()].tolist() == [1, 2]
        assert sorted(f["h/to_grp"].keys()) == ["x"]
        assert f["h/ext"][()].tolist() == [8, 9]
        assert f["h"].get("to_ds", getlink=True).path == "/g/x"


def test_a_link_named_like_an_existing_node_is_refused(tmp_path: Path) -> None:
    refs = {"zarr.json": group(_LINKS=[{"name": "g", "source": ".", "path": "/x"}]), "g/zarr.json": GROUP}
    with pytest.raises(MetadataError, match="existing node"):
        open_doc(tmp_path, refs)


@pytest.mark.parametrize("links", [{"name": "x"}, [{"name": "a/b", "path": "/x"}], [{"path": "/x"}], [{"name": "x", "path": 3}]])
def test_malformed_links_are_refused(tmp_path: Path, links: Any) -> None:
    with pytest.raises(MetadataError):
        open_doc(tmp_path, {"zarr.json": group(_LINKS=links)})


def test_reference_attributes_ignore_extra_keys_and_specloc_becomes_a_reference(tmp_path: Path) -> None:
    refs = {
        "zarr.json": group(**{".specloc": "specifications", "r": {"_REFERENCE": {"source": ".", "path": "/g", "object_id": "abc", "other": 1}}}),
        "g/zarr.json": GROUP,
        "specifications/zarr.json": GROUP,
    }
    with open_doc(tmp_path, refs) as f:
        assert f.attrs["r"].path == "/g" and f[f.attrs["r"]].name == "/g"
        assert isinstance(f.attrs[".specloc"], Reference) and f.attrs[".specloc"].path == "/specifications"


def test_object_reference_arrays_paths_json_and_null(tmp_path: Path) -> None:
    values = ["/g", "", json.dumps({"source": ".", "path": "/g/x"}), "/g/x"]
    doc, chunk = vlen_array(values, {"_DTYPE": "object_reference", "other": 1})
    sdoc, schunk = vlen_array(["/g/x"], {"_DTYPE": "object_reference"}, shape=[])
    refs = {"zarr.json": GROUP, "g/zarr.json": GROUP, "g/x/zarr.json": array_doc([1], "int8"), "g/x/c/0": b64(b"\x07"),
            "refs/zarr.json": doc, "refs/c/0": chunk, "one/zarr.json": sdoc, "one/c": schunk}
    with open_doc(tmp_path, refs) as f:
        got = f["refs"][()]
        assert [r.path if r is not None else None for r in got] == ["/g", None, "/g/x", "/g/x"]
        assert f[got[3]][()].tolist() == [7]
        assert list(f["refs"].attrs) == ["other"]
        assert f["one"].shape == () and f["one"][()].path == "/g/x"


def test_struct_with_reference_fields_both_spellings(tmp_path: Path) -> None:
    rows = np.array([(0, 2, "/acquisition/ts1"), (3, 1, "")], dtype=[("idx", "<i4"), ("count", "<i4"), ("ts", "<U20")])
    hdmf_zarr_type = {"name": "struct", "configuration": {"fields": [
        {"name": "idx", "data_type": "int32"}, {"name": "count", "data_type": "int32"},
        {"name": "ts", "data_type": {"name": "fixed_length_utf32", "configuration": {"length_bytes": 80}}}]}}
    zindi_type = {"name": "structured", "configuration": {"fields": [
        ["idx", "int32"], ["count", "int32"], ["ts", {"name": "fixed_length_utf32", "configuration": {"length_bytes": 80}}]]}}
    refs: dict[str, Any] = {"zarr.json": GROUP, "acquisition/zarr.json": GROUP, "acquisition/ts1/zarr.json": GROUP}
    refs["a/zarr.json"] = array_doc([2], hdmf_zarr_type, fill_value={"idx": 0, "count": 0, "ts": ""},
                                    attributes={"_REFERENCE_FIELDS": ["ts"]})
    refs["b/zarr.json"] = array_doc([2], zindi_type, fill_value=b64(bytes(rows.dtype.itemsize))[7:],
                                    attributes={"_REFERENCE_FIELDS": ["ts"]})
    refs["a/c/0"] = refs["b/c/0"] = b64(rows.tobytes())
    with open_doc(tmp_path, refs) as f:
        for name in ("a", "b"):
            ds = f[name]
            assert ds.dtype.names == ("idx", "count", "ts") and "_REFERENCE_FIELDS" not in ds.attrs
            got = ds[()]
            assert got["idx"].tolist() == [0, 3] and got["count"].tolist() == [2, 1]
            assert got["ts"][0].path == "/acquisition/ts1" and got["ts"][1] is None


def test_struct_text_bytes_fields_big_endian_and_a_0d_struct(tmp_path: Path) -> None:
    dtype = np.dtype([("x", ">f4"), ("name", ">U3"), ("tag", "S4")])
    rows = np.array([(1.5, "ab", b"xy"), (-2.0, "cde", b"wxyz")], dtype=dtype)
    data_type = {"name": "struct", "configuration": {"fields": [
        {"name": "x", "data_type": "float32"},
        {"name": "name", "data_type": {"name": "fixed_length_utf32", "configuration": {"length_bytes": 12}}},
        {"name": "tag", "data_type": {"name": "null_terminated_bytes", "configuration": {"length_bytes": 4}}}]}}
    pos_type = {"name": "struct", "configuration": {"fields": [{"name": c, "data_type": "float32"} for c in "xyz"]}}
    refs = {
        "zarr.json": GROUP,
        "c/zarr.json": array_doc([2], data_type, codecs=[{"name": "bytes", "configuration": {"endian": "big"}}]),
        "c/c/0": b64(rows.tobytes()),
        "pos/zarr.json": array_doc([], pos_type, fill_value={"x": 0.0, "y": 0.0, "z": 0.0}),
        "pos/c": b64(struct.pack("<3f", 1.0, 2.0, 3.0)),
    }
    with open_doc(tmp_path, refs) as f:
        got = f["c"][()]
        assert got["x"].tolist() == [1.5, -2.0] and list(got["name"]) == ["ab", "cde"]
        assert got["tag"].tolist() == [b"xy", b"wxyz"] and f["c"].dtype["tag"] == np.dtype("S4")
        assert f["pos"].shape == () and tuple(f["pos"][()].tolist()) == (1.0, 2.0, 3.0)


# ---------------------------------------------------------------------------- scalars, strings, fill
def test_scalars_strings_and_missing_scalar_chunk(tmp_path: Path) -> None:
    sdoc, schunk = vlen_array(["héllo"], {"_DTYPE": "str"}, shape=[])
    refs = {
        "zarr.json": GROUP,
        "s/zarr.json": sdoc, "s/c": schunk,
        "f/zarr.json": array_doc([], "float64", fill_value=0.0),  # equal to its fill: no chunk
        "i/zarr.json": array_doc([], "int64"), "i/c": b64(struct.pack("<q", 42)),
        "b/zarr.json": array_doc([], "bool", fill_value=False, codecs=[{"name": "bytes"}]), "b/c": b64(b"\x01"),
    }
    with open_doc(tmp_path, refs) as f:
        assert f["s"].shape == () and f["s"][()] == "héllo" and f["s"].attrs.keys() == []
        assert f["f"].shape == () and f["f"][()] == 0.0
        assert f["i"][()] == 42 and f["b"][()] is np.True_


def test_string_arrays_2d_with_missing_chunks_and_fill(tmp_path: Path) -> None:
    doc = array_doc([2, 3], "string", chunks=[1, 3], fill_value="", codecs=[{"name": "vlen-utf8"}])
    refs = {"zarr.json": GROUP, "t/zarr.json": doc, "t/c/0/0": b64(encode_vlen_utf8(["a", "b", "c"]))}
    with open_doc(tmp_path, refs) as f:
        assert f["t"][()].tolist() == [["a", "b", "c"], ["", "", ""]]


def test_missing_chunks_read_the_fill_value_nan_and_hex(tmp_path: Path) -> None:
    refs = {
        "zarr.json": GROUP,
        "n/zarr.json": array_doc([4], "float32", chunks=[2], fill_value="NaN"),
        "n/c/0": b64(np.array([1, 2], "<f4").tobytes()),
        "h/zarr.json": array_doc([2], "float64", fill_value="0x4004000000000000"),  # 2.5
        "i/zarr.json": array_doc([3], "int16", fill_value=-1),
    }
    with open_doc(tmp_path, refs) as f:
        np.testing.assert_array_equal(f["n"][()], [1, 2, np.nan, np.nan])
        assert f["h"][()].tolist() == [2.5, 2.5] and f["i"][()].tolist() == [-1, -1, -1]


def test_fixed_width_text_and_bytes_arrays(tmp_path: Path) -> None:
    u = np.array(["ab", "cde"], dtype="<U3")
    refs = {
        "zarr.json": GROUP,
        "u/zarr.json": array_doc([2], {"name": "fixed_length_utf32", "configuration": {"length_bytes": 12}}, fill_value=""),
        "u/c/0": b64(u.tobytes()),
        "s/zarr.json": array_doc([2], {"name": "null_terminated_bytes", "configuration": {"length_bytes": 2}}, fill_value="AAA="),
        "s/c/0": b64(b"hi\x00\x00"),
    }
    with open_doc(tmp_path, refs) as f:
        assert f["u"][()].tolist() == ["ab", "cde"] and f["s"][()].tolist() == [b"hi", b""]


def test_empty_arrays_with_zero_and_unit_chunk_sizes(tmp_path: Path) -> None:
    refs = {
        "zarr.json": GROUP,
        "z/zarr.json": array_doc([0, 3], "int32", chunks=[0, 3]), "z/c/0/0": "",  # zindi
        "o/zarr.json": array_doc([0, 3], "float64", chunks=[1, 3]),  # hdmf-zarr
        "s/zarr.json": array_doc([0], "string", chunks=[0], codecs=[{"name": "vlen-utf8"}], fill_value=""),
    }
    with open_doc(tmp_path, refs) as f:
        assert f["z"].shape == (0, 3) and f["z"][()].shape == (0, 3) and f["z"].dtype == np.int32
        assert f["o"][()].shape == (0, 3) and f["s"][()].shape == (0,)


def test_hidden_attributes(tmp_path: Path) -> None:
    attrs = {"_DTYPE": "int32", "_ARRAY_DIMENSIONS": ["t"], "zarr_dtype": "int32", "unit": "s"}
    refs = {"zarr.json": group(zarr_link=[], other=1), "x/zarr.json": array_doc([1], "int32", attributes=attrs)}
    with open_doc(tmp_path, refs) as f:
        assert list(f["x"].attrs) == ["unit"] and list(f.attrs) == ["other"]


def test_other_chunk_key_encodings(tmp_path: Path) -> None:
    dot = array_doc([4], "int16", chunks=[2])
    dot["chunk_key_encoding"] = {"name": "default", "configuration": {"separator": "."}}
    v2 = array_doc([2, 2], "int16", chunks=[1, 2])
    v2["chunk_key_encoding"] = {"name": "v2", "configuration": {"separator": "."}}
    refs = {
        "zarr.json": GROUP, "d/zarr.json": dot, "d/c.0": b64(np.array([1, 2], "<i2").tobytes()),
        "d/c.1": b64(np.array([3, 4], "<i2").tobytes()),
        "v/zarr.json": v2, "v/1.0": b64(np.array([5, 6], "<i2").tobytes()),
    }
    with open_doc(tmp_path, refs) as f:
        assert f["d"][()].tolist() == [1, 2, 3, 4] and f["v"][()].tolist() == [[0, 0], [5, 6]]


def test_templates_and_byte_range_references(tmp_path: Path) -> None:
    data = np.arange(20, dtype="<i4")
    (tmp_path / "raw.bin").write_bytes(b"HEAD" + data.tobytes())
    refs = {"zarr.json": GROUP, "x/zarr.json": array_doc([20], "int32", chunks=[10]),
            "x/c/0": ["{{u0}}", 4, 40], "x/c/1": ["{{u0}}", 44, 40]}
    with open_doc(tmp_path, refs, templates={"u0": "raw.bin"}) as f:
        assert f["x"][()].tolist() == data.tolist()
        assert f._state.dialect == "zarr3"


# ---------------------------------------------------------------------------- sniffing and errors
def test_sniffing() -> None:
    assert is_zarr_v3(ReferenceMap({"zarr.json": GROUP}))
    assert not is_zarr_v3(ReferenceMap({".zgroup": {"zarr_format": 2}}))
    with pytest.raises(MetadataError, match="ambiguous"):
        is_zarr_v3(ReferenceMap({"zarr.json": GROUP, ".zgroup": {"zarr_format": 2}}))


def test_writer_detection() -> None:
    def writer(refs: dict[str, Any], **top: Any) -> str:
        return translate_v3(ReferenceMap.from_dict({"refs": refs, **top})).writer

    assert writer({"zarr.json": json.dumps(GROUP)}) == "zindi"  # metadata as text
    assert writer({"zarr.json": GROUP}) == "hdmf-zarr"
    assert writer({"zarr.json": GROUP, "x/zarr.json": array_doc([1], "int8", codecs=[
        {"name": "bytes"}, {"name": "numcodecs.zlib", "configuration": {"level": 1}}])}) == "zindi"
    bare_nan = '{"zarr_format":3,"node_type":"group","attributes":{"f":NaN}}'
    assert writer({"zarr.json": bare_nan}) == "hdmf-zarr"  # zindi never writes bare tokens
    assert writer({"zarr.json": json.dumps(GROUP)}, hdmf_lindi={}) == "hdmf-zarr"


@pytest.mark.parametrize(
    ("node", "match"),
    [
        ("{not json", "not JSON"),
        ({"zarr_format": 2, "node_type": "group"}, "zarr_format"),
        ({"zarr_format": 3, "node_type": "folder"}, "node_type"),
        ({"zarr_format": 3, "node_type": "group", "attributes": []}, "attributes"),
        ({**array_doc([4], "int32"), "shape": [-1]}, "shape"),
        ({**array_doc([4], "int32"), "chunk_grid": {"name": "rectilinear"}}, "grid"),
        (array_doc([4], "int32", chunks=[2, 2]), "chunk_shape"),
        (array_doc([4], "int32", chunks=[0]), "zero"),
        (array_doc([4], "int32", codecs=[{"name": "zstd"}]), "array-to-bytes"),
        ({**array_doc([4], "int32"), "codecs": []}, "codecs"),
        ({**array_doc([4], "int32"), "chunk_key_encoding": {"name": "fancy"}}, "chunk_key_encoding"),
    ],
)
def test_bad_metadata_is_a_metadata_error(tmp_path: Path, node: Any, match: str) -> None:
    with pytest.raises(MetadataError, match=match):
        open_doc(tmp_path, {"zarr.json": GROUP, "x/zarr.json": node})


def test_missing_root_and_version_2_documents(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="no root zarr.json"):
        translate_v3(ReferenceMap({"g/zarr.json": GROUP}))
    with pytest.raises(UnsupportedError, match="version-2"):
        open_doc(tmp_path, {"zarr.json": GROUP}, gen=[])


def test_a_chunk_of_the_wrong_size_is_a_chunk_error(tmp_path: Path) -> None:
    """Too long, or compressed to the wrong size (a short raw chunk is zero-padded, as zindi's
    short last slabs of contiguous datasets are)."""
    import numcodecs

    zstd = [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "zstd", "configuration": {"level": 0}}]
    refs = {
        "zarr.json": GROUP,
        "x/zarr.json": array_doc([4], "int32"), "x/c/0": b64(b"\x00" * 20),
        "z/zarr.json": array_doc([4], "int32", codecs=zstd), "z/c/0": b64(numcodecs.Zstd().encode(b"\x00" * 12)),
    }
    with open_doc(tmp_path, refs) as f:
        with pytest.raises(ChunkRefError, match="20 bytes"):
            f["x"][()]
        with pytest.raises(ChunkRefError, match="12 bytes"):
            f["z"][()]


def test_damaged_vlen_chunk_is_a_chunk_error(tmp_path: Path) -> None:
    doc, _ = vlen_array(["a", "b"])
    refs = {"zarr.json": GROUP, "s/zarr.json": doc, "s/c/0": b64(b"\x02\x00\x00\x00\x09\x00\x00\x00a")}
    with open_doc(tmp_path, refs) as f, pytest.raises(ChunkRefError, match="vlen-utf8"):
        f["s"][()]


def test_v3_files_opened_for_writing_are_saved_back_as_v3(tmp_path: Path) -> None:
    """(v3write) A v3 document opened in mode "a" is written back in the zarr3 dialect."""
    path = write_doc(tmp_path / "d.json", {"zarr.json": GROUP})
    with File(path, "a") as f:
        assert f.dialect == "zarr3"
        f.attrs["added"] = 3
        f.create_dataset("x", data=[1, 2, 3])
    refs = json.loads(path.read_text())["refs"]
    assert "zarr.json" in refs and "x/zarr.json" in refs and ".zgroup" not in refs
    with File(path, "r") as f:
        assert f.dialect == "zarr3" and f.attrs["added"] == 3 and f["x"][()].tolist() == [1, 2, 3]
    with pytest.raises(ModeError):
        File(path, "w-")


def test_keys_of_no_node_are_left_out() -> None:
    result = translate_v3(ReferenceMap({"zarr.json": GROUP, "x/zarr.json": array_doc([2], "int8"), "x/c/0": "ab",
                                        "x/c/9/9": "zz", "stray/c/0": "q"}))
    assert sorted(result.dropped_keys) == ["stray/c/0", "x/c/9/9"]
    assert "x/0" in result.refmap


def test_a_missing_struct_chunk_reads_zeros_empty_text_and_null_references(tmp_path: Path) -> None:
    data_type = {"name": "struct", "configuration": {"fields": [
        {"name": "x", "data_type": "float64"},
        {"name": "t", "data_type": {"name": "fixed_length_utf32", "configuration": {"length_bytes": 8}}},
        {"name": "r", "data_type": {"name": "fixed_length_utf32", "configuration": {"length_bytes": 8}}}]}}
    rows = np.array([(1.5, "a", "/g"), (2.5, "b", "/g")], dtype=[("x", "<f8"), ("t", "<U2"), ("r", "<U2")])
    refs = {"zarr.json": GROUP, "g/zarr.json": GROUP,
            "p/zarr.json": array_doc([4], data_type, chunks=[2], attributes={"_REFERENCE_FIELDS": ["r"]}),
            "p/c/0": b64(rows.tobytes())}
    with open_doc(tmp_path, refs) as f:
        got = f["p"][()]
        assert got["x"].tolist() == [1.5, 2.5, 0.0, 0.0] and got["t"].tolist() == ["a", "b", "", ""]
        assert [r.path if r is not None else None for r in got["r"]] == ["/g", "/g", None, None]


def test_reference_arrays_are_known_without_reading_a_chunk(tmp_path: Path) -> None:
    """An empty or all-null reference array is still a reference dataset; hdmf-zarr's legacy
    reference attribute is a reference too."""
    empty, _ = vlen_array([], {"_DTYPE": "object_reference"})
    nulls, chunk = vlen_array(["", ""], {"_DTYPE": "object_reference"})
    legacy = {"zarr_dtype": "object", "value": {"source": ".", "path": "/g"}}
    refs = {"zarr.json": group(legacy=legacy), "g/zarr.json": GROUP, "e/zarr.json": empty,
            "n/zarr.json": nulls, "n/c/0": chunk, "s/zarr.json": vlen_array([])[0]}
    with open_doc(tmp_path, refs) as f:
        from hdmf_lindi.format.dtypes import is_reference_dtype, is_string_dtype

        assert is_reference_dtype(f["e"].dtype) and f["e"][()].shape == (0,)
        assert is_reference_dtype(f["n"].dtype) and f["n"][()].tolist() == [None, None]
        assert is_string_dtype(f["s"].dtype)
        assert f.attrs["legacy"].path == "/g"


def test_zarr_json_stored_as_base64(tmp_path: Path) -> None:
    """zindi stores a value whose bytes are not printable ASCII (a non-ASCII attribute written
    with ensure_ascii=False) as base64, metadata included."""
    root = json.dumps(group(title="h\u00e9llo", rate=1.5), ensure_ascii=False).encode("utf-8")
    with open_doc(tmp_path, {"zarr.json": b64(root)}) as f:
        assert f.attrs["title"] == "h\u00e9llo" and f.attrs["rate"] == 1.5
