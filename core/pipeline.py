"""``upscale``: the whole SRCNN pipeline on a numpy image.

RGB -> YCbCr (MATLAB BT.601) -> bicubic pre-upsampling (MATLAB imresize) -> CNN on Y with
replicate borders, tile by tile -> bicubic Cb/Cr -> RGB. Alpha is upscaled bicubically and
kept; the dtype is kept. Every stage is computed one output tile at a time (each tile's
bicubic input is made from the low-resolution image directly), so memory stays bounded by
the input, the output and one tile, and the result does not depend on the tile size.

A factor no model is trained for runs a ``srcnn.factors.Plan``: trained models at their own
factors one after the other (each stage tiled), then a MATLAB-bicubic resample to the asked
factor, computed per output tile from the region of the last model's output that it reads.
"""
from __future__ import annotations

import math
from typing import Callable, Iterator

import numpy as np

from .border import Tile, halo_index, tiles
from .colour import _OFFSET, _T, _T_INV, _MAX
from .ensemble import passes_of, run_ensemble
from .factors import Plan, apply_resample, plan_for, resample_axis, stage_sizes
from .resize import contributions, output_size, resize_region
from .runtime import Model, load_model, models_by_scale

__all__ = ["upscale", "upscale_tiles", "upscale_region", "plan_of", "target_scale", "DEFAULT_TILE", "MAX_OUTPUT_PIXELS", "check_size"]

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


def target_scale(h: int, w: int, width: int | None = None, height: int | None = None) -> float:
    """The factor that makes an (h, w) image ``width`` wide and/or ``height`` high.

    One side given: the other follows the aspect ratio. Both: the largest size that fits
    inside width x height, aspect ratio kept (as ImageMagick's ``-resize WxH``), so one side
    is exact and the other at most the one asked. ValueError for a size below the input's.
    """
    if width is None and height is None:
        raise ValueError("give a width, a height or both")
    cands = []
    for n, side, what in ((width, w, "width"), (height, h, "height")):
        if n is None:
            continue
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{what} must be a whole number of pixels >= 1, got {n}")
        if n < side:
            raise ValueError(f"{what} {n} is smaller than the image's ({side} px): SRCNN only enlarges")
        cands.append(n / side)
    return min(cands)


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


def plan_of(scale: float, model: str | Model | None = None, fast=True) -> Plan:
    """How ``upscale`` reaches ``scale`` with ``model`` (a variant's trained factors, or one file's)."""
    return plan_for(scale, _stage_models(model, fast))


def _stage_models(model, fast) -> dict[int, object]:
    """{trained factor: ModelInfo or Model} that a plan may use."""
    if isinstance(model, Model):
        return {model.info.scale: model}
    from . import fast as _fast  # lazy: the fast path's onnxruntime graphs are built on use

    if isinstance(fast, _fast.FastModel):
        return {fast.info.scale: fast.info}
    return models_by_scale(model)


