"""One end-to-end case in a fresh process: decode -> srcnn.upscale -> encode, timed by stage.

    python bench/case.py '{"input": "in.png", "weights": DIR, "model": "9-5-5", "scale": 3,
                          "path": "fast", "threads": 2, "tile": 512, "format": "png"}'

Optional: "profile": false (no stage split for the fast path), "tile_workers": N (fast path: tiles
in parallel, one thread each, instead of threads inside each convolution), "png_level": 6 (what-if: PNG written
with that zlib level instead of srcnn.imageio's default, 1), "int8": true or 8 / 7 (fast path with the manifest's int8
calibration; the result reports "fallbacks", tiles rerun in float32).

prints one JSON line: seconds per stage, output size and the process's peak RSS (ru_maxrss and
/proc/self/status VmHWM). The stages are timed without changing what runs:
- reference path: ``srcnn.pipeline.resize_region`` (bicubic) and the model's ``run`` (CNN) are
  wrapped by timers; colour = upscale time - bicubic - CNN (colour conversion, tiling, rounding);
- fast path: the tile graph's node times from onnxruntime's profiler split the time spent in
  the graph into stages by node name; colour also gets the Python side (patch gathering, writes).
"""
from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np


def peak_rss_mb() -> dict:
    out = {"ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                out["vmhwm_mb"] = int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return out


class Timer:
    def __init__(self):
        self.t = defaultdict(float)

    def wrap(self, key, fn):
        def timed(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self.t[key] += time.perf_counter() - t0
        return timed


def profile_split(prof_file: str) -> dict:
    """Seconds per stage from an onnxruntime profile (node names start with 'stage/')."""
    ev = json.load(open(prof_file))
    split = defaultdict(float)
    for e in ev:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
            continue
        name = e["name"]
        stage = name.split("/", 1)[0] if "/" in name else "cnn"  # ort's own nodes: layout reorders of the convs
        if stage not in ("colour", "bicubic", "cnn"):
            stage = "cnn"
        split[stage] += e["dur"] * 1e-6
    os.unlink(prof_file)
    return dict(split)


def main(spec: dict) -> dict:
    os.environ["SRCNN_WEIGHTS"] = spec["weights"]
    import srcnn.pipeline as pipeline
    from srcnn.imageio import read_image, write_image
    from srcnn.runtime import Model, resolve_model

    threads = spec.get("threads")
    path = spec["path"]
    info = resolve_model(spec["model"], spec["scale"])
    timer = Timer()
    t0 = time.perf_counter()
    if path == "fast":
        from srcnn.fast import FastModel

        int8 = None
        if spec.get("int8"):
            from srcnn.quant import int8_scales
            int8 = int8_scales(info, None if spec["int8"] is True else int(spec["int8"]))
        net = FastModel(info, threads, tile_workers=spec.get("tile_workers"), int8=int8)
        if spec.get("profile", True):
            orig = net.session_options

            def with_profiling():
                so = orig()
                so.enable_profiling = True
                so.profile_file_prefix = os.path.join(tempfile.gettempdir(), f"srcnn_bench_{os.getpid()}")
                return so
            net.session_options = with_profiling
        kwargs = {"fast": net}
    else:
        net = Model(info, "opencv" if path == "opencv" else "onnxruntime", threads)
        net.run = timer.wrap("cnn", net.run)
        pipeline.resize_region = timer.wrap("bicubic", pipeline.resize_region)
        kwargs = {"model": net, "fast": False}
    # one small warm-up call (session creation, first-run allocations), not timed
    pipeline.upscale(np.zeros((24, 24, 3), np.uint8), spec["scale"], tile=spec["tile"], **kwargs)
    t_load = time.perf_counter() - t0
    timer.t.clear()
    if path == "fast":
        sess = net.session(3, np.uint8, np.uint8)  # profiled from the warm-up on (a negligible share)
        key = next(k for k, v in net._sessions.items() if v is sess)
        sess_run = sess.run
        proxy_calls = timer.wrap("graph", sess_run)

        class Proxy:
            def __getattr__(self, k):
                return getattr(sess, k)
            run = staticmethod(proxy_calls)
        net._sessions[key] = Proxy()

    t = time.perf_counter()
    pic = read_image(spec["input"])
    t_decode = time.perf_counter() - t
    t = time.perf_counter()
    out = pipeline.upscale(pic.pixels, spec["scale"], tile=spec["tile"], **kwargs)
    t_up = time.perf_counter() - t
    rss_upscale = peak_rss_mb().get("vmhwm_mb")
    pic.pixels = out
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        write_image(pic, Path(d) / f"out.{spec.get('format', 'png')}", threads=spec["threads"],
                    **({"png_level": int(spec["png_level"])} if spec.get("png_level") is not None else {}))
        t_encode = time.perf_counter() - t
    res = {"decode": t_decode, "upscale": t_up, "encode": t_encode, "load": t_load, "rss_upscale_mb": rss_upscale,
           "out_shape": list(out.shape), "mp": out.shape[0] * out.shape[1] / 1e6}
    if path == "fast":
        res["fallbacks"] = net.fallbacks
    if path == "fast":
        # With W tiles at once, graph calls overlap: their summed wall time is thread time, W
        # times the wall time they take in parallel (all workers stay busy but for the last tile).
        graph = timer.t["graph"] / max(1, net.tile_workers)
        split = profile_split(sess.end_profiling()) if spec.get("profile", True) else {"cnn": graph}
        tot = sum(split.values()) or 1.0
        res["cnn"] = graph * split.get("cnn", 0) / tot
        res["bicubic"] = graph * split.get("bicubic", 0) / tot
        res["colour"] = t_up - res["cnn"] - res["bicubic"]
    else:
        res["cnn"] = timer.t["cnn"]
        res["bicubic"] = timer.t["bicubic"]
        res["colour"] = t_up - res["cnn"] - res["bicubic"]
    res.update(peak_rss_mb())
    return res


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    print(json.dumps(main(json.loads(sys.argv[1]))))
