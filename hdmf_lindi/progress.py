"""Progress bars for long command-line runs: shown on a terminal only, cleared when done.

One library (tqdm) for every command (index, convert, pack, verify, many-file runs). A bar is
drawn only when its stream is a terminal and the user did not ask for quiet, so that a log file
or a pipe never receives carriage-return debris; it is erased when the run ends, so the result
line or an error message starts on a clean line.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from tqdm import tqdm

__all__ = ["activity", "is_terminal", "progress_bar"]


def is_terminal(stream: IO[str] | None) -> bool:
    """Whether ``stream`` is an interactive terminal; False for files, pipes and captures."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except (OSError, ValueError):  # closed or detached stream
        return False


@contextmanager
def progress_bar(
    description: str,
    *,
    total: float | None = None,
    unit: str = "it",
    unit_scale: bool = False,
    quiet: bool = False,
    stream: IO[str] | None = None,
) -> Iterator[tqdm[Any]]:
    """A tqdm bar on ``stream`` (standard error by default), disabled off a terminal or when quiet.

    Parameters
    ----------
    description
        Short text shown before the bar (``"indexing"``, ``"packing"`` ...).
    total
        The count at which the work is done; None when unknown (a counter and a rate are shown).
    unit, unit_scale
        As for tqdm: ``unit="B", unit_scale=True`` shows bytes as kB/MB/GB.
    quiet
        Never draw the bar.
    stream
        Where to draw; defaults to ``sys.stderr`` at call time.

    Yields
    ------
    tqdm
        Call ``update(n)`` or set ``n`` and ``refresh()``; a disabled bar accepts the same calls.
    """
    stream = sys.stderr if stream is None else stream
    bar = tqdm(
        desc=description,
        total=total,
        unit=unit,
        unit_scale=unit_scale,
        file=stream,
        disable=quiet or not is_terminal(stream),
        leave=False,  # erased when done: the result line starts clean
        dynamic_ncols=True,
        mininterval=0.2,
    )
    try:
        yield bar
    finally:
        bar.close()


@contextmanager
def activity(
    description: str,
    status: Callable[[], str],
    *,
    quiet: bool = False,
    stream: IO[str] | None = None,
    interval_s: float = 0.5,
) -> Iterator[None]:
    """An elapsed-time line for work that reports no progress of its own, refreshed every
    ``interval_s`` with ``status()`` (e.g. bytes read so far); shown and erased as
    :func:`progress_bar` is.
    """
    with progress_bar(description, quiet=quiet, stream=stream) as bar:
        if bar.disable:
            yield
            return
        bar.bar_format = "{desc}: {elapsed} {postfix}"
        stop = threading.Event()

        def tick() -> None:
            while not stop.wait(interval_s):
                bar.set_postfix_str(status(), refresh=True)

        ticker = threading.Thread(target=tick, name="hdmf-lindi-progress", daemon=True)
        ticker.start()
        try:
            yield
        finally:
            stop.set()
            ticker.join()
