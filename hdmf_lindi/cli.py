"""The ``hdmf-lindi`` command line: thin calls into the library.

Exit codes: 0 success, 1 a LINDI error (bad input, failed read) or an OS error (permission
denied, disk full), 2 bad usage, 130 interrupted, 141 standard output closed early (``| head``).
Errors are one line on stderr; ``-v`` adds debug logs, the traceback, and a summary of the I/O
the command made (requests, bytes fetched and decoded, cache hits, per source).

Adding a subcommand is one decorated function that builds its parser and names the function
that runs it::

    @command
    def _verify(sub: Subcommands) -> None:
        parser = sub.add_parser("verify", help="...", description="...")
        parser.add_argument("file", help="...")          # every option needs a help text
        parser.set_defaults(run=_run_verify)             # _run_verify(args) -> exit code

Subcommands appear in ``hdmf-lindi --help`` in the order they are defined. ``-v``/``--verbose``
is added to every subcommand automatically. The helpers below (``check_input``,
``check_output``, ``progress_bar``) give every command the same rules and wording.
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeAlias

from . import __version__
from .errors import LindiError, MissingFileError, ModeError
from .format.references import ExternalLink, SoftLink
from .progress import activity, is_terminal, progress_bar
from .storage import is_hdf5, is_url
from .storage.compact_tables import table_summary
from .storage.locations import ChunkLocations, chunk_locations
from .storage.stats import stats
from .tree import Dataset, File, Group

if TYPE_CHECKING:
    from .batch import BatchRecord

__all__ = ["check_input", "check_output", "command", "main"]

logger = logging.getLogger(__name__)

Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""The argument of a registration function; call ``sub.add_parser(name, ...)`` on it."""

_REGISTERED: list[Callable[[Subcommands], None]] = []


def command(register: Callable[[Subcommands], None]) -> Callable[[Subcommands], None]:
    """Register a subcommand: ``register(sub)`` adds its parser and ``set_defaults(run=...)``."""
    _REGISTERED.append(register)
    return register


# --- rules shared by every command -------------------------------------------------------


def check_input(location: str, *, what: str = "input") -> None:
    """Refuse a local input that does not exist, before any work starts (URLs pass).

    Raises
    ------
    MissingFileError
        If ``location`` is a local path that does not exist.
    """
    if not is_url(location) and not os.path.exists(location):
        raise MissingFileError(f"{location}: no such file or directory (the {what}).")


def check_output(location: str, *, force: bool) -> None:
    """Refuse an output that exists (without ``--force``) or whose directory does not exist.

    Raises
    ------
    ModeError
        If ``location`` exists and ``force`` is False, or is a URL.
    MissingFileError
        If the directory that would hold ``location`` does not exist.
    """
    if is_url(location):
        raise ModeError(f"{location}: cannot write to a URL; give a local path.")
    if os.path.lexists(location) and not force:
        raise ModeError(f"{location} exists; pass --force to replace it.")
    parent = os.path.dirname(os.path.abspath(location.rstrip("/") or location))
    if not os.path.isdir(parent):
        raise MissingFileError(f"Cannot write {location}: the directory {parent} does not exist.")


# --- index ---------------------------------------------------------------------------------


