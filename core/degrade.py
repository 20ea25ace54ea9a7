"""Low-resolution images as a user's file would be: a downscale by some resampler, then steps
such as a JPEG save or sensor noise, each rounded to 8 bits (``srcnn-cli eval --degrade SPEC``).

A spec is a comma-separated list: an optional downscaler first (``matlab``, the paper's and the
default; ``pillow-bicubic``; ``pillow-lanczos``; ``bilinear``, OpenCV's ``INTER_LINEAR``, which
does not antialias; ``area``, OpenCV's ``INTER_AREA``), then any steps in the order they happen:

- ``jpeg:Q``   encoded and decoded by Pillow at quality Q (1-100), its default 4:2:0 chroma
  subsampling, exactly as a saved ``.jpg`` is read back;
- ``noise:S``  Gaussian noise of standard deviation S (of 255) on every channel, seeded.

``clean`` (or ``matlab``) is the paper's protocol with the LR rounded to 8 bits, as a file is.
Examples: ``jpeg:75``, ``area``, ``pillow-bicubic,jpeg:85``, ``noise:6``, ``area,noise:3,jpeg:50``.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from .resize import imresize

__all__ = ["DOWNSCALERS", "Degradation", "parse", "downscale", "jpeg", "add_noise", "apply"]

DOWNSCALERS = ("matlab", "pillow-bicubic", "pillow-lanczos", "bilinear", "area")
STEPS = ("jpeg", "noise")


@dataclass(frozen=True)
class Degradation:
    down: str = "matlab"
    steps: tuple = ()  # ((kind, value), ...)

    def __str__(self) -> str:
        return ",".join([self.down] + [f"{k}:{v:g}" for k, v in self.steps])


def parse(spec: str) -> Degradation:
    """``'pillow-bicubic,jpeg:75'`` -> Degradation; ValueError with a one-line reason otherwise."""
    parts = [p.strip().lower() for p in str(spec).split(",")]
    if not spec or not all(parts):
        raise ValueError(f"--degrade {spec!r}: empty step (e.g. 'jpeg:75', 'area,noise:6')")
    down, steps = "matlab", []
    for i, part in enumerate(parts):
        if part == "clean":
            part = "matlab"
        if part in DOWNSCALERS:
            if i != 0:
                raise ValueError(f"--degrade {spec!r}: the downscaler ({part}) must come first")
            down = part
            continue
        kind, sep, val = part.partition(":")
        if kind not in STEPS:
            raise ValueError(f"--degrade {spec!r}: unknown step {part!r}; downscalers: "
                             f"{', '.join(DOWNSCALERS)}; steps: jpeg:Q, noise:SIGMA")
        try:
            v = float(val)
        except ValueError:
            raise ValueError(f"--degrade {spec!r}: {kind} needs a number, e.g. {kind}:{75 if kind == 'jpeg' else 6}") from None
        if kind == "jpeg" and not (v.is_integer() and 1 <= v <= 100):
            raise ValueError(f"--degrade {spec!r}: JPEG quality must be a whole number 1-100, got {val}")
        if kind == "noise" and not (0 <= v <= 100):
            raise ValueError(f"--degrade {spec!r}: noise sigma must be 0-100 (of 255), got {val}")
        steps.append((kind, int(v) if kind == "jpeg" else v))
    return Degradation(down, tuple(steps))


def downscale(hr: np.ndarray, scale: int, how: str = "matlab") -> np.ndarray:
    """uint8 (H, W[, 3]), sides multiples of ``scale`` -> uint8 (H/s, W/s[, 3]) by ``how``."""
    if hr.dtype != np.uint8:
        raise ValueError(f"downscale: uint8 image expected, got {hr.dtype}")
    h, w = hr.shape[0] // scale, hr.shape[1] // scale
    if how == "matlab":
        return imresize(hr, size=(h, w))
    if how in ("pillow-bicubic", "pillow-lanczos"):
        from PIL import Image
        f = Image.Resampling.BICUBIC if how == "pillow-bicubic" else Image.Resampling.LANCZOS
        return np.asarray(Image.fromarray(hr).resize((w, h), f))
    if how in ("bilinear", "area"):
        import cv2
        return cv2.resize(hr, (w, h), interpolation=cv2.INTER_LINEAR if how == "bilinear" else cv2.INTER_AREA)
    raise ValueError(f"unknown downscaler {how!r}; one of {', '.join(DOWNSCALERS)}")


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """uint8 (H, W[, 3]) -> the same after a Pillow JPEG save and load at ``quality``."""
    from PIL import Image
    src = Image.fromarray(img)
    buf = io.BytesIO()
    src.save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert(src.mode))


def add_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """uint8 image + Gaussian noise of std ``sigma`` (of 255), rounded and clipped to uint8."""
    x = img.astype(np.float64) + rng.normal(0.0, sigma, img.shape)
    return np.clip(np.floor(x + 0.5), 0, 255).astype(np.uint8)


def apply(deg: Degradation | str, hr: np.ndarray, scale: int, seed: int = 0) -> np.ndarray:
    """uint8 HR (H, W[, 3]), sides multiples of ``scale`` -> the uint8 LR a user's file would hold.

    The noise is drawn from ``numpy.random.default_rng(seed)``: the same call gives the same LR.
    """
    if isinstance(deg, str):
        deg = parse(deg)
    if int(scale) != scale or scale < 1:
        raise ValueError(f"--degrade needs a whole scale factor, got x{scale:g}")
    lr = downscale(np.ascontiguousarray(hr), int(scale), deg.down)
    rng = np.random.default_rng(seed)
    for kind, v in deg.steps:
        lr = jpeg(lr, v) if kind == "jpeg" else add_noise(lr, v, rng)
    return lr
