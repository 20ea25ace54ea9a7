"""Random SRCNN weight files at the shipped sizes, for benchmarking before weights ship.

The shipped models are residual SRCNNs exported as plain ones (n1 = 64 + 1, n2 = 32 + 1: one
channel per layer carries the input, ``srcnn.training.model.plain_weights``); these files have
the same structure and sizes, so they run at the same speed. Their PSNR means nothing.

    python bench/testweights.py OUTDIR      # srcnn_955_x{2,3,4}.onnx, srcnn_915_x3.onnx + .json
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

CARRY_BIAS = 1.0  # as in srcnn.training.model


def residual_as_plain(n1: int = 64, n2: int = 32, f=(9, 5, 5), seed: int = 0):
    """[(w, b)] * 3 of a random residual SRCNN rewritten as a plain one (n1 + 1, n2 + 1)."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 0.05, (n1, 1, f[0], f[0]))
    w2 = rng.normal(0, 0.3 / np.sqrt(n1 * f[1] ** 2), (n2, n1, f[1], f[1]))
    w3 = rng.normal(0, 0.3 / np.sqrt(n2 * f[2] ** 2), (1, n2, f[2], f[2]))
    b1, b2, b3 = rng.normal(0, 0.01, n1), rng.normal(0, 0.01, n2), rng.normal(0, 0.01, 1)

    def delta(k):
        d = np.zeros((k, k))
        d[k // 2, k // 2] = 1.0
        return d
    W1 = np.concatenate([w1, delta(f[0])[None, None]], 0)
    B1 = np.concatenate([b1, [CARRY_BIAS]])
    W2 = np.zeros((n2 + 1, n1 + 1, f[1], f[1]))
    W2[:n2, :n1] = w2
    W2[n2, n1] = delta(f[1])
    B2 = np.concatenate([b2, [0.0]])
    W3 = np.zeros((1, n2 + 1, f[2], f[2]))
    W3[:, :n2] = w3
    W3[0, n2] = delta(f[2])
    B3 = b3 - CARRY_BIAS
    return [(W1.astype(np.float32), B1.astype(np.float32)), (W2.astype(np.float32), B2.astype(np.float32)),
            (W3.astype(np.float32), B3.astype(np.float32))]


def write_all(folder: str | Path) -> Path:
    from srcnn.export import write_model  # needs the onnx package (test/train extra)

    folder = Path(folder)
    note = {"note": "random weights for benchmarking (bench/testweights.py); PSNR meaningless"}
    for s in (2, 3, 4):
        write_model(folder, f"srcnn_955_x{s}", residual_as_plain(seed=s), scale=s, variant="9-5-5", extra=note)
    write_model(folder, "srcnn_915_x3", residual_as_plain(f=(9, 1, 5), seed=9), scale=3, variant="9-1-5", extra=note)
    return folder


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    print(write_all(sys.argv[1]))
