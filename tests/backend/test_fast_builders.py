"""Reading builds hdmf builders without docval (``backend/builders.py``), and the suite knows it.

The fast builders are a speed path with a fallback: if hdmf's internals change, the self-check
at import switches ``FAST`` off and everything still reads, only slower. So nothing else in the
suite would notice the speed path being off. These tests do: ``FAST`` is on with the hdmf we
install, and a whole ``read_builder`` calls none of hdmf's docval'd builder constructors or
setters. A control read with ``FAST`` off shows the counting sees those calls when they happen.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from backend_corpus import Corpus
from hdmf.build import DatasetBuilder, GroupBuilder, LinkBuilder

from hdmf_lindi import NWBLindiIO
from hdmf_lindi.backend import builders

DOCVAL_METHODS = {
    GroupBuilder: ["__init__", "set_group", "set_dataset", "set_link"],
    DatasetBuilder: ["__init__"],
    LinkBuilder: ["__init__"],
}


def _count_docval_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    calls: Counter[str] = Counter()
    for cls, names in DOCVAL_METHODS.items():
        for name in names:
            original = getattr(cls, name)

            def counting(self: Any, *args: Any, _original: Any = original, _what: str = f"{cls.__name__}.{name}", **kwargs: Any) -> Any:
                calls[_what] += 1
                return _original(self, *args, **kwargs)

            monkeypatch.setattr(cls, name, counting)
    return calls


def _read_tree(corpus: Corpus) -> int:
    """Read the builder tree of one corpus file; return how many builders it holds."""
    with NWBLindiIO(str(corpus.source("tables", "json")), "r") as io:
        root = io.read_builder()
        count = 0
        stack: list[Any] = [root]
        while stack:
            node = stack.pop()
            count += 1
            if isinstance(node, GroupBuilder):
                stack.extend(node.groups.values())
                stack.extend(node.datasets.values())
                count += len(node.links)
        return count


def test_fast_builders_are_on() -> None:
    assert builders.FAST, "hdmf's builder internals changed: reading uses the slow docval'd builders"


def test_read_builder_calls_no_docval_builder_code(corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_docval_calls(monkeypatch)
    built = _read_tree(corpus)
    assert built > 20
    assert calls == Counter(), f"docval'd builder calls while reading: {dict(calls)}"
    # control: with the fast path off, the same read goes through hdmf's constructors
    monkeypatch.setattr(builders, "FAST", False)
    assert _read_tree(corpus) == built
    assert calls["GroupBuilder.__init__"] > 0 and calls["DatasetBuilder.__init__"] > 0
    assert calls["LinkBuilder.__init__"] > 0
