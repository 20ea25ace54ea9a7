"""`srcnn-cli` through a real subprocess: files, formats, metadata, safety and errors."""
import io
import os
import subprocess
import sys
import zlib
import struct

import numpy as np
import pytest
from PIL import Image

from srcnn.imageio import read_image


@pytest.fixture
def run(tiny_weights, tmp_path):
    env = dict(os.environ, SRCNN_WEIGHTS=str(tiny_weights))

    def _run(*args, cwd=tmp_path):
        return subprocess.run([sys.executable, "-m", "srcnn.cli", *map(str, args)], capture_output=True,
                              text=True, env=env, cwd=cwd, timeout=120)
    return _run


def rand(shape, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, np.iinfo(dtype).max + 1, shape).astype(dtype)


def one_line_error(r):
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = [l for l in r.stderr.splitlines() if "error" in l]
    assert lines, r.stderr
    return lines[-1]


@pytest.mark.parametrize("mode, shape", [("L", (20, 24)), ("LA", (20, 24, 2)), ("RGB", (20, 24, 3)), ("RGBA", (20, 24, 4))])
@pytest.mark.parametrize("ext", [".png", ".tif", ".webp", ".bmp"])
def test_modes_and_formats(run, tmp_path, mode, shape, ext):
    if ext == ".bmp" and mode in ("LA", "RGBA"):
        pytest.skip("BMP alpha is not read back by Pillow")
    src = tmp_path / f"in{ext}"
    Image.fromarray(rand(shape), mode).save(src, **({"lossless": True} if ext == ".webp" else {}))
    r = run(src, tmp_path / f"out{ext}", "--scale", 2)
    assert r.returncode == 0, r.stderr
    out = Image.open(tmp_path / f"out{ext}")
    assert out.size == (48, 40)
    if ext != ".webp":  # WebP stores grey as RGB
        assert out.mode == mode


def test_jpeg_quality_and_alpha_note(run, tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(rand((16, 16, 4)), "RGBA").save(src)
    r = run(src, tmp_path / "o.jpg", "--quality", 80)
    assert r.returncode == 0 and "alpha dropped" in r.stderr
    assert Image.open(tmp_path / "o.jpg").size == (48, 48)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16bit_in_16bit_out(run, tmp_path, channels):
    import cv2
    a = rand((12, 10, channels) if channels > 1 else (12, 10), np.uint16, seed=channels)
    src = tmp_path / "in16.png"
    cv2.imwrite(str(src), a if channels == 1 else a[..., [2, 1, 0, 3][:channels]])
    r = run(src, tmp_path / "out16.png", "--scale", 2, "--model", "9-1-5")  # identity net: no clipping
    assert r.returncode == 0, r.stderr
    out = read_image(tmp_path / "out16.png").pixels
    assert out.dtype == np.uint16 and out.shape[:2] == (24, 20)
    # the low bits carry information: not an 8-bit image scaled up
    assert (out % 257 != 0).mean() > 0.5


def test_palette_image(run, tmp_path):
    src = tmp_path / "p.png"
    Image.fromarray(rand((10, 10, 3))).convert("P", palette=Image.ADAPTIVE).save(src)
    r = run(src, tmp_path / "p_out.png")
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "p_out.png").mode == "RGB"


def test_exif_orientation_applied_and_metadata_kept(run, tmp_path):
    im = Image.fromarray(rand((10, 20, 3)))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    exif[0x010F] = "TestCam"
    src = tmp_path / "rot.jpg"
    im.save(src, exif=exif.tobytes(), quality=95)
    r = run(src, tmp_path / "rot_out.jpg", "--scale", 2)
    assert r.returncode == 0, r.stderr
    out = Image.open(tmp_path / "rot_out.jpg")
    assert out.size == (20, 40)  # 10x20 stored, 20 wide x 10 high displayed... rotated: (w, h) = (10*2, 20*2)
    ex = out.getexif()
    assert ex.get(0x0112, 1) == 1 and ex.get(0x010F) == "TestCam"


def test_icc_profile_carried(run, tmp_path):
    from PIL import ImageCms
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = tmp_path / "icc.png"
    Image.fromarray(rand((8, 8, 3))).save(src, icc_profile=icc)
    for ext in (".png", ".jpg", ".tif"):
        r = run(src, tmp_path / f"icc_out{ext}")
        assert r.returncode == 0, r.stderr
        assert Image.open(tmp_path / f"icc_out{ext}").info.get("icc_profile") == icc


