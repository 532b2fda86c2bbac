"""index_many / convert_many on real files, a real Range server with injected faults, and a
real spawned process pool: every file accounted for, resume costs at most one request a file."""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from httpserver import RangeServer

import hdmf_lindi
from hdmf_lindi.batch import BatchRecord, convert_many, index_many, read_manifest, verify_many
from hdmf_lindi.batch.schedule import MAX_DEFAULT_WORKERS, _executor, default_workers
from hdmf_lindi.hdf5 import IndexOptions
from hdmf_lindi.storage import RemoteOptions

FAST = RemoteOptions(max_retries=0, backoff_base_s=0.01)
"""No per-request retry: the batch's own retries are what the tests see."""


def _manifest_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _description(location: str) -> str:
    with hdmf_lindi.File(location) as f:
        value = f["session_description"][()]
    return value.decode() if isinstance(value, bytes) else str(value)


def test_local_files_inline_then_resume(tmp_path: Path, corpus: list[Path], text_file: Path) -> None:
    sources = [*corpus[:4], text_file, tmp_path / "missing.nwb"]
    out = tmp_path / "out"
    records = index_many(sources, out, max_workers=1)
    assert [r.status for r in records] == ["ok"] * 4 + ["unsupported", "failed"]
    assert records[5].error_type == "NodeNotFoundError" and "no such file" in str(records[5].error_message)
    assert all(r.objects and r.objects > 5 and r.chunks is not None and r.requests is None for r in records[:4])
    lines = _manifest_lines(out / "manifest.jsonl")
    assert sorted((line["source"], line["status"]) for line in lines) == sorted((r.source, r.status) for r in records)
    line = next(line for line in lines if line["source"] == str(corpus[0]))
    assert line["identity"] == {"size": corpus[0].stat().st_size, "mtime_ns": corpus[0].stat().st_mtime_ns}
    assert _description(records[0].destination) == "units session 0"
    mtimes = [os.stat(r.destination).st_mtime_ns for r in records[:4]]

    again = index_many(sources, out, max_workers=1)
    assert [r.status for r in again] == ["skipped"] * 4 + ["unsupported", "failed"]
    assert [os.stat(r.destination).st_mtime_ns for r in again[:4]] == mtimes  # nothing rewritten
    assert len(list(read_manifest(out / "manifest.jsonl"))) == 12


def test_changed_or_deleted_output_is_redone(tmp_path: Path, corpus: list[Path]) -> None:
    sources = [tmp_path / p.name for p in corpus[:3]]
    for src, path in zip(sources, corpus[:3], strict=True):
        shutil.copyfile(path, src)
    out = tmp_path / "out"
    first = index_many(sources, out, max_workers=1)
    shutil.copyfile(corpus[4], sources[0])  # another file, same name: a changed source
    os.remove(first[1].destination)  # an output deleted since
    again = index_many(sources, out, max_workers=1)
    assert [r.status for r in again] == ["ok", "ok", "skipped"]
    assert _description(again[0].destination) == "units session 4"
    assert [r.status for r in index_many(sources, out, max_workers=1, resume=False)] == ["ok"] * 3


def test_other_options_redo_the_file(tmp_path: Path, corpus: list[Path]) -> None:
    out = tmp_path / "out"
    index_many(corpus[:1], out, max_workers=1)
    records = index_many(corpus[:1], out, max_workers=1, options=IndexOptions(inline_max_elements=10))
    assert records[0].status == "ok"


def test_forms_and_colliding_names(tmp_path: Path, corpus: list[Path]) -> None:
    a, b = tmp_path / "a" / "x.nwb", tmp_path / "b" / "x.nwb"
    for target, path in ((a, corpus[0]), (b, corpus[1])):
        target.parent.mkdir()
        shutil.copyfile(path, target)
    records = index_many([a, b], tmp_path / "out", form="tar", max_workers=1)
    names = [Path(r.destination).name for r in records]
    assert len(set(names)) == 2 and all(n.startswith("x.nwb-") and n.endswith(".lindi.tar") for n in names)
    assert [r.status for r in index_many([a, b], tmp_path / "out", form="tar", max_workers=1)] == ["skipped"] * 2


@pytest.fixture
def served(http_server: RangeServer, corpus: list[Path], text_file: Path) -> tuple[RangeServer, list[str]]:
    """Eight corpus files and a text file on the Range server; returns their URLs."""
    names = []
    for path in corpus[:8]:
        shutil.copyfile(path, http_server.root / path.name)
        names.append(path.name)
    shutil.copyfile(text_file, http_server.root / "notes.nwb")
    return http_server, [http_server.url(n) for n in [*names, "notes.nwb", "gone.nwb"]]


def test_default_executors() -> None:
    with _executor(None, 3, None, 10) as pool:  # processes start at the first submit: none here
        assert isinstance(pool, ProcessPoolExecutor) and pool._max_workers == 3
        assert pool._mp_context.get_start_method() == "spawn"
    with _executor(None, 1, None, 10) as inline:
        assert inline.submit(sum, [1, 2]).result() == 3
    assert default_workers(1) == 1 and 1 <= default_workers(1000) <= MAX_DEFAULT_WORKERS


