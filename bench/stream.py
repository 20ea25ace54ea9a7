"""Peak memory of large outputs: `srcnn-cli IN OUT` streamed to PNG / TIFF against the in-memory path.

Each case runs `srcnn-cli` in a fresh process and reads its peak RSS from the kernel (wait4's
ru_maxrss), so nothing of this script counts. The input is a synthetic photo (bench/e2e.py's)
sized for the asked output, cached in --workdir. Prints a markdown table (and --json).

    python bench/stream.py                                   # 25 and 100 MP, x4, 9-1-5, PNG
    python bench/stream.py --sizes 1000 --formats tif       # the issue's 1 gigapixel (7,906^2 x4)
    python bench/stream.py --sizes 25,100 --in-memory       # also today's in-memory path (PNG to stdout)

The 1 GP case takes hours on 2 cores (9-1-5 computes about 2-3 MP of output a second per core).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def square_input(workdir: Path, out_mp: float, scale: int) -> Path:
    """A square PNG whose x``scale`` output has about ``out_mp`` megapixels."""
    side = int(round((out_mp * 1e6) ** 0.5 / scale))
    path = workdir / f"stream_{side}x{side}.png"
    if not path.exists():
        from e2e import make_image
        from srcnn.png import encode_png

        workdir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(encode_png(make_image(side, side)))
        tmp.replace(path)
    return path


def run_case(src: Path, dst: str, args, stdout=None) -> tuple[float, int, int]:
    """(seconds, peak RSS in bytes, exit status) of one srcnn-cli run."""
    cmd = [sys.executable, "-m", "srcnn.cli", str(src), dst, "--scale", str(args.scale), "--model", args.model,
           "--quiet", "--overwrite"] + (["--threads", str(args.threads)] if args.threads else [])
    if dst == "-":
        cmd.insert(-1, "--max-pixels")
        cmd.insert(-1, str(10**10))
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=stdout or subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - t, ru.ru_maxrss * 1024, p.returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="25,100", help="output megapixels, comma-separated (1000 = the issue's case)")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--model", default="9-1-5")
    ap.add_argument("--formats", default="png", help="png, tif or both (png,tif)")
    ap.add_argument("--in-memory", action="store_true", help="also the in-memory path (PNG to stdout)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "srcnn-bench")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    rows = []
    for mp in (float(s) for s in args.sizes.split(",")):
        src = square_input(args.workdir, mp, args.scale)
        from PIL import Image
        with Image.open(src) as im:
            w, h = im.size
        ow, oh = w * args.scale, h * args.scale
        cases = [(f, str(args.workdir / f"stream_out.{f}")) for f in args.formats.split(",")]
        if args.in_memory:
            cases.append(("png in memory (stdout)", "-"))
        for what, dst in cases:
            sec, rss, rc = run_case(src, dst, args)
            size = Path(dst).stat().st_size if dst != "-" and rc == 0 else None
            rows.append(dict(input=f"{w}x{h}", output=f"{ow}x{oh}", output_mp=round(ow * oh / 1e6, 1), path=what,
                             seconds=round(sec, 1), peak_rss_mib=round(rss / 2**20), file_mib=size and round(size / 2**20),
                             exit=rc))
            print(rows[-1], file=sys.stderr, flush=True)
            if dst != "-" and Path(dst).exists():
                Path(dst).unlink()
    import srcnn
    machine = dict(cpu=platform.processor() or platform.machine(), cores=os.cpu_count(), python=platform.python_version(),
                   srcnn=srcnn.__version__, model=args.model, scale=args.scale, threads=args.threads,
                   date=time.strftime("%Y-%m-%d"))
    try:
        from common import machine_info
        machine.update(cpu=machine_info().get("cpu", machine["cpu"]))
    except Exception:  # the table is useful without the CPU's name
        pass
    keys = ["input", "output", "output_mp", "path", "seconds", "peak_rss_mib", "file_mib", "exit"]
    print(f"srcnn-cli x{args.scale} --model {args.model}, {machine['cpu']}, {machine['cores']} cores, {machine['date']}\n")
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(str(r[k]) for k in keys) + " |")
    if args.json:
        args.json.write_text(json.dumps(dict(machine=machine, rows=rows), indent=1) + "\n")


if __name__ == "__main__":
    main()
