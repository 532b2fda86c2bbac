"""hdmf-lindi is a real package: its sdist and wheel build, install in a clean venv, and work.

One test, as a user would do it, in a temporary folder: copy the files git would commit,
``python -m build`` them (an sdist, and a wheel built from that sdist), create a clean venv with
``python -m venv``, install the wheel (its dependencies come from the package index, the pip
cache makes that cheap), and from outside the checkout run ``hdmf-lindi --help``, the first
tutorial, ``python -m hdmf_lindi info`` on what it wrote, and an import of ``NWBLindiIO``. Then
the same venv is reinstalled from the sdist and checked again. The version reported everywhere
is the one in ``pyproject.toml``, the only place it is written. Nothing built stays behind.
About 15 s of CPU, mostly pip (40 s and more of wall time on a busy machine).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
TIMEOUT = 900


def _run(cmd: list[str | Path], cwd: Path) -> str:
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, cmd))} failed (exit {proc.returncode}) in {cwd}\n"
            f"--- stdout ---\n{proc.stdout[-3000:]}\n--- stderr ---\n{proc.stderr[-3000:]}",
            pytrace=False,
        )
    return proc.stdout


def _copy_source(dest: Path) -> None:
    """The files a clean clone has (tracked, or new and not ignored): no venv, cache or build."""
    listed = _run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], REPO)
    for name in filter(None, listed.split("\0")):
        src = REPO / name
        if src.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def _smoke(python: Path, work: Path) -> None:
    """Use the installed package from a folder outside any checkout."""
    scripts = python.parent
    assert "usage: hdmf-lindi" in _run([scripts / "hdmf-lindi", "--help"], work)
    assert _run([scripts / "hdmf-lindi", "--version"], work).strip() == f"hdmf-lindi {VERSION}"
    out = _run([python, REPO / "tutorials" / "01_create_and_read.py", work], work)
    assert out.splitlines()[:2] == ["value1", "7"]
    info = _run([python, "-m", "hdmf_lindi", "info", work / "example.lindi.json"], work)
    assert "dataset1" in info, info
    where, version, io = _run(
        [python, "-c", "import hdmf_lindi; print(hdmf_lindi.__file__); print(hdmf_lindi.__version__); "
         "print(hdmf_lindi.NWBLindiIO.__name__)"],
        work,
    ).split()
    assert Path(where).is_relative_to(python.parent.parent), where  # the venv's copy, not REPO's
    assert (version, io) == (VERSION, "NWBLindiIO")


def test_sdist_and_wheel_install_and_run(tmp_path: Path) -> None:
    source, dist, work = tmp_path / "source", tmp_path / "dist", tmp_path / "work"
    work.mkdir()
    _copy_source(source)
    _run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", dist, source], tmp_path)
    sdists, wheels = sorted(dist.glob("*.tar.gz")), sorted(dist.glob("*.whl"))
    assert [p.name for p in sdists] == [f"hdmf_lindi-{VERSION}.tar.gz"]
    assert [p.name for p in wheels] == [f"hdmf_lindi-{VERSION}-py3-none-any.whl"]
    with zipfile.ZipFile(wheels[0]) as whl:
        names = whl.namelist()
    assert "hdmf_lindi/py.typed" in names and "hdmf_lindi/__main__.py" in names
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "tutorials/"))]

    # a venv with nothing in it (not even pip: this suite's pip installs into it, without
    # compiling .pyc files up front; both save half the time and change nothing that is tested)
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], tmp_path)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-compile", "--disable-pip-version-check"]
    _run([*pip, wheels[0]], tmp_path)
    _smoke(python, work)

    # the same venv, reinstalled from the sdist (built here by pip, in its own isolated env)
    _run([*pip, "--force-reinstall", "--no-deps", sdists[0]], tmp_path)
    shutil.rmtree(work)
    work.mkdir()
    _smoke(python, work)
