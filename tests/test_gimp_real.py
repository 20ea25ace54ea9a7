"""The GIMP 3 plug-in inside a real GIMP 3 (gimp-console batch mode, and the GUI for undo).

Needs the environment made by ``plugins/gimp/ci/setup_gimp.sh`` (root; Debian 13 natively, or a
Debian 13 chroot on Debian 12) at $SRCNN_GIMP_ROOT (default /var/tmp/srcnn-gimp3); skipped
otherwise. The plug-in is installed with ``srcnn-cli install-gimp-plugin`` inside that
environment, images are opened in GIMP, python-fu-srcnn-upscale is called through the PDB,
and every layer is compared with ``srcnn-cli`` run on the same pixels.

Two sessions: "core" (the normal install: GIMP's Python imports srcnn in-process; a logging
srcnn-cli stand-in on $SRCNN_CLI proves the CLI is not used) and "cli" (an install that records
no site-packages, as when GIMP's own Python differs from the user's: the plug-in must fall back
to srcnn-cli, which logs each call).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from conftest import identity_layers, random_layers
from srcnn.quant import int8_cpu_problem

pytestmark = [pytest.mark.gimp, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
SETUP = REPO / "plugins" / "gimp" / "ci" / "setup_gimp.sh"
GIMP_ROOT = Path(os.environ.get("SRCNN_GIMP_ROOT", "/var/tmp/srcnn-gimp3"))
HOW = f"run `bash {SETUP.relative_to(REPO)}` as root first (see plugins/gimp/README.md)"
BATCH_TIMEOUT = 1800  # a hang guard: minutes only on a starved machine (nice 19 beside training)

# name, image file, scale, options
CASES = [
    ("rgb", "rgb.png", 2, {}),
    ("rgba", "rgba.png", 3, {}),
    ("grey", "grey.png", 2, {}),
    ("greya", "greya.png", 3, {"model": "9-1-5"}),
    ("rgb16", "rgb16.png", 2, {}),
    ("rgba_float", "rgba.png", 2, {"precision": "FLOAT_NON_LINEAR"}),
    ("layers", "rgba.png", 2, {"group": True}),
    ("greya16", "greya.png", 2, {"precision": "U16_NON_LINEAR"}),
    ("selection", "rgb.png", 2, {"select": [2, 3, 9, 7]}),
    ("new_image", "rgb.png", 2, {"new_image": True}),
]
# the int8 choice: only where this CPU can run it (the chroot cannot read /proc/cpuinfo, so
# the host's answer goes in as SRCNN_INT8_CPU=ok)
HOST_INT8 = int8_cpu_problem() is None
if HOST_INT8:
    CASES.append(("int8", "rgb.png", 2, {"model": "9-5-5-int8"}))


class GimpEnv:
    """Where GIMP 3 lives: the host itself (Debian 13) or a chroot; runs commands there."""

    def __init__(self, root: Path):
        vals = dict(re.findall(r"^(\w+)=(.*)$", (root / "env.sh").read_text(), re.M))
        self.root, self.mode, self.venv = root, vals["SRCNN_GIMP_MODE"], vals["SRCNN_GIMP_VENV"]
        self.home = vals["SRCNN_GIMP_HOME"]  # a warmed GIMP profile (see setup_gimp.sh)

    def host(self, inside: str) -> Path:
        return self.root / inside.lstrip("/") if self.mode == "chroot" else Path(inside)

    def inside(self, host: Path) -> str:
        return "/" + str(Path(host).relative_to(self.root)) if self.mode == "chroot" else str(host)

    def argv(self, argv: list[str], env: dict) -> list[str]:
        base = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        base.update(env)
        pre = ["chroot", str(self.root)] if self.mode == "chroot" else []
        return ["nice", "-n", "19"] + pre + ["/usr/bin/env", "-i"] + [f"{k}={v}" for k, v in base.items()] + argv

    def run(self, argv, env, timeout=BATCH_TIMEOUT, check=True):
        p = subprocess.run(self.argv(argv, env), capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"{argv[0]} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
        return p


def _make_images(folder: Path):
    from PIL import Image

    from srcnn.imageio import Picture, write_image

    rng = np.random.default_rng(5)
    h, w = 17, 23
    yy, xx = np.mgrid[0:h, 0:w]
    smooth = (0.5 + 0.4 * np.sin(xx / 3.0)[..., None] * np.cos(yy / 4.0)[..., None] * [1, 0.7, -0.8])
    rgb = np.clip(smooth + rng.normal(0, 0.05, (h, w, 3)), 0, 1)
    alpha = np.clip((xx + yy) / (w + h - 2) * 1.4 - 0.2, 0, 1)  # fully transparent to opaque
    u8 = lambda a: np.round(a * 255).astype(np.uint8)  # noqa: E731
    Image.fromarray(u8(rgb), "RGB").save(folder / "rgb.png")
    Image.fromarray(u8(np.dstack([rgb, alpha])), "RGBA").save(folder / "rgba.png")
    Image.fromarray(u8(rgb[..., 0]), "L").save(folder / "grey.png")
    Image.fromarray(u8(np.dstack([rgb[..., 1], alpha])), "LA").save(folder / "greya.png")
    write_image(Picture(np.round(rgb[:13, :19] * 65535).astype(np.uint16)), folder / "rgb16.png")


def _read_raw(env: GimpEnv, layer: dict) -> np.ndarray:
    dt = {"u8": np.uint8, "u16": np.uint16, "float": np.float32}[layer["kind"]]
    a = np.fromfile(env.host(layer["raw"]), dt)
    return a.reshape(layer["h"], layer["w"], layer["channels"])


def _to_int(a: np.ndarray) -> np.ndarray:
    """Raw layer pixels as integers: u8/u16 as they are, float on the 16-bit scale."""
    if a.dtype == np.float32:
        return np.clip(np.floor(a.astype(np.float64) * 65535 + 0.5), 0, 65535).astype(np.int64)
    return a.astype(np.int64)


@pytest.fixture(scope="module")
def genv():
    if os.geteuid() != 0:
        pytest.skip("the real-GIMP tests need root (chroot / the setup script)")
    if not (GIMP_ROOT / "env.sh").is_file() or not (GIMP_ROOT / ".base-ready").is_file():
        pytest.skip(f"no GIMP 3 environment at {GIMP_ROOT}: {HOW}")
    # refresh the srcnn install there from this checkout (seconds when the base is ready)
    p = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, timeout=900,
                       env=dict(os.environ, SRCNN_GIMP_ROOT=str(GIMP_ROOT)))
    assert p.returncode == 0, f"setup_gimp.sh failed:\n{p.stderr[-3000:]}"
    return GimpEnv(GIMP_ROOT)


@pytest.fixture(scope="module")
def work(genv):
    from srcnn.export import write_model

    base = GIMP_ROOT / "tmp" if genv.mode == "chroot" else Path("/tmp")
    d = base / f"srcnn-gimp-test-{uuid.uuid4().hex[:8]}"
    d.mkdir(parents=True)
    os.chmod(d, 0o755)
    for s in (2, 3, 4):
        write_model(d / "weights", f"srcnn_955_x{s}", random_layers(s), scale=s, variant="9-5-5")
    write_model(d / "weights", "srcnn_915_x3", identity_layers(f=(9, 1, 5)), scale=3, variant="9-1-5")
    _calibrate_int8(d / "weights" / "srcnn_955_x2.json")
    (d / "empty-weights").mkdir()
    _make_images(d)
    shutil.copy(Path(__file__).with_name("gimp_driver.py"), d / "gimp_driver.py")
    cli = f"{genv.venv}/bin/srcnn-cli"
    wrapper = d / "logging-cli"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{genv.inside(d)}/cli.log"\nexec {cli} "$@"\n')
    wrapper.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _base_env(genv, work):
    env = {"HOME": genv.home, "SRCNN_WEIGHTS": f"{genv.inside(work)}/weights"}
    if HOST_INT8:
        env["SRCNN_INT8_CPU"] = "ok"
    return env


def _calibrate_int8(manifest: Path):
    """An accepted int8 section for a random test model (calibrated on random smooth images):
    the plug-in's int8 choice needs one; the 0.02 dB admission is for shipped weights."""
    from srcnn.onnxmini import read_conv_stack
    from srcnn.quant import activation_scales
    from srcnn.resize import imresize

    m = json.loads(manifest.read_text())
    layers = read_conv_stack((manifest.parent / m["file"]).read_bytes())
    rng = np.random.default_rng(0)
    imgs = [np.float32(imresize(rng.random((12, 12)), 4.0)) for _ in range(3)]
    r1, r2 = activation_scales(layers, imgs)
    m["int8"] = {"accepted": True, "layer1_range": (r1 * 1.25).tolist(), "layer2_range": (r2 * 1.25).tolist()}
    manifest.write_text(json.dumps(m))


