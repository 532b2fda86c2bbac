"""Find or create a python that has hdmf-zarr 0.13 on zarr 2 (hdmf-zarr's old Zarr v2 layout).

The v2-layout read tests need stores written by the last hdmf-zarr before the Zarr v3
convention: hdmf-zarr 0.13.0 with zarr 2. It installs from the package registry on the Python
that runs the tests (no 3.12 needed), into ``<repo>/.venv-hdmf-zarr-v2`` (see ``venvs.py``), or
is taken from ``$HDMF_LINDI_HDMF_ZARR_V2_PYTHON``. If it cannot be had the tests that need it
fail (never skip).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # venvs.py beside this file, however this module is loaded
    sys.path.append(str(HERE))

from venvs import REPO, VenvSpec, ensure_venv  # noqa: E402

__all__ = ["REQUIREMENTS", "HdmfZarrV2EnvError", "ensure_hdmf_zarr_v2_python"]

ENV_VAR = "HDMF_LINDI_HDMF_ZARR_V2_PYTHON"
VENV = REPO / ".venv-hdmf-zarr-v2"
REQUIREMENTS = ["hdmf-zarr==0.13.0", "zarr>=2.18,<3", "pynwb", "h5py", "numpy"]
CHECK = (
    "import hdmf_zarr, zarr, pynwb; "
    "assert hdmf_zarr.__version__.startswith('0.13'), hdmf_zarr.__version__; "
    "assert zarr.__version__.startswith('2.'), zarr.__version__"
)


class HdmfZarrV2EnvError(RuntimeError):
    """The hdmf-zarr 0.13 environment could not be found or created."""


SPEC = VenvSpec(
    what="hdmf-zarr 0.13 (zarr 2)",
    venv=VENV,
    env_var=ENV_VAR,
    requirements=tuple(REQUIREMENTS),
    check=CHECK,
    error=HdmfZarrV2EnvError,
)


def ensure_hdmf_zarr_v2_python() -> str:
    """Return the path of a python with hdmf-zarr 0.13 and zarr 2.

    Raises
    ------
    HdmfZarrV2EnvError
        If ``$HDMF_LINDI_HDMF_ZARR_V2_PYTHON`` cannot import them, or the environment cannot be
        created.
    """
    return ensure_venv(SPEC)


if __name__ == "__main__":
    # scripts/test.sh calls this once before pytest, so parallel workers find the venv ready.
    sys.stdout.write(ensure_hdmf_zarr_v2_python() + "\n")
