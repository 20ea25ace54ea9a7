#!/usr/bin/env python3
"""Turn training into the artefacts the plug-ins load.

    python build.py train --name NAME [...]   train a model (needs `pip install .[train]`)
    python build.py weights                   export trained checkpoints to weights/ (+ manifests)
    python build.py int8                      calibrate int8 for the fast path (manifests' "int8")
    python build.py reproduce RUN --out DIR   train RUN again with every stage that led to it
    python build.py experiments [--lane a|b]  train the runs of the paper's experiments (resumable)
    python build.py report                    docs/reproduction.md + figures from those runs
    python build.py opencv                    write plugins/opencv_dnn/models/srcnn_x{S}.onnx/.pb
    python build.py gimp                      zip the GIMP plug-ins into dist/
"""
from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
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
