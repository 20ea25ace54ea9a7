#!/usr/bin/env python3
# -*- coding: utf-8 -*-
"""SRCNN super-resolution for GIMP 3: Filters > Enhance > SRCNN...

Procedure ``python-fu-srcnn-upscale`` (image, drawables, scale, model, new-image) -> image.
Upscales every layer of the image (alpha kept) as one undo step, or into a new image.

The computation is the ``srcnn`` package's: imported in-process when GIMP's Python can import
it (the environment recorded at install time is added to ``sys.path`` when its Python version
matches), otherwise run as ``srcnn-cli`` on a temporary PNG of the pixels (8-bit layers as
8-bit, everything else as 16-bit), which gives the same pixels. Environment overrides:
``SRCNN_GIMP_BACKEND`` = auto (default) | core | cli, ``SRCNN_CLI`` = path to srcnn-cli.

Installed by ``srcnn-cli install-gimp-plugin``, which fills in the INSTALL block below.
"""
import importlib
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from array import array

PROC = "python-fu-srcnn-upscale"
HELP_DOMAIN = "org.srcnn.gimp"  # the help page beside the plug-in: help/en/gimp-help.xml
MAX_SCALE = 16.0  # as srcnn-cli --scale
MAX_SIDE = 524288  # GIMP's largest image side

# Variants by what they give a user, best first; the technical name goes in brackets. A
# variant trained for fewer factors is offered only at factors where it runs as few models in a
# row as 9-5-5 (elsewhere its chain is slower than 9-5-5: 9-3-5 exists at x3 only).
VARIANT_LABELS = (("9-5-5", "High quality"), ("photo", "Photo: JPEG or noisy source"),
                  ("9-5-5-rgb", "High quality, colour edges sharpened too"),
                  ("9-3-5", "Good quality, faster"), ("9-1-5", "Fast, a little softer"))
VARIANT_HELP = {
    "9-5-5": "the paper's best network on luminance; colour and alpha bicubic",
    "photo": "9-5-5 trained on JPEG-compressed and noisy pictures: for photos and web images",
    "9-5-5-rgb": "the network on red, green and blue instead of luminance only: colour edges are "
                 "sharpened too; slower than High quality",
    "9-3-5": "a smaller middle layer: faster than High quality at x3, a little softer",
    "9-1-5": "the paper's small network: 3.5-4.7x faster than High quality, a little softer",
}
ENSEMBLE_LABEL = "Best quality, about 8x slower"
INT8_LABEL = "about 1.7x faster"
# What a plug-in that can see neither the core nor an install record offers.
DEFAULT_CAPS = {"variants": {"9-5-5": [2, 3, 4], "9-1-5": [3]}, "int8": [], "ensemble": False}
MAX_CHAIN = 3  # as srcnn.factors.MAX_CHAIN


def split_model(model):
    """'9-5-5-int8' -> ('9-5-5', True, False), '9-5-5-ensemble' -> ('9-5-5', False, True)."""
    for suffix, flags in (("-int8", (True, False)), ("-ensemble", (False, True))):
        if model.endswith(suffix):
            return (model[:-len(suffix)],) + flags
    return model, False, False


def capabilities(core):
    """What ``core`` (the srcnn module) runs here: {'variants': {variant: [trained factors]},
    'int8': [variants whose every model has an int8 calibration, on a CPU that runs int8],
    'ensemble': whether ``upscale`` takes ``ensemble=``}."""
    import importlib
    import inspect
    runtime = importlib.import_module(core.__name__ + ".runtime")
    quant = importlib.import_module(core.__name__ + ".quant")
    pipeline = importlib.import_module(core.__name__ + ".pipeline")
    variants = {}
    for m in runtime.available_models():
        variants.setdefault(m.variant, []).append(m)
    int8 = []
    if quant.int8_cpu_problem() is None:
        int8 = [v for v, ms in variants.items() if all(quant.int8_scales(m) is not None for m in ms)]
    return {"variants": {v: sorted(m.scale for m in ms) for v, ms in variants.items()},
            "int8": sorted(int8),
            "ensemble": "ensemble" in inspect.signature(pipeline.upscale).parameters}


def plan_stages(scale, factors):
    """(trained factors run in a row, last bicubic factor) for ``scale``: the rule of
    ``srcnn.factors.plan_for``, here too so that the srcnn-cli path can say it without the core."""
    avail = sorted(set(int(k) for k in factors if int(k) >= 2))
    scale = float(scale)
    if scale in avail:
        return (int(scale),), 1.0
    stages, left = [], scale
    while True:
        above = [k for k in avail if k + 1e-9 >= left]
        if stages and above or left <= avail[0] + 1e-9:
            stages.append(above[0])
            break
        if len(stages) == MAX_CHAIN - 1:
            stages.append(avail[-1])
            break
        stages.append(avail[0])
        left /= avail[0]
    product = 1
    for k in stages:
        product *= k
    return tuple(stages), (1.0 if scale == product else scale / product)


def plan_words(scale, factors):
    """'the x2 then x2 models, then bicubic x0.625' (factors: a variant's trained factors)."""
    stages, resample = plan_stages(scale, factors)
    how = "the %s model%s" % (" then ".join("x%d" % k for k in stages), "s" if len(stages) > 1 else "")
    return how if resample == 1.0 else "%s, then bicubic x%.3g" % (how, resample)


# Time per output pixel against 9-5-5, for the variants whose label promises speed: 9-3-5 from
# the times of issue 25 (x2: 1.9 s against 1.5 s through x3 then down, x4: 15.5 s against 5.4 s
# through x3 then x3), 9-1-5 from the end-to-end ratios measured on two CPUs (3.5x, 4.65x).
SPEED = {"9-3-5": 0.55, "9-1-5": 0.25}


def plan_work(scale, factors):
    """The output pixels a plan's models compute, per input pixel (their cost, roughly)."""
    total, product = 0, 1
    for k in plan_stages(scale, factors)[0]:
        product *= k
        total += product * product
    return total


def offered_at(caps, variant, scale):
    """Whether the dialog offers ``variant`` at ``scale``: a variant whose label promises speed
    only where it is faster than 9-5-5 there (9-3-5 exists at x3 only: at x2 and x4 its plan
    through x3 is slower than 9-5-5's own model)."""
    variants = caps.get("variants") or DEFAULT_CAPS["variants"]
    if variant not in variants:
        return False
    ref = variants.get("9-5-5")
    if variant not in SPEED or not ref:
        return True
    return SPEED[variant] * plan_work(scale, variants[variant]) < plan_work(scale, ref)


