"""Space reuse in ``.lindi.tar`` updates: the index + lindi.json pair ping-pongs between regions.

Checked *around* the container, with the raw index, the header walker of
``test_tar_container`` (every checksum, the chain of sizes, the end marker) and ``tarfile``.

* planner -- table-driven cases of ``free_regions`` and ``plan_pair`` (pure).
* growth -- N small flushes grow a file by exactly their blobs (archive kind: lindi's small
  layout, or a new archive with a spare region); a JSON that keeps growing is relocated rarely.
* crash matrix -- flush kind (reuse a free region, append a pair, publish a new archive with a
  spare) x every ``os.pwrite`` / ``os.fsync`` of the flush: a reader sees the previous state
  until the entry rewrite and the new one after; the tar listing is valid and names are
  unambiguous right after the failure; the next writer cleans up.
* retries -- after a failed commit (the entry write, or the sync after it) either pair may be
  live, so retried flushes with more changes write elsewhere; a dead member still carrying a
  live name is renamed to trash by the next flush.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tarfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from faults import Faults, InjectedFault
from test_tar_container import entry_of, index_of, padded, state, walk

from hdmf_lindi.storage import open_container
from hdmf_lindi.storage.tar_container import TarContainer
from hdmf_lindi.storage.tar_layout import (
    PairPlan,
    free_regions,
    growth_bytes,
    plan_pair,
    trash_header,
)
from hdmf_lindi.storage.tar_layout import Record as R

KIB = 1024
BLOB_BYTES = 1000  # a small new chunk per flush: one 512-byte header + 1024 bytes in the tar


def blob(i: int) -> bytes:
    return bytes([i % 256]) * BLOB_BYTES


def live(data: bytes, name: str) -> dict[str, Any]:
    return next(r for r in index_of(data) if r["n"] == name)


def names(path: Path) -> list[str]:
    with tarfile.open(path) as tf:
        return [m.name for m in tf.getmembers()]


def assert_clean_names(path: Path) -> None:
    """Exactly one member per live name, at the offset the index gives; all else is trash."""
    data = path.read_bytes()
    index = {r["n"]: r for r in index_of(data)}
    members = walk(data)
    for offset, name, size in members:
        if name in index:
            assert (offset, size) == (index[name]["o"], index[name]["s"]), name
        else:
            assert name.startswith(".trash/"), name
    assert Counter(n for _, n, _ in members if not n.startswith(".trash/")) == Counter(list(index))
    with tarfile.open(path) as tf:
        member = tf.extractfile("lindi.json")
        assert member is not None
        doc = json.loads(member.read())
    assert "refs" in doc


def big_refs(n: int) -> dict[str, Any]:
    """Metadata for ``n`` groups: about 60 bytes of lindi.json each."""
    return {f"group_{i:04d}/.zattrs": {"i": i} for i in range(n)}


@pytest.fixture
def small_tar(tmp_path: Path) -> Path:
    """lindi's creation layout: index and lindi.json in the 8 KiB initial slots, no spare."""
    path = tmp_path / "small.lindi.tar"
    with open_container(path, "w") as c:
        c.set_metadata("a/.zgroup", {"zarr_format": 2})
    return path


@pytest.fixture
def large_tar(tmp_path: Path) -> Path:
    """A new archive whose lindi.json (about 30 KB) outgrew the initial slot: it has a spare."""
    path = tmp_path / "large.lindi.tar"
    with open_container(path, "w") as c:
        for key, value in big_refs(500).items():
            c.set_metadata(key, value)
    return path


# ------------------------------------------------------------------ planner (pure)


def rec(o: int, s: int) -> R:
    return R(n="x", o=o, d=o + 512, s=s)


@pytest.mark.parametrize(
    ("records", "end", "expected"),
    [
        ([rec(0, 1024), rec(1536, 100)], 2560, []),
        ([rec(0, 1024), rec(5120, 100)], 6144, [(1536, 5120)]),
        ([rec(5120, 100), rec(0, 1024), rec(9216, 0)], 9728, [(1536, 5120), (6144, 9216)]),
        ([rec(0, 1024), rec(1536, 1)], 8192, [(2560, 8192)]),  # trash members end the archive
    ],
    ids=["contiguous", "one-gap", "unsorted-two-gaps", "dead-tail"],
)
def test_free_regions(records: list[R], end: int, expected: list[tuple[int, int]]) -> None:
    assert free_regions(records, end) == expected


