"""Bad input, read and written: every failure is a ``LindiError``, and nothing on disk is lost.

Three groups of cases:

* a seeded byte-level fuzz of a small file in each form (``.lindi.json``, ``.lindi.tar``,
  ``.lindi.d``): open, walk every group, attribute and dataset, read every dataset whole. The
  only outcomes allowed are success and a ``LindiError`` (a damaged chunk used to leak
  ``gzip.BadGzipFile``, ``zlib.error``, ``EOFError``, ...);
* a table of hand-made damage to one ``.lindi.json`` (``.zarray`` fields, annotations, object
  chunks, references), each matched to its error message;
* writes that must be refused before they produce a file that cannot be read back.
"""

from __future__ import annotations

import base64
import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest

import hdmf_lindi
from hdmf_lindi import File
from hdmf_lindi.errors import (
    ChunkRefError,
    LindiError,
    MetadataError,
    ReferenceMapError,
    UnsupportedError,
)

SEED = 20240613
MUTATIONS_PER_FORM = 120


def _make_sample(path: Path) -> None:
    """A small file with one node of each kind the reader distinguishes."""
    with File(str(path), "w") as f:
        f.attrs["title"] = "hello"
        f.attrs["nums"] = [1, 2, 3]
        f.create_group("g").attrs["x"] = 1
        f.create_dataset("gz", data=np.arange(600, dtype="f8").reshape(30, 20), chunks=(10, 10), compression="gzip")
        f.create_dataset("blosc", data=np.arange(300, dtype="i2"), chunks=(100,), compression="blosc")
        f.create_dataset("raw", data=np.arange(10, dtype="i4"))
        f.create_dataset("scalar", data=3.5)
        f.create_dataset("strs", data=np.array(["a", "bb"], dtype=object), dtype=hdmf_lindi.string_dtype())
        cd = np.dtype([("a", "i4"), ("b", "f8")])
        f.create_dataset("comp", data=np.array([(1, 2.0), (3, 4.0)], dtype=cd))
        f.create_dataset("refs", data=[f["g"].ref, f["raw"].ref], dtype=hdmf_lindi.ref_dtype)
        f["soft"] = hdmf_lindi.SoftLink("/g")


def _walk(path: Path) -> None:
    """Open ``path`` and read everything in it."""
    with File(str(path), "r") as f:
        for name in f.attrs:
            f.attrs[name]

        def visit(_: str, node: Any) -> None:
            for name in node.attrs:
                node.attrs[name]
            if isinstance(node, hdmf_lindi.Dataset) and node.size <= 10**6:
                node[()]

        f.visititems(visit)


def _outcome(path: Path) -> str:
    try:
        _walk(path)
    except LindiError:
        return "lindi"
    return "ok"


def _mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    kind = rng.choice(["flip", "digit", "truncate", "delete"])
    if kind == "flip":
        for _ in range(rng.randint(1, 4)):
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    elif kind == "digit":
        digits = [i for i, c in enumerate(out) if 48 <= c <= 57]
        out[rng.choice(digits)] = rng.choice(b"0123456789")
    elif kind == "truncate":
        del out[rng.randrange(len(out)):]
    else:
        start = rng.randrange(len(out))
        del out[start:start + rng.randint(1, 20)]
    return bytes(out)


@pytest.mark.parametrize("suffix", [".lindi.json", ".lindi.tar", ".lindi.d"])
def test_damaged_files_fail_with_lindi_errors(tmp_path: Path, suffix: str) -> None:
    sample = tmp_path / f"sample{suffix}"
    _make_sample(sample)
    assert _outcome(sample) == "ok"
    rng = random.Random(f"{SEED}{suffix}")
    work = tmp_path / f"work{suffix}"
    outcomes = []
    for _ in range(MUTATIONS_PER_FORM):
        if suffix == ".lindi.d":
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(sample, work)
            blobs = sorted(p for p in work.rglob("*") if p.is_file())
            target = work / "lindi.json" if rng.random() < 0.7 else rng.choice(blobs)
        else:
            shutil.copyfile(sample, work)
            target = work
        target.write_bytes(_mutate(target.read_bytes(), rng))
        outcomes.append(_outcome(work))  # anything but a LindiError propagates and fails
    # the fuzz reaches both outcomes, so it exercises the reader and not only the parser
    assert {"ok", "lindi"} == set(outcomes)


CODECS = {
    "gzip": numcodecs.GZip(level=4),
    "zlib": numcodecs.Zlib(level=4),
    "blosc": numcodecs.Blosc(),
    "zstd": numcodecs.Zstd(),
    "bz2": numcodecs.BZ2(),
    "lzma": numcodecs.LZMA(),
}