def model_choices(caps, scale=None):
    """[(nick, label, help)] for the Model menu, best quality first; nicks are what scripts pass.

    ``scale`` None: the labels GIMP registers (true at every factor). A factor: the labels the
    dialog shows at that factor, a variant not offered there saying at which factors it is."""
    variants = caps.get("variants") or DEFAULT_CAPS["variants"]
    known = [v for v, _ in VARIANT_LABELS]
    order = sorted(variants, key=lambda v: (known.index(v) if v in known else len(known), v))
    out = []
    for i, v in enumerate(order):
        what = dict(VARIANT_LABELS).get(v, "Other model")
        trained = ", ".join("x%d" % k for k in variants[v])
        if scale is None:
            how = "trained for %s; other factors run them in a row and resample (bicubic)" % trained
            at = [k for k in variants.get("9-5-5", []) if offered_at(caps, v, k)]
            if v in SPEED and at and len(at) < len(variants["9-5-5"]):  # faster only at some
                what = "%s at %s" % (what, ", ".join("x%d" % k for k in at))
        elif offered_at(caps, v, scale):
            how = "trained for %s; at x%.4g it runs %s" % (trained, scale, plan_words(scale, variants[v]))
        else:
            what = "%s, %s only" % (what.split(",")[0], trained)
            how = "trained for %s: at x%.4g it would run %s, slower than High quality" % (
                trained, scale, plan_words(scale, variants[v]))
        about = VARIANT_HELP.get(v, "a model installed with srcnn")
        if i == 0 and caps.get("ensemble"):
            out.append((v + "-ensemble", "%s (%s, self-ensemble)" % (ENSEMBLE_LABEL, v),
                        "%s, on the 8 rotations and flips of the image, averaged: +0.1-0.2 dB; %s"
                        % (about, how)))
        out.append((v, "%s (%s)" % (what, v), "%s; %s" % (about, how)))
        if v in (caps.get("int8") or []):
            quality = what.split(",")[0]
            speed = INT8_LABEL if scale is None or offered_at(caps, v, scale) else what.split(", ", 1)[1]
            out.append((v + "-int8", "%s, %s (%s int8)" % (quality, speed, v),
                        "%s, its middle layer in 8-bit integers: within 0.02 dB; %s" % (about, how)))
    return out


def not_offered(caps, scale):
    """The Model menu's nicks that the dialog greys out at ``scale`` (see ``offered_at``)."""
    return set(n for n, _, _ in model_choices(caps, scale) if not offered_at(caps, split_model(n)[0], scale))


def is_jpeg_file(path):
    """True when the file at ``path`` is a JPEG by its first bytes (the name does not matter)."""
    try:
        with open(path, "rb") as f:
            return f.read(3) == b"\xff\xd8\xff"
    except (OSError, TypeError):
        return False


def preselect_model(choices, source_path, current):
    """The Model entry the dialog opens with: 'photo' for an image GIMP imported from a JPEG file
    (when a photo model is offered), else ``current`` (GIMP's last-used value)."""
    nicks = [n for n, _, _ in choices]
    if "photo" in nicks and source_path and is_jpeg_file(source_path):
        return "photo"
    return current


def output_size(n, scale):
    """The core's output length for a side of n pixels: ceil(n * scale) (srcnn.resize.output_size)."""
    return int(math.ceil(n * scale - 1e-9))


def resolve_size(w, h, scale, width=0, height=0):
    """-> (factor, out_w, out_h) for a w x h image: by ``scale``, or by ``width`` and/or ``height``
    in pixels when either is > 0 (one: the other by aspect ratio; both: the largest size that
    fits inside, as ``srcnn.pipeline.target_scale``). SrcnnError for what SRCNN cannot do."""
    if width or height:
        cands = []
        for n, side, what in ((width, w, "width"), (height, h, "height")):
            if not n:
                continue
            if n < side:
                raise SrcnnError("the %s %d is smaller than the image's %d px: SRCNN only "
                                 "enlarges" % (what, n, side))
            cands.append(float(n) / side)
        scale = min(cands)
    if not (1.0 <= scale <= MAX_SCALE + 1e-9):
        raise SrcnnError("the factor would be x%.4g: SRCNN enlarges by x1 to x%g" % (scale, MAX_SCALE))
    if scale < 1.0 + 1e-9:
        raise SrcnnError("x1 would leave the image as it is: choose a factor above x1 or a "
                         "larger size")
    return scale, output_size(w, scale), output_size(h, scale)


class SizeLink(object):
    """Scale factor, width and height of one image, linked by its aspect ratio like the chain
    in Image > Scale Image: each edit returns the values of all three; ``last`` says which was
    set by hand (that one is what the procedure is run with)."""

    def __init__(self, w, h):
        self.w, self.h, self.last = w, h, "scale"

    def from_scale(self, scale):
        self.last = "scale"
        s = min(max(float(scale), 1.0), MAX_SCALE)
        return s, output_size(self.w, s), output_size(self.h, s)

    def from_side(self, which, n):
        side = self.w if which == "width" else self.h
        n = min(int(n), int(side * MAX_SCALE))  # below the image's side: kept, and refused by the dialog
        s = max(float(n) / side, 1.0)
        self.last = which
        if which == "width":
            return s, n, output_size(self.h, s)
        return s, output_size(self.w, s), n

    def check(self, scale, width, height):
        """None, or why the dialog cannot run these values (one line)."""
        try:
            resolve_size(self.w, self.h, *self.run_values(scale, width, height))
        except SrcnnError as e:
            return str(e)
        return None

    def run_values(self, scale, width, height):
        """(scale, width, height) to run with: the hand-set one; the others 0 (= follow it)."""
        return (scale, width if self.last == "width" else 0, height if self.last == "height" else 0)


def describe_plan(core, scale, variant, caps=None):
    """How ``scale`` is reached with ``variant``, in words: from the core, else (the srcnn-cli
    path) by the same rule from the trained factors in ``caps``; None if neither knows."""
    if core is not None:
        try:
            import importlib
            p = importlib.import_module(core.__name__ + ".pipeline").plan_of(scale, variant)
        except Exception:
            return None
        how = "the %s model%s" % (" then ".join("x%d" % k for k in p.stages), "s" if len(p.stages) > 1 else "")
        return how if p.resample == 1.0 else "%s, then bicubic x%.3g" % (how, p.resample)
    factors = ((caps or {}).get("variants") or {}).get(variant)
    return plan_words(scale, factors) if factors else None


def new_image_name(source, scale):
    """The file name a new image gets: '<source stem>-x3.xcf' beside the source (one that does not
    exist yet); None without a source."""
    if not source:
        return None
    stem = os.path.splitext(source)[0]
    base = "%s-x%s" % (stem, ("%.4g" % scale).replace(".", "_"))
    name, k = base + ".xcf", 2
    while os.path.exists(name):
        name, k = "%s-%d.xcf" % (base, k), k + 1
    return name


def size_text(w, h, scale, ow, oh, plan=None):
    """The dialog's result line."""
    text = "Result: %d \u00d7 %d pixels (now %d \u00d7 %d), x%.4g" % (ow, oh, w, h, scale)
    return text + ("; runs " + plan if plan else "")

# ---- install block: written by `srcnn-cli install-gimp-plugin` ----
INSTALL = json.loads(r"""{}""")
# ---- end of install block ----


class SrcnnError(Exception):
    """A failure to report to the user in one message."""


# ---------------------------------------------------------------- backends (no GIMP needed)

def _core_paths():
    """The install-time site-packages, if they fit this Python (C extensions are per version)."""
    want = INSTALL.get("python_version")
    have = "%d.%d" % sys.version_info[:2]
    if want and want != have:
        return []
    return [p for p in INSTALL.get("site_packages", []) if os.path.isdir(p)]


def import_core():
    """-> the ``srcnn`` module, importing numpy and it from the recorded environment if needed."""
    import site
    before = list(sys.path)
    for p in _core_paths():
        if p not in sys.path:
            site.addsitedir(p)  # also runs its .pth files (editable installs hook in there)
    added = [p for p in sys.path if p not in before]
    # after the plug-in's folder, before GIMP's own site-packages: the environment's numpy wins
    sys.path[:] = sys.path[:1] + added + [p for p in sys.path[1:] if p not in added]
    import numpy  # noqa: F401  (the core's first dependency; a clearer error than srcnn's)
    import srcnn
    srcnn.upscale  # noqa: B018  (a namespace package of the same name would not have it)
    return srcnn


