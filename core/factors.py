"""How the trained factors reach any factor a user asks for (``srcnn.upscale(img, 2.5)``, x8, ...).

An SRCNN model is trained for one factor; run on a bicubic image of another factor it
over-sharpens (below that factor) or does nearly nothing (above it). A ``Plan`` instead runs
trained models only at their own factors, one after the other, and reaches the asked factor
with one last MATLAB-bicubic resample of the last model's output:

- a trained factor: that model alone;
- any other: the smallest trained factor first (x2), then, while that does not reach s, the
  smallest trained factor that reaches what is left, then the antialiased bicubic down to s
  (x1.5 = x2, then x0.75; x2.5 = x2 then x2, then x0.625; x5 = x2 then x3, then x0.833;
  x8 = x2 then x4). ``plan_for`` says what was measured to choose this.

``bench/factors.py`` measured this against the alternatives on Set5 and Set14 (docs/factors.md).
The resample is computed per output tile from the region of the last model's output it
reads (``resample_rows``), so plans tile exactly like a single model does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .resize import contributions, output_size

__all__ = ["Plan", "plan_for", "resample_axis", "MAX_CHAIN"]

MAX_CHAIN = 3  # at most this many models in a row (x2 x2 x2 = 8 already; 16 needs x4 x4)


@dataclass(frozen=True)
class Plan:
    """``stages``: trained factors applied in order; then bicubic by ``scale / prod(stages)``."""
    scale: float
    stages: tuple[int, ...]

    @property
    def product(self) -> int:
        return math.prod(self.stages)

    @property
    def resample(self) -> float:
        """The last bicubic factor (1.0: none; < 1 down, antialiased; > 1 up)."""
        return 1.0 if self.scale == self.product else self.scale / self.product

    @property
    def direct(self) -> bool:
        return len(self.stages) == 1 and self.resample == 1.0

    def describe(self) -> str:
        s = " then ".join(f"x{k}" for k in self.stages)
        if self.resample != 1.0:
            s += f", bicubic x{self.resample:.4g}"
        return s


def plan_for(scale: float, available) -> Plan:
    """The plan for ``scale`` (>= 1) with models trained for the integer factors ``available``.

    A trained factor runs its own model. Any other starts with the smallest trained factor f
    (x2 for the shipped 9-5-5: the strongest model of the three, +0.20 dB over the paper on Set5
    where x3 and x4 are +0.10 and +0.04) and, if f < s, goes on with the plan for s / f, ending with
    the smallest trained factor at or above what is left; then bicubic to the exact factor.
    So x1.5 = x2; x2.5 and x3.5 = x2 then x2; x4.5 to x6 = x2 then x3; x7 and x8 = x2 then x4.
    Measured on the validation split (``bench/factors.py --sets training/splits/val20.txt``):
    x2 then x2 beats the single x3 model at x2.5 (27.39 against 27.34 dB) and the x4 model at
    x3.5 (25.39 / 25.34), x2 then x3 beats x3 then x2, x4 then x2 and x2 x2 x2 at x4.5 and x5.
    With the x3 / x4 models of stage 6 (x3_955z, x4_955z): x2.5 29.402 against 29.383 (x3), x3.5
    27.419 against 27.377 (x4), where x2 then x3 gives 27.429 (0.01 dB; not switched). With
    those of stage 7 (x3_955zf, x4_955zh): x2.5 29.402 against 29.399 (x3); x3.5 27.419 against
    27.392 (x4), 27.428 (x2 then x3) and 27.437 (x3 then x2: +0.018 dB, the one plan that beats
    the rule, kept out for the rule's sake; Set5 x2.5 is then 0.05 dB below x3). With x4_955ma:
    x5 25.843 (x2 then x3) against 25.822 (x4, then bicubic up), 25.848 (x3 then x2), 25.850
    (x3 then x3); on Set5 x4 then bicubic is 0.045 dB ahead.
    """
    avail = sorted({int(k) for k in available if int(k) >= 2})
    if not avail:
        raise ValueError("no trained factor >= 2 to build a plan from")
    scale = float(scale)
    if scale in avail:
        return Plan(scale, (int(scale),))
    stages: list[int] = []
    left = scale
    while True:
        above = [k for k in avail if k + 1e-9 >= left]
        if stages and above or left <= avail[0] + 1e-9:
            stages.append(above[0])
            break
        if len(stages) == MAX_CHAIN - 1:  # out of stages: the largest factor, then bicubic up
            stages.append(avail[-1])
            break
        stages.append(avail[0])
        left /= avail[0]
    return Plan(scale, tuple(stages))


def resample_axis(n_in: int, n_out: int, factor: float, t0: int, t1: int):
    """Weights for output rows t0..t1-1 of a MATLAB-bicubic resample of an axis of ``n_in``.

    Returns (lo, hi, w, idx): the outputs read input rows lo..hi-1; ``w`` (t1-t0, taps) and
    ``idx`` (t1-t0, taps), ``idx`` relative to lo. Same table as ``srcnn.resize.imresize``
    (antialiased when shrinking), so a tile of the result equals that slice of the whole.
    """
    w, idx = contributions(n_in, n_out, float(factor), True)
    w, idx = w[t0:t1], idx[t0:t1]
    lo, hi = int(idx.min()), int(idx.max()) + 1
    return lo, hi, w, idx - lo


def apply_resample(x: np.ndarray, ry, rx) -> np.ndarray:
    """Rows then columns (imresize's order for equal factors) of a float region ``x``.

    ``ry``/``rx``: ``resample_axis`` results whose lo..hi span is what ``x`` holds.
    """
    _, _, wr, ir = ry
    _, _, wc, ic = rx
    dt = x.dtype
    extra = (1,) * (x.ndim - 2)
    tmp = np.zeros((wr.shape[0],) + x.shape[1:], dtype=dt)
    for t in range(wr.shape[1]):
        tmp += wr[:, t].astype(dt).reshape((-1, 1) + extra) * x[ir[:, t]]
    out = np.zeros((wr.shape[0], wc.shape[0]) + x.shape[2:], dtype=dt)
    for t in range(wc.shape[1]):
        out += wc[:, t].astype(dt).reshape((1, -1) + extra) * tmp[:, ic[:, t]]
    return out


def stage_sizes(h: int, w: int, plan: Plan) -> list[tuple[int, int]]:
    """(h, w) after each model of the plan."""
    sizes = []
    for k in plan.stages:
        h, w = output_size(h, k), output_size(w, k)
        sizes.append((h, w))
    return sizes
