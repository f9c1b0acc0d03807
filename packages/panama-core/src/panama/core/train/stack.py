"""M copies of a net that cannot stack its own parameters (e.g. an LSTM), run one by one.

Nets that declare ``supports_members = True`` (the WaveNet) stack themselves into grouped
convolutions instead; this fallback keeps the same interface for every other net.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class LoopStack(nn.Module):
    def __init__(self, cls: Any, config: Any, seeds: list[int]):
        super().__init__()
        nets = []
        for seed in seeds:
            torch.manual_seed(int(seed))
            nets.append(cls(config))
        self.nets = nn.ModuleList(nets)
        self.members = len(nets)
        self.receptive_field = int(nets[0].receptive_field)
        self.num_knobs = int(nets[0].num_knobs)

    def forward(self, x: torch.Tensor, knobs: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(1).expand(-1, self.members, -1)
        if knobs.dim() == 2:
            knobs = knobs.unsqueeze(1).expand(-1, self.members, -1)
        return torch.stack([net(x[:, m], knobs[:, m]) for m, net in enumerate(self.nets)], dim=1)

    def member(self, index: int) -> nn.Module:
        return copy.deepcopy(self.nets[index])