def test_process_pool_with_faults_then_resume(
    tmp_path: Path, served: tuple[RangeServer, list[str]], spawn_pool: ProcessPoolExecutor
) -> None:
    server, urls = served
    server.misbehave(Path(urls[0]).name, fail_times=1, fail_status=503)  # the first request fails once
    server.misbehave(Path(urls[1]).name, reset_times=1)  # the first connection is reset
    server.misbehave(Path(urls[2]).name, status=500)  # fails every time: retries run out
    out = tmp_path / "out"
    options = IndexOptions(remote=FAST)
    records = index_many(urls, out, executor=spawn_pool, options=options, retries=1)
    by_url = {r.url: r for r in records}
    assert [by_url[u].status for u in urls] == ["ok", "ok", "failed"] + ["ok"] * 5 + ["unsupported", "failed"]
    assert by_url[urls[0]].attempts == 2 and by_url[urls[1]].attempts == 2
    assert by_url[urls[2]].attempts == 2 and by_url[urls[2]].error_type == "RemoteReadError"
    assert "500" in str(by_url[urls[2]].error_message)
    assert by_url[urls[9]].attempts == 1 and "404" in str(by_url[urls[9]].error_message)  # never retried
    ok = by_url[urls[3]]
    assert ok.identity is not None and ok.identity["size"] == (server.root / Path(urls[3]).name).stat().st_size
    assert ok.identity["etag"] and ok.identity["last_modified"]
    assert ok.requests is not None and 2 <= ok.requests <= 10 and ok.bytes
    lines = _manifest_lines(out / "manifest.jsonl")
    assert sorted(str(line["url"]) for line in lines) == sorted(urls)  # every file accounted for

    server.reset()
    again = index_many(urls, out, executor=spawn_pool, options=options, retries=1)
    statuses = {r.url: r.status for r in again}
    assert [statuses[u] for u in urls[3:8]] == ["skipped"] * 5 and statuses[urls[2]] == "ok"
    redone = {urls[2], urls[8], urls[9]}  # the failed file, the text file (sniffed) and the 404
    skipped_requests = [r for r in server.requests if server.url(r.path.lstrip("/")) not in redone]
    assert len(skipped_requests) <= 7  # at most one request per skipped file

    server.reset()
    (server.root / Path(urls[4]).name).write_bytes((server.root / Path(urls[5]).name).read_bytes())
    third = index_many(urls[3:8], out, max_workers=1, options=options)
    assert [r.status for r in third] == ["skipped", "ok", "skipped", "skipped", "skipped"]


def test_thread_pool_executor(tmp_path: Path, served: tuple[RangeServer, list[str]]) -> None:
    _, urls = served
    with ThreadPoolExecutor(4) as pool:
        records = index_many(urls[:6], tmp_path / "out", executor=pool, options=IndexOptions(remote=FAST))
    assert [r.status for r in records] == ["ok"] * 6
    assert all(r.requests and r.requests < 10 for r in records)  # counted per thread, not mixed


def test_progress_is_called_per_file(tmp_path: Path, corpus: list[Path]) -> None:
    seen: list[tuple[str, int, int]] = []

    def progress(record: BatchRecord, done: int, total: int) -> None:
        seen.append((record.status, done, total))

    index_many(corpus[:3], tmp_path / "out", max_workers=1, progress=progress)
    assert seen == [("ok", 1, 3), ("ok", 2, 3), ("ok", 3, 3)]


def test_convert_many(tmp_path: Path, corpus: list[Path]) -> None:
    records = convert_many(corpus[:2], tmp_path / "out", max_workers=1)
    assert [r.status for r in records] == ["ok", "ok"] and records[0].destination.endswith(".lindi.tar")
    with hdmf_lindi.File(records[0].destination) as f:
        assert np.asarray(f["units/spike_times"][()]).size > 0
        assert "external" not in str(f.container.refmap.raw("units/spike_times/0"))
    assert [r.status for r in convert_many(corpus[:2], tmp_path / "out", max_workers=1)] == ["skipped"] * 2


def test_bad_retries(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="retries must not be negative"):
        index_many([], tmp_path, retries=-1)


def test_verify_many(tmp_path: Path, corpus: list[Path]) -> None:
    picks = [corpus[2], corpus[6], corpus[0]]  # "series" files have chunk references, "units" none
    sources = [tmp_path / p.name for p in picks]
    for src, path in zip(sources, picks, strict=True):
        shutil.copyfile(path, src)
    indexes = [r.destination for r in index_many(sources, tmp_path / "out", max_workers=1)]
    shutil.copyfile(corpus[10], sources[1])  # the source of the second index changes (same layout)
    with ThreadPoolExecutor(2) as pool:
        records = verify_many([*indexes, str(tmp_path / "missing.lindi.json")], executor=pool)
    assert [r.status for r in records] == ["ok", "failed", "ok", "failed"]
    assert records[0].objects == 1 and records[2].objects == 0 and records[0].chunks
    assert records[1].error_type == "VerifyProblems" and str(sources[1]) in str(records[1].error_message)
    assert records[3].error_type == "MissingFileError"


def test_manifest_survives_a_torn_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    manifest = tmp_path / "m.jsonl"
    good = BatchRecord(source="a.nwb", url="/x/a.nwb", destination=str(tmp_path / "a.lindi.json"), status="ok")
    manifest.write_text(good.to_json() + "\n" + good.to_json()[:40] + "\n")  # a run killed mid-line
    with caplog.at_level("WARNING"):
        assert [r.source for r in read_manifest(manifest)] == ["a.nwb"]
    assert "skipping line 2" in caplog.text
    with pytest.raises(ValueError, match="status must be one of"):
        BatchRecord(source="a", url="a", destination="b", status="done")  # type: ignore[arg-type]
