"""Training pairs made with the core's own colour conversion and MATLAB-compatible bicubic.

Each image gives (ground truth, bicubic-upsampled input) at every training scale, exactly the
degradation ``srcnn-cli eval`` uses: Y of MATLAB ``rgb2ycbcr`` (the default), or all three
channels in YCbCr or RGB (the colour strategies of the paper's Table 5). Patches are cut at
random (or from the paper's fixed grid of sub-images) with flips and 90-degree rotations, from
a generator seeded by (seed, step, rank), so any step can be replayed.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from srcnn.colour import rgb2y, rgb2ycbcr
from srcnn.protocol import degrade, list_images, load_uint8, modcrop

COLOURS = ("y", "ycbcr", "rgb")


def default_dataset_root() -> str:
    return os.environ.get("SRCNN_DATASETS", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "datasets"))


def to_colour(img: np.ndarray, colour: str) -> np.ndarray:
    """uint8 RGB/grey -> float64 (H, W) Y or (H, W, 3) YCbCr / RGB in [0, 1]."""
    if colour == "y":
        return rgb2y(img).astype(np.float64) / 255.0
    if img.ndim == 2:
        img = np.dstack([img] * 3)
    x = rgb2ycbcr(img) if colour == "ycbcr" else img
    return x.astype(np.float64) / 255.0


class PairBank:
    """In-memory (HR, bicubic) float32 pairs per scale for a list of image folders.

    Arrays are (H, W) for Y and (H, W, 3) otherwise. With ``stride`` set, patches come from the
    fixed grid of sub-images the paper uses (33x33, stride 14) instead of random positions.
    """

    def __init__(self, folders: list[str], scales: list[int], min_size: int, colour: str = "y",
                 stride: int | None = None):
        if colour not in COLOURS:
            raise ValueError(f"colour must be one of {COLOURS}")
        self.scales = list(scales)
        self.colour = colour
        self.stride = stride
        paths = [p for f in folders for p in list_images(f)]
        if not paths:
            raise ValueError(f"no training images in {folders}")
        self.pairs: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        imgs = [load_uint8(p) for p in paths]
        ys = [rgb2y(im) for im in imgs] if colour == "y" else imgs
        for s in self.scales:
            def make(im):
                im = modcrop(im, s)
                hr = im.astype(np.float64) / 255.0 if colour == "y" else to_colour(im, colour)
                return hr.astype(np.float32), degrade(hr, s).astype(np.float32)
            with ThreadPoolExecutor(2) as ex:
                pairs = list(ex.map(make, ys))
            self.pairs[s] = [p for p in pairs if min(p[0].shape[:2]) >= min_size]
        self.n_images = len(paths)
        self._grid: dict[tuple[int, int], np.ndarray] = {}

    def grid(self, scale: int, patch: int) -> np.ndarray:
        """(n, 3) array of (image, row, col) of every sub-image on the stride grid."""
        key = (scale, patch)
        if key not in self._grid:
            pos = [(i, r, c) for i, (hr, _) in enumerate(self.pairs[scale])
                   for r in range(0, hr.shape[0] - patch + 1, self.stride)
                   for c in range(0, hr.shape[1] - patch + 1, self.stride)]
            self._grid[key] = np.array(pos, dtype=np.int64)
        return self._grid[key]

    def batch(self, rng: np.random.Generator, scale: int, batch: int, patch: int, shrink: int,
              augment: bool = True):
        """(x, y): x (B, C, patch, patch) bicubic input, y (B, C, patch-2r, patch-2r) target."""
        pairs = self.pairs[scale]
        c = 1 if self.colour == "y" else 3
        o = patch - 2 * shrink
        xs = np.empty((batch, c, patch, patch), np.float32)
        ys = np.empty((batch, c, o, o), np.float32)
        if self.stride:
            picks = self.grid(scale, patch)[rng.integers(0, len(self.grid(scale, patch)), size=batch)]
        else:
            # Pick images in proportion to their area, so every pixel is equally likely.
            areas = np.array([p[0].shape[0] * p[0].shape[1] for p in pairs], dtype=np.float64)
            idx = rng.choice(len(pairs), size=batch, p=areas / areas.sum())
            picks = None
        for b in range(batch):
            if picks is None:
                hr, lr = pairs[idx[b]]
                r0 = rng.integers(0, hr.shape[0] - patch + 1)
                c0 = rng.integers(0, hr.shape[1] - patch + 1)
            else:
                i, r0, c0 = picks[b]
                hr, lr = pairs[i]
            xp = lr[r0:r0 + patch, c0:c0 + patch]
            yp = hr[r0 + shrink:r0 + shrink + o, c0 + shrink:c0 + shrink + o]
            if augment:
                k, flip = rng.integers(0, 4), rng.integers(0, 2)
                xp, yp = np.rot90(xp, k), np.rot90(yp, k)
                if flip:
                    xp, yp = xp[:, ::-1], yp[:, ::-1]
            if c == 1:
                xs[b, 0], ys[b, 0] = xp, yp
            else:
                xs[b], ys[b] = np.moveaxis(xp, 2, 0), np.moveaxis(yp, 2, 0)
        return xs, ys
