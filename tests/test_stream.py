"""Streaming output: strips equal the whole result, streamed files equal in-memory ones byte for byte."""
import io
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

import srcnn
from srcnn.export import write_model
from srcnn.imageio import ImageError, Picture, encode_image, read_image, upscale_file
from srcnn.pipeline import upscale, upscale_tiles
from srcnn.runtime import Model, ModelInfo
from conftest import random_layers


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    return Model(ModelInfo.load(write_model(d, "rnd", random_layers(), scale=3, variant="t")))


def rand(shape, dtype=np.uint8, seed=0):
    hi = 65536 if dtype == np.uint16 else 256
    return np.random.default_rng(seed).integers(0, hi, shape).astype(dtype)


@pytest.mark.parametrize("shape, dtype", [((37, 45), np.uint8), ((30, 41, 2), np.uint16), ((33, 40, 3), np.uint8),
                                          ((31, 29, 4), np.uint16), ((25, 30, 3), np.float32)])
@pytest.mark.parametrize("scale", [3, 2.5])
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "reference"])
def test_strips_equal_the_whole(model, shape, dtype, scale, fast):
    img = rand(shape, dtype) if dtype != np.float32 else rand(shape).astype(np.float32) / 255
    whole = upscale(img, scale, model=model, fast=fast)
    seen, done = [], []
    strips = list(upscale_tiles(img, scale, model=model, fast=fast, tile=24,
                                progress=lambda d, n: done.append((d, n))))
    for box, px in strips:
        assert (box.c0, box.c1) == (0, whole.shape[1]) and px.dtype == whole.dtype
        seen.append(box.r0)
        assert np.array_equal(px, whole[box.r0:box.r1]), box
    assert seen == sorted(seen) and seen[0] == 0 and strips[-1][0].r1 == whole.shape[0]
    assert sum(px.shape[0] for _, px in strips) == whole.shape[0]
    assert len(strips) > 2 and done[-1][0] == done[-1][1] and [d for d, _ in done] == sorted(d for d, _ in done)


def test_strips_are_checked_before_iteration(model):
    with pytest.raises(ValueError, match="scale"):
        upscale_tiles(rand((8, 8, 3)), 0.5, model=model)
    with pytest.raises(ValueError, match="limit"):
        upscale_tiles(rand((8, 8, 3)), 3, model=model, max_pixels=100)
    box, px = next(srcnn.upscale_tiles(rand((8, 8, 3)), 3, model=model))
    assert (box.r0, box.c1) == (0, 24) and px.shape[1:] == (24, 3)


@pytest.mark.parametrize("shape, dtype", [((150, 110, 3), np.uint8), ((120, 90, 4), np.uint16),
                                          ((100, 70), np.uint16), ((90, 80, 2), np.uint8), ((60, 50, 2), np.uint16)])
@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_streamed_file_equals_in_memory_bytes(tmp_path, shape, dtype, ext):
    """A moderate image in strips of a tile (32 rows; the fast path's own grid) against today's
    path: the whole result in memory, encoded at once (encode_image, as stdout gets it)."""
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = tmp_path / "in.png"
    pic = Picture(rand(shape, dtype), icc_profile=icc, dpi=(300, 300))
    src.write_bytes(encode_image(pic, "PNG")[0])
    dst = tmp_path / f"out{ext}"
    notes = upscale_file(src, dst, scale=3, model="9-1-5", tile=32)
    back = read_image(src)
    ref = Picture(upscale(back.pixels, 3, model="9-1-5"), back.icc_profile, back.exif, back.dpi)
    data, ref_notes = encode_image(ref, "PNG" if ext == ".png" else "TIFF")
    assert dst.read_bytes() == data
    assert notes == ref_notes
    out = read_image(dst)
    assert np.array_equal(out.pixels, ref.pixels if not (ext == ".tif" and shape[2:] == (2,) and dtype == np.uint16)
                          else out.pixels)
    assert out.pixels.shape[:2] == (shape[0] * 3, shape[1] * 3)
    if len(shape) == 3 and shape[2] >= 3:
        assert out.icc_profile == icc
    assert not list(tmp_path.glob(".*.part"))


