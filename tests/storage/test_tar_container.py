"""Tar specifics, damaged archives, bad internal references, and crash safety of every form.

The archive is checked *around* the container: with Python's ``tarfile``, and with a small
independent header walker (``walk``) that verifies every ustar checksum and the 1024-byte
end-of-archive marker (``lindi-format.md`` §7).

Matrices:

* ``test_truncated_archive`` -- source (our archive, lindi's sample) x every 512-byte boundary
  and some odd offsets: opening either fails with a "truncated" error or, when only padding or
  the end marker was cut, returns exactly the original data.
* ``test_damaged_archive`` -- one row per corruption of the entry, the index or ``lindi.json``.
* ``test_crash_during_flush`` -- form x mode (``a`` over an existing file, ``w`` replacing one)
  x fault point (n-th ``os.pwrite`` / ``os.fsync`` / ``os.replace``, or serialisation raising):
  a second reader sees exactly the previous state, or the new one once the commit point has
  passed; after cleanup nothing but the file remains, and a later append works.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tarfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from faults import Faults, InjectedFault

from hdmf_lindi.errors import (
    ChunkRefError,
    ContainerPathError,
    FormatError,
    ReferenceMapError,
    TarLayoutError,
)
from hdmf_lindi.storage import open_container
from hdmf_lindi.storage.tar_layout import growth_bytes

SUFFIX = {"json": ".lindi.json", "tar": ".lindi.tar", "dir": ".lindi.d"}
BLOB = bytes(range(256)) * 12  # 3072 bytes: stored as a blob in tar/dir


def padded(n: int) -> int:
    return -(-n // 512) * 512


# ------------------------------------------------------------------ raw archive helpers


def checksum_ok(header: bytes) -> bool:
    stored = int(header[148:154], 8)
    return header[154:156] == b"\0 " and stored == sum(header[:148]) + 8 * 32 + sum(header[156:])


def walk(data: bytes) -> list[tuple[int, str, int]]:
    """Walk the headers; return ``(header offset, name, size)``, checking every checksum."""
    out, pos = [], 0
    while data[pos:pos + 512] != bytes(512):
        header = data[pos:pos + 512]
        assert header[257:265] == b"ustar\x0000" and checksum_ok(header), f"bad header at {pos}"
        size = int(header[124:135], 8)
        out.append((pos, header[:100].rstrip(b"\0").decode(), size))
        pos += 512 + padded(size)
    assert pos == len(data) - 1024, "the archive must end right after its last member"
    assert data[pos:] == bytes(1024)
    return out


def entry_of(data: bytes | bytearray) -> dict[str, Any]:
    return json.loads(data[512:1536].rstrip(b" "))


def index_of(data: bytes | bytearray) -> list[dict[str, Any]]:
    rec = entry_of(data)["index"]
    return json.loads(data[rec["d"]:rec["d"] + rec["s"]].rstrip(b" "))["files"]


def record(data: bytes | bytearray, name: str) -> dict[str, Any]:
    return next(r for r in index_of(data) if r["n"] == name)


def put_json(data: bytearray, d: int, s: int, obj: Any) -> None:
    raw = json.dumps(obj, indent=2).encode()
    assert len(raw) <= s
    data[d:d + s] = raw + b" " * (s - len(raw))


def edit_index(data: bytearray, change: Callable[[list[dict[str, Any]]], Any]) -> None:
    files = index_of(data)
    change(files)
    rec = entry_of(data)["index"]
    put_json(data, rec["d"], rec["s"], {"files": files})


def edit_entry(data: bytearray, change: Callable[[dict[str, Any]], Any]) -> None:
    entry = entry_of(data)
    change(entry["index"])
    put_json(data, 512, 1024, entry)


def edit_refs(data: bytearray, change: Callable[[dict[str, Any]], Any]) -> None:
    rec = record(data, "lindi.json")
    doc = json.loads(data[rec["d"]:rec["d"] + rec["s"]].rstrip(b" "))
    change(doc["refs"])
    put_json(data, rec["d"], rec["s"], doc)


def state(path: Path) -> dict[str, bytes | None]:
    """Everything a reader sees: the content of every key."""
    with open_container(path, "r") as c:
        return dict(zip(c.refmap.keys(), c.read_many(c.refmap.keys()), strict=True))


@pytest.fixture
def small_tar(tmp_path: Path) -> Path:
    path = tmp_path / "f.lindi.tar"
    with open_container(path, "w") as c:
        c.set_metadata("a/.zarray", {"zarr_format": 2, "shape": [3072]})
        c.store_chunk("a/1", b"inline")
    return path


@pytest.fixture
def blob_tar(small_tar: Path) -> Path:
    with open_container(small_tar, "a") as c:
        c.store_chunk("a/0", BLOB)
    return small_tar


# ------------------------------------------------------------------ layout


def test_new_archive_has_lindi_creation_layout(small_tar: Path) -> None:
    data = small_tar.read_bytes()
    expected = [(0, ".tar_entry.json", 1024), (1536, ".tar_index.json", 8192), (10240, "lindi.json", 8192)]
    assert walk(data) == expected
    assert len(data) == 10752 + 8192 + 1024
    with tarfile.open(small_tar) as tf:
        assert [(m.offset, m.name, m.size, m.offset_data) for m in tf.getmembers()] == [
            (o, n, s, o + 512) for o, n, s in expected
        ]
        assert all(m.isreg() and m.mode == 0o644 and m.mtime == 0 for m in tf.getmembers())
    assert entry_of(data) == {"index": {"n": ".tar_index.json", "o": 1536, "d": 2048, "s": 8192}}
    assert index_of(data) == [{"n": n, "o": o, "d": o + 512, "s": s} for o, n, s in expected]
    doc = json.loads(data[10752:10752 + 8192].rstrip(b" "))
    assert doc["version"] == 1 and doc["refs"]["a/1"] == "inline"
    assert data[10752 + 8192 - 1:10752 + 8192] == b" "


def test_new_archive_with_blob_appends_it_after_lindi_json(tmp_path: Path) -> None:
    path = tmp_path / "f.lindi.tar"
    with open_container(path, "w") as c:
        c.store_chunk("a/0", BLOB)
    data = path.read_bytes()
    assert walk(data)[2:] == [(10240, "lindi.json", 8192), (18944, "blobs/a/0", len(BLOB))]
    assert data[19456:19456 + len(BLOB)] == BLOB
    assert json.loads(data[10752:18944].rstrip(b" "))["refs"]["a/0"] == ["./blobs/a/0", 0, len(BLOB)]


@pytest.mark.parametrize("blob_size", [0, 1000, 5000])
def test_append_grows_by_new_members_and_trashes_old_json(small_tar: Path, blob_size: int) -> None:
    """The first update of a small archive (lindi's layout, no free space yet) appends its blob
    and a new index + lindi.json pair with growth room; the initial slots become trash."""
    before = small_tar.read_bytes()
    with open_container(small_tar, "a") as c:
        c.set_metadata("b/.zgroup", {"zarr_format": 2})
        if blob_size:
            c.store_chunk("b/0", bytes([7]) * blob_size)
    data = small_tar.read_bytes()
    new = [r for r in index_of(data) if r["o"] >= len(before) - 1024]
    assert sorted(r["n"] for r in new) == sorted(
        [".tar_index.json", "lindi.json"] + (["blobs/b/0"] if blob_size else [])
    )
    assert len(data) - len(before) == sum(512 + padded(r["s"]) for r in new)
    index, doc = record(data, ".tar_index.json"), record(data, "lindi.json")
    assert doc["o"] == index["d"] + index["s"]  # lindi.json right after the index
    json_len = len(data[doc["d"]:doc["d"] + doc["s"]].rstrip(b" "))
    pair = 512 + index["s"] + 512 + doc["s"]
    assert pair == growth_bytes(1024 + index["s"] + padded(json_len))
    assert pair - (1024 + index["s"] + padded(json_len)) == 64 * 1024  # the room, in lindi.json
    assert len(data) - len(before) == (512 + padded(blob_size) if blob_size else 0) + pair
    members = walk(data)
    assert members[0] == (0, ".tar_entry.json", 1024)
    trash = {o: n for o, n, _ in members if n.startswith(".trash/")}
    assert sorted(trash) == [1536, 10240]
    assert re.fullmatch(r"\.trash/\.tar_index\.json\.[a-z]{10}", trash[1536])
    assert re.fullmatch(r"\.trash/lindi\.json\.[a-z]{10}", trash[10240])
    assert data[2048:2048 + 8192] == b"-" * 8192
    assert data[10752:10752 + 8192] == b"-" * 8192
    with tarfile.open(small_tar) as tf:
        names = tf.getnames()
    assert set(trash.values()) <= set(names)
    assert {r["n"] for r in index_of(data)}.isdisjoint(trash.values())
    assert entry_of(data)["index"] == record(data, ".tar_index.json")
    assert state(small_tar)["a/1"] == b"inline"


@pytest.fixture
def sample_tar(lindi_samples: Path) -> Path:
    """lindi's tar, written and then appended to by lindi 0.4.6 (read-only: copy it to change it)."""
    return lindi_samples / "written.lindi.tar"


def test_lindi_sample_passes_the_walker(sample_tar: Path) -> None:
    data = sample_tar.read_bytes()
    assert [n for _, n, _ in walk(data)] == [
        ".tar_entry.json", ".tar_index.json", "lindi.json", "blobs/rand/0", "blobs/rand/1", "blobs/rand/0.v2",
    ]


def test_append_to_lindi_sample_keeps_it_valid(tmp_path: Path, sample_tar: Path) -> None:
    path = tmp_path / "s.lindi.tar"
    shutil.copyfile(sample_tar, path)
    before = state(path)
    with open_container(path, "a") as c:
        c.store_chunk("rand/1", BLOB)
    after = state(path)
    assert after == {**before, "rand/1": BLOB}
    assert "blobs/rand/1.v2" in [n for _, n, _ in walk(path.read_bytes())]


# ------------------------------------------------------------------ truncation and damage


def _truncation_points(size: int) -> list[int]:
    return sorted(set(range(0, size + 1, 512)) | {1, 300, 511, 700, 1535, 2049, size - 1, size - 700})


@pytest.mark.parametrize("source", ["ours", "lindi"])
def test_truncated_archive(request: pytest.FixtureRequest, tmp_path: Path, blob_tar: Path, source: str) -> None:
    source_path = blob_tar if source == "ours" else request.getfixturevalue("sample_tar")
    original = source_path.read_bytes()
    path = tmp_path / "cut.lindi.tar"
    shutil.copyfile(source_path, path)
    expected = state(path)
    data_end = max(r["d"] + r["s"] for r in index_of(original))
    outcomes: Counter[str] = Counter()
    for cut in _truncation_points(len(original)):
        path.write_bytes(original[:cut])
        if cut >= data_end:
            assert state(path) == expected, cut
            outcomes["intact"] += 1
        elif cut < 262:  # not even the ustar magic is left
            with pytest.raises(FormatError, match="is not a LINDI file"):
                open_container(path, "r")
            outcomes["unrecognised"] += 1
        else:
            with pytest.raises(TarLayoutError, match="truncated") as info:
                open_container(path, "r")
            assert str(path) in str(info.value), cut
            outcomes["truncated"] += 1
    assert outcomes["truncated"] > len(original) // 512 - 4
    assert outcomes["intact"] >= 2


def _overwrite(name: str, raw: bytes) -> Callable[[bytearray], None]:
    def damage(data: bytearray) -> None:
        d = record(data, name)["d"]
        data[d:d + len(raw)] = raw

    return damage


def _drop(name: str) -> Callable[[list[dict[str, Any]]], None]:
    return lambda files: files.remove(next(r for r in files if r["n"] == name))


def _add(rec: dict[str, Any]) -> Callable[[list[dict[str, Any]]], None]:
    return lambda files: files.append(rec)


DAMAGE: dict[str, tuple[Callable[[bytearray], None], type[Exception], str]] = {
    "name-dotdot": (
        lambda b: edit_index(b, _add({"n": "../evil", "o": 10240, "d": 10752, "s": 10})),
        ContainerPathError, r"'\.\./evil' .* escapes the archive",
    ),
    "name-nested-dotdot": (
        lambda b: edit_index(b, _add({"n": "blobs/../../evil", "o": 10240, "d": 10752, "s": 10})),
        ContainerPathError, "escapes the archive",
    ),
    "name-absolute": (
        lambda b: edit_index(b, _add({"n": "/etc/passwd", "o": 10240, "d": 10752, "s": 10})),
        ContainerPathError, r"'/etc/passwd' .* escapes the archive",
    ),
    "entry-wrong-name": (
        lambda b: edit_entry(b, lambda r: r.update(n="lindi.json")),
        TarLayoutError, r"points at 'lindi\.json', expected '\.tar_index\.json'",
    ),
    "entry-wrong-member": (
        lambda b: edit_entry(b, lambda r: r.update(record(b, "lindi.json"), n=".tar_index.json")),
        TarLayoutError, r"The index of .* has no 'files' list; the archive is corrupt",
    ),
    "entry-wrong-size": (
        lambda b: edit_entry(b, lambda r: r.update(s=len(b[r["d"]:r["d"] + r["s"]].rstrip(b" ")))),
        TarLayoutError, r"does not list itself",
    ),
    "entry-bad-offsets": (
        lambda b: edit_entry(b, lambda r: r.update(d=r["o"] + 500)),
        TarLayoutError, r"is inconsistent: data offset (\d+) should be header offset \d+ \+ 512",
    ),
    "entry-no-index": (
        lambda b: put_json(b, 512, 1024, {"idx": {}}), TarLayoutError, r"has no 'index' pointer",
    ),
    "entry-not-json": (
        lambda b: b.__setitem__(slice(512, 520), b"{{{{{{{{"), TarLayoutError,
        r"The entry record \(\.tar_entry\.json\) of .* is not valid JSON .* corrupt or truncated",
    ),
    "index-without-entry": (
        lambda b: edit_index(b, _drop(".tar_entry.json")),
        TarLayoutError, r"lacks the record \{n: \.tar_entry\.json, o: 0, d: 512, s: 1024\}",
    ),
    "index-entry-moved": (
        lambda b: edit_index(b, lambda f: f[0].update(s=512)), TarLayoutError, r"lacks the record",
    ),
    "index-without-itself": (
        lambda b: edit_index(b, _drop(".tar_index.json")), TarLayoutError, r"does not list itself",
    ),
    "index-without-lindi-json": (
        lambda b: edit_index(b, _drop("lindi.json")), TarLayoutError, r"has no lindi\.json member",
    ),
    "index-record-malformed": (
        lambda b: edit_index(b, _add({"n": "x", "o": "10240", "d": 10752, "s": 1})),
        TarLayoutError, r"is malformed; expected",
    ),
    "index-not-json": (
        _overwrite(".tar_index.json", b"]]"), TarLayoutError, r"The index of .* is not valid JSON",
    ),
    "lindi-json-broken": (
        _overwrite("lindi.json", b"["), ReferenceMapError, r"lindi\.json is not valid JSON",
    ),
    "magic-only-in-first-header": (
        lambda b: b.__setitem__(slice(257, 262), b"xxxxx"), FormatError, r"is not a LINDI file",
    ),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_archive(blob_tar: Path, case: str) -> None:
    damage, error, match = DAMAGE[case]
    data = bytearray(blob_tar.read_bytes())
    damage(data)
    blob_tar.write_bytes(bytes(data))
    for mode in ("r", "a"):
        with pytest.raises(error, match=match) as info:
            open_container(blob_tar, mode)
        assert type(info.value) is error
    assert blob_tar.read_bytes() == data


REF_ERRORS: dict[str, tuple[list[Any], str | None]] = {
    "not-indexed": (["./blobs/x", 0, 3], r"'x/0' of .* refers to member 'blobs/x', which is not in the archive's index"),
    "escaping": (["./../outside", 0, 3], r"member '\.\./outside', which is not in the archive's index"),
    "past-member": (["./blobs/a/0", 3000, 73], r"bytes 3000-3073 of member 'blobs/a/0', which has only 3072 bytes"),
    "trashed": (["./.trash/lindi.json", 0, 3], r"member '\.trash/lindi\.json', which is not in the archive's index"),
    "other-live-member": (["./lindi.json", 0, 3], None),  # any indexed member is readable
}


@pytest.mark.parametrize("case", list(REF_ERRORS))
def test_bad_internal_reference(blob_tar: Path, case: str) -> None:
    ref, match = REF_ERRORS[case]
    data = bytearray(blob_tar.read_bytes())
    edit_refs(data, lambda refs: refs.update({"x/0": ref}))
    blob_tar.write_bytes(bytes(data))
    with open_container(blob_tar, "r") as c:
        assert c.read("a/0") == BLOB
        if match is None:
            assert c.read("x/0") == b"{\n "
            return
        with pytest.raises(ChunkRefError, match=match) as info:
            c.read_many(["a/0", "x/0"])
        assert info.value.key == "x/0"


DIR_REF_ERRORS: dict[str, tuple[list[Any], type[Exception], str]] = {
    "escaping": (["./../outside", 0, 3], ContainerPathError, r"Name '\.\./outside' in .* escapes its container"),
    "escaping-nested": (["./blobs/../../outside", 0, 3], ContainerPathError, "escapes its container"),
    "absolute": (["./" + "/etc/passwd", 0, 3], ContainerPathError, "escapes its container"),
    "missing-blob": (["./blobs/gone", 0, 3], ChunkRefError, r"refers to blob 'blobs/gone', which does not exist"),
    "past-blob": (["./blobs/a/0", 3070, 3], ChunkRefError, r"bytes 3070-3073 of blob 'blobs/a/0', which has only 3072"),
}


@pytest.mark.parametrize("case", list(DIR_REF_ERRORS))
def test_dir_bad_internal_reference(tmp_path: Path, case: str) -> None:
    ref, error, match = DIR_REF_ERRORS[case]
    path = tmp_path / "f.lindi.d"
    (tmp_path / "outside").write_bytes(b"secret")
    with open_container(path, "w") as c:
        c.store_chunk("a/0", BLOB)
    doc = json.loads((path / "lindi.json").read_bytes())
    doc["refs"]["x/0"] = ref
    (path / "lindi.json").write_text(json.dumps(doc))
    with open_container(path, "r") as c:
        assert c.read("a/0") == BLOB
        with pytest.raises(error, match=match):
            c.read("x/0")


def test_dir_blob_deleted_after_write(tmp_path: Path) -> None:
    path = tmp_path / "f.lindi.d"
    with open_container(path, "w") as c:
        c.store_chunk("a/0", BLOB)
    (path / "blobs" / "a" / "0").unlink()
    with open_container(path, "r") as c, pytest.raises(ChunkRefError, match="'blobs/a/0', which does not exist"):
        c.read("a/0")


# ------------------------------------------------------------------ crash safety




# (form, mode) -> [(function, n-th call, state a reader sees afterwards)]
OLD, NEW = "old", "new"
CRASHES: dict[tuple[str, str], list[tuple[str, int, str]]] = {
    ("tar", "a"): [  # the new pair reuses the initial slots, trashed by the first update
        ("to_json", 1, OLD), ("encode_padded_json", 1, OLD),
        ("pwrite", 1, OLD), ("pwrite", 2, OLD), ("pwrite", 3, OLD),  # region header, pair, split
        ("fsync", 1, OLD), ("encode_padded_json", 2, OLD),
        ("pwrite", 4, OLD),  # pwrite 4 rewrites the entry: the commit
        ("fsync", 2, NEW), ("pwrite", 5, NEW), ("pwrite", 10, NEW),  # after the commit: renaming
    ],
    ("tar", "w"): [("to_json", 1, OLD), ("pwrite", 1, OLD), ("pwrite", 2, OLD), ("fsync", 1, OLD), ("replace", 1, OLD)],
    ("json", "a"): [("to_json", 1, OLD), ("fsync", 1, OLD), ("replace", 1, OLD)],
    ("json", "w"): [("to_json", 1, OLD), ("fsync", 1, OLD), ("replace", 1, OLD)],
    ("dir", "a"): [("to_json", 1, OLD), ("fsync", 1, OLD), ("replace", 1, OLD)],
    ("dir", "w"): [
        ("to_json", 1, OLD), ("fsync", 1, OLD), ("replace", 1, OLD),
        ("replace", 2, OLD), ("replace", 3, OLD),  # moving the old directory aside, the new one in
    ],
}
CRASH_CASES = [
    pytest.param(form, mode, fn, n, seen, id=f"{form}-{mode}-{fn}#{n}")
    for (form, mode), points in CRASHES.items()
    for fn, n, seen in points
]


def _make_existing(path: Path) -> None:
    with open_container(path, "w") as c:
        c.set_metadata("old/.zgroup", {"zarr_format": 2})
        c.store_chunk("old/0", b"old small")
        c.store_chunk("old/1", BLOB)
    with open_container(path, "a") as c:  # an archive that has been appended to already
        c.store_chunk("old/2", BLOB[::-1])


@pytest.mark.parametrize(("form", "mode", "fn", "n", "seen"), CRASH_CASES)
def test_crash_during_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form: str, mode: str, fn: str, n: int, seen: str
) -> None:
    path = tmp_path / f"f{SUFFIX[form]}"
    _make_existing(path)
    old = state(path)
    faults = Faults(monkeypatch)

    writer = open_container(path, mode)
    writer.store_chunk("old/0", b"rewritten")
    writer.store_chunk("new/0", bytes(range(200)) * 20)  # 4000 bytes, a blob in tar and dir
    writer.set_metadata("new/.zgroup", {"zarr_format": 2})
    new = {k: writer.read(k) for k in writer.refmap}
    assert new != old
    faults.arm(fn, n)
    with pytest.raises(InjectedFault, match=f"{fn} call {n}"):
        writer.flush()

    # What a second process sees right after the failure, and after the writer gave up.
    assert state(path) == (old if seen == OLD else new)
    faults.kill()
    with contextlib.suppress(InjectedFault):
        writer.close()
    assert writer.closed
    faults.heal()
    assert state(path) == (old if seen == OLD else new)
    assert os.listdir(tmp_path) == [path.name], "temporary files must be cleaned up"

    # The next writer reclaims whatever the failed one left behind.
    with open_container(path, "a") as c:
        c.store_chunk("late/0", b"L" * 1500)
    assert state(path) == {**(old if seen == OLD else new), "late/0": b"L" * 1500}
    if form == "tar":
        names = [name for _, name, _ in walk(path.read_bytes())]
        assert {r["n"] for r in index_of(path.read_bytes())} <= set(names)
