"""The work of one file in a batch: a picklable :class:`Job` and :func:`run_job`, run in a worker.

``run_job`` is a top-level function taking plain, picklable values, so any executor can run it:
threads, a spawned process pool, or ``dask.distributed`` workers. It never raises for a failure
of its file: the returned :class:`~.records.BatchRecord` says what happened. The actual work is
done by the layers below (:func:`~hdmf_lindi.hdf5.index_hdf5`, :func:`~hdmf_lindi.nwb.convert`);
this module only decides whether to do it (resume), retries transient failures, and measures.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from ..errors import IndexingError, LindiError, RemoteReadError
from ..storage.fetcher import shared_session
from ..storage.identity import read_identities
from ..storage.sources import HttpSource, RemoteOptions, is_url
from .probe import identities_match, probe_identity
from .records import BatchRecord, Status

if TYPE_CHECKING:
    from ..hdf5 import IndexOptions

__all__ = ["Job", "is_transient", "run_job"]

logger = logging.getLogger(__name__)

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_SIGNATURE_OFFSETS = (0, 512, 1024, 2048)

Kind = Literal["index", "convert", "verify"]


@dataclass(frozen=True, slots=True)
class Job:
    """One file's work, in plain picklable values (no callables, no open handles)."""

    kind: Kind
    """``index`` (no chunk copied) or ``convert`` (data copied, with pynwb)."""
    source: str
    """The source as the user named it."""
    url: str
    """What to read: a local path or an http(s) URL."""
    destination: str
    """Where to write the result (its suffix picks the form)."""
    index_options: IndexOptions | None = None
    """Options of :func:`~hdmf_lindi.hdf5.index_hdf5` (``progress`` must be None)."""
    remote: RemoteOptions | None = None
    """HTTP tuning for the source."""
    identity: dict[str, Any] | None = None
    """The source's identity when already known (a DANDI listing gives size and ETag), saving
    the probe."""
    previous: BatchRecord | None = None
    """The manifest's latest record of this destination, for resume; None to do the work."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """Added to the index's ``generationMetadata`` and to the record's ``extra``."""
    retries: int = 2
    """How many times a transient failure of the whole file is retried."""
    unsupported: str | None = None
    """Known before any request to be no HDF5 file (a Zarr asset): the reason."""
    decode: bool = True
    """For ``verify``: also read and decode every inline and internal chunk."""
    dialect: str = "lindi"
    """For ``convert``: the dialect of a LINDI destination (``index`` takes it from ``index_options``)."""

    def options_digest(self) -> str:
        """A short digest of what decides the output besides the source (kind, url, options)."""
        remote_free = replace(self.index_options, remote=None) if self.index_options is not None else None
        parts: tuple[Any, ...] = (self.kind, self.url, remote_free, sorted(self.metadata.items()))
        if self.dialect != "lindi":  # the digests of earlier manifests stay as they were
            parts += (self.dialect,)
        text = repr(parts)
        return hashlib.sha1(text.encode()).hexdigest()[:16]


def is_transient(exc: BaseException) -> bool:
    """Whether a failure is worth trying again: no answer, a broken-off answer, ``429`` or ``5xx``.

    Everything else (a ``404``, a file that is not HDF5, a bad reference) fails the same way
    the next time.
    """
    while exc is not None:
        if isinstance(exc, RemoteReadError):
            return exc.status is None or exc.status == 429 or exc.status >= 500
        exc = exc.__cause__  # type: ignore[assignment]
    return False


class _RequestCounter:
    """A session response hook counting the answers received by one thread, and their bytes."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.requests = 0
        self.bytes = 0

    def __call__(self, response: Any, *args: Any, **kwargs: Any) -> None:
        if threading.get_ident() == self.thread:
            self.requests += 1
            self.bytes += int(response.headers.get("Content-Length") or 0)


@contextmanager
def _counting(job: Job) -> Iterator[_RequestCounter | None]:
    """Count this thread's HTTP answers on the process-wide session while the job runs."""
    if not is_url(job.url):
        yield None
        return
    hooks = shared_session(job.remote or RemoteOptions()).hooks["response"]
    counter = _RequestCounter()
    hooks.append(counter)
    try:
        yield counter
    finally:
        hooks.remove(counter)


def run_job(job: Job) -> BatchRecord:
    """Do ``job`` (or skip it if its previous output still matches) and return its record.

    Never raises for a failure of the file itself; see the module docstring.
    """
    started = time.perf_counter()
    record = _base_record(job)
    with _counting(job) as counter:
        record = _run(job, record)
    data = asdict(record)
    data["seconds"] = round(time.perf_counter() - started, 6)
    if counter is not None:
        data["requests"], data["bytes"] = counter.requests, counter.bytes
    return BatchRecord(**data)


def _base_record(job: Job) -> BatchRecord:
    return BatchRecord(
        source=job.source, url=job.url, destination=job.destination, status="failed", kind=job.kind,
        identity=job.identity, options=job.options_digest(), extra=dict(job.metadata),
    )


