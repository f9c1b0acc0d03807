"""The ``lstm`` net: the knob vector concatenated to the audio at every step (Proteus style).

An LSTM has no finite receptive field; ``warmup`` samples of context stand in for one, so the
net follows the ``Net`` protocol (``T - receptive_field + 1`` outputs) and every training
segment starts with ``warmup`` samples that only settle the state.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field, model_validator
from torch import nn

from panama.core.protocols import ComponentConfig

# NAM's LSTM sizes per preset: (hidden_size, num_layers)
PRESETS = {"nano": (12, 1), "feather": (16, 1), "lite": (8, 2), "standard": (24, 1)}


class LSTMConfig(ComponentConfig):
    """``preset`` (NAM's LSTM sizes) wins over ``hidden_size`` / ``num_layers`` when given."""

    preset: Literal["nano", "feather", "lite", "standard"] | None = None
    hidden_size: int = Field(default=16, ge=1)
    num_layers: int = Field(default=1, ge=1)
    num_knobs: int = Field(default=0, ge=0)
    warmup: int = Field(default=1024, ge=0, description="samples of state warm-up per segment")
    bias: bool = Field(default=True, description="torch.nn.LSTM's bias terms")
    dropout: float = Field(default=0.0, ge=0, lt=1, description="torch.nn.LSTM's dropout between layers")

    @model_validator(mode="after")
    def _apply_preset(self) -> LSTMConfig:
        if self.preset is not None:
            self.hidden_size, self.num_layers = PRESETS[self.preset]
        return self


class LSTM(nn.Module):
    Config = LSTMConfig

    def __init__(self, config: LSTMConfig | None = None):
        super().__init__()
        self.config = config if config is not None else LSTMConfig()
        self.num_knobs = self.config.num_knobs
        self.receptive_field = self.config.warmup + 1
        self.lstm = nn.LSTM(1 + self.num_knobs, self.config.hidden_size, self.config.num_layers, batch_first=True,
                            bias=self.config.bias, dropout=self.config.dropout)
        self.head = nn.Linear(self.config.hidden_size, 1)

    def forward(self, x: torch.Tensor, knobs: torch.Tensor) -> torch.Tensor:
        b, t = x.shape
        features = torch.cat([x.unsqueeze(-1), knobs.to(x.dtype).unsqueeze(1).expand(b, t, self.num_knobs)], dim=-1)
        hidden, _ = self.lstm(features)
        return self.head(hidden)[..., 0][:, self.receptive_field - 1 :]
