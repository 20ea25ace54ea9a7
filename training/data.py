"""Training pairs made with the core's own colour conversion and MATLAB-compatible bicubic.

Each image gives (ground truth, bicubic-upsampled input) at every training scale, exactly the
degradation ``srcnn-cli eval`` uses: Y of MATLAB ``rgb2ycbcr`` (the default), or all three
channels in YCbCr or RGB (the colour strategies of the paper's Table 5). Patches are cut at
random (or from the paper's fixed grid of sub-images) with flips and 90-degree rotations, from
a generator seeded by (seed, step, rank), so any step can be replayed.

With ``pad`` (the network's receptive-field radius), patches may reach past the image edges into
a replicate padding, exactly as the core pads at test time, so the border pixels are trained
as they are run (targets stay inside the image). ``hr_scales`` adds copies of every training image shrunk by the core's MATLAB bicubic (e.g.
0.9 ... 0.6, as FSRCNN does) and rounded to 8 bits, before the usual degradation. On a GPU,
``GatherSampler`` cuts a whole batch with one indexed gather on the device instead of a Python
loop over patches (same patches for the same drawn positions; a test checks it).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from srcnn.colour import rgb2y, rgb2ycbcr
from srcnn.protocol import degrade, list_images, load_uint8, modcrop
from srcnn.resize import imresize

COLOURS = ("y", "ycbcr", "rgb")


def default_dataset_root() -> str:
    return os.environ.get("SRCNN_DATASETS", os.path.abspath(os.path.join(os.pardir, "shared", "datasets")))


def to_colour(img: np.ndarray, colour: str) -> np.ndarray:
    """uint8 RGB/grey -> float64 (H, W) Y or (H, W, 3) YCbCr / RGB in [0, 1]."""
    if colour == "y":
        return rgb2y(img).astype(np.float64) / 255.0
    if img.ndim == 2:
        img = np.dstack([img] * 3)
    x = rgb2ycbcr(img) if colour == "ycbcr" else img
    return x.astype(np.float64) / 255.0


class PairBank:
    """In-memory (HR, bicubic) float32 pairs per scale for a list of image folders.

    Arrays are (H, W) for Y and (H, W, 3) otherwise. With ``stride`` set, patches come from the
    fixed grid of sub-images the paper uses (33x33, stride 14) instead of random positions.
    """

    def __init__(self, folders: list[str], scales: list[int], min_size: int, colour: str = "y",
                 stride: int | None = None, hr_scales: tuple[float, ...] = (1.0,), pad: int = 0,
                 exclude=()):
        if colour not in COLOURS:
            raise ValueError(f"colour must be one of {COLOURS}")
        self.scales = list(scales)
        self.colour = colour
        self.stride = stride
        held = {os.path.realpath(p) for p in exclude}
        paths = [p for f in folders for p in list_images(f) if os.path.realpath(p) not in held]
        if not paths:
            raise ValueError(f"no training images in {folders}")
        self.pairs: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        imgs = [load_uint8(p) for p in paths]
        ys = [rgb2y(im) for im in imgs] if colour == "y" else imgs
        # Shrunk copies (uint8 in, uint8 out: MATLAB rounding), for more variety of detail.
        ys = [im if f == 1.0 else imresize(im, f) for f in hr_scales for im in ys]
        for s in self.scales:
            def make(im):
                im = modcrop(im, s)
                hr = im.astype(np.float64) / 255.0 if colour == "y" else to_colour(im, colour)
                return hr.astype(np.float32), degrade(hr, s).astype(np.float32)
            with ThreadPoolExecutor(2) as ex:
                pairs = list(ex.map(make, ys))
            if pad:
                # As run at test time: the input replicate-padded by the receptive-field radius.
                # A patch's target (its centre) then still lies inside the image; the padded
                # target is NaN so that any read of it would show up in the loss.
                w = ((pad, pad), (pad, pad)) + ((0, 0),) * (pairs[0][0].ndim - 2)
                pairs = [(np.pad(hr, w, constant_values=np.nan), np.pad(lr, w, mode="edge")) for hr, lr in pairs]
            self.pairs[s] = [p for p in pairs if min(p[0].shape[:2]) >= min_size]
        self.n_images = len(paths)
        self.hr_scales = tuple(hr_scales)
        self._grid: dict[tuple[int, int], np.ndarray] = {}

    def grid(self, scale: int, patch: int) -> np.ndarray:
        """(n, 3) array of (image, row, col) of every sub-image on the stride grid."""
        key = (scale, patch)
        if key not in self._grid:
            pos = [(i, r, c) for i, (hr, _) in enumerate(self.pairs[scale])
                   for r in range(0, hr.shape[0] - patch + 1, self.stride)
                   for c in range(0, hr.shape[1] - patch + 1, self.stride)]
            self._grid[key] = np.array(pos, dtype=np.int64)
        return self._grid[key]

    def batch(self, rng: np.random.Generator, scale: int, batch: int, patch: int, shrink: int,
              augment: bool = True):
        """(x, y): x (B, C, patch, patch) bicubic input, y (B, C, patch-2r, patch-2r) target."""
        pairs = self.pairs[scale]
        c = 1 if self.colour == "y" else 3
        o = patch - 2 * shrink
        xs = np.empty((batch, c, patch, patch), np.float32)
        ys = np.empty((batch, c, o, o), np.float32)
        if self.stride:
            picks = self.grid(scale, patch)[rng.integers(0, len(self.grid(scale, patch)), size=batch)]
        else:
            # Pick images in proportion to their area, so every pixel is equally likely.
            areas = np.array([p[0].shape[0] * p[0].shape[1] for p in pairs], dtype=np.float64)
            idx = rng.choice(len(pairs), size=batch, p=areas / areas.sum())
            picks = None
        for b in range(batch):
            if picks is None:
                hr, lr = pairs[idx[b]]
                r0 = rng.integers(0, hr.shape[0] - patch + 1)
                c0 = rng.integers(0, hr.shape[1] - patch + 1)
            else:
                i, r0, c0 = picks[b]
                hr, lr = pairs[i]
            xp = lr[r0:r0 + patch, c0:c0 + patch]
            yp = hr[r0 + shrink:r0 + shrink + o, c0 + shrink:c0 + shrink + o]
            if augment:
                k, flip = rng.integers(0, 4), rng.integers(0, 2)
                xp, yp = np.rot90(xp, k), np.rot90(yp, k)
                if flip:
                    xp, yp = xp[:, ::-1], yp[:, ::-1]
            if c == 1:
                xs[b, 0], ys[b, 0] = xp, yp
            else:
                xs[b], ys[b] = np.moveaxis(xp, 2, 0), np.moveaxis(yp, 2, 0)
        return xs, ys


def draw(bank: PairBank, rng: np.random.Generator, scale: int, batch: int, patch: int, augment: bool = True):
    """Vectorised random positions for a batch: (image, row, col, rotation k, flip) arrays."""
    pairs = bank.pairs[scale]
    if bank.stride:
        g = bank.grid(scale, patch)
        idx, r0, c0 = g[rng.integers(0, len(g), size=batch)].T
    else:
        hs = np.array([p[0].shape[0] for p in pairs])
        ws = np.array([p[0].shape[1] for p in pairs])
        area = (hs * ws).astype(np.float64)
        idx = rng.choice(len(pairs), size=batch, p=area / area.sum())
        r0 = (rng.random(batch) * (hs[idx] - patch + 1)).astype(np.int64)
        c0 = (rng.random(batch) * (ws[idx] - patch + 1)).astype(np.int64)
    if augment:
        k, flip = rng.integers(0, 4, size=batch), rng.integers(0, 2, size=batch)
    else:
        k = flip = np.zeros(batch, np.int64)
    return idx, r0, c0, k, flip


class GatherSampler:
    """A scale's pairs as two flat tensors on ``device``; a batch is one gather.

    Output patch pixel (i, j) reads the source patch at the position that ``np.rot90(p, k)``
    followed by an optional left-right flip puts there, so the result equals the loop's
    slicing for the same (image, row, col, k, flip).
    """

    def __init__(self, bank: PairBank, scale: int, device):
        import torch
        pairs = bank.pairs[scale]
        self.bank, self.scale, self.device = bank, scale, device
        self.c = 1 if bank.colour == "y" else 3
        hws = np.array([p[0].shape[:2] for p in pairs], dtype=np.int64)
        sizes = hws[:, 0] * hws[:, 1]
        self.off = torch.from_numpy(np.concatenate([[0], np.cumsum(sizes)[:-1]])).to(device)
        self.w = torch.from_numpy(hws[:, 1].copy()).to(device)
        flat = lambda k: torch.from_numpy(np.concatenate([p[k].reshape(-1, self.c) for p in pairs])).to(device)
        self.hr, self.lr = flat(0), flat(1)

    def batch(self, rng: np.random.Generator, batch: int, patch: int, shrink: int, augment: bool = True):
        import torch
        idx, r0, c0, k, flip = (torch.from_numpy(np.asarray(a, dtype=np.int64)).to(self.device)
                                for a in draw(self.bank, rng, self.scale, batch, patch, augment))
        ar = torch.arange(patch, device=self.device)
        i = ar.view(1, patch, 1).expand(batch, patch, patch)
        j = ar.view(1, 1, patch).expand(batch, patch, patch)
        j = torch.where(flip.view(-1, 1, 1) == 1, patch - 1 - j, j)
        kk = k.view(-1, 1, 1)
        n = patch - 1
        a = torch.where(kk == 0, i, torch.where(kk == 1, j, torch.where(kk == 2, n - i, n - j)))
        b = torch.where(kk == 0, j, torch.where(kk == 1, n - i, torch.where(kk == 2, n - j, i)))
        lin = self.off.view(-1, 1, 1)[idx] + (r0.view(-1, 1, 1) + a) * self.w[idx].view(-1, 1, 1) \
            + c0.view(-1, 1, 1) + b
        x = self.lr[lin].permute(0, 3, 1, 2)
        y = self.hr[lin].permute(0, 3, 1, 2)[:, :, shrink:patch - shrink, shrink:patch - shrink]
        return x.contiguous(), y.contiguous()


_BANK = None  # a Prefetcher worker's own bank


def _init_worker(make_bank):
    global _BANK
    _BANK = make_bank()


def _batch_job(job):
    seed, scale, batch, patch, shrink, augment = job
    return _BANK.batch(np.random.default_rng(list(seed)), scale, batch, patch, shrink, augment)


class Prefetcher:
    """The batches of the next steps, cut by ``workers`` processes ahead of the loop.

    ``make_bank()`` (picklable, e.g. a ``functools.partial`` of ``DegradeBank``) builds each
    worker's own bank: the workers are spawned, not forked, since a fork of a process that runs
    thread pools (onnxruntime, OpenCV, OpenMP) can deadlock. ``job(step)`` gives ((seed, step,
    rank), scale, batch, patch, shrink, augment); a step's batch is then exactly the one
    ``bank.batch`` gives in the loop (a test checks it).
    """

    def __init__(self, make_bank, workers: int, job, ahead: int | None = None):
        import multiprocessing as mp
        self.pool = mp.get_context("spawn").Pool(workers, initializer=_init_worker, initargs=(make_bank,))
        self.job, self.ahead, self.pending = job, ahead or 2 * workers, {}

    def get(self, step: int):
        for k in range(step, step + self.ahead):
            if k not in self.pending:
                self.pending[k] = self.pool.apply_async(_batch_job, (self.job(k),))
        for k in [k for k in self.pending if k < step]:
            del self.pending[k]
        return self.pending.pop(step).get()

    def close(self):
        self.pool.terminate()
