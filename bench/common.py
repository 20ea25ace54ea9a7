"""What every benchmark script shares: markdown tables, printing, best-of-N timing, and the
machine it runs on (CPU, ISA, versions, load, and its float32 matrix-multiply peak)."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from srcnn.runtime import usable_cores


def md_table(head, rows) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def say(text=""):
    print(text, flush=True)


def best_of(fn, reps: int, settle: float = 0.5) -> float:
    """Best wall time of ``reps`` calls after a warm-up, one engine at a time.

    Engines are not interleaved: a thread pool (onnxruntime's, OpenCV's, torch's OpenMP) keeps
    spinning for a while after its call and would slow whichever engine ran next (measured:
    the tiled fast CNN 204-235 GFLOP/s right after the one-call one, 269-316 on its own).
    ``settle`` seconds of sleep after the engine let its threads go idle.
    """
    fn()
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    time.sleep(settle)
    return best


def machine_info() -> dict:
    import importlib.metadata as md

    cpu, flags = platform.processor() or "?", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    vers = {}
    for pkg in ("numpy", "onnxruntime", "opencv-contrib-python-headless", "opencv-python", "torch", "pillow"):
        try:
            vers[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    mem = ""
    try:
        kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
        mem = f"{kb / 1024 ** 2:.0f} GiB"
    except (OSError, StopIteration):
        pass
    isa = [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile") if f in flags]
    return {"cpu": cpu, "cores": os.cpu_count(), "affinity": usable_cores(),
            "isa": " ".join(isa), "memory": mem, "python": platform.python_version(),
            "versions": vers, "load": os.getloadavg()}


def machine_kind(m: dict) -> str:
    """A short name for the machine kind in file names: e.g. 'avx512-vnni' or 'avx2'."""
    isa = m["isa"].split()
    return "avx512-vnni" if "avx512_vnni" in isa else "avx512" if "avx512f" in isa else "avx2" if "avx2" in isa else "other"


PEAK_CODE = r"""
import json, sys, time
import numpy as np
n, reps, threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
res = {}
rng = np.random.default_rng(0)
a = rng.random((n, n), dtype=np.float32); b = rng.random((n, n), dtype=np.float32)
a @ b
best = min((lambda t: (a @ b, time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(reps))
res["numpy"] = 2 * n ** 3 / best / 1e9
try:
    import torch
    torch.set_num_threads(threads)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    torch.mm(ta, tb)
    best = min((lambda t: (torch.mm(ta, tb), time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(reps))
    res["torch"] = 2 * n ** 3 / best / 1e9
except ImportError:
    pass
print(json.dumps(res))
"""


def measure_peak(threads: int, n: int, reps: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    r = subprocess.run([sys.executable, "-c", PEAK_CODE, str(n), str(reps), str(threads)], env=env,
                       capture_output=True, text=True, check=True)
    res = json.loads(r.stdout)
    res["peak"] = max(res.values())
    return res