def _chunk_bytes(refs: dict[str, Any], key: str) -> bytes:
    value = refs[key]
    assert isinstance(value, str)
    return base64.b64decode(value[7:]) if value.startswith("base64:") else value.encode("latin-1")


@pytest.mark.filterwarnings("ignore::hdmf_lindi.errors.LindiWarning")
@pytest.mark.parametrize("codec", sorted(CODECS))
@pytest.mark.parametrize("damage", ["flip", "truncate", "tiny"])
def test_undecodable_chunk_is_a_chunk_ref_error(tmp_path: Path, codec: str, damage: str) -> None:
    path = tmp_path / "x.lindi.json"
    with File(str(path), "w") as f:
        f.create_dataset("d", data=np.arange(1000, dtype="f8"), chunks=(1000,), compressor=CODECS[codec])
    doc = json.loads(path.read_text())
    stored = bytearray(_chunk_bytes(doc["refs"], "d/0"))
    if damage == "flip":
        stored[len(stored) // 2] ^= 0xFF
        stored[-3] ^= 0xFF
    elif damage == "truncate":
        del stored[len(stored) // 2:]
    else:
        del stored[4:]  # shorter than any codec's header (libdeflate raised ValueError here)
    doc["refs"]["d/0"] = "base64:" + base64.b64encode(bytes(stored)).decode()
    path.write_text(json.dumps(doc))
    with File(str(path)) as f, pytest.raises(ChunkRefError, match=rf"Cannot decode chunk 'd/0' of .* with codec '{codec}'"):
        f["d"][...]


def _sample_doc(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "sample.lindi.json"
    _make_sample(path)
    return json.loads(path.read_text())


def _object_chunk(items: list[Any]) -> str:
    return json.dumps(items)


# name: (change to the refs of the sample, error class, message)
DAMAGE: dict[str, tuple[Callable[[dict[str, Any]], None], type[LindiError], str]] = {
    "shape_beyond_int64": (
        lambda r: r["raw/.zarray"].update(shape=[2**70]), MetadataError, r"has an entry of 2\*\*63 or more"
    ),
    "chunk_bytes_beyond_int64": (
        lambda r: r["raw/.zarray"].update(shape=[10], chunks=[2**62]), MetadataError, "more than 2\\*\\*63"
    ),
    "fill_value_text_for_int": (
        lambda r: r["raw/.zarray"].update(fill_value="[1,2"), MetadataError, "'fill_value' '\\[1,2' .* not a value of dtype int32"
    ),
    "fill_value_object_for_float": (
        lambda r: r["gz/.zarray"].update(fill_value={"a": 1}), MetadataError, "not a value of dtype float64"
    ),
    "fill_value_list_for_int": (
        lambda r: r["raw/.zarray"].update(fill_value=[1, 2]), MetadataError, "not a value of dtype int32"
    ),
    "fill_value_object_for_strings": (
        lambda r: r["strs/.zarray"].update(fill_value={"a": 1}), MetadataError, "must be a JSON scalar for dtype"
    ),
    "object_dtype_without_json2": (
        lambda r: r["gz/.zarray"].update(dtype="|O"), MetadataError, "dtype \\|O needs the json2 filter"
    ),
    "numeric_dtype_with_json2": (
        lambda r: r["strs/.zarray"].update(dtype="<c16"), MetadataError, "dtype <c16 cannot have the json2 filter"
    ),
    "scalar_of_shape_0": (
        lambda r: r["scalar/.zarray"].update(shape=[0]), MetadataError, "marked _SCALAR but has shape \\[0\\]"
    ),
    "compound_repeated_field": (
        lambda r: r["comp/.zattrs"].update(_COMPOUND_DTYPE=[["a", "int32"], ["a", "float64"]]),
        MetadataError,
        "not a valid compound type: field 'a' occurs more than once",
    ),
    "compound_field_of_datetime": (
        lambda r: r["comp/.zattrs"].update(_COMPOUND_DTYPE=[["a", "M8"], ["b", "float64"]]),
        ChunkRefError,
        "Element 0 \\(\\[1, 2.0\\]\\) of chunk 'comp/0' .* does not fit the compound dtype",
    ),
    "attribute_beyond_uint64": (
        lambda r: r["g/.zattrs"].update(x=2**70), MetadataError, "no 64-bit integer type holds them all"
    ),
    "attribute_list_beyond_int64_both_ways": (
        lambda r: r["g/.zattrs"].update(x=[-1, 2**63]), MetadataError, "from -1 to 9223372036854775808"
    ),
    "object_chunk_shape_of_strings": (
        lambda r: r.update({"strs/0": _object_chunk(["a", "bb", "|O", ["x"]])}),
        MetadataError,
        "ends with shape \\['x'\\]",
    ),
    "object_chunk_not_nested": (
        lambda r: r.update({"strs/0": _object_chunk(["a", "bb", "|O", [1, 2]])}),
        MetadataError,
        "has 'a' where a nested list of 1 levels belongs",
    ),
    "object_chunk_with_too_few_elements_2d": (
        lambda r: r.update({
            "strs/.zarray": {**r["strs/.zarray"], "shape": [2, 2], "chunks": [2, 2]},
            "strs/0.0": _object_chunk(["a", "b", "c", "|O", [3]]),
        }),
        ChunkRefError,
        "holds 3 elements; expected the chunk shape \\[2, 2\\]",
    ),
    "reference_past_2_63": (
        lambda r: r.update({"raw/0": ["sample.lindi.json", 2**62, 2**62]}), ReferenceMapError, "ends past byte 2\\*\\*63"
    ),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_metadata_is_a_clear_error(tmp_path: Path, case: str) -> None:
    change, error, message = DAMAGE[case]
    doc = _sample_doc(tmp_path)
    change(doc["refs"])
    path = tmp_path / "damaged.lindi.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(error, match=message):
        _walk(path)


WRITES: dict[str, tuple[Callable[[File], Any], type[LindiError], str]] = {
    "attribute_beyond_uint64": (
        lambda f: f.attrs.__setitem__("big", 2**70), UnsupportedError, "does not fit a 64-bit integer type"
    ),
    "negative_dimension": (
        lambda f: f.create_dataset("neg", shape=(-1,), dtype="f8"), MetadataError, "non-negative integers, got \\[-1\\]"
    ),
    "chunk_bytes_beyond_int64": (
        lambda f: f.create_dataset("huge", shape=(4,), dtype="f8", chunks=(2**61,)), MetadataError, "more than 2\\*\\*63"
    ),
    "group_named_zattrs": (
        lambda f: f.create_group(".zattrs"), UnsupportedError, "'.zattrs' is a Zarr metadata key"
    ),
    "dataset_named_zarray": (
        lambda f: f.create_dataset("g/.zarray", data=[1]), UnsupportedError, "'.zarray' is a Zarr metadata key"
    ),
}


@pytest.mark.parametrize("suffix", [".lindi.json", ".lindi.tar", ".lindi.d"])
@pytest.mark.parametrize("case", sorted(WRITES))
def test_refused_write_leaves_a_readable_file(tmp_path: Path, case: str, suffix: str) -> None:
    write, error, message = WRITES[case]
    path = tmp_path / f"x{suffix}"
    with File(str(path), "w") as f:
        f.create_dataset("keep", data=np.arange(5))
    with File(str(path), "r+") as f:
        with pytest.raises(error, match=message):
            write(f)
        f.attrs["after"] = 1
    with File(str(path)) as f:
        assert sorted(f.keys()) == ["keep"]
        assert f.attrs["after"] == 1
        np.testing.assert_array_equal(f["keep"][...], np.arange(5))
        _walk(path)


BAD_LOCAL_TARGETS: dict[str, tuple[Callable[[Path], list[Any]], str]] = {
    "directory": (lambda d: [str(d), 0, 10], "not a regular file"),
    "empty name (the working directory)": (lambda d: ["", 0, 10], "not a regular file"),
    "NUL in the name": (lambda d: ["a\x00b", 0, 10], "Cannot open referenced file"),
    "length beyond a small file": (lambda d: [str(d / "small.bin"), 0, 10**12], "outside"),
}
"""Chunk references to local paths that cannot be read, and what the error says."""


@pytest.mark.parametrize("case", sorted(BAD_LOCAL_TARGETS))
def test_unreadable_local_chunk_target_is_a_chunk_ref_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    make_ref, message = BAD_LOCAL_TARGETS[case]
    (tmp_path / "small.bin").write_bytes(bytes(100))
    monkeypatch.chdir(tmp_path)  # a relative name resolves against the document's directory
    doc = {
        "version": 1,
        "refs": {
            ".zgroup": {"zarr_format": 2},
            "x/.zarray": {
                "zarr_format": 2, "shape": [5], "chunks": [5], "dtype": "<i2", "compressor": None,
                "filters": None, "fill_value": 0, "order": "C",
            },
            "x/0": make_ref(tmp_path),
        },
    }
    path = tmp_path / "doc.lindi.json"
    path.write_text(json.dumps(doc))
    with File(str(path)) as f, pytest.raises(ChunkRefError, match=message):
        f["x"][:]
