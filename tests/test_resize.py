"""MATLAB-compatible bicubic: against MATLAB-made images and an independent per-pixel port."""
import math

import numpy as np
import pytest
from PIL import Image

from srcnn.resize import imresize, resize_region
from conftest import dataset


def matlab_imresize_loop(x, scale):
    """A literal, loop-by-loop transcription of MATLAB imresize (bicubic), for cross-checking."""
    def cubic(t):
        a = abs(t)
        if a <= 1:
            return 1.5 * a ** 3 - 2.5 * a ** 2 + 1
        if a <= 2:
            return -0.5 * a ** 3 + 2.5 * a ** 2 - 4 * a + 2
        return 0.0

    def axis(v, n_in):
        n_out = math.ceil(n_in * scale)
        shrink = scale < 1
        width = 4 / scale if shrink else 4
        out = []
        for i in range(1, n_out + 1):
            u = i / scale + 0.5 * (1 - 1 / scale)
            left = math.floor(u - width / 2)
            taps = [(left + k) for k in range(math.ceil(width) + 2)]
            ws = [(scale * cubic(scale * (u - j)) if shrink else cubic(u - j)) for j in taps]
            tot = sum(ws)
            acc = 0.0
            for j, wj in zip(taps, ws):
                jj = j
                while jj < 1 or jj > n_in:  # symmetric mirroring
                    jj = 1 - jj if jj < 1 else 2 * n_in + 1 - jj
                acc += wj / tot * v[jj - 1]
            out.append(acc)
        return out

    rows = np.array([axis(r, x.shape[1]) for r in x])  # width
    return np.array([axis(c, x.shape[0]) for c in rows.T]).T  # height


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_matches_matlab_reference_lr_images(scale):
    hr_dir, lr_dir = dataset("Set5"), dataset(f"reference/Set5_LR_x{scale}")
    total = same = 0
    for p in sorted(hr_dir.glob("*.bmp")):
        hr = np.asarray(Image.open(p).convert("RGB"))
        h, w = hr.shape[:2]
        hr = hr[: h - h % scale, : w - w % scale]
        ref = np.asarray(Image.open(lr_dir / f"{p.stem}x{scale}.bmp").convert("RGB"))
        lr = imresize(hr, 1 / scale)
        assert lr.shape == ref.shape
        d = np.abs(lr.astype(int) - ref)
        assert d.max() <= 2
        total += d.size
        same += int((d == 0).sum())
    assert same / total >= 0.999  # measured: 100% of pixels identical at x2, x3, x4


@pytest.mark.parametrize("scale", [1 / 3, 0.5, 0.7, 1.5, 2, 2.5, 3, 4])
@pytest.mark.parametrize("shape", [(7, 11), (12, 9)])
def test_matches_independent_loop_port(scale, shape):
    x = np.random.default_rng(0).random(shape)
    assert np.allclose(imresize(x, scale), matlab_imresize_loop(x, scale), atol=1e-12)


def test_output_size_and_constant_image():
    x = np.full((10, 13, 3), 0.25)
    y = imresize(x, 2.5)
    assert y.shape == (25, 33, 3)
    assert np.allclose(y, 0.25)
    assert imresize(x, 1 / 3).shape == (4, 5, 3)


def test_float32_stays_float32_and_uint16():
    x = np.random.default_rng(1).random((9, 9)).astype(np.float32)
    assert imresize(x, 2).dtype == np.float32
    u = (x * 65535).astype(np.uint16)
    assert imresize(u, 2).dtype == np.uint16


def test_region_equals_slice_of_whole():
    x = np.random.default_rng(2).random((23, 31, 2))
    full = imresize(x, 3)
    rows = np.clip(np.arange(-4, 30), 0, full.shape[0] - 1)
    cols = np.arange(50, 93)
    assert np.array_equal(resize_region(x, 3, rows, cols), full[rows][:, cols])


@pytest.mark.parametrize("bad", [0, -2, float("nan"), float("inf")])
def test_bad_scale(bad):
    with pytest.raises(ValueError):
        imresize(np.zeros((4, 4)), bad)
