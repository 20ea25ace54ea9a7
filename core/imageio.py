"""Reading and writing images for the CLI and the Python API, carefully.

Keeps what SRCNN cannot improve: alpha, 16-bit depth, ICC profile, EXIF (orientation is
applied to the pixels and reset to 1). Refuses absurd sizes before decoding, reports corrupt
or truncated files as ``ImageError``, and writes through a temporary file in the destination
folder that is renamed into place, so an interrupted run never leaves a half-written file and
never touches the input. ``read_image`` also takes the file's bytes (``srcnn-cli -`` reads
stdin) and ``upscale_file`` also writes to a binary stream (stdout).
"""
from __future__ import annotations

import io
import math
import os
import struct
import sys
import tempfile
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["ImageError", "Picture", "read_image", "write_image", "upscale_file", "FORMATS", "STREAMED",
           "in_memory_limit"]

FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF",
           ".tiff": "TIFF", ".webp": "WEBP"}
MAX_INPUT_PIXELS = 200_000_000
STREAMED = ("PNG", "TIFF")  # written strip by strip as they are computed: any size the format holds
PNG_LEVEL = 1  # zlib level of written PNGs: OpenCV's default; 9 = smallest files
# Tags that describe a TIFF file's own pixel layout: never copied to another file.
_TIFF_STRUCTURE = (254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 280, 281, 282, 283,
                   284, 290, 291, 296, 317, 320, 322, 323, 324, 325, 338, 339, 340, 341, 530, 531, 532)


class ImageError(Exception):
    """A file that cannot be read or written as an image (message is one line for the user)."""


@dataclass
class Picture:
    """Decoded pixels plus what must be carried to the output.

    ``pixels``: (H, W) grey, (H, W, 2) grey+alpha, (H, W, 3) RGB or (H, W, 4) RGBA; uint8 or uint16.
    """
    pixels: np.ndarray
    icc_profile: bytes | None = None
    exif: bytes | None = None
    dpi: tuple | None = None
    info: dict = field(default_factory=dict)
    format: str | None = None  # the source's format as Pillow names it ('PNG', 'GIF', ...)
    notes: list = field(default_factory=list)  # what reading changed, one line each (for the user)


def _png_header(src: Path | bytes) -> tuple[int, int] | None:
    """(bit depth, colour type) from a PNG's IHDR (a file, or its bytes), or None."""
    if isinstance(src, bytes):
        head = src[:33]
    else:
        with open(src, "rb") as f:
            head = f.read(33)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or len(head) < 26:
        return None
    return head[24], head[25]


def _png_bit_depth(src: Path | bytes) -> int | None:
    h = _png_header(src)
    return h[0] if h else None