def _install(genv, work, variant):
    """'core': the README's `srcnn-cli install-gimp-plugin`; 'cli': an install whose environment
    GIMP's Python cannot use (no site-packages, only a srcnn-cli), as with GIMP's own Python."""
    env = _base_env(genv, work)
    if variant == "core":
        genv.run([f"{genv.venv}/bin/srcnn-cli", "install-gimp-plugin"], env)
    else:
        code = ("from srcnn.gimp.install import install_gimp_plugin; "
                f"install_gimp_plugin('3', install={{'cli': {genv.inside(work) + '/logging-cli'!r}}})")
        genv.run([f"{genv.venv}/bin/python", "-c", code], env)
    (work / "cli.log").unlink(missing_ok=True)


def _batch(genv, work, env, job, gui=False):
    w = genv.inside(work)
    (work / "job.json").write_text(json.dumps(job))
    (work / "result.json").unlink(missing_ok=True)
    cmd = ["gimp" if gui else "gimp-console", "--no-splash", "--quit",
           "--batch-interpreter=python-fu-eval", "-b", f"WORK = {w!r}; exec(open(WORK + '/gimp_driver.py').read())"]
    if not gui:
        cmd.insert(1, "-i")
    return cmd, env


def _run_session(genv, work, env, cases, tag):
    for f in work.glob(f"{tag}_*"):
        f.unlink()
    job = {"cases": [{"name": f"{tag}_{n}", "file": f"{genv.inside(work)}/{f}", "scale": s, **o}
                     for n, f, s, o in cases]}
    cmd, env = _batch(genv, work, env, job)
    t0 = time.time()
    p = genv.run(cmd, env, check=False)
    assert (work / "result.json").is_file(), f"GIMP wrote no result ({p.returncode}):\n{p.stderr[-4000:]}"
    res = json.loads((work / "result.json").read_text())
    res["_seconds"] = time.time() - t0
    res["_log"] = p.stdout[-4000:] + p.stderr[-4000:]
    return res


