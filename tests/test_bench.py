"""The benchmark's figures (bench/run.py --plot) from a fake set of measurements: the files are
written, are PNGs, and are named by the machine kind."""
import importlib.util
import sys

import pytest

from conftest import ROOT


def _bench_run():
    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_plot_figures(tmp_path):
    pytest.importorskip("matplotlib")
    run = _bench_run()
    m = {"cpu": "Test CPU", "isa": "avx2 fma", "load": (0.1, 0.1, 0.1)}
    res = {"decode": 0.1, "colour": 0.05, "bicubic": 0.02, "cnn": 1.0, "encode": 0.2}
    rows = [("9-5-5 fast", 12.0, res), ("9-5-5 --int8 7-bit", 12.0, dict(res, cnn=0.6))]
    curves = {"9-5-5 x3": {128: 2.0, 256: 2.6, 512: 2.5}}
    files = run.plot_figures(tmp_path, m, rows, curves, 2)
    assert [f.name for f in files] == ["bench_stages_avx2.png", "bench_tiles_avx2.png"]
    for f in files:
        assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f.stat().st_size > 5000
    assert run.machine_kind({"isa": "avx2 fma avx512f avx512_vnni"}) == "avx512-vnni"
    assert run.plot_figures(tmp_path / "none", m, [], {}, 2) == []
