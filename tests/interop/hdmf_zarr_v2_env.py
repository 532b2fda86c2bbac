"""Find or create a python that has hdmf-zarr 0.13 on zarr 2 (hdmf-zarr's old Zarr v2 layout).

The v2-layout read tests need stores written by the last hdmf-zarr before the Zarr v3
convention: hdmf-zarr 0.13.0 with zarr 2. It installs from the package registry on the Python
that runs the tests (no 3.12 needed), into its own virtual environment ``<repo>/.venv-hdmf-zarr-v2``,
made once under a file lock (pytest-xdist workers wait for each other), or taken from
``$HDMF_LINDI_HDMF_ZARR_V2_PYTHON``. If it cannot be had the tests that need it fail (never skip).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["REQUIREMENTS", "HdmfZarrV2EnvError", "ensure_hdmf_zarr_v2_python"]

ENV_VAR = "HDMF_LINDI_HDMF_ZARR_V2_PYTHON"
REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv-hdmf-zarr-v2"
REQUIREMENTS = ["hdmf-zarr==0.13.0", "zarr>=2.18,<3", "pynwb", "h5py", "numpy"]
CHECK = (
    "import hdmf_zarr, zarr, pynwb; "
    "assert hdmf_zarr.__version__.startswith('0.13'), hdmf_zarr.__version__; "
    "assert zarr.__version__.startswith('2.'), zarr.__version__"
)
INSTALL_TIMEOUT = 900


class HdmfZarrV2EnvError(RuntimeError):
    """The hdmf-zarr 0.13 environment could not be found or created."""


def _works(python: Path | str) -> tuple[bool, str]:
    try:
        proc = subprocess.run([str(python), "-c", CHECK], capture_output=True, text=True, timeout=180, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return proc.returncode == 0, proc.stderr.strip()


def _run(cmd: list[str], what: str) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HdmfZarrV2EnvError(f"{what} failed: {' '.join(cmd)}: {exc}") from exc
    if proc.returncode != 0:
        raise HdmfZarrV2EnvError(
            f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
        )


def ensure_hdmf_zarr_v2_python() -> str:
    """Return the path of a python with hdmf-zarr 0.13 and zarr 2.

    Raises
    ------
    HdmfZarrV2EnvError
        If ``$HDMF_LINDI_HDMF_ZARR_V2_PYTHON`` cannot import them, or the environment cannot be
        created.
    """
    configured = os.environ.get(ENV_VAR)
    if configured:
        ok, err = _works(configured)
        if not ok:
            raise HdmfZarrV2EnvError(f"${ENV_VAR}={configured} cannot import hdmf-zarr 0.13 with zarr 2: {err}")
        return configured
    python = VENV / "bin" / "python"
    digest = hashlib.sha256(str(VENV).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"hdmf_lindi-venv-hdmf-zarr-v2-{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if python.exists() and _works(python)[0]:
                return str(python)
            if VENV.exists():
                shutil.rmtree(VENV)  # half-made (an interrupted install): start again
            _run([sys.executable, "-m", "venv", str(VENV)], "creating the hdmf-zarr 0.13 environment")
            _run(
                [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *REQUIREMENTS],
                "installing hdmf-zarr 0.13.0 into " + str(VENV),
            )
            ok, err = _works(python)
            if not ok:
                raise HdmfZarrV2EnvError(f"{VENV} was created but cannot import hdmf-zarr 0.13: {err}")
            return str(python)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


if __name__ == "__main__":
    # scripts/test.sh calls this once before pytest, so parallel workers find the venv ready.
    sys.stdout.write(ensure_hdmf_zarr_v2_python() + "\n")
