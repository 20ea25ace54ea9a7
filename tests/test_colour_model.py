"""RGB models (the paper's colour network): the core's RGB path, and the Y -> RGB start."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from srcnn.export import write_model
from srcnn.pipeline import upscale
from srcnn.resize import imresize
from srcnn.runtime import Model, ModelInfo


def rgb_layers(seed=0, n1=8, n2=4, f=(9, 5, 5)):
    rng = np.random.default_rng(seed)
    return [(rng.normal(0, 0.05, (n1, 3, f[0], f[0])), rng.normal(0, 0.01, n1)),
            (rng.normal(0, 0.1, (n2, n1, f[1], f[1])), rng.normal(0, 0.01, n2)),
            (rng.normal(0, 0.1, (3, n2, f[2], f[2])), rng.normal(0, 0.01, 3))]


@pytest.fixture(scope="module")
def rgb_net(tmp_path_factory):
    d = tmp_path_factory.mktemp("rgb")
    info = ModelInfo.load(write_model(d, "rgb", rgb_layers(), scale=3, variant="t-rgb"))
    assert (info.channels, info.colour) == (3, "rgb")
    return Model(info)


def picture(h=21, w=18, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_rgb_path_runs_the_network_on_rgb(rgb_net):
    """One output pixel against the network run by hand on the bicubic RGB, replicate borders."""
    img = picture()
    out = upscale(img, 3, model=rgb_net, fast=True)  # fast=True quietly takes the reference path
    bic = imresize(img.astype(np.float32) / 255, 3)
    x = np.pad(np.moveaxis(bic, 2, 0), ((0, 0), (8, 8), (8, 8)), mode="edge")
    ref = rgb_net.run(x)
    expect = np.clip(np.floor(np.moveaxis(ref, 0, 2) * 255 + 0.5), 0, 255)
    assert np.abs(out.astype(int) - expect).max() <= 1
    assert np.abs(out.astype(int) - np.clip(np.round(bic * 255), 0, 255)).max() > 2  # it did something


@pytest.mark.parametrize("s", [3, 2.5, 5])
def test_rgb_tiles_alpha_grey_16bit(rgb_net, s):
    img = picture(23, 19)
    a = picture(23, 19, 1)[:, :, 0]
    for x in (img, np.dstack([img, a]), img[:, :, 0], img.astype(np.uint16) * 257):
        whole = upscale(x, s, model=rgb_net, tile=100000)
        assert whole.dtype == x.dtype and whole.shape[2:] == x.shape[2:]
        assert np.array_equal(whole, upscale(x, s, model=rgb_net, tile=16))
    out = upscale(np.dstack([img, a]), 3, model=rgb_net)
    ref = np.clip(np.floor(imresize(a.astype(np.float32) / 255, 3) * 255 + 0.5), 0, 255)
    assert np.abs(out[:, :, 3].astype(int) - ref).max() <= 1
    e = upscale(img, 3, model=rgb_net, ensemble=True)
    assert e.shape == (69, 57, 3) and np.array_equal(e, upscale(img, 3, model=rgb_net, ensemble=True, tile=20))


def test_rgb_from_y_is_the_y_pipeline(tmp_path):
    """An RGB model made from a residual Y model (rgb_from_y) gives the Y pipeline's picture."""
    torch = pytest.importorskip("torch")
    from srcnn.training.model import SRCNN, SRCNNConfig, plain_weights, rgb_from_y

    torch.manual_seed(0)
    ym = SRCNN(SRCNNConfig(n1=8, n2=4))
    with torch.no_grad():
        for p in ym.parameters():
            p.mul_(0.3)
    cm = SRCNN(SRCNNConfig(n1=8, n2=4, channels=3))
    cm.load_state_dict(rgb_from_y(ym.state_dict(), cm.cfg))
    ly = [(w.numpy(), b.numpy()) for w, b in plain_weights(ym)]
    lc = [(w.numpy(), b.numpy()) for w, b in plain_weights(cm)]
    y_net = Model(ModelInfo.load(write_model(tmp_path, "y", ly, scale=3, variant="t")))
    c_net = Model(ModelInfo.load(write_model(tmp_path, "c", lc, scale=3, variant="t-rgb")))
    img = picture(30, 26).astype(np.float32) / 255
    a = upscale(img, 3, model=y_net, fast=False)
    b = upscale(img, 3, model=c_net, fast=False)
    # float32 output: tiled == untiled up to float rounding (on an AVX2-only EPYC onnxruntime's
    # conv sums a 7-pixel tile in another order: 1.8e-7 measured); integer outputs: the tests above
    assert np.abs(a - upscale(img, 3, model=y_net, fast=False, tile=7)).max() < 1e-6
    assert np.abs(a - imresize(img, 3)).max() > 2e-3  # the network does change the picture
    assert np.abs(a - b).max() < 2e-5