def read_image(path: str | os.PathLike | bytes, *, max_pixels: int = MAX_INPUT_PIXELS,
               scale: float | None = None, name: str = "<stdin>") -> Picture:
    """Decode an image file (PNG, JPEG, BMP, TIFF, WebP, GIF, ...), or its bytes, into a ``Picture``.

    Palette and 1-bit images become RGB(A) / grey; 16-bit PNG and TIFF stay 16-bit; CMYK
    becomes RGB (through its ICC profile when it has one); of an animated or multi-page file
    only the first frame is read. What was changed is in ``Picture.notes``. ``name``: how
    messages call ``bytes`` input. Raises ``ImageError`` for anything unreadable or larger than
    ``max_pixels``; with ``scale``, ``max_pixels`` is a limit on the output (``max_pixels`` /
    scale**2 on the input) and the message says so.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if isinstance(path, (bytes, bytearray, memoryview)):
        src = bytes(path)
        path = name
        if not src:
            raise ImageError(f"{path}: empty input")
        fp = io.BytesIO(src)
    else:
        src = path = Path(path)
        if not path.exists():
            raise ImageError(f"{path}: no such file")
        if path.is_dir():
            raise ImageError(f"{path}: is a folder, not an image")
        if path.stat().st_size == 0:
            raise ImageError(f"{path}: empty file")
        fp = path
    notes = []
    old_limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # our own check below, before anything is decoded
    try:
        with Image.open(fp) as im:
            w, h = im.size
            if scale is not None and math.ceil(w * scale) * math.ceil(h * scale) > max_pixels:
                ow, oh = math.ceil(w * scale), math.ceil(h * scale)
                raise ImageError(f"{path}: x{scale:g} of {w}x{h} is {ow}x{oh} = {ow * oh / 1e6:.3g} MP, over the "
                                 f"output limit of {max_pixels / 1e6:.3g} MP (raise it with --max-pixels)")
            if scale is None and w * h > max_pixels:
                raise ImageError(f"{path}: {w}x{h} = {w * h / 1e6:.3g} MP is over the input limit of "
                                 f"{max_pixels / 1e6:.3g} MP (raise it with --max-pixels)")
            if w == 0 or h == 0:
                raise ImageError(f"{path}: image has no pixels")
            fmt = im.format
            info = {"jpeg_quality": jpeg_quality(getattr(im, "quantization", None))} if fmt == "JPEG" else {}
            frames = getattr(im, "n_frames", 1)
            if frames > 1:
                what = "pages" if fmt == "TIFF" else "frames"
                notes.append(f"{'animated ' if what == 'frames' else ''}{fmt} with {frames} {what}: "
                             f"only the first is upscaled")
            icc = im.info.get("icc_profile")
            exif_obj = im.getexif()
            orientation = exif_obj.get(0x0112, 1)
            dpi = im.info.get("dpi")
            sixteen = _is_16bit_colour(src, im)
            if sixteen:
                arr = _read_16bit_colour(src, path)
                arr = _orient(arr, orientation)
            else:
                im.load()
                if im.mode == "CMYK":
                    im, icc = _cmyk_to_rgb(im, icc, notes)
                im = ImageOps.exif_transpose(im) if orientation != 1 else im
                arr = _pil_to_array(im, path)
            if orientation != 1 and 0x0112 in exif_obj:
                exif_obj[0x0112] = 1
            for tag in _TIFF_STRUCTURE:  # TIFF files expose their own layout tags as EXIF
                if tag in exif_obj:
                    del exif_obj[tag]
            exif = exif_obj.tobytes() if len(exif_obj) else None
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file, or a format this tool cannot read") from None
    except (OSError, SyntaxError, ValueError, struct.error, EOFError, zlib.error) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ImageError(f"{path}: corrupt or truncated image ({msg})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = old_limit
    return Picture(arr, icc, exif, dpi, info=info, format=fmt, notes=notes)


# The IJG (libjpeg) luminance table at quality 50, in natural order; a q-quality table is it
# scaled by 5000 / q (q < 50) or 200 - 2 q (q >= 50) percent, rounded, clipped to 1..255.
_IJG_LUMA = (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
             14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
             49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99)


def jpeg_quality(quantization: dict | None) -> int | None:
    """The IJG quality (1-100) whose luminance table is nearest a JPEG's own, or None.

    ``quantization``: Pillow's ``im.quantization`` ({table id: 64 values}; table 0 is luma).
    Encoders that use other tables get the IJG quality of about the same strength.
    """
    if not quantization or 0 not in quantization or len(quantization[0]) != 64:
        return None
    import numpy as np
    own = np.sort(np.asarray(quantization[0], dtype=np.float64))  # order-free: zigzag or natural
    base = np.asarray(_IJG_LUMA, dtype=np.float64)

    def table(q):
        f = 5000.0 / q if q < 50 else 200.0 - 2.0 * q
        return np.sort(np.clip(np.floor((base * f + 50.0) / 100.0), 1, 255))
    return int(min(range(1, 101), key=lambda q: (np.abs(table(q) - own).sum(), -q)))


def _cmyk_to_rgb(im, icc: bytes | None, notes: list):
    """A CMYK image as sRGB, and the ICC profile to keep (none: the CMYK one no longer applies).

    With a CMYK ICC profile: through it with littleCMS (perceptual intent, black point
    compensation, as photo editors convert by default). Without one: Pillow's plain formula,
    R = (255 - C)(255 - K) / 255 and so on. Pillow's JPEG reader has already undone the
    inverted samples of Adobe (Photoshop) CMYK JPEGs, which it knows by their Adobe marker.
    """
    from PIL import ImageCms

    if icc and _icc_space(icc) == "CMYK":
        try:
            rgb = ImageCms.profileToProfile(im, ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                                            ImageCms.createProfile("sRGB"),
                                            renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode="RGB",
                                            flags=ImageCms.Flags.BLACKPOINTCOMPENSATION)
            notes.append("CMYK image converted to sRGB through its ICC profile")
            return rgb, None
        except (ImageCms.PyCMSError, OSError, ValueError) as e:
            why = f"its ICC profile cannot be used ({str(e).splitlines()[0] if str(e) else type(e).__name__})"
    elif icc:
        why = f"its ICC profile is for {_icc_space(icc) or 'an unknown colour space'}, not CMYK"
    else:
        why = "it has no ICC profile"
    notes.append(f"CMYK image converted to RGB with the plain formula ({why}): colours are approximate")
    return im.convert("RGB"), None


def _icc_space(icc: bytes) -> str | None:
    """The data colour space of an ICC profile ('RGB', 'GRAY', 'CMYK', ...) from its header."""
    if len(icc) < 20:
        return None
    return icc[16:20].decode("ascii", "replace").strip() or None


def _is_16bit_colour(src: Path | bytes, im) -> bool:
    if im.format == "PNG":
        return (_png_bit_depth(src) == 16) and im.mode in ("RGB", "RGBA", "LA")
    if im.format == "TIFF":
        bps = im.tag_v2.get(258)
        bps = bps if isinstance(bps, tuple) else (bps,)
        return any(b == 16 for b in bps if b) and len(bps) >= 2
    return False


def _read_16bit_colour(src: Path | bytes, path) -> np.ndarray:
    import cv2

    data = np.frombuffer(src, np.uint8) if isinstance(src, bytes) else np.fromfile(src, np.uint8)
    arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ImageError(f"{path}: corrupt or truncated 16-bit image")
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = arr[:, :, ::-1]
    elif arr.ndim == 3 and arr.shape[2] == 4:
        if _png_header(src) == (16, 4):  # grey+alpha, which OpenCV expands to BGRA
            arr = arr[:, :, [0, 3]]
        else:
            arr = arr[:, :, [2, 1, 0, 3]]
    if arr.dtype == np.uint8:
        return arr
    return np.ascontiguousarray(arr.astype(np.uint16))


def _orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to an array, like PIL.ImageOps.exif_transpose."""
    ops = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
           5: lambda a: np.swapaxes(a, 0, 1), 6: lambda a: np.rot90(a, -1),
           7: lambda a: np.rot90(a, 1)[::-1], 8: lambda a: np.rot90(a, 1)}
    return np.ascontiguousarray(ops[orientation](arr)) if orientation in ops else arr


