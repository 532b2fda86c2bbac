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

from pathlib import Path

from interop.hdmf_zarr_env import HdmfZarrEnvError, ensure_hdmf_zarr_python
from interop.hdmf_zarr_v2_env import HdmfZarrV2EnvError, ensure_hdmf_zarr_v2_python
from made_samples import ensure_made

__all__ = ["STORE_NAMES", "HdmfZarrStoresError", "ensure_hdmf_zarr_stores"]

SCRIPT = Path(__file__).resolve().parent / "interop" / "hdmf_zarr_make_stores.py"
STORE_NAMES = ("mocks", "ecephys", "rich", "sharded", "extension")
VERSIONS = (
    "import importlib.metadata as m; "
    "print(' '.join(p + '=' + m.version(p) for p in "
    "('hdmf-zarr', 'zarr', 'pynwb', 'hdmf', 'numpy', 'h5py')))"
)
TIMEOUT = 600


class HdmfZarrStoresError(RuntimeError):
    """The hdmf-zarr stores could not be made."""


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
    return ensure_made(
        f"hdmf-zarr-stores-{layout}",
        python=python,
        script=SCRIPT,
        versions_code=VERSIONS,
        expected=[f"{n}.nwb.zarr" for n in STORE_NAMES],
        error=HdmfZarrStoresError,
        timeout=TIMEOUT,
    )