def _run(job: Job, record: BatchRecord) -> BatchRecord:
    if job.unsupported is not None:
        return replace(record, status="unsupported", error_message=job.unsupported)
    attempts = 0
    while True:
        attempts += 1
        try:
            if job.kind == "verify":
                return replace(_verify(job, record), attempts=attempts)
            identity = job.identity
            if identity is None and (_may_skip(job) or job.kind == "convert"):
                identity = probe_identity(job.url, job.remote)
            if identity is not None and _may_skip(job) and identities_match(_previous_identity(job), identity):
                return replace(record, status="skipped", identity=identity, attempts=attempts - 1)
            objects, chunks, recorded = _do(job)
            if identity is None:  # what the index recorded from its own answers, else one probe now
                identity = recorded if recorded is not None else probe_identity(job.url, job.remote)
            return replace(record, status="ok", identity=identity, attempts=attempts, objects=objects, chunks=chunks)
        except Exception as exc:  # noqa: BLE001 -- the record carries the failure to the caller
            if is_transient(exc) and attempts <= job.retries:
                delay = (job.remote or RemoteOptions()).backoff_s(attempts)
                logger.debug("retry %d of %s in %.3f s: %s", attempts, job.url, delay, exc)
                time.sleep(delay)
                continue
            status: Status = "unsupported" if _is_unsupported(job, exc) else "failed"
            logger.info("%s %s: %s: %s", status, job.source, type(exc).__name__, exc)
            return replace(
                record, status=status, attempts=attempts, error_type=type(exc).__name__, error_message=str(exc)
            )


def _verify(job: Job, record: BatchRecord) -> BatchRecord:
    """Verify one LINDI file: ``ok``, or ``failed`` with its problems as the message."""
    from ..verification import verify

    report = verify(job.url, options=job.remote, decode=job.decode)
    out = replace(record, status="ok" if report.ok else "failed", objects=len(report.sources),
                  chunks=report.chunks_decoded)
    if report.ok:
        return out
    return replace(out, error_type="VerifyProblems", error_message="\n".join(report.lines()))


def _may_skip(job: Job) -> bool:
    """Whether the previous output of this job is there, done with the same options: then only
    the source's identity decides (a probe is worth its request)."""
    previous = job.previous
    return (
        previous is not None
        and previous.status in ("ok", "skipped")
        and previous.identity is not None
        and previous.options == job.options_digest()
        and os.path.exists(job.destination)
    )


def _previous_identity(job: Job) -> dict[str, Any] | None:
    return job.previous.identity if job.previous is not None else None


def _do(job: Job) -> tuple[int | None, int | None, dict[str, Any] | None]:
    """Write the job's output atomically; return (objects indexed, chunk references, the
    source's identity as the index recorded it from the answers it read, if it did)."""
    parent = os.path.dirname(os.path.abspath(job.destination))
    os.makedirs(parent, exist_ok=True)
    if job.kind == "convert":
        from ..nwb import convert  # pynwb only in workers that convert

        convert(job.url, job.destination, overwrite=True, options=job.remote, dialect=job.dialect)
        return None, None, None
    from ..hdf5 import IndexOptions, index_hdf5, save_refmap

    objects = 0

    def count(n: int, path: str) -> None:
        nonlocal objects
        objects = n

    options = replace(job.index_options or IndexOptions(), progress=count, remote=job.remote)
    refmap = index_hdf5(job.url, options=options)
    if job.metadata and isinstance(refmap.generation_metadata, dict):
        refmap.generation_metadata.update(job.metadata)
    save_refmap(refmap, job.destination)  # atomic: a new file replaces the old at once
    recorded = read_identities(refmap).get(refmap.generation_metadata.get("source", job.url)
                                           if isinstance(refmap.generation_metadata, dict) else job.url)
    return objects, _count_chunks(refmap), recorded.to_json() if recorded is not None else None


def _count_chunks(refmap: Any) -> int:
    """Chunk references in a reference map: those of chunk tables plus listed ranges."""
    listed = [key for key in refmap.iter_keys(chunk_tables=False)]
    in_tables = len(refmap) - len(listed)
    return in_tables + sum(1 for key in listed if isinstance(refmap.raw(key), list))


def _is_unsupported(job: Job, exc: BaseException) -> bool:
    """Whether an indexing failure means the source is no HDF5 file (its signature tells).

    A conversion reads LINDI sources too, so its failures are always ``failed``.
    """
    if job.kind != "index" or not isinstance(exc, IndexingError | LindiError | OSError):
        return False
    try:
        if is_url(job.url):
            remote = job.remote or RemoteOptions()
            head = HttpSource(job.url, shared_session(remote), remote).read_prefix(2056)[0]
        else:
            with open(job.url, "rb") as fh:
                head = fh.read(2056)
    except (LindiError, OSError):
        return False
    return not any(head[o:o + 8] == _HDF5_SIGNATURE for o in _SIGNATURE_OFFSETS)
