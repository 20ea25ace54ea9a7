"""The benchmark's figures (bench/run.py --plot, bench/figures.py) from a fake set of
measurements: the files are written, are PNGs, and are named by the machine kind."""
import importlib
import sys

import pytest

from conftest import ROOT


def _bench(name: str):
    """A module of bench/ (its scripts import each other by name from their folder)."""
    if str(ROOT / "bench") not in sys.path:
        sys.path.insert(0, str(ROOT / "bench"))
    return importlib.import_module(name)


def test_plot_figures(tmp_path):
    pytest.importorskip("matplotlib")
    figures, common = _bench("figures"), _bench("common")
    m = {"cpu": "Test CPU", "isa": "avx2 fma", "load": (0.1, 0.1, 0.1)}
    res = {"decode": 0.1, "colour": 0.05, "bicubic": 0.02, "cnn": 1.0, "encode": 0.2}
    rows = [("9-5-5 fast", 12.0, res), ("9-5-5 --int8 7-bit", 12.0, dict(res, cnn=0.6))]
    curves = {"9-5-5 x3": {128: 2.0, 256: 2.6, 512: 2.5}}
    files = figures.plot_figures(tmp_path, m, rows, curves, 2)
    assert [f.name for f in files] == ["bench_stages_avx2.png", "bench_tiles_avx2.png"]
    for f in files:
        assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f.stat().st_size > 5000
    assert common.machine_kind({"isa": "avx2 fma avx512f avx512_vnni"}) == "avx512-vnni"
    assert figures.plot_figures(tmp_path / "none", m, [], {}, 2) == []


def test_layers_profile_table():
    """bench/layers.py profiles the real fast-path graphs: the float32 table holds the three
    convolutions, and where int8 runs here, the QLinearConv and the int8 ratio line."""
    import subprocess

    from srcnn.quant import int8_cpu_problem

    out = subprocess.run([sys.executable, str(ROOT / "bench" / "layers.py"), "--size", "64", "--runs", "2"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    rows = [r.split("|")[1:-1] for r in out.splitlines() if r.startswith("| float32") or r.startswith("| int8")]
    ops = [c[2].strip() for c in rows if c[0].strip() == "float32"]
    assert ops.count("Conv") == 3, out
    whole = [float(c[3].strip(" *")) for c in rows if "whole run" in c[1]]
    assert whole and all(w > 0 for w in whole)
    if int8_cpu_problem() is None:
        assert any(c[2].strip() == "QLinearConv" for c in rows) and "int8 against float32:" in out, out
    else:
        assert "no int8 here" in out
