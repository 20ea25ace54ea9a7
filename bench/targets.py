"""The issue's targets (bench/run.py's "Targets" table: must / aim, met or not, from the cases
already measured) and int8 against float32 (the same cases with ``--int8``)."""
from __future__ import annotations

from common import md_table
from e2e import total_s
from engines import FastTiles, int8_engine_name

TARGETS = [  # (key, what, must, aim, higher is better)
    ("cnn_peak", "9-5-5 CNN effective throughput / fp32 matmul peak", 0.60, 0.90, True),
    ("ratio_915", "9-1-5 end-to-end speed / 9-5-5 end-to-end speed", 4.0, 6.0, True),
    ("non_cnn", "everything but the CNN, share of end-to-end time at ~12 MP", 0.10, 0.05, False),
    ("rss_100", "peak RSS for a ~100 MP output (GB)", 1.5, 0.8, False),
    ("threads", "2 threads / 1 thread speed-up", 1.7, 1.9, True),
]


def targets(case, variants, cnn: dict, peak: float, big: dict | None, big_mp: float, threads: int,
            whatif) -> tuple[str, dict, dict]:
    """The targets table, and its values file to file and in the other ways of timing them."""
    def ratios(get):
        """The issue's ratios from one way of timing a case (get: case -> seconds)."""
        vals = {}
        if "9-1-5" in variants:
            vals["ratio_915"] = get(case(big_mp, "9-5-5", "fast", threads)) / get(case(big_mp, "9-1-5", "fast", threads))
        if threads > 1:
            vals["threads"] = get(case(big_mp, "9-5-5", "fast", 1)) / get(case(big_mp, "9-5-5", "fast", threads))
        return vals

    vals = {}
    # the CNN as srcnn.upscale(fast=True) runs it: tiles in parallel, one thread each
    fast_key = ("9-5-5", 3, FastTiles.name)
    if fast_key in cnn:
        vals["cnn_peak"] = cnn[fast_key] / peak
    vals.update(ratios(total_s))
    r = case(big_mp, "9-5-5", "fast", threads)
    vals["non_cnn"] = (total_s(r) - r["cnn"]) / total_s(r)
    if big:
        vals["rss_100"] = big.get("vmhwm_mb", big["ru_maxrss_mb"]) / 1024
    alt = {"upscale only": ratios(lambda x: x["upscale"])}
    alt["upscale only"]["non_cnn"] = (r["upscale"] - r["cnn"]) / r["upscale"]
    if big:
        alt["upscale only"]["rss_100"] = (big.get("rss_upscale_mb") or 0) / 1024
    for label, extra in whatif:
        a = {}
        w955 = case(big_mp, "9-5-5", "fast", threads, **extra)
        if "9-1-5" in variants:
            a["ratio_915"] = total_s(w955) / total_s(case(big_mp, "9-1-5", "fast", threads, **extra))
        a["non_cnn"] = (total_s(w955) - w955["cnn"]) / total_s(w955)
        alt[label] = a
    trows = []
    for key, what, must, aim, up in TARGETS:
        cells = []
        for d in [vals] + list(alt.values()):
            if key not in d:
                cells.append("-")
                continue
            v = d[key]
            ok = (lambda x: v >= x) if up else (lambda x: v <= x)
            cells.append(f"{v:.2f} " + ("aim met" if ok(aim) else "must met" if ok(must) else "**FAIL**"))
        trows.append([what, f"{'>=' if up else '<='} {must:g}", f"{'>=' if up else '<='} {aim:g}"] + cells)
    table = md_table(["what", "must", "aim", "file to file (PNG as srcnn writes it)"] + list(alt), trows)
    return table, vals, alt


def int8_table(case, models, int8_of: dict, cnn: dict, big_mp: float, threads: int, scale: int) -> str:
    """Per int8 model and activation width: the CNN's and the file-to-file speed-up, and the
    manifest's Set5 / Set14 drop against float32."""
    from srcnn.quant import MAX_DROP_DB, int8_metrics

    int8_variants = {v for v, w in int8_of.items() if w}
    qrows = []
    infos = {i.variant: i for i in models if i.scale == scale}
    for v in sorted(int8_variants, key=lambda v: v != "9-5-5"):
        r32 = case(big_mp, v, "fast", threads)
        g32 = cnn.get((v, 3, FastTiles.name))
        for b in int8_of[v]:
            r8 = case(big_mp, v, "fast", threads, int8=b)
            g8 = cnn.get((v, 3, int8_engine_name(b)))
            d = int8_metrics(infos[v], b)
            drops = " / ".join(f"{-d[ds]['drop_db']:+.4f}" if ds in d else "?" for ds in ("Set5", "Set14"))
            ok = all(d.get(ds, {}).get("drop_db", 1) <= MAX_DROP_DB for ds in ("Set5", "Set14"))
            qrows.append([f"{v} x{scale}", f"{b}", f"{g8 / g32:.2f}" if g8 and g32 else "-",
                          f"{total_s(r32):.2f}", f"{total_s(r8):.2f}", f"**{total_s(r32) / total_s(r8):.2f}x**",
                          f"{r32['upscale'] / r8['upscale']:.2f}x", r8.get("fallbacks", 0),
                          drops + (" (admitted)" if ok else " (REFUSED)")])
    return md_table(["model", "activation bits", "CNN speed-up", f"fp32 file to file s (~{big_mp:g} MP)",
                     "int8 s", "file to file speed-up", "upscale-only speed-up", "tiles rerun in fp32",
                     "Set5 / Set14 dB against fp32 (manifest)"], qrows)
