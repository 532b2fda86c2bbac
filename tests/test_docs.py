"""The Sphinx site in docs/ builds without a single warning (every cross-reference resolved:
``-n``), and the API page is complete."""

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
            sys.executable, "-m", "sphinx", "-n", "-W", "--keep-going", "-b", "html",
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
    # every public name of the package's namespaces, and the methods the user guide links to
    import hdmf_lindi
    import hdmf_lindi.errors
    import hdmf_lindi.storage

    names = [  # LindiError is documented once, under hdmf_lindi.errors
        f"hdmf_lindi.{n}" for n in hdmf_lindi.__all__ if n not in ("__version__", "errors", "LindiError")
    ]
    names += [f"hdmf_lindi.errors.{n}" for n in hdmf_lindi.errors.__all__]
    names += [f"hdmf_lindi.storage.{n}" for n in hdmf_lindi.storage.__all__]
    names += [
        "hdmf_lindi.Group.copy", "hdmf_lindi.Group.move", "hdmf_lindi.Dataset.astype",
        "hdmf_lindi.Dataset.asstr", "hdmf_lindi.Dataset.iter_chunks", "hdmf_lindi.File.stats",
        "hdmf_lindi.LindiIO.stats",
    ]
    missing = [n for n in names if f'id="{n}"' not in html]
    assert not missing, f"not in the API reference: {missing}"
    # wide code lines scroll instead of being cut off
    assert "custom.css" in html
    assert "overflow-x: auto" in (out / "_static" / "custom.css").read_text(encoding="utf-8")