def _prepare(image, scale, width, height, max_pixels, model, engine: str, fast, plan: Plan | None = None):
    """The checks and set-up ``upscale``, ``upscale_tiles`` and ``upscale_region`` share:
    -> (output height, width, engine, {factor: model}, plan)."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(image).__name__}")
    _check_image(image)
    if width is not None or height is not None:
        scale = target_scale(image.shape[0], image.shape[1], width, height)
    oh, ow = check_size(image.shape[0], image.shape[1], scale, max_pixels)  # also validates scale
    if isinstance(model, Model):
        engine = model.engine
    models = _stage_models(model, fast)
    p = plan or plan_for(scale, models)
    if abs(p.scale - scale) > 1e-9 or any(k not in models for k in p.stages):
        raise ValueError(f"plan {p.describe()} does not fit x{scale:g} with the factors {sorted(models)}")
    return oh, ow, engine, models, p


def upscale(image: np.ndarray, scale: float | None = 3, *, model: str | Model | None = None,
            engine: str = "onnxruntime", tile: int = DEFAULT_TILE, threads: int | None = None,
            progress: Callable[[int, int], None] | None = None,
            max_pixels: int = MAX_OUTPUT_PIXELS, fast=True, int8: bool = False,
            plan: Plan | None = None, width: int | None = None, height: int | None = None,
            ensemble: bool | int = False) -> np.ndarray:
    """Upscale an image with SRCNN.

    Args:
        image: (H, W) grey, (H, W, 2) grey+alpha, (H, W, 3) RGB or (H, W, 4) RGBA; uint8,
            uint16, or float in [0, 1]. sRGB-like values; Y/Cb/Cr use MATLAB's BT.601 studio range.
        scale: factor >= 1; output is ceil(H*scale) x ceil(W*scale). A factor with a trained
            model runs that model; any other runs a plan (``srcnn.factors``, ``plan_of(scale)``):
            e.g. x1.5 = the x2 model then bicubic down by 0.75, x2.5 = x2 then x2 then down,
            x6 = x2 then x3, x5 = x2 then x3 then down by 5/6. Alpha is bicubic at ``scale``.
        model: '9-5-5' (default), '9-1-5', '9-3-5', a path to a weight file, or a loaded
            ``Model`` (one file: plans use its factor only).
        engine: 'onnxruntime' or 'opencv' (cv2.dnn).
        tile: output tile side in pixels (memory vs. speed; the result does not depend on it).
        progress: called as progress(done, total), counting the tiles of every stage.
        fast: True (the default, or a ``srcnn.fast.FastModel``) runs each tile as one
            onnxruntime graph (``srcnn.fast``, about 2x faster): the same result up to float
            rounding (integer output within one level, see tests/test_fast.py). Engine
            'onnxruntime' only; anything else quietly takes the reference path.
            False: the reference path, stage by stage (what the protocol tests pin down).
        int8: on the fast path, the middle layer in int8 (``srcnn.quant``): about 1.7x faster
            for 9-5-5, Set5/Set14 PSNR within 0.02 dB (the manifest's ``int8.metrics``). Only
            weight files with an accepted calibration (``ModelError`` otherwise); where the fast
            path does not apply, the reference path runs in float32.
        plan: another ``srcnn.factors.Plan`` for ``scale`` than the default (comparisons).
        width, height: a target size instead of ``scale`` (``target_scale``: one side, the
            other by aspect ratio; both, the largest size that fits inside, aspect kept).
        ensemble: the best-quality mode (``srcnn.ensemble``): True runs the network on the
            8 rotations / flips of its input and averages the outputs (about 8x the CNN's
            time); 2 or 4 take fewer symmetries. Same on both paths, tiled == untiled.

    Returns:
        The upscaled image, same layout and dtype (float output is not clipped).
    """
    oh, ow, engine, models, p = _prepare(image, scale, width, height, max_pixels, model, engine, fast, plan)
    opts = dict(engine=engine, tile=tile, threads=threads, fast=fast, int8=int8, passes=passes_of(ensemble))
    if p.direct:
        return _direct(image, p.stages[0], models[p.stages[0]], progress=progress, **opts)
    return _planned(image, p, models, progress, **opts)


def upscale_tiles(image: np.ndarray, scale: float | None = 3, *, model: str | Model | None = None,
                  engine: str = "onnxruntime", tile: int = DEFAULT_TILE, threads: int | None = None,
                  progress: Callable[[int, int], None] | None = None, max_pixels: int | None = None,
                  fast=True, int8: bool = False, width: int | None = None, height: int | None = None,
                  ensemble: bool | int = False) -> Iterator[tuple[Tile, np.ndarray]]:
    """``upscale``'s result as an iterator of (box, pixels) strips, top to bottom, without the whole.

    Each ``box`` is a ``srcnn.border.Tile`` (output rows r0..r1-1, columns c0..c1-1, always the
    full width) and ``pixels`` that part of the result: same layout and dtype as ``upscale``
    returns, equal to ``upscale(image, ...)[box.r0:box.r1]`` to the bit (each strip is one row
    of the tiles that ``upscale`` computes, computed the same way). Options as ``upscale``;
    ``max_pixels``: None = no limit on the output (only the strips are held). Memory: the
    input, one strip (a tile high, ``tile`` or the fast path's smaller cap) and the tiles in
    flight; a factor run as a plan also holds its earlier models' whole outputs.

    >>> a = np.zeros((40, 60, 3), np.uint8)                                  # doctest: +SKIP
    >>> rows = [px for box, px in upscale_tiles(a, 3)]                       # doctest: +SKIP
    >>> np.array_equal(np.concatenate(rows), upscale(a, 3))                 # doctest: +SKIP
    True
    """
    oh, ow, engine, models, p = _prepare(image, scale, width, height, max_pixels or math.inf, model, engine, fast)
    opts = dict(engine=engine, tile=tile, threads=threads, fast=fast, int8=int8, passes=passes_of(ensemble))
    return _tile_rows(image, p, models, progress, oh, ow, opts)


def _tile_rows(image, p: Plan, models: dict, progress, oh: int, ow: int, opts: dict):
    """The generator behind ``upscale_tiles`` (its checks run when it is called, not iterated)."""
    if not p.direct:
        yield from _planned_rows(image, p, models, progress, **opts)
        return
    k = p.stages[0]
    grid = list(tiles(oh, ow, _grid_tile(models[k], **opts)))
    bands = sorted({(t.r0, t.r1) for t in grid})
    per_row = len(grid) // len(bands)
    for i, (r0, r1) in enumerate(bands):
        def row_progress(a, n, base=i * per_row):
            if progress:
                progress(base + a, len(grid))
        yield Tile(r0, r1, 0, ow), _direct(image, k, models[k], region=(r0, r1, 0, ow), progress=row_progress,
                                           **opts)


def _grid_tile(net, *, engine: str, tile: int, threads, fast, int8, passes: int) -> int:
    """The tile side ``_direct`` cuts a whole output into (the fast path caps it per network)."""
    if fast and engine == "onnxruntime":
        from . import fast as _fast

        info = net.info if isinstance(net, Model) else net
        if isinstance(fast, _fast.FastModel):
            fm = fast
        else:
            spec = None
            if int8:
                from .quant import require_int8

                spec = require_int8(info)
            fm = _fast.load_fast_model(info, threads, int8=spec)
        if fm is not None and fm.tile_cap:
            return min(tile, fm.tile_cap if passes == 1 else fm.tile_cap // 2)
    return tile


def upscale_region(image: np.ndarray, scale: float | None, region: tuple[int, int, int, int], *,
                   model: str | Model | None = None, engine: str = "onnxruntime", tile: int = DEFAULT_TILE,
                   threads: int | None = None, max_pixels: int = MAX_OUTPUT_PIXELS, fast=True,
                   int8: bool = False, width: int | None = None, height: int | None = None,
                   ensemble: bool | int = False) -> np.ndarray:
    """Output rows r0..r1-1 and columns c0..c1-1 of ``upscale(image, scale, ...)`` (same options),
    computing only what they read: a preview of one place of a large result.

    ``region`` = (r0, r1, c0, c1) in output pixels, inside the output. The region is one more
    tile of the whole run (tiled == untiled), so its pixels equal that slice of ``upscale``'s
    result. A plan's earlier models run only on the window of their output that the later ones
    read (plus a margin), so the cost follows the region's size, not the image's.

    >>> a = np.random.default_rng(0).random((20, 30)).astype(np.float32)  # doctest: +SKIP
    >>> np.array_equal(upscale_region(a, 2.5, (5, 25, 10, 40)), upscale(a, 2.5)[5:25, 10:40])  # doctest: +SKIP
    True
    """
    oh, ow, engine, models, p = _prepare(image, scale, width, height, max_pixels, model, engine, fast)
    r0, r1, c0, c1 = (int(v) for v in region)
    if not (0 <= r0 < r1 <= oh and 0 <= c0 < c1 <= ow):
        raise ValueError(f"region rows {r0}..{r1}, columns {c0}..{c1} is not inside the {ow}x{oh} output")
    opts = dict(engine=engine, tile=tile, threads=threads, fast=fast, int8=int8, passes=passes_of(ensemble))
    if p.direct:
        return _direct(image, p.stages[0], models[p.stages[0]], region=(r0, r1, c0, c1), **opts)
    colour, alpha, grey = _split(image)
    x = colour[:, :, 0] if grey else colour
    sizes = [x.shape[:2]] + stage_sizes(x.shape[0], x.shape[1], p)
    hk, wk = sizes[-1]
    ry, rx = resample_axis(hk, oh, p.resample, r0, r1), resample_axis(wk, ow, p.resample, c0, c1)
    # Backwards: the window of each stage's output that the next reads. A model's region reads
    # the bicubic taps of its rows widened by the network's radius (and the fast path's block
    # rounding): ``margin`` output pixels more than the radius cover both.
    wins = [(ry[0], ry[1], rx[0], rx[1])]
    for i in range(len(p.stages) - 1, 0, -1):
        k, (a0, a1, b0, b1) = p.stages[i], wins[0]
        margin = int(models[k].radius) + 16
        (hp, wp), (hn, wn) = sizes[i], sizes[i + 1]
        _, iy = contributions(hp, hn, float(k), True)
        _, ix = contributions(wp, wn, float(k), True)
        ys, xs = iy[max(a0 - margin, 0):min(a1 + margin, hn)], ix[max(b0 - margin, 0):min(b1 + margin, wn)]
        wins.insert(0, (int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1))
    # Forwards: each earlier stage on its window only, in a full-size array whose other pixels
    # (zeros, never read) cost no memory until written.
    for i, k in enumerate(p.stages[:-1]):
        a0, a1, b0, b1 = wins[i]
        nxt = np.zeros(sizes[i + 1] + x.shape[2:], dtype=np.float32)
        part = _direct(x, k, models[k], region=(a0, a1, b0, b1), **opts)
        np.clip(part, 0.0, 1.0, out=part)  # the next model takes an image, as in ``upscale``
        nxt[a0:a1, b0:b1] = part
        x = nxt
    k = p.stages[-1]
    planes = apply_resample(_direct(x, k, models[k], region=wins[-1], **opts), ry, rx)
    if grey:
        planes = planes[:, :, None]
    if alpha is not None:
        a = resize_region(alpha, p.scale, np.arange(r0, r1), np.arange(c0, c1))
        planes = np.concatenate([planes, a[:, :, None]], axis=2)
    return _to_dtype(planes[:, :, 0] if image.ndim == 2 else planes, np.dtype(image.dtype))


def _planned(image: np.ndarray, p: Plan, models: dict, progress, *, tile: int, **opts) -> np.ndarray:
    """``upscale`` through a plan: whole stages, then the last model and the resample per tile."""
    h, w = image.shape[:2]
    out = np.empty((output_size(h, p.scale), output_size(w, p.scale)) + image.shape[2:], dtype=image.dtype)
    for t, strip in _planned_rows(image, p, models, progress, tile=tile, **opts):
        out[t.r0:t.r1] = strip
    return out


def _planned_rows(image: np.ndarray, p: Plan, models: dict, progress, *, tile: int,
                  **opts) -> Iterator[tuple[Tile, np.ndarray]]:
    """``_planned``'s output one row of its final tiles at a time, as (Tile, strip)."""
    colour, alpha, grey = _split(image)
    x = colour[:, :, 0] if grey else colour
    h, w = x.shape[:2]
    oh, ow = output_size(h, p.scale), output_size(w, p.scale)
    sizes = [(h, w)] + stage_sizes(h, w, p)
    final = list(tiles(oh, ow, tile))
    counts = [len(list(tiles(*sz, tile))) for sz in sizes[1:-1]] + [len(final)]
    total, done = sum(counts), 0

    for i, k in enumerate(p.stages[:-1]):
        def stage_progress(a, n, base=done):
            if progress:
                progress(base + a, total)
        x = _direct(x, k, models[k], tile=tile, progress=stage_progress, **opts)
        np.clip(x, 0.0, 1.0, out=x)  # the next model takes an image, as it was trained
        done += counts[i]
    k = p.stages[-1]
    hk, wk = sizes[-1]
    f = p.resample
    dt = np.dtype(image.dtype)
    ax = {}
    strip = None
    for n, t in enumerate(final):
        if strip is None:
            strip = np.empty((t.r1 - t.r0, ow) + image.shape[2:], dtype=dt)
        ry = ax.setdefault(("r", t.r0, t.r1), resample_axis(hk, oh, f, t.r0, t.r1))
        rx = ax.setdefault(("c", t.c0, t.c1), resample_axis(wk, ow, f, t.c0, t.c1))
        region = _direct(x, k, models[k], tile=tile, region=(ry[0], ry[1], rx[0], rx[1]), **opts)
        planes = apply_resample(region, ry, rx)
        if grey:
            planes = planes[:, :, None]
        if alpha is not None:
            a = resize_region(alpha, p.scale, np.arange(t.r0, t.r1), np.arange(t.c0, t.c1))
            planes = np.concatenate([planes, a[:, :, None]], axis=2)
        strip[:, t.c0:t.c1] = _to_dtype(planes[:, :, 0] if image.ndim == 2 else planes, dt)
        if progress:
            progress(done + n + 1, total)
        if t.c1 == ow:
            yield Tile(t.r0, t.r1, 0, ow), strip
            strip = None


def _to_dtype(planes: np.ndarray, dt: np.dtype) -> np.ndarray:
    if dt in _MAX:
        m = np.float32(_MAX[dt])
        return np.clip(np.floor(planes * m + np.float32(0.5)), 0, m).astype(dt)
    return planes.astype(dt)


def _direct(image: np.ndarray, scale: int, net, *, engine: str, tile: int, threads, fast, int8,
            progress=None, region: tuple[int, int, int, int] | None = None, passes: int = 1) -> np.ndarray:
    """One model at its own factor; ``region`` (r0, r1, c0, c1): only that part of the output."""
    if fast and engine == "onnxruntime":
        from . import fast as _fast

        info = net.info if isinstance(net, Model) else net
        spec = None
        if int8 and not isinstance(fast, _fast.FastModel):
            from .quant import require_int8

            spec = require_int8(info)
        fm = fast if isinstance(fast, _fast.FastModel) else _fast.load_fast_model(info, threads, int8=spec)
        if fm is not None:
            return _fast.upscale_fast(image, int(scale), fm, tile=tile, progress=progress, region=region,
                                      passes=passes)
    colour, alpha, grey = _split(image)
    h, w = colour.shape[:2]
    oh, ow = output_size(h, scale), output_size(w, scale)
    if not isinstance(net, Model):
        net = load_model(net, engine, threads)
    r = net.radius
    scale = float(scale)
    r0, r1, c0, c1 = region or (0, oh, 0, ow)
    if net.info.channels == 3:
        return _direct_rgb(image, colour, alpha, grey, scale, net, tile, progress, (r0, r1, c0, c1), (oh, ow), passes)
    if grey:
        y_lr = colour[:, :, 0]
        chroma = None
    else:
        # float YCbCr in [0, 1] units, no rounding (the pipeline keeps full precision).
        ycc = (colour @ (_T.T / 255.0).astype(np.float32) + (_OFFSET / 255.0).astype(np.float32))
        y_lr = np.ascontiguousarray(ycc[:, :, 0])
        chroma = np.ascontiguousarray(ycc[:, :, 1:])
    out = np.empty((r1 - r0, c1 - c0) + image.shape[2:], dtype=image.dtype)
    t_inv = (_T_INV * 255.0).astype(np.float32)
    off = (_OFFSET / 255.0).astype(np.float32)
    dt = np.dtype(image.dtype)
    all_tiles = [type(t)(t.r0 + r0, t.r1 + r0, t.c0 + c0, t.c1 + c0) for t in tiles(r1 - r0, c1 - c0, tile)]
    for k, t in enumerate(all_tiles):
        rows, cols = np.arange(t.r0, t.r1), np.arange(t.c0, t.c1)
        y_in = resize_region(y_lr, scale, halo_index(t.r0, t.r1, r, oh), halo_index(t.c0, t.c1, r, ow))
        y = run_ensemble(net.run, y_in, passes)
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
        out[t.r0 - r0:t.r1 - r0, t.c0 - c0:t.c1 - c0] = _to_dtype(planes, dt)
        if progress:
            progress(k + 1, len(all_tiles))
    return out


def _direct_rgb(image, colour, alpha, grey, scale, net, tile, progress, region, size, passes) -> np.ndarray:
    """An RGB model (the paper's colour network): the CNN on the bicubic R, G, B together.

    A grey picture goes in as R = G = B and comes out as the mean of the three outputs."""
    r0, r1, c0, c1 = region
    oh, ow = size
    r = net.radius
    rgb = np.repeat(colour, 3, axis=2) if grey else colour
    chw = np.ascontiguousarray(np.moveaxis(rgb, 2, 0))  # (3, H, W): resize_region per plane
    dt = np.dtype(image.dtype)
    out = np.empty((r1 - r0, c1 - c0) + image.shape[2:], dtype=dt)
    all_tiles = [type(t)(t.r0 + r0, t.r1 + r0, t.c0 + c0, t.c1 + c0) for t in tiles(r1 - r0, c1 - c0, tile)]
    for k, t in enumerate(all_tiles):
        rows, cols = halo_index(t.r0, t.r1, r, oh), halo_index(t.c0, t.c1, r, ow)
        x = np.stack([resize_region(c, scale, rows, cols) for c in chw])
        y = run_ensemble(net.run, x, passes)          # (3, th, tw)
        planes = np.moveaxis(y, 0, 2)
        if grey:
            planes = planes.mean(axis=2, keepdims=True)
        if alpha is not None:
            a = resize_region(alpha, scale, np.arange(t.r0, t.r1), np.arange(t.c0, t.c1))
            planes = np.concatenate([planes, a[:, :, None]], axis=2)
        if image.ndim == 2:
            planes = planes[:, :, 0]
        out[t.r0 - r0:t.r1 - r0, t.c0 - c0:t.c1 - c0] = _to_dtype(planes, dt)
        if progress:
            progress(k + 1, len(all_tiles))
    return out