def _pil_to_array(im, path: Path) -> np.ndarray:
    mode = im.mode
    if mode in ("L", "LA", "RGB", "RGBA"):
        return np.asarray(im)
    if mode == "1":
        return np.asarray(im.convert("L"))
    if mode in ("P", "PA"):
        has_alpha = "transparency" in im.info or mode == "PA"
        return np.asarray(im.convert("RGBA" if has_alpha else "RGB"))
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(im, dtype=np.uint16).copy() if mode != "I;16B" else np.asarray(im).astype(np.uint16)
    if mode == "I" and im.format in ("PNG", "TIFF"):
        a = np.asarray(im)
        if a.min() >= 0 and a.max() <= 65535:
            return a.astype(np.uint16)
    raise ImageError(f"{path}: unsupported image mode {mode} (use grey, RGB or RGBA, 8 or 16 bit)")


def encode_image(pic: Picture, fmt: str, *, quality: int = 95, png_level: int = PNG_LEVEL,
                 threads: int | None = None) -> tuple[bytes, list[str]]:
    """Encode to bytes in format ``fmt`` ('PNG', 'JPEG', ...); returns (data, warnings)."""
    parts, notes = _encode_parts(pic, fmt, quality=quality, png_level=png_level, threads=threads)
    return b"".join(parts), notes


