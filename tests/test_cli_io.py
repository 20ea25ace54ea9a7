"""`srcnn-cli` through real pipes (`-` for stdin / stdout), animated inputs and CMYK JPEGs."""
import io
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageCms, features

CLI = [sys.executable, "-m", "srcnn.cli"]


@pytest.fixture
def env(tiny_weights):
    return dict(os.environ, SRCNN_WEIGHTS=str(tiny_weights))


@pytest.fixture
def run(env, tmp_path):
    """srcnn-cli with ``stdin`` bytes piped in; stdout as bytes, stderr as text."""
    def _run(*args, stdin=b""):
        r = subprocess.run([*CLI, *map(str, args)], input=stdin, capture_output=True, env=env, cwd=tmp_path,
                           timeout=120)
        r.stderr = r.stderr.decode()
        return r
    return _run


def rand(shape, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, np.iinfo(dtype).max + 1, shape).astype(dtype)


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def one_line_error(r):
    assert r.returncode != 0
    assert r.stdout == b""  # nothing half-written on stdout
    assert "Traceback" not in r.stderr
    errors = [l for l in r.stderr.splitlines() if "error" in l]
    assert len(errors) == 1, r.stderr
    return errors[0]


def png_length(data: bytes) -> int:
    """Bytes up to the end of the IEND chunk: the whole stream when it holds one PNG and nothing else."""
    pos = 8
    while True:
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        pos += 12 + n
        if kind == b"IEND":
            return pos


# -- stdin / stdout ---------------------------------------------------------------------------

