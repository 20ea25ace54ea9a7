"""PSNR of ``cv2.dnn_superres`` (our .pb / ``_superres.onnx``) against the core pipeline, same LR images.

    python -m srcnn.opencv.parity [--datasets DIR] [--set Set5] [--models DIR] [--weights DIR]

LR images are made by the core's MATLAB-compatible downscale of the mod-cropped RGB image
(uint8, as MATLAB's ``imresize(HR, 1/s, 'bicubic')``); PSNR is on Y (MATLAB rgb2ycbcr) with
``s`` pixels shaved. Prints one row per scale; plugins/opencv_dnn/README.md's table comes from here.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

__all__ = ["psnr_pair"]


def psnr_pair(folder: str | Path, scale: int, models_dir: str | Path | None, weights: str,
              names: set[str] | None = None) -> dict[str, float]:
    """Mean PSNR (dB, Y) of dnn_superres (``create_superres``) and of ``srcnn.pipeline.upscale`` (``weights``)."""
    from srcnn.colour import from_float, rgb2y, to_float
    from srcnn.metrics import psnr
    from srcnn.pipeline import upscale
    from srcnn.protocol import list_images, load_uint8, modcrop
    from srcnn.resize import imresize

    from . import create_superres

    sr = create_superres(scale, models_dir)
    res: dict[str, list[float]] = {"dnn_superres": [], "core": [], "bicubic": []}
    for p in list_images(folder):
        if names and p.stem not in names:
            continue
        hr = load_uint8(p)
        if hr.ndim == 2:
            hr = np.repeat(hr[:, :, None], 3, axis=2)  # dnn_superres's colour path, as users call it
        hr = modcrop(hr, scale)
        lr = imresize(hr, 1.0 / scale)
        y_hr = rgb2y(hr)
        out = sr.upsample(np.ascontiguousarray(lr[:, :, ::-1]))[:, :, ::-1]
        res["dnn_superres"].append(psnr(y_hr, rgb2y(np.ascontiguousarray(out)), border=scale))
        res["core"].append(psnr(y_hr, rgb2y(upscale(lr, scale, model=weights)), border=scale))
        bic = from_float(imresize(to_float(lr), scale), np.uint8)  # float, no rounding between axes
        res["bicubic"].append(psnr(y_hr, rgb2y(bic), border=scale))
    if not res["core"]:
        raise ValueError(f"no images in {folder}")
    return {k: float(np.mean(v)) for k, v in res.items()}


def main(argv: list[str] | None = None) -> int:
    from srcnn.runtime import weights_dir

    from . import MODELS_DIR, available_scales
    from .build import select_models

    ap = argparse.ArgumentParser(prog="python -m srcnn.opencv.parity", description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=Path,
                    default=Path(os.environ.get("SRCNN_DATASETS", Path("..", "shared", "datasets"))))
    ap.add_argument("--set", default="Set5")
    ap.add_argument("--models", type=Path, default=MODELS_DIR)
    ap.add_argument("--weights", type=Path, default=None)
    args = ap.parse_args(argv)
    weights = select_models(args.weights or weights_dir())
    scales = [s for s in available_scales(args.models) if s in weights]
    if not scales:
        print(f"no scale has both built models in {args.models} and weights", file=sys.stderr)
        return 1
    print(f"{args.set}: PSNR on Y (dB), LR by MATLAB-compatible bicubic downscale")
    print(f"{'scale':>5}  {'bicubic':>8}  {'srcnn-cli':>9}  {'dnn_superres':>12}  {'difference':>10}")
    for s in scales:
        r = psnr_pair(args.datasets / args.set, s, args.models, str(weights[s].manifest_path))
        print(f"{'x%d' % s:>5}  {r['bicubic']:8.2f}  {r['core']:9.2f}  {r['dnn_superres']:12.2f}  "
              f"{r['dnn_superres'] - r['core']:+10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
