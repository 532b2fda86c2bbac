"""Files another tool makes at test time (in its own venv), cached in the checkout.

``ensure_made`` runs a script with another environment's python into
``<repo>/.cache/<name>-<key>/`` (ignored by git). The key hashes the script's bytes and the
versions the environment reports, so an edit of the script or another version gives a new
folder. A manifest of SHA-256 digests, written last, marks a complete folder; a folder whose
files no longer match it (a test wrote into the cache) is made again. A file lock makes
pytest-xdist workers wait for the one that builds it. The files are made read-only: tests copy
them before changing anything. Used by ``lindi_samples.py`` and ``hdmf_zarr_stores.py``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

from interop.venvs import run_checked

__all__ = ["CACHE", "ensure_made"]

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache"
MANIFEST = "MANIFEST.json"


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def _intact(folder: Path) -> bool:
    manifest = folder / MANIFEST
    return manifest.is_file() and bool(json.loads(manifest.read_text()) == _digests(folder))


def _remove(folder: Path) -> None:
    for p in folder.rglob("*"):
        p.chmod(stat.S_IRWXU)
    shutil.rmtree(folder, ignore_errors=True)


def _make(
    python: str,
    script: Path,
    target: Path,
    expected: Sequence[str],
    error: type[Exception],
    timeout: float,
) -> None:
    work = Path(tempfile.mkdtemp(prefix="making-", dir=CACHE))
    try:
        run_checked(
            [python, str(script), str(work)], f"running {script.name}", error, timeout=timeout
        )
        missing = [n for n in expected if not (work / n).exists()]
        if missing:
            raise error(f"{script.name} did not make {missing} in {work}")
        (work / MANIFEST).write_text(json.dumps(_digests(work), indent=1, sort_keys=True))
        for p in work.rglob("*"):
            if p.is_file():
                p.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        if target.exists():
            _remove(target)
        os.replace(work, target)  # the folder appears complete or not at all
    except BaseException:
        _remove(work)
        raise


def ensure_made(
    name: str,
    *,
    python: str,
    script: Path,
    versions_code: str,
    expected: Sequence[str],
    error: type[Exception],
    timeout: float = 600,
) -> Path:
    """Return ``<repo>/.cache/<name>-<key>/`` as ``python script <folder>`` makes it.

    Parameters
    ----------
    name
        The cache folder's prefix (and its lock's name).
    python
        The interpreter of the environment that runs ``script``.
    script
        Called with the folder to fill as its only argument.
    versions_code
        Python code printing the versions that, with the script, key the cache.
    expected
        Paths (relative to the folder) the script must make.
    error
        Raised when the script fails or leaves something out.

    Raises
    ------
    Exception
        ``error``.
    """
    versions = run_checked(
        [python, "-c", versions_code], f"asking {python} for its versions", error, timeout=timeout
    ).strip()
    key = hashlib.sha256(script.read_bytes() + b"\0" + versions.encode()).hexdigest()[:16]
    target = CACHE / f"{name}-{key}"
    CACHE.mkdir(exist_ok=True)
    with open(CACHE / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not _intact(target):
                if target.exists():
                    logger.warning("%s no longer matches its manifest: making it again", target)
                _make(python, script, target, expected, error, timeout)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target
