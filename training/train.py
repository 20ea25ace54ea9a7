"""Train SRCNN: ``python build.py train --name NAME [options]`` (or ``python -m srcnn.training.train``).

Checkpoints to ``runs/NAME/last.pt`` every ``--ckpt-every`` steps and resumes from it when
started again with the same name; the batches of step k depend only on (seed, k, rank), so an
interrupted run continues with the same result. Logs to ``runs/NAME/log.csv`` (loss, learning
rate, validation PSNR of the EMA weights: ``--val``, for new runs the held-out
``training/splits/val20.txt``; the older runs logged Set5). Several processes: ``torchrun --nproc-per-node 2
-m srcnn.training.train ...`` (gloo on CPU, NCCL on GPUs).
"""
from __future__ import annotations

import argparse
import copy
import csv
import functools
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from srcnn.protocol import list_images, load_uint8, prepare, score
from .data import PairBank, default_dataset_root
from .model import SRCNN, SRCNNConfig, revive_dead_units


def parse_args(argv=None) -> argparse.Namespace:
    p = build_parser()
    args = p.parse_args(argv)
    if args.regrow and not args.revive:
        p.error("--regrow works with --revive (and --init); add --revive")
    return args


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="build.py train", description=__doc__.splitlines()[0])
    p.add_argument("--name", required=True, help="run name; files go to --runs/NAME")
    p.add_argument("--runs", default="runs")
    p.add_argument("--scales", default="3", help="comma-separated; several = one multi-scale model")
    p.add_argument("--filters", default="9-5-5", help="f1-f2-f3")
    p.add_argument("--n1", type=int, default=64)
    p.add_argument("--n2", type=int, default=32)
    p.add_argument("--n3", type=int, default=16, help="third hidden layer of a four-layer --filters (9-1-1-5)")
    p.add_argument("--residual", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--colour", choices=["y", "ycbcr", "rgb"], default="y",
                   help="y: the paper's Y-only network; ycbcr / rgb: 3-channel networks (its Table 5)")
    p.add_argument("--loss-channels", default=None,
                   help="comma-separated channel indices in the loss, e.g. 0 for 'Y pre-train', 1,2 for "
                        "'CbCr pre-train' (then fine-tune on all with --init); default all")
    p.add_argument("--stride", type=int, default=None,
                   help="take patches from the paper's fixed grid of sub-images with this stride (14) "
                        "instead of random positions")
    p.add_argument("--no-augment", dest="augment", action="store_false", help="no flips / rotations")
    p.add_argument("--data", default=None,
                   help="comma-separated image folders, absolute or relative to the dataset root "
                        "(default: T91,BSD200_train; the 491-image set: T91,BSD200_train,BSDS500_test)")
    p.add_argument("--holdout", default=None,
                   help="a list file (one path per line, relative to the dataset root) of images "
                        "kept out of training, e.g. training/splits/val20.txt")
    p.add_argument("--val", default=None,
                   help="validation folder or list file (default: Set5, kept for the older runs; "
                        "new runs validate on training/splits/val20.txt, held out of the training data)")
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--batch", type=int, default=24)
    p.add_argument("--patch", type=int, default=64, help="input patch side (the paper: 33)")
    p.add_argument("--optimizer", choices=["adam", "sgd"], default="adam",
                   help="sgd = the paper's: momentum 0.9, --lr for layers 1-2, lr/10 for layer 3")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-min", type=float, default=1e-6)
    p.add_argument("--schedule", choices=["cosine", "constant"], default="cosine")
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--init", default=None, help="start from this checkpoint's weights (e.g. another scale)")
    p.add_argument("--paper-init", action="store_true", help="Gaussian std 0.001 init, zero biases")
    p.add_argument("--regrow", default=None,
                   help="with --revive: also start afresh this many live units per hidden layer "
                        "(comma-separated, e.g. 8,4), those carrying the least of the function")
    p.add_argument("--loss", choices=["mse", "l1", "logmse"], default="mse",
                   help="mse: the paper's; l1: mean absolute error; logmse: the mean over patches of "
                        "log(MSE of the patch), the per-image mean PSNR that the tables report")
    p.add_argument("--revive", action="store_true",
                   help="with --init: give hidden units that never fire on a calibration batch new "
                        "incoming weights (outgoing 0, so step 0 computes the same function)")
    p.add_argument("--ema", type=float, default=0.999, help="EMA decay of the weights that are validated and exported")
    p.add_argument("--swa-start", type=int, default=None,
                   help="from this step on, the validated and exported weights are the plain mean of "
                        "the weights after every step (stochastic weight averaging; use with "
                        "--schedule constant) instead of the EMA")
    p.add_argument("--val-every", type=int, default=1000)
    p.add_argument("--ckpt-every", type=int, default=250)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--hr-scales", default="1",
                   help="comma-separated factors; <1 adds training images shrunk by MATLAB bicubic "
                        "(e.g. 1,0.9,0.8,0.7,0.6)")
    p.add_argument("--sampler", choices=["auto", "loop", "gather"], default="auto",
                   help="patch cutting: loop (numpy, per patch) or gather (one indexed gather on the "
                        "device); auto = gather on CUDA, loop on CPU")
    p.add_argument("--amp", choices=["none", "bf16"], default="none",
                   help="bf16 autocast for the forward/backward pass (weights, loss and EMA stay fp32)")
    p.add_argument("--deadline", type=float, default=None,
                   help="unix time by which the run must end: after --calib-steps the step count is "
                        "fixed from the measured speed (then the cosine schedule is the usual one over "
                        "that many steps; the count is recorded in args.json / the checkpoint)")
    p.add_argument("--calib-steps", type=int, default=300)
    p.add_argument("--pad-borders", action="store_true",
                   help="cut input patches from the image replicate-padded by the receptive-field "
                        "radius, as the core runs it, so border pixels are trained as they are run")
    p.add_argument("--degrade", action="store_true",
                   help="photo models: degrade every patch on the fly as a user's file is (random "
                        "resampler, blur, noise, JPEG; training/degrade.py) and validate on the mean "
                        "PSNR over training.degrade.VAL_SPECS (Y networks only)")
    p.add_argument("--data-workers", type=int, default=0,
                   help="processes that cut (and with --degrade, degrade) the batches of the next steps "
                        "ahead of the training loop (the same batches as without: each depends on "
                        "(seed, step, rank) only); for GPUs, where the CPU pipeline is the bottleneck")
    p.add_argument("--mix", default=None,
                   help="with --degrade: fields of training.degrade.Mix to change, e.g. clean=0.35,jpeg=0.5")
    p.add_argument("--barrier", default=None,
                   help="DIR,N: wait (up to 90 s) until N runs have their data ready before timing "
                        "steps, so runs sharing one GPU calibrate under the same load")
    return p