def _encode_parts(pic: Picture, fmt: str, *, quality: int = 95, png_level: int = PNG_LEVEL,
                  threads: int | None = None) -> tuple[list[bytes], list[str]]:
    """The encoded file as byte strings to write in order, and warnings.

    PNG goes through :mod:`srcnn.png` (``png_level``, on ``threads`` threads) and TIFF through
    :mod:`srcnn.tiff` (tiled, deflate), both at 8 or 16 bits, by the writers that stream
    (``_write_streamed``), with the ICC profile, EXIF and resolution of ``pic``.
    """
    from PIL import Image

    notes = []
    a = pic.pixels
    sixteen = a.dtype == np.uint16
    if sixteen and fmt not in ("PNG", "TIFF"):
        notes.append(f"{fmt} cannot hold 16-bit samples: written as 8-bit")
        a = np.clip(np.floor(a.astype(np.float64) / 257.0 + 0.5), 0, 255).astype(np.uint8)
        sixteen = False
    channels = 1 if a.ndim == 2 else a.shape[2]
    if fmt == "JPEG" and channels in (2, 4):
        notes.append("JPEG has no alpha channel: alpha dropped")
        a = a[:, :, 0] if channels == 2 else a[:, :, :3]
        channels = 1 if channels == 2 else 3
    icc, more = _icc_for(pic.icc_profile, channels, fmt)  # a profile describes the samples it is attached to
    notes += more
    if fmt in STREAMED:
        buf = _Parts() if fmt == "PNG" else io.BytesIO()
        shape = a.shape[:2] + ((a.shape[2],) if a.ndim == 3 else (1,))
        notes += _write_streamed(buf, fmt, pic, shape, a.dtype, [a], png_level=png_level, threads=threads,
                                 icc=icc)
        return (list(buf) if fmt == "PNG" else [buf.getvalue()]), notes
    if a.ndim == 3 and channels == 1:
        a = a[:, :, 0]
    im = Image.fromarray(np.ascontiguousarray(a))  # L, LA, RGB or RGBA from the shape (8-bit here)
    kw = {}
    if icc and fmt in ("JPEG", "WEBP"):
        kw["icc_profile"] = icc
    if pic.exif and fmt in ("JPEG", "WEBP"):
        kw["exif"] = pic.exif
    if pic.dpi and fmt in ("JPEG", "BMP"):
        kw["dpi"] = pic.dpi
    if fmt in ("JPEG", "WEBP"):
        kw["quality"] = int(quality)
    if fmt == "BMP" and im.mode == "LA":
        notes.append("BMP has no grey+alpha mode: written as RGBA")
        im = im.convert("RGBA")
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        im.save(buf, format=fmt, **kw)
    return [buf.getvalue()], notes


def write_image(pic: Picture, dst: str | os.PathLike, *, overwrite: bool = False, quality: int = 95,
                protect: list | None = None, png_level: int = PNG_LEVEL, threads: int | None = None) -> list[str]:
    """Write ``pic`` to ``dst`` (format from the extension) atomically; returns warnings.

    Never replaces an existing file unless ``overwrite``, and never one of ``protect`` (inputs).
    """
    dst = Path(dst)
    fmt = _check_destination(dst, overwrite, protect)
    parts, notes = _encode_parts(pic, fmt, quality=quality, png_level=png_level, threads=threads)

    def write(f):
        for part in parts:
            f.write(part)
    _safe_write(dst, write)
    return notes


