"""One conformance suite for every container form, subclassed for json / tar / dir.

``ContainerSuite`` holds the behaviour every container must have (``containers.py``'s contract):
chunks and metadata round-trip, small chunks stay inline and large ones become blobs (except in
JSON), h5py's mode semantics, a second reader sees the previous state until ``flush``, and a
flush without changes leaves the file untouched. Each subclass supplies raw helpers that read
the file *around* the container (``json``, ``tarfile``, plain files), so the suite checks what is
on disk, not only what the container says. The subclasses also read the files the real lindi
0.4.6 wrote (the ``lindi_samples`` fixture) and cross-check their blob bytes.

The parametrised matrices are chunk size (0 .. 4097 bytes, around the 1000-byte inline
threshold) x form, and write operation x form for the read-only checks.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest

from hdmf_lindi.errors import FormatError, ModeError, UnsupportedError
from hdmf_lindi.storage import Container, open_container, sniff_kind
from hdmf_lindi.storage.containers import INLINE_MAX_BYTES

ZGROUP = {"zarr_format": 2}
ZARRAY = {
    "zarr_format": 2, "shape": [8], "chunks": [8], "dtype": "|u1", "fill_value": 0,
    "order": "C", "compressor": None, "filters": None,
}
SIZES = [0, 1, 7, INLINE_MAX_BYTES - 1, INLINE_MAX_BYTES, 4097]

Snapshot = dict[str, tuple[bytes, int]]


def payload(n: int, seed: int = 0) -> bytes:
    """Deterministic random bytes (not ASCII, so inline values are ``base64:``)."""
    return random.Random(f"{seed}-{n}").randbytes(n)


def decode_inline(raw: str) -> bytes:
    """Decode an inline ``refs`` string independently of ``ReferenceMap``."""
    return base64.b64decode(raw[7:]) if raw.startswith("base64:") else raw.encode("utf-8")


def snapshot(path: Path) -> Snapshot:
    """Every file under ``path`` (or ``path`` itself) with its bytes and mtime, plus inodes."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*"))
    out: Snapshot = {"": (b"", path.stat().st_ino)}
    for p in files:
        st = p.stat()
        out[str(p.relative_to(path.parent))] = (p.read_bytes() if p.is_file() else b"", st.st_mtime_ns)
    return out


