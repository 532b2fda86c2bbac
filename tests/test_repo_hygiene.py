"""Nothing the tests, benchmarks, scripts, tutorials or CI run names a folder of one machine.

A fresh clone (no ``shared/`` beside it, another user, another temp folder) must test and
benchmark itself, so these files may not name an absolute temp, home or work folder, nor the
project's ``shared`` folder beside the repository. Everything they need is made by the repo's own
scripts in ``tmp_path``-style folders or in ignored cache folders of the checkout.

The patterns are written so that this file does not match them itself (``[m]`` is ``m``).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CHECKED = ["tests", "benchmarks", "scripts", "tutorials", ".ci"]
# An absolute folder starts a path: not preceded by a name character, a dot or a slash, so that
# "https://host/home/x" or "a/work/b" (relative) do not count.
_START = r"(?<![\w./-])"
FORBIDDEN = {
    "absolute temp folder": re.compile(_START + r"/t[m]p/"),
    "absolute var/folders temp folder": re.compile(_START + r"/v[a]r/folders"),
    "absolute work folder": re.compile(_START + r"/w[o]rk/"),
    "absolute home folder": re.compile(_START + r"/(?:h[o]me|r[o]ot|U[s]ers)/"),
    "the shared folder beside the repository": re.compile(
        r"\.\./s[h]ared|s[h]ared/lindi-samples|[\"']s[h]ared[\"']"  # also a quoted path part
    ),
}


def _checked_files() -> list[Path]:
    """Files of the checked folders that git tracks or would track (ignored outputs excluded)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", *CHECKED],
            cwd=REPO, capture_output=True, check=True, timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.fail(f"git cannot list the files of {REPO}: {exc}")
    return [REPO / name for name in sorted(set(out.decode().split("\0"))) if name and (REPO / name).is_file()]


def findings(paths: list[Path]) -> list[str]:
    """``file:line: what (text)`` for every forbidden name in the text files among ``paths``."""
    found = []
    for path in paths:
        data = path.read_bytes()
        if b"\0" in data:
            continue  # binary: a fixture file, not code or prose
        for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
            for what, pattern in FORBIDDEN.items():
                match = pattern.search(line)
                if match:
                    where = path.relative_to(REPO) if path.is_relative_to(REPO) else path
                    found.append(f"{where}:{number}: {what} ({line.strip()[:120]})")
    return found


def test_no_machine_paths_in_what_the_repository_runs() -> None:
    paths = _checked_files()
    assert any(p.name == "test_repo_hygiene.py" for p in paths)  # the listing found the files
    problems = findings(paths)
    assert not problems, "machine-specific paths:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ('open("/' 'tmp/x.h5")', True),
        ("cd /" "work/main && make", True),
        ('Path("/' 'home/me/data")', True),
        ("/" "root/.cache/pip", True),
        ("/" "Users/me/data", True),
        ("/" "var/folders/xy/T", True),
        ('REPO.parent / "sh' 'ared" / "lindi-samples"', True),
        ("../sh" "ared/lindi-samples/x", True),
        ("https://example.org/" "home/x", False),
        ("tmp_path / 'work/x'", False),
        ("a/" "tmp/b", False),
    ],
)
def test_patterns(tmp_path: Path, text: str, bad: bool) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text(f"x = 1\n{text}\n")
    assert bool(findings([planted])) == bad, findings([planted])
