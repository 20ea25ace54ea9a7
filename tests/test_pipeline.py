"""Pipeline, tiling and runtime: properties against independent references."""
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from srcnn.border import halo_index, pad_replicate, tiles
from srcnn.colour import from_float
from srcnn.export import write_model
from srcnn.pipeline import upscale
from srcnn.resize import imresize
from srcnn.runtime import Model, ModelError, ModelInfo, resolve_model
from conftest import identity_layers, random_layers


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    return {"random": Model(ModelInfo.load(write_model(d, "rnd", random_layers(), scale=3, variant="t"))),
            "identity": Model(ModelInfo.load(write_model(d, "idt", identity_layers(), scale=3, variant="t"))),
            "dir": d}


def test_tiles_cover_exactly_once():
    cover = np.zeros((101, 77), int)
    for t in tiles(101, 77, 30):
        cover[t.r0:t.r1, t.c0:t.c1] += 1
        assert t.r1 - t.r0 <= 30 and t.c1 - t.c0 <= 30
    assert (cover == 1).all()


def test_halo_index_replicates():
    assert halo_index(0, 3, 2, 10).tolist() == [0, 0, 0, 1, 2, 3, 4]
    assert halo_index(8, 10, 2, 10).tolist() == [6, 7, 8, 9, 9, 9]


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 60), w=st.integers(1, 60), tile=st.integers(16, 70),
       scale=st.sampled_from([1.0, 2.0, 2.5, 3.0, 4.0]), fast=st.booleans())
def test_tiled_equals_untiled(models, h, w, tile, scale, fast):
    img = np.random.default_rng(h * 100 + w).integers(0, 256, (h, w, 3), dtype=np.uint8)
    whole = upscale(img, scale, model=models["random"], tile=100000, fast=fast)
    tiled = upscale(img, scale, model=models["random"], tile=tile, fast=fast)
    assert np.array_equal(whole, tiled)


@pytest.mark.parametrize("fast", [False, True], ids=["reference", "fast"])
def test_cnn_sees_replicate_padded_borders(models, fast):
    """The Y the network gets is the bicubic image padded by repeating its edges."""
    m = models["random"]
    y = np.random.default_rng(5).random((40, 50))
    img = np.round(y * 255).astype(np.uint8)
    out = upscale(img, 3, model=m, tile=100000, fast=fast)
    y_up = imresize(img.astype(np.float32) / 255, 3)
    ref = m.run(pad_replicate(y_up, m.radius))
    assert np.abs(out.astype(int) - from_float(ref.astype(np.float64), np.uint8)).max() <= 1


@pytest.mark.parametrize("fast", [False, True], ids=["reference", "fast"])
def test_identity_network_gives_bicubic(models, fast):
    """With an identity CNN, YCbCr -> bicubic -> RGB is bicubic on RGB (all steps are affine)."""
    rgb = np.random.default_rng(6).integers(0, 256, (30, 41, 3), dtype=np.uint8)
    out = upscale(rgb, 3, model=models["identity"], fast=fast)
    ref = from_float(imresize(rgb.astype(np.float64) / 255, 3), np.uint8)
    assert np.abs(out.astype(int) - ref).max() <= 1


@pytest.mark.parametrize("shape, dtype", [((20, 30), np.uint8), ((20, 30, 2), np.uint8), ((20, 30, 3), np.uint16),
                                          ((20, 30, 4), np.uint8), ((20, 30, 4), np.uint16), ((20, 30, 3), np.float32)])
@pytest.mark.parametrize("fast", [False, True], ids=["reference", "fast"])
def test_layout_and_dtype_kept_alpha_bicubic(models, shape, dtype, fast):
    rng = np.random.default_rng(7)
    if dtype == np.float32:
        img = rng.random(shape).astype(np.float32)
    else:
        img = rng.integers(0, np.iinfo(dtype).max + 1, shape).astype(dtype)
    out = upscale(img, 2, model=models["identity"], fast=fast)
    assert out.dtype == img.dtype and out.shape == (40, 60) + shape[2:]
    if len(shape) == 3 and shape[2] in (2, 4):
        maxv = 1.0 if dtype == np.float32 else np.iinfo(dtype).max
        ref = imresize(img[:, :, -1].astype(np.float64) / maxv, 2)
        got = out[:, :, -1].astype(np.float64) / maxv
        assert np.abs(np.clip(ref, 0, 1) - got).max() <= 1.0 / maxv + 1e-6


@pytest.mark.parametrize("fast", [False, True], ids=["reference", "fast"])
def test_grey_is_processed_as_y(models, fast):
    g = np.random.default_rng(8).integers(0, 256, (25, 25), dtype=np.uint8)
    out = upscale(g, 3, model=models["identity"], fast=fast)
    assert np.abs(out.astype(int) - from_float(imresize(g / 255.0, 3), np.uint8)).max() <= 1


@pytest.mark.parametrize("fast", [False, True], ids=["reference", "fast"])
def test_opencv_engine_agrees(models, fast):
    info = models["random"].info
    img = np.random.default_rng(9).integers(0, 256, (33, 47, 3), dtype=np.uint8)
    a = upscale(img, 3, model=Model(info, "onnxruntime"), fast=fast)
    b = upscale(img, 3, model=Model(info, "opencv"), tile=40)
    assert np.abs(a.astype(int) - b).max() <= 1


def test_tampered_weights_refused(models, tmp_path):
    p = write_model(tmp_path, "m", random_layers(), scale=3, variant="t")
    onnx = tmp_path / "m.onnx"
    data = bytearray(onnx.read_bytes())
    data[-10] ^= 0xFF
    onnx.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="corrupt or was modified"):
        Model(ModelInfo.load(p))


def test_bad_manifest_and_missing(tmp_path):
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(ModelError):
        ModelInfo.load(tmp_path / "x.json")
    with pytest.raises(ModelError, match="no model manifest"):
        ModelInfo.load(tmp_path / "nothing.onnx")
    with pytest.raises(ModelError, match="unknown model"):
        resolve_model("7-7-7", 3)


def test_resolve_nearest_scale(tiny_weights):
    assert resolve_model("9-5-5", 2).scale == 2
    assert resolve_model("9-5-5", 3.4).scale == 3
    assert resolve_model("9-5-5", 6).scale == 4
    assert resolve_model("9-1-5", 2).scale == 3
    info = resolve_model(str(tiny_weights / "srcnn_955_x4.onnx"), 3)
    assert info.scale == 4 and json.loads(info.manifest_path.read_text())["radius"] == 8


@pytest.mark.parametrize("bad", [0.5, 0, float("nan")])
def test_bad_scale_rejected(models, bad):
    with pytest.raises(ValueError):
        upscale(np.zeros((8, 8, 3), np.uint8), bad, model=models["random"])


def test_absurd_size_rejected_before_work(models):
    with pytest.raises(ValueError, match="over the limit"):
        upscale(np.zeros((100, 100), np.uint8), 16, model=models["random"], max_pixels=1_000_000)


@pytest.mark.parametrize("fast", [False, True], ids=["reference", "fast"])
def test_thread_safe(models, fast):
    from concurrent.futures import ThreadPoolExecutor
    img = np.random.default_rng(10).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    ref = upscale(img, 2, model=models["random"], fast=fast)
    with ThreadPoolExecutor(4) as ex:
        outs = list(ex.map(lambda _: upscale(img, 2, model=models["random"], tile=32, fast=fast), range(8)))
    assert all(np.array_equal(o, ref) for o in outs)
