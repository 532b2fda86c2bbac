"""ReferenceMap: decoding the four value kinds, templates, serialisation, and rejected input.

Tables:

* ``DECODE_CASES`` -- one row per value kind of ``lindi-format.md`` §2.2 (plain text, text with
  control bytes, ``base64:``, JSON object, ``[url, offset, length]`` with and without a template):
  what ``get()`` and ``get_json()`` return.
* ``BAD_DOCUMENTS`` -- one row per malformed document: the ``ReferenceMapError`` it raises when
  parsed, matched on its message.
* ``test_encode_inline_round_trips`` -- a hypothesis property: any bytes survive
  ``encode_inline`` -> document -> ``get()``, and the chosen encoding follows lindi's writer rule.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hdmf_lindi.errors import ReferenceMapError
from hdmf_lindi.storage.refmap import RangeRef, ReferenceMap, encode_inline

ZARRAY = {"zarr_format": 2, "shape": [3], "chunks": [3], "dtype": "<i1"}

# key -> (raw value, expected get(), expected get_json() or None when not JSON content)
DECODE_CASES: dict[str, tuple[Any, Any, Any]] = {
    "plain-text": ("hello", b"hello", None),
    "text-with-control-bytes": ("\x02\x013\x00", b"\x02\x013\x00", None),
    "text-non-ascii-is-utf8": ("h\u00e9", "h\u00e9".encode(), None),
    "base64": ("base64:AAEC/w==", b"\x00\x01\x02\xff", None),
    "base64-of-base64-prefix": (
        "base64:" + base64.b64encode(b"base64:xyz").decode(), b"base64:xyz", None
    ),
    "json-object": (ZARRAY, json.dumps(ZARRAY).encode(), ZARRAY),
    "json-as-string": (json.dumps(ZARRAY), json.dumps(ZARRAY).encode(), ZARRAY),
    "range": (["data.h5", 8, 16], RangeRef("data.h5", 8, 16), None),
    "range-internal": (["./blobs/x/0", 0, 4], RangeRef("./blobs/x/0", 0, 4), None),
    "range-template": (["{{u1}}", 3, 4], RangeRef("https://h/f.nwb", 3, 4), None),
    "range-template-in-path": (
        ["{{u1}}?x={{u2}}", 0, 1], RangeRef("https://h/f.nwb?x=2", 0, 1), None
    ),
}


def _decode_map() -> ReferenceMap:
    return ReferenceMap(
        {name: case[0] for name, case in DECODE_CASES.items()},
        templates={"u1": "https://h/f.nwb", "u2": "2"},
    )


@pytest.mark.parametrize("key", list(DECODE_CASES))
def test_get_decodes_each_value_kind(key: str) -> None:
    _, expected, _ = DECODE_CASES[key]
    assert _decode_map().get(key) == expected


@pytest.mark.parametrize("key", [k for k, case in DECODE_CASES.items() if case[2] is not None])
def test_get_json_parses_objects_and_strings(key: str) -> None:
    assert _decode_map().get_json(key) == DECODE_CASES[key][2]


def test_absent_key_reads_as_none() -> None:
    refmap = _decode_map()
    assert refmap.get("nope") is None
    assert refmap.get_json("nope") is None


def test_range_ref_is_internal_only_for_dot_slash() -> None:
    refmap = _decode_map()
    assert refmap.get("range-internal").is_internal  # type: ignore[union-attr]
    assert not refmap.get("range").is_internal  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("key", "match"),
    [
        ("range", "byte-range reference; LINDI metadata must be inline"),
        ("plain-text", "does not hold valid JSON"),
    ],
)
def test_get_json_rejects_non_json_content(key: str, match: str) -> None:
    with pytest.raises(ReferenceMapError, match=match):
        _decode_map().get_json(key)


def test_invalid_base64_raises_on_read() -> None:
    refmap = ReferenceMap({"a/0": "base64:!!notbase64"}, source="doc.lindi.json")
    with pytest.raises(ReferenceMapError, match=r"'a/0' in doc\.lindi\.json is not valid base64"):
        refmap.get("a/0")


# ---------------------------------------------------------------------------- encode_inline

_ASCII = st.binary().filter(bytes.isascii)
_PAYLOADS = st.one_of(
    st.binary(max_size=300),
    _ASCII,
    st.binary(max_size=50).map(lambda b: b"base64:" + b),
)


@given(_PAYLOADS)
def test_encode_inline_round_trips(data: bytes) -> None:
    value = encode_inline(data)
    if data.isascii() and not data.startswith(b"base64:"):
        assert value == data.decode("ascii")
    else:
        assert value.startswith("base64:")
        assert base64.b64decode(value[len("base64:"):]) == data
    refmap = ReferenceMap()
    refmap.set_bytes("x/0", data)
    assert refmap.raw("x/0") == value
    assert ReferenceMap.from_json(refmap.to_json()).get("x/0") == data


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"abc", "abc"),
        (b"\x00\x7f", "\x00\x7f"),
        (b"\x80", "base64:gA=="),
        (b"base64:", "base64:YmFzZTY0Og=="),
        (b"", ""),
    ],
)
def test_encode_inline_rule(data: bytes, expected: str) -> None:
    assert encode_inline(data) == expected


# ---------------------------------------------------------------------------- templates


def test_unknown_template_is_named_in_the_error() -> None:
    with pytest.raises(ReferenceMapError, match=r"uses template \{\{u9\}\}, which is not defined"):
        ReferenceMap({"a/0": ["{{u9}}", 0, 1]}, templates={"u1": "x"})


def test_unknown_template_set_later_is_rejected() -> None:
    refmap = ReferenceMap()
    with pytest.raises(ReferenceMapError, match=r"\{\{nope\}\}"):
        refmap.set_raw("a/0", ["{{nope}}/f", 0, 1])


def _ranges(url: str, n: int, prefix: str) -> dict[str, list[Any]]:
    return {f"{prefix}/{i}": [url, i * 10, 10] for i in range(n)}


def test_to_dict_introduces_templates_in_sorted_url_order() -> None:
    refs = {**_ranges("https://b/x", 5, "b"), **_ranges("https://a/x", 6, "a"), **_ranges("c.h5", 4, "c")}
    doc = ReferenceMap(refs).to_dict()
    assert doc["templates"] == {"u1": "https://a/x", "u2": "https://b/x"}
    assert doc["refs"]["a/3"] == ["{{u1}}", 30, 10]
    assert doc["refs"]["b/4"] == ["{{u2}}", 40, 10]
    assert doc["refs"]["c/0"] == ["c.h5", 0, 10]  # used 4 times: stays literal
    assert ReferenceMap.from_dict(doc).get("b/4") == RangeRef("https://b/x", 40, 10)


def test_to_dict_keeps_and_reuses_existing_templates() -> None:
    refs = {**_ranges("https://a/x", 5, "a"), **_ranges("https://z/x", 5, "z"), "k": ["{{u1}}", 1, 2]}
    doc = ReferenceMap(refs, templates={"u1": "https://z/x", "old": "unused"}).to_dict()
    assert doc["templates"] == {"u1": "https://z/x", "old": "unused", "u2": "https://a/x"}
    assert doc["refs"]["z/0"] == ["{{u1}}", 0, 10]
    assert doc["refs"]["a/0"] == ["{{u2}}", 0, 10]
    assert doc["refs"]["k"] == ["{{u1}}", 1, 2]


def test_to_dict_without_templates() -> None:
    doc = ReferenceMap(_ranges("https://a/x", 5, "a")).to_dict(use_templates=False)
    assert "templates" not in doc
    assert doc["refs"]["a/0"] == ["https://a/x", 0, 10]


# ---------------------------------------------------------------------------- serialising


@pytest.mark.parametrize(
    "doc",
    [
        {"refs": {}},
        {"version": 1, "refs": {".zgroup": {"zarr_format": 2}}},
        {"version": 0, "refs": {"a": "b"}},
    ],
)
def test_to_dict_always_writes_version_1(doc: dict[str, Any]) -> None:
    out = ReferenceMap.from_dict(doc).to_dict()
    assert out["version"] == 1
    assert json.loads(ReferenceMap.from_dict(doc).to_json())["version"] == 1


def test_generation_metadata_and_unknown_keys_survive_a_round_trip() -> None:
    doc = {
        "refs": {".zgroup": {"zarr_format": 2}},
        "generationMetadata": {"generatedBy": "lindi", "n": [1, 2]},
        "x-custom": {"keep": True},
        "gen": [],
    }
    out = json.loads(ReferenceMap.from_json(json.dumps(doc)).to_json())
    assert out["generationMetadata"] == doc["generationMetadata"]
    assert out["x-custom"] == {"keep": True}
    assert out["gen"] == []
    assert out["refs"] == doc["refs"]


def test_to_json_is_ascii_and_sorted() -> None:
    refmap = ReferenceMap({"b": "h\u00e9", "a": {"t": "\u00e9"}})
    data = refmap.to_json()
    assert data.isascii()
    assert list(json.loads(data)["refs"]) == ["a", "b"]
    assert ReferenceMap.from_json(data).get("b") == "h\u00e9".encode()


@pytest.mark.parametrize("padding", [b"", b"   ", b"\x00" * 100, b"\n" + b" " * 8000])
def test_tar_slot_padding_after_the_document_is_accepted(padding: bytes) -> None:
    data = json.dumps({"refs": {"k": "v"}}).encode() + padding
    assert ReferenceMap.from_json(data).get("k") == b"v"


def test_mutations_mark_the_map_dirty() -> None:
    refmap = ReferenceMap.from_json(b'{"refs": {"k": "v"}}')
    assert not refmap.dirty
    refmap.delete("absent")
    assert not refmap.dirty
    refmap.set_range("r", "f.h5", 1, 2)
    assert refmap.dirty and refmap.raw("r") == ["f.h5", 1, 2]


# ---------------------------------------------------------------------------- rejected input

BAD_DOCUMENTS: dict[str, tuple[str | bytes, str]] = {
    "malformed-json": ('{"refs": {"a": }', r"not valid JSON: .* at line 1 column 16"),
    "malformed-json-line-2": ('{"refs": {}\n,,}', r"at line 2 column 2"),
    "truncated": ('{"refs": {"a": "b"', r"not valid JSON"),
    "not-utf8": (b'{"refs": {"a": "\xff"}}', r"not UTF-8 text"),
    "top-level-list": ('[{"refs": {}}]', r"must be a JSON object, got list"),
    "top-level-string": ('"refs"', r"must be a JSON object, got str"),
    "missing-refs": ('{"version": 1}', r"has no 'refs' object \(got NoneType\)"),
    "refs-not-object": ('{"refs": [1, 2]}', r"has no 'refs' object \(got list\)"),
    "value-null": ('{"refs": {"a/0": null}}', r"'a/0'.* must be a string, an object or"),
    "value-number": ('{"refs": {"a/0": 12}}', r"'a/0'.* got int"),
    "value-bool": ('{"refs": {"a/0": true}}', r"'a/0'.* got bool"),
    "list-of-2": ('{"refs": {"a/0": ["f.h5", 0]}}', r"must be \[url, offset, length\]"),
    "list-of-1": ('{"refs": {"a/0": ["f.h5"]}}', r"must be \[url, offset, length\]"),
    "list-of-4": ('{"refs": {"a/0": ["f.h5", 0, 1, 2]}}', r"must be \[url, offset, length\]"),
    "float-offset": ('{"refs": {"a/0": ["f.h5", 1.0, 8]}}', r"integer offset and length"),
    "float-length": ('{"refs": {"a/0": ["f.h5", 1, 8.5]}}', r"integer offset and length"),
    "bool-offset": ('{"refs": {"a/0": ["f.h5", true, 8]}}', r"integer offset and length"),
    "url-not-string": ('{"refs": {"a/0": [3, 0, 8]}}', r"must be \[url, offset, length\]"),
    "negative-offset": ('{"refs": {"a/0": ["f.h5", -1, 8]}}', r"negative offset or length"),
    "negative-length": ('{"refs": {"a/0": ["f.h5", 0, -8]}}', r"negative offset or length"),
    "templates-list": ('{"refs": {}, "templates": ["u1"]}', r"'templates'.* must be an object, got list"),
    "templates-string": ('{"refs": {}, "templates": "u1"}', r"must be an object, got str"),
    "template-value-int": ('{"refs": {}, "templates": {"u1": 5}}', r"Template 'u1'.* must map to a string url, got int"),
    "template-value-null": ('{"refs": {}, "templates": {"u1": null}}', r"Template 'u1'.* got NoneType"),
    "unknown-template": ('{"refs": {"a/0": ["{{u2}}", 0, 1]}, "templates": {"u1": "x"}}', r"\{\{u2\}\}"),
    "leading-slash-key": ('{"refs": {"/a/0": "x"}}', r"Store key '/a/0'.* without a leading '/'"),
}


@pytest.mark.parametrize("case", list(BAD_DOCUMENTS))
def test_bad_documents_are_rejected(case: str) -> None:
    text, match = BAD_DOCUMENTS[case]
    data = text.encode() if isinstance(text, str) else text
    with pytest.raises(ReferenceMapError, match=match) as info:
        ReferenceMap.from_json(data, source="bad.lindi.json")
    if case not in ("not-utf8",):
        assert "bad.lindi.json" in str(info.value)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("/x", "v", r"without a leading '/'"),
        ("x", None, r"got NoneType"),
        ("x", ["f", 0], r"must be \[url, offset, length\]"),
        ("x", ["f", 0.0, 1], r"integer offset and length"),
        ("x", ["f", -2, 1], r"negative offset"),
    ],
)
def test_set_raw_validates(key: str, value: Any, match: str) -> None:
    refmap = ReferenceMap()
    with pytest.raises(ReferenceMapError, match=match):
        refmap.set_raw(key, value)
    assert key not in refmap


def test_a_templated_url_is_expanded_once_while_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    """10^6 chunk references through one template cost one expansion, not one each."""
    calls: list[str] = []
    original = ReferenceMap._expand

    def counting(self: ReferenceMap, url: str, key: str) -> str:
        calls.append(url)
        return original(self, url, key)

    monkeypatch.setattr(ReferenceMap, "_expand", counting)
    refs = {f"x/{i}": ["{{u1}}", 10 * i, 10] for i in range(100)}
    refs["y/0"] = ["{{u2}}", 0, 1]
    refmap = ReferenceMap(refs, templates={"u1": "https://h/f.nwb", "u2": "https://h/g.nwb"})
    assert sorted(calls) == ["{{u1}}", "{{u2}}"]
    assert refmap.get("x/7") == RangeRef("https://h/f.nwb", 70, 10)
    with pytest.raises(ReferenceMapError, match="template {{u3}}"):
        ReferenceMap({"a/0": ["{{u1}}", 0, 1], "a/1": ["{{u3}}", 0, 1]}, templates={"u1": "https://h/f.nwb"})
