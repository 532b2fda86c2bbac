"""Create (once) the anchor tools' virtual environments and print their interpreters.

Run by ``benchmarks/run.sh``::

    eval "$(python benchmarks/_anchors.py)"

For each anchor it prints ``export HDMF_LINDI_BENCH_<KIND>_PYTHON=<path>`` on stdout when the
anchor is usable, and what it did (or why the anchor is not available) on stderr. An anchor
whose variable is already set is checked and kept. Environments live in the repository, in
gitignored ``.venv-bench-<kind>`` folders, and are made from the package registries only; one
is reused while its requirements and its check still hold, rebuilt otherwise.

* ``lindi``: lindi 0.4.6 on zarr 2, with h5py, remfile, kerchunk, fsspec and pynwb (kerchunk
  resolves to a release that still runs on zarr 2, 0.2.7 today), and pandas, fastparquet and
  aiohttp for kerchunk's parquet references read through fsspec over HTTP, and dask
  (``bench_dask``'s h5py + remfile + ``da.from_array`` anchor);
* ``hdmf_zarr``: hdmf-zarr 0.14 on zarr >= 3.4, on a Python >= 3.12 found on the machine, with
  dask and fsspec[http] (``bench_dask``'s zarr 3 + ``da.from_zarr`` anchor reads over HTTP);
* ``lazynwb``: lazynwb 1.0.0 (with s3fs/boto3 pinned to a set that resolves at once) on a
  Python >= 3.12 found on the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from _common import ANCHOR_VARS, REPO

INSTALL_TIMEOUT = 1200
CHECK_TIMEOUT = 180


@dataclass(frozen=True)
class Spec:
    """What one anchor environment holds and how to check it."""

    kind: str
    requirements: tuple[str, ...]
    check: str
    min_python: tuple[int, int] = (3, 11)

    @property
    def venv(self) -> Path:
        return REPO / f".venv-bench-{self.kind.replace('_', '-')}"


SPECS = (
    Spec(
        "lindi",
        ("lindi==0.4.6", "zarr<3", "numcodecs<0.16", "h5py", "numpy", "remfile", "kerchunk",
         "fsspec", "pynwb", "pandas", "fastparquet", "aiohttp", "dask[array]"),
        "import lindi, zarr, h5py, remfile, fsspec, pynwb, kerchunk.hdf; "
        "import kerchunk.df, pandas, fastparquet, aiohttp, dask.array; "
        "assert zarr.__version__.startswith('2.'), zarr.__version__",
    ),
    Spec(
        "hdmf_zarr",
        ("hdmf-zarr==0.14.*", "zarr>=3.4", "pynwb", "dask[array]", "fsspec[http]"),
        "import hdmf_zarr, zarr, pynwb, dask.array, aiohttp; assert int(zarr.__version__.split('.')[0]) >= 3",
        (3, 12),
    ),
    # Unpinned, pip backtracks through boto3/botocore releases for over 20 minutes (s3fs ->
    # aiobotocore caps botocore): these versions resolve at once and work together.
    Spec(
        "lazynwb",
        ("lazynwb==1.0.0", "s3fs==2026.9.0", "aiobotocore==3.10.0", "boto3==1.43.117"),
        "import lazynwb",
        (3, 12),
    ),
)


def log(message: str) -> None:
    """Tell the person running the benchmarks (stderr: stdout is for ``eval``)."""
    print(f"[anchors] {message}", file=sys.stderr, flush=True)


def _version_of(python: str) -> tuple[int, int] | None:
    try:
        proc = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True, text=True, timeout=60, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    major, minor = proc.stdout.split()
    return int(major), int(minor)


def find_python(minimum: tuple[int, int]) -> str | None:
    """A Python >= ``minimum``: this one if it is recent enough (the anchors then run on the
    same Python as ours), else the oldest such on the machine (PATH, then pyenv's versions),
    whose wheels are the most likely to exist."""
    if sys.version_info[:2] >= minimum:
        return sys.executable
    candidates = []
    for minor in range(minimum[1], 15):
        found = shutil.which(f"python3.{minor}")
        if found:
            candidates.append(found)
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates.extend(str(p) for p in sorted((pyenv_root / "versions").glob("3.*/bin/python3"),
                                             reverse=True))
    usable = []
    for python in candidates:
        version = _version_of(python)
        if version is not None and version >= minimum:
            usable.append((version, python))
    return min(usable)[1] if usable else None


def _works(python: str, check: str) -> tuple[bool, str]:
    try:
        proc = subprocess.run(
            [python, "-c", check], capture_output=True, text=True, timeout=CHECK_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return proc.returncode == 0, (proc.stderr.strip().splitlines() or [""])[-1]


def _run(cmd: list[str]) -> str | None:
    """Run an install step; return None, or what went wrong."""
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if proc.returncode != 0:
        tail = [ln for ln in proc.stderr.splitlines() if not ln.startswith("WARNING")][-5:]
        return f"exit {proc.returncode}: {' / '.join(tail)}"
    return None


def provision(spec: Spec) -> tuple[str | None, str]:
    """Return (interpreter or None, what happened)."""
    var = ANCHOR_VARS[spec.kind]
    configured = os.environ.get(var, "").strip()
    if configured:
        ok, err = _works(configured, spec.check)
        if ok:
            return configured, f"using ${var}={configured}"
        return None, f"${var}={configured} fails its check ({err}): not available"
    python = spec.venv / "bin" / "python"
    stamp = spec.venv / ".bench-requirements.json"
    wanted = json.dumps({"requirements": spec.requirements, "check": spec.check})
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        ok, _ = _works(str(python), spec.check)
        if ok:
            return str(python), f"reusing {spec.venv.name}"
    base = find_python(spec.min_python)
    if base is None:
        wanted_version = ".".join(map(str, spec.min_python))
        return None, f"no Python >= {wanted_version} on this machine: not available"
    log(f"creating {spec.venv.name} with {base} ({', '.join(spec.requirements)}) ...")
    if spec.venv.exists():
        shutil.rmtree(spec.venv)
    error = _run([base, "-m", "venv", str(spec.venv)]) or _run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         *spec.requirements]
    )
    if error is not None:
        return None, f"could not create {spec.venv.name}: {error}: not available"
    ok, err = _works(str(python), spec.check)
    if not ok:
        return None, f"{spec.venv.name} was created but fails its check ({err}): not available"
    stamp.write_text(wanted)
    return str(python), f"created {spec.venv.name}"


def main() -> int:
    with ThreadPoolExecutor(len(SPECS)) as pool:
        outcomes = list(pool.map(provision, SPECS))
    for spec, (python, what) in zip(SPECS, outcomes, strict=True):
        log(f"{spec.kind}: {what}")
        if python is not None:
            print(f"export {ANCHOR_VARS[spec.kind]}={python}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