@pytest.mark.parametrize(
    ("regions", "end", "spare", "expected"),
    [
        # no region holds the 1024 + 1024 + 2048 = 4096 bytes: appended with 64 KiB of room
        ([(1536, 4608)], 50_000, False, PairPlan(50_000, 1024, 51_536, 67_584, 119_632, True, None, 119_632)),
        # best fit: the smaller of two large-enough regions, used whole
        ([(1536, 100_000), (200_000, 204_096)], 300_000, False,
         PairPlan(200_000, 1024, 201_536, 2048, 204_096, False, None, 300_000)),
        # a region larger than growth_bytes(4096) = 69_632: the pair takes that much, the rest stays free
        ([(1536, 201_536)], 300_000, False, PairPlan(1536, 1024, 3072, 67_584, 201_536, False, None, 300_000)),
        # a new archive: spare region first, then the pair, each of growth_bytes(4096)
        ([(1536, 18_944)], 20_000, True, PairPlan(89_632, 1024, 91_168, 67_584, 159_264, True, 20_000, 159_264)),
    ],
    ids=["append", "best-fit", "split", "spare"],
)
def test_plan_pair(regions: list[tuple[int, int]], end: int, spare: bool, expected: PairPlan) -> None:
    plan = plan_pair(regions, end, 600, 1600, spare=spare)
    assert plan == expected
    assert plan.json_o == plan.index_o + 512 + plan.index_s
    assert plan.json_stop - plan.index_o == min(growth_bytes(4096), plan.region_stop - plan.index_o)


def test_growth_rule() -> None:
    assert growth_bytes(4096) == 4096 + 64 * KIB
    assert growth_bytes(100_000) == padded(100_000 + 64 * KIB)  # 64 KiB is more than 25 % below 256 KiB
    assert growth_bytes(262_144) == 262_144 + 64 * KIB  # the two rules meet at 256 KiB
    assert growth_bytes(1_000_000) == padded(1_250_000)


# ------------------------------------------------------------------ layout of a new archive


def test_new_large_archive_carries_one_spare_region(large_tar: Path) -> None:
    data = large_tar.read_bytes()
    index, doc = live(data, ".tar_index.json"), live(data, "lindi.json")
    pair = 512 + index["s"] + 512 + doc["s"]
    json_len = len(data[doc["d"]:doc["d"] + doc["s"]].rstrip(b" "))
    assert pair == growth_bytes(1024 + index["s"] + padded(json_len))
    members = walk(data)
    assert [(o, s) for o, _, s in members] == [
        (0, 1024), (1536, pair - 512), (1536 + pair, index["s"]), (doc["o"], doc["s"]),
    ]
    assert members[1][1].startswith(".trash/spare.")
    assert data[2048:1536 + pair] == bytes(pair - 512)  # never written: a hole where possible
    assert len(data) == 1536 + 2 * pair + 1024
    assert_clean_names(large_tar)


def test_reserve_spare_off_gives_the_smallest_archive(tmp_path: Path) -> None:
    path = tmp_path / "packed.lindi.tar"
    c = open_container(path, "w")
    assert isinstance(c, TarContainer)
    c.reserve_spare = False
    for key, value in big_refs(500).items():
        c.set_metadata(key, value)
    c.close()
    data = path.read_bytes()
    index, doc = live(data, ".tar_index.json"), live(data, "lindi.json")
    assert index["o"] == 1536 and len(data) == doc["d"] + doc["s"] + 1024
    assert [n for _, n, _ in walk(data)] == [".tar_entry.json", ".tar_index.json", "lindi.json"]


