"""srcnn.png (the parallel PNG writer) against independent decoders (libpng via OpenCV, Pillow)."""
import io
import zlib

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from srcnn.png import adler32_combine, encode_png


def _decode_cv2(data: bytes, channels: int) -> np.ndarray:
    b = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert b is not None
    if channels == 1:
        return b
    if channels == 2:  # OpenCV expands grey+alpha to BGRA
        return np.dstack([b[:, :, 0], b[:, :, 3]])
    return b[:, :, [2, 1, 0, 3][:channels]]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("threads, band_rows", [(1, None), (3, 2), (2, 1000)])
def test_round_trip_through_libpng(dtype, channels, threads, band_rows):
    rng = np.random.default_rng(channels)
    # smooth ramps (what the filter is for) plus noise (what it cannot predict), odd sizes
    h, w = 37, 23
    ramp = (np.add.outer(np.arange(h), np.arange(w)) * 977) % (np.iinfo(dtype).max + 1)
    a = np.dstack([ramp.astype(dtype)] * channels) ^ rng.integers(0, 16, (h, w, channels), dtype=dtype)
    data = encode_png(a if channels > 1 else a[:, :, 0], threads=threads, band_rows=band_rows)
    assert np.array_equal(_decode_cv2(data, channels).reshape(a.shape), a)
    if dtype == np.uint8:
        im = Image.open(io.BytesIO(data))
        im.load()
        assert im.mode == {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]
        assert np.array_equal(np.asarray(im).reshape(a.shape), a)


@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_levels_and_one_pixel(level):
    for a in (np.array([[7]], np.uint8), np.full((3, 2, 3), 65535, np.uint16)):
        out = _decode_cv2(encode_png(a, level=level), 1 if a.ndim == 2 else 3)
        assert np.array_equal(out.reshape(a.shape), a)


def test_metadata_chunks_read_by_pillow():
    icc = bytes(range(256)) * 3
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation
    exif[0x010F] = "srcnn-test"
    data = encode_png(np.zeros((4, 5, 3), np.uint8), icc_profile=icc, exif=exif.tobytes(), dpi=(300, 150))
    im = Image.open(io.BytesIO(data))
    assert im.info["icc_profile"] == icc
    assert im.getexif()[0x010F] == "srcnn-test"
    assert [round(d) for d in im.info["dpi"]] == [300, 150]


def test_smaller_than_raw_and_bad_input():
    y, x = np.mgrid[0:200, 0:300]
    a = np.dstack([(x + y) % 256, (x * 2) % 256, y % 256]).astype(np.uint8)
    assert len(encode_png(a)) < a.nbytes / 10  # the up filter makes ramps nearly free
    with pytest.raises(ValueError):
        encode_png(a.astype(np.float32))
    with pytest.raises(ValueError):
        encode_png(np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(ValueError):
        encode_png(a, level=10)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3000), st.binary(max_size=70000))
def test_adler32_combine_equals_zlib(x, y):
    assert adler32_combine(zlib.adler32(x), zlib.adler32(y), len(y)) == zlib.adler32(x + y)


@pytest.mark.parametrize("use_isal", [True, False])
def test_both_deflate_backends(monkeypatch, use_isal):
    """Levels 1-3 go through ISA-L when installed; zlib alone must give a valid file too."""
    import srcnn.png as png
    if use_isal:
        pytest.importorskip("isal")
    else:
        monkeypatch.setattr(png, "_isal", None)
    y, x = np.mgrid[0:300, 0:200]
    a = np.dstack([(x * y) % 256, (x + 3 * y) % 256, (x ^ y) % 256]).astype(np.uint8)
    for level in (1, 3, 7):
        data = encode_png(a, level=level, threads=2, band_rows=40)
        assert np.array_equal(_decode_cv2(data, 3), a)
