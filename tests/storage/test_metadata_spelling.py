"""Metadata values as JSON text (kerchunk's spelling) or embedded objects (lindi's), per writer.

Every writer offers ``metadata_as_text``; a file keeps its spelling when rewritten; both
spellings read the same.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

import hdmf_lindi
from hdmf_lindi.hdf5.indexer import IndexOptions, index_hdf5
from hdmf_lindi.storage.refmap import ReferenceMap, is_metadata_key

FORMS = [".lindi.json", ".lindi.tar", ".lindi.d"]


def document(path: Path) -> dict[str, Any]:
    """The file's JSON document, as stored."""
    if path.name.endswith(".tar"):
        with tarfile.open(path) as tar:
            member = tar.extractfile("lindi.json")
            assert member is not None
            text = member.read()
    else:
        text = (path / "lindi.json" if path.is_dir() else path).read_bytes()
    result: dict[str, Any] = json.loads(text.rstrip(b" \x00\n"))
    return result


def spelling(path: Path) -> set[type]:
    """The Python types of the metadata values as stored in the file's document."""
    return {type(v) for k, v in document(path)["refs"].items() if is_metadata_key(k)}


def write(path: Path, **kwargs: object) -> None:
    with hdmf_lindi.File(path, "w", **kwargs) as f:  # type: ignore[arg-type]
        g = f.create_group("acq")
        g.attrs["description"] = "x"
        g.attrs["values"] = [1.5, 2.5]
        g.create_dataset("data", data=np.arange(60, dtype="<i4").reshape(6, 10), chunks=(3, 10))


def read(path: Path) -> tuple[dict[str, object], list[int]]:
    with hdmf_lindi.File(path) as f:
        attrs = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in f["acq"].attrs.items()}
        return attrs, f["acq/data"][...].ravel().tolist()


@pytest.mark.parametrize("suffix", FORMS)
def test_file_writes_either_spelling_and_reads_both_equal(tmp_path: Path, suffix: str) -> None:
    write(tmp_path / f"o{suffix}")
    write(tmp_path / f"t{suffix}", metadata_as_text=True)
    assert spelling(tmp_path / f"o{suffix}") == {dict}  # the default: lindi's spelling
    assert spelling(tmp_path / f"t{suffix}") == {str}
    assert read(tmp_path / f"t{suffix}") == read(tmp_path / f"o{suffix}")
    assert read(tmp_path / f"t{suffix}") == ({"description": "x", "values": [1.5, 2.5]}, list(range(60)))


def test_spelling_is_kept_on_update_and_changed_on_request(tmp_path: Path) -> None:
    path = tmp_path / "t.lindi.json"
    write(path, metadata_as_text=True)
    with hdmf_lindi.File(path, "r+") as f:
        assert f.metadata_as_text
        f["acq"].attrs["more"] = 3  # a new metadata value, written in the file's spelling
    assert spelling(path) == {str}
    with hdmf_lindi.File(path, "r+", metadata_as_text=False):
        pass  # no other change: the file is still rewritten in the asked spelling
    assert spelling(path) == {dict}
    assert read(path)[0] == {"description": "x", "values": [1.5, 2.5], "more": 3}
    with hdmf_lindi.File(path, "r", metadata_as_text=True) as f:
        assert f.metadata_as_text  # a read-only file reports it but is never rewritten
    assert spelling(path) == {dict}


def test_text_is_compact_sorted_json(tmp_path: Path) -> None:
    path = tmp_path / "t.lindi.json"
    write(path, metadata_as_text=True)
    refs = json.loads(path.read_text())["refs"]
    assert refs[".zgroup"] == '{"zarr_format": 2}'
    zarray = json.loads(refs["acq/data/.zarray"])
    assert refs["acq/data/.zarray"] == json.dumps(zarray, sort_keys=True)
    assert zarray["shape"] == [6, 10] and zarray["chunks"] == [3, 10]


