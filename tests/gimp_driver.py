"""Runs inside a real GIMP 3 (python-fu-eval batch interpreter) for tests/test_gimp_real.py.

Invoked as ``WORK = '/path'; exec(open(WORK + '/gimp_driver.py').read())``. Reads
``WORK/job.json``, builds each case's image, calls python-fu-srcnn-upscale through the PDB
(non-interactive), dumps every layer's pixels before and after as raw files, exports the
result as PNG, and writes ``WORK/result.json``. The "undo" job runs in the GUI instead: it
shows the result, waits while the test presses Ctrl+Z, then dumps the image again; the
"dialog" job runs the procedure interactively (the test fills in the dialog with xdotool).
The "dialog" job also leaves the preview's pixels where $SRCNN_GIMP_PREVIEW_DUMP says (the
plug-in writes them there). Every job also records the procedure's registration as GIMP holds
it (model menu with each entry's help, help ID),
and writes "case NAME" lines into $SRCNN_GIMP_PROGRESS_LOG (if set) before each call, so the
plug-in's own progress lines there can be told apart.
"""
import json
import os
import time
import traceback

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio  # noqa: E402

JOB = json.load(open(os.path.join(WORK, "job.json")))  # noqa: F821  (WORK is set by the caller)


def leaves(items):
    for it in items:
        if it.is_group():
            yield from leaves(it.get_children())
        else:
            yield it


def sample_kind(img):
    nick = img.get_precision().value_nick
    return "u8" if nick.startswith("u8") else "u16" if nick.startswith("u16") else "float"


def dump(img, tag):
    kind = sample_kind(img)
    layers = []
    for i, layer in enumerate(leaves(img.get_layers())):
        fmt = ("R'G'B'" if layer.is_rgb() else "Y'") + ("A" if layer.has_alpha() else "") + " " + kind
        w, h = layer.get_width(), layer.get_height()
        data = layer.get_buffer().get(Gegl.Rectangle.new(0, 0, w, h), 1.0, fmt, Gegl.AbyssPolicy.CLAMP)
        path = os.path.join(WORK, "%s_%d.raw" % (tag, i))  # noqa: F821
        with open(path, "wb") as f:
            f.write(data)
        _, x, y = layer.get_offsets()
        layers.append({"name": layer.get_name(), "x": x, "y": y, "w": w, "h": h, "kind": kind,
                       "channels": (3 if layer.is_rgb() else 1) + (1 if layer.has_alpha() else 0),
                       "raw": path})
    _, non_empty, x1, y1, x2, y2 = Gimp.Selection.bounds(img)
    return {"width": img.get_width(), "height": img.get_height(), "layers": layers,
            "selection": [x1, y1, x2, y2] if non_empty else None,
            "precision": img.get_precision().value_nick, "id": img.get_id()}


def build(case):
    img = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(case["file"]))
    if case.get("precision"):
        img.convert_precision(getattr(Gimp.Precision, case["precision"]))
    if case.get("group"):
        # a second layer, offset, inside a layer group: every leaf layer must be upscaled
        base = img.get_layers()[0]
        group = Gimp.GroupLayer.new(img, "group")
        img.insert_layer(group, None, 0)
        extra = Gimp.Layer.new_from_drawable(base, img)
        img.insert_layer(extra, group, 0)
        extra.set_offsets(3, 2)
        extra.set_name("offset copy")
    if case.get("select"):
        img.select_rectangle(Gimp.ChannelOps.REPLACE, *case["select"])
    img.clean_all()
    return img


def registration():
    """The procedure as GIMP registered it: the Model menu (nick, label) and the help ID."""
    proc = Gimp.get_pdb().lookup_procedure("python-fu-srcnn-upscale")
    choice = Gimp.param_spec_choice_get_choice(proc.find_argument("model"))
    return {"choices": [[n, choice.get_label(n)] for n in choice.list_nicks()],
            "helps": {n: choice.get_help(n) for n in choice.list_nicks()},
            "help_id": proc.get_help_id(),
            "arguments": [a.name for a in proc.get_arguments()]}


def call(img, case, mode=Gimp.RunMode.NONINTERACTIVE):
    log = os.environ.get("SRCNN_GIMP_PROGRESS_LOG")
    if log:
        with open(log, "a") as f:
            f.write("case %s\n" % case["name"])
    proc = Gimp.get_pdb().lookup_procedure("python-fu-srcnn-upscale")
    cfg = proc.create_config()
    cfg.set_property("run-mode", mode)
    cfg.set_property("image", img)
    for key, prop in (("scale", "scale"), ("width", "width"), ("height", "height"), ("model", "model"),
                      ("new_image", "new-image")):
        if key in case:
            cfg.set_property(prop, case[key])
    res = proc.run(cfg)
    status = res.index(0).value_nick
    second = res.index(1) if res.length() > 1 else None
    return status, second


def run_cases():
    out = {}
    for case in JOB["cases"]:
        name = case["name"]
        try:
            img = build(case)
            before = dump(img, name + "_before")
            t0 = time.time()
            status, second = call(img, case)
            rec = {"status": status, "seconds": time.time() - t0, "before": before}
            if status == "success":
                result = second
                rec["after"] = dump(result, name + "_after")
                rec["same_image"] = result.get_id() == img.get_id()
                rec["dirty"] = result.is_dirty()  # closing it would ask to save
                rec["original_after"] = dump(img, name + "_orig") if not rec["same_image"] else None
                png = os.path.join(WORK, name + "_export.png")  # noqa: F821
                Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, result, Gio.File.new_for_path(png), None)
                rec["export"] = png
            else:
                rec["message"] = str(second)
                rec["original_after"] = dump(img, name + "_orig")
            out[name] = rec
        except Exception:
            out[name] = {"status": "driver-error", "message": traceback.format_exc()}
    return out


def run_dialog():
    """The procedure run interactively on a shown image; the test answers the dialog."""
    case = JOB["cases"][0]
    img = build(case)
    Gimp.Display.new(img)
    Gimp.displays_flush()
    rec = {"before": dump(img, "dialog_before")}
    status, second = call(img, case, Gimp.RunMode.INTERACTIVE)
    rec["status"] = status
    if status == "success":
        rec["after"] = dump(second, "dialog_after")
        rec["dirty"] = second.is_dirty()
    return {"dialog": rec}


def run_undo():
    case = JOB["cases"][0]
    img = build(case)
    Gimp.Display.new(img)
    Gimp.displays_flush()
    rec = {"before": dump(img, "undo_before")}
    status, _ = call(img, case)
    Gimp.displays_flush()
    rec["status"] = status
    rec["after"] = dump(img, "undo_after")
    with open(os.path.join(WORK, "stage1"), "w") as f:  # noqa: F821
        f.write("%dx%d" % (img.get_width(), img.get_height()))
    deadline = time.time() + JOB.get("wait", 120)
    while not os.path.exists(os.path.join(WORK, "stage2")) and time.time() < deadline:  # noqa: F821
        time.sleep(0.1)
    rec["undone"] = dump(img, "undo_undone")
    return {"undo": rec}


try:
    RESULT = {"undo": run_undo, "dialog": run_dialog}.get(JOB.get("mode"), run_cases)()
    RESULT["_registration"] = registration()
except Exception:
    RESULT = {"driver-error": traceback.format_exc()}
with open(os.path.join(WORK, "result.json"), "w") as f:  # noqa: F821
    json.dump(RESULT, f, indent=1)
