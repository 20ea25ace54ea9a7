"""``python build.py docs``: the measured tables in README.md and docs/*.md, from their one source.

A table of measurements sits between two markers in a Markdown page::

    <!-- begin generated: models (python build.py docs) -->
    | model | ...
    <!-- end generated: models -->

and is written by the function of that name in ``BLOCKS`` from where the numbers come from: the
weights' manifests (``weights/*.json``, written by ``build.py weights`` and ``build.py int8``) or a
benchmark's JSON (``docs/*.json``, written by ``bench/*.py --json``). Nothing between markers is
edited by hand; ``--check`` writes nothing and exits 1 when a page differs from what would be
written (``tests/test_docs.py``). Another table is one function ``(Sources) -> str`` added to
``BLOCKS`` and its two markers in a page. Reads JSON only: no torch, no datasets.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

# The paper's numbers (FACTS section 2 and 7), Set5 / Set14, by (variant, scale); the issue's
# musts are these + 0.05 dB for 9-5-5 and these for the fast variants.
PAPER = {
    ("9-5-5", 2): (36.66, 32.45), ("9-5-5", 3): (32.75, 29.30), ("9-5-5", 4): (30.49, 27.50),
    ("9-1-5", 2): (36.34, 32.18), ("9-1-5", 3): (32.39, 29.00), ("9-1-5", 4): (30.09, 27.20),
    ("9-3-5", 3): (32.66, None),
}
# The benchmark run the README quotes (bench/run.py --json); docs/benchmarks.md has every run.
SPEED_JSON = "bench_avx2.json"
PAGES = ("README.md", "docs/*.md")
BLOCK = re.compile(r"(<!-- begin generated: ([\w-]+) \(python build\.py docs\) -->\n)(.*?)(<!-- end generated: \2 -->)",
                   re.S)


@dataclass
class Sources:
    """Where the numbers are: the manifests in ``weights`` and the benchmark JSON in ``docs``."""
    weights: Path = Path("weights")
    docs: Path = Path("docs")
    _json: dict = field(default_factory=dict, repr=False)

    @cached_property
    def manifests(self) -> list[dict]:
        """Every manifest with Set5 and Set14 metrics, by file name."""
        ms = [json.loads(p.read_text()) for p in sorted(self.weights.glob("*.json"))]
        return [m for m in ms if {"Set5", "Set14"} <= set(m.get("metrics", {}))]

    def bench(self, name: str) -> dict | None:
        if name not in self._json:
            p = self.docs / name
            self._json[name] = json.loads(p.read_text()) if p.is_file() else None
        return self._json[name]


def md_table(head: list[str], rows: list[list]) -> str:
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
                     + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows])


def _psnr(m: dict, ds: str, kind: str = "srcnn") -> float | None:
    return m["metrics"][ds].get(kind, {}).get("psnr")


def _pair(a: float | None, b: float | None, fmt: str = ".2f") -> str:
    return " / ".join("-" if v is None else format(v, fmt) for v in (a, b))


def _paper(m: dict) -> tuple | None:
    return None if m["variant"].endswith("-rgb") else PAPER.get((m["variant"], m["scale"]))


# ---------------------------------------------------------------- speed (benchmark JSON)
def _e2e(bench: dict) -> dict[tuple, dict]:
    """bench/run.py's end-to-end cases by (MP, variant, path, threads, extras): its keys are
    those tuples joined by spaces."""
    out = {}
    for key, res in bench.get("e2e", {}).items():
        mp, variant, path, threads, *extra = key.split(" ", 4)
        out[(float(mp), variant, path, int(threads), extra[0] if extra else "")] = res
    return out


def _case(bench: dict, variant: str, path: str = "fast", extra: str = "") -> dict | None:
    """The largest end-to-end case of ``variant`` (~12 MP) at the run's thread count."""
    cases = _e2e(bench)
    threads = max((k[3] for k in cases), default=0)
    found = [(k[0], v) for k, v in cases.items()
             if k[1:] == (variant, path, threads, extra) and k[0] < 50]  # not the ~100 MP memory case
    return max(found, key=lambda kv: kv[0])[1] if found else None


def _total(res: dict) -> float:
    return res["decode"] + res["upscale"] + res["encode"]


def _int8_extra(bench: dict, variant: str) -> str:
    keys = sorted({k[4] for k in _e2e(bench) if k[1] == variant and k[4].startswith("('int8'")})
    return keys[-1] if keys else ""


def _machine(bench: dict) -> str:
    m = bench["machine"]
    when = f", {m['date']}" if m.get("date") else ""
    return f"{m['cpu']}, {m['cores']} cores ({m['isa'] or 'no AVX2'}){when}"


