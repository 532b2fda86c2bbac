"""``hdmf_lindi.pack``: :func:`hdmf_lindi.storage.pack.pack` that also rebases link annotations.

Storage copies keys and rebases the relative paths of chunk references; the file names inside
attributes (lindi's ``_EXTERNAL_ARRAY_LINK`` and hdmf_lindi's ``_EXTERNAL_LINK``) are format
annotations, which storage does not know. This module joins the two.
"""

from __future__ import annotations

import os

from ..format.attrs import rebase_link_files
from ..storage.pack import PackStats, ProgressFn
from ..storage.pack import pack as _pack_keys

__all__ = ["pack"]


def pack(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
    expand_tables: bool = False,
    metadata_as_text: bool | None = None,
) -> PackStats:
    """Write ``source`` to ``destination`` as a newly created LINDI file, without dead bytes.

    As :func:`hdmf_lindi.storage.pack.pack` (same parameters, result and errors), and a relative
    file name in an external link or external array link is rewritten so that it still names
    the same file from the new location.

    Examples
    --------
    >>> stats = pack("session.lindi.tar", "session.lindi.tar")  # doctest: +SKIP
    >>> stats.bytes_before, stats.bytes_after  # doctest: +SKIP
    (48234496, 4218880)
    """
    return _pack_keys(
        source, destination, overwrite=overwrite, progress=progress, rebase_attrs=rebase_link_files,
        expand_tables=expand_tables, metadata_as_text=metadata_as_text,
    )