@pytest.fixture(scope="module")
def core_session(genv, work):
    _install(genv, work, "core")
    env = _base_env(genv, work)
    env["SRCNN_CLI"] = f"{genv.inside(work)}/logging-cli"  # must stay unused: the core is importable
    res = _run_session(genv, work, env, CASES, "core")
    res["_cli_calls"] = (work / "cli.log").read_text().splitlines() if (work / "cli.log").exists() else []
    return res


@pytest.fixture(scope="module")
def cli_session(genv, work, core_session):
    _install(genv, work, "cli")
    res = _run_session(genv, work, _base_env(genv, work), CASES, "cli")
    res["_cli_calls"] = (work / "cli.log").read_text().splitlines() if (work / "cli.log").exists() else []
    return res


@pytest.fixture(scope="module")
def reference(genv, work, core_session):
    """srcnn-cli (in the same environment) on every layer GIMP handed over, by case name."""
    from srcnn.imageio import Picture, read_image, write_image

    groups: dict[tuple, list] = {}
    for name, rec in core_session.items():
        if name.startswith("_") or rec.get("status") != "success":
            continue
        n, _, s, o = next(c for c in CASES if f"core_{c[0]}" == name)
        for i, layer in enumerate(rec["before"]["layers"]):
            a = _read_raw(genv, layer)
            if a.dtype == np.float32:
                a = _to_int(a).astype(np.uint16)
            groups.setdefault((s, o.get("model", "9-5-5")), []).append((n, i, a))
    out = {}
    for (s, model), items in groups.items():
        if not items:
            continue
        src, dst = work / f"ref_in_{s}_{model}", work / f"ref_out_{s}_{model}"
        for d in (src, dst):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir()
        for n, i, a in items:
            write_image(Picture(a[..., 0] if a.shape[2] == 1 else a), src / f"{n}__{i}.png")
        variant = model[:-5] if model.endswith("-int8") else model
        genv.run([f"{genv.venv}/bin/srcnn-cli", genv.inside(src), genv.inside(dst), "--scale", str(s),
                  "--model", variant, "-q"] + (["--int8"] if variant != model else []), _base_env(genv, work))
        for n, i, a in items:
            px = read_image(dst / f"{n}__{i}_x{s}.png").pixels
            out[(n, i)] = px.reshape(px.shape[0], px.shape[1], -1)
    return out


