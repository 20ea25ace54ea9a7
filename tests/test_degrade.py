"""Degradations of users' files (srcnn.degrade, `eval --degrade`) and the training pipeline that
draws them per patch (training/degrade.py), against independent references: a real JPEG file
written and read back, MATLAB-made LR images, the paper's bicubic numbers, exact replay."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import dataset
from srcnn import degrade as dg


def cli(*args):
    return subprocess.run([sys.executable, "-m", "srcnn.cli", *args], capture_output=True, text=True)


def photo(h=96, w=120, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.dstack([128 + 60 * np.sin(xx / 5.0), 128 + 60 * np.cos(yy / 7.0), 128 + 40 * np.sin((xx + yy) / 9.0)])
    return np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("spec, down, steps", [
    ("jpeg:75", "matlab", (("jpeg", 75),)),
    ("area", "area", ()),
    ("clean", "matlab", ()),
    ("Pillow-Bicubic, jpeg:85", "pillow-bicubic", (("jpeg", 85),)),
    ("area,noise:3,jpeg:50", "area", (("noise", 3.0), ("jpeg", 50))),
])
def test_parse(spec, down, steps):
    d = dg.parse(spec)
    assert (d.down, d.steps) == (down, steps)
    assert dg.parse(str(d)) == d  # the canonical form parses back


@pytest.mark.parametrize("spec, words", [
    ("jpeg:75x", "needs a number"), ("jpeg:0", "1-100"), ("jpeg:75.5", "whole number"),
    ("noise:-1", "0-100"), ("blur:2", "unknown step"), ("jpeg:75,area", "must come first"),
    ("", "empty"), ("jpeg:75,", "empty"),
])
def test_parse_errors(spec, words):
    with pytest.raises(ValueError, match=words):
        dg.parse(spec)


def test_jpeg_equals_a_real_file_round_trip(tmp_path):
    """The JPEG step gives what a .jpg saved by Pillow holds when read back as the CLI reads files."""
    from srcnn.imageio import read_image
    img = photo()
    path = tmp_path / "saved.jpg"
    Image.fromarray(img).save(path, quality=60)
    from_file = read_image(path).pixels
    assert np.array_equal(dg.jpeg(img, 60), from_file)
    # and it is lossy in the way JPEG is: 4:2:0 chroma loses more than luma
    from srcnn.colour import rgb2ycbcr
    a, b = rgb2ycbcr(img).astype(float), rgb2ycbcr(dg.jpeg(img, 60)).astype(float)
    err = np.abs(a - b).reshape(-1, 3).mean(0)
    assert err[0] > 0.5 and err[1] > err[0] * 0.5


def test_matlab_downscale_matches_matlab_reference():
    """The default downscaler is the protocol's: MATLAB's own LR images of Set5 within 2 levels."""
    folder = dataset("Set5")
    ref_dir = folder.parent / "reference"
    refs = sorted(ref_dir.glob("Set5_LR_x3/babyx3.*")) if ref_dir.is_dir() else []
    if not refs:
        pytest.skip("no MATLAB reference LR of Set5 baby x3")
    from srcnn.colour import rgb2y
    from srcnn.protocol import load_uint8, modcrop
    hr = modcrop(load_uint8(folder / "baby.bmp"), 3)
    lr = dg.apply("matlab", hr, 3)
    ref = np.asarray(Image.open(refs[0]))
    ours = rgb2y(lr) if ref.ndim == 2 else lr
    assert ours.shape == ref.shape
    assert np.abs(ours.astype(int) - ref.astype(int)).max() <= 2


def test_every_downscaler_and_seeded_noise():
    img = photo(96, 120)
    for how in dg.DOWNSCALERS:
        lr = dg.downscale(img, 4, how)
        assert lr.shape == (24, 30, 3) and lr.dtype == np.uint8
        # all of them are low-pass images of the same picture
        assert abs(lr.astype(float).mean() - img.astype(float).mean()) < 2.0
    a = dg.apply("noise:6", img, 2, seed=3)
    assert np.array_equal(a, dg.apply("noise:6", img, 2, seed=3))
    assert not np.array_equal(a, dg.apply("noise:6", img, 2, seed=4))
    d = a.astype(float) - dg.apply("matlab", img, 2).astype(float)
    assert 5.0 < d.std() < 7.0  # sigma 6, rounded
    grey = dg.apply("area,jpeg:50", img[..., 0], 3)
    assert grey.shape == (32, 40) and grey.dtype == np.uint8


def test_eval_degrade_matches_paper_bicubic_and_jpeg_costs():
    """`eval --degrade matlab` is the paper's protocol with the LR rounded to 8 bits: bicubic within
    0.05 dB of the paper's 30.39 (Set5 x3); a q50 JPEG costs bicubic more than a dB."""
    folder = dataset("Set5")
    r = cli("eval", str(folder), "--scale", "3", "--model", "none", "--degrade", "matlab", "--json")
    assert r.returncode == 0, r.stderr
    clean = json.loads(r.stdout)["mean"]["bicubic"]["psnr"]
    assert abs(clean - 30.39) <= 0.05
    r = cli("eval", str(folder), "--scale", "3", "--model", "none", "--degrade", "jpeg:50", "--json")
    res = json.loads(r.stdout)
    assert res["degrade"] == "matlab,jpeg:50"
    assert res["mean"]["bicubic"]["psnr"] < clean - 1.0


