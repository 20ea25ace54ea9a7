"""``srcnn-cli``: upscale images, evaluate models, run the demo.

    srcnn-cli IN OUT [--scale 3] [--model 9-5-5]      (the same as `srcnn-cli upscale ...`)
    srcnn-cli eval DIR --scale 3 [--json]
    srcnn-cli models
    srcnn-cli demo [OUTDIR]

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
@click.option("--scale", "-s", type=click.IntRange(2, 8), required=True, help="Downscaling factor of the protocol.")
@click.option("--model", "-m", default="9-5-5", show_default=True,
              help="Shipped variant, a weight file, or 'none' for bicubic only.")
@click.option("--engine", type=click.Choice(["onnxruntime", "opencv"]), default="onnxruntime", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--no-ssim", is_flag=True, help="PSNR only (faster).")
def eval_cmd(folder, scale, model, engine, as_json, no_ssim):
    """Bicubic and SRCNN PSNR/SSIM on Y for every image in FOLDER (the paper's protocol)."""
    from .evaluate import evaluate, format_table
    from .runtime import ModelError, load_model, resolve_model

    net = None
    if model.lower() != "none":
        try:
            info = resolve_model(model, scale)
            if info.scale != scale:
                raise UserError(f"model {info.name} is trained for x{info.scale}, not x{scale}; "
                                f"evaluation needs a model of the same scale")
            net = load_model(info, engine)
        except ModelError as e:
            raise UserError(str(e)) from None
    try:
        res = evaluate(folder, scale, net, with_ssim=not no_ssim,
                       progress=_progress_bar("evaluating", not as_json and sys.stderr.isatty()))
    except (ValueError, OSError) as e:
        raise UserError(str(e)) from None
    click.echo(json.dumps(res, indent=2) if as_json else format_table(res))


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
    click.echo(f"{'variant':8} {'scale':>5} {'params':>7} {'Set5 PSNR':>10} {'Set14 PSNR':>10}  file")
    for m in ms:
        met = m.raw.get("metrics", {})
        def pick(ds):
            v = met.get(ds, {}).get("srcnn", {}).get("psnr")
            return f"{v:.2f}" if v is not None else "-"
        click.echo(f"{m.variant:8} {'x' + str(m.scale):>5} {m.raw['architecture']['parameters']:>7} "
                   f"{pick('Set5'):>10} {pick('Set14'):>10}  {m.onnx_path.name}")


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
