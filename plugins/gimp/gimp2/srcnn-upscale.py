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
import os
import shutil
import subprocess
import tempfile
import time

from gimpfu import (CHANNEL_OP_REPLACE, PF_DRAWABLE, PF_IMAGE, PF_OPTION, PF_SPINNER, PF_TOGGLE,
                    gimp, main, pdb, register)

PROC = "python-fu-srcnn-upscale"
MODELS = ["9-5-5", "9-1-5", "9-5-5-int8"]
MODEL_LABELS = ["9-5-5 (best)", "9-1-5 (faster)", "9-5-5 int8 (faster, CPUs with VNNI)"]

# ---- install block: written by `srcnn-cli install-gimp-plugin` ----
INSTALL = json.loads(r"""{}""")
# ---- end of install block ----


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
    int8 = model.endswith("-int8")  # '9-5-5-int8': the 9-5-5 model's int8 path
    cmd = argv + [src, dst, "--scale", str(scale), "--model", model[:-5] if int8 else model,
                  "--name", "{stem}{ext}", "--quiet"] + (["--int8"] if int8 else [])
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
        raise SrcnnError(lines[-1] if lines else "srcnn-cli failed (exit %d)" % proc.returncode)


def leaves(layers):
    for layer in layers:
        if pdb.gimp_item_is_group(layer):
            for sub in leaves(layer.children):
                yield sub
        else:
            yield layer


def upscale_image(image, scale, model, new_image):
    if pdb.gimp_image_base_type(image) == 2:  # INDEXED
        raise SrcnnError("indexed images cannot be upscaled: convert to RGB or grayscale first "
                         "(Image > Mode)")
    argv = find_cli()
    if argv is None:
        raise SrcnnError("srcnn-cli not found: run `srcnn-cli install-gimp-plugin --gimp-version "
                         "2.10` in the environment where srcnn is installed, or set SRCNN_CLI")
    layers = list(leaves(image.layers))
    tmp = tempfile.mkdtemp(prefix="srcnn-gimp-")
    try:
        gimp.progress_init("SRCNN x%d (%s)" % (scale, model))
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

        target = pdb.gimp_image_duplicate(image) if new_image else image
        if new_image:
            pdb.gimp_image_undo_disable(target)
        else:
            pdb.gimp_image_undo_group_start(target)
        saved = None
        try:
            pdb.gimp_image_scale(target, target.width * scale, target.height * scale)
            if not pdb.gimp_selection_is_empty(target):  # clear/paste would stay inside it
                saved = pdb.gimp_selection_save(target)
                pdb.gimp_selection_none(target)
            for layer, path in zip(leaves(target.layers), outputs):
                big = pdb.gimp_file_load_layer(target, path)
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
            if new_image:
                pdb.gimp_image_undo_enable(target)
                pdb.gimp_image_clean_all(target)
            else:
                pdb.gimp_image_undo_group_end(target)
        return target
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def srcnn_upscale(image, drawable, scale, model_index, new_image):
    model = MODELS[int(model_index)]
    try:
        result = upscale_image(image, int(scale), model, bool(new_image))
    except Exception as e:
        msg = "SRCNN: %s" % (e if isinstance(e, SrcnnError) else "%s: %s" % (type(e).__name__, e))
        gimp.message(msg)
        raise SrcnnError(msg)  # gimpfu turns this into an execution-error status
    if new_image:
        gimp.Display(result)
    gimp.displays_flush()
    return result


register(
    PROC,
    "Upscale the image with SRCNN super-resolution",
    "Enlarges every layer by the scale factor with the SRCNN network (Dong et al., TPAMI 2016) "
    "on luminance and bicubic colour and alpha, as one undo step or into a new image. "
    "Runs srcnn-cli from the srcnn Python 3 package.",
    "srcnn project", "srcnn project", "2026",
    "SRCNN...",
    "RGB*, GRAY*",
    [
        (PF_IMAGE, "image", "Input image", None),
        (PF_DRAWABLE, "drawable", "Input drawable", None),
        (PF_SPINNER, "scale", "Scale factor", 3, (2, 8, 1)),
        (PF_OPTION, "model", "Model", 0, MODEL_LABELS),
        (PF_TOGGLE, "new_image", "New image", False),
    ],
    [(PF_IMAGE, "result", "The upscaled image")],
    srcnn_upscale,
    menu="<Image>/Filters/Enhance",
)

main()
