"""Find or create a node folder with the JavaScript Zarr client zarrita, pinned.

zarrita's ``@zarrita/storage`` ReferenceStore is what web viewers use to read kerchunk reference
files; the interoperability tests drive it through ``zarrita_driver.mjs`` under node. The
packages are installed once with npm into ``<repo>/.cache/zarrita-node`` (ignored by git), under
a file lock so parallel pytest-xdist workers wait for each other.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # venvs.py beside this file, however this module is loaded
    sys.path.append(str(HERE))

from venvs import run_checked  # noqa: E402

__all__ = ["PACKAGES", "ZarritaEnvError", "ensure_zarrita"]

REPO = Path(__file__).resolve().parents[2]
FOLDER = REPO / ".cache" / "zarrita-node"
# zarrita 0.7.5 depends on @zarrita/storage ^0.2.0; 0.2.0 is the matching release.
PACKAGES = {"zarrita": "0.7.5", "@zarrita/storage": "0.2.0"}
INSTALL_TIMEOUT = 600


class ZarritaEnvError(RuntimeError):
    """node, npm or the pinned zarrita packages could not be found or installed."""


def _installed(folder: Path) -> bool:
    for name, version in PACKAGES.items():
        manifest = folder / "node_modules" / name / "package.json"
        try:
            if json.loads(manifest.read_text())["version"] != version:
                return False
        except (OSError, ValueError, KeyError):
            return False
    return True


def _install(folder: Path, npm: str) -> None:
    if folder.exists():
        shutil.rmtree(folder)  # a half-made install (e.g. interrupted): start again
    folder.mkdir(parents=True)
    manifest = {"name": "hdmf-lindi-zarrita-interop", "private": True, "type": "module"}
    (folder / "package.json").write_text(json.dumps(manifest))
    cmd = [npm, "install", "--no-audit", "--no-fund", "--save-exact",
           *(f"{name}@{version}" for name, version in PACKAGES.items())]
    run_checked(cmd, f"npm install in {folder}", ZarritaEnvError, timeout=INSTALL_TIMEOUT, cwd=folder)


def ensure_zarrita() -> tuple[str, Path]:
    """Return (node executable, folder whose ``node_modules`` holds the pinned zarrita).

    Raises
    ------
    ZarritaEnvError
        If node or npm is not on PATH, or the packages cannot be installed.
    """
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise ZarritaEnvError("node and npm must be on PATH to test reading with zarrita (JavaScript).")
    digest = hashlib.sha256(str(FOLDER).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"hdmf_lindi-zarrita-node-{digest}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not _installed(FOLDER):
                _install(FOLDER, npm)
                if not _installed(FOLDER):
                    raise ZarritaEnvError(f"npm install in {FOLDER} did not leave {PACKAGES} installed.")
            return node, FOLDER
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
