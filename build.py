#!/usr/bin/env python3
"""Turn training into the artefacts the plug-ins load.

    python build.py train --name NAME [...]   train a model (needs `pip install .[train]`)
    python build.py weights                   export trained checkpoints to weights/ (+ manifests)
    python build.py int8                      calibrate int8 for the fast path (manifests' "int8")
    python build.py reproduce RUN --out DIR   train RUN again with every stage that led to it
    python build.py experiments [--lane a|b]  train the runs of the paper's experiments (resumable)
    python build.py report                    docs/reproduction.md + figures from those runs
    python build.py docs [--check]            the measured tables in README.md and docs/ from their sources
    python build.py prune [--dry-run]         drop the checkpoints runs/ does not keep (docs/training.md)
    python build.py opencv                    write plugins/opencv_dnn/models/srcnn_x{S}.onnx/.pb
    python build.py gimp                      zip the GIMP plug-ins into dist/

Every command works in the checkout this file is in, however srcnn is installed (editable or
not): it runs from the checkout's folder, so runs/, weights/, docs/, dist/ and any relative
path given on the command line are the checkout's. Datasets: $SRCNN_DATASETS, else
../shared/datasets beside the checkout.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    # Not the installed package's folder: a non-editable install has its own copy of weights/
    # and no runs/ or docs/ at all.
    os.chdir(ROOT)
    os.environ.setdefault("SRCNN_DATASETS", str(ROOT.parent / "shared" / "datasets"))
    os.environ.setdefault("SRCNN_WEIGHTS", str(ROOT / "weights"))
    cmd, rest = argv[0], argv[1:]
    if cmd == "train":
        from srcnn.training.train import main as train
        return train(rest)
    if cmd == "reproduce":
        from srcnn.training.reproduce import main as reproduce
        return reproduce(rest)
    if cmd == "experiments":
        from srcnn.training.experiments import main as experiments
        return experiments(rest)
    if cmd == "report":
        from srcnn.training.report import main as report
        return report(rest)
    if cmd == "weights":
        from srcnn.training.export import main as export
        return export(rest)
    if cmd == "int8":
        from srcnn.quant import main as int8
        return int8(rest)
    if cmd == "docs":
        from srcnn.training.docs import main as docs
        return docs(rest)
    if cmd == "prune":
        from srcnn.training.prune import main as prune
        return prune(rest)
    if cmd == "opencv":
        from srcnn.opencv.build import main as build_opencv
        return build_opencv(rest)
    if cmd == "gimp":
        from srcnn.gimp.build import main as build_gimp
        return build_gimp(rest)
    print(f"unknown command {cmd!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
