"""The photo models (issue 27): chosen for JPEG inputs by content, loaded by every runtime, and,
where shipped, measured to gain over bicubic on degraded inputs (docs/realworld.json)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import random_layers

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "srcnn.cli", *args], capture_output=True, text=True, env=env)


def picture(h=40, w=52):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.dstack([128 + 60 * np.sin(xx / 4.0), 128 + 50 * np.cos(yy / 5.0), 100 + 0 * xx])
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


@pytest.fixture
def photo_weights(tiny_weights):
    """tiny_weights plus a (random) photo model at x2, x3, x4 that differs from 9-5-5."""
    from srcnn.export import write_model
    for s in (2, 3, 4):
        write_model(tiny_weights, f"srcnn_photo_x{s}", random_layers(100 + s), scale=s, variant="photo")
    return tiny_weights


def test_auto_picks_photo_for_jpeg_by_content(tmp_path, photo_weights):
    import os
    env = dict(os.environ, SRCNN_WEIGHTS=str(photo_weights))
    img = picture()
    Image.fromarray(img).save(tmp_path / "shot.jpg", quality=70)
    Image.fromarray(img).save(tmp_path / "fine.jpg", quality=95)
    # a JPEG under a PNG name is still a JPEG: the bytes decide, not the extension
    (tmp_path / "disguised.png").write_bytes((tmp_path / "shot.jpg").read_bytes())
    Image.fromarray(img).save(tmp_path / "clean.png")
    for src in ("shot.jpg", "disguised.png", "clean.png", "fine.jpg"):
        for m in ("auto", "photo", "9-5-5"):
            r = cli(str(tmp_path / src), str(tmp_path / f"{m}_{src}.png"), "--scale", "2", "--model", m, env=env)
            assert r.returncode == 0, r.stderr
            if m == "auto":
                assert ("photo model ran" in r.stderr) == (src in ("shot.jpg", "disguised.png")), r.stderr
                assert ("quality about 70" in r.stderr) == (src in ("shot.jpg", "disguised.png"))

    def px(name):
        return np.asarray(Image.open(tmp_path / name))
    for src in ("shot.jpg", "disguised.png"):
        assert np.array_equal(px(f"auto_{src}.png"), px(f"photo_{src}.png"))
        assert not np.array_equal(px(f"auto_{src}.png"), px(f"9-5-5_{src}.png"))
    assert np.array_equal(px("auto_clean.png.png"), px("9-5-5_clean.png.png"))
    assert np.array_equal(px("auto_fine.jpg.png"), px("9-5-5_fine.jpg.png"))


def test_auto_without_a_photo_model_is_9_5_5(tiny_weights):
    from srcnn.imageio import auto_model
    assert auto_model("JPEG") == ("9-5-5", None)
    assert auto_model("PNG") == ("9-5-5", None)


def test_auto_keeps_9_5_5_for_high_quality_jpeg(photo_weights):
    """A JPEG saved at high quality (where 9-5-5 wins, docs/realworld.md) keeps 9-5-5; the
    quality is read from the file's quantization tables."""
    from srcnn.imageio import PHOTO_BELOW_QUALITY, auto_model
    assert auto_model("JPEG", quality=PHOTO_BELOW_QUALITY)[0] == "9-5-5"
    assert auto_model("JPEG", quality=PHOTO_BELOW_QUALITY - 1)[0] == "photo"
    assert auto_model("JPEG", quality=None)[0] == "photo"


@pytest.mark.parametrize("q", [20, 50, 75, 90, 95, 100])
def test_jpeg_quality_from_pillow_and_opencv_files(q):
    """The IJG quality of a file's tables, for files written by Pillow and by OpenCV (libjpeg)."""
    import io
    import cv2
    from srcnn.imageio import read_image
    img = picture(48, 48)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=q)
    assert read_image(buf.getvalue()).info["jpeg_quality"] == q
    ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
    assert read_image(enc.tobytes()).info["jpeg_quality"] == q
    assert "jpeg_quality" not in read_image(cv2.imencode(".png", img)[1].tobytes()).info


def test_photo_variant_resolves(photo_weights):
    from srcnn.runtime import resolve_model
    assert resolve_model("photo", 3).name == "srcnn_photo_x3"
    assert resolve_model("photo", 2.5).variant == "photo"


def test_opencv_build_writes_photo_files_that_cv2_loads(tmp_path, photo_weights):
    """build.py opencv writes srcnn_photo_x{S} beside srcnn_x{S}; cv2.dnn runs them and agrees
    with the core on the same weights."""
    import srcnn.opencv as ocv
    from srcnn.opencv.build import main as build_opencv
    from srcnn.pipeline import upscale
    out = tmp_path / "models"
    assert build_opencv(["--weights", str(photo_weights), "--out", str(out), "--rgb-variant", ""]) == 0
    names = sorted(p.name for p in out.iterdir())
    for s in (2, 3, 4):
        for e in (".onnx", ".pb", "_superres.onnx"):
            assert f"srcnn_photo_x{s}{e}" in names and f"srcnn_x{s}{e}" in names
    assert ocv.available_scales(out, photo=True) == [2, 3, 4]
    bgr = picture()[:, :, ::-1].copy()
    got = ocv.upsample_bgr(bgr, 3, folder=out, photo=True)
    want = upscale(bgr[:, :, ::-1], 3, model="photo", fast=False)[:, :, ::-1]
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    other = ocv.upsample_bgr(bgr, 3, folder=out)
    assert not np.array_equal(got, other)


# ---- the shipped photo models, where they are in weights/ ----

def shipped_photo():
    from srcnn.runtime import available_models
    return [m for m in available_models(ROOT / "weights") if m.variant == "photo"]


@pytest.mark.skipif(not shipped_photo(), reason="no photo model shipped in weights/")
def test_shipped_photo_models_load_and_match_their_opencv_files():
    import srcnn.opencv as ocv
    from srcnn.pipeline import upscale
    from srcnn.runtime import Model
    img = picture(30, 36)
    for info in shipped_photo():
        Model(info)  # sha256 verified
        s = info.scale
        fast = upscale(img, s, model=str(info.manifest_path))
        ref = upscale(img, s, model=str(info.manifest_path), fast=False)
        assert np.abs(fast.astype(int) - ref.astype(int)).max() <= 1
        if s in ocv.available_scales(photo=True):
            got = ocv.upsample_bgr(img[:, :, ::-1].copy(), s, photo=True)[:, :, ::-1]
            assert np.abs(got.astype(int) - ref.astype(int)).max() <= 1


@pytest.mark.skipif(not shipped_photo(), reason="no photo model shipped in weights/")
def test_shipped_photo_models_never_below_bicubic_and_beat_9_5_5_on_jpeg():
    """The measured grid (python bench/realworld.py; build.py weights) of each shipped photo model:
    above bicubic in every case measured, and above the clean 9-5-5 model of its scale on JPEG q50/q75."""
    data = json.loads((ROOT / "docs" / "realworld.json").read_text())
    for info in shipped_photo():
        rows = [r for r in data["rows"] if r["sha256"] == info.sha256]
        assert rows, f"{info.name}: no real-photo rows for this file (run python bench/realworld.py)"
        for r in rows:
            assert r["gain"] > 0, r
        clean = {(r["set"], r["spec"]): r["gain"] for r in data["rows"]
                 if r["variant"] == "9-5-5" and r["scale"] == info.scale}
        for r in rows:
            if r["spec"] in ("jpeg:75", "jpeg:50") and (r["set"], r["spec"]) in clean:
                assert r["gain"] > clean[(r["set"], r["spec"])], r