def find_cli():
    """-> argv prefix for srcnn-cli, or None."""
    env = os.environ.get("SRCNN_CLI")
    if env:
        return [env]
    cli = INSTALL.get("cli")
    if cli and os.path.isfile(cli):
        return [cli]
    found = shutil.which("srcnn-cli")
    if found:
        return [found]
    py = INSTALL.get("python")
    if py and os.path.isfile(py):
        return [py, "-m", "srcnn.cli"]
    return None


class CoreBackend:
    """``srcnn.upscale`` in this process, on the layer's own precision."""
    name = "core"

    def __init__(self, core):
        self.core = core

    @staticmethod
    def sample(kind):
        return kind  # u8, u16 or float: no conversion on the way in or out

    def upscale_all(self, items, scale, model, progress):
        """items: [(bytes, w, h, channels, kind)] -> [(w', h', bytes)]; progress(fraction), rising."""
        import numpy as np
        total = float(sum(w * h for _, w, h, _, _ in items)) or 1.0
        variant, int8, ensemble = split_model(model)
        opts = {"model": variant, "int8": int8}
        if ensemble:
            opts["ensemble"] = True
        out, done, shown = [], 0, [0.0]

        def report(f):  # never backwards, whatever a stage counts
            if f > shown[0]:
                shown[0] = f
                progress(f)
        for data, w, h, c, kind in items:
            dtype = {"u8": np.uint8, "u16": np.uint16, "float": np.float32}[kind]
            a = np.frombuffer(data, dtype).reshape((h, w, c) if c > 1 else (h, w))
            base = done
            big = self.core.upscale(a, scale, progress=lambda i, n: report(
                (base + w * h * min(float(i) / max(n, 1), 1.0)) / total), **opts)
            out.append((big.shape[1], big.shape[0], np.ascontiguousarray(big).tobytes()))
            done += w * h
        report(1.0)
        return out

    def region(self, item, scale, model, region, stale=lambda: False):
        """The (x, y, w, h) part of ``item``'s result (output pixels) -> (w, h, bytes): exactly
        those pixels of ``upscale_all`` (``srcnn.pipeline.upscale_region``)."""
        import numpy as np
        data, w, h, c, kind = item
        dtype = {"u8": np.uint8, "u16": np.uint16, "float": np.float32}[kind]
        a = np.frombuffer(data, dtype).reshape((h, w, c) if c > 1 else (h, w))
        variant, int8, ensemble = split_model(model)
        opts = {"model": variant, "int8": int8}
        if ensemble:
            opts["ensemble"] = True
        x, y, rw, rh = region
        pipeline = importlib.import_module(self.core.__name__ + ".pipeline")
        out = pipeline.upscale_region(a, scale, (y, y + rh, x, x + rw), **opts)
        return rw, rh, np.ascontiguousarray(out).tobytes()


# Runs srcnn-cli for the plug-in and ends it, and removes its folder, when the plug-in ends
# first: GIMP's Cancel kills the plug-in process outright (gimp_plug_in_close), which no code of
# the plug-in sees, but the pipe to this watchdog then reads end-of-file.
WATCHDOG = r"""
import os, shutil, subprocess, sys, threading
tmp, argv = sys.argv[1], sys.argv[2:]
try:
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, creationflags=0x08000000 if os.name == "nt" else 0)
except OSError as e:
    sys.stderr.write("cannot run %s: %s\n" % (argv[0], e))
    sys.stderr.flush()
    os._exit(127)
ending = threading.Event()
def orphaned():
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    ending.set()
    if child.poll() is None:
        child.kill()
        child.wait()
    shutil.rmtree(tmp, ignore_errors=True)
    os._exit(3)
threading.Thread(target=orphaned, daemon=True).start()
code = child.wait()
if ending.is_set():  # the cleanup above ends this process
    threading.Event().wait(60)
os._exit(code)  # not sys.exit: the reading thread would hold up the interpreter's end
"""


class Cancelled(Exception):
    """A preview request that a newer one replaced."""


