"""OpenCV adapter (plugins/opencv_dnn): the built .onnx/.pb against the core, with real cv2.

References are independent of the adapter's graphs: the core's MATLAB imresize, replicate
padding and the weight file run by onnxruntime (``srcnn.runtime.Model``), and the core
pipeline for colour images.
"""
from __future__ import annotations

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from srcnn.border import pad_replicate  # noqa: E402
from srcnn.export import write_model  # noqa: E402
from srcnn.pipeline import upscale  # noqa: E402
from srcnn.resize import imresize  # noqa: E402
from srcnn.runtime import Model, ModelError, ModelInfo, weights_dir  # noqa: E402

import srcnn.opencv as ocv  # noqa: E402
from srcnn.opencv import build  # noqa: E402
from srcnn.opencv.parity import psnr_pair  # noqa: E402
from srcnn.opencv.graph import bicubic_phases, onnx_lr_to_hr, read_conv_stack  # noqa: E402
from conftest import dataset, identity_layers, random_layers  # noqa: E402

SCALES = (2, 3, 4)
SIZES = [(2, 2), (2, 7), (3, 5), (7, 4), (16, 13), (33, 20)]


def studio(f):
    return (16.0 + 219.0 * f) / 255.0


def full(s):
    return (255.0 * s - 16.0) / 219.0