class ContainerSuite:
    """Behaviour common to all forms. Subclasses set ``kind`` and ``suffix`` and the raw helpers."""

    kind: str
    suffix: str
    sample_name: str
    """The file of the ``lindi_samples`` folder in this form."""

    # -------------------------------------------------------------- raw helpers (around the container)
    def raw_document(self, path: Path) -> dict[str, Any]:
        """The reference-map JSON as stored on disk."""
        raise NotImplementedError

    def raw_blob(self, path: Path, name: str) -> bytes:
        """The bytes of blob ``name`` (``blobs/...``) as stored on disk."""
        raise NotImplementedError

    # -------------------------------------------------------------- fixtures
    @pytest.fixture
    def path(self, tmp_path: Path) -> Path:
        return tmp_path / f"f{self.suffix}"

    @pytest.fixture
    def existing(self, path: Path) -> Path:
        """A file holding ``.zgroup``, ``old/.zarray``, ``old/0`` (small) and ``old/1`` (large)."""
        with open_container(path, "w") as c:
            c.set_metadata("old/.zarray", ZARRAY)
            c.store_chunk("old/0", b"old small")
            c.store_chunk("old/1", payload(3000, seed=1))
        return path

    def check_old_state(self, path: Path) -> None:
        with open_container(path, "r") as reader:
            assert reader.read("old/0") == b"old small"
            assert reader.read("old/1") == payload(3000, seed=1)
            assert reader.read("new/0") is None

    # -------------------------------------------------------------- round trip
    @pytest.mark.parametrize("size", SIZES)
    def test_chunks_and_metadata_round_trip(self, path: Path, size: int) -> None:
        data = payload(size)
        with open_container(path, "w") as c:
            assert c.kind == self.kind
            c.set_metadata("a/.zarray", ZARRAY)
            c.store_chunk("a/0", data)
            c.store_chunk("a/1", b"small text chunk")
        with open_container(path, "r") as c:
            assert c.kind == self.kind
            assert c.read("a/0") == data
            assert c.read_many(["a/1", "a/9", "a/0"]) == [b"small text chunk", None, data]
            assert c.refmap.get_json("a/.zarray") == ZARRAY
            assert c.refmap.get_json(".zgroup") == ZGROUP
        doc = self.raw_document(path)
        assert doc["version"] == 1
        assert doc["refs"]["a/.zarray"] == ZARRAY
        self.check_placement(path, doc["refs"]["a/0"], data)

    def check_placement(self, path: Path, raw: Any, data: bytes) -> None:
        """Small chunks inline, large ones as ``./blobs/<key>`` members with exactly ``data``."""
        if len(data) < INLINE_MAX_BYTES:
            assert isinstance(raw, str)
            assert decode_inline(raw) == data
        else:
            assert raw == ["./blobs/a/0", 0, len(data)]
            assert self.raw_blob(path, "blobs/a/0") == data

    # -------------------------------------------------------------- modes
    @pytest.mark.parametrize("mode", ["r", "r+"])
    def test_missing_file_cannot_be_opened_for_reading(self, path: Path, mode: str) -> None:
        with pytest.raises(ModeError, match=f"in mode {re.escape(repr(mode))}: no such file or directory"):
            open_container(path, mode)
        with pytest.raises(FileNotFoundError):  # as h5py and NWBHDF5IO raise it
            open_container(path, mode)
        assert not path.exists()

    @pytest.mark.parametrize("mode", ["w-", "x"])
    def test_exclusive_create_refuses_existing(self, existing: Path, mode: str) -> None:
        before = snapshot(existing)
        with pytest.raises(ModeError, match=f"Cannot create .* in mode {re.escape(repr(mode))}: it already exists"):
            open_container(existing, mode)
        assert snapshot(existing) == before

    @pytest.mark.parametrize("mode", ["w-", "x"])
    def test_exclusive_create_makes_new_file(self, path: Path, mode: str) -> None:
        with open_container(path, mode) as c:
            c.store_chunk("new/0", b"n")
        with open_container(path, "r") as c:
            assert c.read("new/0") == b"n"

    @pytest.mark.parametrize("mode", ["rw", "R", "", "a+", "wb"])
    def test_unknown_mode(self, path: Path, mode: str) -> None:
        with pytest.raises(ModeError, match=f"Unknown mode {re.escape(repr(mode))}; use one of r, r\\+, a, w, w-, x"):
            open_container(path, mode)
        assert not path.exists()

    @pytest.mark.parametrize(
        "write",
        [
            lambda c: c.store_chunk("old/0", b"x"),
            lambda c: c.store_chunk("new/0", payload(2000)),
            lambda c: c.set_metadata("new/.zgroup", ZGROUP),
            lambda c: c.delete("old/0"),
            lambda c: c.flush(),
        ],
        ids=["store-small", "store-large", "set-metadata", "delete", "flush"],
    )
    def test_read_only_rejects_writes(self, existing: Path, write: Any) -> None:
        before = snapshot(existing)
        with open_container(existing, "r") as c:
            with pytest.raises(ModeError, match="is open read-only; reopen it with mode 'r\\+' or 'a'"):
                write(c)
        assert snapshot(existing) == before
        self.check_old_state(existing)

    def test_closed_container_rejects_writes(self, existing: Path) -> None:
        c = open_container(existing, "a")
        c.close()
        c.close()  # idempotent
        with pytest.raises(ModeError, match="is closed"):
            c.store_chunk("new/0", b"x")

    def test_append_creates_when_missing(self, path: Path) -> None:
        with open_container(path, "a") as c:
            c.store_chunk("new/0", b"n")
        with open_container(path, "r") as c:
            assert c.read("new/0") == b"n"
            assert c.refmap.get_json(".zgroup") == ZGROUP

    @pytest.mark.parametrize("mode", ["a", "r+"])
    def test_modify_existing_keeps_other_keys(self, existing: Path, mode: str) -> None:
        with open_container(existing, mode) as c:
            c.store_chunk("new/0", b"n")
            c.store_chunk("new/1", payload(1500, seed=2))
            c.delete("old/0")
        with open_container(existing, "r") as c:
            assert c.read("new/0") == b"n"
            assert c.read("new/1") == payload(1500, seed=2)
            assert c.read("old/0") is None
            assert c.read("old/1") == payload(3000, seed=1)
            assert c.refmap.get_json("old/.zarray") == ZARRAY

    @pytest.mark.parametrize("size", [5, 3000])
    def test_rewrite_is_invisible_to_readers_until_flush(self, existing: Path, size: int) -> None:
        key = "old/0" if size < INLINE_MAX_BYTES else "old/1"
        new = payload(size, seed=9)
        with open_container(existing, "a") as writer:
            writer.store_chunk(key, new)
            assert writer.read(key) == new
            self.check_old_state(existing)
            with open_container(existing, "r") as early_reader:
                writer.flush()
                # A reader opened before the flush keeps a consistent view of the old state.
                assert early_reader.read("old/1") == payload(3000, seed=1)
            with open_container(existing, "r") as reader:
                assert reader.read(key) == new
        with open_container(existing, "r") as reader:
            assert reader.read(key) == new

    @pytest.mark.parametrize("mode", ["a", "r+"])
    def test_flush_without_changes_leaves_file_untouched(self, existing: Path, mode: str) -> None:
        before = snapshot(existing)
        with open_container(existing, mode) as c:
            assert c.read("old/1") == payload(3000, seed=1)
            c.flush()
            c.flush()
        assert snapshot(existing) == before

    def test_write_mode_replaces_only_when_flushed(self, existing: Path) -> None:
        writer = open_container(existing, "w")
        try:
            writer.store_chunk("new/0", b"new small")
            writer.store_chunk("new/1", payload(2000, seed=3))
            assert writer.read("old/0") is None
            self.check_old_state(existing)
        finally:
            writer.close()
        with open_container(existing, "r") as c:
            assert c.read("new/0") == b"new small"
            assert c.read("new/1") == payload(2000, seed=3)
            assert c.read("old/0") is None and c.read("old/1") is None
            assert c.refmap.get_json("old/.zarray") is None
        assert sorted(p.name for p in existing.parent.iterdir()) == [existing.name]

    def test_write_mode_without_changes_still_creates(self, path: Path) -> None:
        open_container(path, "w").close()
        with open_container(path, "r") as c:
            assert list(c.refmap) == [".zgroup"]
        assert self.raw_document(path) == {"version": 1, "refs": {".zgroup": ZGROUP}}

    # -------------------------------------------------------------- files written by lindi 0.4.6
    def test_reads_lindi_sample(self, lindi_samples: Path) -> None:
        sample = lindi_samples / self.sample_name
        with open_container(sample, "r") as c:
            assert c.kind == self.kind
            assert c.refmap.get_json(".zgroup") == ZGROUP
            assert c.refmap.get_json(".zattrs") == {"nan_attr": "NaN", "title": "written by lindi"}
            zarray = c.refmap.get_json("rand/.zarray")
            assert zarray["shape"] == [1200] and zarray["chunks"] == [600]
            assert c.refmap.get_json("g/strs/.zarray")["dtype"] == "|O"
            chunks = c.read_many(["rand/0", "rand/1", "g/strs/0"])
            assert all(len(x) == 4265 for x in chunks[:2])  # type: ignore[arg-type]
            assert chunks[2] is not None and chunks[2].endswith(b'["a","b","|O",[2]]')
            assert chunks[0] == self.sample_chunk(sample, c, "rand/0")
            assert chunks[1] == self.sample_chunk(sample, c, "rand/1")
            assert chunks[0] != chunks[1]

    def sample_chunk(self, sample: Path, c: Container, key: str) -> bytes:
        """The bytes of ``key`` of the lindi sample, read without the container."""
        raw: Any = c.refmap.raw(key)
        url, offset, length = raw
        assert url.startswith("./blobs/")
        return self.raw_blob(sample, url[2:])[offset:offset + length]