@pytest.mark.parametrize("args", [
    ["--degrade", "jpeg:abc"], ["--degrade", "foo"], ["--degrade", "jpeg:75", "--scale", "2.5"],
])
def test_eval_degrade_errors_are_one_line(tmp_path, args):
    img = photo(60, 60)
    Image.fromarray(img).save(tmp_path / "a.png")
    base = ["eval", str(tmp_path), "--model", "none"]
    r = cli(*base, *(args if "--scale" in args else args + ["--scale", "3"]))
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0] and "Traceback" not in r.stderr


# ---- training/degrade.py (needs the training code's imports only, not torch) ----

def _bank(tmp_path, side, mix=None, n=1):
    from srcnn.training.degrade import DegradeBank, Mix
    for i in range(n):
        Image.fromarray(photo(side, side, seed=i)).save(tmp_path / f"im{i}.png")
    return DegradeBank([str(tmp_path)], [2, 3, 4], min_size=side, mix=mix or Mix())


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_clean_patches_are_the_protocol_geometry(tmp_path, scale):
    """With only clean samples and no augmentation, a patch is exactly MATLAB bicubic of the
    MATLAB-shrunk crop, and its target the centre of the same crop (no off-by-one)."""
    from srcnn.colour import rgb2y
    from srcnn.resize import imresize
    from srcnn.training.degrade import Mix, to_y
    patch, shrink = 72, 8
    m = 4 * scale
    side = patch + 2 * m  # the only position a patch can take
    bank = _bank(tmp_path, side, Mix(clean=1.0))
    x, y = bank.batch(np.random.default_rng(0), scale, 2, patch, shrink, augment=False)
    img = bank.images[0]
    want_x = imresize(to_y(dg.downscale(img, scale, "matlab"))[..., None], scale)[m:m + patch, m:m + patch, 0]
    want_y = rgb2y(img)[m + shrink:m + patch - shrink, m + shrink:m + patch - shrink] / 255.0
    np.testing.assert_allclose(x[0, 0], want_x, atol=1e-6)
    np.testing.assert_allclose(y[0, 0], want_y, atol=1e-6)


def test_batches_replay_exactly_and_vary(tmp_path):
    bank = _bank(tmp_path, 200, n=3)
    a = bank.batch(np.random.default_rng([0, 7, 0]), 3, 12, 72, 8)
    b = bank.batch(np.random.default_rng([0, 7, 0]), 3, 12, 72, 8)
    c = bank.batch(np.random.default_rng([0, 8, 0]), 3, 12, 72, 8)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert a[0].shape == (12, 1, 72, 72) and a[1].shape == (12, 1, 56, 56)


def test_the_mix_draws_each_kind(tmp_path):
    """Over many draws every resampler, JPEG, noise and clean samples occur, in about the stated shares."""
    from srcnn.training.degrade import Mix, degrade_patch
    import srcnn.training.degrade as tdg
    seen = {"down": set(), "jpeg": 0}
    orig_down, orig_jpeg = tdg.downscale, tdg.jpeg

    def down(img, s, how):
        seen["down"].add(how)
        return orig_down(img, s, how)

    def jp(img, q):
        seen["jpeg"] += 1
        assert 30 <= q <= 95
        return orig_jpeg(img, q)
    tdg.downscale, tdg.jpeg = down, jp
    try:
        img = photo(48, 48)
        rng = np.random.default_rng(1)
        n = 400
        for _ in range(n):
            degrade_patch(img, 4, rng, Mix())
    finally:
        tdg.downscale, tdg.jpeg = orig_down, orig_jpeg
    assert seen["down"] == set(dg.DOWNSCALERS)
    m = Mix()
    expect_jpeg = n * (1 - m.clean) * m.jpeg * (1 + m.double_jpeg)
    assert 0.75 * expect_jpeg < seen["jpeg"] < 1.25 * expect_jpeg


def test_prefetched_batches_equal_the_loop_batches(tmp_path):
    """train --data-workers: batches cut ahead in forked workers are the loop's, step by step."""
    import functools
    from srcnn.training.data import Prefetcher
    from srcnn.training.degrade import DegradeBank
    bank = _bank(tmp_path, 160, n=2)
    job = lambda k: ((0, k, 0), 2 + k % 3, 4, 72, 8, True)  # noqa: E731
    pf = Prefetcher(functools.partial(DegradeBank, [str(tmp_path)], [2, 3, 4], min_size=160), 2, job)
    try:
        for k in (0, 1, 2, 5):  # a resumed run may start anywhere
            x, y = pf.get(k)
            (seed, sc, b, p, r, aug) = job(k)
            wx, wy = bank.batch(np.random.default_rng(list(seed)), sc, b, p, r, aug)
            assert np.array_equal(x, wx) and np.array_equal(y, wy)
    finally:
        pf.close()
