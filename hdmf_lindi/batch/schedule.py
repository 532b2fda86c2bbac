"""Index or convert many files on any ``concurrent.futures`` executor, with a manifest and resume.

The scheduler submits one :func:`~.work.run_job` per file, appends each file's record to the
manifest as its future completes (after the worker has written the output atomically), and
reports progress from completed futures. A failed file never stops the others.

Executors: the default is a process pool (``spawn`` start method, sized for I/O-bound work:
remote indexing waits on the network, and h5py's global lock serialises threads, so processes
scale where threads do not). Any other :class:`concurrent.futures.Executor` works, e.g. a
``ThreadPoolExecutor`` or a ``dask.distributed`` cluster through ``client.get_executor()``; a
scheduler address makes a client for the run.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import posixpath
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from ..format.zarr_v3_write import check_dialect
from ..hdf5 import IndexOptions  # at run time: the signatures name it (docs)
from ..storage.sources import RemoteOptions, is_url
from .records import BatchRecord, append_record, latest_records
from .work import Job, Kind, run_job

__all__ = ["Progress", "convert_many", "default_workers", "index_many", "run_jobs", "verify_many"]

logger = logging.getLogger(__name__)

Progress = Callable[[BatchRecord, int, int], None]
"""``progress(record, done, total)``: called in the calling process as each file completes."""

Form = Literal["json", "tar", "dir", "nwb"]
_SUFFIXES = {"json": ".lindi.json", "tar": ".lindi.tar", "dir": ".lindi.d", "nwb": ".nwb"}
MAX_DEFAULT_WORKERS = 32
"""The default pool never grows beyond this many processes."""
MANIFEST_NAME = "manifest.jsonl"
"""The manifest's file name in the output directory, unless another is given."""


def default_workers(n_jobs: int) -> int:
    """The default number of worker processes: four per core (the work waits on I/O), at most
    one per job and ``MAX_DEFAULT_WORKERS`` (32)."""
    return max(1, min(n_jobs, 4 * (os.cpu_count() or 1), MAX_DEFAULT_WORKERS))


class _Inline(Executor):
    """Runs each call at submission, in the calling thread (``max_workers=1``)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 -- carried by the future, as any executor does
            future.set_exception(exc)
        return future


@contextmanager
def _executor(
    executor: Executor | None, max_workers: int | None, scheduler: str | None, n_jobs: int
) -> Iterator[Executor]:
    """The executor to run on: the caller's (left open), a dask client's, or a new pool."""
    if executor is not None:
        yield executor
        return
    if scheduler is not None:
        from distributed import Client  # optional: pip install hdmf-lindi[dask]

        with Client(scheduler) as client:
            yield client.get_executor()
        return
    workers = max_workers or default_workers(n_jobs)
    if workers == 1:
        yield _Inline()
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


def run_jobs(
    jobs: Sequence[Job],
    *,
    manifest: str | os.PathLike[str] | None,
    resume: bool = True,
    executor: Executor | None = None,
    max_workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> list[BatchRecord]:
    """Run ``jobs`` and return their records in the order of ``jobs``.

    With ``resume``, each job gets the manifest's latest record of its destination, so that
    its worker can skip it (see :func:`~.work.run_job`). Each record is appended to
    ``manifest`` (if given) as its job completes.
    """
    jobs = list(jobs)
    if resume and manifest is not None:
        latest = latest_records(manifest)
        jobs = [replace(job, previous=latest.get(os.path.abspath(job.destination))) for job in jobs]
    if manifest is not None:
        os.makedirs(os.path.dirname(os.path.abspath(manifest)), exist_ok=True)
    records: list[BatchRecord | None] = [None] * len(jobs)
    with _executor(executor, max_workers, scheduler, len(jobs)) as pool:
        futures = {pool.submit(run_job, job): i for i, job in enumerate(jobs)}
        for done, future in enumerate(as_completed(futures), 1):
            i = futures[future]
            record = _result(future, jobs[i])
            records[i] = record
            if manifest is not None:
                append_record(manifest, record)
            if progress is not None:
                progress(record, done, len(jobs))
    return [r for r in records if r is not None]


def _result(future: Future[BatchRecord], job: Job) -> BatchRecord:
    """The future's record, or a failed record when the worker itself was lost."""
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 -- a lost worker (killed, unpicklable) fails only its file
        logger.warning("the worker of %s failed: %s: %s", job.source, type(exc).__name__, exc)
        return BatchRecord(
            source=job.source, url=job.url, destination=job.destination, status="failed", kind=job.kind,
            identity=job.identity, error_type=type(exc).__name__, error_message=str(exc),
            options=job.options_digest(), extra=dict(job.metadata),
        )


def destinations(sources: Sequence[str], out_dir: str, suffix: str) -> list[str]:
    """Name one output per source in ``out_dir``: the source's file name plus ``suffix``.

    Sources whose file names collide (or that have none, like an URL ending in ``/``) get a
    short digest of the whole source added, so the names are stable from run to run.
    """
    names = [_file_name(s) for s in sources]
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    out = []
    for source, name in zip(sources, names, strict=True):
        if not name or seen[name] > 1:
            digest = hashlib.sha1(source.encode()).hexdigest()[:10]
            name = f"{name}-{digest}" if name else digest
        out.append(os.path.join(out_dir, name + suffix))
    return out


def _file_name(source: str) -> str:
    if is_url(source):
        return posixpath.basename(unquote(urlsplit(source).path))
    return os.path.basename(os.path.normpath(source))


