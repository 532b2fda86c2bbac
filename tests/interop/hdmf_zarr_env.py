"""Find or create a python that has hdmf-zarr 0.14 (zarr 3, the shared Zarr v3 convention).

hdmf-zarr 0.14 needs Python >= 3.12 and pins its own hdmf/zarr versions, so it lives in its own
virtual environment (``<repo>/.venv-hdmf-zarr``) and the interoperability tests drive it through
subprocesses, as they drive lindi 0.4.6 (``lindi_env.py``). The interpreter for the venv is the
first Python >= 3.12 found on the machine: ``$HDMF_LINDI_PY312``, then ``python3.13`` and
``python3.12`` on ``PATH``, then pyenv's versions. If none is found the tests that need it fail
with a message saying so (they never skip).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # venvs.py beside this file, however this module is loaded
    sys.path.append(str(HERE))

from venvs import REPO, VenvSpec, ensure_venv  # noqa: E402

__all__ = [
    "HDMF_ZARR_REQUIREMENTS",
    "HdmfZarrEnvError",
    "ensure_hdmf_zarr_python",
    "find_python312",
]

ENV_VAR = "HDMF_LINDI_HDMF_ZARR_PYTHON"
BASE_ENV_VAR = "HDMF_LINDI_PY312"
VENV = REPO / ".venv-hdmf-zarr"
HDMF_ZARR_REQUIREMENTS = [
    "hdmf-zarr==0.14.0",
    "zarr>=3.4",
    "pynwb",
    "h5py",
    "numpy",
    "fsspec",
    "aiohttp",
    "requests",
]
CHECK = (
    "import sys, hdmf_zarr, zarr, pynwb, fsspec; "
    "assert sys.version_info >= (3, 12); "
    "assert hdmf_zarr.__version__.startswith('0.14'), hdmf_zarr.__version__; "
    "assert int(zarr.__version__.split('.')[0]) >= 3, zarr.__version__"
)


class HdmfZarrEnvError(RuntimeError):
    """The hdmf-zarr environment could not be found or created."""


def _version_ok(python: str) -> bool:
    try:
        proc = subprocess.run(
            [python, "-c", "import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)"],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def find_python312() -> str:
    """Return the path of a Python >= 3.12 interpreter found on this machine.

    Raises
    ------
    HdmfZarrEnvError
        If none is found (hdmf-zarr 0.14 requires Python >= 3.12).
    """
    candidates: list[str] = []
    configured = os.environ.get(BASE_ENV_VAR)
    if configured:
        candidates.append(configured)
    for name in ("python3.13", "python3.12", "python3.14"):
        found = shutil.which(name)
        if found:
            candidates.append(found)
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    versions = pyenv_root / "versions"
    if versions.is_dir():
        for entry in sorted(versions.iterdir(), reverse=True):
            if entry.name.startswith(("3.12", "3.13", "3.14")):
                candidates.append(str(entry / "bin" / "python"))
    for candidate in candidates:
        if _version_ok(candidate):
            return candidate
    raise HdmfZarrEnvError(
        "hdmf-zarr 0.14 needs Python >= 3.12 and none was found (looked at "
        f"${BASE_ENV_VAR}, python3.13/python3.12 on PATH and {versions}). Install one, or set "
        f"${BASE_ENV_VAR} to its path, or ${ENV_VAR} to a python that has hdmf-zarr 0.14."
    )


SPEC = VenvSpec(
    what="hdmf-zarr 0.14 (zarr 3, Python >= 3.12)",
    venv=VENV,
    env_var=ENV_VAR,
    requirements=tuple(HDMF_ZARR_REQUIREMENTS),
    check=CHECK,
    error=HdmfZarrEnvError,
    base_python=find_python312,
)


def ensure_hdmf_zarr_python() -> str:
    """Return the path of a python that can ``import hdmf_zarr`` (0.14, with zarr 3).

    Uses ``$HDMF_LINDI_HDMF_ZARR_PYTHON`` when set; otherwise ``<repo>/.venv-hdmf-zarr``, created
    once (under a file lock, so parallel pytest-xdist workers wait for each other) from the first
    Python >= 3.12 that :func:`find_python312` finds.

    Raises
    ------
    HdmfZarrEnvError
        If the configured python cannot import hdmf-zarr 0.14, no Python >= 3.12 exists, or the
        environment cannot be created.
    """
    return ensure_venv(SPEC)


if __name__ == "__main__":
    # scripts/test.sh calls this once before pytest, so parallel workers find the venv ready.
    sys.stdout.write(ensure_hdmf_zarr_python() + "\n")
