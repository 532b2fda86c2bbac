#!/usr/bin/env bash
# Install everything the tests need and run them all: lint, type check, the test suite (which
# includes the lindi 0.4.6 interop tests in their own venv, the tutorials and the docs build).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
# lindi 0.4.6 needs zarr 2: it gets its own virtual environment (.venv-lindi).
.venv/bin/python tests/interop/lindi_env.py
# hdmf-zarr 0.14 (the Zarr v3 convention) needs Python >= 3.12: its own venv (.venv-hdmf-zarr).
.venv/bin/python tests/interop/hdmf_zarr_env.py
# hdmf-zarr 0.13 on zarr 2 (hdmf-zarr's old v2 layout, for the read tests): .venv-hdmf-zarr-v2.
.venv/bin/python tests/interop/hdmf_zarr_v2_env.py
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest -n 2 -q "$@"
