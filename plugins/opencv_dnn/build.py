"""``python build.py opencv``: weight files -> the OpenCV model files in ``models/``.

For every scale with a model of the chosen variant (9-5-5 by default) in the weights folder,
write the self-contained LR-Y -> HR-Y network three times: ONNX for ``cv2.dnn`` / onnxruntime
(``srcnn_x{S}.onnx``, studio-range Y), and for ``cv2.dnn_superres`` (full-range Y) a
TensorFlow GraphDef (``srcnn_x{S}.pb``, OpenCV 4.x and 5.0) and an ONNX file
(``srcnn_x{S}_superres.onnx``, OpenCV 5.1 and later, which read no .pb). For every scale with a
model of the RGB variant (9-5-5-rgb by default), write ``srcnn_rgb_x{S}.pb`` and
``srcnn_rgb_x{S}_superres.onnx``, the BGR -> BGR network for ``dnn_superres``'s "edsr" algorithm.
For every scale with a photo model (``photo``, trained on JPEG, noise and other resamplers), the
same three files as the Y models under ``srcnn_photo_x{S}``. Output
bytes depend only on the weights, so a rebuild is a no-op and files are rewritten only when
their content changes. Needs the ``onnx`` package (``pip install .[test]`` or ``.[train]``).

    python build.py opencv [--weights DIR] [--out DIR] [--variant 9-5-5] [--rgb-variant 9-5-5-rgb]
                            [--photo-variant photo] [--check]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from srcnn.runtime import ModelError, ModelInfo, available_models, weights_dir

from . import MAX_RADIUS
from .graph import onnx_lr_to_hr, read_conv_stack, stack_radius
from .superres import superres_onnx_rgb, superres_onnx_y
from .tfgraph import graphdef_lr_to_hr, graphdef_rgb_lr_to_hr

CHECKOUT_MODELS = Path("plugins", "opencv_dnn", "models")


def select_models(folder: Path, variant: str = "9-5-5") -> dict[int, ModelInfo]:
    """One verified weight file per scale for ``variant``; several for one scale is an error."""
    by_scale: dict[int, list[ModelInfo]] = {}
    for info in available_models(folder):
        if info.variant == variant:
            by_scale.setdefault(info.scale, []).append(info)
    out = {}
    for s, infos in sorted(by_scale.items()):
        if len(infos) > 1:
            names = ", ".join(i.manifest_path.name for i in infos)
            raise ModelError(f"{folder}: several {variant} x{s} models ({names}); keep one per scale")
        infos[0].verify()
        out[s] = infos[0]
    return out


def build_files(info: ModelInfo, prefix: str = "srcnn") -> dict[str, bytes]:
    """{'srcnn_x{S}.onnx', 'srcnn_x{S}.pb', 'srcnn_x{S}_superres.onnx': bytes} for one Y weight
    file (``prefix`` 'srcnn_photo': the photo model's), {'srcnn_rgb_x{S}.pb',
    'srcnn_rgb_x{S}_superres.onnx': bytes} for one RGB (3-channel) one."""
    layers = read_conv_stack(info.onnx_path, info.channels)
    r = stack_radius(layers)
    if r != info.radius:
        raise ModelError(f"{info.onnx_path.name}: conv stack radius {r} disagrees with the manifest ({info.radius})")
    if r > MAX_RADIUS:
        raise ModelError(f"{info.onnx_path.name}: radius {r} is over {MAX_RADIUS}, the most upsample_bgr's tiles allow")
    s = info.scale
    src = {"source_weights": info.onnx_path.name, "source_sha256": info.sha256, "variant": info.variant, "scale": s}
    if info.channels == 3:
        return {f"srcnn_rgb_x{s}.pb": graphdef_rgb_lr_to_hr(layers, s),
                f"srcnn_rgb_x{s}_superres.onnx": superres_onnx_rgb(layers, s, metadata=src)}
    meta = {**src, "input": "studio-range Y (MATLAB rgb2ycbcr / 255), float32 (N, 1, h, w), h, w >= 2",
            "output": f"studio-range Y, float32 (N, 1, {s}h, {s}w)"}
    onnx_bytes = onnx_lr_to_hr(layers, s, metadata=meta, name=f"{prefix}_x{s}").SerializeToString(deterministic=True)
    return {f"{prefix}_x{s}.onnx": onnx_bytes, f"{prefix}_x{s}.pb": graphdef_lr_to_hr(layers, s),
            f"{prefix}_x{s}_superres.onnx": superres_onnx_y(layers, s, metadata=src)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="build.py opencv", description=__doc__.splitlines()[0])
    ap.add_argument("--weights", type=Path, default=None, help="weights folder (default: the shipped weights)")
    # The checkout's folder (build.py runs in the checkout), not the installed package's MODELS_DIR.
    ap.add_argument("--out", type=Path, default=CHECKOUT_MODELS, help=f"output folder (default: {CHECKOUT_MODELS})")
    ap.add_argument("--variant", default="9-5-5", help="which variant to build, one model per scale")
    ap.add_argument("--rgb-variant", default="9-5-5-rgb",
                    help="which RGB variant to build for dnn_superres's 'edsr' (srcnn_rgb_x{S}.pb, "
                         "_superres.onnx); '' for none")
    ap.add_argument("--photo-variant", default="photo",
                    help="the model for JPEG / noisy pictures (srcnn_photo_x{S}.onnx, .pb, _superres.onnx); '' for none")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if any file would change")
    args = ap.parse_args(argv)
    folder = args.weights or weights_dir()
    try:
        models = select_models(folder, args.variant)
        rgb = select_models(folder, args.rgb_variant) if args.rgb_variant else {}
        photo = select_models(folder, args.photo_variant) if args.photo_variant else {}
        if not models and not rgb and not photo:
            print(f"build.py opencv: no {args.variant} or {args.rgb_variant} weights in {folder}: nothing to build",
                  file=sys.stderr)
            return 0
        files = {}
        for info in [*models.values(), *rgb.values()]:
            files.update(build_files(info))
        for info in photo.values():
            files.update(build_files(info, "srcnn_photo"))
    except (ModelError, ValueError) as e:
        print(f"build.py opencv: {e}", file=sys.stderr)
        return 1
    changed = []
    for name, data in files.items():
        path = args.out / name
        if path.is_file() and path.read_bytes() == data:
            continue
        changed.append(name)
        if not args.check:
            args.out.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    stale = sorted(p.name for p in args.out.glob("srcnn_*x*.*") if p.suffix in (".onnx", ".pb")
                   and p.name.startswith(("srcnn_x", "srcnn_rgb_x", "srcnn_photo_x")) and p.name not in files) \
        if args.out.is_dir() else []
    for name in stale:
        print(f"build.py opencv: note: {args.out / name} has no {args.variant} / {args.rgb_variant} weights any more",
              file=sys.stderr)
    verb = "would change" if args.check else "wrote"
    built = [f"x{s}" for s in models] + [f"rgb x{s}" for s in rgb] + [f"photo x{s}" for s in photo]
    print(f"build.py opencv: {', '.join(built)} from {folder}: "
          + (f"{verb} {', '.join(changed)}" if changed else "up to date") + f" in {args.out}")
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
