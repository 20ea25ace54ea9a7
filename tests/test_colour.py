"""Colour conversion against MATLAB's documented rgb2ycbcr values and the BT.601 formula."""
import numpy as np
import pytest

from srcnn.colour import rgb2y, rgb2ycbcr, ycbcr2rgb


def px(*rgb, dtype=np.uint8):
    return np.array(rgb, dtype=dtype).reshape(1, 1, 3)


@pytest.mark.parametrize("rgb, ycc", [
    ((0, 0, 0), (16, 128, 128)),
    ((255, 255, 255), (235, 128, 128)),
    ((255, 0, 0), (81, 90, 240)),      # MATLAB: rgb2ycbcr(uint8([255 0 0]))
    ((0, 255, 0), (145, 54, 34)),
    ((0, 0, 255), (41, 240, 110)),
])
def test_uint8_matches_matlab(rgb, ycc):
    assert rgb2ycbcr(px(*rgb)).ravel().tolist() == list(ycc)


def test_y_formula_on_random_pixels():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)
    r, g, b = (img[..., i].astype(np.float64) for i in range(3))
    expected = np.floor(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255 + 0.5)
    assert np.array_equal(rgb2y(img), expected.astype(np.uint8))


def test_not_the_common_mistakes():
    # 16 + 65.481 * 240 / 255 = 77.63 -> 78; the R weight 64.738 would give 76.93 -> 77 and
    # full-range luma 0.299 * 240 = 71.76 -> 72.
    assert rgb2y(px(240, 0, 0))[0, 0] == 78


def test_uint16_is_uint8_times_257():
    assert rgb2ycbcr(px(65535, 65535, 65535, dtype=np.uint16)).ravel().tolist() == [235 * 257, 128 * 257, 128 * 257]
    assert rgb2ycbcr(px(0, 0, 0, dtype=np.uint16)).ravel().tolist() == [16 * 257, 128 * 257, 128 * 257]


def test_float_round_trip():
    rng = np.random.default_rng(2)
    img = rng.random((16, 16, 3))
    assert np.allclose(ycbcr2rgb(rgb2ycbcr(img)), img, atol=1e-12)


def test_uint8_round_trip_within_one_level():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    back = ycbcr2rgb(rgb2ycbcr(img))
    assert np.abs(back.astype(int) - img).max() <= 2  # studio range quantises finer steps away


def test_grey_passes_through():
    g = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert rgb2y(g) is g


def test_bad_shape():
    with pytest.raises(ValueError):
        rgb2ycbcr(np.zeros((4, 4, 2), np.uint8))