def test_icc_carried_into_16bit_png(run, tmp_path):
    import cv2
    from PIL import ImageCms
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    plain = tmp_path / "p16.png"
    cv2.imwrite(str(plain), rand((8, 8, 3), np.uint16))
    data = plain.read_bytes()
    chunk = b"iCCP" + b"x\x00\x00" + zlib.compress(icc)
    data = data[:33] + struct.pack(">I", len(chunk) - 4) + chunk + struct.pack(">I", zlib.crc32(chunk)) + data[33:]
    src = tmp_path / "icc16.png"
    src.write_bytes(data)
    r = run(src, tmp_path / "icc16_out.png")
    assert r.returncode == 0, r.stderr
    out = Image.open(tmp_path / "icc16_out.png")
    assert out.info.get("icc_profile") == icc
    assert read_image(tmp_path / "icc16_out.png").pixels.dtype == np.uint16


def test_never_overwrites(run, tmp_path):
    src = tmp_path / "a.png"
    Image.fromarray(rand((8, 8, 3))).save(src)
    before = src.read_bytes()
    line = one_line_error(run(src, src, "--overwrite"))
    assert "input" in line and src.read_bytes() == before
    dst = tmp_path / "b.png"
    dst.write_bytes(b"keep me")
    line = one_line_error(run(src, dst))
    assert "--overwrite" in line and dst.read_bytes() == b"keep me"
    assert run(src, dst, "--overwrite").returncode == 0
    assert Image.open(dst).size == (24, 24)


@pytest.mark.parametrize("content, what", [
    (b"", "empty"),
    (b"this is not an image at all", "not an image"),
    (None, "truncated"),
    (None, "corrupt"),
])
def test_bad_files(run, tmp_path, content, what):
    src = tmp_path / "bad.png"
    if content is None:
        buf = io.BytesIO()
        Image.fromarray(rand((64, 64, 3))).save(buf, "PNG")
        data = buf.getvalue()
        if what == "truncated":
            data = data[: len(data) // 2]
        else:
            data = data[:60] + bytes(200) + data[260:]
        src.write_bytes(data)
    else:
        src.write_bytes(content)
    line = one_line_error(run(src, tmp_path / "out.png"))
    assert "bad.png" in line
    assert not (tmp_path / "out.png").exists()
    assert not list(tmp_path.glob(".*.part"))


def test_header_announcing_huge_image(run, tmp_path):
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    src = tmp_path / "bomb.png"
    src.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))
    line = one_line_error(run(src, tmp_path / "out.png"))
    assert "MP" in line and "limit" in line


@pytest.mark.parametrize("args, needle", [
    (["--scale", "0"], "scale"), (["--scale", "0.5"], "scale"), (["--scale", "abc"], "scale"),
    (["--tile", "0"], "tile"), (["--threads", "0"], "threads"), (["--model", "nope"], "unknown model"),
    (["--engine", "tpu"], "engine"), (["--scale", "16", "--max-pixels", "100"], "limit"),
    (["--scale", "8", "--max-pixels", "1000"], "x8 of 8x8 is 64x64 = 0.0041 mp, over the output limit of 0.001 mp"),
])
def test_bad_options(run, tmp_path, args, needle):
    src = tmp_path / "a.png"
    Image.fromarray(rand((8, 8, 3))).save(src)
    r = run(src, tmp_path / "o.png", *args)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert needle in r.stderr.lower()
    assert not (tmp_path / "o.png").exists()


def test_unwritable_and_unknown_output(run, tmp_path):
    src = tmp_path / "a.png"
    Image.fromarray(rand((8, 8, 3))).save(src)
    one_line_error(run(src, tmp_path / "missing_dir" / "o.png"))
    one_line_error(run(src, tmp_path / "o.xyz"))
    if os.geteuid() != 0:  # root can write anywhere
        ro = tmp_path / "ro"; ro.mkdir(); ro.chmod(0o500)
        one_line_error(run(src, ro / "o.png"))


def test_batch_folder_with_a_bad_file(run, tmp_path):
    d = tmp_path / "in"; (d / "sub").mkdir(parents=True)
    Image.fromarray(rand((8, 8, 3))).save(d / "a.png")
    Image.fromarray(rand((8, 8, 3))).save(d / "sub" / "b.jpg")
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    r = run(d, tmp_path / "out", "--recursive", "--scale", 2)
    assert r.returncode == 1 and "broken.png" in r.stderr and "1 failed" in r.stderr and "Traceback" not in r.stderr
    assert (tmp_path / "out" / "a_x2.png").exists() and (tmp_path / "out" / "sub" / "b_x2.jpg").exists()
    r = run(d, tmp_path / "out", "--recursive", "--scale", 2, "--skip-existing")
    assert "2 skipped" in r.stderr