@command
def _index(sub: Subcommands) -> None:
    parser = sub.add_parser(
        "index",
        help="index an HDF5/NWB file (path or URL) into LINDI, no chunk copied",
        description="Write a LINDI index of an HDF5 (e.g. NWB) file: its metadata plus references "
        "to its chunks, which are not copied. The form follows OUT's name.",
    )
    parser.add_argument("source", help="HDF5 file path or http(s) URL")
    parser.add_argument("output", help="destination: .lindi.json, .lindi.tar or .lindi.d")
    parser.add_argument("--url", default=None, help="URL to record in chunk references instead of SOURCE")
    parser.add_argument(
        "--inline-max-elements", type=int, default=1000, metavar="N",
        help="numeric datasets with fewer elements are copied into the index (default: 1000)",
    )
    parser.add_argument(
        "--contiguous-max-chunk-bytes", type=int, default=4 << 20, metavar="BYTES",
        help="contiguous datasets are referenced as pieces of at most this many bytes, so that a "
        "slice does not fetch the whole dataset (default: 4 MiB)",
    )
    parser.add_argument(
        "--external-link-chunk-threshold", type=int, default=None, metavar="N",
        help="datasets with more chunks become external array links (lindi's threshold)",
    )
    parser.add_argument(
        "--chunk-table-threshold", type=int, default=10_000, metavar="N",
        help="datasets with more chunks get a compact chunk table (default: 10000)",
    )
    parser.add_argument(
        "--no-chunk-tables", action="store_true",
        help="one JSON reference per chunk, whatever the chunk count",
    )
    parser.add_argument("-f", "--force", action="store_true", help="replace OUTPUT if it exists")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--metadata-as-text", action="store_true", help="write metadata values (.zattrs, .zgroup, .zarray) as JSON text, the kerchunk spelling JavaScript clients such as zarrita read, instead of embedded JSON objects")
    _add_dialect_option(parser)
    parser.set_defaults(run=_run_index)


def _run_index(args: argparse.Namespace) -> int:
    from .hdf5 import IndexOptions, index_hdf5

    check_input(args.source)
    if os.path.isdir(args.source):
        raise ModeError(f"{args.source} is a directory, not an HDF5 file.")
    check_output(args.output, force=args.force)
    with progress_bar("indexing", unit=" objects", quiet=args.quiet) as bar:

        def report(count: int, path: str) -> None:
            bar.update(count - bar.n)

        options = IndexOptions(
            url=args.url,
            inline_max_elements=args.inline_max_elements,
            contiguous_max_chunk_bytes=args.contiguous_max_chunk_bytes,
            external_link_chunk_threshold=args.external_link_chunk_threshold,
            chunk_table_threshold=None if args.no_chunk_tables else args.chunk_table_threshold,
            progress=report,
            metadata_as_text=args.metadata_as_text,
            dialect=args.dialect,
        )
        refmap = index_hdf5(args.source, args.output, options=options)
    notes = (refmap.generation_metadata or {}).get("notes", [])
    print(f"wrote {args.output}: {len(refmap)} references")
    for note in notes:
        print(f"note: {note}")
    return 0


# --- info ----------------------------------------------------------------------------------


@command
def _info(sub: Subcommands) -> None:
    parser = sub.add_parser(
        "info", help="print the tree of a LINDI file with shapes, dtypes and chunk locations"
    )
    parser.add_argument("file", help="LINDI file path or URL")
    parser.add_argument("--attrs", action="store_true", help="also print attributes")
    parser.add_argument(
        "--stats", action="store_true",
        help="also print what reading the file cost: requests, bytes fetched, per source",
    )
    parser.set_defaults(run=_run_info)


def _run_info(args: argparse.Namespace) -> int:
    check_input(args.file)
    if is_hdf5(args.file):
        raise ModeError(
            f"{args.file} is an HDF5 file, not a LINDI file. Index it first: "
            f"hdmf-lindi index {args.file} OUT.lindi.json"
        )
    with File(args.file) as f:
        dialect = "" if f.dialect == "lindi" else f", dialect {f.dialect}"
        print(f"{f.filename} ({f.container.kind}{dialect}, {len(f.container.refmap)} references)")
        locations = chunk_locations(f.container.refmap)
        no_chunks = ChunkLocations()
        in_store = f.container.kind == "zarr"  # a Zarr directory store: chunks are its files, not listed
        if args.attrs:
            for key, value in f.attrs.items():
                print(f"  @{key} = {value!r:.80}")

        def show(name: str, node: Group | Dataset, depth: int) -> None:
            pad = "  " * depth
            if isinstance(node, Dataset):
                chunks = f" chunks {node.chunks}" if node.chunks else ""
                codec = f" {node.compression}" if node.compression else ""
                table = f.container.refmap.chunk_table(node.name.lstrip("/"))
                if table is not None and table.compact:
                    where = table_summary(table)
                elif in_store:
                    where = "chunk files of the store"
                else:
                    where = locations.get(node.name.lstrip("/"), no_chunks).describe()
                print(f"{pad}{name}: {node.shape} {node.dtype}{chunks}{codec} [{where}]")
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
        if args.stats:
            print(f"stats: {f.stats.describe()}")
    return 0


