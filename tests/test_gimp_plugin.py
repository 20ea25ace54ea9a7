"""The GIMP plug-ins without GIMP: installer, PNG exchange, compute paths, GIMP 2.10 adapter.

The GIMP 2.10 adapter runs against a stand-in ``gimpfu`` (no Linux distribution packages GIMP
2.10 with Python-Fu any more) that records registration and PDB calls and keeps layers as
numpy arrays, reading/writing the PNG files the adapter exchanges with srcnn-cli. The real
GIMP 3 tests are in test_gimp_real.py.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import stat
import subprocess
import sys
import types
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from srcnn.gimp import install as inst

REPO = Path(__file__).resolve().parents[1]
GIMP3 = REPO / "plugins" / "gimp" / "gimp3" / "srcnn-upscale.py"
GIMP2 = REPO / "plugins" / "gimp" / "gimp2" / "srcnn-upscale.py"
CLI = str(Path(sys.executable).with_name("srcnn-cli"))


def load(path: Path, name: str, **modules):
    saved = {k: sys.modules.get(k) for k in modules}
    sys.modules.update(modules)
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def install_block(path: Path) -> dict:
    m = re.search(r'^INSTALL = json\.loads\(r"""(.*)"""\)$', path.read_text(), re.M)
    return json.loads(m.group(1))


def sample_image(h=11, w=14, c=3, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    m = np.iinfo(dtype).max
    yy, xx = np.mgrid[0:h, 0:w]
    base = 0.5 + 0.35 * np.sin(xx / 2.5 + yy / 3.5)
    a = np.clip(base[..., None] + rng.normal(0, 0.08, (h, w, c)), 0, 1)
    return np.round(a * m).astype(dtype)


# ---------------------------------------------------------------- installer

def test_install_gimp3_into_dest(tmp_path):
    path = inst.install_gimp_plugin("3", tmp_path)
    assert path == tmp_path / "srcnn-upscale" / "srcnn-upscale.py"
    assert path.stat().st_mode & stat.S_IXUSR
    assert path.read_text().startswith("#!/usr/bin/env python3\n")
    rec = install_block(path)
    assert rec["python"] == sys.executable
    assert rec["python_version"] == "%d.%d" % sys.version_info[:2]
    assert rec["cli"] == CLI
    assert any(Path(p).is_dir() for p in rec["site_packages"])
    compile(path.read_text(), str(path), "exec")
    # re-installing replaces the file (and the help page) in place, nothing left behind
    inst.install_gimp_plugin("3", tmp_path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["help", "srcnn-upscale.py"]
    assert rec["capabilities"]["variants"]  # the Model menu for the srcnn-cli path


def test_install_gimp210_into_dest(tmp_path):
    path = inst.install_gimp_plugin("2.10", tmp_path)
    assert path == tmp_path / "srcnn-upscale.py"
    assert path.stat().st_mode & stat.S_IXUSR
    assert install_block(path)["cli"] == CLI


def test_installed_plugin_imports_the_core_from_the_recorded_environment(tmp_path):
    """A Python that has nothing on its path but the standard library finds srcnn through the
    site-packages written in at install time (as GIMP's Python does)."""
    path = inst.install_gimp_plugin("3", tmp_path)
    code = (f"import importlib.util as u; s = u.spec_from_file_location('p', {str(path)!r}); "
            "m = u.module_from_spec(s); s.loader.exec_module(m); core = m.import_core(); "
            "print(core.__name__, callable(core.upscale))")
    out = subprocess.run([sys.executable, "-S", "-I", "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["srcnn", "True"]


@pytest.mark.parametrize("platform,env,expect", [
    ("linux", {}, "home/.config/GIMP/3.0/plug-ins"),
    ("linux", {"XDG_CONFIG_HOME": "/xdg"}, "/xdg/GIMP/3.0/plug-ins"),
    ("win32", {"APPDATA": "/appdata"}, "/appdata/GIMP/3.0/plug-ins"),
    ("darwin", {}, "home/Library/Application Support/GIMP/3.0/plug-ins"),
])
def test_plugins_folder_per_os(tmp_path, platform, env, expect):
    home = tmp_path / "home"
    got = inst.plugins_folder("3", platform=platform, home=home, env=env)
    want = Path(expect) if expect.startswith("/") else tmp_path / expect
    assert got == want
    assert inst.plugins_folder("2.10", platform=platform, home=home, env=env) == want.parent.parent / "2.10" / "plug-ins"


def test_plugins_folder_prefers_newest_gimp3_profile(tmp_path):
    for v in ("3.0", "3.2", "3.10x"):
        (tmp_path / ".config" / "GIMP" / v).mkdir(parents=True)
    assert inst.plugins_folder("3", platform="linux", home=tmp_path, env={}).parent.name == "3.2"


def test_bad_version_and_dest(tmp_path):
    with pytest.raises(ValueError):
        inst.install_gimp_plugin("2.8", tmp_path)
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(ValueError):
        inst.install_gimp_plugin("3", f)


def test_cli_command(tmp_path):
    r = subprocess.run([CLI, "install-gimp-plugin", "--dest", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "srcnn-upscale" / "srcnn-upscale.py").is_file()
    assert "Filters > Enhance > SRCNN..." in r.stdout
    r = subprocess.run([CLI, "install-gimp-plugin", "--gimp-version", "2.10", "--dest", str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and (tmp_path / "srcnn-upscale.py").is_file()
    f = tmp_path / "not-a-folder"
    f.write_text("")
    r = subprocess.run([CLI, "install-gimp-plugin", "--dest", str(f / "sub")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.startswith("srcnn-cli: error:") and "Traceback" not in r.stderr


def test_default_dest_is_the_users_gimp_folder(tmp_path):
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME="")
    env.pop("XDG_CONFIG_HOME")
    r = subprocess.run([CLI, "install-gimp-plugin"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    if sys.platform.startswith("linux"):
        assert (tmp_path / ".config/GIMP/3.0/plug-ins/srcnn-upscale/srcnn-upscale.py").is_file()


def test_build_zips(tmp_path):
    from srcnn.gimp.build import main

    assert main(["--out", str(tmp_path)]) == 0
    z3, z2 = sorted(tmp_path.glob("srcnn-gimp3-*.zip")), sorted(tmp_path.glob("srcnn-gimp2.10-*.zip"))
    assert len(z3) == len(z2) == 1
    with zipfile.ZipFile(z3[0]) as z:
        assert sorted(z.namelist()) == ["README.md", "srcnn-upscale/help/en/gimp-help.xml",
                                        "srcnn-upscale/help/en/index.html", "srcnn-upscale/srcnn-upscale.py"]
        info = z.getinfo("srcnn-upscale/srcnn-upscale.py")
        assert (info.external_attr >> 16) & 0o111
        assert 'INSTALL = json.loads(r"""{}""")' in z.read(info).decode()
    with zipfile.ZipFile(z2[0]) as z:
        assert sorted(z.namelist()) == ["README.md", "srcnn-upscale.py"]


# ---------------------------------------------------------------- GIMP 3 plug-in helpers

@pytest.fixture
def g3():
    return load(GIMP3, "srcnn_gimp3_plugin")


@pytest.mark.parametrize("c", [1, 2, 3, 4])
@pytest.mark.parametrize("depth", [8, 16])
def test_png_bytes_roundtrip(g3, tmp_path, c, depth):
    from PIL import Image

    a = sample_image(7, 9, c, np.uint8 if depth == 8 else np.uint16, seed=c)
    p = tmp_path / "x.png"
    p.write_bytes(g3.png_bytes(9, 7, c, depth, a.tobytes()))
    with Image.open(p) as im:  # an independent decoder accepts it (checksums, zlib stream)
        assert im.size == (9, 7)
        im.load()
    raw = p.read_bytes()
    assert raw[24] == depth and raw[25] == {1: 0, 2: 4, 3: 2, 4: 6}[c]  # IHDR bit depth, colour type
    idat = raw[raw.index(b"IDAT") + 4:raw.index(b"IEND") - 8]
    rows = zlib.decompress(idat)
    stride = 9 * c * depth // 8
    body = b"".join(rows[y * (stride + 1) + 1:(y + 1) * (stride + 1)] for y in range(7))
    want = a.astype(">u2").tobytes() if depth == 16 else a.tobytes()  # PNG is big-endian
    assert body == want


def _read_png_like_gimp(path, c, kind):
    """What GIMP's loader + a buffer read in the layer's format give back, via the core's reader."""
    from srcnn.imageio import read_image

    a = read_image(path).pixels
    assert a.dtype == (np.uint8 if kind == "u8" else np.uint16)
    a = a.reshape(a.shape[0], a.shape[1], -1)
    assert a.shape[2] == c
    return a.shape[1], a.shape[0], a.tobytes()


@pytest.mark.parametrize("c,dtype", [(3, np.uint8), (4, np.uint8), (1, np.uint8), (2, np.uint8),
                                     (2, np.uint16), (1, np.uint16), (3, np.uint16)])
def test_core_and_cli_paths_identical(g3, tiny_weights, c, dtype):
    import srcnn

    kind = "u8" if dtype == np.uint8 else "u16"
    a = sample_image(9, 13, c, dtype, seed=c)
    b = sample_image(5, 6, c, dtype, seed=c + 10)  # a second layer of another size
    items = [(x.tobytes(), x.shape[1], x.shape[0], c, kind) for x in (a, b)]
    seen = []
    core = g3.CoreBackend(srcnn).upscale_all(items, 3, "9-5-5", seen.append)
    cli = g3.CliBackend([CLI], _read_png_like_gimp).upscale_all(items, 3, "9-5-5", lambda f: None)
    for x, (w, h, data), (w2, h2, data2) in zip((a, b), core, cli):
        assert (w, h) == (w2, h2) == (x.shape[1] * 3, x.shape[0] * 3)
        assert data == data2
        want = srcnn.upscale(x if c > 1 else x[..., 0], 3)
        assert data == want.tobytes()
    assert seen[-1] == pytest.approx(1.0) and seen == sorted(seen)


def test_core_path_float(g3, tiny_weights):
    import srcnn

    a = sample_image(8, 8, 4, np.uint16).astype(np.float32) / 65535
    (w, h, data), = g3.CoreBackend(srcnn).upscale_all([(a.tobytes(), 8, 8, 4, "float")], 2, "9-5-5", lambda f: None)
    assert np.frombuffer(data, np.float32).tobytes() == srcnn.upscale(a, 2).tobytes()
    assert g3.CliBackend.sample("float") == "u16" and g3.CoreBackend.sample("float") == "float"


def test_cli_error_reaches_the_user(g3, tmp_path):
    fail = [sys.executable, "-c", "import sys; print('working'); sys.stderr.write('srcnn-cli: error: boom\\n'); sys.exit(1)"]
    with pytest.raises(g3.SrcnnError) as e:
        g3.CliBackend(fail, _read_png_like_gimp).upscale_all([(b"\0" * 12, 2, 2, 3, "u8")], 2, "9-5-5", lambda f: None)
    assert str(e.value) == "boom"  # the CLI's last line, without its own "srcnn-cli: error:" prefix
    with pytest.raises(g3.SrcnnError, match="cannot run"):
        g3.CliBackend([str(tmp_path / "missing")], _read_png_like_gimp).upscale_all(
            [(b"\0" * 12, 2, 2, 3, "u8")], 2, "9-5-5", lambda f: None)


def test_backend_choice(g3, monkeypatch):
    monkeypatch.delenv("SRCNN_GIMP_BACKEND", raising=False)
    monkeypatch.delenv("SRCNN_CLI", raising=False)
    monkeypatch.setattr(g3, "INSTALL", {"cli": CLI})
    assert g3.choose_backend(None).name == "core"  # srcnn imports here
    monkeypatch.setenv("SRCNN_GIMP_BACKEND", "cli")
    b = g3.choose_backend(None)
    assert b.name == "cli" and b.argv == [CLI]
    monkeypatch.setenv("SRCNN_GIMP_BACKEND", "gpu")
    with pytest.raises(g3.SrcnnError, match="auto, core or cli"):
        g3.choose_backend(None)
    # auto, core not importable: falls back to the CLI; with no CLI either, one clear message
    monkeypatch.setenv("SRCNN_GIMP_BACKEND", "auto")
    monkeypatch.setattr(g3, "import_core", lambda: (_ for _ in ()).throw(ImportError("No module named 'numpy'")))
    assert g3.choose_backend(None).name == "cli"
    monkeypatch.setattr(g3, "find_cli", lambda: None)
    with pytest.raises(g3.SrcnnError, match="install-gimp-plugin"):
        g3.choose_backend(None)
    monkeypatch.setenv("SRCNN_GIMP_BACKEND", "core")
    with pytest.raises(g3.SrcnnError, match="numpy"):
        g3.choose_backend(None)


def test_find_cli_order(g3, monkeypatch, tmp_path):
    monkeypatch.setenv("SRCNN_CLI", "/x/srcnn-cli")
    assert g3.find_cli() == ["/x/srcnn-cli"]
    monkeypatch.delenv("SRCNN_CLI")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(g3, "INSTALL", {"cli": CLI})
    assert g3.find_cli() == [CLI]
    monkeypatch.setattr(g3, "INSTALL", {"cli": "/gone", "python": sys.executable})
    assert g3.find_cli() == [sys.executable, "-m", "srcnn.cli"]
    monkeypatch.setattr(g3, "INSTALL", {})
    assert g3.find_cli() is None


def test_site_packages_only_for_the_same_python(g3, monkeypatch, tmp_path):
    monkeypatch.setattr(g3, "INSTALL", {"python_version": "2.7", "site_packages": [str(tmp_path)]})
    assert g3._core_paths() == []
    monkeypatch.setattr(g3, "INSTALL", {"python_version": "%d.%d" % sys.version_info[:2],
                                        "site_packages": [str(tmp_path), str(tmp_path / "gone")]})
    assert g3._core_paths() == [str(tmp_path)]


def test_gimp3_plugin_registration_source():
    """What GIMP reads at query time (checked for real in test_gimp_real.py)."""
    src = GIMP3.read_text()
    for s in ('PROC = "python-fu-srcnn-upscale"', 'set_menu_label("SRCNN...")',
              'add_menu_path("<Image>/Filters/Enhance")', 'undo_group_start()', 'undo_group_end()',
              "Gimp.progress_init", "EXECUTION_ERROR", "set_help_domain(HELP_DOMAIN"):
        assert s in src
    # errors: returned once to GIMP (which shows them), never also as a message of our own
    assert "Gimp.message(" not in src and "clean_all" not in src


# ---------------------------------------------------------------- GIMP 2.10 adapter

def test_gimp210_adapter_is_python27():
    vermin = pytest.importorskip("vermin")  # noqa: F841  (in the test extra)
    for path, targets in ((GIMP2, ["-t=2.7-", "-t=3.0-"]), (GIMP3, ["-t=3.8-"])):
        exe = Path(sys.executable).with_name("vermin")
        r = subprocess.run([str(exe) if exe.exists() else "vermin", *targets, "--violations", "--no-tips", str(path)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr


class Layer:
    def __init__(self, pixels, name="layer", offsets=(0, 0)):
        self.pixels = np.array(pixels)
        self.name, self.offsets, self.children = name, tuple(offsets), None

    @property
    def width(self):
        return self.pixels.shape[1]

    @property
    def height(self):
        return self.pixels.shape[0]


class Group(Layer):
    def __init__(self, children, name="group"):
        self.children, self.name, self.offsets = children, name, (0, 0)


class Image:
    def __init__(self, w, h, layers, base_type=0):
        self.width, self.height, self.layers, self.base_type = w, h, layers, base_type
        self.selection = None


def _leaves(layers):
    for layer in layers:
        if isinstance(layer, Group):
            yield from _leaves(layer.children)
        else:
            yield layer


class StandInPdb:
    """The PDB calls the adapter makes, acted out on numpy layers."""

    def __init__(self):
        self.calls, self.clipboard = [], None

    def __getattr__(self, name):
        impl = getattr(self, "_" + name, None)
        if impl is None:
            raise AttributeError(f"stand-in PDB has no {name}")

        def call(*args):
            self.calls.append((name, args))
            return impl(*args)
        return call

    def names(self):
        return [n for n, _ in self.calls]

    def _gimp_item_is_group(self, item):
        return isinstance(item, Group)

    def _gimp_image_base_type(self, image):
        return image.base_type

    def _file_png_save2(self, image, layer, filename, raw, interlace, compression, bkgd, gama, offs,
                        phys, time, comment, svtrans):
        from srcnn.imageio import Picture, write_image
        assert svtrans == 1, "colour under transparent pixels must reach srcnn-cli"
        px = layer.pixels
        write_image(Picture(px[..., 0] if px.shape[2] == 1 else px), filename)

    def _gimp_image_duplicate(self, image):
        import copy
        return copy.deepcopy(image)

    def _gimp_image_undo_group_start(self, image): pass
    def _gimp_image_undo_group_end(self, image): pass
    def _gimp_image_undo_disable(self, image): pass
    def _gimp_image_undo_enable(self, image): pass
    def _gimp_image_clean_all(self, image): pass

    def _gimp_image_scale(self, image, w, h):
        fx, fy = w / image.width, h / image.height
        image.width, image.height = w, h
        for layer in _leaves(image.layers):  # nearest neighbour: the adapter must overwrite it all
            lh, lw = layer.pixels.shape[:2]
            self._nearest(layer, round(lw * fx), round(lh * fy))
            layer.offsets = (round(layer.offsets[0] * fx), round(layer.offsets[1] * fy))
        if image.selection:
            x, y, w2, h2 = image.selection
            image.selection = (round(x * fx), round(y * fy), round(w2 * fx), round(h2 * fy))

    @staticmethod
    def _nearest(layer, w, h):
        lh, lw = layer.pixels.shape[:2]
        layer.pixels = layer.pixels[(np.arange(h) * lh) // h][:, (np.arange(w) * lw) // w]

    def _gimp_layer_scale(self, layer, w, h, local_origin):
        self._nearest(layer, w, h)

    def _gimp_progress_end(self): pass

    def _gimp_selection_is_empty(self, image):
        return image.selection is None

    def _gimp_selection_save(self, image):
        return ("channel", image.selection)

    def _gimp_selection_none(self, image):
        image.selection = None

    def _gimp_image_select_item(self, image, op, channel):
        assert op == 2  # CHANNEL-OP-REPLACE
        image.selection = channel[1]

    def _gimp_image_remove_channel(self, image, channel): pass

    def _gimp_file_load_layer(self, image, filename):
        from srcnn.imageio import read_image
        px = read_image(filename).pixels
        return Layer(px.reshape(px.shape[0], px.shape[1], -1), name="loaded")

    def _gimp_image_insert_layer(self, image, layer, parent, position):
        image.layers.insert(position, layer)

    def _gimp_edit_copy(self, layer):
        self.clipboard = layer.pixels.copy()
        return True

    def _gimp_image_remove_layer(self, image, layer):
        image.layers.remove(layer)

    def _gimp_edit_clear(self, layer):
        assert self.selection_of(layer) is None, "clearing inside a selection would leave pixels"
        layer.pixels[...] = 0

    def _gimp_edit_paste(self, layer, paste_into):
        fl = Layer(self.clipboard, name="floating")
        fl.target = layer
        return fl

    def _gimp_layer_set_offsets(self, layer, x, y):
        layer.offsets = (x, y)

    def _gimp_floating_sel_anchor(self, fl):
        t = fl.target
        assert fl.pixels.shape == t.pixels.shape and fl.offsets == t.offsets
        t.pixels = fl.pixels.copy()  # normal mode over a cleared layer: the pasted pixels

    image = None

    def selection_of(self, layer):
        return self.image.selection if self.image is not None else None


def make_gimpfu():
    reg = {}
    gimp = types.SimpleNamespace(messages=[], progress=[], displays=[])
    gimp.message = gimp.messages.append
    gimp.progress_init = lambda text: gimp.progress.append(("init", text))
    gimp.progress_update = lambda f: gimp.progress.append(("update", f))
    gimp.progress_pulse = lambda: gimp.progress.append(("pulse",))
    gimp.Display = gimp.displays.append
    gimp.displays_flush = lambda: None
    mod = types.ModuleType("gimpfu")
    mod.PF_IMAGE, mod.PF_DRAWABLE, mod.PF_SPINNER, mod.PF_OPTION, mod.PF_TOGGLE = range(5)
    mod.CHANNEL_OP_REPLACE = 2
    mod.gimp, mod.pdb = gimp, StandInPdb()
    mod.register = lambda *a, **k: reg.update(args=a, kwargs=k)
    mod.main = lambda: reg.update(main_called=True)
    mod.registered = reg
    return mod


@pytest.fixture
def g2(monkeypatch):
    fu = make_gimpfu()
    monkeypatch.delenv("SRCNN_CLI", raising=False)
    plugin = load(GIMP2, "srcnn_gimp2_plugin", gimpfu=fu)
    plugin.INSTALL = {"cli": CLI, "capabilities": inst.capabilities()}
    plugin.MODELS, plugin.MODEL_LABELS = plugin.model_menu(plugin.INSTALL["capabilities"])  # as installed
    return plugin, fu


def test_gimp210_registration(g2):
    _, fu = g2
    r = fu.registered
    assert r["main_called"]
    name, blurb, help_, author, copyright_, date, label, types_, params, results, func = r["args"]
    assert name == "python-fu-srcnn-upscale" and label == "SRCNN..."
    assert r["kwargs"] == {"menu": "<Image>/Filters/Enhance"}
    assert types_ == "RGB*, GRAY*"
    # width/height after the old arguments: positional scripts written for 2, 3 or 4 keep working
    assert [(p[0], p[1]) for p in params] == [(fu.PF_IMAGE, "image"), (fu.PF_DRAWABLE, "drawable"),
                                             (fu.PF_SPINNER, "scale"), (fu.PF_OPTION, "model"),
                                             (fu.PF_TOGGLE, "new_image"), (fu.PF_SPINNER, "width"),
                                             (fu.PF_SPINNER, "height")]
    assert params[2][3:] == (3.0, (1.0, 16.0, 0.1))
    assert params[3][4][params[3][3]] == "High quality (9-5-5)"
    assert [p[0] for p in results] == [fu.PF_IMAGE]
    assert func.__name__ == "srcnn_upscale"


def _two_layer_image():
    rgb = sample_image(9, 12, 3, seed=1)
    rgba = sample_image(5, 7, 4, seed=2)
    rgba[0, :, 3] = 0  # fully transparent row: its colour must still be upscaled
    return Image(12, 9, [Group([Layer(rgba, "top", (3, 2))]), Layer(rgb, "background")]), rgb, rgba


def test_gimp210_upscales_every_layer_as_one_undo_step(g2, tiny_weights):
    import srcnn

    plugin, fu = g2
    image, rgb, rgba = _two_layer_image()
    image.selection = (1, 1, 4, 4)
    fu.pdb.image = image
    out = plugin.srcnn_upscale(image, None, 2, plugin.MODELS.index("9-5-5"), False)
    assert out is image and fu.gimp.messages == [] and fu.gimp.displays == []
    names = fu.pdb.names()
    # all pixels leave before anything changes; then one undo group around every change
    assert names.index("gimp_image_undo_group_start") > max(i for i, n in enumerate(names) if n == "file_png_save2")
    changes = [n for n in names if n not in ("gimp_item_is_group", "gimp_image_base_type", "file_png_save2",
                                             "gimp_selection_is_empty", "gimp_progress_end")]
    assert changes[0] == "gimp_image_undo_group_start" and changes[-1] == "gimp_image_undo_group_end"
    assert names.count("gimp_image_undo_group_start") == 1 and "gimp_image_undo_disable" not in names
    assert ("gimp_image_scale", (image, 24, 18)) in fu.pdb.calls
    top, bg = image.layers[0].children[0], image.layers[1]
    assert top.offsets == (6, 4) and bg.offsets == (0, 0)
    assert np.array_equal(bg.pixels, srcnn.upscale(rgb, 2))
    assert np.array_equal(top.pixels, srcnn.upscale(rgba, 2))  # alpha kept, hidden colour too
    assert image.selection == (2, 2, 8, 8)  # restored after being lifted for the paste
    assert fu.gimp.progress[0][0] == "init" and fu.gimp.progress[-1] == ("update", 1.0)


def test_gimp210_new_image(g2, tiny_weights):
    import srcnn

    plugin, fu = g2
    image, rgb, rgba = _two_layer_image()
    out = plugin.srcnn_upscale(image, None, 3, plugin.MODELS.index("9-1-5"), True)
    assert out is not image and fu.gimp.displays == [out]
    assert image.width == 12 and np.array_equal(image.layers[1].pixels, rgb)  # original untouched
    assert (out.width, out.height) == (36, 27)
    assert np.array_equal(out.layers[1].pixels, srcnn.upscale(rgb, 3, model="9-1-5"))
    names = fu.pdb.names()
    # one undo group on the new image too, and never marked clean: closing it asks to save
    assert "gimp_image_undo_disable" not in names and "gimp_image_clean_all" not in names
    assert names.index("gimp_image_undo_group_start") < names.index("gimp_image_scale") < names.index("gimp_image_undo_group_end")
    # the progress bar ends before GIMP's own scaling could restart it
    assert names.index("gimp_progress_end") < names.index("gimp_image_scale")


def test_gimp210_errors_are_reported_and_leave_the_image(g2, tiny_weights, monkeypatch, tmp_path):
    plugin, fu = g2
    image, rgb, _ = _two_layer_image()
    monkeypatch.setenv("SRCNN_WEIGHTS", str(tmp_path))  # no models: srcnn-cli fails
    # one message, no exception (gimpfu would add a traceback dialog and GIMP a second message)
    assert plugin.srcnn_upscale(image, None, 2, 0, False) is None
    assert len(fu.gimp.messages) == 1 and fu.gimp.messages[0].startswith("SRCNN: no shipped 9-5-5 model")
    assert "gimp_image_scale" not in fu.pdb.names() and np.array_equal(image.layers[1].pixels, rgb)
    # no srcnn-cli anywhere: says how to fix it
    plugin.INSTALL = {}
    monkeypatch.setenv("PATH", str(tmp_path))
    assert plugin.srcnn_upscale(image, None, 2, 0, False) is None
    assert "install-gimp-plugin --gimp-version 2.10" in fu.gimp.messages[-1]
    # indexed images are refused with a hint; a width below the image's too
    plugin.srcnn_upscale(Image(4, 4, [Layer(np.zeros((4, 4, 3), np.uint8))], base_type=2), None, 2, 0, False)
    assert "Image > Mode" in fu.gimp.messages[-1]
    plugin.srcnn_upscale(image, None, 2, 0, False, 5, 0)
    assert fu.gimp.messages[-1] == "SRCNN: the width 5 is smaller than the image's 12 px: SRCNN only enlarges"
    assert len(fu.gimp.messages) == 4 and all(m.count("SRCNN:") == 1 for m in fu.gimp.messages)


def _shipped_int8_or_skip():
    from srcnn.quant import int8_cpu_problem, int8_scales
    from srcnn.runtime import available_models

    if int8_cpu_problem():
        pytest.skip(int8_cpu_problem())
    if not any(m.variant == "9-5-5" and m.scale == 3 and int8_scales(m) is not None for m in available_models()):
        pytest.skip("no shipped 9-5-5 x3 with int8")


def test_int8_choice_in_both_gimp3_backends(g3):
    """'9-5-5 int8' = srcnn.upscale(..., int8=True), in-process and through srcnn-cli --int8."""
    import srcnn

    _shipped_int8_or_skip()
    assert g3.split_model("9-5-5-int8") == ("9-5-5", True, False) and g3.split_model("9-1-5") == ("9-1-5", False, False)
    assert "9-5-5-int8" in [m for m, _, _ in g3.model_choices(g3.capabilities(srcnn))]
    a = sample_image(20, 26, 3, np.uint8, seed=5)
    items = [(a.tobytes(), 26, 20, 3, "u8")]
    (w, h, core), = g3.CoreBackend(srcnn).upscale_all(items, 3, "9-5-5-int8", lambda f: None)
    (_, _, cli), = g3.CliBackend([CLI], _read_png_like_gimp).upscale_all(items, 3, "9-5-5-int8", lambda f: None)
    want = srcnn.upscale(a, 3, int8=True)
    assert core == cli == want.tobytes() and (w, h) == (78, 60)
    assert want.tobytes() != srcnn.upscale(a, 3).tobytes()  # the int8 path really ran


def test_gimp210_int8_choice(g2):
    import srcnn

    _shipped_int8_or_skip()
    plugin, fu = g2
    i = plugin.MODELS.index("9-5-5-int8")
    assert plugin.MODEL_LABELS[i] == "High quality, about 1.7x faster (9-5-5 int8)"
    image, rgb, _ = _two_layer_image()
    out = plugin.srcnn_upscale(image, None, 3, i, True)
    assert fu.gimp.messages == [] and np.array_equal(out.layers[1].pixels, srcnn.upscale(rgb, 3, int8=True))


# ---------------------------------------------------------------- factors, sizes, model menu

@pytest.mark.parametrize("w,h", [(23, 17), (500, 480), (7, 300), (1, 1)])
def test_resolve_size_is_the_cores(g3, w, h):
    """The dialog's result size = what srcnn.upscale makes (target_scale, ceil(side * factor))."""
    from srcnn.pipeline import target_scale
    from srcnn.resize import output_size

    for s in (1.1, 1.5, 2, 2.5, 3, 10 / 3, 5, 7.77, 16):
        assert g3.resolve_size(w, h, s) == (s, output_size(w, s), output_size(h, s))
    for width, height in ((w * 2 + 1, 0), (0, h * 3 + 2), (w * 3, h * 2), (w * 2, h * 5)):
        f, ow, oh = g3.resolve_size(w, h, 3.0, width, height)
        want = target_scale(h, w, width or None, height or None)
        assert f == pytest.approx(want, rel=1e-12)
        assert (ow, oh) == (output_size(w, want), output_size(h, want))
        assert ow == width or oh == height  # the side asked for is exact, the other fits inside
        assert (not width or ow <= width) and (not height or oh <= height)
    with pytest.raises(g3.SrcnnError, match="smaller than the image's"):
        g3.resolve_size(w + 1, h, 2, w, 0)
    with pytest.raises(g3.SrcnnError, match="x1 to x16"):
        g3.resolve_size(w, h, 2, w * 17, 0)
    # x1 (the factor, or the image's own size) would run models and give the same size back
    for args in ((1.0,), (3.0, w, 0), (3.0, 0, h)):
        with pytest.raises(g3.SrcnnError, match="x1 would leave the image as it is"):
            g3.resolve_size(w, h, *args)


def test_size_link_follows_the_aspect_ratio(g3):
    link = g3.SizeLink(23, 17)
    assert link.from_scale(2.5) == (2.5, 58, 43) and link.last == "scale"
    assert link.run_values(2.5, 58, 43) == (2.5, 0, 0)  # the factor itself runs
    s, w, h = link.from_side("width", 50)
    assert (w, h) == (50, 37) and s == 50 / 23 and link.last == "width"
    assert link.run_values(s, w, h) == (s, 50, 0)
    assert g3.resolve_size(23, 17, *link.run_values(s, w, h)) == (s, 50, 37)
    s, w, h = link.from_side("height", 40)
    assert (w, h) == (55, 40) and link.run_values(s, w, h) == (s, 0, 40)
    # below the image's size: kept as typed and refused with a reason (the dialog greys out OK)
    assert link.from_side("width", 5) == (1.0, 5, 17)
    assert "the width 5 is smaller than the image's 23 px" in link.check(1.0, 5, 17)
    assert link.check(*link.from_scale(1.0)).startswith("x1 would leave the image as it is")
    assert link.check(*link.from_scale(2.0)) is None
    # above x16: held there (the spin button shows the held value)
    assert link.from_side("height", 10 ** 6) == (16.0, 368, 272)
    assert link.from_scale(40) == (16.0, 368, 272)


def test_model_choices_name_what_they_give(g3, tiny_weights, monkeypatch):
    import inspect

    import srcnn
    from srcnn import pipeline, quant

    monkeypatch.setenv("SRCNN_INT8_CPU", "ok")
    caps = g3.capabilities(srcnn)
    assert caps["variants"] == {"9-5-5": [2, 3, 4], "9-1-5": [3]}
    assert caps["int8"] == []  # the test weights carry no int8 calibration
    assert caps["ensemble"] == ("ensemble" in inspect.signature(pipeline.upscale).parameters)
    caps["int8"] = ["9-5-5"]
    ch = g3.model_choices(caps)
    nicks = [n for n, _, _ in ch]
    want = (["9-5-5-ensemble"] if caps["ensemble"] else []) + ["9-5-5", "9-5-5-int8", "9-1-5"]
    assert nicks == want  # best quality first
    for nick, label, helptext in ch:  # what it gives, the technical name in brackets
        assert label.endswith(")") and split_variant(nick) in label[label.index("("):]
        assert "trained for x" in helptext
    # the test 9-1-5 exists at x3 only: faster than 9-5-5 at x2 (x3 then down) and x3, not x4
    assert dict((n, l) for n, l, _ in ch)["9-1-5"] == "Fast, a little softer at x2, x3 (9-1-5)"
    # no VNNI: no int8 entry at all
    monkeypatch.delenv("SRCNN_INT8_CPU")
    monkeypatch.setattr(quant, "int8_cpu_problem", lambda: "int8 needs a CPU with VNNI")
    assert g3.capabilities(srcnn)["int8"] == []
    # a variant shipped later (9-3-5) is listed by what it gives, between the other two
    caps = {"variants": {"9-1-5": [2, 3, 4], "9-3-5": [3], "9-5-5": [2, 3, 4]}, "int8": [], "ensemble": False}
    assert [l for _, l, _ in g3.model_choices(caps)] == [
        "High quality (9-5-5)", "Good quality, faster at x3 (9-3-5)", "Fast, a little softer (9-1-5)"]


def split_variant(nick):
    return nick.split("-int8")[0].split("-ensemble")[0]


def test_capabilities_of_the_shipped_weights(g3):
    """The real weights/ folder: every shipped variant is offered (nothing hard-coded)."""
    import srcnn
    from srcnn.runtime import available_models

    nicks = [n for n, _, _ in g3.model_choices(g3.capabilities(srcnn))]
    for v in {m.variant for m in available_models()}:
        assert v in nicks


@pytest.mark.parametrize("scale", [1.5, 2.5, 5.0])
def test_fractional_factors_both_paths(g3, tiny_weights, scale):
    import srcnn

    a = sample_image(9, 13, 4, np.uint8, seed=3)
    items = [(a.tobytes(), 13, 9, 4, "u8")]
    seen = []
    (w, h, core), = g3.CoreBackend(srcnn).upscale_all(items, scale, "9-5-5", seen.append)
    (_, _, cli), = g3.CliBackend([CLI], _read_png_like_gimp).upscale_all(items, scale, "9-5-5", lambda f: None)
    want = srcnn.upscale(a, scale)
    assert (h, w) == want.shape[:2] and core == cli == want.tobytes()
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_core_progress_never_goes_back(g3, tiny_weights, monkeypatch):
    """Whatever the core reports per stage, the bar only grows, and ends full."""
    class Core:
        @staticmethod
        def upscale(a, scale, progress, **opts):
            for i, n in ((1, 4), (3, 4), (1, 2), (2, 2), (9, 10)):  # a stage count starting over
                progress(i, n)
            return np.zeros((a.shape[0] * 2, a.shape[1] * 2) + a.shape[2:], a.dtype)
    seen = []
    items = [(b"\0" * 12, 2, 2, 3, "u8"), (b"\0" * 48, 4, 4, 3, "u8")]
    g3.CoreBackend(Core).upscale_all(items, 2, "9-5-5", seen.append)
    assert seen == sorted(seen) and len(set(seen)) == len(seen) and seen[-1] == 1.0


def test_ensemble_choice_both_paths(g3, tiny_weights):
    import inspect

    import srcnn
    from srcnn import pipeline

    if "ensemble" not in inspect.signature(pipeline.upscale).parameters:
        pytest.skip("srcnn.upscale has no ensemble= yet: the choice is not offered")
    assert "9-5-5-ensemble" in [n for n, _, _ in g3.model_choices(g3.capabilities(srcnn))]
    a = sample_image(10, 12, 3, np.uint8, seed=4)
    items = [(a.tobytes(), 12, 10, 3, "u8")]
    (_, _, core), = g3.CoreBackend(srcnn).upscale_all(items, 2, "9-5-5-ensemble", lambda f: None)
    (_, _, cli), = g3.CliBackend([CLI], _read_png_like_gimp).upscale_all(items, 2, "9-5-5-ensemble", lambda f: None)
    want = srcnn.upscale(a, 2, ensemble=True)
    assert core == cli == want.tobytes()
    assert want.tobytes() != srcnn.upscale(a, 2).tobytes()  # the ensemble really ran


def test_gimp210_width_and_fractional_factor(g2, tiny_weights):
    import srcnn

    plugin, fu = g2
    image, rgb, _ = _two_layer_image()  # 12 x 9
    out = plugin.srcnn_upscale(image, None, 3, plugin.MODELS.index("9-5-5"), True, 30, 0)
    assert fu.gimp.messages == [] and (out.width, out.height) == (30, 23)  # 9 * 2.5 = 22.5 -> 23
    assert np.array_equal(out.layers[1].pixels, srcnn.upscale(rgb, 2.5))
    assert ("update", 1.0) in fu.gimp.progress and fu.gimp.progress[0] == ("init", "SRCNN x2.5 to 30 x 23 (9-5-5)")
    out = plugin.srcnn_upscale(image, None, 1.5, plugin.MODELS.index("9-5-5"), True)
    assert (out.width, out.height) == (18, 14) and np.array_equal(out.layers[1].pixels, srcnn.upscale(rgb, 1.5))


def test_install_puts_the_help_page_beside_the_plugin(tmp_path):
    """The procedure's help ID maps, through help/en/gimp-help.xml, to a page that exists."""
    import xml.etree.ElementTree as ET

    path = inst.install_gimp_plugin("3", tmp_path, install={})
    src = path.read_text()
    domain = re.search(r'^HELP_DOMAIN = "([^"]+)"', src, re.M).group(1)
    assert 'HELP_DOMAIN + "-upscale")' in src  # the help ID given to set_documentation
    xml = path.parent / "help" / "en" / "gimp-help.xml"
    refs = gimp_help_index(xml)
    page = xml.parent / refs[domain + "-upscale"]
    text = page.read_text()
    assert "Scale factor" in text and "Width, Height" in text and "New image" in text
    with zipfile.ZipFile(sorted((Path(__import__("srcnn.gimp.build", fromlist=["x"]).build_zips(tmp_path / "z")[0]).parent).glob("srcnn-gimp3-*.zip"))[0]) as z:
        assert "srcnn-upscale/help/en/gimp-help.xml" in z.namelist() and "srcnn-upscale/help/en/index.html" in z.namelist()


def test_result_line_says_size_and_plan(g3, tiny_weights):
    import srcnn

    line = lambda s: g3.size_text(23, 17, *g3.resolve_size(23, 17, s), g3.describe_plan(srcnn, s, "9-5-5"))  # noqa: E731
    assert line(3) == "Result: 69 \u00d7 51 pixels (now 23 \u00d7 17), x3; runs the x3 model"
    assert line(1.5) == "Result: 35 \u00d7 26 pixels (now 23 \u00d7 17), x1.5; runs the x2 model, then bicubic x0.75"
    assert line(6) == "Result: 138 \u00d7 102 pixels (now 23 \u00d7 17), x6; runs the x2 then x3 models"
    assert g3.size_text(23, 17, 2, 46, 34) == "Result: 46 \u00d7 34 pixels (now 23 \u00d7 17), x2"  # no core: no plan


def test_model_menu_source(g3, monkeypatch):
    """The core's answer where GIMP's Python imports it, else the install record, else a default."""
    monkeypatch.delenv("SRCNN_GIMP_BACKEND", raising=False)
    caps, core = g3.find_capabilities()
    assert core is not None and caps["variants"]
    recorded = {"variants": {"9-3-5": [3]}, "int8": [], "ensemble": False}
    monkeypatch.setattr(g3, "INSTALL", {"capabilities": recorded})
    monkeypatch.setenv("SRCNN_GIMP_BACKEND", "cli")
    assert g3.find_capabilities() == (recorded, None)
    monkeypatch.setattr(g3, "INSTALL", {})
    assert g3.find_capabilities() == (g3.DEFAULT_CAPS, None)
    assert [n for n, _, _ in g3.model_choices(g3.DEFAULT_CAPS)] == ["9-5-5", "9-1-5"]


def test_photo_model_is_offered_and_preselected_for_jpeg_sources(g3, tmp_path):
    """The photo model is listed by what it is for, right after 9-5-5, and the dialog opens on it
    for an image GIMP imported from a JPEG file (by the file's bytes, whatever its name)."""
    caps = {"variants": {"9-5-5": [2, 3, 4], "photo": [2, 3, 4], "9-1-5": [3]}, "int8": [], "ensemble": False}
    ch = g3.model_choices(caps)
    assert [n for n, _, _ in ch] == ["9-5-5", "photo", "9-1-5"]
    assert dict((n, l) for n, l, _ in ch)["photo"] == "Photo: JPEG or noisy source (photo)"
    from PIL import Image
    Image.new("RGB", (8, 8)).save(tmp_path / "a.jpg", quality=80)
    Image.new("RGB", (8, 8)).save(tmp_path / "b.png")
    (tmp_path / "c.png").write_bytes((tmp_path / "a.jpg").read_bytes())
    assert g3.preselect_model(ch, str(tmp_path / "a.jpg"), "9-1-5") == "photo"
    assert g3.preselect_model(ch, str(tmp_path / "c.png"), "9-5-5") == "photo"
    assert g3.preselect_model(ch, str(tmp_path / "b.png"), "9-1-5") == "9-1-5"
    assert g3.preselect_model(ch, None, "9-5-5") == "9-5-5"
    assert g3.preselect_model(ch, str(tmp_path / "missing.jpg"), "9-5-5") == "9-5-5"
    no_photo = g3.model_choices({"variants": {"9-5-5": [3]}, "int8": [], "ensemble": False})
    assert g3.preselect_model(no_photo, str(tmp_path / "a.jpg"), "9-5-5") == "9-5-5"


def gimp_help_index(xml: Path) -> dict:
    """{help ID: page} as GIMP's help reads a gimp-help.xml (plug-ins/help/gimphelplocale.c: a
    <gimp-help> root of <help-item id ref> elements; anything else, such as <item>, is ignored
    and the ID stays unknown)."""
    import xml.etree.ElementTree as ET

    root = ET.parse(xml).getroot()
    assert root.tag == "gimp-help"
    assert [c.tag for c in root] and all(c.tag == "help-item" for c in root), [c.tag for c in root]
    return {c.get("id"): c.get("ref") for c in root if c.tag == "help-item"}


# ---------------------------------------------------------------- the dialog: models per factor

SHIPPED_LIKE = {"variants": {"9-5-5": [2, 3, 4], "photo": [2, 3, 4], "9-5-5-rgb": [2, 3, 4], "9-3-5": [3],
                             "9-1-5": [2, 3, 4]}, "int8": ["9-5-5", "9-3-5"], "ensemble": True}


def test_plan_words_follow_the_cores_rule(g3):
    """The srcnn-cli path names the models it runs without the core: same rule as plan_for."""
    from srcnn.factors import plan_for

    for factors in ([2, 3, 4], [3], [2], [3, 4]):
        for s in (1.01, 1.5, 2, 2.5, 3, 10 / 3, 3.5, 4.5, 5, 6, 7.77, 8, 9, 12.5, 16):
            p = plan_for(s, factors)
            stages, resample = g3.plan_stages(s, factors)
            assert stages == p.stages and resample == pytest.approx(p.resample, abs=1e-12), (factors, s)
    assert g3.plan_words(2.5, [2, 3, 4]) == "the x2 then x2 models, then bicubic x0.625"
    assert g3.describe_plan(None, 6, "9-5-5", SHIPPED_LIKE) == "the x2 then x3 models"
    assert g3.describe_plan(None, 6, "gone", SHIPPED_LIKE) is None


def test_model_labels_per_factor(g3):
    """Issue 25: 9-3-5 (trained for x3 only) is slower than 9-5-5 at x2 and x4, where it would
    run x3 then bicubic down, or x3 then x3: there it is greyed out and says so; no label says
    "faster" twice; the photo model is offered at every factor; no "colour network"."""
    for s in (2, 4, 16):
        off = g3.not_offered(SHIPPED_LIKE, s)
        assert off == {"9-3-5", "9-3-5-int8"}, (s, off)
        labels = dict((n, l) for n, l, _ in g3.model_choices(SHIPPED_LIKE, s))
        assert labels["9-3-5"] == "Good quality, x3 only (9-3-5)"
    for s in (3, 2.5):
        assert g3.not_offered(SHIPPED_LIKE, s) == set()
        labels = dict((n, l) for n, l, _ in g3.model_choices(SHIPPED_LIKE, s))
        assert labels["9-3-5"] == "Good quality, faster (9-3-5)"
    for s in (None, 1.5, 2, 3, 4, 6):
        ch = g3.model_choices(SHIPPED_LIKE, s)
        assert "photo" in [n for n, _, _ in ch] and "photo" not in g3.not_offered(SHIPPED_LIKE, s or 3)
        for nick, label, helptext in ch:
            assert label.count("faster") <= 1 and "colour network" not in label, label
            assert "trained for x" in helptext  # the tooltip: the trained factors (README)
            if s is not None:
                assert ("at x%.4g it runs" % s) in helptext or nick in g3.not_offered(SHIPPED_LIKE, s)
    reg = dict((n, l) for n, l, _ in g3.model_choices(SHIPPED_LIKE))
    assert reg["9-3-5"] == "Good quality, faster at x3 (9-3-5)" and reg["photo"] == "Photo: JPEG or noisy source (photo)"
    assert reg["9-5-5-int8"] == "High quality, about 1.7x faster (9-5-5 int8)"
    assert reg["9-3-5-int8"] == "Good quality, about 1.7x faster (9-3-5 int8)"


def test_new_image_is_named_after_its_source(g3, tmp_path):
    assert g3.new_image_name(None, 3) is None
    src = tmp_path / "photo.jpg"
    assert g3.new_image_name(str(src), 3) == str(tmp_path / "photo-x3.xcf")
    assert g3.new_image_name(str(src), 2.5) == str(tmp_path / "photo-x2_5.xcf")
    (tmp_path / "photo-x3.xcf").write_bytes(b"")
    assert g3.new_image_name(str(src), 3) == str(tmp_path / "photo-x3-2.xcf")  # never an existing file


# ---------------------------------------------------------------- the dialog's preview

@pytest.mark.parametrize("scale,model,layout", [(3, "9-5-5", (4, np.uint8)), (2.5, "9-5-5", (4, np.uint8)),
                                                (50 / 23, "9-1-5", (2, np.uint16)), (2, "9-5-5-ensemble", (3, np.uint8)),
                                                (6, "9-5-5", (1, np.uint8))])
def test_preview_region_equals_the_full_run(g3, tiny_weights, scale, model, layout):
    """The preview's pixels are those of the whole run at that place, on both compute paths
    (in-process: srcnn.pipeline.upscale_region; srcnn-cli --region)."""
    import srcnn

    c, dtype = layout
    a = sample_image(19, 23, c, dtype, seed=7)
    kind = "u8" if dtype == np.uint8 else "u16"
    item = (a.tobytes(), 23, 19, c, kind)
    (w, h, full), = g3.CoreBackend(srcnn).upscale_all([item], scale, model, lambda f: None)
    full = np.frombuffer(full, dtype).reshape(h, w, c)
    cli = g3.CliBackend([CLI], _read_png_like_gimp)
    try:
        for centre in ((11.5, 9.5), (0, 0), (23, 19), (3, 15)):
            region = g3.preview_region(23, 19, scale, centre, side=32)
            x, y, rw, rh = region
            assert 0 <= x and x + rw <= w and 0 <= y and y + rh <= h and (rw, rh) == (min(32, w), min(32, h))
            for backend in (g3.CoreBackend(srcnn), cli):
                pw, ph, data = backend.region(item, scale, model, region)
                got = np.frombuffer(data, dtype).reshape(ph, pw, c)
                assert np.array_equal(got, full[y:y + rh, x:x + rw]), (backend.name, centre)
    finally:
        cli.close_preview()
    assert cli._preview is None


@pytest.mark.parametrize("scale", [3, 2.5, 50 / 23, 6])
def test_upscale_region_is_the_slice_of_upscale(tiny_weights, scale):
    """The core function the preview stands on (srcnn.pipeline.upscale_region): every region,
    at the borders too, equals that slice of the whole result (tiled == untiled)."""
    from srcnn.pipeline import upscale, upscale_region

    for c, dtype in ((3, np.uint8), (4, np.uint16), (1, np.float32)):
        a = sample_image(17, 21, c, np.uint16 if dtype == np.float32 else dtype, seed=c)
        a = (a.astype(np.float32) / 65535) if dtype == np.float32 else a
        a = a[..., 0] if c == 1 else a
        whole = upscale(a, scale)
        oh, ow = whole.shape[:2]
        for r0, r1, c0, c1 in ((0, oh, 0, ow), (0, 5, 0, 7), (oh - 9, oh, ow - 4, ow), (7, 30, 11, 29)):
            assert np.array_equal(upscale_region(a, scale, (r0, r1, c0, c1)), whole[r0:r1, c0:c1])
    with pytest.raises(ValueError, match="not inside"):
        upscale_region(a, scale, (0, oh + 1, 0, 4))


def test_preview_worker_newest_request_wins(g3):
    """Requests made while one computes supersede it: its result is never delivered, the ones
    waiting are dropped, the newest is computed and delivered; the caller never waits."""
    import threading
    import time

    gate, got, seen = threading.Event(), [], []

    def compute(job, stale):
        seen.append(job)
        if job == "first":
            gate.wait(5)
            assert stale()  # a newer request came meanwhile
        return job.upper()
    p = g3.Previewer(compute, lambda job, r, e, t: got.append((job, r, e)), delay=0.01)
    try:
        p.request("first")
        time.sleep(0.2)
        t0 = time.time()
        for j in ("second", "third", "fourth"):
            p.request(j)
        assert time.time() - t0 < 0.05  # request() returns at once
        gate.set()
        deadline = time.time() + 5
        while not got and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
    finally:
        p.close()
    assert seen == ["first", "fourth"] and got == [("fourth", "FOURTH", None)]


def test_preview_errors_are_delivered_not_raised(g3):
    def compute(job, stale):
        raise g3.SrcnnError("no shipped 9-5-5 model")
    got = []
    p = g3.Previewer(compute, lambda job, r, e, t: got.append((r, str(e))), delay=0.0)
    p.request(1)
    for _ in range(100):
        if got:
            break
        __import__("time").sleep(0.02)
    p.close()
    assert got == [(None, "no shipped 9-5-5 model")]


def test_a_stale_cli_preview_run_is_ended(g3, tmp_path):
    """srcnn-cli preview runs superseded by a newer request are ended at once (not waited for)."""
    import time

    slow = tmp_path / "slow-cli"
    slow.write_text("#!/bin/sh\necho $$ > %s/pid\nexec sleep 60\n" % tmp_path)
    slow.chmod(0o755)
    t0 = time.time()
    with pytest.raises(g3.Cancelled):
        g3.run_cli([str(slow)], str(tmp_path / "t"), stale=lambda: time.time() - t0 > 1.0)
    assert time.time() - t0 < 8
    pid = int((tmp_path / "pid").read_text())
    _gone(pid)


def _gone(pid, limit=10.0):
    import time

    t = time.time()
    while time.time() - t < limit:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        with open("/proc/%d/stat" % pid) as f:  # a zombie waiting for its parent counts as gone
            if f.read().split(") ")[1].startswith("Z"):
                return
        time.sleep(0.1)
    raise AssertionError("process %d still runs" % pid)


def test_killed_plugin_leaves_no_cli_and_no_folder(g3, tmp_path):
    """GIMP's Cancel kills the plug-in process (SIGKILL, gimp_plug_in_close): its srcnn-cli run
    must end too, and the temporary folder go, although no code of the plug-in runs then."""
    import signal
    import time

    slow = tmp_path / "slow-cli"
    slow.write_text("#!/bin/sh\necho $$ > %s/pid\nexec sleep 60\n" % tmp_path)
    slow.chmod(0o755)
    tmpdir = tmp_path / "run"
    code = ("import importlib.util, sys; spec = importlib.util.spec_from_file_location('p', %r); "
            "g = importlib.util.module_from_spec(spec); spec.loader.exec_module(g); "
            "import os; os.makedirs(%r); open(os.path.join(%r, 'big'), 'wb').write(b'x' * 1000); "
            "g.run_cli([%r], %r)" % (str(GIMP3), str(tmpdir), str(tmpdir), str(slow), str(tmpdir)))
    plugin = subprocess.Popen([sys.executable, "-c", code])
    t = time.time()
    while not (tmp_path / "pid").exists():
        assert time.time() - t < 30 and plugin.poll() is None
        time.sleep(0.1)
    cli_pid = int((tmp_path / "pid").read_text())
    plugin.send_signal(signal.SIGKILL)  # what GIMP does on Cancel
    plugin.wait()
    _gone(cli_pid)
    t = time.time()
    while tmpdir.exists() and time.time() - t < 10:
        time.sleep(0.1)
    assert not tmpdir.exists()


@pytest.mark.parametrize("c", [1, 2, 3, 4])
@pytest.mark.parametrize("kind", ["u8", "u16", "float"])
def test_rgba8_for_the_screen(g3, c, kind):
    a = sample_image(3, 5, c, np.uint16, seed=c)
    if kind == "u8":
        src = (a // 257).astype(np.uint8)
    elif kind == "float":
        src = (a.astype(np.float32) / 65535)
    else:
        src = a
    out = np.frombuffer(g3.rgba8(src.tobytes(), 5, 3, c, kind), np.uint8).reshape(3, 5, 4)
    v8 = np.round(a.astype(np.float64) / 257).astype(np.uint8) if kind != "u8" else src
    colour = v8[..., :3] if c >= 3 else np.repeat(v8[..., :1], 3, axis=2)
    assert np.abs(out[..., :3].astype(int) - colour.astype(int)).max() <= 1
    alpha = v8[..., c - 1] if c in (2, 4) else np.full((3, 5), 255)
    assert np.abs(out[..., 3].astype(int) - alpha.astype(int)).max() <= 1


def test_preview_region_follows_the_centre(g3):
    assert g3.preview_region(256, 171, 3, (128, 85.5)) == (256, 128, 256, 256)
    assert g3.preview_region(256, 171, 3, (0, 0)) == (0, 0, 256, 256)
    assert g3.preview_region(256, 171, 3, (256, 171)) == (512, 257, 256, 256)
    assert g3.preview_region(23, 17, 2, (5, 5)) == (0, 0, 46, 34)  # a small result: all of it
