"""Realistic degradations drawn per patch, for the photo models (issue 27).

Each training patch is cut from an RGB training image with a margin, degraded as a user's small
picture is made, then enlarged with the core's MATLAB bicubic exactly as ``srcnn.upscale`` does
at run time, and the margin dropped (so no patch edge shows in the input):

    HR crop (uint8 RGB) -> [blur] -> downscale (one of srcnn.degrade.DOWNSCALERS)
        -> [noise] -> [JPEG] -> [second JPEG on a shifted 8x8 grid] -> Y -> MATLAB bicubic x s

What is drawn, and why (BSRGAN, Zhang et al. 2021, shuffles blur, downscale, noise and JPEG at
x4 with stronger ranges; Real-ESRGAN, Wang et al. 2021, runs that chain twice; an SRCNN of 57k
weights cannot undo their strongest cases without losing the clean ones, so the ranges here are
those of photos as people keep them: saved JPEGs of q30-95, mild noise, unknown resamplers):

- a share ``clean`` of the patches is the paper's degradation (MATLAB bicubic, no steps), so the
  clean quality is kept;
- blur (30 %): Gaussian, isotropic or anisotropic (rotated), sigma 0.2-1.2 HR pixels x s/2;
- downscale: MATLAB bicubic, Pillow bicubic, Pillow Lanczos, OpenCV bilinear, OpenCV area, equally;
- noise (35 %): Gaussian sigma 1-10 (of 255), colour (per channel) or grey (the same on R, G, B),
  or Poisson-like (sigma growing with the square root of the intensity);
- JPEG (65 %): Pillow quality 30-95 (4:2:0, as Pillow saves), after the noise; of those 20 % are
  saved a second time at quality 50-95 on a grid shifted by 1-7 pixels (a re-saved crop).

Draws come from ``numpy.random.default_rng([seed, step, rank])`` as the rest of training, so a
step's batch can be replayed exactly (a test checks it).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from srcnn.colour import rgb2y
from srcnn.degrade import DOWNSCALERS, add_noise, downscale, jpeg
from srcnn.protocol import list_images, load_uint8
from srcnn.resize import imresize

__all__ = ["Mix", "DegradeBank", "degrade_patch", "VAL_SPECS"]

# The degradations the photo runs validate on (mean PSNR over them on val20), clean included.
VAL_SPECS = ("matlab", "area", "jpeg:90", "jpeg:75", "jpeg:50", "noise:6")


@dataclass(frozen=True)
class Mix:
    clean: float = 0.2
    blur: float = 0.3
    noise: float = 0.35
    noise_max: float = 10.0
    jpeg: float = 0.65
    q_min: int = 30
    q_max: int = 95
    double_jpeg: float = 0.2


def _gauss_kernel(rng: np.random.Generator, scale: int) -> np.ndarray:
    s = scale / 2.0
    sx = rng.uniform(0.2, 1.2) * s
    sy = sx if rng.random() < 0.5 else rng.uniform(0.2, 1.2) * s
    th = rng.uniform(0, np.pi)
    r = int(np.ceil(3 * max(sx, sy)))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float64)
    u = np.cos(th) * xx + np.sin(th) * yy
    v = -np.sin(th) * xx + np.cos(th) * yy
    k = np.exp(-0.5 * (u * u / (sx * sx) + v * v / (sy * sy)))
    return k / k.sum()


def degrade_patch(hr: np.ndarray, scale: int, rng: np.random.Generator, mix: Mix = Mix()) -> np.ndarray:
    """uint8 HR (L, L, 3) RGB or (L, L) grey, L a multiple of ``scale`` -> uint8 LR (L/s, L/s[, 3])."""
    if rng.random() < mix.clean:
        return downscale(hr, scale, "matlab")
    x = hr
    if rng.random() < mix.blur:
        import cv2
        k = _gauss_kernel(rng, scale)
        x = np.clip(np.floor(cv2.filter2D(x.astype(np.float32), -1, k.astype(np.float32),
                                          borderType=cv2.BORDER_REFLECT) + 0.5), 0, 255).astype(np.uint8)
    lr = downscale(np.ascontiguousarray(x), scale, DOWNSCALERS[rng.integers(len(DOWNSCALERS))])
    if rng.random() < mix.noise:
        sigma = rng.uniform(1.0, mix.noise_max)
        kind = rng.integers(3)
        if kind == 0:  # colour: independent per channel
            lr = add_noise(lr, sigma, rng)
        elif kind == 1 or lr.ndim == 2:  # grey: the same on every channel
            n = rng.normal(0.0, sigma, lr.shape[:2])
            n = n[..., None] if lr.ndim == 3 else n
            lr = np.clip(np.floor(lr + n + 0.5), 0, 255).astype(np.uint8)
        else:  # Poisson-like: sigma at mid-grey, growing with sqrt(intensity)
            f = np.sqrt(np.maximum(lr.astype(np.float64), 1.0) / 128.0)
            lr = np.clip(np.floor(lr + rng.normal(0.0, 1.0, lr.shape) * sigma * f + 0.5), 0, 255).astype(np.uint8)
    if rng.random() < mix.jpeg:
        lr = jpeg(lr, int(rng.integers(mix.q_min, mix.q_max + 1)))
        if rng.random() < mix.double_jpeg:
            dy, dx = (int(v) for v in rng.integers(1, 8, size=2))
            w = ((dy, 0), (dx, 0)) + ((0, 0),) * (lr.ndim - 2)
            lr = jpeg(np.pad(lr, w, mode="reflect"), int(rng.integers(50, 96)))[dy:, dx:]
    return lr


def to_y(lr: np.ndarray) -> np.ndarray:
    """uint8 LR RGB/grey -> float64 Y in [0, 1], unrounded, as the core's pipeline takes it."""
    if lr.ndim == 2:
        return lr.astype(np.float64) / 255.0
    return rgb2y(lr.astype(np.float64) / 255.0)