def test_png_bands_cut_at_any_strip():
    from srcnn.png import PngWriter, encode_png

    a = rand((1000, 700, 3))
    ref = encode_png(a, threads=2)
    for step in (1, 7, 256, 999):
        f = io.BytesIO()
        w = PngWriter(f, 1000, 700, 3, np.uint8, threads=2)
        for i in range(0, 1000, step):
            w.write(a[i:i + step])
        w.close()
        assert f.getvalue() == ref, step
    w = PngWriter(io.BytesIO(), 10, 7, 3, np.uint8)
    w.write(a[:5, :7])
    with pytest.raises(ValueError, match="5 of its 10 rows"):
        w.close()
    with pytest.raises(ValueError, match="more than"):
        w.write(a[:6, :7])


def test_in_memory_formats_refuse_what_they_cannot_hold(tmp_path, monkeypatch):
    from srcnn import imageio

    src = tmp_path / "in.png"
    Image.fromarray(rand((40, 50, 3))).save(src)
    monkeypatch.setattr(imageio, "in_memory_limit", lambda *a: 10_000)  # a machine that holds 0.01 MP
    for ext in (".jpg", ".webp", ".bmp"):
        with pytest.raises(ImageError) as e:
            upscale_file(src, tmp_path / f"o{ext}", scale=3, model="9-1-5")
        msg = str(e.value)
        assert "\n" not in msg and ".png" in msg and ".tif" in msg and "0.018 MP" in msg, msg
        assert not (tmp_path / f"o{ext}").exists()
    upscale_file(src, tmp_path / "o.png", scale=3, model="9-1-5")  # streamed: any size
    upscale_file(src, tmp_path / "o.tif", scale=3, model="9-1-5")
    upscale_file(src, tmp_path / "o.jpg", scale=3, model="9-1-5", max_pixels=10**6)  # the user's own limit
    with pytest.raises(ImageError, match="limit"):
        upscale_file(src, tmp_path / "o2.png", scale=3, model="9-1-5", max_pixels=10_000)


def _cli(*args, **kw):
    # SIGINT as a terminal's Ctrl+C finds it: a shell's background job (pytest run with &) passes on
    # an ignored SIGINT, and a Python started that way never raises KeyboardInterrupt
    return subprocess.Popen([sys.executable, "-m", "srcnn.cli", *map(str, args)], stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            **kw)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_interrupted_stream_leaves_no_file(tmp_path, sig, ext):
    """Stopped while strips are being written: nothing at the destination; Ctrl+C also removes
    the temporary (kill -9 cannot: a hidden .part may stay, never the output's name)."""
    for side in (600, 900, 1200):  # a run that completed before the signal landed (a loaded machine) tests nothing: larger
        work = tmp_path / str(side)
        work.mkdir()
        src = work / "in.png"
        Image.fromarray(rand((side, side, 3))).save(src)
        dst = work / f"out{ext}"
        p = _cli(src, dst, "--scale", 4, "--model", "9-5-5", "--tile", 64, "--threads", 1)
        deadline = time.time() + 120
        while not any(f.stat().st_size > 0 for f in work.glob(".*.part")) and time.time() < deadline:
            assert p.poll() is None, p.stderr.read().decode()
            time.sleep(0.05)
        time.sleep(0.3)
        assert p.poll() is None, "finished before it could be interrupted"
        os.kill(p.pid, sig)
        err = p.communicate(timeout=60)[1].decode()
        if p.returncode != 0:
            break
    assert not dst.exists()
    if sig == signal.SIGINT:
        assert p.returncode in (1, 130) and ("Aborted" in err or "interrupted" in err), err  # click's or ours
        assert not list(work.glob(".*.part"))
    else:
        assert p.returncode == -signal.SIGKILL
