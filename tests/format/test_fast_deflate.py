"""libdeflate-backed zlib/gzip chunk coding (format/fast_deflate.py) against zlib and numcodecs."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import numcodecs
import numpy as np
import pytest

from hdmf_lindi.format import fast_deflate, libdeflate_ctypes
from hdmf_lindi.format.codecs import Pipeline

RAW = np.random.default_rng(7).normal(0, 300, 20_000).astype("<i2").tobytes()
CODECS = [numcodecs.Zlib(level=4), numcodecs.GZip(level=4)]


class _NoNumcodecsDecode(numcodecs.Zlib):  # type: ignore[misc]
    """A Zlib codec whose own decode fails: only libdeflate can have produced a result."""

    def decode(self, buf: Any, out: Any = None) -> Any:
        raise AssertionError("numcodecs decode called")


def test_deflate_package_is_installed() -> None:
    # a declared dependency: without it every chunk silently takes the slower zlib path
    assert fast_deflate.AVAILABLE


def test_decode_uses_libdeflate_when_size_is_known() -> None:
    codec = _NoNumcodecsDecode(level=4)
    assert bytes(fast_deflate.decode(codec, zlib.compress(RAW, 4), len(RAW))) == RAW


@pytest.mark.parametrize("codec", CODECS, ids=["zlib", "gzip"])
def test_decode_equals_numcodecs(codec: Any) -> None:
    stored = codec.encode(RAW)
    assert bytes(fast_deflate.decode(codec, stored, len(RAW))) == bytes(codec.decode(stored))


@pytest.mark.parametrize("hint", [len(RAW) - 1, len(RAW) + 100, 1], ids=["short", "long", "tiny"])
def test_wrong_size_hint_falls_back_to_numcodecs(hint: int) -> None:
    # the caller then sees the true size and reports the mismatch as for any codec
    assert bytes(fast_deflate.decode(numcodecs.Zlib(), zlib.compress(RAW), hint)) == RAW


def test_multi_member_gzip_is_decoded_whole() -> None:
    # libdeflate stops after the first member; the size check sends it to numcodecs
    stored = gzip.compress(RAW[:1000]) + gzip.compress(RAW[1000:])
    assert bytes(fast_deflate.decode(numcodecs.GZip(), stored, len(RAW))) == RAW


def test_damaged_stream_raises_numcodecs_error() -> None:
    stored = bytearray(zlib.compress(RAW))
    stored[len(stored) // 2 : len(stored) // 2 + 64] = bytes(64)
    with pytest.raises(zlib.error):
        fast_deflate.decode(numcodecs.Zlib(), bytes(stored), len(RAW))


@pytest.mark.parametrize("codec", CODECS, ids=["zlib", "gzip"])
@pytest.mark.parametrize("level", [0, 1, 4, 9])
def test_encode_is_readable_by_zlib_and_numcodecs(codec: Any, level: int) -> None:
    codec = type(codec)(level=level)
    stored = bytes(fast_deflate.encode(codec, RAW))
    assert bytes(codec.decode(stored)) == RAW
    if codec.codec_id == "zlib":
        assert zlib.decompress(stored) == RAW
    else:
        assert gzip.decompress(stored) == RAW
        assert stored[4:8] == bytes(4) or level == 0  # no timestamp: same input, same bytes


def test_encode_compresses_like_zlib_at_the_same_level() -> None:
    smooth = np.cumsum(np.random.default_rng(1).normal(0, 1, 50_000)).astype("<f8").tobytes()
    ours = len(fast_deflate.encode(numcodecs.Zlib(level=4), smooth))
    assert ours <= 1.05 * len(zlib.compress(smooth, 4))


def test_without_libdeflate_everything_goes_through_numcodecs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast_deflate, "_libdeflate", None)
    stored = fast_deflate.encode(numcodecs.Zlib(level=4), RAW)
    assert bytes(stored) == bytes(numcodecs.Zlib(level=4).encode(RAW))
    assert bytes(fast_deflate.decode(numcodecs.Zlib(), stored, len(RAW))) == RAW


@pytest.mark.parametrize(
    ("filters", "fast"),
    [
        (None, True),
        ([{"id": "shuffle", "elementsize": 2}], True),
        ([{"id": "delta", "dtype": "<i2", "astype": "<i4"}], False),  # changes the size
    ],
    ids=["plain", "shuffle", "delta_widening"],
)
def test_pipeline_decodes_with_size_hint_only_when_it_is_the_raw_size(filters: Any, fast: bool) -> None:
    pipeline = Pipeline({"id": "zlib", "level": 4}, filters)
    stored = pipeline.encode(RAW)
    assert pipeline._deflate_last is fast
    assert bytes(pipeline.decode(stored, len(RAW))) == bytes(pipeline.decode(stored)) == RAW


def _packed(codec: Any, parts: list[bytes], gap: bytes = b"") -> tuple[bytes, list[int], list[int]]:
    stored = [bytes(codec.encode(p)) for p in parts]
    starts, pos = [], 0
    for s in stored:
        starts.append(pos)
        pos += len(s) + len(gap)
    return gap.join(stored) + gap, starts, [len(s) for s in stored]


def _rows(count: int, width: int = 128) -> np.ndarray[Any, Any]:
    return np.full((count, width), 0xAB, dtype=np.uint8)


@pytest.fixture(params=["ctypes", "package"])
def decode_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both libdeflate paths: through ctypes (GIL released), and the deflate package's calls."""
    assert libdeflate_ctypes.AVAILABLE  # the wheel on this platform exports libdeflate's functions
    if request.param == "package":
        monkeypatch.setattr(libdeflate_ctypes, "_LIB", None)
    else:
        monkeypatch.setattr(fast_deflate, "CTYPES_MIN_BYTES", 1)  # these chunks are small
    return str(request.param)


