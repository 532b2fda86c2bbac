"""NWB files written by hdmf-zarr as Zarr directory stores, made at test time and cached.

``ensure_hdmf_zarr_stores("v3")`` runs ``interop/hdmf_zarr_make_stores.py`` with the python of the
hdmf-zarr 0.14 environment (``interop/hdmf_zarr_env.py``: Zarr v3, the shared convention);
``ensure_hdmf_zarr_stores("v2")`` with that of hdmf-zarr 0.13 on zarr 2
(``interop/hdmf_zarr_v2_env.py``: hdmf-zarr's old v2 layout). The stores go to
``<repo>/.cache/hdmf-zarr-stores-<layout>-<key>/`` (ignored by git). The key hashes the script's
bytes and the versions of hdmf-zarr, zarr, pynwb, hdmf, numpy and h5py there. A manifest of
SHA-256 digests, written last, marks a complete folder (a folder that no longer matches it is
made again); a file lock makes pytest-xdist workers wait for the one that builds it. The files
are made read-only: tests copy them before changing them.
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

from interop.hdmf_zarr_env import HdmfZarrEnvError, ensure_hdmf_zarr_python
from interop.hdmf_zarr_v2_env import HdmfZarrV2EnvError, ensure_hdmf_zarr_v2_python

__all__ = ["STORE_NAMES", "HdmfZarrStoresError", "ensure_hdmf_zarr_stores"]

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache"
SCRIPT = Path(__file__).resolve().parent / "interop" / "hdmf_zarr_make_stores.py"
MANIFEST = "MANIFEST.json"
STORE_NAMES = ("mocks", "ecephys", "rich", "sharded", "extension")
VERSIONS = (
    "import importlib.metadata as m; "
    "print(' '.join(p + '=' + m.version(p) for p in ('hdmf-zarr', 'zarr', 'pynwb', 'hdmf', 'numpy', 'h5py')))"
)
TIMEOUT = 600


class HdmfZarrStoresError(RuntimeError):
    """The hdmf-zarr stores could not be made."""


def _run(cmd: list[str], what: str) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HdmfZarrStoresError(f"{what} failed: {' '.join(cmd)}: {exc}") from exc
    if proc.returncode != 0:
        raise HdmfZarrStoresError(
            f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            f"--- stderr ---\n{proc.stderr[-4000:]}\n--- stdout ---\n{proc.stdout[-2000:]}"
        )
    return proc.stdout


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


def _make(python: str, target: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix="making-zarr-", dir=CACHE))
    try:
        _run([python, str(SCRIPT), str(work)], "making the hdmf-zarr stores")
        missing = [n for n in STORE_NAMES if not (work / f"{n}.nwb.zarr").is_dir()]
        if missing:
            raise HdmfZarrStoresError(f"{SCRIPT.name} did not make the stores {missing} in {work}")
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


def ensure_hdmf_zarr_stores(layout: str = "v3") -> Path:
    """Return the folder holding ``NAME.nwb.zarr``, ``NAME.plain.nwb.zarr`` and ``NAME.nwb`` for
    each of :data:`STORE_NAMES`, and ``corpus.json`` (see the script), written by hdmf-zarr
    0.14 (``layout="v3"``) or 0.13 (``"v2"``).

    Raises
    ------
    HdmfZarrStoresError
        If the hdmf-zarr environment is unavailable, or the script fails.
    """
    try:
        python = str(ensure_hdmf_zarr_python() if layout == "v3" else ensure_hdmf_zarr_v2_python())
    except (HdmfZarrEnvError, HdmfZarrV2EnvError) as exc:
        raise HdmfZarrStoresError(f"no python with hdmf-zarr ({layout} layout) to make the stores: {exc}") from exc
    versions = _run([python, "-c", VERSIONS], "asking the hdmf-zarr environment for its versions").strip()
    key = hashlib.sha256(SCRIPT.read_bytes() + b"\0" + versions.encode()).hexdigest()[:16]
    target = CACHE / f"hdmf-zarr-stores-{layout}-{key}"
    CACHE.mkdir(exist_ok=True)
    with open(CACHE / "hdmf-zarr-stores.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not _intact(target):
                if target.exists():
                    logger.warning("%s no longer matches its manifest: making it again", target)
                _make(python, target)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target
