"""build.py report on a tiny fake run folder and a tiny fake dataset folder (no training)."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from srcnn.training.experiments import TABLES, all_runs, lanes  # noqa: E402
from srcnn.training.model import SRCNN, SRCNNConfig  # noqa: E402
from srcnn.training.report import build, colour_psnr  # noqa: E402


def fake_run(runs: Path, name: str, cfg: SRCNNConfig, colour="y", steps=10, done=True):
    d = runs / name
    d.mkdir(parents=True)
    torch.manual_seed(len(name))
    m = SRCNN(cfg)
    with torch.no_grad():  # a near-identity residual network: scores close to bicubic
        for p in m.parameters():
            p.mul_(0.01)
    args = {"steps": steps, "colour": colour, "scales": "3"}
    torch.save({"step": steps, "model": m.state_dict(), "ema": m.state_dict(), "config": cfg.to_dict(),
                "scales": [3], "args": args}, d / "last.pt")
    (d / "args.json").write_text(json.dumps({"args": args, "config": cfg.to_dict()}))
    (d / "log.csv").write_text("step,scale,lr,loss,val_psnr,seconds\n0,3,0,,27.0,0\n10,3,1e-4,0.01,27.5,1\n")
    if done:
        (d / "done").write_text(f"{steps}\n")


@pytest.fixture
def datasets(tmp_path):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:54]
    for ds, n in (("Set5", 2), ("Set14", 1)):
        (tmp_path / ds).mkdir()
        for i in range(n):
            img = np.dstack([128 + 80 * np.sin(xx / (3 + i) + yy / 5), 120 + 60 * np.cos(yy / 4),
                             100 + 50 * np.sin((xx + yy) / 7)]) + rng.normal(0, 3, (48, 54, 3))
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(tmp_path / ds / f"im{i}.bmp")
    return tmp_path


def test_experiment_definitions_are_consistent():
    runs = all_runs()
    ln = lanes()
    assert sorted(ln["a"] + ln["b"]) == sorted(runs)
    for lane in ln.values():  # a fine-tune runs after its pre-training stage, on the same lane
        for name in lane:
            if name.endswith("pre2"):
                assert name[:-1] + "1" in lane[:lane.index(name)]
    assert {t.key for t in TABLES} >= {"filter_numbers", "filter_sizes", "deeper", "data", "recipe", "colour"}


def test_colour_psnr_definition():
    a = np.full((10, 10, 3), 100, np.uint8)
    b = a.copy()
    b[..., 0] += 2  # MSE 4 on Y only: image PSNR = 10 log10(255^2 / (4 / 3))
    p = colour_psnr(a, b, shave=1)
    assert p["Y"] == pytest.approx(10 * np.log10(255 ** 2 / 4))
    assert p["image"] == pytest.approx(10 * np.log10(255 ** 2 / (4 / 3)))


def test_report_from_fake_runs(tmp_path, datasets):
    runs = tmp_path / "runs"
    fake_run(runs, "e_915", SRCNNConfig(f1=9, f2=1, f3=5, n1=8, n2=4))
    fake_run(runs, "e_9115", SRCNNConfig(f1=9, f2=1, f3=1, f4=5, n1=8, n2=4, n3=4))
    fake_run(runs, "e_col_rgb", SRCNNConfig(f1=9, f2=1, f3=5, n1=8, n2=4, channels=3), colour="rgb")
    fake_run(runs, "e_935", SRCNNConfig(f1=9, f2=3, f3=5, n1=8, n2=4), done=False)
    out = build(runs, tmp_path / "docs", datasets)
    text = out.read_text()
    # scored rows carry our number beside the paper's; others say what is missing and how to run it
    line = next(ln for ln in text.splitlines() if ln.startswith("| n1/n2 = 64/32"))
    assert "32.52" in line and "`e_915`" in line and "not run" not in line
    ours = float(line.split("|")[3].split("/")[0])
    assert 10 < ours < 60
    assert "9-1-1-5" in text and "| RGB | 36.44 |" in text
    assert "unfinished" in text and "python build.py experiments --only e_935" in text
    assert "not run" in text and "Missing or unfinished runs" in text
    for f in ("speed_quality.png", "curves.png", "visual_x3.png"):
        assert (tmp_path / "docs" / "figures" / f).stat().st_size > 1000
    assert json.loads((runs / "e_915" / "report.json").read_text())["y"]["psnr"] == pytest.approx(ours, abs=0.01)
    # the rebuild reads the cache and gives the same file
    assert build(runs, tmp_path / "docs", datasets).read_text() == text
