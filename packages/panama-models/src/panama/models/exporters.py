"""Exporters: ``nam`` (a standard .nam snapshot), ``panama`` (the whole parametric model, JSON)
and ``torchscript``. Each writes through a temporary file and a rename: nothing half-written.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from panama.core.errors import PanamaError
from panama.core.knobs import KnobSetting
from panama.core.protocols import ComponentConfig
from panama.models.convnet import ConvNet
from panama.models.wavenet import WaveNet, nam_weights

PANAMA_FORMAT = "panama-parametric"
PANAMA_FORMAT_VERSION = 1


def _write_atomic(path: Path, write: Callable[[str], None]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _write_json(path: Path, payload: dict[str, Any]) -> Path:
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(payload, f)
            f.flush()
            os.fsync(f.fileno())

    return _write_atomic(path, write)


def _date() -> dict[str, int]:
    t = _dt.datetime.now()
    return {"year": t.year, "month": t.month, "day": t.day, "hour": t.hour, "minute": t.minute, "second": t.second}


def _plain_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, list)) or v is None}


def _wavenet(model: Any, what: str) -> WaveNet:
    net = getattr(model, "net", None)
    if not isinstance(net, WaveNet) or net.members != 1:
        raise PanamaError(f"the {what} exporter needs a single wavenet model, not {type(net).__name__}",
                          "train with --net wavenet, or export with --format panama/torchscript")
    return net


def nam_layer_config(layer: Any, version: str) -> dict[str, Any]:
    """One layer array's config in NAM's 0.5.x or 0.7.x layout (same weights either way)."""
    if version == "0.5":
        return layer.model_dump()
    n = len(layer.dilations)
    off = {"active": False, "shift": True, "groups": 1}
    films = ("conv_pre_film", "conv_post_film", "input_mixin_pre_film", "input_mixin_post_film",
             "activation_pre_film", "activation_post_film", "layer1x1_post_film", "head1x1_post_film")
    return {
        "input_size": layer.input_size, "condition_size": layer.condition_size,
        "head": {"out_channels": layer.head_size, "kernel_size": 1, "bias": layer.head_bias},
        "channels": layer.channels, "kernel_sizes": [layer.kernel_size] * n, "dilations": list(layer.dilations),
        "activation": [{"type": layer.activation}] * n, "bottleneck": layer.channels,
        "head1x1": {"active": False, "out_channels": 1, "groups": 1}, "layer1x1": {"active": True, "groups": 1},
        "groups_input": 1, "groups_input_mixin": 1, **{k: dict(off) for k in films},
        "gating_mode": ["gated" if layer.gated else "none"] * n,
        "secondary_activation": [{"type": "Sigmoid"} if layer.gated else None] * n,
        "slimmable": None,
    }


def nam_snapshot(model: Any, setting: KnobSetting | None = None, nam_version: str = "0.5") -> dict[str, Any]:
    """The .nam dictionary of ``model`` at ``setting`` (native values; defaults fill gaps)."""
    if nam_version not in ("0.5", "0.7"):
        raise PanamaError(f"nam version {nam_version!r} is not supported", "use 0.5 (all plugins) or 0.7")
    full = model.knob_space.validate_setting(setting or {})
    unit = torch.from_numpy(model.knob_space.to_unit(full).astype(np.float32))
    if isinstance(getattr(model, "net", None), ConvNet):  # NAM's ConvNet: same layout in 0.5.x and 0.7.x
        architecture, config, weights = "ConvNet", model.net.nam_config(), model.net.fold(unit).nam_weights()
    else:
        net = _wavenet(model, "nam")
        layers = [nam_layer_config(layer, nam_version) for layer in net.config.resolved_layers()]
        architecture, config = "WaveNet", {"layers": layers, "head": None, "head_scale": float(net.head_scale)}
        weights = nam_weights(net.fold(unit))
    return {
        "version": "0.5.4" if nam_version == "0.5" else "0.7.0",
        "architecture": architecture,
        "config": config,
        "weights": weights,
        "sample_rate": int(model.sample_rate),
        "metadata": {
            "date": _date(),
            "name": "PANAMA " + model.knob_space.format_setting(full),
            "panama": {
                "setting": full,
                "knobs": [k.model_dump() for k in model.knob_space],
                "metrics": _plain_metrics(model.metrics),
                "net_options": model.net_options,
            },
        },
    }


class NamExporter:
    """A standard NAM WaveNet (or ConvNet) file for one knob setting; the knob term folds into the biases."""

    Config = ComponentConfig
    suffix = ".nam"

    def __init__(self, config: ComponentConfig | None = None):
        self.config = config

    def export(self, model: Any, path: Path, setting: KnobSetting | None = None,
               nam_version: Literal["0.5", "0.7"] = "0.5", **options: Any) -> Path:
        _no_options(options, "nam")
        return _write_json(Path(path), nam_snapshot(model, setting, nam_version))


def encode_tensor(t: torch.Tensor) -> dict[str, Any]:
    array = np.ascontiguousarray(t.detach().cpu().numpy().astype("<f4"))
    return {"shape": list(array.shape), "dtype": "float32", "data": base64.b64encode(array.tobytes()).decode("ascii")}


class PanamaExporter:
    """The whole parametric model as JSON: net config, knob names/ranges, base64 float32 tensors.

    Readable without torch by :mod:`panama.models.numpy_ref`.
    """

    Config = ComponentConfig
    suffix = ".panama.json"

    def __init__(self, config: ComponentConfig | None = None):
        self.config = config

    def export(self, model: Any, path: Path, setting: KnobSetting | None = None, **options: Any) -> Path:
        _no_options(options, "panama")
        net = model.net
        config = net.config.model_dump()
        if isinstance(net, WaveNet):
            config["layers"] = [layer.model_dump() for layer in net.config.resolved_layers()]
        payload = {
            "format": PANAMA_FORMAT,
            "version": PANAMA_FORMAT_VERSION,
            "net": model.net_name,
            "config": config,
            "receptive_field": int(net.receptive_field),
            "sample_rate": int(model.sample_rate),
            "knobs": [k.model_dump() for k in model.knob_space],
            "metadata": {"date": _date(), "metrics": _plain_metrics(model.metrics)},
            "tensors": {name: encode_tensor(t) for name, t in net.state_dict().items()},
        }
        return _write_json(Path(path), payload)


class _Scripted(nn.Module):
    """``forward(audio[T] or [B, T], knobs[K] or [B, K]) -> [B, T]``: zero-padded at the start
    so the output has the input's length (what a plugin host expects)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self.receptive_field = int(net.receptive_field)  # type: ignore[arg-type]

    def forward(self, audio: torch.Tensor, knobs: torch.Tensor) -> torch.Tensor:
        if audio.dim() == 1:
            audio = audio.unsqueeze(0)
        if knobs.dim() == 1:
            knobs = knobs.unsqueeze(0).expand(audio.shape[0], -1)
        pad = torch.zeros(audio.shape[0], self.receptive_field - 1, dtype=audio.dtype, device=audio.device)
        return self.net(torch.cat([pad, audio], dim=1), knobs)


class TorchScriptExporter:
    """A TorchScript module taking ``(audio, knobs)``; knobs are normalised to [0, 1]."""

    Config = ComponentConfig
    suffix = ".ts"

    def __init__(self, config: ComponentConfig | None = None):
        self.config = config

    def export(self, model: Any, path: Path, setting: KnobSetting | None = None, **options: Any) -> Path:
        _no_options(options, "torchscript")
        scripted = torch.jit.script(_Scripted(model.net.eval()))
        extra = {"panama.json": json.dumps({"knobs": [k.model_dump() for k in model.knob_space],
                                            "sample_rate": int(model.sample_rate), "net": model.net_name})}
        return _write_atomic(Path(path), lambda tmp: torch.jit.save(scripted, tmp, _extra_files=extra))


def _no_options(options: dict[str, Any], name: str) -> None:
    options = {k: v for k, v in options.items() if v is not None}
    if options:
        raise PanamaError(f"the {name} exporter takes no option(s) {', '.join(sorted(options))}", "remove them")