class TestJsonContainer(ContainerSuite):
    kind = "json"
    suffix = ".lindi.json"
    sample_name = "written.lindi.json"

    def raw_document(self, path: Path) -> dict[str, Any]:
        return json.loads(path.read_bytes())

    def check_placement(self, path: Path, raw: Any, data: bytes) -> None:
        assert isinstance(raw, str)  # every chunk is inline in the JSON form
        assert decode_inline(raw) == data

    def sample_chunk(self, sample: Path, c: Container, key: str) -> bytes:
        raw = self.raw_document(sample)["refs"][key]
        assert raw.startswith("base64:")
        return base64.b64decode(raw[len("base64:"):])

    def test_reads_lindi_conversion_with_templates(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lindi_samples: Path
    ) -> None:
        # features.lindi.json refers to features.h5 through the template {{u1}} = "features.h5",
        # a path relative to the document (not to the working directory).
        monkeypatch.chdir(tmp_path)
        h5 = (lindi_samples / "features.h5").read_bytes()
        with open_container(lindi_samples / "features.lindi.json", "r") as c:
            assert c.refmap.templates == {"u1": "features.h5"}
            ranges = [k for k in c.refmap if isinstance(c.refmap.raw(k), list)]
            assert len(ranges) >= 5
            for key, data in zip(ranges, c.read_many(ranges), strict=True):
                raw: Any = c.refmap.raw(key)
                _, offset, length = raw
                assert data == h5[offset:offset + length]