def test_new_archive_with_blobs_trashes_the_initial_slots_and_adds_a_spare(tmp_path: Path) -> None:
    path = tmp_path / "f.lindi.tar"
    with open_container(path, "w") as c:
        c.store_chunk("x/0", blob(1))
        for key, value in big_refs(500).items():
            c.set_metadata(key, value)
    data = path.read_bytes()
    members = [(o, n.rsplit(".", 1)[0] if n.startswith(".trash/") else n) for o, n, _ in walk(data)]
    assert members[:4] == [
        (0, ".tar_entry.json"), (1536, ".trash/.tar_index.json"), (10240, ".trash/lindi.json"),
        (18944, "blobs/x/0"),
    ]
    assert [n for _, n in members[4:]] == [".trash/spare", ".tar_index.json", "lindi.json"]
    assert data[2048:10240] == b"-" * 8192 and data[10752:18944] == b"-" * 8192
    assert state(path)["x/0"] == blob(1)


# ------------------------------------------------------------------ bounded growth


def _flush_small_changes(path: Path, n: int, *, with_blobs: bool) -> list[tuple[int, int]]:
    """n sessions, each adding one group (and a 1000-byte chunk); (file size, index offset)."""
    out = []
    for i in range(n):
        with open_container(path, "a") as c:
            c.set_metadata(f"new_{i}/.zattrs", {"i": i})
            if with_blobs:
                c.store_chunk(f"new_{i}/0", blob(i))
        data = path.read_bytes()
        out.append((len(data), live(data, ".tar_index.json")["o"]))
    return out


N_FLUSHES = 30


@pytest.mark.parametrize("with_blobs", [True, False], ids=["blobs", "metadata-only"])
def test_large_archive_grows_by_exactly_its_new_blobs(large_tar: Path, with_blobs: bool) -> None:
    fresh = large_tar.stat().st_size
    history = _flush_small_changes(large_tar, N_FLUSHES, with_blobs=with_blobs)
    per_flush = 512 + padded(BLOB_BYTES) if with_blobs else 0
    assert [size for size, _ in history] == [fresh + (i + 1) * per_flush for i in range(N_FLUSHES)]
    assert len({o for _, o in history}) == 2  # ping-pong between the pair region and the spare
    assert_clean_names(large_tar)
    if with_blobs:
        assert state(large_tar)[f"new_{N_FLUSHES - 1}/0"] == blob(N_FLUSHES - 1)


def test_small_archive_appends_one_pair_then_grows_by_exactly_its_blobs(small_tar: Path) -> None:
    fresh = small_tar.stat().st_size
    assert fresh == 1536 + 2 * (512 + 8192) + 1024  # lindi's creation layout
    history = _flush_small_changes(small_tar, N_FLUSHES, with_blobs=True)
    first = history[0][0]
    per_flush = 512 + padded(BLOB_BYTES)
    # the first update has no free region yet: one pair region of growth_bytes(need) <= 72 KiB
    assert fresh + per_flush + 64 * KIB < first <= fresh + per_flush + 72 * KIB
    assert [size for size, _ in history] == [first + i * per_flush for i in range(N_FLUSHES)]
    # then the pair alternates between lindi's initial slots (the index at 1536) and that region
    assert {o for _, o in history[1::2]} == {1536} and {o for _, o in history[::2]} == {history[0][1]}
    assert sum(n.startswith(".trash/") for n in names(small_tar)) == 2  # the other pair
    assert_clean_names(small_tar)


def test_growing_json_is_relocated_rarely(large_tar: Path) -> None:
    """lindi.json grows by about 6 KB per flush (30 KB to 210 KB): the pair is appended only
    when it outgrows both regions, each time with 25 % or 64 KiB of room."""
    sizes = [large_tar.stat().st_size]
    for i in range(30):
        with open_container(large_tar, "a") as c:
            for key, value in big_refs(100).items():
                c.set_metadata(f"more_{i}/{key}", value)
        sizes.append(large_tar.stat().st_size)
    grew = [b - a for a, b in zip(sizes, sizes[1:], strict=False) if b != a]
    assert len(grew) <= 4, grew  # 30 flushes, 3 relocations (30 KB -> 195 KB)
    data = large_tar.read_bytes()
    doc = live(data, "lindi.json")
    json_len = len(data[doc["d"]:doc["d"] + doc["s"]].rstrip(b" "))
    # everything appended is at most the pair regions' sizes, a geometric-ish series
    assert max(grew) <= growth_bytes(2 * KIB + padded(json_len))
    assert sizes[-1] < sizes[0] + 3 * json_len, (sizes[0], sizes[-1], json_len)
    assert_clean_names(large_tar)


