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
from .storage.compact_tables import table_summary
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
    index.add_argument(
        "--chunk-table-threshold", type=int, default=10_000,
        help="datasets with more chunks get a compact chunk table (default 10000)",
    )
    index.add_argument(
        "--no-chunk-tables", action="store_true", help="one JSON reference per chunk, whatever the count",
    )

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
    pack.add_argument(
        "--expand-tables", action="store_true",
        help="write compact chunk tables as one JSON reference per chunk (for tools that need them)",
    )

    verify = sub.add_parser(
        "verify",
        help="check that LINDI files still read as written: referenced sources unchanged, chunks decode",
        description="For each FILE: check every referenced file or URL (one stat or HEAD each) "
        "against the identity recorded when it was indexed, and that every chunk reference ends "
        "inside it; read and decode every inline and internal chunk. Exit 1 on any problem.",
    )
    verify.add_argument("files", metavar="FILE", nargs="+", help="LINDI file path or URL")
    verify.add_argument("--no-decode", action="store_true", help="skip reading and decoding internal chunks")
    _add_batch_parsers(sub)
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
        chunk_table_threshold=None if args.no_chunk_tables else args.chunk_table_threshold,
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
    table = refmap.chunk_table(ds.name.lstrip("/"))
    if table is not None and table.compact:
        return table_summary(table)
    inline = internal = 0
    urls: set[str] = set(table.urls) if table is not None else set()
    for key in refmap.iter_keys(chunk_tables=False):
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
    from .nwb import convert

    convert(args.input, args.output, overwrite=args.force)
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
        stats = pack(args.input, args.output, overwrite=args.force, progress=None if args.quiet else report,
                     expand_tables=args.expand_tables)
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


# ---------------------------------------------------------------------- many files
def _add_batch_options(parser: argparse.ArgumentParser, forms: list[str], default_form: str) -> None:
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--form", choices=forms, default=default_form, help=f"output form (default {default_form})")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: 4 per core; 1 runs inline)")
    parser.add_argument("--scheduler", default=None, help="address of a dask.distributed scheduler to run on")
    parser.add_argument("--manifest", default=None, help="JSON Lines manifest (default OUT/manifest.jsonl)")
    parser.add_argument("--retries", type=int, default=2, help="retries of a file after a transient failure")
    parser.add_argument("--no-resume", dest="resume", action="store_false", help="redo files already done")
    parser.add_argument("--force", dest="resume", action="store_false", help="the same as --no-resume")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def _add_batch_parsers(sub: Any) -> None:
    many = sub.add_parser(
        "index-many", help="index many HDF5/NWB files (paths or URLs) in parallel, resumably",
        description="Index every SOURCE into OUT/<file name>.lindi.json on a process pool (or a dask "
        "scheduler). One manifest line per file says what happened; a second run skips files "
        "whose source is unchanged. Exit 1 if any file failed.",
    )
    many.add_argument("sources", nargs="+", metavar="SOURCE", help="HDF5 file path or http(s) URL")
    _add_batch_options(many, ["json", "tar", "dir"], "json")
    dandiset = sub.add_parser(
        "index-dandiset", help="index every NWB asset of a DANDI dandiset (Neurosift's layout)",
        description="List the assets of a dandiset version through the DANDI API and index each "
        "blob into OUT/dandisets/<id>/assets/<asset id>/nwb.lindi.json.",
    )
    dandiset.add_argument("dandiset", metavar="ID[@VERSION]", help="e.g. 000017 or 000017@0.220126.1853")
    dandiset.add_argument("--glob", default="*.nwb", help="asset paths to index (default *.nwb)")
    dandiset.add_argument("--api-url", default=None, help="DANDI API URL (default: that of --instance)")
    dandiset.add_argument("--instance", default="dandi", choices=["dandi", "dandi-staging", "dandi-sandbox"])
    _add_batch_options(dandiset, ["json", "tar", "dir"], "json")
    convert = sub.add_parser(
        "convert-many", help="convert many NWB files (HDF5 or LINDI) in parallel, copying the data",
        description="Convert every SOURCE into OUT/<file name> plus the suffix of --form, as "
        "'convert' does, on a process pool; resumable like index-many.",
    )
    convert.add_argument("sources", nargs="+", metavar="SOURCE", help="NWB file (HDF5 or LINDI), path or URL")
    _add_batch_options(convert, ["tar", "json", "dir", "nwb"], "tar")


def _batch_progress(args: argparse.Namespace) -> Any:
    if args.quiet:
        return None
    tty = sys.stderr.isatty()
    counts: dict[str, int] = {}

    def report(record: Any, done: int, total: int) -> None:
        counts[record.status] = counts.get(record.status, 0) + 1
        summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        if tty:
            sys.stderr.write(f"\r{done}/{total} ({summary})" + ("\n" if done == total else ""))
        else:
            sys.stderr.write(f"{done}/{total} {record.status} {record.source}\n")
        sys.stderr.flush()

    return report


def _batch_summary(args: argparse.Namespace, what: str, records: list[Any]) -> int:
    counts = {s: sum(1 for r in records if r.status == s) for s in ("ok", "skipped", "unsupported", "failed")}
    print(f"{what} {len(records)} files: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    for record in records:
        if record.status == "failed":
            print(f"failed: {record.source}: {record.error_type}: {record.error_message}")
    return 1 if counts["failed"] else 0


def _batch_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "form": args.form, "max_workers": args.jobs, "scheduler": args.scheduler, "manifest": args.manifest,
        "resume": args.resume, "retries": args.retries, "progress": _batch_progress(args),
    }


def _cmd_index_many(args: argparse.Namespace) -> int:
    from .batch import index_many

    return _batch_summary(args, "indexed", index_many(args.sources, args.out, **_batch_kwargs(args)))


def _cmd_index_dandiset(args: argparse.Namespace) -> int:
    from .batch import index_dandiset

    records = index_dandiset(
        args.dandiset, args.out, glob=args.glob or None, api_url=args.api_url, instance=args.instance,
        **_batch_kwargs(args),
    )
    return _batch_summary(args, "indexed", records)


def _cmd_convert_many(args: argparse.Namespace) -> int:
    from .batch import convert_many

    return _batch_summary(args, "converted", convert_many(args.sources, args.out, **_batch_kwargs(args)))


_BATCH_COMMANDS = {
    "index-many": _cmd_index_many, "index-dandiset": _cmd_index_dandiset, "convert-many": _cmd_convert_many,
}


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
    commands.update(_BATCH_COMMANDS)
    try:
        return commands[args.command](args)
    except (LindiError, OSError) as exc:  # OSError: permission denied, disk full, ...
        if args.verbose:
            logger.exception("failed")
        sys.stderr.write(f"hdmf-lindi {args.command}: {exc}\n")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
