"""Fixtures for the interoperability tests with the reference implementation, lindi 0.4.6.

lindi runs in its own virtual environment (it needs zarr < 3): see ``lindi_env.py``. Tests call
the driver script ``lindi_driver.py`` in that environment through ``run_lindi``.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "lindi_driver.py"
DRIVER_TIMEOUT = 300


def _load(name: str, path: Path) -> ModuleType:
    module = sys.modules.get(name)
    if module is not None:
        return module
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


lindi_env = _load("_hdmf_lindi_interop_lindi_env", HERE / "lindi_env.py")


@pytest.fixture(scope="session")
def _lindi_env() -> tuple[str | None, str]:
    """(python, "") when the lindi environment is usable, else (None, why not)."""
    try:
        return lindi_env.ensure_lindi_python(), ""
    except lindi_env.LindiEnvError as exc:
        return None, str(exc)


def _fail_without(env: tuple[str | None, str]) -> str:
    python, why = env
    if python is None:
        pytest.fail(
            "The lindi 0.4.6 environment for the interoperability tests is unavailable "
            f"(set ${lindi_env.ENV_VAR} to a python with lindi 0.4.6 and zarr 2, or let the "
            f"tests create {lindi_env.VENV}):\n{why}",
            pytrace=False,
        )
    return python


@pytest.fixture(scope="session")
def lindi_python(_lindi_env: tuple[str | None, str]) -> str:
    """Path of a python with lindi 0.4.6 (the tests fail, never skip, if it cannot be had)."""
    return _fail_without(_lindi_env)


@pytest.fixture(scope="session")
def driver() -> ModuleType:
    """The driver module itself, for its canonical-description helpers (numpy only)."""
    return _load("_hdmf_lindi_interop_lindi_driver", DRIVER)


@pytest.fixture
def run_lindi(_lindi_env: tuple[str | None, str]) -> Callable[..., str]:
    """``run_lindi(*args, cwd=None) -> stdout``: run the driver with lindi's python.

    A missing lindi environment or a failing driver fails the calling test, with the driver's
    stderr in the message.
    """

    def run(*args: str | Path, cwd: str | Path | None = None) -> str:
        python = _fail_without(_lindi_env)
        cmd = [python, str(DRIVER), *(str(a) for a in args)]
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=DRIVER_TIMEOUT, cwd=cwd, check=False
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"lindi driver timed out after {DRIVER_TIMEOUT} s: {' '.join(cmd)}\n{exc}")
        if proc.returncode != 0:
            pytest.fail(
                f"lindi driver failed (exit {proc.returncode}): {' '.join(cmd)} (cwd={cwd})\n"
                f"--- stderr ---\n{proc.stderr[-6000:]}\n--- stdout ---\n{proc.stdout[-2000:]}",
                pytrace=False,
            )
        return proc.stdout

    return run


hdmf_zarr_env = _load("_hdmf_lindi_interop_hdmf_zarr_env", HERE / "hdmf_zarr_env.py")


@pytest.fixture(scope="session")
def hdmf_zarr_python() -> str:
    """Path of a python with hdmf-zarr 0.14 and zarr 3 (Python >= 3.12).

    Made once per checkout by ``hdmf_zarr_env.py``; the tests fail, never skip, if it cannot be
    had (for instance when the machine has no Python >= 3.12).
    """
    try:
        return str(hdmf_zarr_env.ensure_hdmf_zarr_python())
    except hdmf_zarr_env.HdmfZarrEnvError as exc:
        pytest.fail(
            "The hdmf-zarr 0.14 environment for the Zarr v3 interoperability tests is "
            f"unavailable:\n{exc}",
            pytrace=False,
        )