def test_junk_after_the_end_is_sealed_by_a_reuse_flush(large_tar: Path) -> None:
    """An interrupted appending writer left bytes past the end marker; a flush that appends
    nothing must still leave an archive that ends with the marker (lindi requires it)."""
    _flush_small_changes(large_tar, 2, with_blobs=False)
    clean = large_tar.stat().st_size
    with large_tar.open("r+b") as fh:
        fh.seek(clean - 1024)
        fh.write(b"\x01" * 700 + bytes(5000))
    with open_container(large_tar, "a") as c:
        c.set_metadata("late/.zattrs", {"x": 1})
    assert large_tar.stat().st_size == clean
    walk(large_tar.read_bytes())
    assert state(large_tar)["late/.zattrs"] == b'{"x": 1}'


# ------------------------------------------------------------------ crash safety


def _prepare(kind: str, path: Path) -> None:
    """The archive before the flush under test."""
    if kind == "publish":
        with open_container(path, "w") as c:
            c.set_metadata("old/.zattrs", {"v": 1})
        return
    with open_container(path, "w") as c:
        for key, value in big_refs(300).items():
            c.set_metadata(key, value)
    _flush_small_changes(path, 2, with_blobs=True)  # the spare and the first region were used


def _change(kind: str, path: Path) -> Any:
    """Open a writer and make the changes the flush under test will commit."""
    writer = open_container(path, "w" if kind == "publish" else "a")
    writer.store_chunk("new/0", bytes(range(200)) * 20)
    if kind == "append":  # 100 KB more metadata: no free region holds the new pair
        for key, value in big_refs(1500).items():
            writer.set_metadata(f"more/{key}", value)
    else:
        for key, value in big_refs(300 if kind == "publish" else 3).items():
            writer.set_metadata(f"more/{key}", value)
    return writer


def _steps(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[tuple[str, int]], int]:
    """Every (function, n-th call) of one flush, and the number of the pwrite that commits."""
    path = tmp_path / "dry.lindi.tar"
    _prepare(kind, path)
    writer = _change(kind, path)
    calls: list[tuple[str, int, int]] = []
    counts: Counter[str] = Counter()
    for name in ("pwrite", "fsync", "replace"):
        real = getattr(os, name)

        def spy(*args: Any, _name: str = name, _real: Any = real) -> Any:
            counts[_name] += 1
            offset = args[2] if _name == "pwrite" else -1
            calls.append((_name, counts[_name], offset))
            return _real(*args)

        monkeypatch.setattr(os, name, spy)
    writer.flush()
    monkeypatch.undo()
    writer.close()
    commit = next((n for fn, n, offset in calls if fn == "pwrite" and offset == 512), 0)
    return [(fn, n) for fn, n, _ in calls], commit


