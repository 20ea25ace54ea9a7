"""PSNR by hand, SSIM against scikit-image with the authors' settings."""
import math

import numpy as np
import pytest

from srcnn.metrics import psnr, ssim


def test_psnr_hand_cases():
    a = np.zeros((10, 10))
    b = a + 1
    assert psnr(a, b) == pytest.approx(20 * math.log10(255))  # MSE 1
    b2 = a.copy(); b2[0, 0] = 10  # MSE = 100 / 100 = 1
    assert psnr(a, b2) == pytest.approx(48.1308036, abs=1e-6)
    assert psnr(a, b2, border=1) == math.inf  # the differing pixel is in the shaved border


def test_psnr_shave():
    a = np.zeros((8, 8)); b = a.copy(); b[3, 3] = 6
    assert psnr(a, b, border=2) == pytest.approx(10 * math.log10(255 ** 2 / (36 / 16)))


def test_ssim_matches_scikit_image():
    skm = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (64, 80)).astype(np.float64)
    b = np.clip(a + rng.normal(0, 12, a.shape), 0, 255).round()
    ref = skm.structural_similarity(a, b, data_range=255, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, win_size=11)
    assert ssim(a, b) == pytest.approx(ref, abs=1e-6)


def test_ssim_identity_and_errors():
    a = np.random.default_rng(1).random((20, 20)) * 255
    assert ssim(a, a) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        ssim(a, a[:-1])
