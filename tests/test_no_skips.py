"""The suite turns every skip into a failure (``conftest.py``), and leaves strict xfails alone.

A planted test file, run by a pytest in a subprocess with this suite's ``conftest.py`` loaded
as a plugin: its skip, skipif and module-level importorskip must fail the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent

PLANTED = '''
import pytest

def test_skip_call():
    pytest.skip("no tool here")

@pytest.mark.skipif(True, reason="never here")
def test_skipif():
    pass

@pytest.mark.xfail(strict=True, reason="a known limitation")
def test_known_limitation():
    assert False

def test_ok():
    pass
'''


def _pytest(tmp_path: Path, name: str, text: str) -> tuple[int, str]:
    (tmp_path / name).write_text(text)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), name],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    return proc.returncode, proc.stdout.strip().splitlines()[-1]


def test_skips_fail_and_strict_xfails_do_not(tmp_path: Path) -> None:
    code, summary = _pytest(tmp_path, "test_planted.py", PLANTED)
    assert code == 1  # tests failed
    assert summary.startswith("1 failed, 1 passed, 1 xfailed, 1 error"), summary


def test_a_skipped_module_fails(tmp_path: Path) -> None:
    code, summary = _pytest(tmp_path, "test_planted_module.py", 'import pytest\npytest.importorskip("no_such_module_here")\n')
    assert code == 2  # collection failed
    assert summary.startswith("1 error"), summary
