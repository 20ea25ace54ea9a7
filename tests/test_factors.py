"""Any factor: plans of trained models (srcnn.factors) against bicubic, tiling and the protocol."""
import math
from pathlib import Path

import numpy as np
import pytest

from srcnn.colour import rgb2y
from srcnn.factors import Plan, apply_resample, plan_for, resample_axis
from srcnn.metrics import psnr
from srcnn.pipeline import plan_of, target_scale, upscale
from srcnn.protocol import crop_multiple, modcrop
from srcnn.resize import imresize

ROOT = Path(__file__).resolve().parents[1]
GRID = (1.1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8)


def test_plan_rules():
    a = [2, 3, 4]
    assert plan_for(3, a) == Plan(3.0, (3,)) and plan_for(3, a).direct
    assert plan_for(1.5, a).stages == (2,) and plan_for(1.5, a).resample == 0.75
    assert plan_for(2.5, a).stages == (2, 2) and plan_for(2.5, a).resample == 0.625
    assert plan_for(3.5, a).stages == (2, 2)
    assert plan_for(6, a).stages == (2, 3) and plan_for(6, a).resample == 1.0
    assert plan_for(5, a).stages == (2, 3)
    assert plan_for(8, a).stages == (2, 4) and plan_for(7, a).stages == (2, 4)
    assert plan_for(16, a).stages == (2, 2, 4)
    assert plan_for(20, a).stages == (2, 2, 4) and plan_for(20, a).resample == 1.25  # out of stages
    assert plan_for(2, [3]).stages == (3,)          # one file: its factor, then down
    assert plan_for(9, [3]).stages == (3, 3) and plan_for(12, [3]).stages == (3, 3, 3)
    with pytest.raises(ValueError):
        plan_for(2, [])


def test_resample_tile_equals_imresize_slice():
    x = np.random.default_rng(0).random((61, 47, 3)).astype(np.float32)
    whole = imresize(x, 0.7)
    n_out = whole.shape[:2]
    ry = resample_axis(61, n_out[0], 0.7, 10, 30)
    rx = resample_axis(47, n_out[1], 0.7, 5, 20)
    part = apply_resample(x[ry[0]:ry[1], rx[0]:rx[1]], ry, rx)
    assert np.allclose(part, whole[10:30, 5:20], atol=1e-6)