def test_reference_map_detects_the_spelling() -> None:
    text = ReferenceMap.from_dict({"refs": {".zgroup": '{"zarr_format": 2}', "a/0": "xyz"}})
    objects = ReferenceMap.from_dict({"refs": {".zgroup": {"zarr_format": 2}}})
    mixed = ReferenceMap.from_dict({"refs": {".zgroup": {"zarr_format": 2}, "a/.zattrs": "{}"}})
    assert text.metadata_as_text and not objects.metadata_as_text and not mixed.metadata_as_text
    assert json.loads(text.to_json())["refs"][".zgroup"] == '{"zarr_format": 2}'
    assert json.loads(mixed.to_json())["refs"]["a/.zattrs"] == {}  # one spelling on write
    assert not ReferenceMap.from_dict({"refs": {}}).metadata_as_text


@pytest.mark.parametrize("suffix", FORMS)
def test_pack_converts_the_spelling_or_keeps_it(tmp_path: Path, suffix: str) -> None:
    src = tmp_path / "src.lindi.tar"
    write(src)
    hdmf_lindi.pack(src, tmp_path / f"text{suffix}", metadata_as_text=True)
    assert spelling(tmp_path / f"text{suffix}") == {str}
    hdmf_lindi.pack(tmp_path / f"text{suffix}", tmp_path / f"kept{suffix}")  # None: keep the source's
    assert spelling(tmp_path / f"kept{suffix}") == {str}
    hdmf_lindi.pack(tmp_path / f"text{suffix}", tmp_path / f"back{suffix}", metadata_as_text=False)
    assert spelling(tmp_path / f"back{suffix}") == {dict}
    for name in ("text", "kept", "back"):
        assert read(tmp_path / f"{name}{suffix}") == read(src)


def test_index_hdf5_option(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "s.h5", "w") as f:
        d = f.create_dataset("g/big", data=np.arange(5000, dtype="<f8"), chunks=(1000,))
        d.attrs["unit"] = "s"
    refmap = index_hdf5(tmp_path / "s.h5", tmp_path / "t.lindi.json", options=IndexOptions(metadata_as_text=True))
    assert refmap.metadata_as_text
    assert spelling(tmp_path / "t.lindi.json") == {str}
    index_hdf5(tmp_path / "s.h5", tmp_path / "o.lindi.json")
    assert spelling(tmp_path / "o.lindi.json") == {dict}
    for name in ("t", "o"):
        with hdmf_lindi.File(tmp_path / f"{name}.lindi.json") as f:
            assert f["g/big"].attrs["unit"] == "s"
            np.testing.assert_array_equal(f["g/big"][995:1005], np.arange(995, 1005, dtype="<f8"))


def test_compact_chunk_tables_keep_their_link_in_text_spelling(tmp_path: Path) -> None:
    """A compact table's fallback link (for lindi) is written in the text spelling too, and not
    read back as a user attribute."""
    with h5py.File(tmp_path / "s.h5", "w") as f:
        f.create_dataset("big", data=np.arange(4000, dtype="<i2"), chunks=(10,))
    options = IndexOptions(metadata_as_text=True, chunk_table_threshold=20)
    index_hdf5(tmp_path / "s.h5", tmp_path / "t.lindi.json", options=options)
    zattrs = json.loads(json.loads((tmp_path / "t.lindi.json").read_text())["refs"]["big/.zattrs"])
    assert "_EXTERNAL_ARRAY_LINK" in zattrs
    with hdmf_lindi.File(tmp_path / "t.lindi.json") as f:
        assert "_EXTERNAL_ARRAY_LINK" not in f.container.refmap.get_json("big/.zattrs")
        np.testing.assert_array_equal(f["big"][...], np.arange(4000, dtype="<i2"))
    hdmf_lindi.pack(tmp_path / "t.lindi.json", tmp_path / "p.lindi.json")
    assert spelling(tmp_path / "p.lindi.json") == {str}
    with hdmf_lindi.File(tmp_path / "p.lindi.json") as f:
        np.testing.assert_array_equal(f["big"][...], np.arange(4000, dtype="<i2"))
