"""The CNN on pre-upsampled Y through every engine the benchmark compares.

Each engine is an object with ``name``, ``radius`` and ``run(y)``: float32 (H + 2r, W + 2r)
replicate-padded Y in [0, 1] -> float32 (H, W), the contract of ``srcnn.runtime.Model.run``,
so that ``srcnn.evaluate.evaluate`` scores every one of them with the paper's protocol.
"""
from __future__ import annotations

import numpy as np

from srcnn.runtime import Model, ModelInfo


def direct_flops(layers, out_h: int, out_w: int) -> float:
    """Multiply-adds x 2 of the 'valid' direct convolutions producing an (out_h, out_w) output."""
    total, extra = 0.0, 0
    for w, _ in reversed(layers):
        total += 2.0 * (out_h + 2 * extra) * (out_w + 2 * extra) * w[0].size * w.shape[0]
        extra += w.shape[2] // 2
    return total


class Reference:
    """``srcnn.runtime.Model``: onnxruntime (the pipeline's default) or OpenCV dnn."""

    def __init__(self, info: ModelInfo, engine: str, threads: int | None):
        self.name = {"onnxruntime": "onnxruntime (reference)", "opencv": "OpenCV dnn (reference)"}[engine]
        self.info = info
        self.model = Model(info, engine, threads)
        self.radius = self.model.radius

    def run(self, y):
        return self.model.run(y)


class Fast:
    """``srcnn.fast``: the conv stack with the pass-through channel split off and the last layer
    on a 4x4 output block (what the fast pipeline runs inside its tile graph)."""

    name = "onnxruntime fast (srcnn.fast)"

    def __init__(self, info: ModelInfo, threads: int | None, **kw):
        from srcnn.fast import FastModel

        self.info = info
        self.fm = FastModel(info, threads, **kw)
        self.sess = self.fm.cnn_session()
        self.radius = self.fm.radius
        self.block = self.fm.block

    def run(self, y):
        h, w = y.shape[0] - 2 * self.radius, y.shape[1] - 2 * self.radius
        eh, ew = (-h) % self.block, (-w) % self.block
        if eh or ew:  # the block needs H, W multiples of 4: extend, then crop the extra outputs
            y = np.pad(y, ((0, eh), (0, ew)), mode="edge")
        out = self.sess.run(None, {"input": np.ascontiguousarray(y, np.float32)[None, None]})[0][0, 0]
        return out[:h, :w]


class FastTiles:
    """``srcnn.fast``'s conv stack as ``srcnn.upscale(..., fast=True)`` runs it: the output cut
    into tiles (the fast path's cap: 256, 192 for a 1x1 middle layer), ``threads`` tiles at
    once, each on a one-thread session. Each tile recomputes its halo; only the output's
    own pixels count as FLOPs."""

    name = "onnxruntime fast, tiles in parallel (as srcnn.upscale runs it)"

    def __init__(self, info: ModelInfo, threads: int | None, **kw):
        from concurrent.futures import ThreadPoolExecutor

        from srcnn.fast import FastModel
        from srcnn.runtime import usable_cores

        self.info = info
        self.workers = threads or usable_cores()
        self.fm = FastModel(info, 1, tile_workers=self.workers, **kw)
        self.sessions = [self.fm.cnn_session() for _ in range(self.workers)]
        self.radius = self.fm.radius
        self.block = self.fm.block
        self.pool = ThreadPoolExecutor(self.workers)

    def _tile(self, k, y, t, out):
        r, b = self.radius, self.block
        x = y[t.r0:t.r1 + 2 * r, t.c0:t.c1 + 2 * r]
        h, w = t.r1 - t.r0, t.c1 - t.c0
        if h % b or w % b:
            x = np.pad(x, ((0, (-h) % b), (0, (-w) % b)), mode="edge")
        sess = self.sessions[k % self.workers]
        out[t.r0:t.r1, t.c0:t.c1] = sess.run(None, {"input": np.ascontiguousarray(x)[None, None]})[0][0, 0, :h, :w]

    def run(self, y):
        from srcnn.border import tiles

        y = np.asarray(y, np.float32)
        h, w = y.shape[0] - 2 * self.radius, y.shape[1] - 2 * self.radius
        out = np.empty((h, w), np.float32)
        ts = list(tiles(h, w, self.fm.tile_cap))
        # tile k runs on session k mod workers; with as many tiles in flight as sessions, no
        # two threads share one (a session is thread-safe anyway)
        list(self.pool.map(lambda kt: self._tile(kt[0], y, kt[1], out), enumerate(ts)))
        return out


