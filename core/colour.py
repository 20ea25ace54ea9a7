"""RGB <-> YCbCr exactly as MATLAB's ``rgb2ycbcr`` / ``ycbcr2rgb`` (ITU-R BT.601, studio range).

For uint8, Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 with R, G, B in 0..255, rounded
(FACTS section 1.1). uint16 uses the same formula scaled by 257 (MATLAB's convention); float
images are in [0, 1] and give Y in [16/255, 235/255].
"""
from __future__ import annotations

import numpy as np

__all__ = ["rgb2ycbcr", "ycbcr2rgb", "rgb2y", "to_float", "from_float"]

# Rows: Y, Cb, Cr; coefficients for RGB in [0, 1] giving values in 0..255 units.
_T = np.array([[65.481, 128.553, 24.966],
               [-37.797, -74.203, 112.0],
               [112.0, -93.786, -18.214]])
_OFFSET = np.array([16.0, 128.0, 128.0])
_T_INV = np.linalg.inv(_T)

_MAX = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def to_float(img: np.ndarray) -> np.ndarray:
    """uint8 / uint16 -> float64 in [0, 1]; float images are returned as float64 unchanged."""
    dt = np.dtype(img.dtype)
    if dt in _MAX:
        return img.astype(np.float64) / _MAX[dt]
    if np.issubdtype(dt, np.floating):
        return img.astype(np.float64, copy=False)
    raise ValueError(f"unsupported image dtype {dt}; use uint8, uint16 or float")


def from_float(x: np.ndarray, dtype) -> np.ndarray:
    """float in [0, 1] -> dtype; integers round half away from zero and saturate like MATLAB."""
    dt = np.dtype(dtype)
    if dt in _MAX:
        return np.clip(np.floor(x * _MAX[dt] + 0.5), 0, _MAX[dt]).astype(dt)
    return x.astype(dt, copy=False)


def _check_rgb(img: np.ndarray) -> None:
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {img.shape}")


def rgb2ycbcr(img: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3) -> YCbCr (H, W, 3), same dtype, like MATLAB's ``rgb2ycbcr``.

    uint8 / uint16 results are rounded; float input/output is in [0, 1].
    """
    _check_rgb(img)
    x = to_float(img)
    ycc = (x @ _T.T + _OFFSET) / 255.0
    return from_float(ycc, img.dtype)


def rgb2y(img: np.ndarray) -> np.ndarray:
    """Luma of the protocol: (H, W, 3) RGB -> (H, W) Y, same dtype; (H, W) passes through."""
    if img.ndim == 2:
        return img
    _check_rgb(img)
    x = to_float(img)
    y = (x @ _T[0] + _OFFSET[0]) / 255.0
    return from_float(y, img.dtype)


def ycbcr2rgb(img: np.ndarray) -> np.ndarray:
    """YCbCr (H, W, 3) -> RGB (H, W, 3), same dtype, like MATLAB's ``ycbcr2rgb``.

    Float input is YCbCr in [0, 1] units (Y nominally 16/255..235/255); float output is not
    clipped, integer output is rounded and saturated.
    """
    _check_rgb(img)
    x = to_float(img) * 255.0
    rgb = (x - _OFFSET) @ _T_INV.T
    return from_float(rgb, img.dtype)
