#!/usr/bin/env bash
# The main job on a bundled example: install hdmf-lindi into .venv, then create, read and print
# LINDI files (the seed's two examples, tutorials/01 and 02), index an NWB file (tutorials/03),
# pack a much-updated .lindi.tar (tutorials/04), read, amend and write NWB through LINDI
# (tutorials/05-07) in a scratch directory; then show the command line on the results.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
.venv/bin/python tutorials/01_create_and_read.py "$out"
.venv/bin/python tutorials/02_large_array_tar.py "$out"
.venv/bin/python tutorials/03_index_hdf5.py "$out"
.venv/bin/python tutorials/04_pack_tar.py "$out"
.venv/bin/python tutorials/05_read_remote_nwb.py "$out"
.venv/bin/python tutorials/06_amend_remote_nwb.py "$out"
.venv/bin/python tutorials/07_write_nwb.py "$out"
.venv/bin/hdmf-lindi pack "$out/example.lindi.tar" "$out/example.lindi.d"
.venv/bin/hdmf-lindi info "$out/example.lindi.d"
