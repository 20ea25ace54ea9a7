"""``python build.py prune``: delete the checkpoints runs/ does not keep (docs/training.md).

Every run keeps ``args.json`` and ``log.csv``; its checkpoint ``last.pt`` only when the run is
shipped (a manifest in ``weights/`` names it) or unfinished (no ``done``: it resumes, or a next
stage continues it). Any other checkpoint is made again by ``python build.py reproduce``.

    python build.py prune --dry-run     # list what would go
    python build.py prune               # delete it
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def shipped_runs(weights: Path) -> set[str]:
    """The training runs the manifests in ``weights`` were exported from."""
    runs = set()
    for p in weights.glob("*.json"):
        run = json.loads(p.read_text()).get("training", {}).get("run")
        if run:
            runs.add(run)
    return runs


def keeps_checkpoint(run_dir: Path, shipped: set[str]) -> bool:
    return run_dir.name in shipped or not (run_dir / "done").exists()


def prunable(runs: Path, weights: Path) -> list[Path]:
    """The checkpoints under ``runs`` that the rule above does not keep."""
    shipped = shipped_runs(weights)
    return [ck for ck in sorted(runs.glob("*/last.pt")) if not keeps_checkpoint(ck.parent, shipped)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="build.py prune", description=__doc__.splitlines()[0])
    p.add_argument("--runs", default="runs")
    p.add_argument("--weights", default="weights", help="the manifests that name the shipped runs")
    p.add_argument("--dry-run", action="store_true", help="list the checkpoints, delete nothing")
    a = p.parse_args(argv)
    gone = prunable(Path(a.runs), Path(a.weights))
    size = sum(ck.stat().st_size for ck in gone)
    for ck in gone:
        print(ck)
        if not a.dry_run:
            ck.unlink()
    print(f"{'would delete' if a.dry_run else 'deleted'} {len(gone)} checkpoints, {size / 2 ** 20:.1f} MB",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
