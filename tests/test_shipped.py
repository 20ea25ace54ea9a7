"""Every shipped weight file: loads, its manifest is whole, the paths agree, its numbers re-measure."""
import numpy as np
import pytest

from srcnn.evaluate import evaluate
from srcnn.pipeline import upscale
from srcnn.runtime import Model, available_models, resolve_model
from conftest import dataset

SHIPPED = available_models()
IDS = [m.name for m in SHIPPED]


def test_the_paper_variants_are_shipped():
    have = {(m.variant, m.scale) for m in SHIPPED}
    assert {("9-5-5", 2), ("9-5-5", 3), ("9-5-5", 4), ("9-1-5", 3)} <= have
    for v, s in have:
        assert resolve_model(v, s).scale == s


@pytest.mark.parametrize("info", SHIPPED, ids=IDS)
def test_manifest_and_paths(info):
    info.verify()
    m = info.raw
    assert m["training"]["run"] and m["training"]["stages"], "a manifest says what made it"
    assert {"Set5", "Set14"} <= set(m.get("metrics", {})), "measured on the report sets"
    img = np.random.default_rng(0).integers(0, 256, (23, 19, 3), dtype=np.uint8)
    ref = upscale(img, info.scale, model=str(info.manifest_path), fast=False)
    fast = upscale(img, info.scale, model=str(info.manifest_path))
    assert ref.shape == (23 * info.scale, 19 * info.scale, 3)
    assert np.abs(ref.astype(int) - fast).max() <= 1
    ens = upscale(img, info.scale, model=str(info.manifest_path), ensemble=True, tile=16)
    assert np.array_equal(ens, upscale(img, info.scale, model=str(info.manifest_path), ensemble=True))


@pytest.mark.slow
@pytest.mark.parametrize("info", SHIPPED, ids=IDS)
def test_set5_psnr_is_what_the_manifest_says(info):
    """The manifest's Set5 number, measured again (srcnn-cli eval's protocol)."""
    folder = dataset("Set5")
    res = evaluate(folder, info.scale, Model(info), with_ssim=False)
    got = res["mean"]["srcnn"]["psnr"]  # on Y (for an RGB model: the Y of its RGB output)
    assert got == pytest.approx(info.raw["metrics"]["Set5"]["srcnn"]["psnr"], abs=2e-3)
    assert got > res["mean"]["bicubic"]["psnr"] + 1.0
