"""hdmf-zarr's old Zarr v2 layout -> the model: sniffing, annotations, the object-chunk codec.

The end-to-end reads of stores written by hdmf-zarr 0.13 itself are in
``tests/interop/test_hdmf_zarr_read.py``; these are the small cases, including hostile ones.
"""

from __future__ import annotations

import json
import os
import pickle
import struct

import numpy as np
import pytest

from hdmf_lindi.errors import MetadataError, UnsupportedError
from hdmf_lindi.format.hdmf_zarr_v2 import (
    HdmfZarrObjectsCodec,
    is_hdmf_zarr_v2,
    translate_hdmf_zarr_v2,
)
from hdmf_lindi.storage.refmap import ReferenceMap

REF = {"source": ".", "path": "/g/x", "object_id": "oid-x", "source_object_id": "oid-root"}


def _model_items(text: bytes) -> list[object]:
    items = json.loads(text)
    assert items[-2] == "|O"
    return list(items[:-2])


def _store() -> ReferenceMap:
    zarray = {"zarr_format": 2, "shape": [2], "chunks": [2], "dtype": "<i4", "compressor": None,
              "fill_value": 0, "filters": None, "order": "C", "dimension_separator": "/"}
    return ReferenceMap({
        ".zgroup": {"zarr_format": 2},
        ".zattrs": {".specloc": "specifications", "target": {"zarr_dtype": "object", "value": REF}},
        "g/.zgroup": {"zarr_format": 2},
        "g/.zattrs": {"zarr_link": [{"name": "soft", "source": ".", "path": "/g/x"},
                                    {"name": "ext", "source": "../other.zarr", "path": "/y"}]},
        "g/x/.zarray": zarray,
        "g/x/.zattrs": {"zarr_dtype": "int32", "unit": "m"},
        "g/x/0": "base64:AQAAAAIAAAA=",
        "s/.zarray": {**zarray, "shape": [1], "chunks": [1], "dimension_separator": "."},
        "s/.zattrs": {"zarr_dtype": "scalar"},
        "r/.zarray": {**zarray, "dtype": "|O", "filters": [{"id": "pickle", "protocol": 5}]},
        "r/.zattrs": {"zarr_dtype": "object"},
        "c/.zarray": {**zarray, "dtype": [["a", "<i4"], ["b", "|O"]], "filters": [{"id": "pickle", "protocol": 5}]},
        "c/.zattrs": {"zarr_dtype": [{"name": "a", "dtype": "int32"}, {"name": "b", "dtype": "object"}]},
        "n/.zarray": {**zarray, "dtype": [["x", "<f4"], ["y", "<i2"]], "filters": None},
        "n/.zattrs": {"zarr_dtype": [{"name": "x", "dtype": "float32"}, {"name": "y", "dtype": "int16"}]},
    }, source="mem.zarr")


def test_translation_of_annotations() -> None:
    store = _store()
    assert is_hdmf_zarr_v2(store)
    model = translate_hdmf_zarr_v2(store, root_name="mine.zarr")
    root = model.get_json(".zattrs")
    assert root[".specloc"]["_REFERENCE"]["path"] == "/specifications"
    assert root["target"] == {"_REFERENCE": {**REF}}
    assert model.get_json("g/.zattrs") == {}
    assert model.get_json("g/soft/.zattrs") == {"_SOFT_LINK": {"path": "/g/x"}}
    assert model.get_json("g/ext/.zattrs") == {"_EXTERNAL_LINK": ["other.zarr", "/y"]}
    assert model.get_json("g/x/.zattrs") == {"unit": "m"}
    assert "dimension_separator" not in model.get_json("g/x/.zarray")
    assert model.get("g/x/0") == struct.pack("<2i", 1, 2)
    assert model.get_json("s/.zattrs") == {"_SCALAR": True}
    r = model.get_json("r/.zarray")
    assert r["filters"][0]["id"] == "json2" and r["filters"][1]["id"] == HdmfZarrObjectsCodec.codec_id
    assert model.get_json("c/.zattrs")["_COMPOUND_DTYPE"] == [["a", "int32"], ["b", "<REFERENCE>"]]
    assert model.get_json("n/.zattrs")["_COMPOUND_DTYPE"] == [["x", "float32"], ["y", "int16"]]
    assert model.get_json("n/.zarray")["filters"][1]["source"]["id"] == "raw"


