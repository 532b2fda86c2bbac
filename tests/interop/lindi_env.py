"""Find or create a python that has the reference implementation, lindi 0.4.6.

lindi needs zarr < 3 while hdmf_lindi needs zarr >= 3, so lindi lives in its own virtual
environment (``<repo>/.venv-lindi``, see ``venvs.py``) and the interoperability tests drive it
through subprocesses.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # venvs.py beside this file, however this module is loaded
    sys.path.append(str(HERE))

from venvs import REPO, VenvSpec, ensure_venv  # noqa: E402

__all__ = ["LINDI_REQUIREMENTS", "LindiEnvError", "ensure_lindi_python"]

ENV_VAR = "HDMF_LINDI_LINDI_PYTHON"
VENV = REPO / ".venv-lindi"
# lindi 0.4.6 imports zarr 2 APIs; numcodecs 0.16 dropped what zarr 2.18 uses.
LINDI_REQUIREMENTS = ["lindi==0.4.6", "zarr<3", "numcodecs<0.16", "h5py", "numpy"]
CHECK = "import lindi, zarr, h5py; assert zarr.__version__.startswith('2.'), zarr.__version__"


class LindiEnvError(RuntimeError):
    """The lindi environment could not be found or created."""


SPEC = VenvSpec(
    what="lindi 0.4.6 (zarr 2)",
    venv=VENV,
    env_var=ENV_VAR,
    requirements=tuple(LINDI_REQUIREMENTS),
    check=CHECK,
    error=LindiEnvError,
)


def ensure_lindi_python() -> str:
    """Return the path of a python that can ``import lindi`` (0.4.6, with zarr 2).

    Uses ``$HDMF_LINDI_LINDI_PYTHON`` when set; otherwise ``<repo>/.venv-lindi``, made once with
    ``pip install lindi==0.4.6 "zarr<3" "numcodecs<0.16" h5py numpy``.

    Raises
    ------
    LindiEnvError
        If the configured python cannot import lindi, or the environment cannot be created.
    """
    return ensure_venv(SPEC)


if __name__ == "__main__":
    # scripts/test.sh calls this once before pytest, so parallel workers find the venv ready.
    sys.stdout.write(ensure_lindi_python() + "\n")
