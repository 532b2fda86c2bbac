"""Sphinx configuration of the hdmf-lindi documentation.

Build with ``python -m sphinx -n -W --keep-going -b html docs docs/_build/html``. Only built-in
extensions are used and nothing is fetched from the network (no intersphinx).
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

# Import the package from this checkout, installed or not.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

project = "hdmf-lindi"
author = "hdmf-lindi developers"
copyright = "hdmf-lindi developers"
# The version lives in one place, pyproject.toml (the package reads it from its metadata).
release = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build"]

# -n (nitpicky) checks every cross-reference. Without intersphinx (nothing is fetched) the
# standard library's and other packages' objects cannot be linked: those, and only those, are
# not reported.
nitpick_ignore_regex = [
    (r"py:.*", r"(os|io|collections\.abc|typing|ctypes|concurrent\.futures|threading|hdmf|pynwb|numpy|numcodecs|requests|h5py|tqdm|zarr|dask|da|distributed|xarray|xr|np|pandas)(\..*)?"),
    (r"py:exc", r"UnsupportedOperation"),
    # the shard codec is internal (docs/format_notes.rst describes the layout it reads)
    (r"py:class", r"hdmf_lindi\.storage\.chunk_table_codec\..*"),
]

# Wide code lines scroll inside their block instead of being cut off (docs/_static/custom.css).
html_static_path = ["_static"]
html_css_files = ["custom.css"]
root_doc = "index"

# numpy-style docstrings (style.md §8); types live in the signatures, not in the docstrings.
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

autodoc_member_order = "bysource"
autodoc_typehints = "signature"

html_theme = "alabaster"
html_title = "hdmf-lindi"
html_theme_options = {
    "description": "LINDI files as a first-class home for NWB data",
    "fixed_sidebar": True,
}

