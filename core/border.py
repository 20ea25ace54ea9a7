"""Borders and tiling for the CNN.

The network's convolutions are 'valid'; the core gives it replicate-padded borders (the
receptive-field radius r on every side, as ``np.pad(..., mode='edge')``), so output size
equals input size. A tiler cuts the output into tiles; each tile's input is its own region
plus a halo of r pixels, taken from the (virtually) padded image, so tiled output equals
whole-image output while only one tile is in memory at a time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

__all__ = ["Tile", "tiles", "halo_index", "pad_replicate"]


@dataclass(frozen=True)
class Tile:
    """Output rows [r0, r1) and columns [c0, c1)."""
    r0: int
    r1: int
    c0: int
    c1: int


def tiles(height: int, width: int, tile: int) -> Iterator[Tile]:
    """Cover an (height, width) output with tiles of at most ``tile`` x ``tile`` pixels.

    Tiles are of near-equal size (no sliver at the end).
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"empty image {height}x{width}")
    if tile < 1:
        raise ValueError(f"tile size must be >= 1, got {tile}")

    def cuts(n):
        k = -(-n // tile)
        return [round(i * n / k) for i in range(k + 1)]

    rc, cc = cuts(height), cuts(width)
    for i in range(len(rc) - 1):
        for j in range(len(cc) - 1):
            yield Tile(rc[i], rc[i + 1], cc[j], cc[j + 1])


def halo_index(start: int, stop: int, halo: int, length: int) -> np.ndarray:
    """Indices start-halo .. stop+halo-1 clamped to [0, length): replicate border as an index."""
    return np.clip(np.arange(start - halo, stop + halo), 0, length - 1)


def pad_replicate(img: np.ndarray, r: int) -> np.ndarray:
    """Pad an (H, W[, C]) image by r pixels on every side, repeating the edge pixels."""
    pad = ((r, r), (r, r)) + ((0, 0),) * (img.ndim - 2)
    return np.pad(img, pad, mode="edge")