# ---------------------------------------------------------------- the blocks
def models(src: Sources) -> str:
    """README: every shipped model against the paper and bicubic, with its speed."""
    bench = src.bench(SPEED_JSON)
    rows = []
    for m in src.manifests:
        paper = _paper(m)
        case = _case(bench, m["variant"]) if bench else None
        rows.append([f"`{m['variant']}` x{m['scale']}", _pair(_psnr(m, "Set5"), _psnr(m, "Set14")),
                     _pair(*paper) if paper else "-",
                     _pair(_psnr(m, "Set5", "bicubic"), _psnr(m, "Set14", "bicubic")),
                     _pair(_psnr(m, "Set5", "ensemble"), _psnr(m, "Set14", "ensemble")),
                     f"{case['mp'] / _total(case):.1f}" if case else "-"])
    speed = f"MP/s ({_machine(bench)})" if bench else "MP/s"
    return md_table(["model", "Set5 / Set14 PSNR (dB)", "paper", "bicubic", "`--ensemble`", speed], rows)


def models_full(src: Sources) -> str:
    """docs/models.md: PSNR / SSIM, the paper, the ensemble, bicubic, the validation split, the run."""
    rows = []
    for m in src.manifests:
        met, paper = m["metrics"], _paper(m)
        cell = lambda ds: f"{_psnr(m, ds):.2f}" + (  # noqa: E731
            f" / {met[ds]['srcnn']['ssim']:.4f}" if met[ds]["srcnn"].get("ssim") is not None else "")
        diff = " / ".join("-" if p is None else f"{_psnr(m, ds) - p:+.3f}"
                          for ds, p in zip(("Set5", "Set14"), paper)) if paper else "-"
        val = m.get("validation", {}).get("srcnn_psnr")
        run = m["training"]["run"]
        rows.append([f"{m['variant']} x{m['scale']}", cell("Set5"), cell("Set14"), _pair(*paper) if paper else "-",
                     diff, _pair(_psnr(m, "Set5", "ensemble"), _psnr(m, "Set14", "ensemble")),
                     _pair(_psnr(m, "Set5", "bicubic"), _psnr(m, "Set14", "bicubic")),
                     ("-" if val is None else f"{val:.3f}") + (" (image)" if m["variant"].endswith("-rgb") else ""),
                     f"`{run}`", f"`python build.py reproduce {run} --out runs-rerun`"])
    return md_table(["model", "Set5 PSNR / SSIM", "Set14 PSNR / SSIM", "paper Set5 / Set14", "ours - paper",
                     "--ensemble Set5 / Set14", "bicubic Set5 / Set14", "val20", "run", "reproduce"], rows)


def colour(src: Sources) -> str:
    """docs/models.md: the paper's Table 5 image PSNR of every model (``--channels rgb``)."""
    rows = []
    for m in src.manifests:
        c5, c14 = m["metrics"]["Set5"].get("colour"), m["metrics"]["Set14"].get("colour")
        if c5 and c14:
            rows.append([f"{m['variant']} x{m['scale']}", _pair(c5["srcnn"]["psnr"], c14["srcnn"]["psnr"]),
                         _pair(c5["bicubic"]["psnr"], c14["bicubic"]["psnr"])])
    return md_table(["model", "image PSNR Set5 / Set14", "bicubic Set5 / Set14"], rows)


def int8(src: Sources) -> str:
    """docs/models.md: the int8 path against float32 per model and activation width (manifests'
    ``int8`` sections, ``build.py int8``)."""
    rows = []
    for m in src.manifests:
        sec = m.get("int8")
        if not isinstance(sec, dict):
            continue
        for bits, part in ((8, sec), (7, sec.get("act7"))):
            if not part or "metrics" not in part:
                continue
            d = part["metrics"]
            rows.append([f"{m['variant']} x{m['scale']}", bits,
                         " / ".join(f"{-d[ds]['drop_db']:+.4f}" if ds in d else "-" for ds in ("Set5", "Set14")),
                         "admitted" if part.get("accepted") else "refused"])
    return md_table(["model", "activation bits", "Set5 / Set14 dB against float32", "`--int8`"], rows)


