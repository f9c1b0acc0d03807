"""An ``lstm`` capture at one knob setting as NAM's plain ``LSTM`` architecture.

PANAMA's LSTM reads ``[x_t, k_1 … k_K]`` at every step. At a fixed setting the knob columns of
the first layer's input weights times the knob values are a constant, so they fold exactly
into that layer's bias, and what is left reads the audio alone: NAM's LSTM.

NAM's layout (its loader, ``init_from_nam``, reads it): config ``{input_size: 1, hidden_size,
num_layers}``; weights, per layer, the input and recurrent matrices side by side
(``4H × (in + H)``, row-major, PyTorch's gate order), one bias (the two PyTorch biases
summed), the initial hidden and cell state; then the head's weights and bias.

NAM starts playing from the stored initial state. PANAMA's model starts from zeros with
``receptive_field - 1`` samples of silence in front (what :meth:`TrainedModel.predict` does),
so the stored state is the state after that much silence at this setting: NAM's output then
equals PANAMA's sample for sample.
"""

from __future__ import annotations

from typing import Any

import torch

from panama.models.lstm import LSTM


@torch.no_grad()
def fold_lstm(net: LSTM, knobs: torch.Tensor) -> tuple[dict[str, Any], list[float]]:
    """NAM's ``(config, weights)`` of ``net`` at unit knob values ``knobs[K]``."""
    core = net.lstm
    hidden, layers = core.hidden_size, core.num_layers
    knobs = knobs.to(torch.float32).reshape(-1)
    h0, c0 = _state_after_silence(net, knobs, net.receptive_field - 1)
    parts: list[torch.Tensor] = []
    for i in range(layers):
        w_ih = getattr(core, f"weight_ih_l{i}")
        # a bias-free torch LSTM (NAM config `bias: false`) is NAM's LSTM with a zero bias
        bias = (getattr(core, f"bias_ih_l{i}") + getattr(core, f"bias_hh_l{i}") if core.bias
                else torch.zeros(4 * hidden, dtype=w_ih.dtype))
        if i == 0:
            bias = bias + w_ih[:, 1:] @ knobs  # the knob inputs are constant: fold them
            w_ih = w_ih[:, :1]
        parts += [torch.cat([w_ih, getattr(core, f"weight_hh_l{i}")], dim=1).reshape(-1), bias,
                  h0[i], c0[i]]
    parts += [net.head.weight.reshape(-1), net.head.bias.reshape(-1)]
    weights = torch.cat(parts).double().tolist()
    return {"input_size": 1, "hidden_size": hidden, "num_layers": layers}, weights


def _state_after_silence(net: LSTM, knobs: torch.Tensor, samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(h, c)`` per layer, ``[L, H]`` each, after ``samples`` zeros from a zero state."""
    core = net.lstm
    zeros = torch.zeros(core.num_layers, core.hidden_size)
    if samples <= 0:
        return zeros, zeros.clone()
    features = torch.cat([torch.zeros(1, samples, 1), knobs.view(1, 1, -1).expand(1, samples, -1)], dim=-1)
    _, (h, c) = core(features)
    return h[:, 0], c[:, 0]
