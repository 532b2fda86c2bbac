"""The manifest of a batch run: one JSON line per file, appended after the file's output is written.

A manifest is a JSON Lines file. Each line is one :class:`BatchRecord`: what was done to one
source, against which identity of it, where the result went, and what it cost. A run appends; it
never rewrites earlier lines, so the manifest is also the history of every run. The latest line
of a destination is what :func:`latest_records` (and resume) looks at.

A line that cannot be parsed (a run killed mid-write leaves at most one such line, the last) is
skipped with a warning in the log, never a reason to stop.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

__all__ = ["BatchRecord", "Status", "append_record", "latest_records", "read_manifest"]

logger = logging.getLogger(__name__)

Status = Literal["ok", "skipped", "failed", "unsupported"]
"""``ok``: written this run; ``skipped``: an earlier output still matches its source (resume);
``failed``: an error (see ``error_type``/``error_message``); ``unsupported``: not an HDF5 file
(or a Zarr asset), nothing to index."""

STATUSES: tuple[Status, ...] = ("ok", "skipped", "failed", "unsupported")


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """What happened to one source in one batch run (one manifest line)."""

    source: str
    """The source as given (path, URL, or ``dandi://`` name)."""
    url: str
    """The location actually read (the resolved blob URL of a DANDI asset, else ``source``)."""
    destination: str
    """Where the result was written."""
    status: Status
    """``ok``, ``skipped``, ``failed`` or ``unsupported`` (see ``Status``)."""
    kind: str = "index"
    """``index`` or ``convert``."""
    identity: dict[str, Any] | None = None
    """The source's identity (size, ETag, mtime ...) the result was made from, as JSON."""
    error_type: str | None = None
    """The exception class name of a failure."""
    error_message: str | None = None
    """Its message."""
    attempts: int = 0
    """How many attempts were made (0 for a skip)."""
    seconds: float = 0.0
    """Wall time spent on this file in its worker, in seconds."""
    requests: int | None = None
    """HTTP requests sent for this file (None for a local source)."""
    bytes: int | None = None
    """Bytes received for this file (None for a local source)."""
    objects: int | None = None
    """Groups and datasets indexed."""
    chunks: int | None = None
    """Chunk references written."""
    options: str | None = None
    """A digest of the options the result was made with; a change re-does the file on resume."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything else known about the source (a DANDI asset's id, path, dandiset, version)."""
    finished: float = 0.0
    """When the record was made, in seconds since the epoch."""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}.")

    def to_json(self) -> str:
        """Return the record as one line of JSON (no newline)."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BatchRecord:
        """Build a record from a parsed manifest line; unknown keys are ignored.

        Raises
        ------
        ValueError
            If a required key is missing or the status is unknown.
        """
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as exc:
            raise ValueError(f"Not a batch record: {exc}") from exc


def append_record(manifest: str | os.PathLike[str], record: BatchRecord) -> None:
    """Append ``record`` as one line to ``manifest`` (created if missing), flushed to disk.

    The line is written with one ``write`` call on a file opened for appending, so concurrent
    appenders never interleave within a line on a local file system.
    """
    if not record.finished:
        record = _with_time(record)
    line = (record.to_json() + "\n").encode()
    fd = os.open(os.fspath(manifest), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def _with_time(record: BatchRecord) -> BatchRecord:
    data = asdict(record)
    data["finished"] = time.time()
    return BatchRecord(**data)


def read_manifest(manifest: str | os.PathLike[str]) -> Iterator[BatchRecord]:
    """Yield the records of ``manifest`` in file order (nothing if it does not exist).

    Unreadable lines are skipped and logged at WARNING.
    """
    path = os.fspath(manifest)
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
                yield BatchRecord.from_dict(data)
            except ValueError as exc:
                logger.warning("skipping line %d of manifest %s: %s", number, path, exc)


def latest_records(manifest: str | os.PathLike[str]) -> dict[str, BatchRecord]:
    """Return the last record of each destination in ``manifest`` (by absolute destination path)."""
    latest: dict[str, BatchRecord] = {}
    for record in read_manifest(manifest):
        latest[os.path.abspath(record.destination)] = record
    return latest
