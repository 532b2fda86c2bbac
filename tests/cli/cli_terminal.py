"""Run ``main(argv)`` in-process with standard error on a real pseudo-terminal, as a user sees it."""

from __future__ import annotations

import fcntl
import os
import struct
import sys
import termios
import threading
from collections.abc import Sequence

from hdmf_lindi.cli import main


def run_on_terminal(argv: Sequence[str]) -> tuple[int, str]:
    """Return ``(exit code, everything written to the terminal)`` for ``hdmf-lindi argv``.

    Standard error is the slave side of an 80-column pty (``isatty()`` is true, as in a shell);
    a thread drains the master side so that writes never block. The terminal's own newline
    translation (``\\n`` -> ``\\r\\n``) is undone in the returned text.
    """
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # 80x24, as xterm
    chunks: list[bytes] = []

    def drain() -> None:  # until the end marker: Linux drops unread pty data when the slave closes
        while not b"".join(chunks).endswith(_END):
            try:
                data = os.read(master, 65536)
            except OSError:  # the slave side closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    terminal = open(slave, "w", buffering=1, closefd=True)  # noqa: SIM115 - closed below
    saved = sys.stderr
    sys.stderr = terminal
    try:
        code = main(list(argv))
    finally:
        sys.stderr = saved
        terminal.write(_END.decode())
        terminal.flush()
        reader.join(timeout=10)
        terminal.close()
    os.close(master)
    return code, b"".join(chunks).removesuffix(_END).decode().replace("\r\n", "\n")


_END = b"<end of run>"
