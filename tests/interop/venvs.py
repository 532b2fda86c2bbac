"""Make (once) and find the virtual environments the interoperability tests drive.

Each other tool (lindi 0.4.6 on zarr 2, hdmf-zarr 0.14 on zarr 3 and Python >= 3.12, hdmf-zarr
0.13 on zarr 2) cannot share our environment, so each gets its own venv under the repository,
described by a :class:`VenvSpec`. :func:`ensure_venv` returns its python: the one named by the
spec's environment variable when set, else the venv, made under a file lock (pytest-xdist workers
wait for each other) and made again when a check import fails (an interrupted install).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["REPO", "VenvSpec", "ensure_venv", "run_checked"]

REPO = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 900


def run_checked(
    cmd: list[str],
    what: str,
    error: type[Exception],
    *,
    timeout: float = INSTALL_TIMEOUT,
    cwd: Path | None = None,
) -> str:
    """Run ``cmd``; return its stdout, or raise ``error`` with the tail of its output."""
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise error(f"{what} failed: {' '.join(cmd)}: {exc}") from exc
    if proc.returncode != 0:
        raise error(
            f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
        )
    return proc.stdout


@dataclass(frozen=True)
class VenvSpec:
    """One tool's virtual environment.

    Parameters
    ----------
    what
        The tool, for messages (``"lindi 0.4.6"``).
    venv
        Where the venv lives.
    env_var
        The variable that names an existing python to use instead.
    requirements
        What ``pip install`` gets.
    check
        Python code that exits non-zero unless the environment is right.
    error
        The exception type raised when it cannot be had.
    base_python
        Returns the interpreter to make the venv from (default: the one running the tests).
    """

    what: str
    venv: Path
    env_var: str
    requirements: tuple[str, ...]
    check: str
    error: type[Exception]
    base_python: Callable[[], str] = field(default=lambda: sys.executable)

    @property
    def python(self) -> Path:
        """The venv's python."""
        return self.venv / "bin" / "python"


def _works(python: Path | str, check: str) -> tuple[bool, str]:
    try:
        proc = subprocess.run(
            [str(python), "-c", check], capture_output=True, text=True, timeout=180, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return proc.returncode == 0, proc.stderr.strip()


def _create(spec: VenvSpec) -> None:
    if spec.venv.exists():
        shutil.rmtree(spec.venv)  # half-made (an interrupted install): start again
    run_checked(
        [spec.base_python(), "-m", "venv", str(spec.venv)],
        f"creating the {spec.what} virtual environment",
        spec.error,
    )
    run_checked(
        [str(spec.python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        + list(spec.requirements),
        f"installing {spec.what} into {spec.venv}",
        spec.error,
    )


def ensure_venv(spec: VenvSpec) -> str:
    """Return the path of a python that passes ``spec.check``, making the venv if needed.

    Raises
    ------
    Exception
        ``spec.error``, if the configured python fails the check or the venv cannot be made.
    """
    configured = os.environ.get(spec.env_var)
    if configured:
        ok, err = _works(configured, spec.check)
        if not ok:
            raise spec.error(f"${spec.env_var}={configured} is not a usable {spec.what}: {err}")
        return configured
    # The lock lives outside the repository (nothing to ignore), one per checkout and venv.
    digest = hashlib.sha256(str(spec.venv).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"hdmf_lindi-{spec.venv.name}-{digest}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if spec.python.exists() and _works(spec.python, spec.check)[0]:
                return str(spec.python)
            _create(spec)
            ok, err = _works(spec.python, spec.check)
            if not ok:
                raise spec.error(f"{spec.venv} was made but is not a usable {spec.what}: {err}")
            return str(spec.python)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