def _check_case(genv, session, reference, tag, case):
    n, file, s, opts = case
    rec = session[f"{tag}_{n}"]
    assert rec["status"] == "success", rec.get("message", session["_log"])
    before, after = rec["before"], rec["after"]
    assert (after["width"], after["height"]) == (before["width"] * s, before["height"] * s)
    assert len(after["layers"]) == len(before["layers"])
    if before["selection"]:  # kept, scaled with the image (GIMP interpolates its edge: +-1 px)
        assert after["selection"] and all(abs(a - b * s) <= 1 for a, b in zip(after["selection"], before["selection"]))
    worst = 0
    for i, (lb, la) in enumerate(zip(before["layers"], after["layers"])):
        assert (la["w"], la["h"], la["x"], la["y"]) == (lb["w"] * s, lb["h"] * s, lb["x"] * s, lb["y"] * s)
        assert la["channels"] == lb["channels"]  # alpha kept (and grey stays grey)
        got, want = _to_int(_read_raw(genv, la)), reference[(n, i)].astype(np.int64)
        grey_level = 257 if la["kind"] != "u8" else 1  # one 8-bit grey level on the 16-bit scale
        diff = int(np.abs(got - want).max())
        worst = max(worst, diff)
        assert diff <= grey_level, f"{tag}_{n} layer {i}: max difference {diff} from srcnn-cli"
        if la["kind"] in ("u8", "u16"):
            assert diff == 0, f"{tag}_{n} layer {i}: {diff} (integer images should match exactly)"
    from srcnn.imageio import read_image

    exported = read_image(genv.host(rec["export"])).pixels
    assert exported.shape[:2] == (after["height"], after["width"])
    if opts.get("new_image"):
        assert not rec["same_image"]
        orig = rec["original_after"]
        assert (orig["width"], orig["height"]) == (before["width"], before["height"])
        for lb, lo in zip(before["layers"], orig["layers"]):
            assert np.array_equal(_read_raw(genv, lb), _read_raw(genv, lo))
    else:
        assert rec["same_image"]
    return worst


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_core_in_process(genv, core_session, reference, case):
    _check_case(genv, core_session, reference, "core", case)
    assert core_session["_cli_calls"] == [], "the core was importable, yet srcnn-cli was run"


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_cli_fallback(genv, cli_session, reference, case):
    _check_case(genv, cli_session, reference, "cli", case)
    n_runs = sum(1 for k, r in cli_session.items() if not k.startswith("_") and r.get("status") == "success")
    assert len(cli_session["_cli_calls"]) == n_runs  # one srcnn-cli run per image, all layers at once


def test_both_paths_identical(genv, core_session, cli_session):
    for n, _, _, _ in CASES:
        a, b = core_session[f"core_{n}"], cli_session[f"cli_{n}"]
        for la, lb in zip(a["after"]["layers"], b["after"]["layers"]):
            x, y = _to_int(_read_raw(genv, la)), _to_int(_read_raw(genv, lb))
            tol = 257 if la["kind"] == "float" else 0  # float layers travel to the CLI as 16-bit
            assert int(np.abs(x - y).max()) <= tol, n


