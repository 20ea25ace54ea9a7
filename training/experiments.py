"""The paper's experiments as training runs: ``python build.py experiments [--lane a|b]``.

Every table of the paper that ``python build.py report`` re-runs is a list of rows here: the
run name under ``runs/``, the options that make it (on top of ``COMMON``, the same budget for
every run of a table), and the paper's number. Runs are resumable (``build.py train``); a
finished run is skipped, so the command can be restarted after any interruption. Two lanes of
one thread split the runs between the two cores (``--lane a`` / ``--lane b``, or all in
order). On a CUDA machine the same runs use the GPU.

Budget: 4,000 steps of 24 patches of 64x64 at x3 for every run (about 20-30 minutes of one core
for 9-5-5; 4e5 patch back-propagations, against the paper's 8e8), selection on nothing (the
last EMA weights), the validation split held out of the training data.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field

BUDGET = ["--steps", "4000", "--batch", "24", "--patch", "64"]
COMMON = ["--scales", "3", "--threads", "1", "--val", "training/splits/val20.txt",
          "--holdout", "training/splits/val20.txt", "--val-every", "500", "--ckpt-every", "250"] + BUDGET
D91 = ["--data", "T91"]
D291 = ["--data", "T91,BSD200_train"]
D491 = ["--data", "T91,BSD200_train,BSDS500_test"]


@dataclass
class Row:
    label: str
    run: str
    args: list[str]
    paper: float | None = None          # Set5 x3 PSNR (dB), FACTS section 2
    paper_time: float | None = None     # the paper's seconds per image, where it gives one
    note: str = ""


@dataclass
class Table:
    key: str
    title: str
    what: str
    rows: list[Row] = field(default_factory=list)
    colour: bool = False                 # scored on Y, Cb, Cr and the image (Table 5)


def _915(*extra):
    return ["--filters", "9-1-5", *extra]


TABLES = [
    Table("filter_numbers", "Filter numbers (9-1-5, x3)",
          "n1/n2 of 9-1-5 on 291 images; the paper's numbers are 9-1-5 trained on ImageNet",
          [Row("n1/n2 = 32/16", "e_915_n32", _915("--n1", "32", "--n2", "16", *D291), 32.26, 0.05),
           Row("n1/n2 = 64/32", "e_915", _915(*D291), 32.52, 0.18),
           Row("n1/n2 = 128/64", "e_915_n128", _915("--n1", "128", "--n2", "64", *D291), 32.60, 0.60)]),
    Table("filter_sizes", "Filter sizes (64/32, x3)",
          "f1-f2-f3 on 291 images; the paper's numbers are ImageNet-trained",
          [Row("9-1-5", "e_915", _915(*D291), 32.52),
           Row("9-3-5", "e_935", ["--filters", "9-3-5", *D291], 32.66),
           Row("9-5-5", "e_955", ["--filters", "9-5-5", *D291], 32.75),
           Row("11-1-7", "e_1117", ["--filters", "11-1-7", *D291], None, note="the paper's number is not in FACTS")]),
    Table("deeper", "Deeper networks (x3)",
          "four layers (n3 = 16) against three, 291 images; the paper found them harder to train",
          [Row("9-1-5", "e_915", _915(*D291), 32.52),
           Row("9-1-1-5", "e_9115", ["--filters", "9-1-1-5", "--n3", "16", *D291], None, note="paper: not in FACTS"),
           Row("9-3-5", "e_935", ["--filters", "9-3-5", *D291], 32.66),
           Row("9-3-3-5", "e_9335", ["--filters", "9-3-3-5", "--n3", "16", *D291], None, note="paper: not in FACTS")]),
    Table("data", "Training data (9-1-5, x3)",
          "91 images (T91) against 291 (+ BSD200_train) against 491 (+ BSDS500_test less the validation "
          "split); the paper: 91 images 32.39, ImageNet 32.52",
          [Row("91 images", "e_915_d91", _915(*D91), 32.39),
           Row("291 images", "e_915", _915(*D291), None, note="paper: ImageNet 32.52"),
           Row("491 images", "e_915_d491", _915(*D491), None)]),
    Table("recipe", "Training recipe (9-1-5, x3, 291 images)",
          "the paper's SGD (momentum 0.9, lr 1e-4 / 1e-5 last layer, Gaussian init, no residual, 33x33 "
          "sub-images on a stride-14 grid) against this project's Adam + residual + EMA, same budget",
          [Row("paper SGD", "e_915_sgd", _915("--optimizer", "sgd", "--paper-init", "--lr", "1e-4",
                                              "--no-residual", "--schedule", "constant", "--warmup", "0",
                                              "--patch", "33", "--stride", "14", *D291), None,
               note="at this budget; the paper trained 8e8 back-propagations"),
           Row("this project (Adam)", "e_915", _915(*D291), None)]),
    Table("colour", "Colour channels (the paper's Table 5; 9-1-5, x3, 91 images)",
          "PSNR on Set5 of Y, Cb, Cr and of the image ('RGB' in the paper: 10 log10(255^2 / the mean of "
          "the three YCbCr channels' MSE), which reproduces its bicubic row, 34.57)",
          [Row("Y only", "e_915_d91", _915(*D91), 36.37),
           Row("YCbCr", "e_col_ycbcr", _915("--colour", "ycbcr", *D91), 33.47),
           Row("Y pre-train", "e_col_ypre2", _915("--colour", "ycbcr", "--init", "runs/e_col_ypre1/last.pt", *D91), 36.32,
               note="pre-trained on Y (e_col_ypre1), then all three channels"),
           Row("CbCr pre-train", "e_col_cpre2", _915("--colour", "ycbcr", "--init", "runs/e_col_cpre1/last.pt", *D91), 36.25,
               note="pre-trained on Cb, Cr (e_col_cpre1), then all three channels"),
           Row("RGB", "e_col_rgb", _915("--colour", "rgb", *D91), 36.44)],
          colour=True),
]

# Runs that other runs start from (pre-training stages), trained first.
PRE = {
    "e_col_ypre1": _915("--colour", "ycbcr", "--loss-channels", "0", *D91),
    "e_col_cpre1": _915("--colour", "ycbcr", "--loss-channels", "1,2", *D91),
}


def all_runs() -> dict[str, list[str]]:
    """{run name: training options}, each once, in table order, a pre-training stage just
    before the run that starts from it."""
    runs: dict[str, list[str]] = {}
    for t in TABLES:
        for r in t.rows:
            if r.run in runs and runs[r.run] != r.args:
                raise ValueError(f"{r.run} is defined twice with different options")
            for pre, args in PRE.items():
                if f"runs/{pre}/last.pt" in r.args:
                    runs.setdefault(pre, args)
            runs.setdefault(r.run, r.args)
    return runs


def lanes() -> dict[str, list[str]]:
    """Two lanes of about equal cost (9-5-5-like runs count 3x a 9-1-5 run)."""
    cost = {name: (3 if any(f in args for f in ("9-5-5", "9-3-5", "9-3-3-5", "11-1-7")) else 1)
            * (2 if "128" in args else 1) for name, args in all_runs().items()}
    a, b, ca, cb = [], [], 0, 0
    for name in all_runs():
        if name in ("e_col_ypre2", "e_col_cpre2"):  # after their pre-training stage, same lane
            (a if f"e_col_{name[6:10]}1" in a else b).append(name)
            continue
        if ca <= cb:
            a.append(name)
            ca += cost[name]
        else:
            b.append(name)
            cb += cost[name]
    return {"a": a, "b": b}


def main(argv=None) -> int:
    from .train import main as train

    p = argparse.ArgumentParser(prog="build.py experiments", description=__doc__.splitlines()[0])
    p.add_argument("--lane", choices=["a", "b"], help="one of two lanes (default: every run in order)")
    p.add_argument("--only", nargs="*", help="these runs only")
    p.add_argument("--runs", default="runs")
    p.add_argument("--list", action="store_true", help="print the runs and their commands")
    a = p.parse_args(argv)
    runs = all_runs()
    names = lanes()[a.lane] if a.lane else list(runs)
    if a.only:
        names = [n for n in names if n in a.only]
    for name in names:
        opts = [o.replace("runs/", a.runs.rstrip("/") + "/", 1) if o.startswith("runs/") else o for o in runs[name]]
        argv = ["--name", name, "--runs", a.runs, *COMMON, *opts]
        if a.list:
            print("python build.py train " + " ".join(argv))
            continue
        code = train(argv)
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
