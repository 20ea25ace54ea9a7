#!/usr/bin/env python3
"""Training step time of a 9-5-5 SRCNN on one CPU thread: float32 against bf16 autocast, with
and without channels-last (what ``build.py train --amp bf16`` uses; needs torch).

    python bench/train_amp.py            # 32 patches of 96x96, 4 steps each, prints seconds per step

bf16 pays where the CPU has AMX (``amx_bf16``); elsewhere it is emulated and slower.
"""
import time

import torch
import torch.nn as nn


def step_times(amp: bool, channels_last: bool, steps: int = 4) -> list[float]:
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 64, 9, padding=4), nn.ReLU(), nn.Conv2d(64, 32, 5, padding=2), nn.ReLU(),
                      nn.Conv2d(32, 1, 5, padding=2))
    x, y = torch.randn(32, 1, 96, 96), torch.randn(32, 1, 96, 96)
    if channels_last:
        m, x = m.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(m.parameters(), 1e-4)
    out = []
    for _ in range(steps):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            pred = m(x)
        loss = ((pred.float() - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        out.append(time.perf_counter() - t)
    return out


if __name__ == "__main__":
    torch.set_num_threads(1)
    for amp in (False, True):
        for cl in (False, True):
            t = step_times(amp, cl)
            print(f"{'bf16' if amp else 'fp32'} {'channels-last' if cl else 'NCHW':13} "
                  f"s/step best {min(t):.3f}, all {' '.join(f'{v:.2f}' for v in t)}", flush=True)