def test_error_is_reported_and_image_untouched(genv, work, core_session, cli_session):
    _install(genv, work, "core")
    env = _base_env(genv, work)
    env["SRCNN_WEIGHTS"] = f"{genv.inside(work)}/empty-weights"
    res = _run_session(genv, work, env, [CASES[0]], "err")
    rec = res["err_rgb"]
    assert rec["status"] == "execution-error", rec
    assert "no shipped 9-5-5 model" in rec["message"]
    orig = rec["original_after"]
    assert (orig["width"], orig["height"]) == (rec["before"]["width"], rec["before"]["height"])
    assert np.array_equal(_read_raw(genv, orig["layers"][0]), _read_raw(genv, rec["before"]["layers"][0]))


def _xdo(genv, display, *args, check=True):
    return genv.run(["xdotool", *args], {"DISPLAY": display}, timeout=30, check=check)


def test_one_undo_restores_the_original(genv, work, core_session):
    """GIMP's own Edit > Undo (Ctrl+Z in the GUI on a virtual screen): one step undoes it all."""
    if not genv.host("/usr/bin/Xvfb").exists() or not genv.host("/usr/bin/xdotool").exists():
        pytest.skip(f"Xvfb/xdotool missing in the GIMP environment: {HOW}")
    for f in ("stage1", "stage2"):
        (work / f).unlink(missing_ok=True)
    _install(genv, work, "core")
    env = _base_env(genv, work)
    layers_case = next(c for c in CASES if c[0] == "layers")
    job = {"mode": "undo", "wait": 900, "cases": [{"name": "undo", "file": f"{genv.inside(work)}/rgba.png",
                                                   "scale": layers_case[2], **layers_case[3]}]}
    xvfb = subprocess.Popen(genv.argv(["Xvfb", "-displayfd", "1", "-screen", "0", "1024x768x24",
                                       "-nolisten", "tcp"], {}), stdout=subprocess.PIPE, text=True)
    gimp = None
    try:
        display = ":" + xvfb.stdout.readline().strip()
        assert display != ":", "Xvfb did not start"
        cmd, env = _batch(genv, work, dict(env, DISPLAY=display), job, gui=True)
        gimp = subprocess.Popen(genv.argv(cmd, env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + BATCH_TIMEOUT
        while not (work / "stage1").exists():
            assert gimp.poll() is None, f"GIMP ended early:\n{gimp.stdout.read()[-4000:]}"
            assert time.time() < deadline, "GIMP did not upscale in time"
            time.sleep(0.2)
        big = (work / "stage1").read_text()

        def window(size):
            p = _xdo(genv, display, "search", "--name", rf" {size} .*GIMP$", check=False)
            return p.stdout.split()[0] if p.returncode == 0 and p.stdout.split() else None

        t = time.time()
        while window(big) is None:  # the display shows the upscaled image
            assert time.time() - t < 300, "no image window"
            time.sleep(0.3)
        win = window(big)
        _xdo(genv, display, "windowfocus", "--sync", win)
        _xdo(genv, display, "key", "--clearmodifiers", "ctrl+z")  # exactly one undo
        t = time.time()
        while _xdo(genv, display, "getwindowname", win).stdout.find(f" {big} ") >= 0 and time.time() - t < 30:
            time.sleep(0.3)
        (work / "stage2").write_text("")
        gimp.wait(timeout=BATCH_TIMEOUT)
    finally:
        for proc in (gimp, xvfb):
            if proc and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
    rec = json.loads((work / "result.json").read_text())["undo"]
    assert rec["status"] == "success"
    before, after, undone = rec["before"], rec["after"], rec["undone"]
    s = layers_case[2]
    assert (after["width"], after["height"]) == (before["width"] * s, before["height"] * s)
    assert (undone["width"], undone["height"]) == (before["width"], before["height"])
    assert len(undone["layers"]) == len(before["layers"]) == 2
    for lb, lu in zip(before["layers"], undone["layers"]):
        assert (lu["w"], lu["h"], lu["x"], lu["y"]) == (lb["w"], lb["h"], lb["x"], lb["y"])
        assert np.array_equal(_read_raw(genv, lb), _read_raw(genv, lu))