def test_stdin_to_stdout_is_the_same_image_as_files(run, tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(rand((20, 24, 3))).save(src)
    r = run("-", "-", "--scale", 2, stdin=src.read_bytes())
    assert r.returncode == 0, r.stderr
    assert "x2 with" in r.stderr  # the usual line, on stderr
    assert r.stdout[:8] == b"\x89PNG\r\n\x1a\n" and png_length(r.stdout) == len(r.stdout)
    out = decode(r.stdout)
    assert out.format == "PNG" and out.size == (48, 40) and out.mode == "RGB"
    assert run(src, "out.png", "--scale", 2).returncode == 0
    np.testing.assert_array_equal(np.asarray(out), np.asarray(Image.open(tmp_path / "out.png")))


@pytest.mark.parametrize("fmt, kw", [("JPEG", {"quality": 90}), ("WEBP", {"lossless": True}), ("TIFF", {}),
                                     ("BMP", {})])
def test_stdout_format_sniffed_from_stdin(run, fmt, kw):
    r = run("-", "-", "--scale", 2, stdin=encode(Image.fromarray(rand((10, 12, 3))), fmt, **kw))
    assert r.returncode == 0, r.stderr
    out = decode(r.stdout)
    assert out.format == fmt and out.size == (24, 20)


def test_stdout_format_option_and_file_input(run, tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(rand((10, 12, 4)), "RGBA").save(src)
    r = run(src, "-", "--format", "jpg", "--scale", 2)
    assert r.returncode == 0, r.stderr
    assert "<stdout>: JPEG has no alpha channel: alpha dropped" in r.stderr
    out = decode(r.stdout)
    assert out.format == "JPEG" and out.mode == "RGB" and out.size == (24, 20)
    assert r.stdout.endswith(b"\xff\xd9")
    r = run(src, "-", "--scale", 2)  # the input's format by default
    assert r.returncode == 0 and decode(r.stdout).format == "PNG" and decode(r.stdout).mode == "RGBA"


def test_stdin_to_file_and_16bit(run, tmp_path):
    import cv2
    ok, buf = cv2.imencode(".png", rand((8, 10, 3), np.uint16))
    r = run("-", "o16.png", "--scale", 2, stdin=buf.tobytes())
    assert r.returncode == 0, r.stderr
    assert r.stdout == b""
    img = cv2.imread(str(tmp_path / "o16.png"), cv2.IMREAD_UNCHANGED)
    assert img.dtype == np.uint16 and img.shape == (16, 20, 3)


def test_pipeline_of_processes(env, tmp_path):
    """other tool | srcnn-cli - - | srcnn-cli - - | reader: real OS pipes between processes."""
    make = "import sys, numpy as np; from PIL import Image; " \
           "Image.fromarray(np.full((6, 7, 3), 100, np.uint8)).save(sys.stdout.buffer, 'PNG')"
    p0 = subprocess.Popen([sys.executable, "-c", make], stdout=subprocess.PIPE)
    p1 = subprocess.Popen([*CLI, "-", "-", "--scale", "2"], stdin=p0.stdout, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, env=env, cwd=tmp_path)
    p2 = subprocess.Popen([*CLI, "-", "-", "--scale", "3", "--format", "webp"], stdin=p1.stdout,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=tmp_path)
    p0.stdout.close(), p1.stdout.close()
    data, _ = p2.communicate(timeout=120)
    assert p0.wait() == 0 and p1.wait() == 0 and p2.returncode == 0
    out = decode(data)
    assert out.format == "WEBP" and out.size == (42, 36)


def test_nothing_but_the_image_on_stdout(env):
    """While the image is on its way, anything printed (Python or C, to fd 1) goes to stderr."""
    code = ("import os, sys, click; from srcnn.cli import _Stdout\n"
            "with click.Context(click.Command('x')):\n"
            "    out = _Stdout()\n"
            "    print('python noise'); sys.stdout.flush(); os.write(1, b'C noise\\n')\n"
            "    out.write(b'IMAGE')\n"
            "    out.close()\n"
            "print('after')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"IMAGEafter\n"
    assert b"python noise" in r.stderr and b"C noise" in r.stderr


@pytest.mark.parametrize("stdin, needle", [(b"", "empty input"), (b"not an image at all", "not an image file"),
                                           (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "<stdin>")])
def test_bad_stdin(run, stdin, needle):
    assert needle in one_line_error(run("-", "-", stdin=stdin))


def test_dash_refused_in_batches(run, tmp_path):
    (tmp_path / "d").mkdir()
    Image.fromarray(rand((8, 8, 3))).save(tmp_path / "d" / "a.png")
    png = (tmp_path / "d" / "a.png").read_bytes()
    for args in (("d", "-"), ("d/*.png", "-"), ("-", "d"), ("-", "d/a.png", "out"), ("d/a.png", "d/a.png", "-")):
        assert "not a batch" in one_line_error(run(*args, stdin=png)), args


def test_refuses_a_terminal(env, tmp_path):
    """Image bytes are not written to a terminal, and a terminal is not read as an image."""
    import pty
    src = tmp_path / "in.png"
    Image.fromarray(rand((8, 8, 3))).save(src)
    for args, tty_on in (((src, "-"), "stdout"), (("-", tmp_path / "o.png"), "stdin")):
        main, sub = pty.openpty()
        try:
            r = subprocess.run([*CLI, *map(str, args)], env=env, timeout=60, stderr=subprocess.PIPE,
                               **({"stdout": sub} if tty_on == "stdout" else {"stdin": sub}))
        finally:
            os.close(sub), os.close(main)
        assert r.returncode == 1 and "terminal" in r.stderr.decode(), r.stderr
        assert len([l for l in r.stderr.decode().splitlines() if "error" in l]) == 1
    assert not (tmp_path / "o.png").exists()


# -- animated inputs ---------------------------------------------------------------------------

COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]


def frames():
    return [Image.new("RGB", (8, 6), c) for c in COLOURS]


def animated(fmt):
    f = frames()
    kw = {"lossless": True} if fmt == "WEBP" else {}
    return encode(f[0], fmt, save_all=True, append_images=f[1:], duration=100, loop=0, **kw)


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_animated_input_says_only_first_frame(run, tmp_path, fmt):
    data = animated(fmt)
    assert getattr(decode(data), "n_frames", 1) == 3
    # the identity 9-1-5 model: a flat frame stays flat, so the output shows which frame was taken
    r = run("-", "-", "--model", "9-1-5", "--scale", 3, stdin=data)
    assert r.returncode == 0, r.stderr
    assert f"animated {fmt} with 3 frames: only the first is upscaled" in r.stderr
    out = decode(r.stdout)
    assert out.size == (24, 18)
    assert out.format == ("PNG" if fmt == "GIF" else fmt)
    if fmt == "GIF":
        assert "GIF cannot be written: written as PNG" in r.stderr
    px = np.asarray(out.convert("RGB")).astype(int)
    assert np.abs(px - COLOURS[0]).max() <= 3, px[0, 0]
    quiet = run("-", "-", "--model", "9-1-5", "--scale", 3, "--quiet", stdin=data)
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_still_images_have_no_frame_note(run):
    r = run("-", "-", "--scale", 2, stdin=encode(frames()[0], "GIF"))
    assert r.returncode == 0 and "frame" not in r.stderr


# -- CMYK JPEGs --------------------------------------------------------------------------------

def _s15(x):
    return struct.pack(">i", round(x * 65536))


def cmyk_profile() -> bytes:
    """A minimal ICC v2 CMYK output profile (A2B0 lut8 to Lab) in which cyan ink looks red.

    Deliberately unlike the plain formula (cyan ink -> (0, 255, 255)), so that a red result
    shows the profile was used. Grid corners: any black ink -> L*=0; cyan -> Lab(53, 80, 67),
    sRGB red; no ink -> white.
    """
    clut = []
    for c in (0, 1):
        for m in (0, 1):
            for y in (0, 1):
                for k in (0, 1):
                    clut += (0, 128, 128) if k else (136, 208, 195) if c else (255, 128, 128)
    ident = bytes(range(256))
    lut = (b"mft1" + bytes(4) + bytes([4, 3, 2, 0]) + b"".join(_s15(float(i % 4 == 0)) for i in range(9))
           + ident * 4 + bytes(clut) + ident * 3)
    text = b"test CMYK\0"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(4 + 4 + 2 + 1 + 67)
    d50 = _s15(0.9642) + _s15(1.0) + _s15(0.8249)
    tags = [(b"desc", desc), (b"wtpt", b"XYZ " + bytes(4) + d50), (b"A2B0", lut)]
    offset = 128 + 4 + 12 * len(tags)
    table, body = struct.pack(">I", len(tags)), b""
    for sig, t in tags:
        t += bytes(-len(t) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(t))
        body += t
    header = (struct.pack(">I", offset + len(body)) + bytes(4) + struct.pack(">I", 0x02100000) + b"prtrCMYKLab "
              + bytes(12) + b"acsp" + bytes(28) + d50 + bytes(48))
    assert len(header) == 128
    return header + table + body


def cmyk_jpeg(icc=None) -> bytes:
    """Left third cyan ink, middle no ink, right third full black; Pillow writes Adobe-style inverted CMYK."""
    a = np.zeros((12, 18, 4), np.uint8)
    a[:, :6, 0] = 255
    a[:, 12:, 3] = 255
    data = encode(Image.fromarray(a, "CMYK"), "JPEG", quality=95, **({"icc_profile": icc} if icc else {}))
    im = decode(data)
    assert im.mode == "CMYK" and "adobe" in im.info  # the inverted kind, which Pillow's reader undoes
    return data


def patches(out: Image.Image) -> list:
    """Mean RGB in the middle of the three vertical thirds."""
    a = np.asarray(out).astype(float)
    w = a.shape[1] // 3
    return [a[3:-3, i * w + 3:(i + 1) * w - 3].reshape(-1, 3).mean(0) for i in range(3)]


def test_cmyk_jpeg_without_profile(run, tmp_path):
    r = run("-", "-", "--model", "9-1-5", "--scale", 3, stdin=cmyk_jpeg())
    assert r.returncode == 0, r.stderr
    assert "CMYK image converted to RGB with the plain formula (it has no ICC profile)" in r.stderr
    out = decode(r.stdout)
    assert out.format == "JPEG" and out.mode == "RGB" and out.size == (54, 36)
    assert "icc_profile" not in out.info
    cyan, white, black = patches(out)
    assert np.abs(cyan - (0, 255, 255)).max() < 12, cyan
    assert np.abs(white - 255).max() < 12 and np.abs(black).max() < 12, (white, black)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif"])
def test_cmyk_jpeg_through_its_icc_profile(run, tmp_path, ext):
    icc = cmyk_profile()
    src = tmp_path / "cmyk.jpg"
    src.write_bytes(cmyk_jpeg(icc))
    assert Image.open(src).info["icc_profile"] == icc
    r = run(src, f"out{ext}", "--model", "9-1-5", "--scale", 3)
    assert r.returncode == 0, r.stderr
    assert "CMYK image converted to sRGB through its ICC profile" in r.stderr
    out = Image.open(tmp_path / f"out{ext}")
    assert out.mode == "RGB" and out.size == (54, 36)
    assert out.info.get("icc_profile") is None  # the CMYK profile does not describe RGB samples
    red, white, black = patches(out)
    assert red[0] > 200 and red[1] < 60 and red[2] < 60, red  # the profile's colour, not the formula's cyan
    assert np.abs(white - 255).max() < 12 and np.abs(black).max() < 12, (white, black)


def test_cmyk_jpeg_with_a_broken_profile(run, tmp_path):
    icc = cmyk_profile()
    bad = icc[:128] + b"\xff" * (len(icc) - 128)  # a CMYK header, garbage tags
    r = run("-", "-", "--model", "9-1-5", "--scale", 3, stdin=cmyk_jpeg(bad))
    assert r.returncode == 0, r.stderr
    assert "plain formula (its ICC profile cannot be used" in r.stderr
    out = decode(r.stdout)
    assert out.mode == "RGB" and "icc_profile" not in out.info
    assert np.abs(patches(out)[0] - (0, 255, 255)).max() < 12


def test_mismatched_icc_profile_is_not_carried(run, tmp_path):
    """An sRGB profile on a grey image is dropped from the output, with a note."""
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = tmp_path / "grey.png"
    Image.fromarray(rand((8, 8))).save(src, icc_profile=srgb)
    assert Image.open(src).info["icc_profile"] == srgb
    r = run(src, "grey_out.png", "--scale", 2)
    assert r.returncode == 0, r.stderr
    assert "ICC profile dropped: it is for RGB, the output is grey" in r.stderr
    out = Image.open(tmp_path / "grey_out.png")
    assert out.mode == "L" and "icc_profile" not in out.info
    r = run(src, "rgb_out.webp", "--scale", 2)  # WebP holds grey as RGB: the sRGB profile fits
    assert r.returncode == 0 and "dropped" not in r.stderr
    assert Image.open(tmp_path / "rgb_out.webp").info.get("icc_profile") == srgb