def _check_destination(dst: Path, overwrite: bool, protect) -> str:
    """The format of file ``dst``, or ImageError if it may not be written (exists, an input, ...)."""
    fmt = FORMATS.get(dst.suffix.lower())
    if fmt is None:
        raise ImageError(f"{dst}: unknown output format {dst.suffix or '(no extension)'}; "
                         f"use one of {', '.join(sorted(set(FORMATS)))}")
    for p in protect or []:
        if dst.exists() and Path(p).exists() and os.path.samefile(dst, p):
            raise ImageError(f"{dst}: refusing to write over the input file")
    if dst.exists() and not overwrite:
        raise ImageError(f"{dst}: already exists (use --overwrite to replace it)")
    folder = dst.parent if str(dst.parent) else Path(".")
    if not folder.is_dir():
        raise ImageError(f"{dst}: output folder {folder} does not exist")
    return fmt


def _safe_write(dst: Path, write) -> None:
    """``write(f)`` into a temporary file beside ``dst``, renamed into place once complete.

    Interrupted (an exception, Ctrl+C), the temporary is removed and ``dst`` untouched; killed,
    a hidden ``.NAME.*.part`` may stay, never a partial ``dst``.
    """
    folder = dst.parent if str(dst.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".part", dir=folder)
    except OSError as e:
        raise ImageError(f"{dst}: cannot write there ({e.strerror})") from None
    try:
        os.close(fd)
        with open(tmp, "wb") as f:  # a named file object: tifffile wants its name
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise ImageError(f"{dst}: cannot write ({e.strerror or e})") from None
        raise


class _Parts(list):
    def write(self, b):
        self.append(b)


def _write_streamed(f, fmt: str, pic: Picture, shape: tuple, dtype, strips, *, png_level: int,
                    threads: int | None, icc: bytes | None = None) -> list[str]:
    """PNG or TIFF to ``f`` from full-width strips (the same bytes however they are cut); notes.

    ``shape``: (H, W, C) of the image; ``pic``: its metadata (its pixels are not read);
    ``icc``: the profile to write, already checked against the channels (``_icc_for``).
    """
    h, w, c = shape
    dtype = np.dtype(dtype)
    notes = []
    if fmt == "PNG":
        from .png import PngWriter

        writer = PngWriter(f, h, w, c, dtype, icc_profile=icc, exif=pic.exif, dpi=pic.dpi, level=png_level,
                           threads=threads)
        for s in strips:
            writer.write(s)
        writer.close()
        return notes
    from .tiff import write_tiff

    if c == 2 and dtype == np.uint16:  # what the 16-bit readers here (OpenCV) read back
        notes.append("16-bit grey+alpha is written as 16-bit RGBA")
        strips = (np.concatenate([s[:, :, :1]] * 3 + [s[:, :, 1:]], axis=2) for s in strips)
        c = 4
    return notes + write_tiff(f, h, w, c, dtype, strips, icc_profile=icc, dpi=pic.dpi, exif=pic.exif,
                              threads=threads)


def _icc_for(icc: bytes | None, channels: int, fmt: str) -> tuple[bytes | None, list[str]]:
    """The ICC profile to write with ``channels`` samples in ``fmt``, and a note if dropped."""
    if not icc:
        return None, []
    want = "RGB" if channels >= 3 or fmt == "WEBP" else "GRAY"  # WebP keeps grey as RGB
    have = _icc_space(icc)
    if have != want:
        return None, [f"ICC profile dropped: it is for {have or 'an unknown colour space'}, "
                      f"the output is {'grey' if want == 'GRAY' else want}"]
    return icc, []


