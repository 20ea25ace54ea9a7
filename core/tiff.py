"""TIFF output through ``tifffile``: tiled, deflate, written as the rows come.

``write_tiff`` takes the image as full-width strips in order (any heights) and cuts them into
square tiles of ``TILE`` pixels, so a file of any size is written with about one row of tiles
in memory; the in-memory path hands it the whole array as one strip and writes the same bytes.
Larger than classic TIFF's 4 GiB offsets allow (by the uncompressed size, decided from the
shape alone): BigTIFF. 8 or 16 bits, grey, grey+alpha, RGB, RGBA (alpha unassociated), with
the ICC profile, the resolution and EXIF's main tags (the Exif and GPS sub-IFDs are not
carried: tifffile writes no sub-IFD of tags).
"""
from __future__ import annotations

import inspect
from typing import Iterable, Iterator

import numpy as np

__all__ = ["write_tiff", "TILE", "LEVEL"]

TILE = 256   # tile side (TIFF wants a multiple of 16); 192 KiB a tile for 8-bit RGB
LEVEL = 6    # zlib level of the tiles: Pillow's (libtiff's) default, as before tifffile
_SUB_IFDS = {0x8769, 0x8825, 0xA005}  # Exif, GPS and Interop pointers


def _exif_tags(exif: bytes | None) -> tuple[list, list[str]]:
    """tifffile ``extratags`` for the first IFD of Pillow's EXIF bytes, and notes."""
    if not exif:
        return [], []
    from PIL import Image, TiffImagePlugin

    ex = Image.Exif()
    ex.load(exif)
    tags, dropped = [], False
    for tag, v in sorted(ex.items()):
        if tag in _SUB_IFDS:
            dropped = True
        elif isinstance(v, str):
            tags.append((tag, "s", 0, v, True))
        elif isinstance(v, TiffImagePlugin.IFDRational):
            tags.append((tag, "2I", 1, (int(v.numerator), int(v.denominator)), True))
        elif isinstance(v, (int, np.integer)) and 0 <= v < 2**32:
            tags.append((tag, "H" if v < 2**16 else "I", 1, int(v), True))
        elif isinstance(v, bytes):
            tags.append((tag, "B", len(v), v, True))
    return tags, ["EXIF camera details (its Exif/GPS sub-IFDs) are not carried into TIFF"] if dropped else []


def _tiles(strips: Iterable[np.ndarray], height: int, width: int, shape_px: tuple) -> Iterator[np.ndarray]:
    """Row-major ``TILE`` x ``TILE`` tiles (edge tiles padded with zeros) of full-width strips."""
    pending, have, done = [], 0, 0
    it = iter(strips)
    while done < height:
        need = min(TILE, height - done)
        while have < need:
            s = next(it, None)
            if s is None:
                raise ValueError(f"TIFF strips ended after {done + have} of {height} rows")
            if s.shape[1:] != (width,) + shape_px:
                raise ValueError(f"a strip of shape {s.shape} does not fit a {width} wide TIFF")
            pending.append(s)
            have += s.shape[0]
        rows = pending[0] if len(pending) == 1 else np.concatenate(pending)
        band, rest = rows[:need], rows[need:]
        pending, have, done = ([rest] if len(rest) else []), len(rest), done + need
        for c in range(0, width, TILE):
            t = band[:, c:c + TILE]
            if t.shape[:2] != (TILE, TILE):  # tifffile would pad as well; older ones want full tiles
                t = np.pad(t, ((0, TILE - t.shape[0]), (0, TILE - t.shape[1])) + ((0, 0),) * len(shape_px))
            yield np.ascontiguousarray(t)
    if next(it, None) is not None:
        raise ValueError(f"more than the {height} rows of this TIFF")


def write_tiff(f, height: int, width: int, channels: int, dtype, strips: Iterable[np.ndarray], *,
               icc_profile: bytes | None = None, dpi: tuple | None = None, exif: bytes | None = None,
               threads: int | None = None) -> list[str]:
    """Write a TIFF to the binary file ``f`` (seekable) from full-width ``strips``; returns notes.

    ``strips``: (n, W) or (n, W, C) arrays of ``dtype`` (uint8 or uint16), top to bottom,
    ``height`` rows in all; C = ``channels`` (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA).
    """
    import tifffile

    dtype = np.dtype(dtype)
    if dtype not in (np.uint8, np.uint16) or channels not in (1, 2, 3, 4):
        raise ValueError(f"cannot write {channels} channels of {dtype} as TIFF")
    shape_px = () if channels == 1 else (channels,)
    extratags, notes = _exif_tags(exif)
    kw = dict(photometric="rgb" if channels >= 3 else "minisblack", compression="zlib",
              compressionargs={"level": LEVEL}, metadata=None, software=False, extratags=extratags)
    if channels in (2, 4):
        kw["extrasamples"] = ["unassalpha"]
    if channels > 1:
        kw["planarconfig"] = "contig"
    if icc_profile:  # tag 34675 (InterColorProfile) by hand: tifffile's own option is recent
        extratags.append((34675, "B", len(icc_profile), icc_profile, True))
    if dpi:
        kw["resolution"] = (float(dpi[0]), float(dpi[1]))
        kw["resolutionunit"] = "inch"
    if threads is None:
        from .runtime import usable_cores

        threads = usable_cores()
    tile_bytes = TILE * TILE * channels * dtype.itemsize
    bigtiff = height * width * channels * dtype.itemsize > 2**32 - 2**25
    with tifffile.TiffWriter(f, bigtiff=bigtiff) as tw:
        # Tiles are compressed on ``threads`` threads, a few each at a time (``buffersize``; by
        # default tifffile would gather 512 MiB of them). Versions before that option: one thread.
        if "buffersize" in inspect.signature(tw.write).parameters:
            kw.update(maxworkers=max(1, threads), buffersize=tile_bytes * 4 * max(1, threads))
        else:
            kw.update(maxworkers=1)
        tw.write(_tiles(strips, height, width, shape_px), shape=(height, width) + shape_px, dtype=dtype,
                 tile=(TILE, TILE), **kw)
    return notes
