"""Saving a model read from Zarr v3 as LINDI v2: the v3 reader's own codecs rewritten. Pure
(reads and stores go through the caller's functions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import DialectError
from ..storage.refmap import ReferenceMap
from .codecs import JSON2_CONFIG
from .v3_recode import ReadFn, collect_nodes, join
from .zarr_v2 import ArrayMeta

__all__ = ["normalise_to_lindi"]


def _model_only(config: Any) -> bool:
    return isinstance(config, dict) and str(config.get("id", "")).startswith("hdmf_lindi.")


def normalise_to_lindi(refmap: ReferenceMap, read: ReadFn, store: Callable[[str, bytes], None]) -> list[str]:
    """Rewrite, in place, the arrays of a model read from Zarr v3 that LINDI v2 cannot hold as they are.

    The v3 reader (``format/zarr_v3.py``) describes v3 strings, references, structs and shards
    with codecs of its own (``hdmf_lindi.*`` ids), which lindi does not know. Before such a
    model is saved as LINDI v2, each of those arrays gets its chunks decoded once and stored
    again (``store``) as lindi's ``json2`` text (object arrays) or raw bytes (sharded numeric
    arrays); every other array, and every chunk reference, is left as it is.

    Returns
    -------
    list[str]
        The paths of the arrays rewritten.

    Raises
    ------
    DialectError
        For an array the v3 reader could not decode (an unsupported codec).
    """
    done: list[str] = []
    for path, node in collect_nodes(refmap).items():
        zarray = node.zarray
        if zarray is None or not any(_model_only(c) for c in [*(zarray.get("filters") or []), zarray.get("compressor")]):
            continue
        where = f"/{path}"
        if any(isinstance(c, dict) and c.get("id") == "hdmf_lindi.v3_unsupported" for c in zarray.get("filters") or []):
            raise DialectError(f"{where} has codecs hdmf_lindi cannot decode; it cannot be saved as LINDI v2.")
        meta = ArrayMeta.from_dict(zarray, where=where)
        chunks = list(node.chunks)
        table = refmap.chunk_table(path)
        if table is not None:
            table.load_all()
            chunks += [c for c in table.chunk_keys(table.present()) if c not in node.chunks]
        keys = [join(path, c) for c in chunks]
        contents = read(keys) if keys else []
        raws = [
            bytes(meta.pipeline.decode(data, where=f" {key!r}")) if data is not None else None
            for key, data in zip(keys, contents, strict=True)
        ]
        new = dict(zarray)
        new["filters"] = [dict(JSON2_CONFIG)] if meta.pipeline.is_object else None
        new["compressor"] = None
        refmap.set_json(join(path, ".zarray"), new)
        for key, raw in zip(keys, raws, strict=True):
            if raw is not None:
                store(key, raw)
        done.append(path)
    return done
