"""``upscale``: the whole SRCNN pipeline on a numpy image.

RGB -> YCbCr (MATLAB BT.601) -> bicubic pre-upsampling (MATLAB imresize) -> CNN on Y with
replicate borders, tile by tile -> bicubic Cb/Cr -> RGB. Alpha is upscaled bicubically and
kept; the dtype is kept. Every stage is computed one output tile at a time (each tile's
bicubic input is made from the low-resolution image directly), so memory stays bounded by
the input, the output and one tile, and the result does not depend on the tile size.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .border import halo_index, tiles
from .colour import _OFFSET, _T, _T_INV, _MAX
from .resize import output_size, resize_region
from .runtime import Model, ModelError, load_model, resolve_model

__all__ = ["upscale", "DEFAULT_TILE", "MAX_OUTPUT_PIXELS", "check_size"]

DEFAULT_TILE = 512
MAX_OUTPUT_PIXELS = 400_000_000  # 400 MP; the CLI's --max-pixels can raise it


def check_size(h: int, w: int, scale: float, max_pixels: int = MAX_OUTPUT_PIXELS) -> tuple[int, int]:
    """Output size for an (h, w) input, or ValueError for a bad scale or an absurd size."""
    if not (isinstance(scale, (int, float)) and math.isfinite(scale)) or scale < 1:
        raise ValueError(f"scale must be a number >= 1, got {scale}")
    oh, ow = output_size(h, scale), output_size(w, scale)
    if oh * ow > max_pixels:
        raise ValueError(f"output would be {ow}x{oh} = {oh * ow / 1e6:.0f} MP, over the limit of "
                         f"{max_pixels / 1e6:.0f} MP")
    return oh, ow


def _check_image(image: np.ndarray) -> None:
    """ValueError unless ``image`` is a layout and dtype ``upscale`` takes (floats: finite)."""
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 2, 3, 4)):
        raise ValueError(f"expected an (H, W) or (H, W, C) image with C in 1..4, got shape {image.shape}")
    dt = np.dtype(image.dtype)
    if dt not in _MAX and not np.issubdtype(dt, np.floating):
        raise ValueError(f"unsupported image dtype {dt}; use uint8, uint16 or float")
    if np.issubdtype(dt, np.floating) and not np.isfinite(image).all():
        raise ValueError("image contains NaN or infinite values")


def _split(image: np.ndarray):
    """-> (float colour planes (H, W, C) in [0, 1], alpha plane or None, is_grey)."""
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected an (H, W) or (H, W, C) image with C in 1..4, got shape {image.shape}")
    dt = np.dtype(image.dtype)
    if dt in _MAX:
        x = image.astype(np.float32) / np.float32(_MAX[dt])
    elif np.issubdtype(dt, np.floating):
        x = image.astype(np.float32)
        if not np.isfinite(x).all():
            raise ValueError("image contains NaN or infinite values")
    else:
        raise ValueError(f"unsupported image dtype {dt}; use uint8, uint16 or float")
    c = image.shape[2]
    colour = x[:, :, :3] if c >= 3 else x[:, :, :1]
    alpha = x[:, :, c - 1] if c in (2, 4) else None
    return colour, alpha, c < 3


def upscale(image: np.ndarray, scale: float = 3, *, model: str | Model | None = None,
            engine: str = "onnxruntime", tile: int = DEFAULT_TILE, threads: int | None = None,
            progress: Callable[[int, int], None] | None = None,
            max_pixels: int = MAX_OUTPUT_PIXELS, fast=True, int8: bool = False) -> np.ndarray:
    """Upscale an image with SRCNN.

    Args:
        image: (H, W) grey, (H, W, 2) grey+alpha, (H, W, 3) RGB or (H, W, 4) RGBA; uint8,
            uint16, or float in [0, 1]. sRGB-like values; Y/Cb/Cr use MATLAB's BT.601 studio range.
        scale: factor >= 1; output is ceil(H*scale) x ceil(W*scale). Non-integer factors use the
            nearest trained model on the bicubic pre-upsampled image.
        model: '9-5-5' (default), '9-1-5', a path to a weight file, or a loaded ``Model``.
        engine: 'onnxruntime' or 'opencv' (cv2.dnn).
        tile: output tile side in pixels (memory vs. speed; the result does not depend on it).
        progress: called as progress(done_tiles, total_tiles).
        fast: True (the default, or a ``srcnn.fast.FastModel``) runs each tile as one
            onnxruntime graph (``srcnn.fast``, about 2x faster): the same result up to float
            rounding (integer output within one level, see tests/test_fast.py). Integer scales
            with engine 'onnxruntime' only; anything else quietly takes the reference path.
            False: the reference path, stage by stage (what the protocol tests pin down).
        int8: on the fast path, the middle layer in int8 (``srcnn.quant``): about 1.7x faster
            for 9-5-5, Set5/Set14 PSNR within 0.02 dB (the manifest's ``int8.metrics``). Only
            weight files with an accepted calibration (``ModelError`` otherwise); where the fast
            path does not apply, the reference path runs in float32.

    Returns:
        The upscaled image, same layout and dtype (float output is not clipped).
    """
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(image).__name__}")
    if isinstance(model, Model):
        engine = model.engine
    if fast and engine == "onnxruntime" and image.ndim in (2, 3):
        check_size(image.shape[0], image.shape[1], scale, max_pixels)  # also validates scale
    if fast and engine == "onnxruntime" and image.ndim in (2, 3) and float(scale).is_integer():
        from . import fast as _fast

        _check_image(image)
        fm = fast if isinstance(fast, _fast.FastModel) else _fast.load_fast_model(
            model.info if isinstance(model, Model) else resolve_model(model, scale), threads, int8=int8)
        if fm is not None:
            return _fast.upscale_fast(image, int(scale), fm, tile=tile, progress=progress)
    colour, alpha, grey = _split(image)
    h, w = colour.shape[:2]
    oh, ow = check_size(h, w, scale, max_pixels)
    net = model if isinstance(model, Model) else load_model(resolve_model(model, scale), engine, threads)
    r = net.radius
    scale = float(scale)

    if grey:
        y_lr = colour[:, :, 0]
        chroma = None
    else:
        # float YCbCr in [0, 1] units, no rounding (the pipeline keeps full precision).
        ycc = (colour @ (_T.T / 255.0).astype(np.float32) + (_OFFSET / 255.0).astype(np.float32))
        y_lr = np.ascontiguousarray(ycc[:, :, 0])
        chroma = np.ascontiguousarray(ycc[:, :, 1:])
    out = np.empty((oh, ow) + image.shape[2:], dtype=image.dtype)
    t_inv = (_T_INV * 255.0).astype(np.float32)
    off = (_OFFSET / 255.0).astype(np.float32)
    dt = np.dtype(image.dtype)
    all_tiles = list(tiles(oh, ow, tile))
    for k, t in enumerate(all_tiles):
        rows, cols = np.arange(t.r0, t.r1), np.arange(t.c0, t.c1)
        y_in = resize_region(y_lr, scale, halo_index(t.r0, t.r1, r, oh), halo_index(t.c0, t.c1, r, ow))
        y = net.run(y_in)
        if grey:
            planes = y[:, :, None]
        else:
            cc = resize_region(chroma, scale, rows, cols)
            ycc_t = np.concatenate([y[:, :, None], cc], axis=2) - off
            planes = ycc_t @ t_inv.T
        if alpha is not None:
            a = resize_region(alpha, scale, rows, cols)
            planes = np.concatenate([planes, a[:, :, None]], axis=2)
        if image.ndim == 2:
            planes = planes[:, :, 0]
        if dt in _MAX:
            m = np.float32(_MAX[dt])
            planes = np.clip(np.floor(planes * m + np.float32(0.5)), 0, m).astype(dt)
        else:
            planes = planes.astype(dt)
        out[t.r0:t.r1, t.c0:t.c1] = planes
        if progress:
            progress(k + 1, len(all_tiles))
    return out
