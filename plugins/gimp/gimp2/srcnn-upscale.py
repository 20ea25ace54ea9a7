#!/usr/bin/env python2
# -*- coding: utf-8 -*-
"""SRCNN super-resolution for GIMP 2.10 (Python-Fu): Filters > Enhance > SRCNN...

GIMP 2.10's Python is 2.7 and cannot import the srcnn core, so every layer is exported to a
temporary PNG, enlarged by ``srcnn-cli`` from the user's Python 3 environment, and pasted back
into the scaled image (one undo step), or into a new image. This file must stay valid
Python 2.7 (checked by vermin in the tests); it is tested against a stand-in ``gimpfu``.

Installed by ``srcnn-cli install-gimp-plugin --gimp-version 2.10``, which fills in the INSTALL
block below; otherwise srcnn-cli is looked up on PATH (or set SRCNN_CLI).
"""
import json
import math
import os
import shutil
import subprocess
import tempfile
import time

from gimpfu import (CHANNEL_OP_REPLACE, PF_DRAWABLE, PF_IMAGE, PF_OPTION, PF_SPINNER, PF_TOGGLE,
                    gimp, main, pdb, register)

PROC = "python-fu-srcnn-upscale"
MAX_SCALE = 16.0

# ---- install block: written by `srcnn-cli install-gimp-plugin` ----
INSTALL = json.loads(r"""{}""")
# ---- end of install block ----


def model_menu(caps):
    """(nicks, labels) for the Model menu, best quality first, from what the environment ships
    (recorded at install time; the GIMP 3 plug-in's model_choices, without the help texts)."""
    caps = caps if isinstance(caps, dict) and caps.get("variants") else {
        "variants": {"9-5-5": [2, 3, 4], "9-1-5": [3]}, "int8": [], "ensemble": False}
    names = {"9-5-5": "High quality", "9-5-5-rgb": "High quality, colour network",
             "9-3-5": "Good quality, faster", "9-1-5": "Fast, a little softer"}
    known = ["9-5-5", "9-5-5-rgb", "9-3-5", "9-1-5"]
    order = sorted(caps["variants"], key=lambda v: (known.index(v) if v in known else 3, v))
    nicks, labels = [], []
    for i, v in enumerate(order):
        what = names.get(v, "Other model")
        if i == 0 and caps.get("ensemble"):
            nicks.append(v + "-ensemble")
            labels.append("Best quality, about 8x slower (%s, self-ensemble)" % v)
        nicks.append(v)
        labels.append("%s (%s)" % (what, v))
        if v in (caps.get("int8") or []):
            nicks.append(v + "-int8")
            labels.append("%s, about 1.7x faster (%s int8)" % (what, v))
    return nicks, labels


MODELS, MODEL_LABELS = model_menu(INSTALL.get("capabilities"))


def output_size(n, scale):
    """srcnn's output length: ceil(n * scale)."""
    return int(math.ceil(n * scale - 1e-9))


def resolve_size(w, h, scale, width=0, height=0):
    """-> (factor, out_w, out_h): by ``scale``, or by width and/or height when > 0 (both: the
    largest size that fits inside, aspect ratio kept), as srcnn-cli --width/--height."""
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


class SrcnnError(Exception):
    """A failure to report to the user in one message."""


def _which(name):
    for d in os.environ.get("PATH", "").split(os.pathsep):
        for ext in ("", ".exe"):
            p = os.path.join(d, name + ext)
            if os.path.isfile(p) and os.access(p, os.X_OK):
                return p
    return None


def find_cli():
    """-> argv prefix for srcnn-cli, or None."""
    if os.environ.get("SRCNN_CLI"):
        return [os.environ["SRCNN_CLI"]]
    cli = INSTALL.get("cli")
    if cli and os.path.isfile(cli):
        return [cli]
    found = _which("srcnn-cli")
    if found:
        return [found]
    py = INSTALL.get("python")
    if py and os.path.isfile(py):
        return [py, "-m", "srcnn.cli"]
    return None


def run_cli(argv, src, dst, scale, model):
    """srcnn-cli on the folder SRC into the folder DST; pulses GIMP's progress bar meanwhile."""
    variant, flags = model, []
    for suffix in ("-int8", "-ensemble"):  # '9-5-5-int8': the 9-5-5 model's int8 path
        if model.endswith(suffix):
            variant, flags = model[:-len(suffix)], ["--" + suffix[1:]]
    cmd = argv + [src, dst, "--scale", repr(float(scale)), "--model", variant,
                  "--name", "{stem}{ext}", "--quiet"] + flags
    errf = tempfile.TemporaryFile()
    try:
        try:
            proc = subprocess.Popen(cmd, stdout=errf, stderr=errf,
                                    creationflags=0x08000000 if os.name == "nt" else 0)
        except OSError as e:
            raise SrcnnError("cannot run %s: %s" % (argv[0], e))
        while proc.poll() is None:
            gimp.progress_pulse()
            time.sleep(0.1)
        errf.seek(0)
        text = errf.read().decode("utf-8", "replace")
    finally:
        errf.close()
    if proc.returncode != 0:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        last = lines[-1] if lines else "srcnn-cli failed (exit %d)" % proc.returncode
        raise SrcnnError(last[len("srcnn-cli: error: "):] if last.startswith("srcnn-cli: error: ") else last)


def leaves(layers):
    for layer in layers:
        if pdb.gimp_item_is_group(layer):
            for sub in leaves(layer.children):
                yield sub
        else:
            yield layer


