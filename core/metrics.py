"""PSNR and SSIM on Y exactly as the paper's protocol computes them (FACTS section 1.5, 1.7)."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["shave", "psnr", "ssim"]


def shave(img: np.ndarray, border: int) -> np.ndarray:
    """Drop ``border`` pixels on every side of an (H, W[, C]) image."""
    if border <= 0:
        return img
    if img.shape[0] <= 2 * border or img.shape[1] <= 2 * border:
        raise ValueError(f"image {img.shape[:2]} is too small to shave {border} px per side")
    return img[border:-border, border:-border]


def psnr(ref: np.ndarray, test: np.ndarray, *, border: int = 0, peak: float = 255.0) -> float:
    """PSNR in dB between two same-shaped images in 0..peak units, after shaving ``border``.

    Identical images give ``inf``.
    """
    if ref.shape != test.shape:
        raise ValueError(f"shape mismatch: {ref.shape} vs {test.shape}")
    a = shave(ref, border).astype(np.float64)
    b = shave(test, border).astype(np.float64)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0:
        return math.inf
    return 10.0 * math.log10(peak * peak / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    ax = np.arange(size) - (size - 1) / 2.0
    g = np.exp(-(ax ** 2) / (2 * sigma ** 2))
    g /= g.sum()
    return g


def _filter_valid(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' correlation of a 2-D array with the 1-D window g (both axes)."""
    k = g.size
    h = sum(g[i] * x[i:x.shape[0] - k + 1 + i, :] for i in range(k))
    return sum(g[i] * h[:, i:h.shape[1] - k + 1 + i] for i in range(k))


def ssim(ref: np.ndarray, test: np.ndarray, *, border: int = 0, peak: float = 255.0) -> float:
    """Mean SSIM (Wang et al. 2004) of two 2-D images in 0..peak units, after shaving ``border``.

    11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, 'valid' filtering, the mean of
    the map: the authors' ``ssim_index.m``.
    """
    if ref.shape != test.shape or ref.ndim != 2:
        raise ValueError(f"ssim needs two same-shaped 2-D images, got {ref.shape} and {test.shape}")
    a = shave(ref, border).astype(np.float64)
    b = shave(test, border).astype(np.float64)
    if min(a.shape) < 11:
        raise ValueError(f"ssim needs at least 11x11 pixels after shaving, got {a.shape}")
    g = _gaussian_window()
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    mu_a, mu_b = _filter_valid(a, g), _filter_valid(b, g)
    saa = _filter_valid(a * a, g) - mu_a ** 2
    sbb = _filter_valid(b * b, g) - mu_b ** 2
    sab = _filter_valid(a * b, g) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * sab + c2)
    den = (mu_a ** 2 + mu_b ** 2 + c1) * (saa + sbb + c2)
    return float(np.mean(num / den))