def test_sniffing_leaves_lindi_maps_alone() -> None:
    lindi = ReferenceMap({
        ".zgroup": {"zarr_format": 2},
        ".zattrs": {".specloc": {"_REFERENCE": {"path": "/specifications", "source": "."}}},
    })
    assert not is_hdmf_zarr_v2(lindi)
    plain = ReferenceMap({".zgroup": {"zarr_format": 2}, ".zattrs": {}, "x/.zattrs": {"_SCALAR": True},
                          "y/.zattrs": {"zarr_dtype": "int32"}})
    assert not is_hdmf_zarr_v2(plain)  # a LINDI annotation comes first
    assert is_hdmf_zarr_v2(ReferenceMap({".zgroup": {"zarr_format": 2}, "y/.zattrs": {"zarr_dtype": "int32"}}))


def test_objects_codec_decodes_each_object_codec() -> None:
    refs = np.empty(2, dtype=object)
    refs[:] = [dict(REF), None]
    out = HdmfZarrObjectsCodec({"id": "pickle"}).decode(pickle.dumps(refs, protocol=5))
    assert _model_items(out) == [{"_REFERENCE": {**REF}}, None]
    rows = np.empty(1, dtype=[("a", "<i4"), ("b", "O")])
    rows[0] = (7, dict(REF))
    assert _model_items(HdmfZarrObjectsCodec({"id": "pickle"}).decode(pickle.dumps(rows))) == [[7, {"_REFERENCE": {**REF}}]]
    words = ["a", "h\u00e9"]
    vlen = struct.pack("<I", 2) + b"".join(struct.pack("<I", len(w.encode())) + w.encode() for w in words)
    assert _model_items(HdmfZarrObjectsCodec({"id": "vlen-utf8"}).decode(vlen)) == words
    raw = np.array([(1.5, 2)], dtype=[("x", "<f4"), ("y", "<i2")]).tobytes()
    codec = HdmfZarrObjectsCodec({"id": "raw", "dtype": [["x", "<f4"], ["y", "<i2"]]})
    assert _model_items(codec.decode(raw)) == [[1.5, 2]]
    assert HdmfZarrObjectsCodec.from_config(codec.get_config()).source == codec.source
    with pytest.raises(ValueError, match="whole number"):
        codec.decode(raw[:-1])
    with pytest.raises(UnsupportedError):
        HdmfZarrObjectsCodec({"id": "msgpack2"})
    with pytest.raises(UnsupportedError, match="read-only"):
        codec.encode(raw)


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned",))


def test_unpickler_refuses_anything_but_arrays() -> None:
    arr = np.empty(1, dtype=object)
    arr[0] = _Evil()
    for payload in (pickle.dumps(arr), pickle.dumps(_Evil()), b"not a pickle"):
        with pytest.raises(ValueError, match="cannot read the pickled chunk safely|not an array"):
            HdmfZarrObjectsCodec({"id": "pickle"}).decode(payload)
    with pytest.raises(ValueError, match="not an array"):
        HdmfZarrObjectsCodec({"id": "pickle"}).decode(pickle.dumps({"a": 1}))


def test_malformed_annotations() -> None:
    base = {".zgroup": {"zarr_format": 2}}
    with pytest.raises(MetadataError, match="zarr_link"):
        translate_hdmf_zarr_v2(ReferenceMap({**base, ".zattrs": {"zarr_link": {"name": "x"}}}))
    with pytest.raises(MetadataError, match="zarr_link"):
        translate_hdmf_zarr_v2(ReferenceMap({**base, ".zattrs": {"zarr_link": [{"path": "/x"}]}}))
    with pytest.raises(MetadataError, match="annotation"):
        translate_hdmf_zarr_v2(ReferenceMap({**base, ".zattrs": {"a": {"zarr_dtype": "region", "value": 1}}}))
    zarray = {"zarr_format": 2, "shape": [2], "chunks": [2], "dtype": "<i4", "compressor": None,
              "fill_value": 0, "filters": None, "order": "C"}
    with pytest.raises(MetadataError, match="scalar"):
        translate_hdmf_zarr_v2(ReferenceMap({**base, "s/.zarray": zarray, "s/.zattrs": {"zarr_dtype": "scalar"}}))
    with pytest.raises(UnsupportedError, match="object codecs"):
        translate_hdmf_zarr_v2(ReferenceMap({**base, "o/.zarray": {**zarray, "dtype": "|O", "filters": [{"id": "zlib"}]},
                                             "o/.zattrs": {"zarr_dtype": "object"}}))
