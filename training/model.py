"""SRCNN in PyTorch (training only; inference runs the exported ONNX without torch).

Three convolutions f1-f2-f3 with n1/n2 filters, valid (unpadded) as in the paper's training,
optionally predicting the residual over the bicubic input. A residual SRCNN with n1/n2
filters is exported as an ordinary SRCNN with n1+1/n2+1 filters (see ``plain_weights``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

# Added to the carried-through input channel so that it stays >= 0 through the ReLUs even
# where bicubic ringing pushes Y slightly below 0 (inputs are >= -1 by a wide margin).
CARRY_BIAS = 1.0


@dataclass
class SRCNNConfig:
    f1: int = 9
    f2: int = 5
    f3: int = 5
    n1: int = 64
    n2: int = 32
    channels: int = 1          # 1 = Y only; 3 = YCbCr or RGB (Table 5 of the paper)
    residual: bool = True      # predict HR - bicubic, add the input back

    @property
    def name(self) -> str:
        return f"{self.f1}-{self.f2}-{self.f3}"

    @property
    def shrink(self) -> int:
        """Pixels lost on each side by the valid convolutions (= receptive-field radius)."""
        return (self.f1 - 1) // 2 + (self.f2 - 1) // 2 + (self.f3 - 1) // 2

    def to_dict(self) -> dict:
        return asdict(self)


class SRCNN(nn.Module):
    """Input (N, C, H, W) pre-upsampled image in [0, 1]; output (N, C, H - 2r, W - 2r), r = shrink."""

    def __init__(self, cfg: SRCNNConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg.channels
        self.conv1 = nn.Conv2d(c, cfg.n1, cfg.f1)
        self.conv2 = nn.Conv2d(cfg.n1, cfg.n2, cfg.f2)
        self.conv3 = nn.Conv2d(cfg.n2, c, cfg.f3)

    def init_paper(self, std: float = 1e-3) -> None:
        """The paper's initialisation: Gaussian (std 0.001), zero biases."""
        for conv in (self.conv1, self.conv2, self.conv3):
            nn.init.normal_(conv.weight, 0.0, std)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(x)
        y = F.relu(y)
        y = F.relu(self.conv2(y))
        y = self.conv3(y)
        if self.cfg.residual:
            r = self.cfg.shrink
            y = y + x[:, :, r:x.shape[2] - r, r:x.shape[3] - r]
        return y


def plain_weights(model: SRCNN) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Weights of an ordinary SRCNN (no residual) computing exactly what ``model`` computes.

    For a residual model one extra channel per hidden layer carries the input (plus
    ``CARRY_BIAS``) through as a centred delta kernel; the last layer adds it back and
    subtracts the bias. Returns [(weight, bias)] for the three layers, float32, detached.
    """
    cfg = model.cfg
    ws = [(m.weight.detach().float().clone(), m.bias.detach().float().clone())
          for m in (model.conv1, model.conv2, model.conv3)]
    if not cfg.residual:
        return ws
    c = cfg.channels
    (w1, b1), (w2, b2), (w3, b3) = ws
    def delta(k):
        d = torch.zeros(k, k)
        d[k // 2, k // 2] = 1.0
        return d
    # layer 1: add c carry channels
    e1 = torch.zeros(c, c, cfg.f1, cfg.f1)
    for i in range(c):
        e1[i, i] = delta(cfg.f1)
    w1n = torch.cat([w1, e1], 0)
    b1n = torch.cat([b1, torch.full((c,), CARRY_BIAS)])
    # layer 2: original outputs ignore the carry inputs; carry outputs copy them
    w2n = torch.zeros(cfg.n2 + c, cfg.n1 + c, cfg.f2, cfg.f2)
    w2n[:cfg.n2, :cfg.n1] = w2
    for i in range(c):
        w2n[cfg.n2 + i, cfg.n1 + i] = delta(cfg.f2)
    b2n = torch.cat([b2, torch.zeros(c)])
    # layer 3: add the carried input back, remove the bias
    w3n = torch.zeros(c, cfg.n2 + c, cfg.f3, cfg.f3)
    w3n[:, :cfg.n2] = w3
    for i in range(c):
        w3n[i, cfg.n2 + i] = delta(cfg.f3)
    b3n = b3 - CARRY_BIAS
    return [(w1n, b1n), (w2n, b2n), (w3n, b3n)]
