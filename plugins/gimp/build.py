"""``python build.py gimp [--out DIR]``: zip the GIMP plug-ins for a manual install.

Writes ``DIR/srcnn-gimp3-plugin-<version>.zip`` (a ``srcnn-upscale/`` folder, with its help page, to drop into GIMP 3's
plug-ins folder) and ``DIR/srcnn-gimp2.10-plugin-<version>.zip`` (``srcnn-upscale.py`` for
GIMP 2.10), each with the README. DIR defaults to ``dist/``. A plug-in installed from a zip has
no environment written in: it runs ``srcnn-cli`` from PATH (or $SRCNN_CLI).
"""
from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

from .install import PLUGIN_NAME, help_source, render_plugin

__all__ = ["main", "build_zips"]


def build_zips(out: str | Path) -> list[Path]:
    from srcnn import __version__

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    readme = (Path(__file__).parent / "README.md").read_text(encoding="utf-8")
    made = []
    for series, inner in (("3", f"{PLUGIN_NAME}/{PLUGIN_NAME}.py"), ("2.10", f"{PLUGIN_NAME}.py")):
        path = out / f"srcnn-gimp{series}-plugin-{__version__}.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            info = zipfile.ZipInfo(inner, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = 0o100755 << 16  # executable, as GIMP on Linux/macOS needs
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, render_plugin(series, {}))
            if series == "3":
                for f in sorted(help_source().rglob("*")):
                    if f.is_file():
                        name = f"{PLUGIN_NAME}/help/{f.relative_to(help_source()).as_posix()}"
                        z.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), f.read_bytes())
            z.writestr(zipfile.ZipInfo("README.md", date_time=(2026, 1, 1, 0, 0, 0)), readme)
        made.append(path)
    return made


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="build.py gimp", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="dist", help="output folder (default: dist/)")
    args = ap.parse_args(argv)
    for p in build_zips(args.out):
        print(f"wrote {p}")
    return 0
