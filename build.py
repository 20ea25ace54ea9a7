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

import importlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
COMMANDS = {  # build.py COMMAND ARGS... runs FUNCTION(ARGS)
    "train": "srcnn.training.train:main",
    "weights": "srcnn.training.export:main",
    "int8": "srcnn.quant:main",
    "reproduce": "srcnn.training.reproduce:main",
    "experiments": "srcnn.training.experiments:main",
    "report": "srcnn.training.report:main",
    "docs": "srcnn.training.docs:main",
    "prune": "srcnn.training.prune:main",
    "opencv": "srcnn.opencv.build:main",
    "gimp": "srcnn.gimp.build:main",
}


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
    if cmd in COMMANDS:  # imported only when asked for: most need the [train] extra
        module, name = COMMANDS[cmd].split(":")
        return getattr(importlib.import_module(module), name)(rest)
    print(f"unknown command {cmd!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