@pytest.mark.parametrize("codec", CODECS, ids=["zlib", "gzip"])
def test_decode_many_into_fills_rows_in_order(codec: Any, decode_path: str) -> None:
    parts = [RAW[i * 128:(i + 1) * 128] for i in range(50)]
    data, starts, sizes = _packed(codec, parts, gap=b"\x00" * 7)  # chunks need not touch
    out = _rows(50)
    assert fast_deflate.decode_many_into(codec, memoryview(data), starts, sizes, out)
    assert out.tobytes() == b"".join(parts)


@pytest.mark.parametrize("nbytes", [127, 129], ids=["shorter", "longer"])
def test_decode_many_into_refuses_a_chunk_of_another_size(nbytes: int, decode_path: str) -> None:
    codec = numcodecs.Zlib()
    parts = [RAW[:128]] * 3 + [RAW[:nbytes]]
    data, starts, sizes = _packed(codec, parts)
    assert not fast_deflate.decode_many_into(codec, data, starts, sizes, _rows(4))


def test_decode_many_into_refuses_damaged_and_multi_member_chunks(decode_path: str) -> None:
    codec = numcodecs.Zlib()
    data, starts, sizes = _packed(codec, [RAW[:128]] * 4)
    damaged = bytearray(data)
    damaged[starts[2] + 2:starts[2] + sizes[2]] = bytes(sizes[2] - 2)
    assert not fast_deflate.decode_many_into(codec, bytes(damaged), starts, sizes, _rows(4))
    two = gzip.compress(RAW[:64]) + gzip.compress(RAW[64:128])  # decodes whole only through numcodecs
    assert not fast_deflate.decode_many_into(numcodecs.GZip(), two, [0], [len(two)], _rows(1))


def test_decode_many_into_checks_ranges_and_the_output_before_any_call() -> None:
    codec = numcodecs.Zlib()
    data, starts, sizes = _packed(codec, [RAW[:128]] * 3)
    beyond = [starts[0], starts[1], starts[2] + 1]  # the last range runs past the buffer
    assert not libdeflate_ctypes.decompress_many_into("zlib", data, beyond, sizes, _rows(3))
    assert not libdeflate_ctypes.decompress_many_into("zlib", data, [-1, *starts[1:]], sizes, _rows(3))
    assert not libdeflate_ctypes.decompress_many_into("zlib", data, starts, sizes, _rows(2))  # too few rows
    assert not libdeflate_ctypes.decompress_many_into("zlib", data, starts, sizes, _rows(3)[:, ::2])
    frozen = _rows(3)
    frozen.flags.writeable = False
    assert not libdeflate_ctypes.decompress_many_into("zlib", data, starts, sizes, frozen)
    assert not libdeflate_ctypes.decompress_many_into("zlib", np.arange(40)[::2], [0], [4], _rows(1))
    good = _rows(3)
    assert libdeflate_ctypes.decompress_many_into("zlib", data, starts, sizes, good)
    assert good.tobytes() == RAW[:128] * 3


def test_ctypes_decompress_is_exact() -> None:
    stored = zlib.compress(RAW, 4)
    assert libdeflate_ctypes.decompress("zlib", stored, len(RAW)) == RAW
    assert libdeflate_ctypes.decompress("zlib", stored, len(RAW) + 1) is None  # shorter than asked
    assert libdeflate_ctypes.decompress("zlib", stored, len(RAW) - 1) is None  # longer than asked
    assert libdeflate_ctypes.decompress("gzip", gzip.compress(RAW), len(RAW)) == RAW
    assert libdeflate_ctypes.decompress("zlib", np.arange(40)[::2], 4) is None  # not contiguous


def test_decode_goes_through_ctypes_when_it_can(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = libdeflate_ctypes.decompress

    def counting(kind: str, data: Any, nbytes: int) -> Any:
        calls.append(kind)
        return real(kind, data, nbytes)

    monkeypatch.setattr(libdeflate_ctypes, "decompress", counting)
    codec = _NoNumcodecsDecode(level=4)
    big = RAW * 2  # 80,000 bytes: at least CTYPES_MIN_BYTES
    assert len(big) >= fast_deflate.CTYPES_MIN_BYTES > len(RAW)
    assert bytes(fast_deflate.decode(codec, zlib.compress(big, 4), len(big))) == big
    assert calls == ["zlib"]
    assert bytes(fast_deflate.decode(codec, zlib.compress(RAW, 4), len(RAW))) == RAW  # small: the package
    assert calls == ["zlib"]


def test_decode_many_into_without_libdeflate_leaves_it_to_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast_deflate, "_libdeflate", None)
    data, starts, sizes = _packed(numcodecs.Zlib(), [RAW[:128]] * 2)
    assert not fast_deflate.decode_many_into(numcodecs.Zlib(), data, starts, sizes, _rows(2))
