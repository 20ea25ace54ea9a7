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
    f4: int = 0                # > 0: the paper's four-layer variants (e.g. 9-1-1-5): f3 is then
    n3: int = 0                # a third hidden layer (n2 -> n3) and f4 the reconstruction

    @property
    def sizes(self) -> list[int]:
        return [self.f1, self.f2, self.f3] + ([self.f4] if self.f4 else [])

    @property
    def widths(self) -> list[int]:
        """Hidden layer widths: [n1, n2] or [n1, n2, n3]."""
        return [self.n1, self.n2] + ([self.n3] if self.f4 else [])

    @property
    def name(self) -> str:
        return "-".join(str(f) for f in self.sizes)

    @property
    def shrink(self) -> int:
        """Pixels lost on each side by the valid convolutions (= receptive-field radius)."""
        return sum((f - 1) // 2 for f in self.sizes)

    def to_dict(self) -> dict:
        return asdict(self)


class SRCNN(nn.Module):
    """Input (N, C, H, W) pre-upsampled image in [0, 1]; output (N, C, H - 2r, W - 2r), r = shrink."""

    def __init__(self, cfg: SRCNNConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg.channels
        chans = [c] + cfg.widths + [c]
        for i, f in enumerate(cfg.sizes):  # conv1 .. conv3 (conv4): the checkpoint keys
            setattr(self, f"conv{i + 1}", nn.Conv2d(chans[i], chans[i + 1], f))

    @property
    def convs(self) -> list[nn.Conv2d]:
        return [getattr(self, f"conv{i + 1}") for i in range(len(self.cfg.sizes))]

    def init_paper(self, std: float = 1e-3) -> None:
        """The paper's initialisation: Gaussian (std 0.001), zero biases."""
        for conv in self.convs:
            nn.init.normal_(conv.weight, 0.0, std)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        convs = self.convs
        y = x
        for conv in convs[:-1]:
            y = F.relu(conv(y))
        y = convs[-1](y)
        if self.cfg.residual:
            r = self.cfg.shrink
            y = y + x[:, :, r:x.shape[2] - r, r:x.shape[3] - r]
        return y


@torch.no_grad()
def hidden_activity(model: SRCNN, x: torch.Tensor) -> list[torch.Tensor]:
    """Per hidden layer, the fraction of (patch, pixel) positions where each unit is > 0 on ``x``."""
    out, y = [], x
    for conv in model.convs[:-1]:
        y = F.relu(conv(y))
        out.append((y > 0).float().mean((0, 2, 3)))
    return out


@torch.no_grad()
def unit_contributions(model: SRCNN, x: torch.Tensor, layer: int) -> torch.Tensor:
    """Per unit of hidden ``layer``: the mean squared change of the network's output on ``x``
    when that unit's outgoing weights are zeroed (how much of the function it carries)."""
    convs = model.convs
    h = x
    for c in convs[:layer + 1]:
        h = F.relu(c(h))

    def rest(h):
        for c in convs[layer + 1:-1]:
            h = F.relu(c(h))
        return convs[-1](h)
    base = rest(h)
    out = torch.empty(h.shape[1])
    for u in range(h.shape[1]):
        keep = h[:, u].clone()
        h[:, u] = 0.0
        out[u] = (rest(h) - base).pow(2).mean()
        h[:, u] = keep
    return out


@torch.no_grad()
def revive_dead_units(model: SRCNN, x: torch.Tensor, gen: torch.Generator, floor: float = 0.0,
                      noise: float = 0.1, regrow: tuple[int, ...] = ()) -> list[int]:
    """Give hidden units that never fire on ``x`` (active fraction <= ``floor``) new incoming weights.

    A ReLU unit whose bias has been driven below every response it sees gets no gradient again,
    so its filter is lost capacity (in our trained 9-5-5 models 5-15 of 64 layer-1 and 2-9 of 32
    layer-2 units). Each dead unit gets a copy of a live unit of its layer, turned by one of the
    7 non-identity rotations/flips and perturbed by ``noise`` times the copy's std, and a bias
    that makes it fire on half of ``x``; its outgoing weights are set to 0, so the model computes
    exactly what it did (training then grows them). ``regrow[l]`` more live units of hidden layer
    l, those carrying the least of the function (``unit_contributions`` on the first 32 patches),
    are started afresh the same way; that changes the function by their small share. Returns the
    number of units re-initialised per layer.
    """
    convs = model.convs
    revived = []
    for li, conv in enumerate(convs[:-1]):
        y = x
        for c in convs[:li]:
            y = F.relu(c(y))
        act = F.relu(conv(y))
        frac = (act > 0).float().mean((0, 2, 3))
        dead = torch.nonzero(frac <= floor).flatten().tolist()
        n_more = regrow[li] if li < len(regrow) else 0
        if n_more:
            contrib = unit_contributions(model, x[:32], li)
            contrib[dead] = float("inf")
            dead += torch.argsort(contrib)[:n_more].tolist()
        live = torch.tensor([u for u in range(conv.out_channels) if u not in dead], dtype=torch.long)
        if not dead or len(live) == 0:
            revived.append(0)
            continue
        w = conv.weight
        for u in dead:
            src = int(live[torch.randint(len(live), (1,), generator=gen)])
            t = int(torch.randint(1, 8, (1,), generator=gen))
            k = w[src].float()
            k = torch.rot90(k, t % 4, (1, 2))
            if t >= 4:
                k = torch.flip(k, (2,))
            k = k + noise * k.std() * torch.randn(k.shape, generator=gen)
            w[u] = k.to(w.dtype)
            r = F.conv2d(y, w[u:u + 1].float())
            conv.bias[u] = -r.flatten().median()
            convs[li + 1].weight[:, u] = 0.0
        revived.append(len(dead))
    return revived


def plain_weights(model: SRCNN) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Weights of an ordinary SRCNN (no residual) computing exactly what ``model`` computes.

    For a residual model one extra channel per hidden layer carries the input (plus
    ``CARRY_BIAS``) through as a centred delta kernel; the last layer adds it back and
    subtracts the bias. Returns [(weight, bias)] per layer, float32, detached.
    """
    cfg = model.cfg
    ws = [(m.weight.detach().float().clone(), m.bias.detach().float().clone()) for m in model.convs]
    if not cfg.residual:
        return ws
    c = cfg.channels

    def delta(k):
        d = torch.zeros(k, k)
        d[k // 2, k // 2] = 1.0
        return d
    out = []
    last = len(ws) - 1
    for i, (w, b) in enumerate(ws):
        n_out, n_in, k, _ = w.shape
        add_in = 0 if i == 0 else c        # later layers get c extra (carry) input channels
        add_out = 0 if i == last else c
        wn = torch.zeros(n_out + add_out, n_in + add_in, k, k)
        wn[:n_out, :n_in] = w
        for j in range(c):
            if i == 0:
                wn[n_out + j, j] = delta(k)                # the input, into carry channel j
            elif i < last:
                wn[n_out + j, n_in + j] = delta(k)         # carried through
            else:
                wn[j, n_in + j] = delta(k)                 # added back
        if i == 0:
            bn = torch.cat([b, torch.full((c,), CARRY_BIAS)])
        elif i < last:
            bn = torch.cat([b, torch.zeros(c)])
        else:
            bn = b - CARRY_BIAS
        out.append((wn, bn))
    return out


def rgb_from_y(state: dict, cfg: SRCNNConfig) -> dict:
    """A residual Y model's weights as an RGB model (``cfg.channels == 3``) that computes the same.

    Layer 1 reads Y = a . RGB + 16/255 (MATLAB rgb2ycbcr, a = (65.481, 128.553, 24.966) / 255):
    its kernel on channel c is the Y kernel times a_c, the offset goes into its bias. The last
    layer adds the same d to R, G and B with d = (Y correction) / sum(a): that moves Y by the Y
    model's correction and leaves Cb and Cr as they were (their rows of the matrix sum to 0),
    which is exactly the Y-only pipeline (bicubic chroma). The starting point of a colour
    network that can then only gain (the paper's "Y pre-train", Table 5)."""
    if not cfg.residual or cfg.channels != 3:
        raise ValueError("rgb_from_y makes a residual 3-channel model")
    a = torch.tensor([65.481, 128.553, 24.966], dtype=torch.float32) / 255.0
    convs = [k for k in state if k.endswith(".weight")]
    first, last = convs[0], convs[-1]
    out = dict(state)
    w1 = state[first]
    if w1.shape[1] != 1:
        raise ValueError("the source is not a Y-channel model")
    out[first] = w1 * a.view(1, 3, 1, 1)
    b1 = first.replace(".weight", ".bias")
    out[b1] = state[b1] + w1.sum(dim=(1, 2, 3)) * (16.0 / 255.0)
    w3 = state[last]
    out[last] = (w3 / a.sum()).repeat(3, 1, 1, 1)
    b3 = last.replace(".weight", ".bias")
    out[b3] = (state[b3] / a.sum()).repeat(3)
    return out
