"""``python build.py reproduce RUN --out DIR``: train RUN again, with every stage that led to it.

Follows ``--init`` back from ``runs/RUN/args.json`` to the first stage and reruns each stage
with its recorded options into DIR (a stage's ``--init`` then points at DIR's copy of the stage
before it). Runs that fixed their step count from a time budget (``--deadline``) rerun with the
recorded count; the GPU stages' data, the 291 training images as Y-channel PNGs, is read from
the original folders (the same training pairs, listed in another order, so the batches differ:
GPU runs are not bit-exact anyway; CPU stages rerun bit-exactly, a test checks it). Stages
already complete in DIR are skipped, an interrupted one resumes. On a CUDA machine the stages
use the GPU, as they did there.

    python build.py reproduce x3_955h --out runs-rerun        # every stage of the shipped x3
    python build.py reproduce x3_955h --out runs-rerun --dry-run
    python build.py reproduce x3_915l --out runs --last       # continue an unfinished run in place

``--last`` reruns RUN's own stage only, starting from DIR's copy of the run before it if there
is one, else the recorded runs' (runs/ keeps the checkpoints of shipped and unfinished runs:
docs/training.md). A whole chain is never rerun into the recorded runs' own folder: its
finished stages have no checkpoints there and would train again over their records.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from .export import lineage
from .train import build_parser
from .train import main as train_main

DROP = {"deadline", "barrier", "runs", "init", "device"}
# Folders only used to carry the data to a GPU machine (make_y_folder.py): same pairs as the default.
CARRIED = {".devdata/train_y", ".devdata/Set5"}


def stage_argv(args: dict, out: Path, init: str | None) -> list[str]:
    """The command line that reruns a recorded stage (``args`` from its args.json) into ``out``."""
    argv = ["--runs", str(out)]
    if init:
        argv += ["--init", str(out / init / "last.pt")]
    for action in build_parser()._actions:
        key = action.dest
        if key in DROP or key not in args or not action.option_strings:
            continue
        value = args[key]
        if key in ("data", "val") and value in CARRIED:
            continue
        opt = action.option_strings[0]
        if isinstance(action, argparse.BooleanOptionalAction):
            argv.append(opt if value else "--no-" + opt[2:])
        elif isinstance(action, argparse._StoreTrueAction):
            if value:
                argv.append(opt)
        elif isinstance(action, argparse._StoreFalseAction):
            if not value:
                argv.append(opt)
        elif value is not None:
            argv += [opt, str(value)]
    return argv


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="build.py reproduce", description=__doc__.splitlines()[0])
    p.add_argument("run", help="the run to reproduce, e.g. x3_955h")
    p.add_argument("--runs", default="runs", help="where the recorded runs are")
    p.add_argument("--out", required=True, help="folder for the rerun stages")
    p.add_argument("--dry-run", action="store_true", help="print the commands only")
    p.add_argument("--last", action="store_true", help="RUN's own stage only (e.g. to continue it in --runs)")
    a = p.parse_args(argv)
    runs, out = Path(a.runs), Path(a.out)
    if out.resolve() == runs.resolve() and not a.last:
        print(f"build.py reproduce: --out {a.out} is the recorded runs' folder: give another, or --last",
              file=sys.stderr)
        return 2
    chain = lineage(runs, a.run)
    prev = None
    if a.last:
        chain, prev = chain[-1:], (chain[-2]["run"] if len(chain) > 1 else None)
    for stage in chain:
        rec = json.loads((runs / stage["run"] / "args.json").read_text())["args"]
        cmd = stage_argv(rec, out, prev)
        if prev and not (out / prev / "last.pt").exists():  # --last: the run before is in runs/ only
            cmd[cmd.index("--init") + 1] = str(runs / prev / "last.pt")
        print("python build.py train " + shlex.join(cmd), flush=True)
        if not a.dry_run:
            code = train_main(cmd)
            if code:
                return code
        prev = stage["run"]
    return 0


if __name__ == "__main__":
    sys.exit(main())
