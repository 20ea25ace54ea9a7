"""Geometric self-ensemble: the network on rotations / flips of its input, averaged.

A 'valid' convolution stack commutes with flips and transposes of its whole input region:
``T^-1(CNN(T(x)))`` is again an output aligned with ``CNN(x)`` pixel for pixel, only computed
by a differently oriented network. Averaging those over a set of the 8 symmetries of the
square (the dihedral group D4) before rounding is the self-ensemble of EDSR / FSRCNN-era SR
papers: more accurate, n times the CNN's cost. Only the CNN is ensembled (the bicubic input
and the chroma are the same for every symmetry, up to float rounding), so every tile sees
exactly what it would see untiled, and tiled output still equals whole-image output.

A symmetry is (transpose, flip rows, flip columns), applied in that order; its inverse undoes
the flips first, then the transpose. ``SETS[n]`` is the n-pass set (``bench/ensemble.py``
measured which 2 and 4 to take); ``--ensemble`` runs ``DEFAULT_PASSES``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["SETS", "DEFAULT_PASSES", "transforms", "forward", "inverse", "run_ensemble", "passes_of"]

Sym = tuple[bool, bool, bool]

ALL: tuple[Sym, ...] = tuple((t, fr, fc) for t in (False, True) for fr in (False, True) for fc in (False, True))
SETS: dict[int, tuple[Sym, ...]] = {
    1: ((False, False, False),),
    2: ((False, False, False), (False, True, True)),                     # identity, rotation by 180
    4: ((False, False, False), (False, True, True), (True, True, False), (True, False, True)),  # rotations
    8: ALL,
}
DEFAULT_PASSES = 8


def passes_of(ensemble) -> int:
    """``ensemble`` as given to ``srcnn.upscale``: False/None/0/1 -> 1, True -> the default."""
    if ensemble is True:
        return DEFAULT_PASSES
    n = int(ensemble or 1)
    if n not in SETS:
        raise ValueError(f"ensemble must be one of {sorted(SETS)} passes (or True), got {ensemble!r}")
    return n


def transforms(n: int) -> tuple[Sym, ...]:
    return SETS[n]


def forward(x: np.ndarray, s: Sym) -> np.ndarray:
    """Apply symmetry ``s`` to the last two axes of ``x``."""
    t, fr, fc = s
    if t:
        x = np.swapaxes(x, -1, -2)
    if fr:
        x = x[..., ::-1, :]
    if fc:
        x = x[..., :, ::-1]
    return x


def inverse(x: np.ndarray, s: Sym) -> np.ndarray:
    t, fr, fc = s
    if fc:
        x = x[..., :, ::-1]
    if fr:
        x = x[..., ::-1, :]
    if t:
        x = np.swapaxes(x, -1, -2)
    return x


def run_ensemble(run, x: np.ndarray, n: int) -> np.ndarray:
    """mean over the n-pass set of inverse(run(forward(x))); ``run`` maps (H, W) -> (H', W')."""
    if n == 1:
        return run(x)
    acc = None
    for s in SETS[n]:
        y = inverse(run(np.ascontiguousarray(forward(x, s))), s).astype(np.float32)
        acc = y.copy() if acc is None else acc + y
    return acc * np.float32(1.0 / n)