def test_cli_and_eval_with_an_rgb_model(tmp_path, rgb_net):
    src = tmp_path / "a.png"
    Image.fromarray(picture(12, 10)).save(src)
    run = lambda *a: subprocess.run([sys.executable, "-m", "srcnn.cli", *map(str, a)],  # noqa: E731
                                    capture_output=True, text=True)
    r = run(src, tmp_path / "o.png", "--model", rgb_net.info.manifest_path, "--scale", 3)
    assert r.returncode == 0, r.stderr
    assert np.asarray(Image.open(tmp_path / "o.png")).shape == (36, 30, 3)
    folder = tmp_path / "set"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(picture(30, 27, i)).save(folder / f"{i}.png")
    r = run("eval", folder, "--scale", 3, "--model", rgb_net.info.onnx_path, "--channels", "rgb", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert set(res["mean"]["srcnn"]) == {"psnr", "psnr_y", "psnr_cb", "psnr_cr"}
    r = run("eval", folder, "--scale", 3, "--model", rgb_net.info.onnx_path, "--json", "--no-ssim")
    assert r.returncode == 0, r.stderr
    y = json.loads(r.stdout)["mean"]["srcnn"]["psnr"]
    assert y == pytest.approx(res["mean"]["srcnn"]["psnr_y"])


def test_eval_of_an_rgb_model_scores_grey_images_as_the_y_protocol(tmp_path, rgb_net):
    """A grey image's Y in the Y table is its own values (full range), not YCbCr's studio-range
    Y of the image made RGB (which reads 1.3 dB higher): the Y results of an RGB model on a
    folder with grey and colour images use the protocol's Y for each (Set14 has grey ones)."""
    from srcnn.evaluate import evaluate

    folder = tmp_path / "mixed"
    folder.mkdir()
    base = imresize(np.random.default_rng(4).random((16, 16)), 3.0)
    grey = np.clip(base * 200 + 30, 0, 255).astype(np.uint8)
    Image.fromarray(grey).save(folder / "a_grey.png")
    Image.fromarray(picture(48, 45, 5)).save(folder / "b_colour.png")
    y = evaluate(folder, 3, with_ssim=False)                       # the Y protocol, bicubic only
    r = evaluate(folder, 3, rgb_net, with_ssim=False)              # an RGB model, Y table
    by = {i["name"]: i for i in r["images"]}
    yy = {i["name"]: i for i in y["images"]}
    assert by["a_grey"]["bicubic"]["psnr"] == pytest.approx(yy["a_grey"]["bicubic"]["psnr"], abs=1e-6)
    assert set(by["a_grey"]["srcnn"]) == {"psnr"}
    assert r["mean"]["srcnn"]["psnr"] == pytest.approx(np.mean([i["srcnn"]["psnr"] for i in r["images"]]))
    c = evaluate(folder, 3, rgb_net, with_ssim=False, channels="rgb")   # Table 5 columns: unchanged
    g = {i["name"]: i for i in c["images"]}["a_grey"]["bicubic"]
    assert "psnr_y_grey" not in g and g["psnr_y"] > by["a_grey"]["bicubic"]["psnr"] + 1.0  # 20 log10(255 / 219) = 1.32
