"""Print pyproject's runtime lower bounds as exact pins for one Python version.

    python3 .ci/lower_bounds.py [3.10]     ->  numpy==1.24.2 onnxruntime==1.18.0 ...

For numpy, onnxruntime and OpenCV (the bounds .ci/run tests; click, pillow and isal are left
to pip), every entry of [project] dependencies whose marker holds for that Python version
(default: the running one) turns from ``name>=X`` into ``name==X``: .ci/run installs exactly
these to test the oldest versions the project declares. Needs Python 3.11+ (tomllib) and ``packaging`` (pip's
vendored copy is enough).
"""
from __future__ import annotations

import platform
import sys
import tomllib
from pathlib import Path

try:
    from packaging.requirements import Requirement
except ImportError:  # pip's vendored copy
    from pip._vendor.packaging.requirements import Requirement


PINNED = {"numpy", "onnxruntime", "opencv-contrib-python-headless"}


def pins(python_version: str) -> list[str]:
    data = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    env = {"python_version": python_version, "python_full_version": python_version + ".0",
           "sys_platform": sys.platform, "platform_system": platform.system(),
           "platform_machine": platform.machine(), "implementation_name": "cpython"}
    out = []
    for line in data["project"]["dependencies"]:
        req = Requirement(line)
        if req.name not in PINNED or (req.marker is not None and not req.marker.evaluate(env)):
            continue
        lows = [s.version for s in req.specifier if s.operator == ">="]
        if len(lows) != 1:
            raise SystemExit(f"{line!r}: expected exactly one '>=' lower bound")
        out.append(f"{req.name}=={lows[0]}")
    return out


if __name__ == "__main__":
    v = sys.argv[1] if len(sys.argv) > 1 else f"{sys.version_info.major}.{sys.version_info.minor}"
    print(" ".join(pins(v)))
