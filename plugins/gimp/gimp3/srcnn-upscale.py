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
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from array import array

PROC = "python-fu-srcnn-upscale"
MODELS = (("9-5-5", "9-5-5 (best)"), ("9-1-5", "9-1-5 (faster)"),
          ("9-5-5-int8", "9-5-5 int8 (faster, CPUs with VNNI)"))


def split_model(model):
    """'9-5-5-int8' -> ('9-5-5', True): the variant and whether to run its int8 path."""
    return (model[:-5], True) if model.endswith("-int8") else (model, False)

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
        """items: [(bytes, w, h, channels, kind)] -> [(w', h', bytes)]; progress(fraction)."""
        import numpy as np
        total = float(sum(w * h for _, w, h, _, _ in items)) or 1.0
        out, done = [], 0
        for data, w, h, c, kind in items:
            dtype = {"u8": np.uint8, "u16": np.uint16, "float": np.float32}[kind]
            a = np.frombuffer(data, dtype).reshape((h, w, c) if c > 1 else (h, w))
            base = done
            variant, int8 = split_model(model)
            big = self.core.upscale(a, scale, model=variant, int8=int8, progress=lambda i, n: progress(
                (base + w * h * float(i) / n) / total))
            out.append((big.shape[1], big.shape[0], np.ascontiguousarray(big).tobytes()))
            done += w * h
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
            variant, int8 = split_model(model)
            argv = self.argv + [src, dst, "--scale", str(scale), "--model", variant,
                                "--name", "{stem}{ext}", "--quiet"] + (["--int8"] if int8 else [])
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
                raise SrcnnError(lines[-1] if lines else "srcnn-cli failed (exit %d)" % proc.returncode)
            progress(1.0)
            return [self.read_png(r, it[3], it[4]) for r, it in zip(results, items)]
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def choose_backend(read_png, pulse=lambda: None):
    """The backend to use, per SRCNN_GIMP_BACKEND (auto: the core if importable, else the CLI)."""
    mode = os.environ.get("SRCNN_GIMP_BACKEND", "auto").strip().lower() or "auto"
    if mode not in ("auto", "core", "cli"):
        raise SrcnnError("SRCNN_GIMP_BACKEND must be auto, core or cli, not %r" % mode)
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

    def upscale_image(image, scale, model, new_image):
        if image.get_base_type() == Gimp.ImageBaseType.INDEXED:
            raise SrcnnError("indexed images cannot be upscaled: convert to RGB or grayscale "
                             "first (Image > Mode)")
        layers = list(leaves(image.get_layers()))
        if not layers:
            raise SrcnnError("the image has no layers")
        backend = choose_backend(read_png, Gimp.progress_pulse)
        Gimp.progress_init("SRCNN x%d (%s, %s)" % (scale, model, backend.name))
        kind = backend.sample(precision_kind(image))
        # Compute everything first: a failure leaves the image untouched.
        items, fmts = [], []
        for layer in layers:
            w, h = layer.get_width(), layer.get_height()
            fmt, c = pixel_format(layer, kind)
            data = layer.get_buffer().get(Gegl.Rectangle.new(0, 0, w, h), 1.0, fmt, Gegl.AbyssPolicy.CLAMP)
            items.append((data, w, h, c, kind))
            fmts.append(fmt)
        outs = backend.upscale_all(items, scale, model, Gimp.progress_update)
        results = []
        for (_, w, h, _, _), fmt, (ow, oh, out) in zip(items, fmts, outs):
            if (ow, oh) != (w * scale, h * scale):
                raise SrcnnError("internal: %dx%d -> %dx%d at x%d" % (w, h, ow, oh, scale))
            results.append((fmt, ow, oh, out))

        target = image.duplicate() if new_image else image
        if new_image:
            target.undo_disable()
        else:
            target.undo_group_start()
        saved = None
        try:
            target.scale(target.get_width() * scale, target.get_height() * scale)
            if not Gimp.Selection.is_empty(target):
                # merging a shadow buffer only changes the selected pixels: lift the selection
                saved = Gimp.Selection.save(target)
                Gimp.Selection.none(target)
            for layer, (fmt, ow, oh, out) in zip(leaves(target.get_layers()), results):
                if (layer.get_width(), layer.get_height()) != (ow, oh):
                    layer.scale(ow, oh, False)
                shadow = layer.get_shadow_buffer()
                shadow.set(Gegl.Rectangle.new(0, 0, ow, oh), fmt, out)
                shadow.flush()
                layer.merge_shadow(True)
                layer.update(0, 0, ow, oh)
        finally:
            if saved is not None:
                target.select_item(Gimp.ChannelOps.REPLACE, saved)
                target.remove_channel(saved)
            if new_image:
                target.undo_enable()
                target.clean_all()
            else:
                target.undo_group_end()
        Gimp.progress_update(1.0)
        return target

    def run(procedure, run_mode, image, drawables, config, data):
        if run_mode == Gimp.RunMode.INTERACTIVE:
            GimpUi.init(PROC)
            dialog = GimpUi.ProcedureDialog(procedure=procedure, config=config,
                                            title="SRCNN super-resolution")
            dialog.fill(None)
            ok = dialog.run()
            dialog.destroy()
            if not ok:
                return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
        scale = config.get_property("scale")
        model = config.get_property("model")
        new_image = config.get_property("new-image")
        try:
            result = upscale_image(image, scale, model, new_image)
        except Exception as e:  # everything reaches the user as one message, never silently
            plain = isinstance(e, SrcnnError) or type(e).__name__ in ("ModelError", "ValueError")
            msg = "SRCNN: %s" % (e if plain else "%s: %s" % (type(e).__name__, e))
            if run_mode == Gimp.RunMode.INTERACTIVE:
                Gimp.message(msg)
            else:
                sys.stderr.write(msg + "\n")
            return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(msg))
        if new_image and run_mode == Gimp.RunMode.INTERACTIVE:
            Gimp.Display.new(result)
        Gimp.displays_flush()
        return Gimp.ValueArray.new_from_values([
            GObject.Value(Gimp.PDBStatusType, Gimp.PDBStatusType.SUCCESS),
            GObject.Value(Gimp.Image, result)])

    class SrcnnPlugIn(Gimp.PlugIn):
        def do_set_i18n(self, name):
            return False  # English only: no locale folder to look for

        def do_query_procedures(self):
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
                "Enlarges every layer by the scale factor with the SRCNN network (Dong et al., "
                "TPAMI 2016) on luminance and bicubic colour and alpha, as one undo step or "
                "into a new image. Runs the srcnn package in-process, or srcnn-cli.", name)
            proc.set_attribution("srcnn project", "srcnn project", "2026")
            proc.add_int_argument("scale", "_Scale factor", "Enlargement factor (2, 3 and 4 have "
                                  "their own models)", 2, 8, 3, GObject.ParamFlags.READWRITE)
            choice = Gimp.Choice.new()
            for i, (nick, label) in enumerate(MODELS):
                choice.add(nick, i, label, "")
            proc.add_choice_argument("model", "_Model", "Network variant", choice, MODELS[0][0],
                                     GObject.ParamFlags.READWRITE)
            proc.add_boolean_argument("new-image", "_New image", "Put the result into a new "
                                      "image instead of changing this one", False,
                                      GObject.ParamFlags.READWRITE)
            proc.add_image_return_value("image", "Image", "The upscaled image", False,
                                        GObject.ParamFlags.READWRITE)
            return proc

    Gimp.main(SrcnnPlugIn.__gtype__, sys.argv)


if __name__ == "__main__":
    _gimp_main()
