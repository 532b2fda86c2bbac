"""Sphinx configuration of the hdmf-lindi documentation.

Build with ``python -m sphinx -W --keep-going -b html docs docs/_build/html``. Only built-in
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

