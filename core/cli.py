"""``srcnn-cli``: upscale images, evaluate models, run the demo.

    srcnn-cli IN OUT [--scale 3] [--model 9-5-5]      (the same as `srcnn-cli upscale ...`)
    srcnn-cli eval DIR --scale 3 [--json]
    srcnn-cli models
    srcnn-cli demo [OUTDIR]
    srcnn-cli install-gimp-plugin [--gimp-version 3|2.10] [--dest DIR]

Errors are one line on stderr and a non-zero exit; tracebacks only with SRCNN_DEBUG=1.
"""
from __future__ import annotations

import json
import os
import sys

import click

from . import __version__


class UserError(click.ClickException):
    """A problem with the user's input: printed as one line, exit code 1."""

    def show(self, file=None):
        click.echo(f"srcnn-cli: error: {self.format_message()}", err=True)


class DefaultGroup(click.Group):
    """A group whose first positional argument, if not a command, means `upscale`."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["upscale"] + list(args)
        return super().parse_args(ctx, args)


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="srcnn-cli")
def main():
    """Image super-resolution with SRCNN (Dong et al., TPAMI 2016).

    \b
    srcnn-cli in.png out.png --scale 3     upscale one image
    srcnn-cli eval FOLDER --scale 3        the paper's PSNR/SSIM protocol
    srcnn-cli models                       list the shipped models
    srcnn-cli demo [OUTDIR]                built-in example
    srcnn-cli install-gimp-plugin          GIMP: Filters > Enhance > SRCNN...
    """


def _progress_bar(label: str, enabled: bool):
    """A click progress bar driven by (done, total) callbacks; a no-op when disabled."""
    state = {"bar": None, "done": 0}

    def cb(done, total):
        if not enabled:
            return
        if state["bar"] is None:
            state["bar"] = click.progressbar(length=total, label=label, file=sys.stderr)
            state["bar"].__enter__()
        state["bar"].update(done - state["done"])
        state["done"] = done
        if done >= total:
            state["bar"].__exit__(None, None, None)
            state["bar"] = None
            state["done"] = 0
    return cb


@main.command("eval")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--scale", "-s", type=click.FloatRange(1, 16, min_open=True), required=True,
              help="Downscaling factor of the protocol; a factor without its own model is scored "
                   "through the plan `srcnn-cli` runs for it (e.g. 2.5: x3, then bicubic down).")
@click.option("--model", "-m", default="9-5-5", show_default=True,
              help="Shipped variant, a weight file, or 'none' for bicubic only.")
@click.option("--engine", type=click.Choice(["onnxruntime", "opencv"]), default="onnxruntime", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--no-ssim", is_flag=True, help="PSNR only (faster).")
@click.option("--int8", is_flag=True, help="The network as `srcnn-cli --int8` runs it (9-5-5 models).")
@click.option("--ensemble", is_flag=True, help="The best-quality mode, as `srcnn-cli --ensemble` runs it.")
@click.option("--passes", type=click.Choice(["2", "4", "8"]), default=None,
              help="Symmetries the ensemble averages (default: what --ensemble runs).")
@click.option("--channels", type=click.Choice(["y", "rgb"]), default="y", show_default=True,
              help="y: PSNR/SSIM on Y (the paper's Tables 2-3); rgb: the colour pipeline, PSNR of Y, Cb, "
                   "Cr and of the image as the paper's Table 5 (mean of the three channels' MSE).")
@click.option("--degrade", "degrade_spec", default=None, metavar="SPEC",
              help="Make each LR as a user's file instead of the paper's float LR: a downscaler "
                   "(matlab, pillow-bicubic, pillow-lanczos, bilinear, area) and steps (jpeg:Q, "
                   "noise:SIGMA), comma-separated, e.g. 'jpeg:75' or 'area,noise:3'; rounded to 8 bits. "
                   "Scores the model as `srcnn-cli` runs it and bicubic on the same LR (PSNR on Y).")
def eval_cmd(folder, scale, model, engine, as_json, no_ssim, int8, ensemble, passes, channels, degrade_spec):
    """Bicubic and SRCNN PSNR/SSIM on Y for every image in FOLDER (the paper's protocol)."""
    from .ensemble import passes_of
    from .evaluate import evaluate, format_table
    from .runtime import ModelError, load_model, resolve_model

    n = passes_of(int(passes) if passes else ensemble)
    if passes and not ensemble:
        raise UserError("--passes goes with --ensemble")
    if degrade_spec is not None:
        return _eval_degraded(folder, scale, model, engine, as_json, int8, n, channels, degrade_spec)

    net = None
    if model.lower() != "none":
        try:
            info = resolve_model(model, scale)
            if info.scale != scale:
                if int8:
                    raise UserError(f"--int8: eval runs it at a trained factor (x{info.scale}), not x{scale:g}")
                if engine != "onnxruntime":
                    load_model(info, engine)  # the engine must load the file
                net = model
            elif int8:
                from .quant import Int8Model

                if engine != "onnxruntime":
                    raise UserError("--int8 runs on onnxruntime: drop --engine opencv")
                net = Int8Model(info)
            else:
                net = load_model(info, engine)
        except ModelError as e:
            raise UserError(f"--int8: {e}" if int8 else str(e)) from None
    try:
        res = evaluate(folder, int(scale) if float(scale).is_integer() else scale, net,
                       with_ssim=not no_ssim, engine=engine, ensemble=n, channels=channels,
                       progress=_progress_bar("evaluating", not as_json and sys.stderr.isatty()))
    except (ValueError, OSError) as e:
        raise UserError(str(e)) from None
    click.echo(json.dumps(res, indent=2) if as_json else format_table(res))


def _eval_degraded(folder, scale, model, engine, as_json, int8, n, channels, spec):
    from .degrade import parse
    from .evaluate import evaluate_degraded, format_table
    from .runtime import ModelError, resolve_model

    try:
        parse(spec)
    except ValueError as e:
        raise UserError(str(e)) from None
    if not float(scale).is_integer():
        raise UserError(f"--degrade needs a whole factor (2, 3, 4, ...), got {scale:g}")
    m = None if model.lower() == "none" else model
    try:
        if m is not None:
            resolve_model(m, scale)
        res = evaluate_degraded(folder, int(scale), m, spec, engine=engine, ensemble=n, int8=int8,
                                channels=channels,
                                progress=_progress_bar("evaluating", not as_json and sys.stderr.isatty()))
    except ModelError as e:
        raise UserError(str(e)) from None
    except (ValueError, OSError) as e:
        raise UserError(str(e)) from None
    if as_json:
        click.echo(json.dumps(res, indent=2))
    else:
        click.echo(format_table(res).replace("\n", f"  degrade {res['degrade']}\n", 1))


@main.command("models")
@click.option("--json", "as_json", is_flag=True)
def models_cmd(as_json):
    """List the shipped models with scale, size and measured PSNR."""
    from .runtime import available_models

    ms = available_models()
    if as_json:
        click.echo(json.dumps([m.raw for m in ms], indent=2))
        return
    if not ms:
        click.echo("no models shipped in this installation")
        return
    from .quant import int8_act_bits, int8_metrics, int8_scales

    click.echo(f"{'variant':8} {'scale':>5} {'params':>7} {'Set5 PSNR':>10} {'Set14 PSNR':>10} "
               f"{'--ensemble (Set5/Set14)':>24} {'--int8 (Set5/Set14 dB)':>23}  file")
    for m in ms:
        met = m.raw.get("metrics", {})
        def pick(ds, key="srcnn"):
            v = met.get(ds, {}).get(key, {}).get("psnr")
            return f"{v:.2f}" if v is not None else "-"
        e = f"{pick('Set5', 'ensemble')} / {pick('Set14', 'ensemble')}"
        q = "-"
        if int8_scales(m) is not None:
            d = int8_metrics(m)
            q = " / ".join(f"{-d[ds]['drop_db']:+.3f}" if ds in d else "?" for ds in ("Set5", "Set14"))
        click.echo(f"{m.variant:8} {'x' + str(m.scale):>5} {m.raw['architecture']['parameters']:>7} "
                   f"{pick('Set5'):>10} {pick('Set14'):>10} {e:>24} {q:>23}  {m.onnx_path.name}")
    from .pipeline import plan_of

    for variant in sorted({m.variant for m in ms}):
        try:
            plans = ", ".join(f"x{s:g} = {plan_of(s, variant).describe()}" for s in (1.5, 2.5, 5, 6, 8))
        except Exception:  # a variant name that is not a shipped one (a test's weights folder)
            continue
        click.echo(f"{variant}: other factors in plans of its trained ones, e.g. {plans}")
    from .quant import int8_cpu_problem

    problem = int8_cpu_problem()
    click.echo(f"--int8 here: {problem}" if problem else
               "--int8 here: 8-bit activations (this CPU has VNNI)" if int8_act_bits() == 8 else
               "--int8 here: 7-bit activations (AVX2 without VNNI; the column is their check)")


def _collect_inputs(inputs, recursive: bool):
    """Expand files, folders and glob patterns into (path, relative output stem) pairs."""
    import glob
    from pathlib import Path

    from .imageio import FORMATS

    out = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            pattern = "**/*" if recursive else "*"
            for f in sorted(p.glob(pattern)):
                if f.is_file() and f.suffix.lower() in FORMATS and not f.name.startswith("."):
                    out.append((f, f.relative_to(p).with_suffix("")))
        elif p.exists():
            out.append((p, Path(p.stem)))
        elif any(c in item for c in "*?["):
            matches = sorted(glob.glob(item, recursive=recursive))
            if not matches:
                raise UserError(f"no files match {item}")
            out += [(Path(m), Path(Path(m).stem)) for m in matches if Path(m).is_file()]
        else:
            raise UserError(f"{item}: no such file or folder")
    return out


class _Stdin(bytes):
    """The image bytes read from stdin, named as messages call them."""
    name = "<stdin>"

    def __str__(self):
        return self.name


class _Stdout:
    """Stdout, for the encoded image alone.

    Until ``close``, file descriptor 1 points at stderr, so that nothing printed by this
    process or a library it loads (onnxruntime, OpenCV) can end up inside the image.
    """

    def __init__(self):
        sys.stdout.flush()
        try:
            self._fd = sys.stdout.fileno()
        except (AttributeError, OSError, ValueError):  # not a real file (click's test runner)
            self._fd, self._saved, self._file = None, None, sys.stdout.buffer
            return
        self._saved = os.dup(self._fd)
        os.dup2(sys.stderr.fileno(), self._fd)
        self._file = os.fdopen(self._saved, "wb", closefd=False)

    def write(self, data: bytes):
        try:
            self._file.write(data)
            self._file.flush()
        except OSError as e:  # e.g. a closed pipe: `srcnn-cli - - < a.png | head -c 10`
            raise OSError(f"<stdout>: cannot write the image ({e.strerror or e})") from None

    def flush(self):
        pass

    def close(self):
        if self._saved is not None:
            sys.stdout.flush()
            os.dup2(self._saved, self._fd)
            os.close(self._saved)
            self._saved = None

    def __str__(self):
        return "<stdout>"


def _stdio_paths(inputs: list, output: str):
    """(source, destination) for `-` as the input and/or the output: stdin's bytes / stdout."""
    from pathlib import Path

    if len(inputs) > 1 or (inputs[0] != "-" and (Path(inputs[0]).is_dir() or any(c in inputs[0] for c in "*?["))) \
            or (output != "-" and Path(output).is_dir()):
        raise UserError("'-' (stdin / stdout) takes a single image, not a batch")
    if inputs[0] == "-":
        if sys.stdin.isatty():
            raise UserError("no image on stdin: it is a terminal (pipe or redirect an image into srcnn-cli -)")
        src = _Stdin(sys.stdin.buffer.read())
        if not src:
            raise UserError("<stdin>: empty input, no image")
    else:
        src = Path(inputs[0])
        if not src.exists():
            raise UserError(f"{src}: no such file or folder")
    if output != "-":
        return src, Path(output)
    if sys.stdout.isatty():
        raise UserError("refusing to write image data to a terminal: redirect stdout or give an output file")
    dst = _Stdout()
    click.get_current_context().call_on_close(dst.close)
    return src, dst


@main.command("upscale")
@click.argument("paths", nargs=-1, required=True, metavar="INPUT... OUTPUT")
@click.option("--scale", "-s", type=float, default=3.0, show_default=True,
              help="Upscaling factor >= 1 (up to 16): 2, 3 and 4 have their own models; any other runs "
                   "them in a plan (x1.5: x2 then bicubic down; x6: x2 then x3). See `srcnn-cli models`.")
@click.option("--width", "-W", type=click.IntRange(1, None), default=None,
              help="Output width in pixels instead of --scale (height by aspect ratio).")
@click.option("--height", "-H", type=click.IntRange(1, None), default=None,
              help="Output height in pixels; with --width: the largest size that fits inside both, "
                   "aspect ratio kept.")
@click.option("--model", "-m", default="auto", show_default=True,
              help="auto: photo for JPEG inputs below quality 88 (read from the file), 9-5-5 for the rest; 9-5-5 (best on "
                   "clean pictures), photo (JPEG, noisy or unknown-resampler pictures), 9-3-5, 9-1-5 (fast), "
                   "9-5-5-rgb (the colour network), or a path to a weight file (.onnx with its .json). "
                   "`srcnn-cli models` lists them.")
@click.option("--engine", type=click.Choice(["onnxruntime", "opencv"]), default="onnxruntime", show_default=True)
@click.option("--tile", type=click.IntRange(16, 8192), default=512, show_default=True,
              help="Tile side in output pixels (bounds memory; the result does not depend on it).")
@click.option("--threads", type=click.IntRange(1, 256), default=None, help="CPU threads (default: all).")
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@click.option("--skip-existing", is_flag=True, help="In batches, skip inputs whose output exists.")
@click.option("--recursive", "-r", is_flag=True, help="Descend into sub-folders of input folders.")
@click.option("--name", "pattern", default="{stem}_x{scale}{ext}", show_default=True,
              help="Output file name in batch mode; fields {stem} {scale} {ext}.")
@click.option("--format", "out_ext", type=click.Choice(["png", "jpg", "bmp", "tif", "webp"]), default=None,
              help="Output format in batch mode and on stdout (default: same as each input).")
@click.option("--quality", type=click.IntRange(1, 100), default=95, show_default=True, help="JPEG/WebP quality.")
@click.option("--png-level", type=click.IntRange(0, 9), default=1, show_default=True,
              help="PNG zlib level: 1 is fast (OpenCV's default), 9 the smallest files.")
@click.option("--max-pixels", type=click.IntRange(1, None), default=None,
              help="Refuse outputs larger than this many pixels. Default: PNG and TIFF files are written "
                   "strip by strip as computed, any size (inputs up to 400 MP); JPEG, WebP, BMP and stdout "
                   "are encoded in memory, up to 400 MP or what half this machine's memory holds.")
@click.option("--fast/--reference", default=True,
              help="--fast (default): one onnxruntime graph per tile (integer scales), about 2x faster; "
                   "--reference: the reference pipeline, stage by stage. Within one grey level of each other.")
@click.option("--ensemble", is_flag=True,
              help="Best quality: the network on the 8 rotations/flips of the picture, averaged "
                   "(about 8x the network's time; +0.1-0.15 dB on Set5/Set14, `srcnn-cli models`).")
@click.option("--passes", type=click.Choice(["2", "4", "8"]), default=None,
              help="With --ensemble: average this many symmetries instead (faster, less gain).")
@click.option("--int8", is_flag=True,
              help="9-5-5: the middle layer in int8, about 1.7x faster again; Set5/Set14 PSNR within 0.02 dB.")
@click.option("--region", default=None, metavar="X,Y,W,H",
              help="Compute and write only this part of the result (output pixels; a preview): "
                   "exactly what the whole run gives there.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or notes.")
def upscale_cmd(paths, scale, width, height, model, engine, tile, threads, overwrite, skip_existing, recursive,
                pattern, out_ext, quality, png_level, max_pixels, ensemble, passes, fast, int8, region, quiet):
    """Upscale INPUT (files, folders or globs) into OUTPUT (a file, or a folder for batches).

    \b
    srcnn-cli photo.jpg photo_x3.jpg
    srcnn-cli photo.png big.png --scale 2 --model 9-1-5
    srcnn-cli scans/ out/ --recursive --scale 2 --skip-existing
    srcnn-cli - - < in.png > out.png       (stdin to stdout)
    """
    from pathlib import Path

    from .imageio import FORMATS, ImageError, upscale_file
    from .pipeline import plan_of
    from .runtime import ModelError, models_by_scale, resolve_model

    if len(paths) < 2:
        raise UserError("give an input and an output (srcnn-cli IN OUT)")
    if not (scale >= 1 and scale <= 16):
        raise UserError(f"--scale must be between 1 and 16, got {scale:g}")
    *inputs, output = paths
    sized = width is not None or height is not None
    if region is not None:
        try:
            region = tuple(int(v) for v in region.split(","))
            if len(region) != 4 or min(region) < 0 or min(region[2:]) < 1:
                raise ValueError
        except ValueError:
            raise UserError(f"--region takes X,Y,W,H (whole numbers, W and H >= 1), got {region!r}") from None
    if passes and not ensemble:
        raise UserError("--passes goes with --ensemble")
    n_passes = int(passes) if passes else (True if ensemble else 1)
    auto = model == "auto"
    if auto:
        from .runtime import DEFAULT_VARIANT
        model = DEFAULT_VARIANT  # what the messages below name; JPEG inputs may get the photo model
    try:
        info = resolve_model(model, scale)
        stage_models = models_by_scale(model)
        p = plan_of(scale, model)
    except ModelError as e:
        raise UserError(str(e)) from None
    if int8:
        from .quant import require_int8

        if not fast or engine != "onnxruntime":
            raise UserError("--int8 runs on the fast path: drop --reference / --engine opencv")
        try:
            for k in (sorted(stage_models) if sized else p.stages):
                require_int8(stage_models[k])
        except ModelError as e:
            raise UserError(f"--int8: {e}") from None
    scale_txt = f"{scale:g}" if not sized else (f"{width}x{height}" if width and height else
                                                 f"{width}w" if width else f"{height}h")
    if not quiet:
        if sized:
            size = " x ".join(f"{n} px {what}" for n, what in ((width, "wide"), (height, "high")) if n)
            click.echo(f"srcnn-cli: to {size} with {info.variant} (trained for "
                       f"x{', x'.join(map(str, sorted(stage_models)))}; other factors in a plan)", err=True)
        elif p.direct:
            click.echo(f"srcnn-cli: x{scale_txt} with {info.name} ({info.variant}, trained for x{info.scale})", err=True)
        else:
            click.echo(f"srcnn-cli: x{scale_txt} with {info.variant}: {p.describe()}", err=True)
    stdio = _stdio_paths(inputs, output) if "-" in inputs or output == "-" else None
    items = [(stdio[0], None)] if stdio else _collect_inputs(inputs, recursive)
    out = stdio[1] if stdio else Path(output)
    batch = not stdio and (len(inputs) > 1 or Path(inputs[0]).is_dir() or any(c in inputs[0] for c in "*?[")
                           or out.is_dir())
    if not items:
        raise UserError("no input images found")
    jobs = []
    if batch:
        if out.exists() and not out.is_dir():
            raise UserError(f"{out}: for several inputs the output must be a folder")
        for src, rel in items:
            ext = "." + out_ext if out_ext else src.suffix.lower()
            try:
                name = pattern.format(stem=rel.name, scale=scale_txt, ext=ext)
            except (KeyError, IndexError, ValueError) as e:
                raise UserError(f"bad --name pattern {pattern!r}: {e}") from None
            jobs.append((src, out / rel.parent / name))
    else:
        jobs.append((items[0][0], out))
    tty = sys.stderr.isatty() and not quiet
    failures = 0
    done = 0
    file_bar = click.progressbar(length=len(jobs), label="upscaling", file=sys.stderr) if batch and tty else None
    if file_bar:
        file_bar.__enter__()
    for src, dst in jobs:
        if batch and dst.exists() and skip_existing:
            if file_bar:
                file_bar.update(1)
            continue
        try:
            if batch:
                dst.parent.mkdir(parents=True, exist_ok=True)
            notes = upscale_file(src, dst, scale=scale, width=width, height=height, model="auto" if auto else model,
                                 engine=engine,
                                 tile=tile, threads=threads, overwrite=overwrite, quality=quality,
                                 max_pixels=max_pixels, fast=fast, png_level=png_level, int8=int8,
                                 ensemble=n_passes, region=region,
                                 fmt=FORMATS["." + out_ext] if out_ext and stdio else None,
                                 progress=None if batch else _progress_bar(src.name, tty))
            done += 1
            if not quiet:
                for n in notes:
                    click.echo(f"srcnn-cli: note: {dst}: {n}", err=True)
        except (ImageError, ValueError, ModelError, OSError) as e:
            failures += 1
            if not batch:
                raise UserError(str(e)) from None
            click.echo(f"\nsrcnn-cli: error: {src}: {e}" if file_bar else f"srcnn-cli: error: {src}: {e}", err=True)
        if file_bar:
            file_bar.update(1)
    if file_bar:
        file_bar.__exit__(None, None, None)
    if batch and not quiet:
        skipped = len(jobs) - done - failures
        click.echo(f"srcnn-cli: {done} written, {skipped} skipped, {failures} failed", err=True)
    if failures:
        sys.exit(1)


@main.command("demo")
@click.argument("outdir", default="srcnn-demo", type=click.Path(file_okay=False))
@click.option("--scale", "-s", type=click.IntRange(2, 4), default=3, show_default=True)
@click.option("--model", "-m", default="9-5-5", show_default=True)
def demo_cmd(outdir, scale, model):
    """Built-in example: make a test picture, shrink it, enlarge it with bicubic and SRCNN.

    Writes original/input/bicubic/srcnn PNGs and comparison.png (side by side, with PSNR)
    into OUTDIR (default ./srcnn-demo).
    """
    from .demo import run_demo
    from .imageio import ImageError
    from .runtime import ModelError

    try:
        res = run_demo(outdir, scale, model)
    except (ModelError, ImageError, OSError) as e:
        raise UserError(str(e)) from None
    click.echo(f"x{scale} on a synthetic test picture (PSNR on Y, paper protocol):")
    click.echo(f"  bicubic  {res['bicubic']:.2f} dB")
    click.echo(f"  SRCNN    {res['srcnn']:.2f} dB  (+{res['srcnn'] - res['bicubic']:.2f} dB)")
    click.echo(f"wrote {outdir}/comparison.png (and original, input, bicubic, srcnn .png)")


@main.command("install-gimp-plugin")
@click.option("--gimp-version", type=click.Choice(["3", "2.10"]), default="3", show_default=True,
              help="GIMP 3 (Python 3 plug-in) or GIMP 2.10 (Python-Fu, runs srcnn-cli).")
@click.option("--dest", type=click.Path(file_okay=False), default=None,
              help="GIMP plug-ins folder to install into (default: the user's, for this OS).")
def install_gimp_plugin_cmd(gimp_version, dest):
    """Install the GIMP plug-in (Filters > Enhance > SRCNN...) for this Python environment."""
    from .gimp.install import install_gimp_plugin

    try:
        path = install_gimp_plugin(gimp_version, dest)
    except (OSError, ValueError) as e:
        raise UserError(str(e)) from None
    click.echo(f"installed {path}")
    click.echo("restart GIMP, then open an image: Filters > Enhance > SRCNN...")


def run():
    """Entry point with one-line errors (tracebacks only with SRCNN_DEBUG=1)."""
    try:
        main(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("srcnn-cli: interrupted", err=True)
        sys.exit(130)
    except Exception as e:  # last resort: never a traceback for the user
        if os.environ.get("SRCNN_DEBUG"):
            raise
        click.echo(f"srcnn-cli: error: {type(e).__name__}: {e}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    run()