def near_identity(seed, n1=8, n2=4, std=0.004):
    """Identity SRCNN plus random noise on every weight: nontrivial, but keeps Y in range."""
    rng = np.random.default_rng(seed)
    return [(w + rng.normal(0, std, w.shape), b + rng.normal(0, std, b.shape))
            for w, b in identity_layers(n1, n2)]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Small random 9-5-5 weight files (x2, x3, x4) and the OpenCV models built from them."""
    root = tmp_path_factory.mktemp("ocv")
    for s in SCALES:
        write_model(root / "weights", f"srcnn_955_x{s}", near_identity(seed=s), scale=s, variant="9-5-5")
    write_model(root / "weights", "srcnn_915_x3", identity_layers(f=(9, 1, 5)), scale=3, variant="9-1-5")
    assert build.main(["--weights", str(root / "weights"), "--out", str(root / "models")]) == 0
    return root


@pytest.fixture(scope="module")
def identity_built(tmp_path_factory):
    """OpenCV models of an identity 9-5-5 network: the whole model is then MATLAB bicubic."""
    root = tmp_path_factory.mktemp("ocv_id")
    for s in SCALES:
        write_model(root / "weights", f"srcnn_955_x{s}", identity_layers(), scale=s, variant="9-5-5")
    assert build.main(["--weights", str(root / "weights"), "--out", str(root / "models")]) == 0
    return root


def core_model(root, s):
    return Model(ModelInfo.load(root / "weights" / f"srcnn_955_x{s}.json"))


def run_dnn(net, x):
    net.setInput(np.ascontiguousarray(x, np.float32)[None, None])
    return net.forward()[0, 0]


def test_bicubic_phases_are_matlab_polyphase():
    # Independent of the core: Keys cubic (a = -0.5) at MATLAB's sample positions.
    for s in SCALES:
        k = bicubic_phases(s)
        assert k.shape == (s, 5)
        np.testing.assert_allclose(k.sum(axis=1), 1.0, atol=1e-12)
        for p in range(s):
            d = (p + 0.5) / s - 0.5  # 0-based LR position of output pixel s*j + p, minus j
            t = np.abs(d - np.arange(-2, 3))
            keys = np.where(t <= 1, 1.5 * t**3 - 2.5 * t**2 + 1, np.where(t < 2, -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2, 0))
            np.testing.assert_allclose(k[p], keys, atol=1e-12)


@pytest.mark.parametrize("s", SCALES)
def test_bicubic_stage_equals_core_imresize_including_borders(tmp_path, s):
    one = [(np.ones((1, 1, 1, 1), np.float32), np.zeros(1, np.float32))]  # radius 0: bicubic only
    p = tmp_path / "b.onnx"
    p.write_bytes(onnx_lr_to_hr(one, s).SerializeToString())
    net = cv2.dnn.readNetFromONNX(str(p))
    sess = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(s)
    for h, w in SIZES:
        x = rng.random((h, w)).astype(np.float32)
        ref = imresize(x.astype(np.float64), s)
        np.testing.assert_allclose(run_dnn(net, x), ref, atol=1e-6)
        np.testing.assert_allclose(sess.run(None, {"input": x[None, None]})[0][0, 0], ref, atol=1e-6)


@pytest.mark.parametrize("s", SCALES)
def test_onnx_equals_core_and_engines_agree(built, s):
    path = ocv.model_path(s, "onnx", built / "models")
    net = ocv.read_net(s, built / "models")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    core = core_model(built, s)
    rng = np.random.default_rng(10 + s)
    for h, w in SIZES:
        y = studio(rng.random((h, w))).astype(np.float32)
        ref = core.run(pad_replicate(imresize(y, s), core.radius))  # the core's recipe
        a = run_dnn(net, y)
        b = sess.run(None, {"input": y[None, None]})[0][0, 0]
        assert a.shape == b.shape == (s * h, s * w)
        np.testing.assert_allclose(a, b, atol=1e-5)
        np.testing.assert_allclose(b, ref, atol=1e-5)


@pytest.mark.parametrize("s", SCALES)
def test_onnx_has_only_what_opencv_4_5_4_imports(built, s):
    # The OpenCV matrix in .ci/run is the real check; this one fails fast wherever tests run.
    import onnx
    from onnx import numpy_helper
    m = onnx.load(str(ocv.model_path(s, "onnx", built / "models")))
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    ops = {n.op_type for n in m.graph.node}
    assert ops <= {"Slice", "Concat", "Pad", "Conv", "Relu", "Add", "Sub", "Mul", "Transpose", "Reshape"}, ops
    for n in m.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        if n.op_type == "Pad":  # 4.5.4 has constant and reflect only
            assert attrs.get("mode", b"constant") in (b"constant", b"reflect"), n.name
        if n.op_type == "Slice":  # 4.5 takes no start from the end
            assert (inits[n.input[1]] >= 0).all(), n.name
    reshapes = [n for n in m.graph.node if n.op_type == "Reshape"]
    producers = {n.output[0]: n for n in m.graph.node}
    assert all(producers.get(n.input[0]) is None or producers[n.input[0]].op_type != "Reshape"
               for n in reshapes)  # OpenCV 5.0 merges consecutive Reshapes wrongly


@pytest.mark.skipif(not hasattr(cv2.dnn, "readNetFromTensorflow"),
                    reason="this OpenCV has no TensorFlow importer (5.1+): the .pb is tested on 4.x in CI")
@pytest.mark.parametrize("s", SCALES)
def test_pb_is_the_onnx_in_full_range(built, s):
    ocv.create_superres(s, built / "models")  # registers dnn_superres's DepthToSpace, as users get it
    tf = cv2.dnn.readNetFromTensorflow(str(ocv.model_path(s, "pb", built / "models")))
    net = ocv.read_net(s, built / "models")
    rng = np.random.default_rng(20 + s)
    for h, w in SIZES:
        f = rng.random((h, w)).astype(np.float32)  # OpenCV's full-range Y
        np.testing.assert_allclose(run_dnn(tf, f), full(run_dnn(net, studio(f))), atol=1e-5)


@pytest.mark.parametrize("s", SCALES)
def test_superres_onnx_is_the_onnx_in_full_range_either_layout(built, s):
    # The dnn_superres file of OpenCV 5.1+, run by cv2.dnn and onnxruntime: channels last, as 5.1
    # feeds it, and channels first; both against the studio-range file through the range maps.
    # (the file is for 5.1+; OpenCV 4.x's importer takes neither its Shape / Where input nor a
    # DepthToSpace of dynamic size, so cv2.dnn runs it only there)
    path = str(ocv.model_path(s, "superres", built / "models"))
    if hasattr(cv2, "dnn_superres"):
        ocv.create_superres(s, built / "models")  # its DepthToSpace layer, as users get it
    new_cv = tuple(int(v) for v in cv2.__version__.split(".")[:2]) >= (5, 1)
    net = cv2.dnn.readNetFromONNX(path) if new_cv else None
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ref_net = ocv.read_net(s, built / "models")
    rng = np.random.default_rng(60 + s)
    for h, w in SIZES:
        f = rng.random((h, w)).astype(np.float32)  # OpenCV's full-range Y
        ref = full(run_dnn(ref_net, studio(f)))
        for x in (f[None, :, :, None], f[None, None]):
            b = sess.run(None, {"input": x})[0]
            assert b.shape == (1, 1, s * h, s * w)
            np.testing.assert_allclose(b[0, 0], ref, atol=1e-5)
            if net is not None:
                net.setInput(np.ascontiguousarray(x))
                a = net.forward()
                assert a.shape == b.shape
                np.testing.assert_allclose(a[0, 0], ref, atol=1e-5)


def test_superres_format_is_what_this_opencv_reads(built):
    fmt = ocv.superres_format()
    assert fmt == ("pb" if hasattr(cv2.dnn, "readNetFromTensorflow") else "superres")
    if hasattr(cv2, "dnn_superres"):  # the other file is refused: the choice matters
        other = ocv.model_path(3, "superres" if fmt == "pb" else "pb", built / "models")
        sr = cv2.dnn_superres.DnnSuperResImpl_create()
        with pytest.raises(cv2.error):
            sr.readModel(str(other))
            sr.setModel("fsrcnn", 3)
            sr.upsample(np.zeros((4, 5), np.uint8))


def test_onnx_unchanged_by_dnn_superres_depthtospace(built):
    # DnnSuperResImpl replaces DepthToSpace process-wide; run in a fresh process to see both.
    import subprocess
    import sys
    code = (
        "import sys, numpy as np, srcnn.opencv as o\n"
        "d = sys.argv[1]; x = np.random.default_rng(0).random((1, 1, 9, 7)).astype(np.float32)\n"
        "def run():\n"
        "    n = o.read_net(3, d); n.setInput(x); return n.forward()\n"
        "a = run(); o.create_superres(3, d); b = run()\n"
        "print(float(np.abs(a - b).max()))\n")
    r = subprocess.run([sys.executable, "-c", code, str(built / "models")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert float(r.stdout) <= 1e-6


@pytest.mark.parametrize("s", SCALES)
def test_dnn_superres_upsample_matches_onnx_on_y(built, s):
    sr = ocv.create_superres(s, built / "models")
    net = ocv.read_net(s, built / "models")
    rng = np.random.default_rng(30 + s)
    # grey input: dnn_superres feeds it as Y and returns round(255 * Y_out), no colour round trip
    g = (rng.random((19, 24)) * 255).astype(np.uint8)
    out = sr.upsample(g)
    exp = np.clip(255.0 * full(run_dnn(net, studio(g / 255.0))), 0, 255)
    assert out.shape == (s * 19, s * 24) and out.dtype == np.uint8
    assert np.abs(out - exp).max() <= 0.5 + 1e-3
    # colour: Y of the result, after OpenCV's YCrCb -> BGR -> YCrCb round trip (uint8 each way)
    bgr = cv2.GaussianBlur((rng.random((21, 26, 3)) * 255).astype(np.uint8), (5, 5), 1.0)
    out = sr.upsample(bgr)
    f = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)[:, :, 0] / 255.0
    exp = np.clip(255.0 * full(run_dnn(net, studio(f))), 0, 255)
    got = cv2.cvtColor(out, cv2.COLOR_BGR2YCrCb)[:, :, 0].astype(np.float64)
    unsaturated = (out > 0).all(axis=2) & (out < 255).all(axis=2)
    assert unsaturated.mean() > 0.5
    assert np.abs(got - exp)[unsaturated].max() <= 2.0


@pytest.mark.parametrize("s", SCALES)
def test_engine_opencv_matches_onnxruntime_in_core_pipeline(built, s):
    rgb = cv2.GaussianBlur((np.random.default_rng(s).random((23, 31, 3)) * 255).astype(np.uint8), (3, 3), 0.8)
    model = str(built / "weights" / f"srcnn_955_x{s}.json")
    a = upscale(rgb, s, model=model, engine="onnxruntime", fast=False).astype(int)
    b = upscale(rgb, s, model=model, engine="opencv").astype(int)
    assert np.abs(a - b).max() <= 1


@pytest.mark.parametrize("s", SCALES)
def test_cli_engine_opencv_matches_onnxruntime(built, tmp_path, s):
    import os
    import subprocess
    import sys

    from PIL import Image
    rgb = cv2.GaussianBlur((np.random.default_rng(50 + s).random((21, 17, 3)) * 255).astype(np.uint8), (3, 3), 0.8)
    Image.fromarray(rgb).save(tmp_path / "in.png")
    env = dict(os.environ, SRCNN_WEIGHTS=str(built / "weights"))
    outs = {}
    for engine in ("opencv", "onnxruntime"):
        out = tmp_path / f"{engine}.png"
        r = subprocess.run([sys.executable, "-m", "srcnn.cli", "upscale", str(tmp_path / "in.png"), str(out),
                            "--scale", str(s), "--engine", engine], capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        outs[engine] = np.asarray(Image.open(out)).astype(int)
    assert outs["opencv"].shape == (s * 21, s * 17, 3)
    assert np.abs(outs["opencv"] - outs["onnxruntime"]).max() <= 1


@pytest.mark.parametrize("s", SCALES)
def test_upsample_bgr_matches_core_pipeline(built, s, monkeypatch):
    monkeypatch.setenv("SRCNN_WEIGHTS", str(built / "weights"))
    rng = np.random.default_rng(40 + s)
    rgba = cv2.GaussianBlur((rng.random((25, 18, 4)) * 255).astype(np.uint8), (3, 3), 0.8)
    model = str(built / "weights" / f"srcnn_955_x{s}.json")
    for img in (rgba[:, :, :3], rgba, rgba[:, :, 0]):
        ref = upscale(img, s, model=model, fast=False)
        bgr = img[:, :, [2, 1, 0] + ([3] if img.ndim == 3 and img.shape[2] == 4 else [])] if img.ndim == 3 else img
        got = ocv.upsample_bgr(bgr, s, folder=built / "models")
        got = got[:, :, [2, 1, 0] + ([3] if got.ndim == 3 and got.shape[2] == 4 else [])] if got.ndim == 3 else got
        assert got.shape == ref.shape and got.dtype == ref.dtype
        assert np.abs(got.astype(int) - ref.astype(int)).max() <= 1


def test_upsample_bgr_tiles_do_not_change_the_result(built):
    bgr = np.random.default_rng(5).random((41, 30, 3))
    whole = ocv.upsample_bgr(bgr, 3, folder=built / "models", tile=1000)
    for tile in (1, 7, 16):
        np.testing.assert_allclose(ocv.upsample_bgr(bgr, 3, folder=built / "models", tile=tile), whole, atol=1e-5)


def test_helpers_reject_bad_input(built):
    with pytest.raises(FileNotFoundError, match="x5"):
        ocv.model_path(5, folder=built / "models")
    with pytest.raises(ValueError, match="2x2"):
        ocv.upsample_bgr(np.zeros((1, 9, 3), np.uint8), 3, folder=built / "models")
    with pytest.raises(ValueError):
        ocv.upsample_bgr(np.zeros((4, 4, 5), np.uint8), 3, folder=built / "models")


def test_build_is_deterministic_and_idempotent(built, tmp_path, capsys):
    out = tmp_path / "again"
    assert build.main(["--weights", str(built / "weights"), "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"srcnn_x{s}{e}" for s in SCALES for e in (".onnx", ".pb", "_superres.onnx")]  # 9-5-5 only
    for n in names:
        assert (out / n).read_bytes() == (built / "models" / n).read_bytes()
    mtimes = {n: (out / n).stat().st_mtime_ns for n in names}
    capsys.readouterr()
    assert build.main(["--weights", str(built / "weights"), "--out", str(out)]) == 0
    assert "up to date" in capsys.readouterr().out
    assert mtimes == {n: (out / n).stat().st_mtime_ns for n in names}
    assert build.main(["--weights", str(built / "weights"), "--out", str(out), "--check"]) == 0
    (out / "srcnn_x3.pb").write_bytes(b"stale")
    assert build.main(["--weights", str(built / "weights"), "--out", str(out), "--check"]) == 1
    assert (out / "srcnn_x3.pb").read_bytes() == b"stale"


def test_build_refuses_ambiguous_or_foreign_weights(tmp_path):
    write_model(tmp_path / "w", "a_x3", random_layers(), scale=3, variant="9-5-5")
    write_model(tmp_path / "w", "b_x3", random_layers(1), scale=3, variant="9-5-5")
    assert build.main(["--weights", str(tmp_path / "w"), "--out", str(tmp_path / "m")]) == 1
    assert not (tmp_path / "m").exists()
    with pytest.raises(ValueError, match="Y-channel"):
        from srcnn.export import conv_stack_graph
        p = tmp_path / "rgb.onnx"
        p.write_bytes(conv_stack_graph([(np.zeros((3, 3, 3, 3)), np.zeros(3))]).SerializeToString())
        read_conv_stack(p)


def test_build_without_weights_is_a_noop(tmp_path):
    (tmp_path / "empty").mkdir()
    assert build.main(["--weights", str(tmp_path / "empty"), "--out", str(tmp_path / "m")]) == 0
    assert not (tmp_path / "m").exists()


# --- PSNR parity on Set5 (colour pipeline, LR made by the core's MATLAB-compatible downscale) ---
def set5_psnr(models_dir, weights, s, names=None):
    return psnr_pair(dataset("Set5"), s, models_dir, weights, names)


def test_set5_parity_identity_network(identity_built):
    # The identity network makes both paths plain MATLAB bicubic; checks the colour/range handling.
    w = str(identity_built / "weights" / "srcnn_955_x3.json")
    r = set5_psnr(identity_built / "models", w, 3, names={"butterfly", "bird"})
    assert abs(r["dnn_superres"] - r["core"]) < 0.1, r
    assert abs(r["core"] - r["bicubic"]) < 0.005, r  # float32 vs float64 rounding only


def shipped():
    try:
        models = build.select_models(weights_dir())
    except ModelError as e:
        pytest.fail(f"shipped weights are unusable: {e}")
    if not models:
        pytest.skip(f"no shipped 9-5-5 weights in {weights_dir()} yet (training has not exported them)")
    return models


def test_committed_models_are_built_from_shipped_weights(tmp_path):
    models = shipped()
    assert build.main(["--out", str(tmp_path)]) == 0
    for s in models:
        for ext in (".onnx", ".pb", "_superres.onnx"):
            committed = ocv.MODELS_DIR / f"srcnn_x{s}{ext}"
            assert committed.is_file(), f"{committed} missing: run `python build.py opencv` and commit"
            assert (tmp_path / committed.name).read_bytes() == committed.read_bytes(), \
                f"{committed.name} is stale: run `python build.py opencv` and commit"


def test_set5_parity_shipped_x3_butterfly():
    models = shipped()
    if 3 not in models:
        pytest.skip("no shipped x3 model")
    r = set5_psnr(ocv.MODELS_DIR, str(models[3].manifest_path), 3, names={"butterfly"})
    assert abs(r["dnn_superres"] - r["core"]) < 0.1, r


@pytest.mark.slow
def test_set5_parity_shipped_all_scales():
    for s, info in shipped().items():
        r = set5_psnr(ocv.MODELS_DIR, str(info.manifest_path), s)
        assert abs(r["dnn_superres"] - r["core"]) < 0.1, (s, r)
