import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("SRCNN_DATASETS", ROOT.parent / "shared" / "datasets"))


def dataset(name: str) -> Path:
    p = DATASETS / name
    if not p.is_dir():
        pytest.skip(f"dataset {p} not present (set SRCNN_DATASETS to the datasets folder)")
    return p


def identity_layers(n1=4, n2=3, f=(9, 5, 5)):
    """An SRCNN whose output equals its input (delta kernels through positive channels)."""
    w1 = np.zeros((n1, 1, f[0], f[0])); w1[0, 0, f[0] // 2, f[0] // 2] = 1
    w2 = np.zeros((n2, n1, f[1], f[1])); w2[0, 0, f[1] // 2, f[1] // 2] = 1
    w3 = np.zeros((1, n2, f[2], f[2])); w3[0, 0, f[2] // 2, f[2] // 2] = 1
    b1 = np.zeros(n1); b1[0] = 1.0  # keep the carried value positive through the ReLUs
    b3 = np.array([-1.0])
    return [(w1, b1), (w2, np.zeros(n2)), (w3, b3)]


def random_layers(seed=0, n1=8, n2=4, f=(9, 5, 5)):
    rng = np.random.default_rng(seed)
    return [(rng.normal(0, 0.05, (n1, 1, f[0], f[0])), rng.normal(0, 0.01, n1)),
            (rng.normal(0, 0.1, (n2, n1, f[1], f[1])), rng.normal(0, 0.01, n2)),
            (rng.normal(0, 0.1, (1, n2, f[2], f[2])), rng.normal(0, 0.01, 1))]


@pytest.fixture
def tiny_weights(tmp_path, monkeypatch):
    """A weights folder with small random 9-5-5 models for x2, x3, x4 and an identity 9-1-5."""
    from srcnn.export import write_model

    folder = tmp_path / "weights"
    for s in (2, 3, 4):
        write_model(folder, f"srcnn_955_x{s}", random_layers(s), scale=s, variant="9-5-5")
    write_model(folder, "srcnn_915_x3", identity_layers(f=(9, 1, 5)), scale=3, variant="9-1-5")
    monkeypatch.setenv("SRCNN_WEIGHTS", str(folder))
    from srcnn import runtime
    runtime._CACHE.clear()
    return folder
