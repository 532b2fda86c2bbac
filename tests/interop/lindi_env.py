"""Find or create a python that has the reference implementation, lindi 0.4.6.

lindi needs zarr < 3 while hdmf_lindi needs zarr >= 3, so lindi lives in its own virtual
environment and the interoperability tests drive it through subprocesses.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["LINDI_REQUIREMENTS", "LindiEnvError", "ensure_lindi_python"]

ENV_VAR = "HDMF_LINDI_LINDI_PYTHON"
REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv-lindi"
# lindi 0.4.6 imports zarr 2 APIs; numcodecs 0.16 dropped what zarr 2.18 uses.
LINDI_REQUIREMENTS = ["lindi==0.4.6", "zarr<3", "numcodecs<0.16", "h5py", "numpy"]
CHECK = "import lindi, zarr, h5py; assert zarr.__version__.startswith('2.'), zarr.__version__"
INSTALL_TIMEOUT = 900


class LindiEnvError(RuntimeError):
    """The lindi environment could not be found or created."""


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _works(python: Path | str) -> tuple[bool, str]:
    try:
        proc = subprocess.run(
            [str(python), "-c", CHECK], capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return proc.returncode == 0, proc.stderr.strip()


def _run(cmd: list[str], what: str) -> None:
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LindiEnvError(f"{what} failed: {' '.join(cmd)}: {exc}") from exc
    if proc.returncode != 0:
        raise LindiEnvError(
            f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
        )


def _create(venv: Path) -> None:
    if venv.exists():
        # A broken or half-made environment (e.g. an interrupted install): start again.
        import shutil

        shutil.rmtree(venv)
    _run([sys.executable, "-m", "venv", str(venv)], "creating the lindi virtual environment")
    _run(
        [
            str(_venv_python(venv)),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-q",
            *LINDI_REQUIREMENTS,
        ],
        "installing lindi 0.4.6 into " + str(venv),
    )


def ensure_lindi_python() -> str:
    """Return the path of a python that can ``import lindi`` (0.4.6, with zarr 2).

    Uses ``$HDMF_LINDI_LINDI_PYTHON`` when set; otherwise ``<repo>/.venv-lindi``, created (once,
    under a file lock so parallel pytest-xdist workers wait for each other) with
    ``python -m venv`` and ``pip install lindi==0.4.6 "zarr<3" "numcodecs<0.16" h5py numpy``.

    Raises
    ------
    LindiEnvError
        If the configured python cannot import lindi, or the environment cannot be created.
    """
    configured = os.environ.get(ENV_VAR)
    if configured:
        ok, err = _works(configured)
        if not ok:
            raise LindiEnvError(f"${ENV_VAR}={configured} cannot import lindi with zarr 2: {err}")
        return configured
    python = _venv_python(VENV)
    # The lock lives outside the repository (nothing to ignore), one per checkout.
    digest = hashlib.sha256(str(VENV).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"hdmf_lindi-venv-lindi-{digest}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if python.exists() and _works(python)[0]:
                return str(python)
            _create(VENV)
            ok, err = _works(python)
            if not ok:
                raise LindiEnvError(
                    f"{VENV} was created but cannot import lindi with zarr 2: {err}"
                )
            return str(python)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


if __name__ == "__main__":
    # scripts/test.sh calls this once before pytest, so parallel workers find the venv ready.
    sys.stdout.write(ensure_lindi_python() + "\n")