# --- convert -------------------------------------------------------------------------------


@command
def _convert(sub: Subcommands) -> None:
    parser = sub.add_parser(
        "convert",
        help="convert an NWB file between HDF5 and LINDI, copying the data",
        description="Read IN (NWB as HDF5 or LINDI, a path or URL) with pynwb and export it to "
        "OUT: .nwb/.h5/.hdf5 gives HDF5, .lindi.json/.lindi.tar/.lindi.d gives LINDI. Chunks a "
        "LINDI source references in other files stay references in a LINDI output.",
    )
    parser.add_argument("input", metavar="IN", help="NWB file: HDF5 or LINDI, path or URL")
    parser.add_argument("output", metavar="OUT", help="destination path; its suffix picks the format")
    parser.add_argument("-f", "--force", action="store_true", help="replace OUT if it exists")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--self-contained",
        action="store_true",
        help="LINDI OUT: store the bytes of every chunk IN references in other files (fetched "
        "concurrently, not re-encoded), so OUT reads without them",
    )
    parser.add_argument("--metadata-as-text", action="store_true", help="write metadata values (.zattrs, .zgroup, .zarray) as JSON text, the kerchunk spelling JavaScript clients such as zarrita read, instead of embedded JSON objects")
    _add_dialect_option(parser)
    parser.set_defaults(run=_run_convert)


def _run_convert(args: argparse.Namespace) -> int:
    from .conversion import convert  # no pynwb import for HDF5 -> LINDI

    check_input(args.input)
    check_output(args.output, force=args.force)
    with stats() as scope:

        def status() -> str:  # what our reader did (an HDF5 source is read by h5py: nothing)
            if not scope.bytes_fetched:
                return ""
            return f"{scope.bytes_fetched:,} bytes read, {scope.chunks_decoded:,} chunks decoded"

        with activity("converting", status, quiet=args.quiet):
            convert(
                args.input, args.output, overwrite=args.force, self_contained=args.self_contained,
                metadata_as_text=args.metadata_as_text, dialect=args.dialect,
            )
    print(f"converted {args.input} -> {args.output}")
    return 0


# --- pack ----------------------------------------------------------------------------------


def _size(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


@command
def _pack(sub: Subcommands) -> None:
    parser = sub.add_parser(
        "pack",
        help="rewrite a LINDI file without dead bytes, internal chunks in key order "
        "(or convert it: the form follows OUT's name)",
        description="Copy IN to OUT as a newly created LINDI file: inline chunks and internal "
        "blobs are copied in key order, references to other files stay references. OUT may be "
        "IN itself (packed in place, atomically). The form of OUT follows its name: "
        ".lindi.json, .lindi.tar or .lindi.d.",
    )
    parser.add_argument("input", metavar="IN", help="LINDI file path or URL (.lindi.json, .lindi.tar, .lindi.d)")
    parser.add_argument("output", metavar="OUT", help="destination path; may be IN itself")
    parser.add_argument("-f", "--force", action="store_true", help="replace OUT if it exists")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--expand-tables", action="store_true",
        help="write compact chunk tables as one JSON reference per chunk (for tools that need them)",
    )
    spelling = parser.add_mutually_exclusive_group()
    spelling.add_argument(
        "--metadata-as-text", dest="metadata_as_text", action="store_const", const=True, default=None,
        help="write metadata values (.zattrs, .zgroup, .zarray) as JSON text, the kerchunk spelling JavaScript clients such as zarrita read, instead of embedded JSON objects" + " (default: keep IN's spelling)",
    )
    spelling.add_argument(
        "--metadata-as-objects", dest="metadata_as_text", action="store_const", const=False,
        help="write metadata values as embedded JSON objects (lindi's spelling)",
    )
    parser.set_defaults(run=_run_pack)


