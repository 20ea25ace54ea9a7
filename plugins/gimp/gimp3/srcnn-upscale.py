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
import zlib
from array import array

PROC = "python-fu-srcnn-upscale"
HELP_DOMAIN = "org.srcnn.gimp"  # the help page beside the plug-in: help/en/gimp-help.xml
MAX_SCALE = 16.0  # as srcnn-cli --scale
MAX_SIDE = 524288  # GIMP's largest image side

# Variants by what they give a user, best first; the technical name goes in brackets.
VARIANT_LABELS = (("9-5-5", "High quality"), ("photo", "Photo: JPEG or noisy source"),
                  ("9-5-5-rgb", "High quality, colour network"),
                  ("9-3-5", "Good quality, faster"), ("9-1-5", "Fast, a little softer"))
ENSEMBLE_LABEL = "Best quality, about 8x slower"
INT8_LABEL = "about 1.7x faster"
# What a plug-in that can see neither the core nor an install record offers.
DEFAULT_CAPS = {"variants": {"9-5-5": [2, 3, 4], "9-1-5": [3]}, "int8": [], "ensemble": False}


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


def model_choices(caps):
    """[(nick, label, help)] for the Model menu, best quality first; nicks are what scripts pass."""
    variants = caps.get("variants") or DEFAULT_CAPS["variants"]
    known = [v for v, _ in VARIANT_LABELS]
    order = sorted(variants, key=lambda v: (known.index(v) if v in known else len(known), v))
    out = []
    for i, v in enumerate(order):
        what = dict(VARIANT_LABELS).get(v, "Other model")
        factors = "trained for %s; other factors chain and resample them" % ", ".join(
            "x%d" % k for k in variants[v])
        if i == 0 and caps.get("ensemble"):
            out.append((v + "-ensemble", "%s (%s, self-ensemble)" % (ENSEMBLE_LABEL, v),
                        "the 8 rotations and flips of the image through %s, averaged; %s" % (v, factors)))
        out.append((v, "%s (%s)" % (what, v), factors))
        if v in (caps.get("int8") or []):
            out.append((v + "-int8", "%s, %s (%s int8)" % (what, INT8_LABEL, v),
                        "the middle layer in 8-bit integers (7-bit activations where the CPU has no VNNI), within 0.02 dB; " + factors))
    return out


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
        n = min(max(int(n), side), int(side * MAX_SCALE))
        s = float(n) / side
        self.last = which
        if which == "width":
            return s, n, output_size(self.h, s)
        return s, output_size(self.w, s), n

    def run_values(self, scale, width, height):
        """(scale, width, height) to run with: the hand-set one; the others 0 (= follow it)."""
        return (scale, width if self.last == "width" else 0, height if self.last == "height" else 0)


def describe_plan(core, scale, variant):
    """How the core reaches ``scale`` with ``variant``, in words (None without the core)."""
    if core is None:
        return None
    try:
        import importlib
        p = importlib.import_module(core.__name__ + ".pipeline").plan_of(scale, variant)
    except Exception:
        return None
    how = "the %s model%s" % (" then ".join("x%d" % k for k in p.stages), "s" if len(p.stages) > 1 else "")
    return how if p.resample == 1.0 else "%s, then bicubic x%.3g" % (how, p.resample)


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


class CliBackend:
    """One ``srcnn-cli`` run on a folder of PNGs, one per layer; ``read_png(path, c, kind)`` ->
    (w, h, bytes) reads the results back (inside GIMP: with GIMP's own PNG loader)."""
    name = "cli"

    def __init__(self, argv, read_png, pulse=lambda: None):
        self.argv, self.read_png, self.pulse = argv, read_png, pulse

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
            variant, int8, ensemble = split_model(model)
            argv = self.argv + [src, dst, "--scale", repr(float(scale)), "--model", variant,
                                "--name", "{stem}{ext}", "--quiet"]
            argv += (["--int8"] if int8 else []) + (["--ensemble"] if ensemble else [])
            flags = 0x08000000 if os.name == "nt" else 0  # CREATE_NO_WINDOW: no console flashing
            try:
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, creationflags=flags)
            except OSError as e:
                raise SrcnnError("cannot run %s: %s" % (argv[0], e))
            while True:
                try:
                    out, err = proc.communicate(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    self.pulse()
            results = [os.path.join(dst, "layer%04d.png" % i) for i in range(len(items))]
            if proc.returncode != 0 or not all(os.path.isfile(r) for r in results):
                lines = [ln for ln in (err.strip() or out).decode("utf-8", "replace").splitlines() if ln.strip()]
                last = lines[-1] if lines else "srcnn-cli failed (exit %d)" % proc.returncode
                raise SrcnnError(last[len("srcnn-cli: error: "):] if last.startswith("srcnn-cli: error: ") else last)
            progress(1.0)
            return [self.read_png(r, it[3], it[4]) for r, it in zip(results, items)]
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


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
        progress.init("SRCNN x%.4g to %d x %d (%s, %s%s)" % (scale, ow, oh, model, backend.name, note))
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
        target.undo_group_start()
        saved = None
        try:
            target.scale(ow, oh)
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

    def dialog_run(procedure, image, config):
        """The dialog; False on Cancel. Factor, width and height stay linked (SizeLink), the
        result size and plan show live; the hand-set one of the three is what runs."""
        GimpUi.init(PROC)
        dialog = GimpUi.ProcedureDialog.new(procedure, config, "SRCNN super-resolution")
        link = SizeLink(image.get_width(), image.get_height())
        core = CAPS[1]
        busy = [False]
        label = dialog.get_label("result-size", "", False, False)

        def put(values):
            busy[0] = True
            try:
                for name, v in zip(("scale", "width", "height"), values):
                    if config.get_property(name) != v:
                        config.set_property(name, v)
            finally:
                busy[0] = False
            s, ow, oh = values
            variant = split_model(config.get_property("model"))[0]
            text = size_text(link.w, link.h, s, ow, oh, describe_plan(core, s, variant))
            label.set_text(text)
            progress._note("result-size", text)

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
        put(link.from_scale(config.get_property("scale")))
        config.connect("notify", edited)
        dialog.fill(["scale", "width", "height", "result-size", "model", "new-image"])
        ok = dialog.run()
        if ok:
            put_run = link.run_values(*[config.get_property(n) for n in ("scale", "width", "height")])
            busy[0] = True
            for name, v in zip(("scale", "width", "height"), put_run):
                config.set_property(name, v)
        dialog.destroy()
        return ok

    def run(procedure, run_mode, image, drawables, config, data):
        if run_mode == Gimp.RunMode.INTERACTIVE:
            if not dialog_run(procedure, image, config):
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
            proc.add_int_argument("width", "_Width", "Result width in pixels, linked to the height "
                                  "by the aspect ratio (0: from the factor)", 0, MAX_SIDE, 0,
                                  GObject.ParamFlags.READWRITE)
            proc.add_int_argument("height", "Hei_ght", "Result height in pixels, linked to the width "
                                  "(0: from the factor; both set: the largest size inside both)",
                                  0, MAX_SIDE, 0, GObject.ParamFlags.READWRITE)
            choice = Gimp.Choice.new()
            for i, (nick, label, helptext) in enumerate(CHOICES):
                choice.add(nick, i, label, helptext)
            default = "9-5-5" if any(c[0] == "9-5-5" for c in CHOICES) else CHOICES[0][0]
            proc.add_choice_argument("model", "_Model", "Quality or speed (the network in brackets)",
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