def run_cli(argv, tmp, pulse=lambda: None, stale=lambda: False):
    """Run ``argv`` (srcnn-cli) under the watchdog; -> (returncode, stdout, stderr). ``stale()``
    True ends the run (Cancelled); the plug-in's own end, however it comes, ends it too."""
    flags = 0x08000000 if os.name == "nt" else 0  # CREATE_NO_WINDOW: no console flashing
    py = sys.executable if sys.executable and os.path.isfile(sys.executable) else None
    full = [py, "-c", WATCHDOG, tmp] + argv if py else argv
    try:
        proc = subprocess.Popen(full, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, creationflags=flags)
    except OSError as e:
        raise SrcnnError("cannot run %s: %s" % (argv[0], e))
    chunks = {}

    def drain(name, stream):  # read both pipes to the end (communicate() would close stdin)
        chunks[name] = stream.read()
    readers = [threading.Thread(target=drain, args=a) for a in (("out", proc.stdout), ("err", proc.stderr))]
    for t in readers:
        t.daemon = True
        t.start()
    try:
        while True:
            try:
                proc.wait(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                if stale():
                    raise Cancelled()
                pulse()
        for t in readers:
            t.join()
        out, err = chunks.get("out", b""), chunks.get("err", b"")
        if py and proc.returncode != 0 and not err.strip():  # the watchdog itself failed
            raise SrcnnError("cannot run %s (exit %d)" % (argv[0], proc.returncode))
        return proc.returncode, out, err
    finally:
        if proc.poll() is None:  # cancelled: closing its stdin makes the watchdog end srcnn-cli
            try:
                proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        else:
            proc.stdin.close()


def cli_message(code, out, err):
    lines = [ln for ln in (err.strip() or out).decode("utf-8", "replace").splitlines() if ln.strip()]
    last = lines[-1] if lines else "srcnn-cli failed (exit %d)" % code
    return last[len("srcnn-cli: error: "):] if last.startswith("srcnn-cli: error: ") else last


def cli_options(scale, model):
    variant, int8, ensemble = split_model(model)
    return (["--scale", repr(float(scale)), "--model", variant, "--quiet"]
            + (["--int8"] if int8 else []) + (["--ensemble"] if ensemble else []))


class CliBackend:
    """One ``srcnn-cli`` run on a folder of PNGs, one per layer; ``read_png(path, c, kind)`` ->
    (w, h, bytes) reads the results back (inside GIMP: with GIMP's own PNG loader)."""
    name = "cli"

    def __init__(self, argv, read_png, pulse=lambda: None):
        self.argv, self.read_png, self.pulse = argv, read_png, pulse
        self._preview = None  # (item, folder with its PNG) for the dialog's preview runs

    @staticmethod
    def sample(kind):
        return "u8" if kind == "u8" else "u16"  # PNG holds 8 or 16 bits

    def upscale_all(self, items, scale, model, progress):
        tmp = tempfile.mkdtemp(prefix="srcnn-gimp-")
        try:
            src, dst = os.path.join(tmp, "in"), os.path.join(tmp, "out")
            os.mkdir(src)
            for i, (data, w, h, c, kind) in enumerate(items):
                with open(os.path.join(src, "layer%04d.png" % i), "wb") as f:
                    f.write(png_bytes(w, h, c, 16 if kind == "u16" else 8, data))
            argv = self.argv + [src, dst, "--name", "{stem}{ext}"] + cli_options(scale, model)
            code, out, err = run_cli(argv, tmp, self.pulse)
            results = [os.path.join(dst, "layer%04d.png" % i) for i in range(len(items))]
            if code != 0 or not all(os.path.isfile(r) for r in results):
                raise SrcnnError(cli_message(code, out, err))
            progress(1.0)
            return [self.read_png(r, it[3], it[4]) for r, it in zip(results, items)]
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def region_file(self, item, scale, model, region, stale=lambda: False):
        """srcnn-cli --region on ``item`` (its PNG written once per dialog) -> the result's PNG
        path (read it with ``read_png`` on GIMP's thread, then ``close_preview``)."""
        if self._preview is None or self._preview[0] is not item:
            self.close_preview()
            tmp = tempfile.mkdtemp(prefix="srcnn-gimp-preview-")
            data, w, h, c, kind = item
            with open(os.path.join(tmp, "layer.png"), "wb") as f:
                f.write(png_bytes(w, h, c, 16 if kind == "u16" else 8, data))
            self._preview = (item, tmp)
        tmp = self._preview[1]
        out = os.path.join(tmp, "region-%d.png" % int(time.time() * 1e6))
        argv = self.argv + [os.path.join(tmp, "layer.png"), out, "--region", "%d,%d,%d,%d" % tuple(region)]
        code, so, se = run_cli(argv + cli_options(scale, model), tmp, stale=stale)
        if code != 0 or not os.path.isfile(out):
            raise SrcnnError(cli_message(code, so, se))
        return out

    def region(self, item, scale, model, region, stale=lambda: False):
        path = self.region_file(item, scale, model, region, stale)
        try:
            return self.read_png(path, item[3], self.sample(item[4]))
        finally:
            os.remove(path)

    def close_preview(self):
        if self._preview is not None:
            shutil.rmtree(self._preview[1], ignore_errors=True)
            self._preview = None


class Previewer(object):
    """The dialog's preview worker: one thread, so the dialog never waits for a computation.

    ``request(job)`` supersedes every older job: one still waiting is dropped, one running is
    told by its ``stale()`` (a srcnn-cli run is ended) and its result is never delivered.
    ``compute(job, stale)`` runs on the worker; ``deliver(job, result, error, seconds)`` is
    called on the worker for the newest job only (the GIMP side hands it to GTK's main loop).
    ``delay``: a burst of requests (typing a width) starts one computation, for the last."""

    def __init__(self, compute, deliver, delay=0.12):
        self.compute, self.deliver, self.delay = compute, deliver, delay
        self._cond = threading.Condition()
        self._job, self._gen, self._closed = None, 0, False
        self.started = []  # the jobs that began computing (tests)
        self._thread = threading.Thread(target=self._loop, name="srcnn-preview")
        self._thread.daemon = True
        self._thread.start()

    def request(self, job):
        with self._cond:
            self._gen += 1
            self._job = (self._gen, job)
            self._cond.notify()

    def close(self, timeout=10.0):
        with self._cond:
            self._closed = True
            self._gen += 1
            self._cond.notify()
        self._thread.join(timeout)

    def _loop(self):
        while True:
            with self._cond:
                while self._job is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                gen, job = self._job
                self._job = None
            time.sleep(self.delay)
            stale = lambda: gen != self._gen or self._closed  # noqa: E731
            if stale():
                continue
            self.started.append(job)
            t0 = time.time()
            try:
                result, error = self.compute(job, stale), None
            except Cancelled:
                continue
            except Exception as e:  # shown in the dialog, one line
                result, error = None, e
            if not stale():
                self.deliver(job, result, error, time.time() - t0)


def preview_region(w, h, scale, centre, side=256):
    """The preview's (x, y, w, h) in output pixels of a w x h layer at ``scale``: ``side`` square
    (less where the result is smaller), centred on ``centre`` = (cx, cy) in the layer's own
    pixels, moved inside the result."""
    ow, oh = output_size(w, scale), output_size(h, scale)
    rw, rh = min(side, ow), min(side, oh)
    x = int(round(centre[0] * scale - rw / 2.0))
    y = int(round(centre[1] * scale - rh / 2.0))
    return min(max(x, 0), ow - rw), min(max(y, 0), oh - rh), rw, rh


def rgba8(data, w, h, c, kind):
    """Pixels for the screen: (c channels, u8 / u16 / float samples) -> RGBA 8-bit bytes. Grey
    spreads to R, G, B; no alpha is opaque. Pure Python (GIMP's own Python may lack numpy)."""
    n = w * h
    if kind == "u16":
        a = array("H")
        a.frombytes(data)
        v = bytes(bytearray((x * 255 + 32767) // 65535 for x in a))
    elif kind == "float":
        a = array("f")
        a.frombytes(data)
        v = bytes(bytearray(0 if x <= 0 else 255 if x >= 1 else int(x * 255 + 0.5) for x in a))
    else:
        v = bytes(data)
    out = bytearray(b"\xff" * (4 * n))
    colour = 3 if c >= 3 else 1
    for k in range(3):
        out[k::4] = v[(k if colour == 3 else 0)::c]
    if c in (2, 4):
        out[3::4] = v[c - 1::c]
    return bytes(out)


def backend_mode():
    mode = os.environ.get("SRCNN_GIMP_BACKEND", "auto").strip().lower() or "auto"
    if mode not in ("auto", "core", "cli"):
        raise SrcnnError("SRCNN_GIMP_BACKEND must be auto, core or cli, not %r" % mode)
    return mode


def choose_backend(read_png, pulse=lambda: None):
    """The backend to use, per SRCNN_GIMP_BACKEND (auto: the core if importable, else the CLI)."""
    mode = backend_mode()
    why = None
    if mode in ("auto", "core"):
        try:
            return CoreBackend(import_core())
        except Exception as e:  # ImportError, or a broken numpy/onnxruntime raising anything
            why = "%s: %s" % (type(e).__name__, e)
            if mode == "core":
                raise SrcnnError("cannot import the srcnn core into GIMP's Python (%s)" % why)
    argv = find_cli()
    if argv is None:
        raise SrcnnError("cannot find the SRCNN core: GIMP's Python cannot import it (%s) and "
                         "srcnn-cli is not on PATH. Run `srcnn-cli install-gimp-plugin` in the "
                         "environment where srcnn is installed, or set SRCNN_CLI." % why)
    return CliBackend(argv, read_png, pulse)


def find_capabilities():
    """-> (capabilities, core module or None): from the core when GIMP's Python imports it,
    else as recorded at install time (``srcnn-cli install-gimp-plugin``), else DEFAULT_CAPS."""
    try:
        if backend_mode() != "cli":
            core = import_core()
            caps = capabilities(core)
            if caps["variants"]:
                return caps, core
            return DEFAULT_CAPS, core  # no weights found: the run says so in one line
    except Exception:  # no core here: the install record, if any
        pass
    caps = INSTALL.get("capabilities")
    if isinstance(caps, dict) and caps.get("variants"):
        return caps, None
    return DEFAULT_CAPS, None


def png_bytes(w, h, c, depth, data):
    """A PNG of raw pixels: c = 1..4 channels (Y, YA, RGB, RGBA), depth 8 or 16 (native-endian in)."""
    if depth == 16 and sys.byteorder == "little":
        a = array("H")
        a.frombytes(data)
        a.byteswap()  # PNG is big-endian
        data = a.tobytes()
    stride = w * c * depth // 8
    if len(data) != stride * h:
        raise SrcnnError("internal: %d bytes for a %dx%dx%d image" % (len(data), w, h, c))
    rows = b"".join(b"\x00" + data[y * stride:(y + 1) * stride] for y in range(h))
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]

    def chunk(kind, payload):
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour_type, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 1)) + chunk(b"IEND", b""))


