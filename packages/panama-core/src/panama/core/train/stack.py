"""Modules over M member nets (imported by the training side only: torch loads here).

:class:`LoopStack`: M copies of a net that cannot stack its own parameters (e.g. an LSTM), run
one by one. Nets that declare ``supports_members = True`` (the WaveNet) stack themselves into
grouped convolutions instead; this fallback keeps the same interface for every other net.

:class:`Averaged`: a final model that is the mean of P independently trained nets
(``Recipe.average``). With few labelled settings the final model's error is mostly where no
setting was recorded, and it differs from seed to seed; the mean of P nets trained apart (own
seeds, own segment streams) cancels part of that (benchmarks/RESULTS.md, accuracy). The P nets
train as one stacked ensemble, each on its own loss, so on a CPU they share the threads that a
single small net cannot use. The exporters fold the average into one wider net (see
``WaveNet.average``), so a NAM file of it is one ordinary WaveNet.
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


class Averaged(nn.Module):
    """``forward(x, knobs)`` = the mean over the members of a stacked ``inner`` net."""

    averaged = True

    def __init__(self, inner: Any, members: int):
        super().__init__()
        self.inner, self.members = inner, int(members)
        self.receptive_field = int(inner.receptive_field)
        self.num_knobs = int(inner.num_knobs)

    def forward(self, x: torch.Tensor, knobs: torch.Tensor) -> torch.Tensor:
        return self.inner(x, knobs).mean(dim=1)  # [B, P, T'] → [B, T']

    def member(self, index: int) -> Any:
        return self.inner.member(index)