def _run_pack(args: argparse.Namespace) -> int:
    from .tree.pack import pack

    check_input(args.input)
    in_place = not is_url(args.input) and os.path.exists(args.output) and os.path.samefile(args.input, args.output)
    if not in_place:
        check_output(args.output, force=args.force)
    with progress_bar("packing", unit="B", unit_scale=True, quiet=args.quiet) as bar:

        def report(chunks: int, nbytes: int) -> None:
            bar.update(nbytes - bar.n)

        stats = pack(args.input, args.output, overwrite=args.force or in_place, progress=report,
                     expand_tables=args.expand_tables, metadata_as_text=args.metadata_as_text)
    print(
        f"packed {stats.source} -> {stats.destination}: {_size(stats.bytes_before)} -> "
        f"{_size(stats.bytes_after)} bytes ({stats.blobs_copied} blobs and "
        f"{stats.inline_copied} inline chunks copied, {stats.references_kept} references kept)"
    )
    return 0


# --- verify --------------------------------------------------------------------------------


@command
def _verify(sub: Subcommands) -> None:
    parser = sub.add_parser(
        "verify",
        help="check that LINDI files still read as written: referenced sources unchanged, chunks decode",
        description="For each FILE: check every referenced file or URL (one stat or HEAD each) "
        "against the identity recorded when it was indexed, and that every chunk reference ends "
        "inside it; read and decode every inline and internal chunk. Exit 1 on any problem.",
    )
    parser.add_argument("files", metavar="FILE", nargs="+", help="LINDI file path or URL")
    parser.add_argument("--no-decode", action="store_true", help="skip reading and decoding internal chunks")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=_run_verify)


def _run_verify(args: argparse.Namespace) -> int:
    from .verification import verify

    failed = False
    many = len(args.files) > 1
    with progress_bar("verifying", total=len(args.files), unit=" files", quiet=args.quiet or not many) as bar:
        for path in args.files:
            try:
                report = verify(path, decode=not args.no_decode)
            except (LindiError, OSError) as exc:
                bar.write(f"{path}: PROBLEMS\n  BAD cannot open: {exc}", file=sys.stdout)
                failed = True
            else:
                bar.write("\n".join(report.lines()), file=sys.stdout)
                failed = failed or not report.ok
            bar.update(1)
    return 1 if failed else 0


# --- validate ------------------------------------------------------------------------------


@command
def _validate(sub: Subcommands) -> None:
    parser = sub.add_parser(
        "validate",
        help="validate an NWB file (LINDI or HDF5, path or URL) against its schema with pynwb",
        description="Check FILE against the NWB schema with pynwb's validator: the namespaces "
        "cached in the file by default. Prints one line per problem; exits 0 when there is "
        "none, 1 otherwise.",
    )
    parser.add_argument("file", help="NWB file: .lindi.json/.lindi.tar/.lindi.d or .nwb, path or URL")
    parser.add_argument(
        "--namespace", default=None, metavar="NAME",
        help="validate against this namespace only (default: the file's own, e.g. core and its extensions)",
    )
    parser.add_argument(
        "--no-cached-namespaces", action="store_true",
        help="validate against the namespaces installed with pynwb instead of those cached in the file",
    )
    parser.set_defaults(run=_run_validate)


