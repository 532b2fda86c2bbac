"""Where the shared fixtures live: ``shared/`` sits beside the repository (also in CI)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO.parent / "shared" / "lindi-samples"
"""Files written by lindi 0.4.6 (see its README) used as compatibility fixtures."""
