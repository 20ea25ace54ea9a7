"""Run a training stage: lanes of ``build.py train`` runs in the background, resumable.

A stage is data, a JSON file in ``training/recipes/`` (see ``photo.json``)::

    {"about": "what the stage is for",
     "common": ["--threads", "1", ...],              # arguments of every run
     "lanes": {"a": [{"name": "RUN", "args": [...], "after": "OTHER_RUN"}, ...], "b": [...]}}

Each lane runs its runs one after another, each ``--init`` from whatever its args say; ``after``
waits for another lane's run to finish (its ``runs/NAME/done``); ``minutes`` gives a run a time
budget (``--deadline`` from its start: after ``--calib-steps`` the step count is fixed to fit). ``build.py train`` resumes an
interrupted run from ``runs/NAME/last.pt`` and skips a finished one, so running the stage again
continues where it stopped. bf16 autocast where the CPU has bf16 units (AMX or AVX512-BF16),
float32 elsewhere (``AMP=none|bf16`` overrides).

    python -m srcnn.training.lanes training/recipes/photo.json           # all lanes, background, nice 10
    python -m srcnn.training.lanes training/recipes/photo.json --lane a  # one lane, foreground
    python -m srcnn.training.lanes training/recipes/photo.json --dry-run # print the commands
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def cpu_amp() -> str:
    if os.environ.get("AMP"):
        return os.environ["AMP"]
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return "none"
    return "bf16" if ("amx_bf16" in flags or "avx512_bf16" in flags) else "none"


def load(path: str) -> dict:
    with open(path) as f:
        stage = json.load(f)
    for lane, runs in stage["lanes"].items():
        for r in runs:
            if "name" not in r:
                raise ValueError(f"{path}: a run of lane {lane} has no name")
    return stage


def commands(stage: dict, lane: str, python: str = sys.executable) -> list[tuple[dict, list[str]]]:
    """The ``build.py train`` command line of every run of ``lane``."""
    amp = cpu_amp()
    out = []
    for r in stage["lanes"][lane]:
        cmd = [python, "build.py", "train", "--name", r["name"], *stage.get("common", []), *r.get("args", [])]
        if "--amp" not in cmd:
            cmd += ["--amp", amp]
        out.append((r, cmd))
    return out


def run_lane(stage: dict, lane: str, runs_dir: str = "runs") -> int:
    for r, cmd in commands(stage, lane):
        if r.get("after"):
            done = os.path.join(runs_dir, r["after"], "done")
            while not os.path.exists(done):
                time.sleep(30)
        if r.get("minutes"):  # a time budget: train.py fixes its step count to end by then
            cmd += ["--deadline", f"{time.time() + 60 * float(r['minutes']):.0f}"]
        print(f"[lane {lane}] {' '.join(cmd[1:])}", flush=True)
        rc = subprocess.call(cmd)
        if rc:
            print(f"[lane {lane}] {r['name']} exited {rc}; lane stops", flush=True)
            return rc
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m srcnn.training.lanes", description=__doc__.splitlines()[0])
    p.add_argument("recipe", help="a stage's JSON file, e.g. training/recipes/photo.json")
    p.add_argument("--lane", default=None, help="run this lane in the foreground (default: all, in the background)")
    p.add_argument("--dry-run", action="store_true", help="print each lane's commands")
    p.add_argument("--nice", type=int, default=10)
    args = p.parse_args(argv)
    stage = load(args.recipe)
    if args.dry_run:
        for lane in stage["lanes"]:
            for r, cmd in commands(stage, lane):
                after = f"  (after {r['after']})" if r.get("after") else ""
                print(f"{lane}: {' '.join(cmd[1:])}{after}")
        return 0
    if args.lane:
        return run_lane(stage, args.lane)
    os.makedirs("runs", exist_ok=True)
    tag = os.path.splitext(os.path.basename(args.recipe))[0]
    procs = []
    for lane in stage["lanes"]:
        log = open(os.path.join("runs", f"{tag}_{lane}.log"), "a")
        procs.append(subprocess.Popen(["nice", "-n", str(args.nice), sys.executable, "-m", "srcnn.training.lanes",
                                       args.recipe, "--lane", lane], stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True))
        print(f"lane {lane}: pid {procs[-1].pid}, log runs/{tag}_{lane}.log")
    return max(pr.wait() for pr in procs)


if __name__ == "__main__":
    sys.exit(main())