def _run_validate(args: argparse.Namespace) -> int:
    from .nwb import validate

    check_input(args.file)
    problems = validate(args.file, namespace=args.namespace, use_cached_namespaces=not args.no_cached_namespaces)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{args.file}: {len(problems)} validation error{'s' if len(problems) > 1 else ''}")
        return 1
    print(f"{args.file}: valid")
    return 0


# --- many files: index-many, index-dandiset, convert-many ----------------------------------


def _add_batch_options(parser: argparse.ArgumentParser, forms: list[str], default_form: str) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--form", choices=forms, default=default_form, help=f"output form (default: {default_form})")
    parser.add_argument(
        "--jobs", type=int, default=None, metavar="N",
        help="worker processes (default: 4 per core, at most 32; 1 runs every file in this process)",
    )
    parser.add_argument("--scheduler", default=None, metavar="ADDR", help="address of a dask.distributed scheduler to run on")
    parser.add_argument("--manifest", default=None, metavar="FILE", help="JSON Lines manifest (default: DIR/manifest.jsonl)")
    parser.add_argument(
        "--retries", type=int, default=2, metavar="N", help="retries of a file after a transient failure (default: 2)"
    )
    parser.add_argument("--no-resume", dest="resume", action="store_false", help="redo the files already done")
    parser.add_argument("--force", dest="resume", action="store_false", help="the same as --no-resume")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def _add_dialect_option(parser: argparse.ArgumentParser) -> None:
    """``--dialect`` of every command that writes LINDI files (index, convert and their -many)."""
    parser.add_argument(
        "--dialect", choices=("lindi", "zarr3"), default="lindi",
        help="of what is written: lindi (LINDI v2, which lindi 0.4.6 reads; the default) or zarr3 "
        "(the shared Zarr v3 convention, which hdmf-zarr 0.14 reads through fsspec's reference "
        "file system)",
    )


@command
def _index_many(sub: Subcommands) -> None:
    parser = sub.add_parser(
        "index-many", help="index many HDF5/NWB files (paths or URLs) in parallel, resumably",
        description="Index every SOURCE into DIR/<file name>.lindi.json on a process pool (or a dask "
        "scheduler). One manifest line per file says what happened; a second run skips the files "
        "whose source is unchanged. Exit 1 if any file failed.",
    )
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="HDF5 file path or http(s) URL")
    _add_batch_options(parser, ["json", "tar", "dir"], "json")
    _add_dialect_option(parser)
    parser.set_defaults(run=_run_index_many)


@command
def _index_dandiset(sub: Subcommands) -> None:
    parser = sub.add_parser(
        "index-dandiset", help="index every NWB asset of a DANDI dandiset (Neurosift's layout)",
        description="List the assets of a dandiset version through the DANDI API and index each "
        "blob into DIR/dandisets/<id>/assets/<asset id>/nwb.lindi.json.",
    )
    parser.add_argument("dandiset", metavar="ID[@VERSION]", help="e.g. 000017 or 000017@0.220126.1853")
    parser.add_argument("--glob", default="*.nwb", help="asset paths to index (default: *.nwb)")
    parser.add_argument("--api-url", default=None, help="DANDI API URL (default: that of --instance)")
    parser.add_argument(
        "--instance", default="dandi", choices=["dandi", "dandi-staging", "dandi-sandbox"],
        help="the DANDI archive (default: dandi)",
    )
    _add_batch_options(parser, ["json", "tar", "dir"], "json")
    parser.set_defaults(run=_run_index_dandiset)


@command
def _convert_many(sub: Subcommands) -> None:
    parser = sub.add_parser(
        "convert-many", help="convert many NWB files (HDF5 or LINDI) in parallel, copying the data",
        description="Convert every SOURCE into DIR/<file name> plus the suffix of --form, as "
        "'convert' does, on a process pool; resumable like index-many.",
    )
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="NWB file (HDF5 or LINDI), path or URL")
    _add_batch_options(parser, ["tar", "json", "dir", "nwb"], "tar")
    _add_dialect_option(parser)
    parser.set_defaults(run=_run_convert_many)


