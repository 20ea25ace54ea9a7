"""`srcnn-cli eval` reproduces the paper's bicubic numbers (FACTS section 1.6) through the real CLI."""
import json
import subprocess
import sys

import pytest

from conftest import dataset

PAPER_BICUBIC = {  # TPAMI 2016, Tables 2-3: PSNR / SSIM on Y
    ("Set5", 2): (33.66, 0.9299), ("Set5", 3): (30.39, 0.8682), ("Set5", 4): (28.42, 0.8104),
    ("Set14", 2): (30.23, 0.8687), ("Set14", 3): (27.54, 0.7736), ("Set14", 4): (26.00, 0.7019),
}


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "srcnn.cli", *args], capture_output=True, text=True, **kw)


@pytest.mark.parametrize("name, scale", list(PAPER_BICUBIC))
def test_bicubic_row_equals_paper(name, scale):
    folder = dataset(name)
    r = cli("eval", str(folder), "--scale", str(scale), "--model", "none", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    psnr, ssim = PAPER_BICUBIC[(name, scale)]
    assert abs(res["mean"]["bicubic"]["psnr"] - psnr) <= 0.01
    assert abs(res["mean"]["bicubic"]["ssim"] - ssim) <= 0.002  # implementations differ by ~0.001
    assert len(res["images"]) == (5 if name == "Set5" else 14)


def test_table_output_and_srcnn_column(tiny_weights):
    folder = dataset("Set5")
    r = cli("eval", str(folder), "--scale", "3", "--no-ssim")
    assert r.returncode == 0, r.stderr
    assert "butterfly" in r.stdout and "srcnn PSNR" in r.stdout and "mean" in r.stdout


def test_eval_errors(tmp_path, tiny_weights):
    r = cli("eval", str(tmp_path), "--scale", "3", "--model", "none")
    assert r.returncode != 0 and "no images" in r.stderr and "Traceback" not in r.stderr
    r = cli("eval", str(tmp_path), "--scale", "3", "--model", "9-1-5")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    r = cli("eval", str(tmp_path), "--scale", "1")
    assert r.returncode == 2 and "Traceback" not in r.stderr
