"""NAM's ConvNet, block for block, with a per-block knob term (as the WaveNet's layers have).

NAM's ConvNet is a stack of blocks ``Conv1d(kernel 2, dilation d, bias unless batchnorm) →
BatchNorm1d (optional) → activation`` and a ``Conv1d(channels → 1, 1)`` head. Here each block
adds ``Linear_K(knobs)`` before its activation. The term is constant in time, so at a fixed
setting it folds exactly into the conv bias (or the batch-norm shift): :meth:`ConvNet.fold`
gives a plain NAM ConvNet, and :meth:`ConvNet.nam_weights` lays its weights out in NAM's order
(per block: conv weight, conv bias or the batch-norm's running mean, running variance, weight,
bias and eps; then the head's weight and bias).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn

from panama.core.protocols import ComponentConfig
from panama.models.wavenet import ACTIVATIONS, _activation


class ConvNetConfig(ComponentConfig):
    """NAM's ``ConvNet`` config keys (``channels``, ``dilations``, ``batchnorm``, ``activation``)."""

    channels: int = Field(default=16, ge=1)
    dilations: list[int] = Field(default_factory=lambda: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512], min_length=1)
    batchnorm: bool = False
    activation: Literal[ACTIVATIONS] = "Tanh"  # type: ignore[valid-type]
    num_knobs: int = Field(default=0, ge=0)


class ConvNet(nn.Module):
    """The ``convnet`` net: ``forward(x[B, T], knobs[B, K]) -> y[B, T - receptive_field + 1]``."""

    Config = ConvNetConfig

    def __init__(self, config: ConvNetConfig | None = None):
        super().__init__()
        self.config = config if config is not None else ConvNetConfig()
        c, k = self.config.channels, self.config.num_knobs
        self.num_knobs = k
        self.convs = nn.ModuleList(nn.Conv1d(1 if i == 0 else c, c, 2, dilation=d, bias=not self.config.batchnorm)
                                   for i, d in enumerate(self.config.dilations))
        self.norms = nn.ModuleList(nn.BatchNorm1d(c) for _ in self.config.dilations) if self.config.batchnorm else None
        self.knob_terms = nn.ModuleList(nn.Linear(k, c) for _ in self.config.dilations) if k else None
        self.head = nn.Conv1d(c, 1, 1)
        self.receptive_field = 1 + sum(self.config.dilations)

    def forward(self, x: torch.Tensor, knobs: torch.Tensor) -> torch.Tensor:
        h = x.unsqueeze(1)
        knobs = knobs.to(x.dtype)
        for i, conv in enumerate(self.convs):
            z = conv(h)
            if self.norms is not None:
                z = self.norms[i](z)
            if self.knob_terms is not None:
                z = z + self.knob_terms[i](knobs).unsqueeze(-1)
            h = _activation(self.config.activation, z)
        return self.head(h)[:, 0]

    @torch.no_grad()
    def fold(self, knobs: torch.Tensor) -> ConvNet:
        """A K = 0 net equal to this one (in eval mode) at the unit knob vector ``knobs[K]``."""
        out = ConvNet(self.config.model_copy(update={"num_knobs": 0}))
        out.load_state_dict({k: v for k, v in self.state_dict().items() if not k.startswith("knob_terms.")})
        if self.knob_terms is not None:
            vec = torch.as_tensor(knobs, dtype=torch.float32).reshape(1, -1)
            for i, term in enumerate(self.knob_terms):
                shift = term(vec)[0]
                target = out.norms[i].bias if out.norms is not None else out.convs[i].bias
                assert target is not None
                target.add_(shift)
        return out.eval()

    def nam_config(self) -> dict[str, Any]:
        return {"channels": self.config.channels, "dilations": list(self.config.dilations),
                "batchnorm": self.config.batchnorm, "activation": self.config.activation}

    def nam_weights(self) -> list[float]:
        """The flat weight vector in NAM's ConvNet order (a K = 0 net; fold first)."""
        if self.num_knobs:
            raise ValueError("NAM weights need a K = 0 net; use .fold(knobs)")
        parts: list[torch.Tensor] = []
        for i, conv in enumerate(self.convs):
            parts.append(conv.weight.flatten())
            if conv.bias is not None:
                parts.append(conv.bias)
            if self.norms is not None:
                bn = self.norms[i]
                assert bn.running_mean is not None and bn.running_var is not None
                parts += [bn.running_mean, bn.running_var, bn.weight, bn.bias, torch.tensor([bn.eps])]
        parts += [self.head.weight.flatten(), self.head.bias]
        return torch.cat([p.detach().float().flatten() for p in parts]).tolist()