def photo_like(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth shading, hard-edged shapes, fine stripes and a little noise: an SR test card."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.dstack([90 + 60 * np.sin(xx / 23 + yy / 41), 110 + 50 * np.cos(yy / 17), 130 + 40 * np.sin((xx + yy) / 31)])
    for _ in range(12):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(2, max(3, min(h, w) / 4))
        m = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        img[m] = rng.uniform(20, 235, 3)
    stripes = (np.sin(xx / 1.7 + yy / 5.3) > 0) & (yy > h * 0.6) & (xx < w * 0.4)
    img[stripes] = 240
    img += rng.normal(0, 2, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("s", GRID)
def test_never_below_bicubic(s):
    """The plan of every factor beats bicubic on a photo-like picture (shipped weights, fast path)."""
    m = crop_multiple(s)
    hr = modcrop(photo_like(120, 144), s)
    hr = hr[: hr.shape[0] - hr.shape[0] % m, : hr.shape[1] - hr.shape[1] % m]
    lr = imresize(hr, 1.0 / s)
    b = math.ceil(s)
    y = lambda im: rgb2y(im).astype(np.float64)  # noqa: E731
    ours = psnr(y(hr), y(upscale(lr, s)), border=b)
    bic = psnr(y(hr), y(imresize(lr, s)), border=b)
    assert ours > bic, (s, plan_of(s).describe(), ours, bic)


@pytest.mark.parametrize("fast", [False, True], ids=["reference", "fast"])
@pytest.mark.parametrize("s", [1.5, 2.5, 5, 6, 8])
def test_plans_tile_exactly(s, fast):
    img = photo_like(23, 29, seed=3)
    rgba = np.dstack([img, np.random.default_rng(1).integers(0, 256, img.shape[:2], dtype=np.uint8)])
    for x in (img, rgba, img[:, :, 0], (img.astype(np.uint16) * 257)):
        whole = upscale(x, s, tile=100000, fast=fast)
        tiled = upscale(x, s, tile=17, fast=fast)
        assert whole.shape[:2] == (math.ceil(23 * s - 1e-9), math.ceil(29 * s - 1e-9))
        assert whole.dtype == x.dtype and np.array_equal(whole, tiled), (s, x.shape, x.dtype)


def test_plan_progress_only_grows():
    seen = []
    upscale(photo_like(30, 30), 5, tile=40, progress=lambda d, n: seen.append((d, n)))
    assert seen and seen[-1][0] == seen[-1][1]
    assert all(b[0] >= a[0] and b[1] == a[1] for a, b in zip(seen, seen[1:]))


def test_plan_alpha_is_bicubic_at_the_factor():
    img = photo_like(20, 20)
    a = np.random.default_rng(2).integers(0, 256, (20, 20), dtype=np.uint8)
    out = upscale(np.dstack([img, a]), 5)
    ref = np.clip(np.floor(imresize(a.astype(np.float32) / 255, 5) * 255 + 0.5), 0, 255)
    assert np.abs(out[:, :, 3].astype(int) - ref).max() <= 1


def test_target_scale():
    assert target_scale(10, 16, width=40) == 2.5
    assert target_scale(10, 16, height=25) == 2.5
    assert target_scale(10, 16, width=100, height=30) == 3.0
    img = photo_like(10, 16)
    assert upscale(img, None, width=40).shape == (25, 40, 3)
    assert upscale(img, None, width=100, height=30).shape == (30, 48, 3)
    with pytest.raises(ValueError, match="smaller"):
        target_scale(10, 16, width=8)
    with pytest.raises(ValueError):
        target_scale(10, 16)


def datasets():
    import os
    return Path(os.environ.get("SRCNN_DATASETS", ROOT.parent / "shared" / "datasets"))


# The "simple alternative" of issue 17 at each of its six factors (measured here, not copied).
ALTERNATIVES = {1.5: Plan(1.5, (2,)), 2.5: Plan(2.5, (3,)), 3.5: Plan(3.5, (4,)),
                5: Plan(5.0, (4,)), 6: Plan(6.0, (2, 3)), 8: Plan(8.0, (2, 4))}


@pytest.mark.slow
@pytest.mark.parametrize("s", sorted(ALTERNATIVES))
def test_set5_plan_at_least_the_simple_alternative(s):
    """User protocol on Set5 (uint8 LR by MATLAB bicubic): the default plan is not worse than
    the alternative by more than 0.03 dB (0.06 at x2.5 and x5). Plans are chosen on the validation
    split, not here (bench/factors.py --sets training/splits/val20.txt): with the x3 model of
    x3_955zf, x2 then x2 still wins there at x2.5 (29.402 against 29.399 dB for x3) and loses on
    Set5 by 0.050 (34.527 against 34.577; with x3_955z it lost by 0.023): x2.5 is where the two
    are closest, and a better x3 model moves Set5 more than the validation split. Likewise x5
    with the x4 model of x4_955ma: x2 then x3 wins on the split (25.843 against 25.822 for x4
    then bicubic) and loses on Set5 by 0.045 (28.860 against 28.905)."""
    if not (datasets() / "Set5").is_dir():
        pytest.skip("../shared/datasets/Set5 not present")
    from srcnn.protocol import list_images, load_uint8
    ours, alt, bic = [], [], []
    for p in list_images(datasets() / "Set5"):
        hr = load_uint8(p)
        m = crop_multiple(s)
        hr = hr[: hr.shape[0] - hr.shape[0] % m, : hr.shape[1] - hr.shape[1] % m]
        lr = imresize(hr, 1.0 / s)
        y = lambda im: rgb2y(im).astype(np.float64)  # noqa: E731
        b = math.ceil(s)
        ours.append(psnr(y(hr), y(upscale(lr, s)), border=b))
        alt.append(psnr(y(hr), y(upscale(lr, s, plan=ALTERNATIVES[s])), border=b))
        bic.append(psnr(y(hr), y(imresize(lr, s)), border=b))
    tol = 0.06 if s in (2.5, 5) else 0.03
    assert np.mean(ours) >= np.mean(alt) - tol and np.mean(ours) > np.mean(bic) + 0.5, \
        (s, np.mean(ours), np.mean(alt), np.mean(bic))
