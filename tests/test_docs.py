"""The README and docs/: generated tables equal what `python build.py docs` writes from the
manifests and benchmark JSON, every relative link resolves, the README stays a front page, and
build.py works in its own checkout when srcnn is installed from it without -e."""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from srcnn.training import docs
from srcnn.training.prune import keeps_checkpoint, prunable, shipped_runs

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted(ROOT.glob("plugins/*/README.md")),
         ROOT / "bench" / "README.md"]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def test_generated_tables_are_current(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert docs.main(["--check"]) == 0, "run `python build.py docs` and commit"


def test_every_generated_block_is_known_and_written():
    names = {m.group(2) for p in PAGES for m in docs.BLOCK.finditer(p.read_text(encoding="utf-8"))}
    assert {"models", "speed", "realworld", "models-full"} <= names <= set(docs.BLOCKS)


def test_render_rewrites_only_between_markers(tmp_path):
    src = docs.Sources(ROOT / "weights", ROOT / "docs")
    page = ("intro\n<!-- begin generated: int8 (python build.py docs) -->\nstale\n<!-- end generated: int8 -->\n"
            "outro\n")
    out = docs.render(page, src)
    assert out.startswith("intro\n") and out.endswith("<!-- end generated: int8 -->\noutro\n")
    assert "stale" not in out and "| 9-5-5 x3 | 8 |" in out
    assert docs.render(out, src) == out
    with pytest.raises(KeyError, match="no such table"):
        docs.render(page.replace("int8", "nope"), src)


def test_models_table_quotes_the_manifest(tmp_path):
    """The README row of 9-5-5 x3 carries its manifest's Set5 / Set14 PSNR and the paper's."""
    m = json.loads((ROOT / "weights" / "srcnn_955_x3.json").read_text())
    table = docs.models(docs.Sources(ROOT / "weights", ROOT / "docs"))
    row = next(r for r in table.splitlines() if r.startswith("| `9-5-5` x3 |"))
    assert f"{m['metrics']['Set5']['srcnn']['psnr']:.2f} / {m['metrics']['Set14']['srcnn']['psnr']:.2f}" in row
    assert "32.75 / 29.30" in row  # the paper's 9-5-5 x3 (TPAMI 2016, Table 2)


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    heads = [ln.lstrip("#").strip() for ln in page.read_text(encoding="utf-8").splitlines() if ln.startswith("#")]
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in heads}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    bad = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            bad.append(target)
    assert not bad, f"{page.name}: links that go nowhere: {bad}"


def test_readme_is_a_front_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    quick = re.search(r"## Quick start\n\n```sh\n(.*?)```", readme, re.S).group(1).splitlines()
    assert quick[0].split("#")[0].strip() == "pip install . && srcnn-cli demo"
    test_cmd = quick[1].split("#")[0].strip()
    assert test_cmd == "pip install '.[test,train]' && python -m pytest -q"
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^pip install -q '\.\[test,train\]' && python -m pytest -q$", ci, re.M), \
        "the README's test command is what .ci/run runs"
    for section in ("## Quick start", "## Command line", "## Python", "## How good", "## How fast"):
        assert section in readme


def test_runs_keep_checkpoints_only_for_shipped_and_unfinished_runs():
    """The committed runs follow docs/training.md's rule (what a clone carries)."""
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    tracked = subprocess.run(["git", "ls-files", "runs/*/last.pt"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    shipped = shipped_runs(ROOT / "weights")
    assert shipped and {f"runs/{r}/last.pt" for r in shipped} <= set(tracked)
    extra = [t for t in tracked if not keeps_checkpoint((ROOT / t).parent, shipped)]
    assert not extra, f"checkpoints runs/ does not keep (python build.py prune): {extra}"


def test_prune_rule(tmp_path):
    runs, weights = tmp_path / "runs", tmp_path / "weights"
    weights.mkdir()
    (weights / "m.json").write_text(json.dumps({"training": {"run": "shipped"}}))
    for name, done in (("shipped", True), ("old", True), ("going", False)):
        (runs / name).mkdir(parents=True)
        (runs / name / "last.pt").write_bytes(b"x")
        if done:
            (runs / name / "done").write_text("10\n")
    assert prunable(runs, weights) == [runs / "old" / "last.pt"]


def _setuptools_major() -> int:
    if importlib.util.find_spec("setuptools") is None:
        return 0
    from importlib.metadata import version
    try:
        return int(version("setuptools").split(".")[0])
    except Exception:  # an odd version string
        return 0


def test_build_py_works_in_its_checkout_from_a_non_editable_install(tmp_path):
    """`pip install .` (not -e) then `python build.py docs` and `build.py opencv`, run from
    another folder: they read and write the checkout, not the installed package."""
    src, site = tmp_path / "checkout", tmp_path / "site"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "build.py"):
        shutil.copy(ROOT / name, src / name)
    for name in ("core", "training", "weights", "plugins"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "build", "recipes"))
    (src / "docs").mkdir()
    for p in [*(ROOT / "docs").glob("*.md"), *(ROOT / "docs").glob("*.json")]:
        shutil.copy(p, src / "docs" / p.name)
    # without build isolation only where the installed setuptools is one pyproject accepts (a fresh
    # Python 3.11 venv carries 65.5, below its >= 68): else pip fetches one, as `pip install .` does
    isolation = ["--no-build-isolation"] if _setuptools_major() >= 68 else []
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", *isolation, "--target", str(site),
                    str(src)], check=True, capture_output=True, timeout=600)
    env = {k: v for k, v in os.environ.items() if k not in ("SRCNN_WEIGHTS", "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)
    where = subprocess.run([sys.executable, "-c", "import srcnn.training.docs as d; print(d.__file__)"],
                           env=env, cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert Path(where.strip()).is_relative_to(site), where

    readme = (src / "README.md").read_text(encoding="utf-8")
    stale = re.sub(r"(<!-- begin generated: models .*?-->\n).*?(<!-- end generated: models -->)", r"\1stale\n\2",
                   readme, flags=re.S)
    (src / "README.md").write_text(stale, encoding="utf-8")
    model = src / "plugins" / "opencv_dnn" / "models" / "srcnn_x3.onnx"
    want = model.read_bytes()
    model.unlink()
    installed = site / "srcnn" / "opencv" / "models" / "srcnn_x3.onnx"
    before = installed.stat().st_mtime_ns
    for cmd in ("docs", "opencv"):
        r = subprocess.run([sys.executable, str(src / "build.py"), cmd], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
    assert (src / "README.md").read_text(encoding="utf-8") == readme
    assert model.read_bytes() == want
    assert installed.stat().st_mtime_ns == before
    assert not (site / "srcnn" / "docs").exists() and not (site / "srcnn" / "README.md").exists()
