"""The hdmf-zarr 0.14 environment that the Zarr v3 interoperability tests drive."""

from __future__ import annotations

import subprocess


def test_hdmf_zarr_environment_is_made(hdmf_zarr_python: str) -> None:
    """The venv exists, runs Python >= 3.12 and has hdmf-zarr 0.14.0 with zarr 3."""
    code = (
        "import sys, hdmf_zarr, zarr; "
        "print(sys.version_info[:2] >= (3, 12), hdmf_zarr.__version__, zarr.__version__[0])"
    )
    out = subprocess.run(
        [hdmf_zarr_python, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    assert out == ["True", "0.14.0", "3"]
