"""The ``hdmf-lindi`` command line: thin calls into the library.

Exit codes: 0 success, 1 a LINDI error (bad input, failed read) or an OS error (permission
denied, disk full), 2 bad usage. Errors are one line on stderr; ``-v`` adds debug logs and the
traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__
from .errors import LindiError
from .format.references import ExternalLink, SoftLink
from .tree import Dataset, File, Group

__all__ = ["main"]

logger = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hdmf-lindi", description="Work with LINDI files.")
    parser.add_argument("--version", action="version", version=f"hdmf-lindi {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logs and tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    index = sub.add_parser("index", help="index an HDF5/NWB file (path or URL) into LINDI, no chunk copied")
    index.add_argument("source", help="HDF5 file path or http(s) URL")
    index.add_argument("output", help="destination: .lindi.json, .lindi.tar or .lindi.d")
    index.add_argument("--url", default=None, help="URL to record in chunk references instead of SOURCE")
    index.add_argument("--inline-max-elements", type=int, default=1000)
    index.add_argument("--contiguous-max-chunk-bytes", type=int, default=4 << 20)
    index.add_argument(
        "--external-link-chunk-threshold", type=int, default=None,
        help="datasets with more chunks become external array links (lindi's threshold)",
    )
    index.add_argument("--quiet", action="store_true", help="no progress output")

    info = sub.add_parser("info", help="print the tree of a LINDI file with shapes, dtypes and chunk locations")
    info.add_argument("file", help="LINDI file path or URL")
    info.add_argument("--attrs", action="store_true", help="also print attributes")

    convert = sub.add_parser(
        "convert",
        help="convert an NWB file between HDF5 and LINDI, copying the data",
        description="Read IN (NWB as HDF5 or LINDI, a path or URL) with pynwb and export it to "
        "OUT: .nwb/.h5/.hdf5 gives HDF5, .lindi.json/.lindi.tar/.lindi.d gives LINDI. Chunks a "
        "LINDI source references in other files stay references in a LINDI output.",
    )
    convert.add_argument("input", metavar="IN", help="NWB file: HDF5 or LINDI, path or URL")
    convert.add_argument("output", metavar="OUT", help="destination path; its suffix picks the format")
    convert.add_argument("-f", "--force", action="store_true", help="replace OUT if it exists")
    convert.add_argument(
        "--self-contained",
        action="store_true",
        help="LINDI OUT: store the bytes of every chunk IN references in other files (fetched "
        "concurrently, not re-encoded), so OUT reads without them",
    )

    pack = sub.add_parser(
        "pack",
        help="rewrite a LINDI file without dead bytes, internal chunks in key order "
        "(or convert it: the form follows OUT's name)",
        description="Copy IN to OUT as a newly created LINDI file: inline chunks and internal "
        "blobs are copied in key order, references to other files stay references. OUT may be "
        "IN itself (packed in place, atomically). The form of OUT follows its name: .json, .d, "
        "else .lindi.tar.",
    )
    pack.add_argument("input", metavar="IN", help="LINDI file path or URL (.lindi.json, .lindi.tar, .lindi.d)")
    pack.add_argument("output", metavar="OUT", help="destination path; may be IN itself")
    pack.add_argument("-f", "--force", action="store_true", help="replace OUT if it exists")
    pack.add_argument("--quiet", action="store_true", help="no progress output")

    verify = sub.add_parser(
        "verify",
        help="check that LINDI files still read as written: referenced sources unchanged, chunks decode",
        description="For each FILE: check every referenced file or URL (one stat or HEAD each) "
        "against the identity recorded when it was indexed, and that every chunk reference ends "
        "inside it; read and decode every inline and internal chunk. Exit 1 on any problem.",
    )
    verify.add_argument("files", metavar="FILE", nargs="+", help="LINDI file path or URL")
    verify.add_argument("--no-decode", action="store_true", help="skip reading and decoding internal chunks")
    return parser


def _progress(stream: Any) -> Any:
    def report(count: int, path: str) -> None:
        if count % 100 == 0:
            stream.write(f"\rindexed {count} objects ({path[:60]})")
            stream.flush()
    return report


def _cmd_index(args: argparse.Namespace) -> int:
    from .hdf5 import IndexOptions, index_hdf5

    options = IndexOptions(
        url=args.url,
        inline_max_elements=args.inline_max_elements,
        contiguous_max_chunk_bytes=args.contiguous_max_chunk_bytes,
        external_link_chunk_threshold=args.external_link_chunk_threshold,
        progress=None if args.quiet else _progress(sys.stderr),
    )
    refmap = index_hdf5(args.source, args.output, options=options)
    if not args.quiet:
        sys.stderr.write("\r")
    notes = (refmap.generation_metadata or {}).get("notes", [])
    print(f"wrote {args.output}: {len(refmap)} references")
    for note in notes:
        print(f"note: {note}")
    return 0


def _where(f: File, ds: Dataset) -> str:
    refmap = f.container.refmap
    prefix = ds.name.lstrip("/") + "/"
    inline = internal = 0
    urls: set[str] = set()
    for key in refmap:
        if not key.startswith(prefix) or "/" in key[len(prefix):] or key[len(prefix):].startswith("."):
            continue
        value = refmap.get(key)
        if isinstance(value, bytes):
            inline += 1
        elif value is not None and value.is_internal:
            internal += 1
        elif value is not None:
            urls.add(value.url)
    parts = [f"{inline} inline"] if inline else []
    if internal:
        parts.append(f"{internal} internal")
    parts += [f"external {u}" for u in sorted(urls)]
    return ", ".join(parts) or "no chunks"


def _cmd_info(args: argparse.Namespace) -> int:
    with File(args.file) as f:
        print(f"{f.filename} ({f.container.kind}, {len(f.container.refmap)} references)")
        if args.attrs:
            for key, value in f.attrs.items():
                print(f"  @{key} = {value!r:.80}")

        def show(name: str, node: Group | Dataset, depth: int) -> None:
            pad = "  " * depth
            if isinstance(node, Dataset):
                chunks = f" chunks {node.chunks}" if node.chunks else ""
                codec = f" {node.compression}" if node.compression else ""
                print(f"{pad}{name}: {node.shape} {node.dtype}{chunks}{codec} [{_where(f, node)}]")
            else:
                print(f"{pad}{name}/")
            if args.attrs:
                for key, value in node.attrs.items():
                    print(f"{pad}  @{key} = {value!r:.80}")

        def walk(group: Group, depth: int) -> None:
            for name in group:
                link = group.get(name, getlink=True)
                if isinstance(link, SoftLink | ExternalLink):
                    print(f"{'  ' * depth}{name} -> {link}")
                    continue
                node = group[name]
                show(name, node, depth)
                if isinstance(node, Group):
                    walk(node, depth + 1)

        walk(f, 1)
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from .conversion import convert

    convert(args.input, args.output, overwrite=args.force, self_contained=args.self_contained)
    print(f"converted {args.input} -> {args.output}")
    return 0


def _size(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def _cmd_pack(args: argparse.Namespace) -> int:
    from .tree.pack import pack

    shown = False

    def report(chunks: int, nbytes: int) -> None:
        nonlocal shown
        shown = True
        sys.stderr.write(f"\rcopied {chunks} chunks ({nbytes:,} bytes)")
        sys.stderr.flush()

    try:
        stats = pack(args.input, args.output, overwrite=args.force, progress=None if args.quiet else report)
    finally:
        if shown:  # end the progress line, so that a result or an error starts on its own line
            sys.stderr.write("\n")
    print(
        f"packed {stats.source} -> {stats.destination}: {_size(stats.bytes_before)} -> "
        f"{_size(stats.bytes_after)} bytes ({stats.blobs_copied} blobs and "
        f"{stats.inline_copied} inline chunks copied, {stats.references_kept} references kept)"
    )
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from .verification import verify

    failed = False
    for path in args.files:
        try:
            report = verify(path, decode=not args.no_decode)
        except (LindiError, OSError) as exc:
            print(f"{path}: PROBLEMS\n  BAD cannot open: {exc}")
            failed = True
            continue
        print("\n".join(report.lines()))
        failed = failed or not report.ok
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    commands = {"index": _cmd_index, "info": _cmd_info, "convert": _cmd_convert, "pack": _cmd_pack}
    commands["verify"] = _cmd_verify
    try:
        return commands[args.command](args)
    except (LindiError, OSError) as exc:  # OSError: permission denied, disk full, ...
        if args.verbose:
            logger.exception("failed")
        sys.stderr.write(f"hdmf-lindi {args.command}: {exc}\n")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