# ---------------------------------------------------------------- GIMP (only inside GIMP)

def _gimp_main():
    import gi
    gi.require_version("Gimp", "3.0")
    gi.require_version("GimpUi", "3.0")
    gi.require_version("Gegl", "0.4")
    from gi.repository import Gegl, Gimp, GimpUi, Gio, GLib, GObject
    gi.require_version("Gtk", "3.0")
    gi.require_version("Gdk", "3.0")
    from gi.repository import Gdk, GdkPixbuf, Gtk, Pango

    def pixel_format(drawable, kind):
        """Babl format name: perceptual (R'G'B' / Y') values, the image's channels, ``kind`` samples."""
        base = "R'G'B'" if drawable.is_rgb() else "Y'"
        alpha = "A" if drawable.has_alpha() else ""
        return "%s%s %s" % (base, alpha, kind), (3 if drawable.is_rgb() else 1) + len(alpha)

    def precision_kind(image):
        p = image.get_precision().value_nick  # e.g. "u8-non-linear", "half-linear"
        return "u8" if p.startswith("u8") else "u16" if p.startswith("u16") else "float"

    def read_png(path, c, kind):
        img = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(path))
        try:
            layer = img.get_layers()[0]
            w, h = layer.get_width(), layer.get_height()
            fmt = ("R'G'B'" if c >= 3 else "Y'") + ("A" if c in (2, 4) else "") + " " + kind
            return w, h, layer.get_buffer().get(Gegl.Rectangle.new(0, 0, w, h), 1.0, fmt,
                                                Gegl.AbyssPolicy.CLAMP)
        finally:
            img.delete()

    def leaves(items):
        for it in items:
            if it.is_group():
                for sub in leaves(it.get_children()):
                    yield sub
            else:
                yield it

    class Progress(object):
        """GIMP's progress bar; with $SRCNN_GIMP_PROGRESS_LOG set, every call (and the dialog's
        result line) is also appended to that file as a line, for the real-GIMP tests."""
        log = os.environ.get("SRCNN_GIMP_PROGRESS_LOG")

        def _note(self, *what):
            if self.log:
                with open(self.log, "a") as f:
                    f.write(" ".join(str(w) for w in what) + "\n")

        def init(self, text):
            self._note("init", text)
            Gimp.progress_init(text)

        def update(self, fraction):
            self._note("update", repr(float(fraction)))
            Gimp.progress_update(fraction)

        def pulse(self):
            self._note("pulse")
            Gimp.progress_pulse()

        def end(self):
            self._note("end")
            Gimp.progress_end()

    progress = Progress()

    def upscale_image(image, scale, width, height, model, new_image):
        if image.get_base_type() == Gimp.ImageBaseType.INDEXED:
            raise SrcnnError("indexed images cannot be upscaled: convert to RGB or grayscale "
                             "first (Image > Mode)")
        layers = list(leaves(image.get_layers()))
        if not layers:
            raise SrcnnError("the image has no layers")
        scale, ow, oh = resolve_size(image.get_width(), image.get_height(), scale, width, height)
        backend = choose_backend(read_png, progress.pulse)
        note = ""
        variant, int8, _ = split_model(model)
        if int8 and backend.name == "core":
            problem = importlib.import_module(backend.core.__name__ + ".quant").int8_cpu_problem()
            if problem:  # asked for by a script on a CPU without int8 (no AVX2): float32, said in the status bar
                model, note = variant, "; int8 not available here, float32"
        label = dict((n, l) for n, l, _ in CHOICES).get(model, model)
        progress.init("SRCNN x%.4g to %d \u00d7 %d px: %s%s" % (scale, ow, oh, label, note))
        kind = backend.sample(precision_kind(image))
        # Compute everything first: a failure leaves the image untouched.
        items, fmts = [], []
        for layer in layers:
            w, h = layer.get_width(), layer.get_height()
            fmt, c = pixel_format(layer, kind)
            data = layer.get_buffer().get(Gegl.Rectangle.new(0, 0, w, h), 1.0, fmt, Gegl.AbyssPolicy.CLAMP)
            items.append((data, w, h, c, kind))
            fmts.append(fmt)
        outs = backend.upscale_all(items, scale, model, progress.update)
        results = []
        for (_, w, h, _, _), fmt, (lw, lh, out) in zip(items, fmts, outs):
            if (lw, lh) != (output_size(w, scale), output_size(h, scale)):
                raise SrcnnError("internal: %dx%d -> %dx%d at x%g" % (w, h, lw, lh, scale))
            results.append((fmt, lw, lh, out))
        # The bar is full; end it before GIMP scales and pastes, which would report their own
        # progress from zero through it (the bar would jump back).
        progress.update(1.0)
        progress.end()

        # A new image is a duplicate changed in one undo step, like the original: it is dirty
        # (closing it asks to save) and Edit > Undo gives the original size back.
        target = image.duplicate() if new_image else image
        if new_image:  # named after its source, not "[Untitled]"
            src = image.get_file() or image.get_imported_file()
            name = new_image_name(src.get_path() if src is not None else None, scale)
            if name:
                target.set_file(Gio.File.new_for_path(name))
        target.undo_group_start()
        saved = None
        try:
            # GIMP's scale reports to this plug-in's progress bar ("Scaling", from zero, no
            # Cancel) and no PDB call turns that off. The layers' pixels are replaced below, so
            # where nothing else is scaled (no masks, channels, selection) they are scaled
            # without interpolation: that second bar is then a blink.
            plain = (Gimp.Selection.is_empty(target) and not target.get_channels()
                     and not any(l.get_mask() for l in leaves(target.get_layers())))
            if plain:
                Gimp.context_push()
                Gimp.context_set_interpolation(Gimp.InterpolationType.NONE)
            try:
                target.scale(ow, oh)
            finally:
                if plain:
                    Gimp.context_pop()
            if not Gimp.Selection.is_empty(target):
                # merging a shadow buffer only changes the selected pixels: lift the selection
                saved = Gimp.Selection.save(target)
                Gimp.Selection.none(target)
            for layer, (fmt, lw, lh, out) in zip(leaves(target.get_layers()), results):
                if (layer.get_width(), layer.get_height()) != (lw, lh):
                    layer.scale(lw, lh, False)
                shadow = layer.get_shadow_buffer()
                shadow.set(Gegl.Rectangle.new(0, 0, lw, lh), fmt, out)
                shadow.flush()
                layer.merge_shadow(True)
                layer.update(0, 0, lw, lh)
        finally:
            if saved is not None:
                target.select_item(Gimp.ChannelOps.REPLACE, saved)
                target.remove_channel(saved)
            target.undo_group_end()
        return target

    def dialog_run(procedure, image, drawables, config):
        """The dialog; False on Cancel. Factor, width and height stay linked (SizeLink), the
        result size and plan show live, the Model menu offers what makes sense at the factor,
        and a preview compares GIMP's own scaling with SRCNN at 100 % for one place."""
        GimpUi.init(PROC)
        dialog = GimpUi.ProcedureDialog.new(procedure, config, "SRCNN super-resolution")
        link = SizeLink(image.get_width(), image.get_height())
        core = CAPS[1]
        busy = [False]
        label = dialog.get_label("result-size", "", False, False)
        # a fixed width that wraps: the dialog keeps its size as the line changes
        label.set_xalign(0.0)
        label.set_line_wrap(True)
        label.set_width_chars(64)
        label.set_max_width_chars(64)
        preview = Preview(image, drawables, config)
        state = {"model_box": None}

        def put(values):
            busy[0] = True
            try:
                for name, v in zip(("scale", "width", "height"), values):
                    if config.get_property(name) != v:
                        config.set_property(name, v)
            finally:
                busy[0] = False
            s, ow, oh = values
            model = config.get_property("model")
            problem = link.check(*values)
            if problem:
                text = "Cannot run: " + problem
            else:
                text = size_text(link.w, link.h, s, ow, oh, describe_plan(core, s, split_model(model)[0], CAPS[0]))
            label.set_text(text)
            dialog.set_response_sensitive(Gtk.ResponseType.OK, problem is None)
            progress._note("result-size", text)
            relabel_models(state["model_box"], s, model)
            if problem is None:
                preview.request(s, model)

        def edited(cfg, pspec):
            if busy[0]:
                return
            name = pspec.name
            if name == "scale":
                GLib.idle_add(lambda: put(link.from_scale(config.get_property("scale"))) and False)
            elif name in ("width", "height"):
                n = config.get_property(name)
                GLib.idle_add(lambda: put(link.from_side(name, n) if n else link.from_scale(
                    config.get_property("scale"))) and False)
            elif name == "model":
                put(link.from_scale(config.get_property("scale")) if link.last == "scale" else
                    link.from_side(link.last, config.get_property(link.last)))

        src = image.get_imported_file() or image.get_file()
        model = preselect_model(CHOICES, src.get_path() if src is not None else None, config.get_property("model"))
        if model != config.get_property("model"):
            config.set_property("model", model)
        dialog.fill_box("size-box", ["width", "height"])
        row = dialog.fill_box("size-row", ["size-box"])
        row.set_orientation(Gtk.Orientation.HORIZONTAL)
        chain = GimpUi.ChainButton.new(GimpUi.ChainPosition.RIGHT)
        chain.set_active(True)
        chain.set_sensitive(False)
        chain.set_tooltip_text("Width and height stay linked: SRCNN keeps the aspect ratio")
        row.pack_start(chain, False, False, 0)
        chain.show()
        for name in ("width", "height"):  # "px", as in Image > Scale Image
            unit = Gtk.Label(label="px")
            w = dialog.get_widget(name, GObject.TYPE_NONE)
            if isinstance(w, Gtk.Grid):
                w.attach(unit, 3, 0, 1, 1)
            unit.show()
        dialog.fill(["scale", "size-row", "result-size", "model", "new-image"])
        state["model_box"] = find_combo(dialog.get_widget("model", GObject.TYPE_NONE))
        content = dialog.get_content_area()
        content.pack_start(preview.widget, False, False, 0)
        put(link.from_scale(config.get_property("scale")))
        config.connect("notify", edited)
        try:
            ok = dialog.run()
        finally:
            preview.close()
        if ok:
            put_run = link.run_values(*[config.get_property(n) for n in ("scale", "width", "height")])
            busy[0] = True
            for name, v in zip(("scale", "width", "height"), put_run):
                config.set_property(name, v)
        dialog.destroy()
        return ok

    def find_combo(widget):
        if widget is None or isinstance(widget, Gtk.ComboBox):
            return widget
        if isinstance(widget, Gtk.Container):
            for child in widget.get_children():
                found = find_combo(child)
                if found is not None:
                    return found
        return None

    def relabel_models(combo, scale, current):
        """The Model menu's labels and tooltip at this factor; models not offered here greyed out."""
        if combo is None:
            return
        labels = dict((n, (l, h)) for n, l, h in model_choices(CAPS[0], scale))
        off = not_offered(CAPS[0], scale)
        store = combo.get_model()
        cols = store.get_n_columns()
        it = store.get_iter_first()
        while it is not None:  # GimpStringStore: column 0 the nick, 1 the label
            nick = store.get_value(it, 0) if cols > 1 else None
            if nick in labels and labels[nick][0] != store.get_value(it, 1):
                store.set_value(it, 1, labels[nick][0])
            it = store.iter_next(it)
        if current in labels:
            combo.set_tooltip_text(labels[current][1])
        grey_out(off)
        if progress.log:  # what the menu shows now, for the real-GIMP tests
            rows, it = [], store.get_iter_first()
            while it is not None:
                rows.append([store.get_value(it, k) for k in range(min(cols, 2))])
                it = store.iter_next(it)
            progress._note("models", json.dumps({"scale": scale, "rows": rows, "off": sorted(off),
                                                 "tooltip": combo.get_tooltip_text()}))

    class Preview(object):
        """Before/after at 100 % for one place of the active layer: GIMP's own scaling
        (Image > Scale Image, the interpolation of GIMP's preferences) beside SRCNN. The place
        is the selection's centre, or the layer's; a click or drag on the overview moves it."""
        SIDE = 256
        THUMB = 128

        def __init__(self, image, drawables, config):
            layers = [d for d in (drawables or []) if isinstance(d, Gimp.Layer) and not d.is_group()]
            self.layer = layers[0] if layers else next(iter(leaves(image.get_layers())), None)
            self.image, self.config = image, config
            self.kind = None
            self.item = self.fmt = None
            self.backend = None
            self.job = None
            self.shown = {}
            self.widget = Gtk.Frame(label="Preview at 100 %")
            box = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=8)
            box.set_border_width(6)
            self.widget.add(box)
            side = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=4)
            # pixbufs in Gtk.Images, no cairo drawing: GIMP's Python may lack pycairo
            self.overview = Gtk.EventBox()
            self.overview_image = Gtk.Image()
            self.overview.add(self.overview_image)
            self.thumb = None
            lw, lh = (self.layer.get_width(), self.layer.get_height()) if self.layer else (1, 1)
            t = float(self.THUMB) / max(lw, lh)
            self.tw, self.th = max(int(lw * t), 1), max(int(lh * t), 1)
            self.overview.set_size_request(self.tw, self.th)
            self.overview.set_halign(Gtk.Align.CENTER)
            self.overview.add_events(Gdk.EventMask.BUTTON_PRESS_MASK | Gdk.EventMask.BUTTON_MOTION_MASK)
            self.overview.connect("button-press-event", self.moved)
            self.overview.connect("motion-notify-event", self.moved)
            self.overview.set_tooltip_text("Click or drag to choose the place shown")
            side.pack_start(self.overview, False, False, 0)
            hint = Gtk.Label(label="Click or drag\nto move")
            hint.set_justify(Gtk.Justification.CENTER)
            side.pack_start(hint, False, False, 0)
            self.status = Gtk.Label(label="")
            self.status.set_line_wrap(True)
            self.status.set_max_width_chars(18)
            self.status.set_width_chars(18)
            side.pack_start(self.status, False, False, 0)
            box.pack_start(side, False, False, 0)
            self.areas, self.captions = {}, {}
            for key, text in (("before", "Image > Scale Image (%s)" % interpolation_name()),
                              ("after", "SRCNN")):
                col = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=4)
                area = Gtk.Image()
                area.set_size_request(self.SIDE, self.SIDE)
                cap = Gtk.Label(label=text)
                cap.set_max_width_chars(34)
                cap.set_ellipsize(Pango.EllipsizeMode.END)
                col.pack_start(area, False, False, 0)
                col.pack_start(cap, False, False, 0)
                box.pack_start(col, False, False, 0)
                self.areas[key], self.captions[key] = area, cap
            self.widget.show_all()
            self.centre = self.start_centre()
            self.worker = Previewer(self.compute, self.deliver)
            self.request_args = None

        def start_centre(self):
            if self.layer is None:
                return (0.0, 0.0)
            _, ox, oy = self.layer.get_offsets()
            _, non_empty, x1, y1, x2, y2 = Gimp.Selection.bounds(self.image)
            if non_empty:
                cx, cy = (x1 + x2) / 2.0 - ox, (y1 + y2) / 2.0 - oy
            else:
                cx, cy = self.layer.get_width() / 2.0, self.layer.get_height() / 2.0
            return (min(max(cx, 0.0), self.layer.get_width()), min(max(cy, 0.0), self.layer.get_height()))

        def ensure_item(self):
            if self.item is None:
                if self.backend is None:
                    self.backend = choose_backend(read_png)
                self.kind = self.backend.sample(precision_kind(self.image))
                w, h = self.layer.get_width(), self.layer.get_height()
                self.fmt, c = pixel_format(self.layer, self.kind)
                data = self.layer.get_buffer().get(Gegl.Rectangle.new(0, 0, w, h), 1.0, self.fmt,
                                                   Gegl.AbyssPolicy.CLAMP)
                self.item = (data, w, h, c, self.kind)
            return self.item

        def request(self, scale, model):
            self.request_args = (scale, model)
            if self.layer is None:
                self.status.set_text("No layer to show")
                return
            try:
                item = self.ensure_item()
            except Exception as e:  # no core and no srcnn-cli: say so here, the run will too
                self.status.set_text(str(e).split(":")[0])
                return
            region = preview_region(item[1], item[2], scale, self.centre, self.SIDE)
            label = dict((n, l) for n, l, _ in CHOICES).get(model, model)
            self.captions["after"].set_text("SRCNN: " + label)
            self.captions["after"].set_tooltip_text("SRCNN: " + label)
            try:
                self.shown["before"] = (gimp_scaled(self.layer, self.fmt, scale, region), region[2], region[3])
            except Exception as e:
                self.shown["before"] = None
                progress._note("preview-error", "before: %s" % e)
            self.draw_side("before")
            self.job = (scale, model, region)
            self.status.set_text("Computing\u2026")
            self.draw_overview()
            self.worker.request(self.job)

        def compute(self, job, stale):
            scale, model, region = job
            if self.backend.name == "cli":
                return self.backend.region_file(self.item, scale, model, region, stale)
            return self.backend.region(self.item, scale, model, region, stale)

        def deliver(self, job, result, error, seconds):
            GLib.idle_add(self.show, job, result, error, seconds)

        def show(self, job, result, error, seconds):
            if job is not self.job:
                if self.backend.name == "cli" and isinstance(result, str):
                    os.remove(result)
                return False
            scale, model, region = job
            if error is not None:
                msg = str(error) if isinstance(error, SrcnnError) else "%s: %s" % (type(error).__name__, error)
                self.status.set_text(msg)
                progress._note("preview-error", msg)
                return False
            c, kind = self.item[3], self.item[4]
            if self.backend.name == "cli":
                path = result
                try:
                    w, h, data = read_png(path, c, kind)
                finally:
                    os.remove(path)
            else:
                w, h, data = result
            self.shown["after"] = (rgba8(data, w, h, c, kind), w, h)
            self.draw_side("after")
            self.status.set_text("SRCNN: %.2f s" % seconds)
            dump = os.environ.get("SRCNN_GIMP_PREVIEW_DUMP")
            rec = {"scale": scale, "model": model, "region": list(region), "seconds": round(seconds, 3),
                   "layer": self.layer.get_name(), "backend": self.backend.name, "kind": kind, "channels": c}
            if dump:
                rec["raw"] = os.path.join(dump, "preview-%d.raw" % int(time.time() * 1e6))
                with open(rec["raw"], "wb") as f:
                    f.write(data)
            progress._note("preview", json.dumps(rec))
            return False

        def moved(self, area, event):
            if self.layer is None:
                return False
            lw, lh = self.layer.get_width(), self.layer.get_height()
            self.centre = (min(max(event.x * lw / float(self.tw), 0.0), lw),
                           min(max(event.y * lh / float(self.th), 0.0), lh))
            if self.request_args:
                self.request(*self.request_args)
            return True

        def draw_overview(self):
            """The layer's thumbnail with the previewed place outlined."""
            if self.layer is None:
                return
            if self.thumb is None:  # GEGL scales it (Drawable.get_thumbnail garbles 16-bit grey)
                data = self.layer.get_buffer().get(Gegl.Rectangle.new(0, 0, self.tw, self.th),
                                                   self.tw / float(self.layer.get_width()),
                                                   "R'G'B'A u8", Gegl.AbyssPolicy.CLAMP)
                pb = GdkPixbuf.Pixbuf.new_from_bytes(GLib.Bytes.new(data), GdkPixbuf.Colorspace.RGB,
                                                     True, 8, self.tw, self.th, self.tw * 4)
                self.thumb = pb.composite_color_simple(self.tw, self.th, GdkPixbuf.InterpType.NEAREST,
                                                       255, 4, 0x666666, 0x999999)
            pb = self.thumb
            if self.job is not None:
                scale, _, (x, y, w, h) = self.job
                f = pb.get_width() / (self.layer.get_width() * scale)
                pb = outlined(pb, int(x * f), int(y * f), max(int(round(w * f)), 3), max(int(round(h * f)), 3))
            self.overview_image.set_from_pixbuf(pb)

        def draw_side(self, key):
            shown = self.shown.get(key)
            if not shown:
                self.areas[key].clear()
                return
            data, w, h = shown
            pb = GdkPixbuf.Pixbuf.new_from_bytes(GLib.Bytes.new(data), GdkPixbuf.Colorspace.RGB,
                                                 True, 8, w, h, w * 4)
            # over GIMP's grey checks, as the canvas shows transparency
            self.areas[key].set_from_pixbuf(pb.composite_color_simple(
                w, h, GdkPixbuf.InterpType.NEAREST, 255, 8, 0x666666, 0x999999))

        def close(self):
            self.job = None
            self.worker.close()
            if self.backend is not None and self.backend.name == "cli":
                self.backend.close_preview()

    def outlined(pb, x, y, w, h):
        """A copy of an 8-bit pixbuf with a black and white frame around (x, y, w, h)."""
        n, stride = pb.get_n_channels(), pb.get_rowstride()
        W, H = pb.get_width(), pb.get_height()
        px = bytearray(pb.get_pixels())
        x, y = min(max(x, 0), W - 1), min(max(y, 0), H - 1)
        x2, y2 = min(x + w - 1, W - 1), min(y + h - 1, H - 1)

        def dot(i, j, v):
            o = j * stride + i * n
            px[o:o + 3] = bytes((v, v, v))
        for inset, v in ((0, 0), (1, 255)):
            for i in range(x + inset, x2 - inset + 1):
                dot(i, min(y + inset, H - 1), v)
                dot(i, max(y2 - inset, 0), v)
            for j in range(y + inset, y2 - inset + 1):
                dot(min(x + inset, W - 1), j, v)
                dot(max(x2 - inset, 0), j, v)
        return GdkPixbuf.Pixbuf.new_from_bytes(GLib.Bytes.new(bytes(px)), pb.get_colorspace(),
                                               pb.get_has_alpha(), 8, W, H, stride)

    def interpolation_name():
        try:
            return Gimp.context_get_interpolation().value_nick.replace("-", " ").capitalize()
        except Exception:
            return "bicubic"

    def gimp_scaled(layer, fmt, scale, region):
        """GIMP's own scaling (Image > Scale Image: the context's interpolation) of the layer
        around ``region`` -> RGBA 8-bit bytes of the region (a crop with a margin is scaled, so
        sub-pixel placement may differ from scaling the whole image)."""
        x, y, rw, rh = region
        lw, lh = layer.get_width(), layer.get_height()
        x0, y0 = max(int(math.floor(x / scale)) - 4, 0), max(int(math.floor(y / scale)) - 4, 0)
        x1, y1 = min(int(math.ceil((x + rw) / scale)) + 4, lw), min(int(math.ceil((y + rh) / scale)) + 4, lh)
        cw, ch = x1 - x0, y1 - y0
        data = layer.get_buffer().get(Gegl.Rectangle.new(x0, y0, cw, ch), 1.0, fmt, Gegl.AbyssPolicy.CLAMP)
        img = Gimp.Image.new_with_precision(cw, ch, layer.get_image().get_base_type(),
                                            layer.get_image().get_precision())
        try:
            kind = {(True, True): Gimp.ImageType.RGBA_IMAGE, (True, False): Gimp.ImageType.RGB_IMAGE,
                    (False, True): Gimp.ImageType.GRAYA_IMAGE, (False, False): Gimp.ImageType.GRAY_IMAGE}[
                        (layer.is_rgb(), layer.has_alpha())]
            tmp = Gimp.Layer.new(img, "crop", cw, ch, kind, 100.0, Gimp.LayerMode.NORMAL)
            img.insert_layer(tmp, None, 0)
            buf = tmp.get_buffer()
            buf.set(Gegl.Rectangle.new(0, 0, cw, ch), fmt, data)
            buf.flush()
            tmp.scale(output_size(cw, scale), output_size(ch, scale), False)
            ox, oy = int(round(x - x0 * scale)), int(round(y - y0 * scale))
            return tmp.get_buffer().get(Gegl.Rectangle.new(ox, oy, rw, rh), 1.0, "R'G'B'A u8",
                                        Gegl.AbyssPolicy.CLAMP)
        finally:
            img.delete()

    def run(procedure, run_mode, image, drawables, config, data):
        RUNNING[:] = [procedure]
        if run_mode == Gimp.RunMode.INTERACTIVE:
            if not dialog_run(procedure, image, drawables, config):
                return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
        elif run_mode == Gimp.RunMode.WITH_LAST_VALS:
            config.set_property("width", 0)  # Repeat: the last factor (a size was for another image)
            config.set_property("height", 0)
        try:
            result = upscale_image(image, config.get_property("scale"), config.get_property("width"),
                                   config.get_property("height"), config.get_property("model"),
                                   config.get_property("new-image"))
        except Exception as e:  # one message, shown by GIMP (or returned to the calling script)
            plain = isinstance(e, SrcnnError) or type(e).__name__ in ("ModelError", "ValueError")
            msg = str(e) if plain else "%s: %s" % (type(e).__name__, e)
            return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(msg))
        if new_image_shown(run_mode, config):
            Gimp.Display.new(result)
        Gimp.displays_flush()
        return Gimp.ValueArray.new_from_values([
            GObject.Value(Gimp.PDBStatusType, Gimp.PDBStatusType.SUCCESS),
            GObject.Value(Gimp.Image, result)])

    def new_image_shown(run_mode, config):
        return config.get_property("new-image") and run_mode != Gimp.RunMode.NONINTERACTIVE

    CAPS = find_capabilities()
    CHOICES = model_choices(CAPS[0])
    RUNNING = []  # the procedure being run (its Model choice greys out entries)

    def grey_out(off):
        if not RUNNING:
            return
        choice = Gimp.param_spec_choice_get_choice(RUNNING[0].find_argument("model"))
        for nick, _, _ in CHOICES:
            try:
                choice.set_sensitive(nick, nick not in off)
            except Exception:  # GIMP before 3.0: no per-entry sensitivity
                return

    class SrcnnPlugIn(Gimp.PlugIn):
        def do_set_i18n(self, name):
            return False  # English only: no locale folder to look for

        def do_query_procedures(self):
            help_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "help")
            if os.path.isfile(os.path.join(help_dir, "en", "gimp-help.xml")):
                self.set_help_domain(HELP_DOMAIN, Gio.File.new_for_path(help_dir))
            return [PROC]

        def do_create_procedure(self, name):
            proc = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run, None)
            proc.set_image_types("RGB*, GRAY*")
            proc.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE
                                      | Gimp.ProcedureSensitivityMask.DRAWABLES
                                      | Gimp.ProcedureSensitivityMask.NO_DRAWABLES)
            proc.set_menu_label("SRCNN...")
            proc.add_menu_path("<Image>/Filters/Enhance")
            proc.set_documentation(
                "Upscale the image with SRCNN super-resolution",
                "Enlarges every layer by the scale factor (x1 to x16), or to a width and/or height "
                "in pixels, with the SRCNN network (Dong et al., TPAMI 2016) on luminance and "
                "bicubic colour and alpha, as one undo step or into a new image. width/height 0: "
                "by the factor; both: the largest size that fits inside, aspect ratio kept. "
                "Runs the srcnn package in-process, or srcnn-cli.", HELP_DOMAIN + "-upscale")
            proc.set_attribution("srcnn project", "srcnn project", "2026")
            # Mnemonics: none of the dialog's own (_Reset _Cancel _OK _Help _Load _Save).
            proc.add_double_argument(
                "scale", "Scale _factor", "Enlargement factor, x1 to x16. x2, x3 and x4 run their "
                "own trained models; any other factor runs trained models at their factors and "
                "resamples with bicubic (x1.5: the x2 model, then down; x5 and x6: x2 then x3; x8: "
                "x2 then x4). The result line below says which.", 1.0, MAX_SCALE, 3.0,
                GObject.ParamFlags.READWRITE)
            # Tooltips of the dialog's fields: what the linked fields do there. What scripts may
            # pass (0, both sides) is in the procedure's help text above.
            proc.add_int_argument("width", "_Width", "The result's width in pixels; the height and "
                                  "the factor follow (aspect ratio kept)", 0, MAX_SIDE, 0,
                                  GObject.ParamFlags.READWRITE)
            proc.add_int_argument("height", "Hei_ght", "The result's height in pixels; the width and "
                                  "the factor follow (aspect ratio kept)", 0, MAX_SIDE, 0,
                                  GObject.ParamFlags.READWRITE)
            choice = Gimp.Choice.new()
            for i, (nick, label, helptext) in enumerate(CHOICES):
                choice.add(nick, i, label, helptext)
            default = "9-5-5" if any(c[0] == "9-5-5" for c in CHOICES) else CHOICES[0][0]
            proc.add_choice_argument("model", "_Model", "Quality or speed at this factor (the network in brackets)",
                                     choice, default, GObject.ParamFlags.READWRITE)
            proc.add_boolean_argument("new-image", "_New image", "Put the result into a new "
                                      "image instead of changing this one", False,
                                      GObject.ParamFlags.READWRITE)
            proc.add_image_return_value("image", "Image", "The upscaled image", False,
                                        GObject.ParamFlags.READWRITE)
            return proc

    Gimp.main(SrcnnPlugIn.__gtype__, sys.argv)


if __name__ == "__main__":
    _gimp_main()