def upscale_image(image, scale, model, new_image, width=0, height=0):
    if pdb.gimp_image_base_type(image) == 2:  # INDEXED
        raise SrcnnError("indexed images cannot be upscaled: convert to RGB or grayscale first "
                         "(Image > Mode)")
    scale, ow, oh = resolve_size(image.width, image.height, scale, width, height)
    argv = find_cli()
    if argv is None:
        raise SrcnnError("srcnn-cli not found: run `srcnn-cli install-gimp-plugin --gimp-version "
                         "2.10` in the environment where srcnn is installed, or set SRCNN_CLI")
    layers = list(leaves(image.layers))
    tmp = tempfile.mkdtemp(prefix="srcnn-gimp-")
    try:
        gimp.progress_init("SRCNN x%.4g to %d x %d (%s)" % (scale, ow, oh, model))
        # Compute everything first (one srcnn-cli run): a failure leaves the image untouched.
        src, dst = os.path.join(tmp, "in"), os.path.join(tmp, "out")
        os.mkdir(src)
        outputs = []
        for i, layer in enumerate(layers):
            name = "layer%04d.png" % i
            # interlace 0, compression 1, no bKGD/gAMA/oFFs/pHYs/tIME/comment,
            # colour of transparent pixels kept (the CLI upscales it)
            pdb.file_png_save2(image, layer, os.path.join(src, name), name, 0, 1, 0, 0, 0, 0, 0, 0, 1)
            outputs.append(os.path.join(dst, name))
        run_cli(argv, src, dst, scale, model)
        missing = [p for p in outputs if not os.path.isfile(p)]
        if missing:
            raise SrcnnError("srcnn-cli wrote no %s" % os.path.basename(missing[0]))
        gimp.progress_update(1.0)
        pdb.gimp_progress_end()  # GIMP's scale would report its own progress from zero

        # a new image too is changed in one undo step: it stays dirty (closing it asks to save)
        target = pdb.gimp_image_duplicate(image) if new_image else image
        pdb.gimp_image_undo_group_start(target)
        saved = None
        try:
            pdb.gimp_image_scale(target, ow, oh)
            if not pdb.gimp_selection_is_empty(target):  # clear/paste would stay inside it
                saved = pdb.gimp_selection_save(target)
                pdb.gimp_selection_none(target)
            for layer, path in zip(leaves(target.layers), outputs):
                big = pdb.gimp_file_load_layer(target, path)
                if (layer.width, layer.height) != (big.width, big.height):  # GIMP rounds, srcnn ceils
                    pdb.gimp_layer_scale(layer, big.width, big.height, False)
                pdb.gimp_image_insert_layer(target, big, None, 0)
                pdb.gimp_edit_copy(big)
                pdb.gimp_image_remove_layer(target, big)
                pdb.gimp_edit_clear(layer)
                floating = pdb.gimp_edit_paste(layer, False)
                x, y = layer.offsets
                pdb.gimp_layer_set_offsets(floating, x, y)
                pdb.gimp_floating_sel_anchor(floating)
        finally:
            if saved is not None:
                pdb.gimp_image_select_item(target, CHANNEL_OP_REPLACE, saved)
                pdb.gimp_image_remove_channel(target, saved)
            pdb.gimp_image_undo_group_end(target)
        return target
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def srcnn_upscale(image, drawable, scale, model_index, new_image, width=0, height=0):
    model = MODELS[int(model_index)]
    try:
        result = upscale_image(image, float(scale), model, bool(new_image), int(width), int(height))
    except Exception as e:
        # One message. Raising instead would make gimpfu show a traceback dialog and GIMP an
        # "execution error" beside it; a script gets no image back (None).
        gimp.message("SRCNN: %s" % (e if isinstance(e, SrcnnError) else "%s: %s" % (type(e).__name__, e)))
        return None
    if new_image:
        gimp.Display(result)
    gimp.displays_flush()
    return result


register(
    PROC,
    "Upscale the image with SRCNN super-resolution",
    "Enlarges every layer by the scale factor (x1 to x16; x2, x3, x4 have trained models, other "
    "factors chain them and resample), or to a width and/or height in pixels (the other side by "
    "the aspect ratio; both: the largest size inside), with the SRCNN network (Dong et al., "
    "TPAMI 2016) on luminance and bicubic colour and alpha, as one undo step or into a new "
    "image. Runs srcnn-cli from the srcnn Python 3 package.",
    "srcnn project", "srcnn project", "2026",
    "SRCNN...",
    "RGB*, GRAY*",
    [
        (PF_IMAGE, "image", "Input image", None),
        (PF_DRAWABLE, "drawable", "Input drawable", None),
        (PF_SPINNER, "scale", "Scale factor (x1 to x16)", 3.0, (1.0, MAX_SCALE, 0.1)),
        (PF_OPTION, "model", "Model", MODELS.index("9-5-5") if "9-5-5" in MODELS else 0, MODEL_LABELS),
        (PF_TOGGLE, "new_image", "New image", False),
        (PF_SPINNER, "width", "Or width in pixels (0: by the factor)", 0, (0, 524288, 1)),
        (PF_SPINNER, "height", "Or height in pixels (0: by the factor)", 0, (0, 524288, 1)),
    ],
    [(PF_IMAGE, "result", "The upscaled image")],
    srcnn_upscale,
    menu="<Image>/Filters/Enhance",
)

main()