def index_many(
    sources: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    form: Form = "json",
    executor: Executor | None = None,
    max_workers: int | None = None,
    scheduler: str | None = None,
    options: IndexOptions | None = None,
    manifest: str | os.PathLike[str] | None = None,
    resume: bool = True,
    retries: int = 2,
    progress: Progress | None = None,
) -> list[BatchRecord]:
    """Index many HDF5 files (paths or URLs) into LINDI files in ``out_dir``, in parallel.

    Parameters
    ----------
    sources
        Local paths or http(s) URLs of HDF5/NWB files.
    out_dir
        Where the indexes go: ``<file name><suffix>`` per source (colliding names get a short digest of the source).
    form
        ``json`` (``.lindi.json``, the default), ``tar`` or ``dir``.
    executor
        Any ``concurrent.futures.Executor`` (left open); e.g. ``client.get_executor()`` of a
        ``dask.distributed`` client. Default: a spawned process pool of ``max_workers``.
    max_workers
        Size of the default pool; 1 runs every file in the calling thread. Default: see
        four per core, at most 32.
    scheduler
        Address of a ``dask.distributed`` scheduler to run on (needs ``hdmf-lindi[dask]``).
    options
        Indexing options (``progress`` is ignored; ``remote`` tunes HTTP).
    manifest
        The JSON Lines manifest to append to. Default: ``out_dir/manifest.jsonl``.
    resume
        Skip files whose latest manifest record is ``ok``/``skipped``, whose output exists and
        whose source still has the recorded identity (one ``stat`` or one request per file).
    retries
        How many times a transient failure (no answer, ``429``, ``5xx``) of a whole file is
        retried, with backoff, beyond the retries of each request.
    progress
        Called with ``(record, done, total)`` as each file completes.

    Returns
    -------
    list of BatchRecord
        One per source, in the order given.
    """
    options = replace(options or IndexOptions(), progress=None)
    check_dialect(options.dialect)  # a bad value fails now, not once per file
    return _many("index", sources, out_dir, _SUFFIXES[form], options, options.remote, executor, max_workers,
                 scheduler, manifest, resume, retries, progress)


def convert_many(
    sources: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    form: Form = "tar",
    executor: Executor | None = None,
    max_workers: int | None = None,
    scheduler: str | None = None,
    options: RemoteOptions | None = None,
    manifest: str | os.PathLike[str] | None = None,
    resume: bool = True,
    retries: int = 2,
    progress: Progress | None = None,
    dialect: str = "lindi",
) -> list[BatchRecord]:
    """Convert many NWB files with :func:`hdmf_lindi.convert` (data copied), in parallel.

    ``form`` picks the output: ``tar`` (``.lindi.tar``, the default), ``json``, ``dir``, or
    ``nwb`` (HDF5, e.g. from LINDI sources). ``options`` tunes HTTP; ``dialect`` (``"lindi"``
    or ``"zarr3"``) is that of a LINDI destination, as in :func:`hdmf_lindi.convert`; the other
    parameters are those of :func:`index_many`.
    """
    check_dialect(dialect)
    return _many("convert", sources, out_dir, _SUFFIXES[form], None, options, executor, max_workers,
                 scheduler, manifest, resume, retries, progress, dialect)


def _many(
    kind: Kind,
    sources: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    suffix: str,
    index_options: IndexOptions | None,
    remote: RemoteOptions | None,
    executor: Executor | None,
    max_workers: int | None,
    scheduler: str | None,
    manifest: str | os.PathLike[str] | None,
    resume: bool,
    retries: int,
    progress: Progress | None,
    dialect: str = "lindi",
) -> list[BatchRecord]:
    if retries < 0:
        raise ValueError(f"retries must not be negative, not {retries}.")
    texts = [os.fspath(s) for s in sources]
    out = os.fspath(out_dir)
    os.makedirs(out, exist_ok=True)
    jobs = [
        Job(kind, source, source if is_url(source) else os.path.abspath(source), dest,
            index_options=index_options, remote=remote, retries=retries, dialect=dialect)
        for source, dest in zip(texts, destinations(texts, out, suffix), strict=True)
    ]
    return run_jobs(
        jobs, manifest=manifest if manifest is not None else os.path.join(out, MANIFEST_NAME),
        resume=resume, executor=executor, max_workers=max_workers, scheduler=scheduler, progress=progress,
    )


def verify_many(
    locations: Iterable[str | os.PathLike[str]],
    *,
    decode: bool = True,
    executor: Executor | None = None,
    max_workers: int | None = None,
    scheduler: str | None = None,
    options: RemoteOptions | None = None,
    manifest: str | os.PathLike[str] | None = None,
    retries: int = 2,
    progress: Progress | None = None,
) -> list[BatchRecord]:
    """Run :func:`hdmf_lindi.verify` on many LINDI files in parallel.

    Each record is ``ok``, or ``failed`` with ``error_type`` ``VerifyProblems`` and the
    report's lines as ``error_message`` (or the error that kept the file from opening);
    ``objects`` counts the referenced sources checked, ``chunks`` the chunks decoded. Nothing
    is written but the manifest, if one is given; every file is verified again each run.
    The other parameters are those of :func:`index_many`.
    """
    if retries < 0:
        raise ValueError(f"retries must not be negative, not {retries}.")
    texts = [os.fspath(s) for s in locations]
    jobs = [
        Job("verify", text, text if is_url(text) else os.path.abspath(text), "", remote=options,
            retries=retries, decode=decode)
        for text in texts
    ]
    return run_jobs(jobs, manifest=manifest, resume=False, executor=executor, max_workers=max_workers,
                    scheduler=scheduler, progress=progress)

