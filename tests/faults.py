"""Crash injection for the storage and backend tests: make the n-th call of an I/O step raise.

The wrapped steps are the ones a flush goes through: ``os.pwrite``, ``os.fsync``, ``os.replace``,
``ReferenceMap.to_json`` and the tar writer's ``encode_padded_json``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from hdmf_lindi.storage import tar_container
from hdmf_lindi.storage.refmap import ReferenceMap


class InjectedFault(OSError):
    """The failure the tests inject."""


class Faults:
    """Wrap functions so that the n-th call after ``arm`` raises; ``kill`` makes every call raise."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.counts: Counter[str] = Counter()
        self.target: tuple[str, int] | None = None
        self.dead = False
        for owner, name in [
            (os, "pwrite"), (os, "fsync"), (os, "replace"),
            (ReferenceMap, "to_json"), (tar_container, "encode_padded_json"),
        ]:
            monkeypatch.setattr(owner, name, self._wrap(name, getattr(owner, name)))

    def _wrap(self, name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.counts[name] += 1
            if self.dead or self.target == (name, self.counts[name]):
                raise InjectedFault(f"injected failure of {name} call {self.counts[name]}")
            return real(*args, **kwargs)

        return wrapper

    def arm(self, name: str, n: int) -> None:
        self.counts.clear()
        self.target = (name, n)

    def kill(self) -> None:
        self.dead = True

    def heal(self) -> None:
        self.dead, self.target = False, None