def _batch_run(args: argparse.Namespace, what: str, run: Callable[..., list[BatchRecord]]) -> int:
    """Run a batch with progress from completed futures: a bar on a terminal, else one plain
    line per file on standard error; print a summary; exit 1 if any file failed."""
    counts: dict[str, int] = {}
    terminal = is_terminal(sys.stderr)
    with progress_bar(what, unit=" files", quiet=args.quiet) as bar:

        def report(record: BatchRecord, done: int, total: int) -> None:
            counts[record.status] = counts.get(record.status, 0) + 1
            if terminal:
                bar.total = total
                bar.set_postfix(counts, refresh=False)
                bar.update(1)
            elif not args.quiet:
                sys.stderr.write(f"{done}/{total} {record.status} {record.source}\n")
                sys.stderr.flush()

        records = run(
            form=args.form, max_workers=args.jobs, scheduler=args.scheduler, manifest=args.manifest,
            resume=args.resume, retries=args.retries, progress=report,
        )
    tally = {s: sum(1 for r in records if r.status == s) for s in ("ok", "skipped", "unsupported", "failed")}
    print(f"{what} {len(records)} files: " + ", ".join(f"{v} {k}" for k, v in tally.items()))
    for record in records:
        if record.status == "failed":
            print(f"failed: {record.source}: {record.error_type}: {record.error_message}")
    return 1 if tally["failed"] else 0


def _run_index_many(args: argparse.Namespace) -> int:
    from .batch import index_many
    from .hdf5 import IndexOptions

    options = IndexOptions(dialect=args.dialect)
    return _batch_run(args, "indexed", lambda **kw: index_many(args.sources, args.out, options=options, **kw))


def _run_index_dandiset(args: argparse.Namespace) -> int:
    from .batch import index_dandiset

    return _batch_run(args, "indexed", lambda **kw: index_dandiset(
        args.dandiset, args.out, glob=args.glob or None, api_url=args.api_url, instance=args.instance, **kw
    ))


def _run_convert_many(args: argparse.Namespace) -> int:
    from .batch import convert_many

    return _batch_run(
        args, "converted", lambda **kw: convert_many(args.sources, args.out, dialect=args.dialect, **kw)
    )


# --- the entry point -----------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hdmf-lindi", description="Work with LINDI files.")
    parser.add_argument("--version", action="version", version=f"hdmf-lindi {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logs and tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in _REGISTERED:
        register(sub)
    for subparser in sub.choices.values():  # -v also after the subcommand's name
        if "-v" in subparser._option_string_actions or "--verbose" in subparser._option_string_actions:
            continue  # the command defines its own
        subparser.add_argument(
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logs and tracebacks"
        )
    return parser


def _stdout_closed() -> bool:
    """Whether standard output is a pipe whose reader has gone (its write end reports an error)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by a capture: not a pipe of ours
        return False
    if not hasattr(select, "poll"):  # Windows: a broken pipe here is most likely stdout's
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))


def _silence_stdout() -> None:
    """After a closed pipe, point standard output at /dev/null so the exit flush is silent."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        with stats() as scope:
            code: int = args.run(args)
        if args.verbose:
            sys.stderr.write(f"hdmf-lindi {args.command}: I/O {scope.describe()}\n")
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError as exc:  # "hdmf-lindi info ... | head": the reader has all it wants
        if _stdout_closed():
            _silence_stdout()
            return 141
        return _report(args, exc)
    except KeyboardInterrupt:
        sys.stderr.write(f"hdmf-lindi {args.command}: interrupted\n")
        return 130
    except (LindiError, OSError) as exc:  # OSError: permission denied, disk full, ...
        return _report(args, exc)


def _report(args: argparse.Namespace, exc: BaseException) -> int:
    if args.verbose:
        logger.error("failed", exc_info=exc)
    sys.stderr.write(f"hdmf-lindi {args.command}: {exc}\n")
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
