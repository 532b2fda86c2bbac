"""The Sphinx site in docs/ builds without a single warning, and the API page is complete."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_docs_build_without_warnings(tmp_path: Path) -> None:
    out = tmp_path / "html"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    result = subprocess.run(
        [
            sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
            "-d", str(tmp_path / "doctrees"), str(ROOT / "docs"), str(out),
        ],
        capture_output=True, text=True, timeout=600, check=False, env=env,
    )
    assert result.returncode == 0, f"sphinx-build failed:\n{result.stdout[-3000:]}\n{result.stderr}"
    assert (out / "index.html").is_file()
    api = out / "api.html"
    assert api.is_file()
    html = api.read_text(encoding="utf-8")
    assert "ReferenceMap" in html
    assert "File" in html
    # each object is documented (anchored) under its public name
    for anchor in ("hdmf_lindi.File", "hdmf_lindi.storage.ReferenceMap", "hdmf_lindi.errors.LindiError"):
        assert f'id="{anchor}"' in html, anchor