@pytest.mark.parametrize("kind", ["reuse", "append", "publish"])
def test_crash_at_every_write_of_a_flush(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    steps, commit = _steps(kind, tmp_path, monkeypatch)
    dry = (tmp_path / "dry.lindi.tar").read_bytes()
    base = tmp_path / "base.lindi.tar"
    _prepare(kind, base)
    if kind == "reuse":  # the pair went into a free region: the file grew by the blob only
        assert len(dry) == base.stat().st_size + 512 + 4096
        assert len(steps) >= 10 and commit == 4
    elif kind == "append":
        assert len(dry) > base.stat().st_size + 100_000 and commit == 2
    else:
        assert steps[-1] == ("replace", 1)  # publishing is the os.replace, the last step
    outcomes: Counter[str] = Counter()
    for fn, n in steps:
        work = tmp_path / "work"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        path = work / "f.lindi.tar"
        shutil.copyfile(base, path)
        old = state(path)
        old_json = live(path.read_bytes(), "lindi.json")
        faults = Faults(monkeypatch)
        writer = _change(kind, path)
        new = {k: writer.read(k) for k in writer.refmap}
        faults.arm(fn, n)
        with pytest.raises(InjectedFault, match=f"{fn} call {n}"):
            writer.flush()
        committed = kind != "publish" and steps.index((fn, n)) > steps.index(("pwrite", commit))
        seen = new if committed else old
        assert state(path) == seen, (fn, n)
        outcomes["new" if committed else "old"] += 1
        # right after the failure: a valid tar listing, each live name at most once
        data = path.read_bytes()
        counted = Counter(name for _, name, _ in walk(data))
        assert counted["lindi.json"] <= 1 and counted[".tar_index.json"] <= 1, (fn, n, counted)
        if counted["lindi.json"]:
            with tarfile.open(path) as tf:
                offset = tf.getmember("lindi.json").offset
            assert offset in {live(data, "lindi.json")["o"], old_json["o"]}, (fn, n)
        faults.kill()
        with contextlib.suppress(InjectedFault):
            writer.close()
        faults.heal()
        monkeypatch.undo()
        assert state(path) == seen
        assert os.listdir(work) == [path.name], "temporary files must be cleaned up"
        # the next writer reclaims whatever the failed one left behind
        with open_container(path, "a") as c:
            c.store_chunk("late/0", b"L" * 1500)
        assert state(path) == {**seen, "late/0": b"L" * 1500}
        assert_clean_names(path)
    # reuse: region header, pair, split header, fsync | entry; append: pair, fsync | entry; then
    # fsync and 6 writes after the commit (rename old pair, name the new pair, old data to "-")
    expected = {"reuse": {"old": 5, "new": 7}, "append": {"old": 3, "new": 7}, "publish": {"old": len(steps)}}
    assert outcomes == expected[kind]
    assert entry_of(dry)["index"] == live(dry, ".tar_index.json")


@pytest.mark.parametrize(
    ("first", "seen"), [(("pwrite", 4), "old"), (("fsync", 2), "new")],
    ids=["commit-write-fails", "commit-sync-fails"],
)
def test_retry_after_a_failed_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first: tuple[str, int], seen: str
) -> None:
    """``close`` retries a failed flush. After a failed commit either pair may be live, so the
    retries (with more changes, failing after writing their pair) must write elsewhere."""
    path = tmp_path / "f.lindi.tar"
    _prepare("reuse", path)
    size = path.stat().st_size
    old = state(path)
    faults = Faults(monkeypatch)
    writer = _change("reuse", path)
    new = {k: writer.read(k) for k in writer.refmap}
    faults.arm(*first)
    with pytest.raises(InjectedFault):
        writer.flush()
    expected = old if seen == "old" else new
    assert state(path) == expected
    for i, fault in enumerate([("fsync", 1), ("encode_padded_json", 2)]):  # pair written, no commit
        for key, value in big_refs(20 * (i + 1)).items():
            writer.set_metadata(f"retry_{i}/{key}", value)
        faults.arm(*fault)
        with pytest.raises(InjectedFault):
            writer.flush()
        assert state(path) == expected, fault
    faults.heal()
    final = {k: writer.read(k) for k in writer.refmap}
    writer.close()
    monkeypatch.undo()
    assert state(path) == final
    assert_clean_names(path)
    assert path.stat().st_size > size + 4096  # the retries could not reuse the two pair regions


def test_a_dead_member_with_a_live_name_is_renamed_by_the_next_flush(large_tar: Path) -> None:
    """A failed commit can leave the old lindi.json dead but still named so; the next flush
    renames it, so that tar tools see one lindi.json (the live one)."""
    _flush_small_changes(large_tar, 2, with_blobs=True)
    data = bytearray(large_tar.read_bytes())
    dead = [(o, n) for o, n, _ in walk(bytes(data)) if n.startswith(".trash/lindi.json.")]
    assert len(dead) == 1
    offset = dead[0][0]
    data[offset:offset + 512] = trash_header(bytes(data[offset:offset + 512]), "lindi.json")
    large_tar.write_bytes(bytes(data))
    assert names(large_tar).count("lindi.json") == 2
    with open_container(large_tar, "a") as c:
        c.set_metadata("late/.zattrs", {"x": 1})
    assert names(large_tar).count("lindi.json") == 1
    assert_clean_names(large_tar)
