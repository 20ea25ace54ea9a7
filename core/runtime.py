"""Load SRCNN weight files (ONNX + JSON manifest) and run them with onnxruntime or cv2.dnn.

A weight file is the convolution stack on pre-upsampled Y with 'valid' convolutions:
(N, C, H, W) float32 -> (N, C, H - 2r, W - 2r), r = ``manifest['radius']``. Its manifest (same
stem, ``.json``) records architecture, scale, colour strategy, training data, sha256 of the
ONNX file and the metrics measured for it; a file whose sha256 differs is refused.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["ModelError", "ModelInfo", "Model", "weights_dir", "available_models", "resolve_model"]

VARIANTS = {"9-5-5": "955", "9-3-5": "935", "9-1-5": "915", "9-5-5-rgb": "955rgb", "photo": "photo"}
# 'photo': 9-5-5 networks trained on LR made as users' files are (JPEG, noise, other resamplers;
# training/degrade.py). The CLI picks it for JPEG inputs when --model is not given.
DEFAULT_VARIANT = "9-5-5"


class ModelError(Exception):
    """A weight file or manifest that cannot be used (missing, corrupt, tampered, wrong kind)."""


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def weights_dir() -> Path:
    """The shipped weights (``weights/`` in the source tree, ``srcnn/weights`` when installed)."""
    env = os.environ.get("SRCNN_WEIGHTS")
    if env:
        return Path(env)
    from . import weights  # type: ignore[attr-defined]  # noqa: F401  (package srcnn.weights)
    return Path(weights.__file__).parent


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class ModelInfo:
    """A manifest, validated."""
    manifest_path: Path
    onnx_path: Path
    name: str
    variant: str
    scale: int
    radius: int
    channels: int
    colour: str
    sha256: str
    raw: dict = field(repr=False, default_factory=dict)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ModelInfo":
        p = Path(path)
        if p.suffix.lower() == ".onnx":
            p = p.with_suffix(".json")
        if not p.is_file():
            raise ModelError(f"no model manifest at {p} (a weight file needs its .json beside it)")
        try:
            m = json.loads(p.read_text())
            onnx_path = p.parent / m["file"]
            info = cls(p, onnx_path, str(m["name"]), str(m["variant"]), int(m["scale"]),
                       int(m["radius"]), int(m.get("channels", 1)), str(m.get("colour", "y")),
                       str(m["sha256"]), m)
        except (ValueError, KeyError, TypeError) as e:
            raise ModelError(f"bad model manifest {p}: {e}") from None
        if (info.channels, info.colour) not in ((1, "y"), (3, "rgb")):
            raise ModelError(f"{p.name}: the pipeline runs Y-channel or RGB models "
                             f"(got {info.channels} channels, colour {info.colour!r})")
        return info

    def verify(self) -> None:
        if not self.onnx_path.is_file():
            raise ModelError(f"weight file missing: {self.onnx_path}")
        digest = sha256_file(self.onnx_path)
        if digest != self.sha256:
            raise ModelError(f"weight file {self.onnx_path.name} is corrupt or was modified "
                             f"(sha256 {digest[:12]}..., manifest says {self.sha256[:12]}...)")


def available_models(folder: Path | None = None) -> list[ModelInfo]:
    """Every manifest in the weights folder, sorted by variant then scale."""
    folder = Path(folder) if folder else weights_dir()
    out = []
    for p in sorted(folder.glob("*.json")):
        try:
            out.append(ModelInfo.load(p))
        except ModelError:
            continue
    return sorted(out, key=lambda m: (m.variant, m.scale))


def resolve_model(model: str | os.PathLike | None, scale: float) -> ModelInfo:
    """A shipped variant name ('9-5-5', '9-1-5') or a path -> the model to use for ``scale``.

    For a variant, the shipped scale nearest to ``scale`` is chosen (ties: the larger one).
    """
    name = str(model) if model is not None else DEFAULT_VARIANT
    if name in VARIANTS or name in VARIANTS.values():
        variant = name if name in VARIANTS else {v: k for k, v in VARIANTS.items()}[name]
        cands = [m for m in available_models() if m.variant == variant]
        if not cands:
            shipped = sorted({m.variant for m in available_models()})
            raise ModelError(f"no shipped {variant} model (shipped: {', '.join(shipped) or 'none'})")
        return min(cands, key=lambda m: (abs(m.scale - scale), -m.scale))
    p = Path(name)
    if p.suffix.lower() in (".onnx", ".json") or p.exists():
        return ModelInfo.load(p)
    raise ModelError(f"unknown model {name!r}: use one of {', '.join(VARIANTS)} or a path to a .onnx/.json")


def models_by_scale(model: str | os.PathLike | None) -> dict[int, ModelInfo]:
    """{trained factor: ModelInfo}: every shipped scale of a variant, or the one of a file."""
    name = str(model) if model is not None else DEFAULT_VARIANT
    if name in VARIANTS or name in VARIANTS.values():
        info = resolve_model(name, 3)  # raises for a variant that is not shipped
        return {m.scale: m for m in available_models() if m.variant == info.variant}
    info = resolve_model(name, 3)
    return {info.scale: info}


class Model:
    """A verified SRCNN network ready to run; safe to share between threads.

    ``run(x)``: float32 pre-upsampled input in [0, 1], already padded by ``radius``: (H, W) Y for
    a Y model, (3, H, W) RGB for an RGB model -> float32 (H - 2r, W - 2r), or (3, ...) likewise.
    """

    def __init__(self, info: ModelInfo, engine: str = "onnxruntime", threads: int | None = None):
        info.verify()
        self.info = info
        self.engine = engine
        self._lock = threading.Lock()
        if engine == "onnxruntime":
            import onnxruntime as ort

            so = ort.SessionOptions()
            if threads:
                so.intra_op_num_threads = int(threads)
                so.inter_op_num_threads = 1
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            try:
                self._sess = ort.InferenceSession(str(info.onnx_path), so, providers=["CPUExecutionProvider"])
            except Exception as e:  # onnxruntime raises its own exception types
                raise ModelError(f"onnxruntime cannot load {info.onnx_path.name}: {str(e).splitlines()[0]}") from None
            self._input = self._sess.get_inputs()[0].name
        elif engine == "opencv":
            import cv2

            if threads:
                cv2.setNumThreads(int(threads))
            try:
                self._net = cv2.dnn.readNetFromONNX(str(info.onnx_path))  # a path: bytes segfault
            except cv2.error as e:
                raise ModelError(f"OpenCV cannot load {info.onnx_path.name}: {str(e).strip().splitlines()[-1]}") from None
        else:
            raise ModelError(f"unknown engine {engine!r}: use onnxruntime or opencv")

    @property
    def radius(self) -> int:
        return self.info.radius

    def run(self, y: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(y, dtype=np.float32)
        x = x[None, None] if x.ndim == 2 else x[None]
        if self.engine == "onnxruntime":
            out = self._sess.run(None, {self._input: x})[0][0]
        else:
            with self._lock:  # a cv2.dnn.Net is not re-entrant
                self._net.setInput(x)
                out = self._net.forward()[0].copy()
        return out[0] if y.ndim == 2 else out


_CACHE: dict[tuple, Model] = {}
_CACHE_LOCK = threading.Lock()


def load_model(info: ModelInfo, engine: str = "onnxruntime", threads: int | None = None) -> Model:
    """Cached ``Model`` (one per file, engine and thread count)."""
    key = (str(info.onnx_path), info.sha256, engine, threads)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = Model(info, engine, threads)
        return _CACHE[key]
