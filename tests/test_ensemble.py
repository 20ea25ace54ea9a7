"""The self-ensemble (srcnn.ensemble): against a direct numpy ensemble of the reference path."""
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from srcnn.ensemble import ALL, SETS, forward, inverse, passes_of
from srcnn.export import write_model
from srcnn.fast import FastModel
from srcnn.pipeline import upscale
from srcnn.runtime import Model, ModelInfo
from conftest import random_layers


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    d = tmp_path_factory.mktemp("ens")
    # an asymmetric random network: its 8 orientations really differ
    return Model(ModelInfo.load(write_model(d, "rnd", random_layers(7), scale=3, variant="t")))


def picture(h=19, w=23, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_symmetries_are_the_dihedral_group():
    x = np.arange(12).reshape(3, 4)
    images = {forward(x, s).tobytes() + bytes(forward(x, s).shape) for s in ALL}
    assert len(images) == 8
    for s in ALL:
        assert np.array_equal(inverse(forward(x, s), s), x)
    for n, syms in SETS.items():
        assert len(set(syms)) == n and set(syms) <= set(ALL)
    assert passes_of(True) == 8 and passes_of(False) == 1 and passes_of(4) == 4
    with pytest.raises(ValueError):
        passes_of(3)


def numpy_ensemble(img, n, net):
    """The whole reference pipeline on each transformed picture, transformed back, averaged."""
    acc = 0.0
    for s in SETS[n]:
        x = np.ascontiguousarray(np.moveaxis(forward(np.moveaxis(img, 2, 0), s), 0, 2))
        y = upscale(x, 3, model=net, fast=False)
        acc = acc + np.moveaxis(inverse(np.moveaxis(y, 2, 0), s), 0, 2)
    return acc / n


@pytest.mark.parametrize("n", [2, 4, 8])
def test_ensemble_equals_numpy_ensemble_of_the_reference(net, n):
    img = picture().astype(np.float32) / 255
    ref = numpy_ensemble(img, n, net)
    plain = upscale(img, 3, model=net, fast=False)
    assert np.abs(plain - ref).max() > 1e-3  # the orientations do differ: the test can fail
    got = upscale(img, 3, model=net, fast=False, ensemble=n)
    assert np.abs(got - ref).max() < 2e-5
    fast = upscale(img, 3, model=net, fast=FastModel(net.info), ensemble=n)
    assert np.abs(fast - ref).max() < 2e-5
    u8 = upscale(picture(), 3, model=net, fast=FastModel(net.info), ensemble=n)
    assert np.abs(u8.astype(int) - np.clip(np.floor(ref * 255 + 0.5), 0, 255)).max() <= 1


@pytest.mark.parametrize("fast", [False, True], ids=["reference", "fast"])
@pytest.mark.parametrize("n", [2, 8])
def test_ensemble_tiles_exactly(net, n, fast):
    f = FastModel(net.info) if fast else False
    for img in (picture(37, 29), picture(37, 29)[:, :, 0], np.dstack([picture(37, 29), picture(37, 29, 1)[:, :, 0]])):
        whole = upscale(img, 3, model=net, fast=f, ensemble=n, tile=100000)
        tiled = upscale(img, 3, model=net, fast=f, ensemble=n, tile=16)
        assert np.array_equal(whole, tiled)


def test_ensemble_with_plans_and_shipped_weights():
    img = picture(20, 24)
    for s in (2.5, 6):
        a = upscale(img, s, ensemble=True, tile=32)
        b = upscale(img, s, ensemble=True, tile=1000)
        assert a.shape == b.shape and np.array_equal(a, b)


def test_cli_ensemble(tmp_path, tiny_weights):
    src = tmp_path / "a.png"
    Image.fromarray(picture(12, 10)).save(src)
    run = lambda *a: subprocess.run([sys.executable, "-m", "srcnn.cli", *map(str, a)],  # noqa: E731
                                    capture_output=True, text=True)
    r = run(src, tmp_path / "e.png", "--ensemble", "--scale", 3)
    assert r.returncode == 0, r.stderr
    r2 = run(src, tmp_path / "p.png", "--scale", 3)
    assert r2.returncode == 0
    e, p = np.asarray(Image.open(tmp_path / "e.png")), np.asarray(Image.open(tmp_path / "p.png"))
    assert e.shape == p.shape == (36, 30, 3) and not np.array_equal(e, p)
    r = run(src, tmp_path / "x.png", "--passes", 4)
    assert r.returncode == 2 or (r.returncode == 1 and "--passes goes with --ensemble" in r.stderr)
    assert "Traceback" not in r.stderr and not (tmp_path / "x.png").exists()
