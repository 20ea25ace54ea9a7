"""Make .devdata/: the training images for a lent GPU machine, small enough to carry (< 64 MiB).

    python training/recipes/devdata.py            # then: run(carry=[".devdata"], ...) -- see docs/training.md

T91 as PNG, BSD200_train as lossless WebP (the same pixels, about 40 % smaller), BSDS500_test as
its own JPEG files (val20 names them). Prints the total size.
"""
import os
import shutil
import sys
from pathlib import Path

from PIL import Image

src = Path(os.environ.get("SRCNN_DATASETS", Path(__file__).resolve().parents[2].parent / "shared" / "datasets"))
out = Path(".devdata")
for name, fmt in (("T91", "PNG"), ("BSD200_train", "WEBP"), ("BSDS500_test", None)):
    d = out / name
    d.mkdir(parents=True, exist_ok=True)
    for p in sorted((src / name).iterdir()):
        if fmt is None:
            shutil.copy(p, d / p.name)
            continue
        q = d / (p.stem + (".png" if fmt == "PNG" else ".webp"))
        if not q.exists():
            with Image.open(p) as im:
                im.save(q, fmt, **({"optimize": True} if fmt == "PNG" else {"lossless": True, "method": 4}))
size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
print(f"{out}: {size / 2**20:.1f} MiB")
sys.exit(0 if size < 63 * 2**20 else 1)
