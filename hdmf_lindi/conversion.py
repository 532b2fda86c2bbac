"""convert: an NWB file between HDF5 and LINDI, chunks copied as they are encoded.

HDF5 -> LINDI needs neither hdmf nor pynwb: the file is indexed and every chunk's bytes are
pulled into the output (what ``NWBHDF5IO``'s export does with ``H5Ocopy``), so
``hdmf-lindi convert x.nwb x.lindi.tar`` does not even import pynwb. The other directions
export through pynwb (``NWBLindiIO`` / ``NWBHDF5IO``, see ``backend/hdf5_export.py``).
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

from .errors import LindiWarning
from .storage import RemoteOptions, is_url
from .tree import File

__all__ = ["convert"]

logger = logging.getLogger(__name__)

_HDF5_SUFFIXES = (".nwb", ".h5", ".hdf5")


def convert(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    options: RemoteOptions | None = None,
    self_contained: bool = False,
    metadata_as_text: bool = False,
    dialect: str = "lindi",
) -> None:
    """Convert an NWB file between HDF5 and LINDI (any form), copying the data.

    ``metadata_as_text`` writes a LINDI destination's metadata values as JSON text (kerchunk's
    spelling, for clients such as zarrita) instead of embedded objects. ``dialect="zarr3"``
    writes a LINDI destination in the shared Zarr v3 convention (hdmf-zarr 0.14 reads it): the
    conversion is made as LINDI v2 and translated as the last step, chunk references copied as
    references and inline chunks as bytes (only text, reference and compound arrays are recoded).

    The direction follows the names: a destination ending in ``.nwb``/``.h5``/``.hdf5`` is
    written with ``NWBHDF5IO``, anything else with :class:`NWBLindiIO` (``.lindi.json``,
    ``.lindi.tar``, ``.lindi.d``). The source may be HDF5 or LINDI, local or a URL. Chunks that a
    LINDI source references in another file are copied as references when the destination is
    LINDI (unless ``self_contained``), and read and written when it is HDF5.

    Chunks are copied as they are encoded whenever the destination can store them so: an HDF5
    source's chunks (deflate, shuffle, fletcher32, blosc, zstd) become LINDI chunks byte for
    byte, and a LINDI source's zlib/shuffle/fletcher32 chunks are written into HDF5 with
    ``write_direct_chunk``; each dataset keeps its chunk shape and compression. Other LINDI
    codecs (numcodecs' gzip, blosc, zstd) are decoded and re-encoded as HDF5 gzip, block by block.

    With ``self_contained``, a LINDI destination receives the bytes of every chunk the source
    references in other files (fetched concurrently, stored unchanged), so it reads with no
    network and no source file.

    Raises
    ------
    ModeError
        If ``destination`` exists and ``overwrite`` is False.
    FileNameError
        If ``destination`` is neither an HDF5 name nor a LINDI one (``.lindi.json``,
        ``.lindi.tar``, ``.lindi.d``).
    FormatError
        If the source is not an NWB file (no ``nwb_version``).
    """
    import shutil

    from .errors import FormatError, ModeError
    from .format.zarr_v3_write import check_dialect
    from .storage import is_hdf5, kind_from_suffix

    check_dialect(dialect)
    src = os.fspath(source)
    dst = os.fspath(destination)
    if os.path.exists(dst) and not overwrite:
        raise ModeError(f"{dst} exists; pass overwrite=True (hdmf-lindi convert --force) to replace it.")
    to_hdf5 = dst.lower().endswith(_HDF5_SUFFIXES)
    if not to_hdf5:
        kind_from_suffix(dst)  # refuses any other name, with the accepted ones
    from_hdf5 = is_hdf5(src)
    built = f"{dst}.partial-{os.getpid()}" + (".nwb" if to_hdf5 else _lindi_suffix(dst))
    try:
        if from_hdf5 and not to_hdf5 and not metadata_as_text and _index_and_embed(src, built, self_contained or not is_url(src), options):
            _set_dialect(built, dialect)
            if os.path.isdir(dst):
                shutil.rmtree(dst)
            os.replace(built, dst)
            logger.info("converted %s -> %s (indexed, chunks copied as they are)", src, dst)
            return
        from .nwb import NWBHDF5IO, NWBLindiIO, _NWBHDF5Export  # pynwb only on this path

        src_io: Any = NWBHDF5IO(src, "r") if from_hdf5 and not is_url(src) else NWBLindiIO(src, "r", options=options)
        with src_io:
            from_zarr3 = getattr(getattr(src_io, "file", None), "dialect", "lindi") == "zarr3"
            _, version = src_io.nwb_version
            if version is None:
                raise FormatError(f"{src} is not a valid NWB file: it has no nwb_version attribute.")
            dst_io: Any = _NWBHDF5Export(built, "w") if to_hdf5 else NWBLindiIO(built, "w", metadata_as_text=metadata_as_text)
            with dst_io, warnings.catch_warnings():
                if dialect != "lindi":  # written as LINDI v2 first: lindi's limits do not apply to the result
                    warnings.filterwarnings("ignore", "Chunks compressed with", LindiWarning)
                dst_io.export(src_io=src_io, write_args={"link_data": False})
        if self_contained and not to_hdf5:
            from .tree.embed import embed_references

            with File(built, "a") as out:
                embed_references(out)
        if not to_hdf5:
            _set_dialect(built, dialect, from_zarr3=from_zarr3)
        if os.path.isdir(dst):
            shutil.rmtree(dst)
        os.replace(built, dst)
    except BaseException:
        if os.path.isdir(built):
            shutil.rmtree(built, ignore_errors=True)
        elif os.path.exists(built):
            os.remove(built)
        raise
    logger.info("converted %s -> %s", src, dst)


def _set_dialect(built: str, dialect: str, *, from_zarr3: bool = False) -> None:
    """Rewrite the LINDI v2 file ``built`` in ``dialect``.

    For ``"lindi"`` there is nothing to do unless the source was Zarr v3 (``from_zarr3``): its
    arrays were copied with the v3 reader's own codecs, which are rewritten in lindi's form.
    """
    if dialect != "lindi" or from_zarr3:
        with File(built, "a") as out:
            out.dialect = dialect


def _index_and_embed(src: str, built: str, embed: bool, options: RemoteOptions | None) -> bool:
    """HDF5 -> LINDI without hdmf: index ``src``, write the index to ``built``, pull the chunks in.

    The result holds the HDF5 file's objects as they are (what ``NWBHDF5IO``'s export copies
    with ``H5Ocopy``), each chunk's bytes unchanged. Returns False, leaving nothing behind,
    when some dataset has no chunk-level form (an ``_EXTERNAL_ARRAY_LINK`` to the source): the
    caller then exports through pynwb.

    Raises
    ------
    FormatError
        If the source is not an NWB file (no ``nwb_version``).
    """
    from .errors import FormatError
    from .hdf5 import IndexOptions, index_hdf5, save_refmap
    from .tree.embed import embed_references

    refmap = index_hdf5(src, options=IndexOptions(remote=options))
    root_attrs = refmap.get_json(".zattrs") or {}
    if "nwb_version" not in root_attrs:
        raise FormatError(f"{src} is not a valid NWB file: it has no nwb_version attribute.")
    for key in refmap.iter_keys(chunk_tables=False):
        if key.endswith(".zattrs") and "_EXTERNAL_ARRAY_LINK" in (refmap.get_json(key) or {}):
            logger.info("%s: %s has no chunk-level form; exporting through pynwb", src, key[: -len("/.zattrs")])
            return False
    save_refmap(refmap, built)
    if embed:
        with File(built, "a") as out:
            embed_references(out)
    return True


def _lindi_suffix(dst: str) -> str:
    """The temporary name keeps the destination's LINDI suffix (it decides the form)."""
    for suffix in (".lindi.json", ".lindi.tar", ".lindi.d", ".json", ".tar", ".d"):
        if dst.endswith(suffix):
            return suffix
    return ".lindi.tar"
