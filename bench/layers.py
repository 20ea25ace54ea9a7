"""Where the CNN's time goes, node by node: the float32 and int8 tile graphs of one model.

    python bench/layers.py                      # 9-5-5 x3, one thread, 256x256 output
    python bench/layers.py --threads 2 --size 512 --model 9-5-5 --scale 4

Builds the conv stack as ``srcnn.fast`` runs it (float32, and int8 where this CPU and the
weight file allow it: ``srcnn.quant.require_int8``), runs it with onnxruntime's profiler, and
prints a markdown table of each node's best time over the runs, after onnxruntime's own graph
rewrites (NCHWc convolutions, reorders, transposes around the NHWC QLinearConv), and the bound
the int8 graph would reach if every node but the convolutions were free.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile

import numpy as np
from common import machine_info  # bench/common.py: this script's folder is on sys.path
from srcnn.fast import FastModel
from srcnn.quant import int8_cpu_problem, require_int8
from srcnn.runtime import ModelError, resolve_model

CONVS = {"Conv", "QLinearConv", "FusedConv"}


class _Profiled(FastModel):
    """``FastModel`` whose sessions run onnxruntime's profiler (into ``prefix``)."""
    prefix = "srcnn-layers"

    def session_options(self, threads=None):
        so = super().session_options(threads)
        so.enable_profiling = True
        so.profile_file_prefix = self.prefix
        return so


def profile(fm: _Profiled, size: int, runs: int) -> tuple[float, dict]:
    """(best whole-run ms, {node: (op, best ms)}) of ``fm``'s conv stack on a size x size output
    (``FastModel.cnn_session``: the graph the fast path runs per tile, without its colour stages)."""
    with tempfile.TemporaryDirectory() as tmp:
        fm.prefix = os.path.join(tmp, "p")
        s = fm.cnn_session()
        r = fm.radius
        feed = {"input": np.random.default_rng(0).random((1, 1, size + 2 * r, size + 2 * r), np.float32)}
        for _ in range(runs + 3):
            s.run(None, feed)
        events = json.load(open(s.end_profiling()))
    whole = [e["dur"] for e in events if e.get("name") == "model_run"][3:]
    nodes = collections.defaultdict(list)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            nodes[(e["args"].get("op_name"), e["name"][:-len("_kernel_time")])].append(e["dur"])
    return min(whole) / 1e3, {k[1]: (k[0], min(v[3:]) / 1e3) for k, v in nodes.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="9-5-5")
    ap.add_argument("--scale", type=int, default=3)
    ap.add_argument("--size", type=int, default=256, help="output side (the fast path's tile)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=10)
    a = ap.parse_args(argv)
    info = resolve_model(a.model, a.scale)
    cases = [("float32", None)]
    problem = int8_cpu_problem()
    if problem is None:
        try:
            q = require_int8(info)
            cases.append((f"int8, {q.act_bits}-bit activations", q))
        except ModelError as e:
            problem = str(e)
    m = machine_info()
    print(f"# {a.model} x{a.scale} CNN, {a.size}x{a.size} output, {a.threads} thread(s), best of {a.runs}; "
          f"CPU {m['cpu']} ({m['isa']})")
    print()
    print("| graph | node | op | ms | share |")
    print("|---|---|---|---|---|")
    totals = {}
    for name, q in cases:
        fm = _Profiled(info, a.threads, int8=q)
        whole, nodes = profile(fm, a.size, a.runs)
        total = sum(ms for _, ms in nodes.values())
        for node, (op, ms) in sorted(nodes.items(), key=lambda kv: -kv[1][1]):
            if ms >= 0.05:
                print(f"| {name} | {node} | {op} | {ms:.1f} | {ms / total:.0%} |")
        conv = sum(ms for op, ms in nodes.values() if op in CONVS)
        print(f"| {name} | **whole run** | | **{whole:.1f}** | convolutions {conv:.1f} ms, the rest {total - conv:.1f} |")
        totals[name] = (whole, conv)
    print()
    if len(cases) == 2:
        (f_whole, f_conv), (i_whole, i_conv) = totals.values()
        print(f"int8 against float32: {f_whole / i_whole:.2f}x for the whole graph; "
              f"{f_conv / i_conv:.2f}x if every node but the convolutions were free.")
    else:
        print(f"no int8 here: {problem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
