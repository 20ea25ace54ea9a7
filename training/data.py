"""Training pairs made with the core's own colour conversion and MATLAB-compatible bicubic.

Each image gives (ground-truth Y, bicubic-upsampled Y) at every training scale, exactly the
degradation ``srcnn-cli eval`` uses. Patches are cut at random with flips and 90-degree
rotations, from a generator seeded by (seed, step, rank), so any step can be replayed.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from srcnn.protocol import degrade, list_images, load_uint8, modcrop
from srcnn.colour import rgb2y


def default_dataset_root() -> str:
    return os.environ.get("SRCNN_DATASETS", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "datasets"))


class PairBank:
    """In-memory (HR, bicubic) float32 Y pairs per scale for a list of image folders."""

    def __init__(self, folders: list[str], scales: list[int], min_size: int):
        self.scales = list(scales)
        paths = [p for f in folders for p in list_images(f)]
        if not paths:
            raise ValueError(f"no training images in {folders}")
        self.pairs: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        ys = [rgb2y(load_uint8(p)) for p in paths]
        for s in self.scales:
            def make(y):
                y = modcrop(y, s)
                hr = y.astype(np.float64) / 255.0
                return hr.astype(np.float32), degrade(hr, s).astype(np.float32)
            with ThreadPoolExecutor(2) as ex:
                pairs = list(ex.map(make, ys))
            self.pairs[s] = [p for p in pairs if min(p[0].shape) >= min_size]
        self.n_images = len(paths)

    def batch(self, rng: np.random.Generator, scale: int, batch: int, patch: int, shrink: int):
        """(x, y): x (B, 1, patch, patch) bicubic input, y (B, 1, patch-2r, patch-2r) target."""
        pairs = self.pairs[scale]
        # Pick images in proportion to their area, so every pixel is equally likely.
        areas = np.array([p[0].size for p in pairs], dtype=np.float64)
        idx = rng.choice(len(pairs), size=batch, p=areas / areas.sum())
        xs = np.empty((batch, 1, patch, patch), np.float32)
        o = patch - 2 * shrink
        ys = np.empty((batch, 1, o, o), np.float32)
        for b, i in enumerate(idx):
            hr, lr = pairs[i]
            r0 = rng.integers(0, hr.shape[0] - patch + 1)
            c0 = rng.integers(0, hr.shape[1] - patch + 1)
            xp = lr[r0:r0 + patch, c0:c0 + patch]
            yp = hr[r0 + shrink:r0 + shrink + o, c0 + shrink:c0 + shrink + o]
            k, flip = rng.integers(0, 4), rng.integers(0, 2)
            xp, yp = np.rot90(xp, k), np.rot90(yp, k)
            if flip:
                xp, yp = xp[:, ::-1], yp[:, ::-1]
            xs[b, 0], ys[b, 0] = xp, yp
        return xs, ys