def in_memory_limit(channels: int = 4, itemsize: int = 1) -> int:
    """Pixels of the largest output written from memory (JPEG, WebP, BMP, stdout) on this machine.

    The in-memory path holds the output about three times over (the array, the encoder's
    copy, the file's bytes): at most half of this machine's memory for that, and never more
    than ``srcnn.pipeline.MAX_OUTPUT_PIXELS``.
    """
    from .pipeline import MAX_OUTPUT_PIXELS

    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: the fixed limit alone
        return MAX_OUTPUT_PIXELS
    return int(min(MAX_OUTPUT_PIXELS, ram // 2 // (3 * channels * itemsize)))


def _peek_size(src: Path | bytes) -> tuple[int, int] | None:
    """(width, height) from the file's header, or None (``read_image`` then says what is wrong)."""
    from PIL import Image

    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with Image.open(io.BytesIO(src) if isinstance(src, bytes) else src) as im:
            return im.size
    except Exception:
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = old


# At and above this JPEG quality 9-5-5 beats the photo model (docs/realworld.md: q90 on val20
# and Set14); at q75 and below the photo model wins by 0.2-0.4 dB.
PHOTO_BELOW_QUALITY = 88


def auto_model(fmt: str | None, int8: bool = False, quality: int | None = None) -> tuple[str, str | None]:
    """The model ``--model auto`` (the default) runs on a file Pillow read as ``fmt``, and a note.

    A JPEG (known by its bytes, not its name) of estimated quality below ``PHOTO_BELOW_QUALITY``
    (``jpeg_quality``; unknown counts as low) gets the photo model, trained on JPEG, noise and
    other resamplers (it gains more there, loses on clean images); everything else 9-5-5.
    """
    from .runtime import DEFAULT_VARIANT, ModelError, available_models

    if fmt != "JPEG" or not any(m.variant == "photo" for m in available_models()):
        return DEFAULT_VARIANT, None
    if quality is not None and quality >= PHOTO_BELOW_QUALITY:
        return DEFAULT_VARIANT, None
    if int8:
        from .quant import require_int8
        try:
            for m in available_models():
                if m.variant == "photo":
                    require_int8(m)
        except ModelError:
            return DEFAULT_VARIANT, "a JPEG input: the photo model has no int8 calibration, so 9-5-5 --int8 ran"
    q = f" (quality about {quality})" if quality is not None else ""
    return "photo", f"a JPEG input{q}: the photo model ran (trained on JPEG and noise; --model 9-5-5 for the clean model)"


def upscale_file(src: str | os.PathLike | bytes, dst, *, scale: float = 3, model=None,
                 engine: str = "onnxruntime", tile: int | None = None, threads: int | None = None,
                 overwrite: bool = False, quality: int = 95, max_pixels: int | None = None,
                 progress=None, fast: bool = True, png_level: int | None = None, int8: bool = False,
                 width: int | None = None, height: int | None = None, ensemble=False,
                 fmt: str | None = None, name: str = "<stdin>",
                 region: tuple[int, int, int, int] | None = None) -> list[str]:
    """Read ``src``, upscale it with SRCNN, write ``dst``; returns notes (e.g. alpha dropped).

    ``src``: a path, or the file's bytes (``name`` in messages). ``dst``: a path (the format
    from its extension), or a binary stream such as stdout, written once the image is encoded,
    in format ``fmt`` ('PNG', 'JPEG', ...; default: the input's if it can be written, else PNG).
    ``width`` / ``height``: a target size instead of ``scale`` (``srcnn.pipeline.target_scale``).
    ``model``: None or 'auto' (``auto_model``: the photo model for a JPEG, else 9-5-5), a variant or a path.
    ``region``: (x, y, w, h) in output pixels: only that part of the result is computed and
    written, pixel for pixel what the whole run gives there (``srcnn.pipeline.upscale_region``).
    """
    from .pipeline import (DEFAULT_TILE, MAX_OUTPUT_PIXELS, check_size, target_scale, upscale, upscale_region,
                           upscale_tiles)
    from .resize import output_size

    stream = hasattr(dst, "write")
    src = bytes(src) if isinstance(src, (bytes, bytearray, memoryview)) else Path(src)
    dst = dst if stream else Path(dst)
    if stream and fmt is not None and fmt not in FORMATS.values():
        raise ImageError(f"unknown output format {fmt}; use one of {', '.join(sorted(set(FORMATS.values())))}")
    if not stream and dst.exists() and not overwrite:
        raise ImageError(f"{dst}: already exists (use --overwrite to replace it)")
    if not stream and dst.exists() and isinstance(src, Path) and src.exists() and os.path.samefile(src, dst):
        raise ImageError(f"{dst}: refusing to write over the input file")
    if not stream and FORMATS.get(dst.suffix.lower()) is None:
        raise ImageError(f"{dst}: unknown output format {dst.suffix or '(no extension)'}")
    protect = [src] if isinstance(src, Path) else []
    out_fmt = None if stream else _check_destination(dst, overwrite, protect)
    # PNG and TIFF files are written strip by strip as they are computed: no limit on the
    # output but the user's; the input is still held whole (at most 400 MP unless raised).
    streamed = out_fmt in STREAMED and region is None
    if streamed:
        size = _peek_size(src)
        in_limit = max(MAX_OUTPUT_PIXELS, max_pixels or 0)
        if size and size[0] * size[1] > in_limit:
            raise ImageError(f"{name if isinstance(src, bytes) else src}: {size[0]}x{size[1]} = "
                             f"{size[0] * size[1] / 1e6:.3g} MP is over the input limit of {in_limit / 1e6:.3g} MP "
                             f"(raise it with --max-pixels)")
    max_out = max_pixels or (sys.maxsize if streamed else MAX_OUTPUT_PIXELS)
    sized = width is not None or height is not None
    pic = read_image(src, max_pixels=max_out, scale=1.0 if sized else max(float(scale), 1.0), name=name)
    h, w = pic.pixels.shape[:2]
    if sized:
        scale = target_scale(h, w, width, height)
    if not streamed and region is None and max_pixels is None:
        oh, ow = output_size(h, scale), output_size(w, scale)
        lim = in_memory_limit(1 if pic.pixels.ndim == 2 else pic.pixels.shape[2], pic.pixels.dtype.itemsize)
        if oh * ow > lim:
            what = fmt or "that format" if stream else out_fmt
            raise ImageError(f"{name if isinstance(src, bytes) else src}: the {ow}x{oh} result "
                             f"({oh * ow / 1e6:.3g} MP) is over the {lim / 1e6:.3g} MP that {what} can be encoded "
                             f"in here (in memory); write .png or .tif to a file instead (streamed, any size), "
                             f"or raise --max-pixels")
    check_size(h, w, scale, max_out)
    if model is None or model == "auto":
        model, note = auto_model(pic.format, int8, pic.info.get("jpeg_quality"))
        if note:
            pic.notes.append(note)
    png_level = PNG_LEVEL if png_level is None else png_level
    opts = dict(model=model, engine=engine, tile=tile or DEFAULT_TILE, threads=threads, fast=fast, int8=int8,
                ensemble=ensemble)
    if streamed:
        strips = upscale_tiles(pic.pixels, scale, progress=progress, max_pixels=max_out, **opts)
        a = pic.pixels
        shape = (output_size(h, scale), output_size(w, scale), 1 if a.ndim == 2 else a.shape[2])
        icc, notes = _icc_for(pic.icc_profile, shape[2], out_fmt)
        notes = pic.notes + notes

        def write(f):
            notes.extend(_write_streamed(f, out_fmt, pic, shape, a.dtype, (px for _, px in strips),
                                         png_level=png_level, threads=threads, icc=icc))
        _safe_write(dst, write)
        return notes
    if region is not None:
        x, y, rw, rh = region
        out = upscale_region(pic.pixels, scale, (y, y + rh, x, x + rw), max_pixels=max_out, **opts)
    else:
        out = upscale(pic.pixels, scale, progress=progress, max_pixels=max_out, **opts)
    pic.pixels = out
    if stream:
        notes = pic.notes
        if fmt is None:
            fmt = pic.format if pic.format in FORMATS.values() else "PNG"
            if fmt != pic.format:
                notes.append(f"{pic.format or 'the input format'} cannot be written: written as PNG")
        data, more = encode_image(pic, fmt, quality=quality, png_level=png_level, threads=threads)
        dst.write(data)
        dst.flush()
        return notes + more
    return pic.notes + write_image(pic, dst, overwrite=overwrite, quality=quality, protect=protect,
                                   png_level=png_level, threads=threads)
