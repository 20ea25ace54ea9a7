"""The paper's evaluation protocol (FACTS section 1), shared by ``srcnn-cli eval`` and training.

HR image -> Y (MATLAB rgb2ycbcr, uint8) -> mod-crop -> /255 -> imresize 1/s -> imresize s
(float, no rounding in between) -> model -> uint8 -> shave s -> PSNR / SSIM on Y.

Any factor s >= 1 (``srcnn-cli eval --scale 2.5``): for s = p/q the HR is cropped to a multiple
of p, so that the low-resolution size is whole, and ceil(s) pixels are shaved.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .colour import from_float, rgb2y
from .metrics import psnr, ssim
from .resize import imresize

__all__ = ["modcrop", "shrink", "degrade", "prepare", "score", "Sample", "crop_multiple", "shave_for"]


def crop_multiple(scale: float) -> int:
    """The HR sides must be multiples of this for a whole LR size: p for s = p/q."""
    f = Fraction(float(scale)).limit_denominator(1000)
    if abs(float(f) - float(scale)) > 1e-9:
        raise ValueError(f"scale {scale} is not a fraction p/q with q <= 1000")
    return f.numerator


def shave_for(scale: float) -> int:
    return math.ceil(float(scale) - 1e-9)


def modcrop(img: np.ndarray, scale: float) -> np.ndarray:
    """Crop (H, W[, C]) to the largest multiple of ``scale`` (of p for s = p/q) on both axes."""
    m = crop_multiple(scale)
    h, w = img.shape[:2]
    return img[: h - h % m, : w - w % m]


def shrink(y_hr: np.ndarray, scale: float) -> np.ndarray:
    """The protocol's low-resolution image: ``imresize(y_hr, 1/s)``, float, whole size."""
    lr = imresize(y_hr, 1.0 / scale)
    if round(lr.shape[0] * scale) != y_hr.shape[0] or round(lr.shape[1] * scale) != y_hr.shape[1]:
        raise ValueError(f"{y_hr.shape[:2]} is not a multiple of x{scale:g} (modcrop first)")
    return lr


def degrade(y_hr: np.ndarray, scale: float) -> np.ndarray:
    """float Y (H, W) in [0, 1], H and W multiples of scale -> bicubic-upsampled LR, same shape."""
    return imresize(shrink(y_hr, scale), scale)


@dataclass
class Sample:
    name: str
    y_hr: np.ndarray      # uint8 (H, W), mod-cropped ground-truth Y
    y_bicubic: np.ndarray  # float64 (H, W) in [0, 1], network input


def prepare(name: str, rgb_or_gray: np.ndarray, scale: float) -> Sample:
    """uint8 (H, W, 3) RGB or (H, W) grey -> the protocol's ground truth and network input."""
    if rgb_or_gray.dtype != np.uint8:
        raise ValueError(f"{name}: the protocol is defined on 8-bit images, got {rgb_or_gray.dtype}")
    y = modcrop(rgb2y(rgb_or_gray), scale)
    return Sample(name, y, degrade(y.astype(np.float64) / 255.0, scale))


def score(sample: Sample, y_out: np.ndarray, scale: float, with_ssim: bool = True) -> dict:
    """Float Y output in [0, 1] (H, W) -> {'psnr', 'ssim'} against the sample's ground truth."""
    out8 = from_float(y_out, np.uint8).astype(np.float64)
    ref = sample.y_hr.astype(np.float64)
    b = shave_for(scale)
    res = {"psnr": psnr(ref, out8, border=b)}
    if with_ssim:
        res["ssim"] = ssim(ref, out8, border=b)
    return res


IMAGE_SUFFIXES = (".bmp", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")


def list_images(folder) -> list:
    """Image files directly in ``folder``, sorted by name."""
    from pathlib import Path

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"not a folder: {folder}")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def load_uint8(path) -> np.ndarray:
    """An 8-bit dataset image as (H, W, 3) RGB or (H, W) grey uint8 (alpha dropped)."""
    from PIL import Image

    with Image.open(path) as im:
        if im.mode == "L":
            return np.asarray(im, dtype=np.uint8)
        return np.asarray(im.convert("RGB"), dtype=np.uint8)