def resolve(root: str, path: str) -> str:
    """A dataset path as given, or relative to the dataset root when it does not exist as given."""
    return path if os.path.exists(path) else os.path.join(root, path)


def read_list(root: str, list_file: str) -> list:
    """The image paths named in a list file (one per line, '#' comments, relative to ``root``)."""
    from pathlib import Path
    with open(list_file) as f:
        names = [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    paths = [Path(resolve(root, n)) for n in names]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{list_file}: {len(missing)} listed images not found, e.g. {missing[0]}")
    return paths


def image_paths(root: str, spec: str) -> list:
    """A folder's images, or a list file's."""
    if spec.endswith(".txt"):
        return read_list(root, spec)
    return list_images(resolve(root, spec))


def load_embedded(model: SRCNN, state: dict) -> None:
    """Load ``state`` into ``model``; a smaller kernel goes into the centre of a larger one.

    With zeros around it a k x k kernel computes the same as inside a larger odd kernel, so a
    9-1-5 network starts a 9-3-5 or 9-5-5 one at exactly its own function (same n1/n2 needed).
    """
    own = model.state_dict()
    first = next(k for k in own if k.endswith(".weight"))
    if own[first].shape[1] == 3 and state[first].shape[1] == 1:
        from .model import rgb_from_y
        state = rgb_from_y(state, model.cfg)  # a Y model starts an RGB one at its own function
    for k, v in state.items():
        t = own[k]
        if t.shape == v.shape:
            t.copy_(v)
            continue
        if t.ndim != 4 or t.shape[:2] != v.shape[:2] or any((a - b) % 2 or a < b for a, b in zip(t.shape[2:], v.shape[2:])):
            raise ValueError(f"--init: {k} has shape {tuple(v.shape)}, cannot start {tuple(t.shape)} from it")
        t.zero_()
        dh, dw = (t.shape[2] - v.shape[2]) // 2, (t.shape[3] - v.shape[3]) // 2
        t[:, :, dh:dh + v.shape[2], dw:dw + v.shape[3]] = v
    model.load_state_dict(own)


def lr_at(args, step: int) -> float:
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    if args.schedule == "constant":
        return args.lr
    t = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr_min + 0.5 * (args.lr - args.lr_min) * (1 + math.cos(math.pi * min(1.0, t)))


def make_optimizer(args, model: SRCNN) -> torch.optim.Optimizer:
    if args.optimizer == "sgd":
        convs = model.convs
        groups = [{"params": [p for c in convs[:-1] for p in c.parameters()], "lr_mult": 1.0},
                  {"params": list(convs[-1].parameters()), "lr_mult": 0.1}]
        return torch.optim.SGD(groups, lr=args.lr, momentum=0.9)
    return torch.optim.Adam([{"params": model.parameters(), "lr_mult": 1.0}], lr=args.lr)


@torch.no_grad()
def validate(model: SRCNN, samples, scale: int, device, colour: str = "y") -> float:
    """Mean PSNR of the protocol (replicate borders, as at test time): on Y for a Y network.

    ``samples`` holds (protocol sample, uint8 image) pairs; 3-channel networks get the whole
    bicubic-upsampled image and are scored on the image PSNR of the paper's Table 5
    (``srcnn.evaluate.colour_scores``: the mean of the Y, Cb and Cr MSE).
    """
    from srcnn.colour import _OFFSET, _T
    from srcnn.protocol import degrade, modcrop
    from .data import to_colour

    model.eval()
    r = model.cfg.shrink
    vals = []
    for s, img in samples:
        if colour == "y":
            x = torch.from_numpy(s.y_bicubic.astype(np.float32))[None, None]
        else:
            lr_in = degrade(to_colour(modcrop(img, scale), colour), scale)
            x = torch.from_numpy(np.moveaxis(lr_in, 2, 0).astype(np.float32))[None]
        y = model(F.pad(x.to(device), (r, r, r, r), mode="replicate"))[0].double().cpu().numpy()
        if colour == "y":
            vals.append(score(s, y[0], scale, with_ssim=False)["psnr"])
            continue
        # 3-channel networks: the image PSNR of the paper's Table 5 (mean of the Y, Cb, Cr MSE)
        from srcnn.evaluate import colour_scores
        rgb = np.moveaxis(y, 0, 2) if colour == "rgb" else \
            (np.moveaxis(y, 0, 2) * 255.0 - _OFFSET) @ np.linalg.inv(_T).T
        vals.append(colour_scores(modcrop(img if img.ndim == 3 else np.dstack([img] * 3), scale), rgb,
                                  scale)["psnr"])
    model.train()
    return float(np.mean(vals))


@torch.no_grad()
def validate_degraded(model: SRCNN, sets: dict, scale: int, device) -> tuple[float, dict]:
    """Mean Y PSNR over the degradations of ``sets`` ({spec: [(HR Y uint8, bicubic Y)]}), and each."""
    from srcnn.colour import from_float
    from srcnn.metrics import psnr
    model.eval()
    r = model.cfg.shrink
    each = {}
    for spec, rows in sets.items():
        vals = []
        for y_hr, y_in in rows:
            x = torch.from_numpy(y_in.astype(np.float32))[None, None].to(device)
            y = model(F.pad(x, (r, r, r, r), mode="replicate"))[0, 0].double().cpu().numpy()
            vals.append(psnr(y_hr.astype(np.float64), from_float(y, np.uint8).astype(np.float64), border=scale))
        each[spec] = float(np.mean(vals))
    model.train()
    return float(np.mean(list(each.values()))), each


def run_validation(args, model, samples, scale: int, device, out: str, step: int) -> float:
    """The run's validation PSNR; degraded runs also append each spec's to ``out/val.jsonl``."""
    if not args.degrade:
        return validate(model, samples, scale, device, args.colour)
    v, each = validate_degraded(model, samples, scale, device)
    with open(os.path.join(out, "val.jsonl"), "a") as f:
        f.write(json.dumps({"step": step, "scale": scale, "mean": round(v, 4),
                            **{k: round(e, 4) for k, e in each.items()}}) + "\n")
    print(f"{args.name} step {step} x{scale} " + " ".join(f"{k} {e:.3f}" for k, e in each.items()), flush=True)
    return v


def parse_mix(spec: str | None):
    """'clean=0.35,q_min=40' -> training.degrade.Mix with those fields changed."""
    from dataclasses import fields, replace
    from .degrade import Mix
    if not spec:
        return Mix()
    types = {f.name: f.type for f in fields(Mix)}
    kw = {}
    for part in spec.split(","):
        k, _, v = part.partition("=")
        if k not in types:
            raise SystemExit(f"--mix: unknown field {k!r}; fields: {', '.join(types)}")
        kw[k] = int(v) if types[k] in (int, "int") else float(v)
    return replace(Mix(), **kw)


def gather_wanted(args, device) -> bool:
    return args.sampler == "gather" or (args.sampler == "auto" and device.type == "cuda" and not args.degrade)


def save_atomic(obj, path: str) -> None:
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def main(argv=None) -> int:
    args = parse_args(argv)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    if distributed:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    else:
        rank, world = 0, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    fs = [int(v) for v in args.filters.split("-")]
    if len(fs) not in (3, 4):
        raise SystemExit(f"--filters: three or four sizes (9-5-5, 9-1-1-5), got {args.filters}")
    four = dict(f4=fs[3], n3=args.n3) if len(fs) == 4 else {}
    cfg = SRCNNConfig(f1=fs[0], f2=fs[1], f3=fs[2], n1=args.n1, n2=args.n2, residual=args.residual,
                      channels=1 if args.colour == "y" else 3, **four)
    scales = [int(s) for s in args.scales.split(",")]
    root = default_dataset_root()
    data = [resolve(root, d) for d in args.data.split(",")] if args.data else \
        [os.path.join(root, "T91"), os.path.join(root, "BSD200_train")]
    holdout = read_list(root, args.holdout) if args.holdout else []
    val_paths = image_paths(root, args.val or "Set5")
    out = os.path.join(args.runs, args.name)
    os.makedirs(out, exist_ok=True)
    ckpt_path = os.path.join(out, "last.pt")

    model = SRCNN(cfg)
    if args.paper_init:
        model.init_paper()
    if args.init and not os.path.exists(ckpt_path):
        src = torch.load(args.init, map_location="cpu", weights_only=False)
        load_embedded(model, src["ema"])
    model.to(device)
    model = model.to(memory_format=torch.channels_last)
    ema = copy.deepcopy(model)
    opt = make_optimizer(args, model)
    step = 0
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        step = ck["step"]
        if ck["args"].get("deadline") and step >= ck["args"]["calib_steps"]:
            args.steps = ck["args"]["steps"]  # a calibrated run keeps the step count it fixed
        if rank == 0:
            print(f"resuming {args.name} at step {step}", flush=True)
    if step >= args.steps:
        if rank == 0:
            print(f"{args.name}: already complete ({step} steps)", flush=True)
            _mark_done(out, step)
        return 0
    ddp = torch.nn.parallel.DistributedDataParallel(model) if distributed else model

    t0 = time.time()
    hr_scales = tuple(float(f) for f in args.hr_scales.split(","))
    if args.degrade:
        from .degrade import DegradeBank
        if args.colour != "y" or gather_wanted(args, device):
            raise SystemExit("--degrade: Y networks with the loop sampler only")
        make_bank = functools.partial(DegradeBank, data, scales, exclude=holdout, min_size=args.patch + 8 * max(scales),
                                      hr_scales=hr_scales, mix=parse_mix(args.mix))
    else:
        make_bank = functools.partial(PairBank, data, scales, exclude=holdout, min_size=args.patch, colour=args.colour,
                                      stride=args.stride, hr_scales=hr_scales, pad=cfg.shrink if args.pad_borders else 0)
    bank = make_bank()
    gather = gather_wanted(args, device)
    prefetch = None
    if args.data_workers and not gather:
        from .data import Prefetcher
        prefetch = Prefetcher(make_bank, args.data_workers, lambda k: (
            (args.seed, k, rank), scales[k % len(scales)], args.batch, args.patch, cfg.shrink, args.augment))
    if gather:
        from .data import GatherSampler
        samplers = {s: GatherSampler(bank, s, device) for s in scales}
    if args.revive and step == 0:
        # Dead ReLU units (never > 0) are lost capacity; revived on 256 patches of the first scale.
        crng = np.random.default_rng([args.seed, 1 << 20])
        cx, _ = bank.batch(crng, scales[0], 256, args.patch, cfg.shrink, args.augment)
        gen = torch.Generator().manual_seed(args.seed)
        model.cpu()
        regrow = tuple(int(v) for v in args.regrow.split(",")) if args.regrow else ()
        n = revive_dead_units(model, torch.from_numpy(cx), gen, regrow=regrow)
        model.to(device)
        ema.load_state_dict(model.state_dict())
        if rank == 0:
            print(f"{args.name}: revived {n} dead units per hidden layer", flush=True)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp == "bf16")
    if args.degrade:
        from .degrade import val_samples
        val_sets = {s: val_samples(val_paths, s) for s in scales}
    else:
        val_sets = {s: [(prepare(p.stem, load_uint8(p), s), load_uint8(p)) for p in val_paths]
                    for s in scales}
    loss_mask = None
    if args.loss_channels:
        loss_mask = torch.zeros(1, cfg.channels, 1, 1, device=device)
        loss_mask[0, [int(c) for c in args.loss_channels.split(",")]] = 1.0
    if rank == 0:
        print(f"{args.name}: {bank.n_images} training images x{len(hr_scales)} sizes, scales {scales}, {cfg.name} "
              f"n1={cfg.n1} n2={cfg.n2} residual={cfg.residual}, data ready in {time.time() - t0:.0f}s",
              flush=True)
        with open(os.path.join(out, "args.json"), "w") as f:
            json.dump({"args": vars(args), "config": cfg.to_dict(), "world_size": world,
                       "device": device.type}, f, indent=1)
    log_path = os.path.join(out, "log.csv")
    new_log = not os.path.exists(log_path)
    log = open(log_path, "a", newline="") if rank == 0 else None
    writer = csv.writer(log) if log else None
    if writer and new_log:
        writer.writerow(["step", "scale", "lr", "loss", "val_psnr", "seconds"])

    if args.barrier:
        _barrier(args.barrier, args.name)
    if rank == 0 and step == 0 and args.init:
        # Where the started-from weights stand on this run's validation set: the row to beat.
        for s in scales:
            v = run_validation(args, ema, val_sets[s], s, device, out, 0)
            writer.writerow([0, s, "0", "", f"{v:.3f}", "0"])
            print(f"{args.name} step 0 (--init) x{s} val {v:.3f} dB", flush=True)
        log.flush()
    calibrating = bool(args.deadline) and step < args.calib_steps
    calib_from, t_calib = step + 20, None
    calib_to = max(args.calib_steps, calib_from + 50)
    run_loss, run_n, t_last = 0.0, 0, time.time()
    while step < args.steps:
        if calibrating and step == calib_from:
            _sync(device)
            t_calib = time.time()
        if calibrating and step == calib_to:
            _sync(device)
            rate = (step - calib_from) / (time.time() - t_calib)
            left = args.deadline - time.time()
            args.steps = max(step + 100, step + int(rate * left * 0.9) // 100 * 100)
            calibrating = False
            if rank == 0:
                print(f"{args.name}: {rate:.1f} steps/s, {left:.0f}s left -> {args.steps} steps", flush=True)
                with open(os.path.join(out, "args.json"), "w") as f:
                    json.dump({"args": vars(args), "config": cfg.to_dict(), "world_size": world,
                       "device": device.type}, f, indent=1)
        if args.deadline and time.time() > args.deadline + 30:
            if rank == 0:
                print(f"{args.name}: past the deadline at step {step}; stopping (not done)", flush=True)
                save_atomic({"step": step, "model": model.state_dict(), "ema": ema.state_dict(),
                             "opt": opt.state_dict(), "config": cfg.to_dict(), "scales": scales,
                             "args": vars(args)}, ckpt_path)
            return 0
        scale = scales[step % len(scales)]
        rng = np.random.default_rng([args.seed, step, rank])
        if gather:
            x, y = samplers[scale].batch(rng, args.batch, args.patch, cfg.shrink, args.augment)
        else:
            if prefetch:
                x, y = prefetch.get(step)
            else:
                x, y = bank.batch(rng, scale, args.batch, args.patch, cfg.shrink, args.augment)
            x = torch.from_numpy(x).to(device)
            y = torch.from_numpy(y).to(device)
        x = x.contiguous(memory_format=torch.channels_last)
        lr = lr_at(args, step)
        for g in opt.param_groups:
            g["lr"] = lr * g["lr_mult"]
        with autocast:
            pred = ddp(x)
        pred = pred.float()
        if loss_mask is None:
            loss = patch_loss(pred, y, args.loss)
        else:
            loss = (((pred - y) ** 2) * loss_mask).mean() * cfg.channels / loss_mask.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            if args.swa_start is not None and step >= args.swa_start:
                d = (step - args.swa_start) / (step - args.swa_start + 1)  # running plain mean
            else:
                d = min(args.ema, (1 + step) / (10 + step))
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(d).add_(pm.detach(), alpha=1 - d)
        step += 1
        run_loss += loss.detach()
        run_n += 1
        last = step == args.steps
        if rank == 0 and (step % args.val_every == 0 or last):
            for s in scales:
                v = run_validation(args, ema, val_sets[s], s, device, out, step)
                mean_loss = float(run_loss) / max(run_n, 1)
                writer.writerow([step, s, f"{lr:.3e}", f"{mean_loss:.6e}", f"{v:.3f}",
                                 f"{time.time() - t_last:.1f}"])
                print(f"{args.name} step {step} x{s} loss {mean_loss:.3e} "
                      f"lr {lr:.2e} val {v:.3f} dB", flush=True)
            log.flush()
            run_loss, run_n, t_last = 0.0, 0, time.time()
        if rank == 0 and (step % args.ckpt_every == 0 or last):
            save_atomic({"step": step, "model": model.state_dict(), "ema": ema.state_dict(),
                         "opt": opt.state_dict(), "config": cfg.to_dict(), "scales": scales,
                         "args": vars(args)}, ckpt_path)
    if rank == 0:
        _mark_done(out, step)
    if distributed:
        dist.barrier()
        dist.destroy_process_group()
    return 0


# logmse: the log of each patch's MSE plus this floor (a 60 dB patch), so flat patches cannot
# dominate; scaled by the batch's mean MSE so its gradient is on MSE's scale (the same lr works).
LOGMSE_FLOOR = 1e-6


def patch_loss(pred: torch.Tensor, y: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "l1":
        return (pred - y).abs().mean()
    if kind == "logmse":
        m = ((pred - y) ** 2).mean((1, 2, 3))
        return torch.log(m + LOGMSE_FLOOR).mean() * (m.mean().detach() + LOGMSE_FLOOR)
    return F.mse_loss(pred, y)


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _barrier(spec: str, name: str, timeout: float = 90.0) -> None:
    """Mark this run ready in DIR and wait until N runs are (``--barrier DIR,N``)."""
    folder, n = spec.rsplit(",", 1)
    os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, name), "w").close()
    t0 = time.time()
    while len(os.listdir(folder)) < int(n) and time.time() - t0 < timeout:
        time.sleep(0.5)


def _mark_done(out: str, step: int) -> None:
    """``runs/NAME/done`` tells recipes that wait on this run that it is complete."""
    with open(os.path.join(out, "done"), "w") as f:
        f.write(f"{step}\n")


if __name__ == "__main__":
    sys.exit(main())