class TestTarContainer(ContainerSuite):
    kind = "tar"
    suffix = ".lindi.tar"
    sample_name = "written.lindi.tar"

    def raw_document(self, path: Path) -> dict[str, Any]:
        return json.loads(self.raw_blob(path, "lindi.json").rstrip(b" "))

    def raw_blob(self, path: Path, name: str) -> bytes:
        with tarfile.open(path) as tf:
            fh = tf.extractfile(name)
            assert fh is not None
            return fh.read()


class TestDirContainer(ContainerSuite):
    kind = "dir"
    suffix = ".lindi.d"
    sample_name = "written.lindi.d"

    def raw_document(self, path: Path) -> dict[str, Any]:
        return json.loads((path / "lindi.json").read_bytes())

    def raw_blob(self, path: Path, name: str) -> bytes:
        return (path / name).read_bytes()

    def test_missing_lindi_json(self, tmp_path: Path) -> None:
        (tmp_path / "empty.lindi.d").mkdir()
        with pytest.raises(FormatError, match="is a directory without lindi.json"):
            open_container(tmp_path / "empty.lindi.d", "r")


# ------------------------------------------------------------------ sniffing

HDF5_HEAD = b"\x89HDF\r\n\x1a\n" + bytes(504)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'{"refs": {}}', "json"),
        (b'\n  {"refs": {}}', "json"),
        (bytes(257) + b"ustar\x0000" + bytes(247), "tar"),
    ],
)
def test_sniff_kind(head: bytes, expected: str) -> None:
    assert sniff_kind(head, "f") == expected


@pytest.mark.parametrize(
    ("head", "error", "match"),
    [
        (HDF5_HEAD, UnsupportedError, r"f is an HDF5 file, not a LINDI file.*index_hdf5"),
        (b"PK\x03\x04garbage", FormatError, r"f is not a LINDI file: .*starts with b'PK"),
        (b"", FormatError, r"f is not a LINDI file"),
        (bytes(512), FormatError, r"neither a \.lindi\.tar archive \(no ustar header\)"),
    ],
)
def test_sniff_kind_rejects(head: bytes, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        sniff_kind(head, "f")


@pytest.mark.parametrize(
    ("name", "content", "error", "match"),
    [
        ("x.lindi.json", None, UnsupportedError, "is an HDF5 file"),  # None: lindi's features.h5
        ("x.lindi.tar", b"garbage" * 100, FormatError, "is not a LINDI file"),
        ("x.lindi.json", b"{not json", FormatError, "is not valid JSON"),
    ],
)
def test_open_rejects_non_lindi_files(
    request: pytest.FixtureRequest, tmp_path: Path, name: str, content: bytes | None,
    error: type[Exception], match: str,
) -> None:
    if content is None:  # the head of the HDF5 file in lindi's samples
        content = (request.getfixturevalue("lindi_samples") / "features.h5").read_bytes()[:4096]
    path = tmp_path / name
    path.write_bytes(content)
    for mode in ("r", "a"):
        with pytest.raises(error, match=match):
            open_container(path, mode)
    assert path.read_bytes() == content
    assert os.listdir(tmp_path) == [name]


def test_folder_that_is_no_container_says_what_it_lacks(tmp_path: Path) -> None:
    folder = tmp_path / "session"
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("hi")
    with pytest.raises(FormatError, match="nor a Zarr directory store .no zarr.json or .zgroup"):
        open_container(folder, "r")
