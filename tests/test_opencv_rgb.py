"""OpenCV, colour network: ``srcnn_rgb_x{S}.pb`` (OpenCV 4.x, 5.0) or ``_superres.onnx`` (5.1+)
through ``dnn_superres`` "edsr", and the RGB weight file in ``cv2.dnn``.

What "edsr" does is pinned down first with probe graphs (one 1x1 conv, written by the
project's own GraphDef writer, or as ONNX where OpenCV reads no .pb), so a change in OpenCV
shows up here and not as a PSNR drop.
References: the core pipeline (``srcnn.upscale``) and onnxruntime.
"""
from __future__ import annotations

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from srcnn.export import write_model  # noqa: E402
from srcnn.pipeline import upscale  # noqa: E402
from srcnn.resize import imresize  # noqa: E402
from srcnn.runtime import Model, ModelInfo, available_models, weights_dir  # noqa: E402

import srcnn.opencv as ocv  # noqa: E402
from srcnn.opencv import build  # noqa: E402
from srcnn.opencv.tfgraph import DT_FLOAT, EDSR_MEAN_BGR, _Builder, _bytes, _int, _node  # noqa: E402
from conftest import dataset  # noqa: E402

# The .pb against srcnn.upscale, uint8: OpenCV rounds the float result itself (cvRound after
# adding its means back, float32), the core with floor(255 x + 0.5). Measured (OpenCV 4.5.5.62
# and 5.0.0, shipped x3 weights): at most 1 grey level, on 0 to 0.01 % of the values.
MAX_DIFF = 1
MAX_FRAC = 1e-3

needs_superres = pytest.mark.skipif(not hasattr(cv2, "dnn_superres"),
                                    reason="cv2.dnn_superres missing (needs opencv-contrib-python[-headless])")


def edsr(pb: bytes | str, scale: int, tmp_path):
    if isinstance(pb, bytes):
        p = tmp_path / ("probe.pb" if ocv.superres_format() == "pb" else "probe.onnx")
        p.write_bytes(pb)
        pb = str(p)
    sr = cv2.dnn_superres.DnnSuperResImpl_create()
    sr.readModel(str(pb))
    sr.setModel("edsr", scale)
    return sr


def probe_graph(w, b, block: int = 0) -> bytes:
    """out = W x + b per pixel (w (out, in) on the 3 fed channels), then DepthToSpace(block):
    a GraphDef, or where this OpenCV's dnn_superres reads ONNX (5.1+), the same as ONNX (NCHW)."""
    if ocv.superres_format() != "pb":
        from onnx import TensorProto, helper, numpy_helper
        nodes = [helper.make_node("Conv", ["input", "w", "b"], ["c" if block else "output"], kernel_shape=[1, 1])]
        if block:
            nodes.append(helper.make_node("DepthToSpace", ["c"], ["output"], blocksize=block, mode="DCR"))
        inits = [numpy_helper.from_array(np.asarray(w, np.float32)[:, :, None, None], "w"),
                 numpy_helper.from_array(np.asarray(b, np.float32), "b")]
        graph = helper.make_graph(nodes, "probe", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                                  [1, 3, "h", "w"])],
                                  [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, "H", "W"])], inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        m.ir_version = 8
        return m.SerializeToString()
    g = _Builder(3)
    g.parts.append(_node("input", "Placeholder", dtype=("type", DT_FLOAT), shape=("shape", [-1, -1, -1, 3])))
    cur = g.conv("c", "input", np.asarray(w, np.float32)[:, :, None, None], np.asarray(b, np.float32))
    if block:
        g.parts.append(_node("d2s", "DepthToSpace", [cur], T=("type", DT_FLOAT), block_size=("i", block),
                             blocksize=("i", block), data_format=("s", "NHWC")))
    return b"".join(g.parts) + _bytes(4, _int(1, 27))


def cv_round(x):
    return np.clip(np.round(x), 0, 255)  # ties never occur below


