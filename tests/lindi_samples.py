"""The files lindi 0.4.6 writes, made by the real lindi at test time and cached in the checkout.

``ensure_lindi_samples()`` runs ``interop/make_lindi_samples.py`` with the python of the lindi
environment (``interop/lindi_env.py``) into ``<repo>/.cache/lindi-samples-<key>/`` (ignored by
git). The key hashes the script's bytes and the versions of lindi, zarr, numcodecs and h5py in
that environment, so an edit of the script or another lindi gives a new folder. A manifest of
SHA-256 digests, written last, marks a complete folder; a folder whose files no longer match it
(a test wrote into the cache) is made again. A file lock makes pytest-xdist workers wait for the
one that builds it. The files are made read-only: tests copy them before changing anything.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from interop.lindi_env import LindiEnvError, ensure_lindi_python

__all__ = ["SAMPLE_NAMES", "LindiSamplesError", "ensure_lindi_samples"]

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache"
SCRIPT = Path(__file__).resolve().parent / "interop" / "make_lindi_samples.py"
MANIFEST = "MANIFEST.json"
SAMPLE_NAMES = ("features.h5", "features.lindi.json", "written.lindi.json", "written.lindi.tar", "written.lindi.d")
VERSIONS = (
    "import importlib.metadata as m; "
    "print(' '.join(p + '=' + m.version(p) for p in ('lindi', 'zarr', 'numcodecs', 'h5py', 'numpy')))"
)
TIMEOUT = 300


class LindiSamplesError(RuntimeError):
    """The lindi samples could not be made."""


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LindiSamplesError(f"{what} failed: {' '.join(cmd)}: {exc}") from exc
    if proc.returncode != 0:
        raise LindiSamplesError(
            f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            f"--- stderr ---\n{proc.stderr[-4000:]}\n--- stdout ---\n{proc.stdout[-2000:]}"
        )
    return proc.stdout


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in _files(folder)}


def _intact(folder: Path) -> bool:
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return False
    return bool(json.loads(manifest.read_text()) == _digests(folder))


def _make(python: str, target: Path) -> None:
    CACHE.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="making-", dir=CACHE))
    try:
        _run([python, str(SCRIPT), str(work)], "making the lindi samples")
        missing = [n for n in SAMPLE_NAMES if not (work / n).exists()]
        if missing:
            raise LindiSamplesError(f"{SCRIPT.name} did not make {missing} in {work}")
        (work / MANIFEST).write_text(json.dumps(_digests(work), indent=1, sort_keys=True))
        for p in [*_files(work), work / MANIFEST]:
            p.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        if target.exists():
            _remove(target)
        os.replace(work, target)  # the folder appears complete or not at all
    except BaseException:
        _remove(work)
        raise


def _remove(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            p.chmod(stat.S_IRUSR | stat.S_IWUSR)
    shutil.rmtree(folder, ignore_errors=True)


def ensure_lindi_samples() -> Path:
    """Return the folder holding :data:`SAMPLE_NAMES` as lindi 0.4.6 wrote them.

    Raises
    ------
    LindiSamplesError
        If the lindi environment is unavailable, or the script fails.
    """
    try:
        python = ensure_lindi_python()
    except LindiEnvError as exc:
        raise LindiSamplesError(f"no python with lindi 0.4.6 to make the samples: {exc}") from exc
    versions = _run([python, "-c", VERSIONS], "asking the lindi environment for its versions").strip()
    key = hashlib.sha256(SCRIPT.read_bytes() + b"\0" + versions.encode()).hexdigest()[:16]
    target = CACHE / f"lindi-samples-{key}"
    CACHE.mkdir(exist_ok=True)
    with open(CACHE / "lindi-samples.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not _intact(target):
                if target.exists():
                    logger.warning("%s no longer matches its manifest: making it again", target)
                _make(python, target)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target
