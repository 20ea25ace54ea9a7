"""``srcnn-cli demo``: a synthetic test picture, downscaled, then upscaled by bicubic and SRCNN.

Everything is made here (no downloads): edges, text and fine patterns, the kinds of detail
super-resolution is about.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .colour import from_float, rgb2y
from .imageio import Picture, write_image
from .metrics import psnr
from .pipeline import upscale
from .resize import imresize


def test_picture(size: int = 288) -> np.ndarray:
    """uint8 (size, size, 3) RGB: a zone plate, stripes, text, circles and colour edges."""
    from PIL import Image, ImageDraw, ImageFont

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    r2 = ((xx - size / 2) ** 2 + (yy - size / 2) ** 2) / (size / 2) ** 2
    zone = 0.5 + 0.5 * np.cos(np.pi * 0.05 * size * r2 / 2)
    img = np.dstack([zone * 0.9 + 0.05, zone * 0.8 + 0.1, 0.6 + 0.3 * zone])
    im = Image.fromarray(from_float(img, np.uint8))
    d = ImageDraw.Draw(im)
    q = size // 2
    d.rectangle([0, 0, q - 1, q - 1], fill=(235, 230, 215))
    for i in range(0, q, 10):
        d.line([(i, 0), (q - 1, q - 1 - i)], fill=(30, 30, 60), width=1)
    d.rectangle([q, q, size - 1, size - 1], fill=(250, 250, 250))
    try:
        font = ImageFont.load_default(size=max(10, size // 14))
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    for k, line in enumerate(["SRCNN", "Dong 2016", "x3 zoom", "0123456789"]):
        d.text((q + 6, q + 6 + k * size // 10), line, fill=(10, 10, 10), font=font)
    for k in range(5):
        d.ellipse([8 + k * 8, q + 8 + k * 8, q - 8 - k * 8, size - 8 - k * 8],
                  outline=(200 - 40 * k, 40 * k, 90), width=2)
    d.polygon([(q + 10, 10), (size - 10, q - 10), (q + 10, q - 10)], fill=(200, 40, 40))
    return np.asarray(im)


def _label(img: np.ndarray, text: str) -> np.ndarray:
    from PIL import Image, ImageDraw

    im = Image.fromarray(img)
    band = Image.new("RGB", (im.width, 22), (255, 255, 255))
    ImageDraw.Draw(band).text((4, 4), text, fill=(0, 0, 0))
    out = Image.new("RGB", (im.width, im.height + 22), (255, 255, 255))
    out.paste(band, (0, 0))
    out.paste(im, (0, 22))
    return np.asarray(out)


def run_demo(outdir: str | Path, scale: int = 3, model: str = "9-5-5", overwrite: bool = True) -> dict:
    """Write hr/lr/bicubic/srcnn/comparison PNGs into ``outdir``; returns the PSNRs (dB, Y)."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    hr = test_picture()
    lr = imresize(hr, 1.0 / scale)
    bic = from_float(imresize(lr.astype(np.float64) / 255.0, scale), np.uint8)
    sr = upscale(lr, scale, model=model)
    y_hr = rgb2y(hr).astype(np.float64)
    res = {"bicubic": psnr(y_hr, rgb2y(bic).astype(np.float64), border=scale),
           "srcnn": psnr(y_hr, rgb2y(sr).astype(np.float64), border=scale)}
    nearest = np.repeat(np.repeat(lr, scale, 0), scale, 1)
    panels = [_label(nearest, f"input {lr.shape[1]}x{lr.shape[0]} (pixels)"),
              _label(bic, f"bicubic x{scale}: {res['bicubic']:.2f} dB"),
              _label(sr, f"SRCNN {model} x{scale}: {res['srcnn']:.2f} dB"),
              _label(hr, "original")]
    gap = np.full((panels[0].shape[0], 6, 3), 255, np.uint8)
    comparison = np.concatenate([p for pair in zip(panels, [gap] * 4) for p in pair][:-1], axis=1)
    for name, img in [("original.png", hr), ("input.png", lr), ("bicubic.png", bic), ("srcnn.png", sr),
                      ("comparison.png", comparison)]:
        write_image(Picture(img), out / name, overwrite=overwrite)
    return res
