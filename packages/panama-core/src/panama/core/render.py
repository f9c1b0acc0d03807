"""Play a DI through the parametric model (``panama render``): a fixed setting, or knobs that
move over time (``--sweep gain=0:10``: the knob goes from 0 to 10 across the file).

The model runs in blocks, each with its receptive field of context in front, batched: a
convolutional net's output is then exactly the whole-file output, and the progress bar moves.
Automation works as in a plugin host: the knobs take a new value every block (1024 samples,
21 ms at 48 kHz), read at the block's middle. A recurrent net (LSTM) carries state across the
file, so it renders in one piece, at fixed settings only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from panama.core.errors import PanamaError
from panama.core.knobs import KnobSetting, KnobSpace
from panama.core.options import parse_pairs

FIXED_BLOCK = 65_536
SWEEP_BLOCK = 1024
BATCH_SAMPLES = 1 << 19  # samples per forward pass (block + context, summed over the batch)


def parse_sweep(space: KnobSpace, text: str) -> dict[str, tuple[float, float]]:
    """``"gain=0:10,bass=10:0"`` → knob → (value at the start, value at the end)."""
    sweep = {}
    for name, spec in parse_pairs(text, what="sweep", example="--sweep gain=0:10").items():
        parts = spec.split(":")
        if len(parts) != 2:
            raise PanamaError(f"sweep of {name!r}: {spec!r} is not from:to", "write e.g. --sweep gain=0:10")
        try:
            start, stop = float(parts[0]), float(parts[1])
        except ValueError:
            raise PanamaError(f"sweep of {name!r}: {spec!r} is not two numbers", "write e.g. --sweep gain=0:10") from None
        space.validate_setting({name: start})  # unknown knob or out of range: the usual message
        space.validate_setting({name: stop})
        sweep[name] = (start, stop)
    if not sweep:
        raise PanamaError("the sweep is empty", "write e.g. --sweep gain=0:10")
    return sweep


def knob_track(space: KnobSpace, setting: KnobSetting, sweep: Mapping[str, tuple[float, float]],
               samples: int, block: int) -> np.ndarray:
    """Unit knob vectors ``[blocks, K]``: ``setting``, with the swept knobs at each block's middle."""
    blocks = max(1, -(-samples // block))
    middle = (np.arange(blocks) * block + block / 2) / max(samples, 1)
    fraction = np.clip(middle, 0.0, 1.0)
    rows = []
    for f in fraction:
        moved = dict(setting)
        for name, (start, stop) in sweep.items():
            moved[name] = start + (stop - start) * float(f)
        rows.append(space.to_unit(moved))
    return np.asarray(rows, dtype=np.float32).reshape(blocks, len(space))


def is_recurrent(net: Any) -> bool:
    import torch

    return any(isinstance(m, torch.nn.RNNBase) for m in net.modules())


def render(model: Any, x: np.ndarray, setting: KnobSetting | None = None, *,
           sweep: Mapping[str, tuple[float, float]] | None = None,
           advance: Callable[[float], None] = lambda n: None) -> np.ndarray:
    """The model's output for ``x`` (same length, from silence), ``advance(samples)`` as it goes."""
    import torch

    space = model.knob_space
    setting = space.validate_setting(setting or {})
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    if is_recurrent(model.net):
        if sweep:
            raise PanamaError(f"a {model.net_name} model carries state through the file, so its knobs cannot move "
                              "block by block", "render fixed settings (drop --sweep), or sweep a wavenet capture")
        y = model.predict(x, setting)
        advance(x.shape[0])
        return y
    block = SWEEP_BLOCK if sweep else FIXED_BLOCK
    knobs = knob_track(space, setting, sweep or {}, x.shape[0], block)
    context = model.receptive_field - 1
    padded = np.concatenate([np.zeros(context, np.float32), x, np.zeros(block, np.float32)])
    out = np.zeros(knobs.shape[0] * block, np.float32)
    per_batch = max(1, BATCH_SAMPLES // (block + context))
    model.net.eval()
    with torch.no_grad():
        for first in range(0, knobs.shape[0], per_batch):
            index = range(first, min(first + per_batch, knobs.shape[0]))
            batch = np.stack([padded[i * block : i * block + block + context] for i in index])
            y = model.net(torch.from_numpy(batch), torch.from_numpy(knobs[first : first + len(index)]))
            out[first * block : (first + len(index)) * block] = y.numpy().reshape(-1)
            advance(min(len(index) * block, max(0, x.shape[0] - first * block)))
    return out[: x.shape[0]]