class FastTilesInt8(FastTiles):
    """``FastTiles`` with the middle layer in int8 (``srcnn.quant``; the manifest's calibration)
    at ``bits``-bit activations (8: VNNI; 7: what CPUs without VNNI run). The CNN alone,
    without the tile pipeline's float32 rerun of clipped tiles."""

    def __init__(self, info: ModelInfo, threads: int | None, bits: int = 8):
        from srcnn.quant import int8_scales

        self.name = int8_engine_name(bits)
        super().__init__(info, threads, int8=int8_scales(info, bits))


def int8_engine_name(bits: int) -> str:
    return f"onnxruntime fast int8 (--int8, {bits}-bit activations), tiles in parallel"


def int8_widths(info: ModelInfo) -> list[int]:
    """The activation widths of the int8 path that this CPU runs exactly and ``info`` admits:
    8 and 7 with VNNI (7 is what a CPU without VNNI runs: the same integers), 7 without."""
    from srcnn.quant import int8_act_bits, int8_cpu_problem, int8_scales

    if int8_cpu_problem() is not None:
        return []
    return [b for b in ((8, 7) if int8_act_bits() == 8 else (7,)) if int8_scales(info, b) is not None]


class Fold:
    """``bench/fold.py``: bicubic folded into layer 1, fed the LR image. Needs the LR image, so
    ``run_lr`` is its entry; ``run`` (pre-upsampled input) is not available."""

    name = "onnxruntime fold (bench/fold.py)"

    def __init__(self, info: ModelInfo, threads: int | None):
        import onnxruntime as ort
        from srcnn.fast import FastModel
        from fold import fold_graph

        fm = FastModel(info, threads)
        self.info = info
        self.scale = info.scale
        graph, self.geo = fold_graph(fm.layers, info.scale)
        self.sess = ort.InferenceSession(graph, fm.session_options(fm.cnn_threads), providers=["CPUExecutionProvider"])
        self.radius = fm.radius

    def lr_len(self, out_len: int) -> int:
        """LR input length giving at least out_len outputs, rounded so the 4x4 block fits."""
        n = self.geo.taps
        while self.geo.out_len(n) < out_len or self.geo.out_len(n) % 4:
            n += 1
        return n

    def run_lr(self, lr: np.ndarray) -> np.ndarray:
        return self.sess.run(None, {"input": np.ascontiguousarray(lr, np.float32)[None, None]})[0][0, 0]

    def upscale_y(self, y_lr: np.ndarray) -> np.ndarray:
        """LR Y (h, w) -> HR Y (S h, S w): symmetric LR border (exact bicubic inside the image);
        within the receptive-field radius of the edge the result differs from the reference,
        which pads the HR image by replication."""
        s, off = self.scale, self.geo.offset
        h, w = y_lr.shape
        p = -(-off // s) + 1  # LR pixels of border so that the output starts at or before HR pixel 0
        ph = self.lr_len(s * h + s * p) - h - p
        pw = self.lr_len(s * w + s * p) - w - p
        x = np.pad(y_lr, ((p, ph), (p, pw)), mode="symmetric")
        out = self.run_lr(x)
        y0 = s * p - off
        return out[y0:y0 + s * h, y0:y0 + s * w]


class TorchEager:
    """torch.nn.functional.conv2d, NCHW, eager (the training code's engine): a reference point."""

    name = "torch eager (reference point)"

    def __init__(self, info: ModelInfo, threads: int | None, channels_last: bool = False):
        import torch
        from srcnn.onnxmini import read_conv_stack

        self.torch = torch
        self.info = info
        if threads:
            torch.set_num_threads(int(threads))
        self.layers = [(torch.from_numpy(w.copy()), torch.from_numpy(b.copy()))
                       for w, b in read_conv_stack(info.onnx_path.read_bytes())]
        self.channels_last = channels_last
        if channels_last:
            self.name = "torch eager channels_last"
            self.layers = [(w.contiguous(memory_format=torch.channels_last), b) for w, b in self.layers]
        self.radius = sum(w.shape[2] // 2 for w, _ in self.layers)

    def run(self, y):
        torch = self.torch
        F = torch.nn.functional
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(y, np.float32))[None, None]
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            for i, (w, b) in enumerate(self.layers):
                x = F.conv2d(x, w, b)
                if i < len(self.layers) - 1:
                    x = F.relu(x)
            return x[0, 0].numpy()


def torch_available() -> bool:
    try:
        import importlib.util

        return importlib.util.find_spec("torch") is not None
    except Exception:  # noqa: BLE001
        return False
