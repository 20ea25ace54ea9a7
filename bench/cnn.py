"""The CNN alone (bench/run.py's "The CNN alone" tables): each model on every engine, as
effective GFLOP/s (direct-convolution FLOPs / time) and its ratio to the matmul peak, and the
fast graph under onnxruntime's session options."""
from __future__ import annotations

import numpy as np

from common import best_of, md_table


def bench_cnn(models, threads: int, size: int, reps: int, with_torch: bool, peak: float) -> tuple[str, dict]:
    from engines import Fast, FastTiles, FastTilesInt8, Fold, Reference, TorchEager, direct_flops, int8_widths
    from srcnn.onnxmini import read_conv_stack

    rows, found = [], {}
    for info in models:
        layers = read_conv_stack(info.onnx_path.read_bytes())
        engines = [Reference(info, "onnxruntime", threads), Fast(info, threads), FastTiles(info, threads),
                   Reference(info, "opencv", threads), Fold(info, threads)]
        if with_torch:
            engines.append(TorchEager(info, threads))
        engines += [FastTilesInt8(info, threads, b) for b in int8_widths(info)]
        r = engines[0].radius
        rng = np.random.default_rng(0)
        y = rng.random((size + 2 * r, size + 2 * r), dtype=np.float32)
        fold = engines[4]
        lr = rng.random((fold.lr_len(size),) * 2, dtype=np.float32)
        calls = {}
        for e in engines:
            if isinstance(e, Fold):
                calls[e.name] = (lambda e=e: e.run_lr(lr), fold.geo.out_len(lr.shape[0]))
            else:
                calls[e.name] = (lambda e=e: e.run(y), size)
        best = {k: best_of(fn, reps) for k, (fn, _) in calls.items()}
        for k, (fn, n) in calls.items():
            fl = direct_flops(layers, n, n)
            g = fl / best[k] / 1e9
            found[(info.variant, info.scale, k)] = g
            rows.append([info.variant, f"x{info.scale}", k, f"{n}x{n}", f"{best[k] * 1e3:.1f}",
                         f"{fl / 1e9:.1f}", f"{g:.1f}", f"{g / peak:.2f}"])
    head = ["variant", "scale", "engine", "output", "ms", "GFLOP", "GFLOP/s", "/ peak"]
    return md_table(head, rows), found


def bench_ort_options(info, threads: int, size: int, reps: int, peak: float) -> str:
    """The CNN under onnxruntime session options: optimisation level, memory arena, spinning."""
    import onnxruntime as ort
    from engines import Fast, direct_flops
    from srcnn.onnxmini import read_conv_stack

    layers = read_conv_stack(info.onnx_path.read_bytes())
    levels = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
              "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
              "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}

    def ref_session(level="all", arena=True, spin=True):
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
        so.graph_optimization_level = levels[level]
        so.enable_cpu_mem_arena = arena
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        sess = ort.InferenceSession(str(info.onnx_path), so, providers=["CPUExecutionProvider"])
        return lambda y: sess.run(None, {sess.get_inputs()[0].name: y[None, None]})[0]

    def fast(level="all", arena=True, spin=True):
        f = Fast(info, threads, opt_level=level,
                 session_config={"session.intra_op.allow_spinning": "1" if spin else "0"})
        if not arena:
            so = f.fm.session_options(f.fm.cnn_threads)
            so.enable_cpu_mem_arena = False
            f.sess = ort.InferenceSession(_fast_cnn_bytes(f.fm), so, providers=["CPUExecutionProvider"])
        return f.run

    configs = {}
    for lvl in levels:
        configs[f"reference, optimisation {lvl}"] = ref_session(lvl)
    configs["reference, all, no memory arena"] = ref_session(arena=False)
    configs["reference, all, no spinning"] = ref_session(spin=False)
    for lvl in levels:
        configs[f"fast, optimisation {lvl}"] = fast(lvl)
    configs["fast, all, no memory arena"] = fast(arena=False)
    configs["fast, all, no spinning"] = fast(spin=False)
    r = sum(w.shape[2] // 2 for w, _ in layers)
    y = np.random.default_rng(0).random((size + 2 * r, size + 2 * r), dtype=np.float32)
    best = {k: best_of(lambda fn=fn: fn(y), reps) for k, fn in configs.items()}
    fl = direct_flops(layers, size, size)
    rows = [[k, f"{v * 1e3:.1f}", f"{fl / v / 1e9:.1f}", f"{fl / v / 1e9 / peak:.2f}"] for k, v in best.items()]
    return md_table(["9-5-5 x%d CNN, %dx%d, %d threads" % (info.scale, size, size, threads), "ms", "GFLOP/s", "/ peak"], rows)


def _fast_cnn_bytes(fm) -> bytes:
    from srcnn.fast import cnn_graph
    from srcnn.onnxmini import Graph

    g = Graph("srcnn_fast_cnn")
    x = g.input("input", np.float32, [1, 1, "H", "W"])
    g.add("Identity", [cnn_graph(g, x, fm.layers, fm.block)], out="output")
    g.output("output", np.float32, [1, 1, "Ho", "Wo"])
    return g.serialize()