# --- what dnn_superres's "edsr" does (observed) ----------------------------------------------
@needs_superres
def test_edsr_feeds_bgr_0_255_minus_means_and_adds_them_back(tmp_path):
    m = np.array(EDSR_MEAN_BGR)
    img = np.zeros((2, 3, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 10, 20, 30  # B, G, R
    img[1, 2] = (200, 100, 50)
    eye = np.eye(3)
    # identity network: the image comes back unchanged, same size (no resize, no check)
    out = edsr(probe_graph(eye, [0, 0, 0]), 3, tmp_path).upsample(img)
    assert out.shape == img.shape and out.dtype == np.uint8 and (out == img).all()
    # a network that outputs its bias: out = round(bias + mean), saturated to 0..255
    out = edsr(probe_graph(0 * eye, [-200.0, 0.3, 300.0]), 3, tmp_path).upsample(img)
    assert out.reshape(-1, 3)[0].tolist() == [0, round(111.561547 + 0.3), 255]
    # out = fed channel c everywhere: fed = BGR value - mean[c], in B, G, R order, 0-255
    for c in range(3):
        w = np.zeros((3, 3))
        w[:, c] = 1
        out = edsr(probe_graph(w, [0, 0, 0]), 3, tmp_path).upsample(img).reshape(-1, 3).astype(float)
        fed = img.reshape(-1, 3)[:, c:c + 1] - m[c]
        assert (out == cv_round(fed + m[None, :])).all(), c
    # the means to 1e-4: the bias b where round(b + mean) steps from 0 to 1
    for c in range(3):
        lo, hi = -m[c], 1.0 - m[c]
        for _ in range(20):
            mid = (lo + hi) / 2
            b = np.zeros(3)
            b[c] = mid
            v = edsr(probe_graph(0 * eye, b), 3, tmp_path).upsample(img).reshape(-1, 3)[0, c]
            lo, hi = (lo, mid) if v >= 1 else (mid, hi)
        assert abs((0.5 - hi) - m[c]) < 1e-4, (c, 0.5 - hi)
    # float input is taken as 0-255 too, and the result is still uint8
    out = edsr(probe_graph(eye, [0, 0, 0]), 3, tmp_path).upsample(img.astype(np.float32))
    assert out.dtype == np.uint8 and (out == img).all()


@needs_superres
def test_edsr_takes_any_output_size_and_3_channel_depth_to_space(tmp_path):
    s = 3
    w = np.zeros((3 * s * s, 3))
    b = np.zeros(3 * s * s)
    for k in range(s * s):  # channel (py*s + px)*3 + c of the phases -> pixel (py, px), channel c
        b[3 * k:3 * k + 3] = 10 * k + np.arange(3) - np.array(EDSR_MEAN_BGR)
    img = np.zeros((2, 2, 3), np.uint8)
    out = edsr(probe_graph(w, b, block=s), s, tmp_path).upsample(img)
    assert out.shape == (2 * s, 2 * s, 3)
    for py in range(s):
        for px in range(s):
            assert out[py, px].tolist() == [10 * (py * s + px) + c for c in range(3)]
    # the scale given to setModel is not checked against the output: x3 output with setModel 2
    out = edsr(probe_graph(w, b, block=s), 2, tmp_path).upsample(img)
    assert out.shape == (2 * s, 2 * s, 3)


@needs_superres
def test_edsr_channel_checks(tmp_path):
    sr = edsr(probe_graph(np.eye(3), [0, 0, 0]), 3, tmp_path)
    if ocv.superres_format() == "pb":
        for img in (np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8)):
            with pytest.raises(cv2.error):
                sr.upsample(img)
        return
    # OpenCV 5.1+ (ONNX) refuses neither: BGRA is taken as its first three channels, and grey
    # gives a result that means nothing (not checked here), so callers must pass BGR.
    bgra = (np.random.default_rng(3).random((5, 6, 4)) * 255).astype(np.uint8)
    assert (sr.upsample(bgra) == sr.upsample(np.ascontiguousarray(bgra[:, :, :3]))).all()


# --- our RGB .pb -------------------------------------------------------------------------------
def near_identity_rgb(seed, n1=9, n2=6, std=0.003):
    """Each colour channel carried through its own delta path (+ noise): R, G, B stay apart."""
    rng = np.random.default_rng(seed)
    w1 = np.zeros((n1, 3, 9, 9)); w2 = np.zeros((n2, n1, 5, 5)); w3 = np.zeros((3, n2, 5, 5))
    for c in range(3):
        w1[c, c, 4, 4] = w2[c, c, 2, 2] = w3[c, c, 2, 2] = 1
    b1 = np.zeros(n1); b1[:3] = 1.0
    b3 = np.full(3, -1.0)
    return [(w + rng.normal(0, std, w.shape), b + rng.normal(0, std, b.shape))
            for w, b in [(w1, b1), (w2, np.zeros(n2)), (w3, b3)]]


@pytest.fixture(scope="module")
def rgb_built(tmp_path_factory):
    root = tmp_path_factory.mktemp("ocv_rgb")
    for s in (2, 3):
        write_model(root / "weights", f"srcnn_955rgb_x{s}", near_identity_rgb(s), scale=s, variant="9-5-5-rgb")
    assert build.main(["--weights", str(root / "weights"), "--out", str(root / "models")]) == 0
    return root


def core_bgr(bgr, s, model):
    return upscale(np.ascontiguousarray(bgr[:, :, ::-1]), s, model=str(model))[:, :, ::-1]


def assert_parity(got, ref):
    assert got.shape == ref.shape and got.dtype == ref.dtype == np.uint8
    d = np.abs(got.astype(int) - ref.astype(int))
    assert d.max() <= MAX_DIFF and (d > 0).mean() <= MAX_FRAC, (d.max(), (d > 0).mean())


def test_build_writes_rgb_pb_only_for_rgb_weights(rgb_built):
    assert sorted(p.name for p in (rgb_built / "models").iterdir()) == [
        "srcnn_rgb_x2.pb", "srcnn_rgb_x2_superres.onnx", "srcnn_rgb_x3.pb", "srcnn_rgb_x3_superres.onnx"]
    assert ocv.available_scales(rgb_built / "models", rgb=True) == [2, 3]
    assert ocv.available_scales(rgb_built / "models") == []
    with pytest.raises(FileNotFoundError, match="RGB model for x4"):
        ocv.model_path(4, "pb", rgb_built / "models", rgb=True)
    with pytest.raises(ValueError, match="only for dnn_superres"):
        ocv.model_path(3, "onnx", rgb_built / "models", rgb=True)


@needs_superres
@pytest.mark.parametrize("s", (2, 3))
def test_rgb_pb_matches_core_on_small_images(rgb_built, s):
    sr = ocv.create_superres(s, rgb_built / "models", rgb=True)
    model = rgb_built / "weights" / f"srcnn_955rgb_x{s}.json"
    rng = np.random.default_rng(40 + s)
    for h, w in [(2, 2), (2, 7), (5, 3), (17, 23)]:
        bgr = (rng.random((h, w, 3)) * 255).astype(np.uint8)
        assert_parity(sr.upsample(bgr), core_bgr(bgr, s, model))


def shipped_rgb(s=3):
    infos = [i for i in available_models(weights_dir()) if i.variant == "9-5-5-rgb" and i.scale == s]
    if not infos:
        pytest.skip(f"no shipped 9-5-5-rgb x{s} weights in {weights_dir()}")
    return infos[0]


def test_committed_rgb_pb_is_built_from_shipped_weights(tmp_path):
    info = shipped_rgb()
    assert build.main(["--out", str(tmp_path)]) == 0
    for s in (2, 3, 4):
        shipped_rgb(s)
        for fmt in ("pb", "superres"):
            committed = ocv.model_path(s, fmt, rgb=True)
            assert (tmp_path / committed.name).read_bytes() == committed.read_bytes(), \
                f"{committed.name} is stale: run `python build.py opencv` and commit"
    assert info.channels == 3


@needs_superres
@pytest.mark.parametrize("s", (2, 4))
def test_shipped_rgb_pb_matches_core_x2_x4(s):
    info = shipped_rgb(s)
    sr = ocv.create_superres(s, rgb=True)
    rng = np.random.default_rng(8)
    smooth = cv2.GaussianBlur((rng.random((30, 41, 3)) * 255).astype(np.uint8), (5, 5), 1.2)
    assert_parity(sr.upsample(smooth), core_bgr(smooth, s, info.manifest_path))


@needs_superres
def test_shipped_rgb_pb_matches_core_random_and_set5(tmp_path):
    info = shipped_rgb()
    sr = ocv.create_superres(3, rgb=True)
    rng = np.random.default_rng(7)
    noisy = (rng.random((17, 23, 3)) * 255).astype(np.uint8)
    smooth = cv2.GaussianBlur((rng.random((30, 41, 3)) * 255).astype(np.uint8), (5, 5), 1.2)
    for bgr in (noisy, smooth):
        assert_parity(sr.upsample(bgr), core_bgr(bgr, 3, info.manifest_path))
    hr = cv2.imread(str(dataset("Set5") / "butterfly.bmp"))
    hr = hr[:hr.shape[0] // 3 * 3, :hr.shape[1] // 3 * 3]
    lr = np.clip(np.floor(imresize(hr / 255.0, 1 / 3) * 255 + 0.5), 0, 255).astype(np.uint8)
    assert_parity(sr.upsample(lr), core_bgr(lr, 3, info.manifest_path))


def test_rgb_weight_file_in_cv2_dnn_equals_onnxruntime():
    info = shipped_rgb()
    net = cv2.dnn.readNetFromONNX(str(info.onnx_path))  # a path, never bytes (FACTS 3)
    ref = Model(ModelInfo.load(info.manifest_path))
    rng = np.random.default_rng(3)
    r = info.radius
    # float32 sums of ~5000 products in a different order: measured at most 2.7e-6 (OpenCV
    # 5.0, noise inputs up to 100x90; outputs reach 1.5), 1.3e-6 on smooth inputs
    for h, w in [(1, 1), (7, 12), (40, 33)]:
        x = rng.random((1, 3, h + 2 * r, w + 2 * r)).astype(np.float32)
        for inp in (x, cv2.GaussianBlur(x[0].transpose(1, 2, 0), (7, 7), 2).transpose(2, 0, 1)[None]):
            inp = np.ascontiguousarray(inp)
            net.setInput(inp)
            got = net.forward()
            assert got.shape == (1, 3, h, w)
            np.testing.assert_allclose(got[0], ref.run(inp[0]), rtol=0, atol=5e-6)