def speed(src: Sources) -> str:
    """README: a ~12 MP x3 output, PNG file to PNG file, per model and path (bench/run.py --json)."""
    bench = src.bench(SPEED_JSON)
    if not bench:
        return f"(no docs/{SPEED_JSON}: `python bench/run.py --json docs/{SPEED_JSON}` writes it)"
    int8_case = _int8_extra(bench, "9-5-5")
    cases = [("9-1-5", "9-1-5", "fast", ""), ("9-3-5", "9-3-5", "fast", ""), ("9-5-5", "9-5-5", "fast", ""),
             ("9-5-5 `--int8`", "9-5-5", "fast", int8_case), ("9-5-5 `--reference`", "9-5-5", "reference", "")]
    rows = []
    for label, variant, path, extra in cases:
        res = _case(bench, variant, path, extra)
        if res and not (label.endswith("`--int8`") and not extra):
            rows.append([label, f"{_total(res):.2f}", f"{res['mp'] / _total(res):.2f}",
                         f"{100 * res['cnn'] / _total(res):.0f} %", f"{res.get('vmhwm_mb', res['ru_maxrss_mb']):.0f}"])
    t = bench.get("targets", {}).get("file to file", {})
    peak = max(v["peak"] for v in bench["peak"].values())
    line = (f"The 9-5-5 network runs at {t['cnn_peak']:.2f}x the CPU's float32 matrix-multiply peak "
            f"({peak:.0f} GFLOP/s); {max(int(k) for k in bench['peak'])} threads are {t['threads']:.2f}x one; "
            f"a ~100 MP output peaks at {t['rss_100']:.2f} GB of memory.") if {"cnn_peak", "threads", "rss_100"} <= set(t) \
        else ""
    case = _case(bench, "9-5-5")
    return (f"~{case['mp']:.0f} MP x3 output, PNG file to PNG file, on {_machine(bench)}:\n\n"
            + md_table(["model", "seconds", "MP/s", "network share", "peak memory MB"], rows)
            + ("\n\n" + line if line else ""))


def realworld(src: Sources) -> str:
    """README: gain over bicubic on LR made as users' files are (docs/realworld.json, written by
    ``python bench/realworld.py`` and ``build.py weights``): 9-5-5 / photo, Set14 and val20."""
    data = src.bench("realworld.json")
    if not data or not data.get("rows"):
        return "(not measured yet: `python bench/realworld.py` will write docs/realworld.json)"
    from .realworld import SPECS
    at = {(r["variant"], r["set"], r["scale"], r["spec"]): r["gain"] for r in data["rows"]}
    cols = [(k, s) for k in (2, 3, 4) for s in ("Set14", "val20")
            if any((v, s, k, sp) in at for v in ("9-5-5", "photo") for sp in SPECS)]
    variants = [v for v in ("9-5-5", "photo") if any(c[0] == v for c in at)]

    def cell(k, s, spec):
        vals = [at.get((v, s, k, spec)) for v in variants]
        return " / ".join("-" if g is None else f"{g:+.2f}" for g in vals)
    rows = [[f"`{spec}`"] + [cell(k, s, spec) for k, s in cols] for spec in SPECS
            if any(at.get((v, s, k, spec)) is not None for v in variants for k, s in cols)]
    return ("Gain in dB over bicubic of the same picture, " + " / ".join(f"`{v}`" for v in variants)
            + " (PSNR on Y; `srcnn-cli eval DIR --scale S --degrade SPEC`; all models and Set5: "
            "[docs/realworld.md](docs/realworld.md)):\n\n"
            + md_table(["LR made by"] + [f"x{k} {s}" for k, s in cols], rows))


BLOCKS = {"models": models, "models-full": models_full, "colour": colour, "int8": int8, "speed": speed,
          "realworld": realworld}


def render(text: str, src: Sources) -> str:
    """``text`` with every generated block written anew; an unknown block name is an error."""
    def block(m: re.Match) -> str:
        name = m.group(2)
        if name not in BLOCKS:
            raise KeyError(f"generated block {name!r}: no such table (known: {', '.join(BLOCKS)})")
        return m.group(1) + BLOCKS[name](src).rstrip("\n") + "\n" + m.group(4)
    return BLOCK.sub(block, text)


def pages(root: Path = Path(".")) -> list[Path]:
    return [p for pattern in PAGES for p in sorted(root.glob(pattern))]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="build.py docs", description=__doc__.splitlines()[0])
    p.add_argument("--weights", default="weights", help="the manifests (default: weights/)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if a page would change")
    a = p.parse_args(argv)
    src = Sources(Path(a.weights), Path("docs"))
    stale = []
    for page in pages():
        old = page.read_text(encoding="utf-8")
        new = render(old, src)
        if new != old:
            stale.append(str(page))
            if not a.check:
                page.write_text(new, encoding="utf-8")
    if a.check:
        if stale:
            print("out of date (run `python build.py docs`): " + ", ".join(stale), file=sys.stderr)
        return 1 if stale else 0
    print("wrote " + ", ".join(stale) if stale else "docs: every table current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
