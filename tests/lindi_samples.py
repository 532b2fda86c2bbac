"""The files lindi 0.4.6 writes, made by the real lindi at test time and cached in the checkout.

``ensure_lindi_samples()`` runs ``interop/make_lindi_samples.py`` with the python of the lindi
environment (``interop/lindi_env.py``) into ``<repo>/.cache/lindi-samples-<key>/`` (ignored by
git), keyed by the script's bytes and the versions of lindi, zarr, numcodecs, h5py and numpy
there; see ``made_samples.py`` for the manifest, the lock and why the files are read-only (tests
copy them before changing anything).
"""

from __future__ import annotations

from pathlib import Path

from interop.lindi_env import LindiEnvError, ensure_lindi_python
from made_samples import ensure_made

__all__ = ["SAMPLE_NAMES", "LindiSamplesError", "ensure_lindi_samples"]

SCRIPT = Path(__file__).resolve().parent / "interop" / "make_lindi_samples.py"
SAMPLE_NAMES = (
    "features.h5",
    "features.lindi.json",
    "written.lindi.json",
    "written.lindi.tar",
    "written.lindi.d",
)
VERSIONS = (
    "import importlib.metadata as m; "
    "print(' '.join(p + '=' + m.version(p) for p in "
    "('lindi', 'zarr', 'numcodecs', 'h5py', 'numpy')))"
)
TIMEOUT = 300


class LindiSamplesError(RuntimeError):
    """The lindi samples could not be made."""


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
    return ensure_made(
        "lindi-samples",
        python=python,
        script=SCRIPT,
        versions_code=VERSIONS,
        expected=SAMPLE_NAMES,
        error=LindiSamplesError,
        timeout=TIMEOUT,
    )
