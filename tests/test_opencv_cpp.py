"""The C++ client (plugins/opencv_dnn/examples) built against the system OpenCV, against Python.

The example is built with CMake the way OpenCV users build (Debian / Ubuntu: ``apt-get install
libopencv-dev libopencv-contrib-dev cmake g++``), or taken from ``SRCNN_CPP_EXAMPLE`` (a built
``srcnn_upscale``; .ci/run builds it). Skips when the toolchain or the system OpenCV is
missing, unless ``SRCNN_REQUIRE_CPP=1`` (CI), which makes that a failure.

References: ``srcnn.opencv.upsample_bgr`` (the ONNX file on the Python wheel's ``cv2.dnn``) and
``create_superres(S).upsample`` (the wheel's ``dnn_superres`` with the .pb, or on OpenCV 5.1+
``srcnn_x{S}_superres.onnx``); the two OpenCV builds differ (and on 5.1+ the two files: the
same network, one read by the TensorFlow importer, one by the ONNX importer).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

import srcnn.opencv as ocv  # noqa: E402
from srcnn.protocol import load_uint8  # noqa: E402
from srcnn.resize import imresize  # noqa: E402
from conftest import dataset  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "plugins" / "opencv_dnn" / "examples"  # not package data
SCALES = (2, 3, 4)


def _missing() -> str | None:
    """Why the example cannot be built here, or None."""
    if not shutil.which("cmake"):
        return "cmake is missing (apt-get install cmake g++)"
    if not (shutil.which("c++") or shutil.which("g++")):
        return "no C++ compiler (apt-get install g++)"
    if not shutil.which("pkg-config"):
        return "pkg-config is missing, cannot find the system OpenCV"
    r = subprocess.run(["pkg-config", "--cflags", "opencv4"], capture_output=True, text=True)
    if r.returncode != 0:
        return "no system OpenCV (apt-get install libopencv-dev libopencv-contrib-dev)"
    inc = [f[2:] for f in r.stdout.split() if f.startswith("-I")]
    if not any((Path(d) / "opencv2" / "dnn_superres.hpp").is_file() for d in inc):
        return "the system OpenCV has no dnn_superres (apt-get install libopencv-contrib-dev)"
    return None


def _skip_or_fail(why: str):
    if os.environ.get("SRCNN_REQUIRE_CPP") == "1":
        pytest.fail(f"SRCNN_REQUIRE_CPP=1 but {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def binary(tmp_path_factory) -> Path:
    given = os.environ.get("SRCNN_CPP_EXAMPLE")
    if given:
        assert Path(given).is_file(), f"SRCNN_CPP_EXAMPLE={given} does not exist"
        return Path(given)
    why = _missing()
    if why:
        _skip_or_fail(why)
    build = tmp_path_factory.mktemp("cpp")
    for cmd in (["cmake", "-S", str(EXAMPLE), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release"],
                ["cmake", "--build", str(build), "-j", "2"]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0, f"{' '.join(cmd)} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return build / "srcnn_upscale"


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    """A real low-resolution image (Set5 butterfly, MATLAB-bicubic x1/3), colour and grey."""
    d = tmp_path_factory.mktemp("cpp_img")
    lr = imresize(load_uint8(dataset("Set5") / "butterfly.bmp"), 1 / 3)[:, :, ::-1]  # BGR
    out = {"colour": d / "lr.png", "grey": d / "lr_grey.png"}
    cv2.imwrite(str(out["colour"]), np.ascontiguousarray(lr))
    cv2.imwrite(str(out["grey"]), np.ascontiguousarray(lr[:, :, 1]))
    return out


def system_superres_format() -> str:
    """The dnn_superres file the system OpenCV reads: .pb before 5.1, ONNX from 5.1 (srcnn.opencv.superres_format)."""
    r = subprocess.run(["pkg-config", "--modversion", "opencv4"], capture_output=True, text=True)
    v = tuple(int(x) for x in r.stdout.strip().split(".")[:2]) if r.returncode == 0 else (4, 0)
    return "superres" if v >= (5, 1) else "pb"


def run(binary, mode, s, src, dst):
    model = ocv.model_path(s, "onnx" if mode == "dnn" else system_superres_format())
    r = subprocess.run([str(binary), mode, str(model), str(s), str(src), str(dst)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("OpenCV ")  # the version it ran on, for the log
    out = cv2.imread(str(dst), cv2.IMREAD_UNCHANGED)
    assert out is not None
    return out.astype(int)


@pytest.mark.parametrize("s", SCALES)
@pytest.mark.parametrize("kind", ["colour", "grey"])
def test_cpp_dnn_equals_upsample_bgr(binary, images, tmp_path, s, kind):
    img = cv2.imread(str(images[kind]), cv2.IMREAD_UNCHANGED)
    got = run(binary, "dnn", s, images[kind], tmp_path / "out.png")
    ref = ocv.upsample_bgr(img, s).astype(int)
    assert got.shape == ref.shape == (s * img.shape[0], s * img.shape[1]) + img.shape[2:]
    assert np.abs(got - ref).max() <= 1


@pytest.mark.parametrize("s", SCALES)
def test_cpp_superres_equals_python_superres(binary, images, tmp_path, s):
    for kind in ("grey", "colour"):
        img = cv2.imread(str(images[kind]), cv2.IMREAD_UNCHANGED)
        got = run(binary, "superres", s, images[kind], tmp_path / "out.png")
        ref = ocv.create_superres(s).upsample(img).astype(int)
        assert got.shape == ref.shape == (s * img.shape[0], s * img.shape[1]) + img.shape[2:]
        d = np.abs(got - ref)
        if kind == "grey":  # the network's output alone: one grey level
            assert d.max() <= 1
        else:
            # dnn_superres enlarges Cr/Cb itself, and OpenCV builds differ there (Debian's 4.6
            # and the pip wheel of 4.6.0 already differ by 2 on ~1% of pixels at x2 and x4)
            assert d.max() <= 2 and (d > 1).mean() < 0.02, (d.max(), (d > 1).mean())


def test_cpp_usage_errors(binary, images, tmp_path):
    r = subprocess.run([str(binary), "dnn"], capture_output=True, text=True)
    assert r.returncode == 2 and "usage" in r.stderr
    r = subprocess.run([str(binary), "dnn", str(ocv.model_path(3)), "3", str(tmp_path / "none.png"),
                        str(tmp_path / "o.png")], capture_output=True, text=True)
    assert r.returncode == 1 and "cannot read" in r.stderr
