"""A final model that is the average of P independently trained nets (``Recipe.average``).

With few labelled settings the final model's error is mostly where no setting was recorded,
and it differs from seed to seed; the mean of P nets trained apart (own seeds, own segment
streams) cancels part of that (benchmarks/RESULTS.md, accuracy). The P nets train as one
stacked ensemble, each on its own loss, so on a CPU they share the work of the threads that a
single small net cannot use. The exporters fold the average into one wider net (see
``WaveNet.average``), so a NAM file of it is one ordinary WaveNet.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


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