class DegradeBank:
    """uint8 RGB training images; ``batch`` degrades patches on the fly (``PairBank``'s interface).

    ``hr_scales``: extra copies shrunk by MATLAB bicubic (uint8), as ``PairBank`` has them.
    """

    def __init__(self, folders: list[str], scales: list[int], min_size: int, hr_scales=(1.0,),
                 exclude=(), mix: Mix = Mix()):
        held = {os.path.realpath(p) for p in exclude}
        paths = [p for f in folders for p in list_images(f) if os.path.realpath(p) not in held]
        if not paths:
            raise ValueError(f"no training images in {folders}")
        imgs = [load_uint8(p) for p in paths]
        imgs = [im if f == 1.0 else imresize(im, f) for f in hr_scales for im in imgs]
        self.images = [im for im in imgs if min(im.shape[:2]) >= min_size]
        self.scales = list(scales)
        self.n_images = len(paths)
        self.hr_scales = tuple(hr_scales)
        self.mix = mix
        self.colour = "y"
        self.stride = None
        self.pairs = {s: [(im, None) for im in self.images] for s in self.scales}  # for sizes only

    def batch(self, rng: np.random.Generator, scale: int, batch: int, patch: int, shrink: int,
              augment: bool = True):
        """(x, y): x (B, 1, patch, patch) bicubic Y of a degraded LR, y (B, 1, patch-2r, patch-2r)."""
        if patch % scale:
            raise ValueError(f"--patch {patch} must be a multiple of the scale {scale} with --degrade")
        m = 4 * scale  # margin: bicubic (2 LR px), Lanczos (3) and the blur never reach the patch
        side = patch + 2 * m
        o = patch - 2 * shrink
        areas = np.array([im.shape[0] * im.shape[1] for im in self.images], dtype=np.float64)
        idx = rng.choice(len(self.images), size=batch, p=areas / areas.sum())
        xs = np.empty((batch, 1, patch, patch), np.float32)
        ys = np.empty((batch, 1, o, o), np.float32)
        lrs = []
        for b in range(batch):
            im = self.images[idx[b]]
            r0 = rng.integers(0, im.shape[0] - side + 1) if im.shape[0] >= side else 0
            c0 = rng.integers(0, im.shape[1] - side + 1) if im.shape[1] >= side else 0
            crop = im[r0:r0 + side, c0:c0 + side]
            if crop.shape[0] < side or crop.shape[1] < side:  # small image: mirror up to size
                w = ((0, side - crop.shape[0]), (0, side - crop.shape[1])) + ((0, 0),) * (crop.ndim - 2)
                crop = np.pad(crop, w, mode="symmetric")
            if augment:
                crop = np.rot90(crop, rng.integers(0, 4))
                if rng.integers(0, 2):
                    crop = crop[:, ::-1]
            crop = np.ascontiguousarray(crop)
            lrs.append(to_y(degrade_patch(crop, scale, rng, self.mix)))
            ys[b, 0] = (rgb2y(crop).astype(np.float32) / 255.0)[m + shrink:m + shrink + o, m + shrink:m + shrink + o]
        up = imresize(np.stack(lrs, axis=2), scale)  # all patches at once: (side, side, B)
        xs[:, 0] = np.moveaxis(up[m:m + patch, m:m + patch], 2, 0)
        return xs, ys


def val_samples(paths, scale: int, specs=VAL_SPECS):
    """{spec: [(HR Y uint8, bicubic Y input float64)]} of the validation images, seeded per image."""
    from srcnn.degrade import apply
    from srcnn.protocol import modcrop
    out = {}
    for spec in specs:
        rows = []
        for i, p in enumerate(paths):
            img = modcrop(load_uint8(p), scale)
            lr = apply(spec, img, scale, seed=i)
            rows.append((rgb2y(img), imresize(to_y(lr), scale)))
        out[spec] = rows
    return out
