"""Install the GIMP plug-in into the user's GIMP, pointing it at the current Python environment.

    >>> from srcnn.gimp.install import install_gimp_plugin
    >>> install_gimp_plugin("3")          # doctest: +SKIP
    PosixPath('/home/me/.config/GIMP/3.0/plug-ins/srcnn-upscale/srcnn-upscale.py')

The plug-in file gets an INSTALL block with this environment's interpreter, its site-packages
(GIMP's Python imports the core from there when its version matches) and its ``srcnn-cli``
(used otherwise). GIMP 3 wants each plug-in in a folder of the same name; GIMP 2.10 takes the
file directly in ``plug-ins``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import site
import sys
from pathlib import Path

__all__ = ["PLUGIN_NAME", "install_gimp_plugin", "plugin_source", "plugins_folder", "environment",
           "capabilities", "help_source"]

PLUGIN_NAME = "srcnn-upscale"
_INSTALL_LINE = re.compile(r'^INSTALL = json\.loads\(r""".*"""\)$', re.M)


def _series(gimp_version: str) -> str:
    v = str(gimp_version).strip()
    if v in ("2", "2.10"):
        return "2.10"
    if v == "3" or re.fullmatch(r"3\.\d+", v):
        return v
    raise ValueError(f"unsupported GIMP version {gimp_version!r}: use 3 (or 3.x) or 2.10")


def plugin_source(gimp_version: str = "3") -> Path:
    """The plug-in file shipped in this package for a GIMP series."""
    sub = "gimp2" if _series(gimp_version) == "2.10" else "gimp3"
    return Path(__file__).resolve().parent / sub / f"{PLUGIN_NAME}.py"


def _config_root(platform: str, home: Path, env: dict) -> Path:
    """The folder that holds GIMP's per-version profiles (``GIMP/3.0`` etc.)."""
    if platform.startswith("win"):
        appdata = env.get("APPDATA")
        return (Path(appdata) if appdata else home / "AppData" / "Roaming") / "GIMP"
    if platform == "darwin":
        return home / "Library" / "Application Support" / "GIMP"
    xdg = env.get("XDG_CONFIG_HOME")
    return (Path(xdg) if xdg else home / ".config") / "GIMP"


def plugins_folder(gimp_version: str = "3", *, platform: str | None = None, home: Path | None = None,
                   env: dict | None = None) -> Path:
    """The user's plug-ins folder for ``gimp_version`` on this OS.

    For "3", the newest existing ``3.x`` profile is used (GIMP 3.2 has its own), else ``3.0``.
    """
    platform = platform or sys.platform
    home = Path(home) if home else Path.home()
    env = os.environ if env is None else env
    root = _config_root(platform, home, env)
    series = _series(gimp_version)
    if series == "3":
        found = sorted((p.name for p in root.glob("3.*") if re.fullmatch(r"3\.\d+", p.name)),
                       key=lambda n: int(n.split(".")[1]))
        series = found[-1] if found else "3.0"
    return root / series / "plug-ins"


def _module_root(name: str) -> str | None:
    """The sys.path entry a module was imported from, when it is a plain package folder."""
    try:
        mod = __import__(name)
    except Exception:
        return None
    f = getattr(mod, "__file__", None)
    if not f or Path(f).parent.name != name:  # e.g. an editable srcnn mapped onto core/
        return None
    return str(Path(f).resolve().parent.parent)


def environment() -> dict:
    """What the plug-in needs to find the core: interpreter, its version, site-packages, srcnn-cli."""
    paths = [_module_root(m) for m in ("srcnn", "numpy", "onnxruntime")]
    paths += list(getattr(site, "getsitepackages", lambda: [])())
    user = site.getusersitepackages() if site.ENABLE_USER_SITE else None
    if user and os.path.isdir(user):
        paths.append(user)
    seen, sp = set(), []
    for p in paths:
        if p and os.path.isdir(p) and p not in seen:
            seen.add(p)
            sp.append(p)
    bindir = Path(sys.executable).parent
    cands = [bindir / "srcnn-cli", bindir / "srcnn-cli.exe", bindir / "Scripts" / "srcnn-cli.exe"]
    cli = next((str(c) for c in cands if c.is_file()), None) or shutil.which("srcnn-cli") or ""
    return {"python": sys.executable, "python_version": "%d.%d" % sys.version_info[:2],
            "site_packages": sp, "cli": cli, "capabilities": _capabilities_or_none()}


def _capabilities_or_none() -> dict | None:
    try:
        return capabilities()
    except Exception:  # a broken core here: the plug-in then offers its default menu
        return None


def capabilities() -> dict:
    """What this environment's core runs (the plug-in's Model menu when GIMP's Python cannot
    import it and uses srcnn-cli): the GIMP 3 plug-in's own ``capabilities`` on this core."""
    import importlib.util

    import srcnn

    spec = importlib.util.spec_from_file_location("_srcnn_gimp3_plugin", plugin_source("3"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # no GIMP needed: only its main() imports gi
    return mod.capabilities(srcnn)


def help_source() -> Path:
    """The GIMP 3 plug-in's help pages (``help/en/gimp-help.xml`` and the page it maps to)."""
    return plugin_source("3").parent / "help"


def render_plugin(gimp_version: str = "3", install: dict | None = None) -> str:
    """The plug-in's source with its INSTALL block filled in (``{}``: find srcnn-cli on PATH)."""
    text = plugin_source(gimp_version).read_text(encoding="utf-8")
    blob = json.dumps(install or {}, ensure_ascii=True, sort_keys=True)
    line = f'INSTALL = json.loads(r"""{blob}""")'
    new, n = _INSTALL_LINE.subn(lambda m: line, text, count=1)
    if n != 1:
        raise RuntimeError(f"{plugin_source(gimp_version)}: no INSTALL line to fill in")
    return new


def install_gimp_plugin(gimp_version: str = "3", dest: str | os.PathLike | None = None, *,
                        install: dict | None = None) -> Path:
    """Copy the plug-in into GIMP's plug-ins folder (or ``dest``); returns the installed file.

    ``install`` overrides what is recorded about the environment (default: ``environment()``).
    GIMP 3: ``<plug-ins>/srcnn-upscale/srcnn-upscale.py`` and its ``help/`` folder; GIMP 2.10:
    ``<plug-ins>/srcnn-upscale.py``.
    The file is made executable (GIMP on Linux and macOS runs it through its ``#!`` line).
    """
    series = _series(gimp_version)
    folder = Path(dest).expanduser() if dest else plugins_folder(series)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    target_dir = folder if series == "2.10" else folder / PLUGIN_NAME
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{PLUGIN_NAME}.py"
    text = render_plugin(series, environment() if install is None else install)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8", newline="\n")
    tmp.chmod(0o755)
    os.replace(tmp, target)
    if series != "2.10":  # the Help button's page (the plug-in registers it as its help domain)
        shutil.rmtree(target_dir / "help", ignore_errors=True)
        shutil.copytree(help_source(), target_dir / "help")
    return target
