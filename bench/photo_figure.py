#!/usr/bin/env python3
"""The real-photo figure: a crop of a JPEG q75 input, enlarged by bicubic, 9-5-5 and photo.

    python bench/photo_figure.py                       # docs/figures/photo_q75_x3.png
    python bench/photo_figure.py --image ../shared/datasets/Set14/zebra.bmp --degrade jpeg:50 --scale 2

The LR image is made as `srcnn-cli eval --degrade` makes it (srcnn.degrade: MATLAB bicubic down,
then a Pillow JPEG save and load); each panel is the same crop of the whole upscaled picture,
shown at 2x (nearest), with the whole picture's Y PSNR against the original in its label.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from srcnn.colour import rgb2y
from srcnn.degrade import apply
from srcnn.metrics import psnr
from srcnn.pipeline import upscale
from srcnn.protocol import load_uint8, modcrop, shave_for
from srcnn.resize import imresize


def main(argv=None) -> int:
    root = os.environ.get("SRCNN_DATASETS", "../shared/datasets")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", default=f"{root}/Set14/zebra.bmp")
    p.add_argument("--scale", type=int, default=3)
    p.add_argument("--degrade", default="jpeg:75")
    p.add_argument("--crop", type=int, default=120, help="crop side in output pixels")
    p.add_argument("--at", default=None, help="crop's top-left 'row,col' (default: the centre)")
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    s = a.scale
    hr = modcrop(load_uint8(a.image), s)
    if hr.ndim == 2:
        hr = np.dstack([hr] * 3)
    lr = apply(a.degrade, hr, s)
    outs = {"bicubic": np.clip(np.floor(imresize(lr.astype(np.float64), s) + 0.5), 0, 255).astype(np.uint8),
            "9-5-5": upscale(lr, s, model="9-5-5"), "photo": upscale(lr, s, model="photo")}
    b = shave_for(s)
    scores = {k: psnr(rgb2y(hr).astype(float), rgb2y(v).astype(float), border=b) for k, v in outs.items()}
    c = a.crop
    r0, c0 = (int(v) for v in a.at.split(",")) if a.at else ((hr.shape[0] - c) // 2, (hr.shape[1] - c) // 2)
    lr_near = np.repeat(np.repeat(lr, s, 0), s, 1)
    panels = [(f"input: {a.degrade}, x1/{s}", lr_near)] + \
             [(f"{k} {scores[k]:.2f} dB", v) for k, v in outs.items()] + [("original", hr)]
    z, pad, top = 2, 8, 22
    w = len(panels) * (c * z + pad) + pad
    fig = Image.new("RGB", (w, c * z + top + pad), (255, 255, 255))
    d = ImageDraw.Draw(fig)
    try:
        font = ImageFont.load_default(size=14)
    except TypeError:
        font = ImageFont.load_default()
    for i, (label, img) in enumerate(panels):
        x = pad + i * (c * z + pad)
        crop = Image.fromarray(img[r0:r0 + c, c0:c0 + c]).resize((c * z, c * z), Image.Resampling.NEAREST)
        fig.paste(crop, (x, top))
        d.text((x, 3), label, fill=(0, 0, 0), font=font)
    out = Path(a.out or f"docs/figures/photo_{a.degrade.replace(':', '').replace(',', '_')}_x{s}.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.save(out, optimize=True)
    print(f"{out}: {Path(a.image).name} x{s} {a.degrade}: " + ", ".join(f"{k} {v:.2f} dB" for k, v in scores.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