def test_glob_and_pattern(run, tmp_path):
    for k in range(3):
        Image.fromarray(rand((8, 8, 3), seed=k)).save(tmp_path / f"f{k}.png")
    r = run(str(tmp_path / "f*.png"), tmp_path / "o", "--name", "{stem}-big{ext}", "--format", "webp")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["f0-big.webp", "f1-big.webp", "f2-big.webp"]


def test_says_which_plan_for_fractional_scale(run, tmp_path):
    src = tmp_path / "a.png"
    Image.fromarray(rand((8, 8, 3))).save(src)
    r = run(src, tmp_path / "o.png", "--scale", 2.4)
    assert r.returncode == 0 and "x2 then x2, bicubic x0.6" in r.stderr, r.stderr
    assert Image.open(tmp_path / "o.png").size == (20, 20)
    r = run(src, tmp_path / "o6.png", "--scale", 6)
    assert r.returncode == 0 and "x2 then x3" in r.stderr, r.stderr
    assert Image.open(tmp_path / "o6.png").size == (48, 48)


def test_target_size(run, tmp_path):
    src = tmp_path / "a.png"
    Image.fromarray(rand((10, 16, 3))).save(src)
    r = run(src, tmp_path / "w.png", "--width", 40)
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "w.png").size == (40, 25)
    r = run(src, tmp_path / "h.png", "--height", 33)
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "h.png").size == (53, 33)
    # both: the largest size inside the box, aspect ratio kept
    r = run(src, tmp_path / "b.png", "--width", 100, "--height", 30)
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "b.png").size == (48, 30)
    r = run(src, tmp_path / "small.png", "--width", 8)
    assert r.returncode == 1 and "smaller than the image" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "small.png").exists()
    # in batches each file gets its own factor, and {scale} names the size
    d = tmp_path / "in"
    d.mkdir()
    Image.fromarray(rand((10, 16, 3))).save(d / "p.png")
    Image.fromarray(rand((20, 20, 3))).save(d / "q.png")
    r = run(d, tmp_path / "out", "--width", 64)
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "out" / "p_x64w.png").size == (64, 40)
    assert Image.open(tmp_path / "out" / "q_x64w.png").size == (64, 64)


def test_help_is_fast_and_torch_free():
    code = "import sys, srcnn.cli, srcnn.pipeline, srcnn.imageio; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    r = subprocess.run([sys.executable, "-m", "srcnn.cli", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "eval" in r.stdout


def test_models_and_demo(run, tmp_path):
    r = run("models")
    assert r.returncode == 0 and "x3" in r.stdout and "9-1-5" in r.stdout
    r = run("demo", tmp_path / "demo")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "demo" / "comparison.png").exists() and "bicubic" in r.stdout


def test_fast_default_within_one_level_of_reference(tmp_path):
    """The default (--fast, one onnxruntime graph per tile) against --reference, shipped x3 weights."""
    from srcnn.runtime import available_models
    if not any(m.variant == "9-5-5" and m.scale == 3 for m in available_models()):
        pytest.skip("no shipped 9-5-5 x3 weights")
    src = tmp_path / "a.png"
    Image.fromarray(rand((40, 52, 3))).save(src)
    for flag, name in ((["--reference"], "ref.png"), ([], "fast.png"), (["--fast"], "fast2.png")):
        r = subprocess.run([sys.executable, "-m", "srcnn.cli", str(src), str(tmp_path / name), *flag],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    a = np.asarray(Image.open(tmp_path / "ref.png")).astype(int)
    b = np.asarray(Image.open(tmp_path / "fast.png")).astype(int)
    assert a.shape == b.shape == (120, 156, 3) and np.abs(a - b).max() <= 1
    assert np.array_equal(b, np.asarray(Image.open(tmp_path / "fast2.png")))


def test_16bit_grey_alpha_png_stays_grey_alpha(run, tmp_path):
    from srcnn.png import encode_png

    rng = np.random.default_rng(5)
    a = rng.integers(0, 65536, (10, 12, 2), dtype=np.uint16)
    src = tmp_path / "ga16.png"
    src.write_bytes(encode_png(a))
    r = run(src, tmp_path / "o.png", "--scale", 2)
    assert r.returncode == 0, r.stderr
    raw = (tmp_path / "o.png").read_bytes()
    assert (raw[24], raw[25]) == (16, 4)  # IHDR: 16-bit grey+alpha
    import srcnn
    from srcnn.imageio import read_image
    out = read_image(tmp_path / "o.png").pixels
    assert out.shape == (20, 24, 2) and out.dtype == np.uint16
    assert np.array_equal(out, srcnn.upscale(a, 2))
