"""Exporters: ``nam`` (a standard .nam snapshot), ``panama`` (the whole parametric model, JSON)
and ``torchscript``. Each writes through :mod:`panama.core.fsutil` (temp file, fsync, rename,
fsync the folder): nothing half-written.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from panama.core.errors import PanamaError
from panama.core.fsutil import atomic_path, write_text_atomic
from panama.core.knobs import KnobSetting
from panama.core.protocols import ComponentConfig
from panama.models import loudness
from panama.models.convnet import ConvNet
from panama.models.lstm import LSTM
from panama.models.nam_lstm import fold_lstm
from panama.models.wavenet import WaveNet, nam_weights

PANAMA_FORMAT = "panama-parametric"
PANAMA_FORMAT_VERSION = 1
# NAM's user metadata fields (its ``UserMetadata``), copied into every .nam that sets them.
NAM_USER_FIELDS = ("name", "modeled_by", "gear_type", "gear_make", "gear_model", "tone_type",
                   "input_level_dbu", "output_level_dbu")


def _date() -> dict[str, int]:
    t = _dt.datetime.now()
    return {"year": t.year, "month": t.month, "day": t.day, "hour": t.hour, "minute": t.minute, "second": t.second}


def _plain_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, list)) or v is None}


def _single(model: Any, what: str) -> WaveNet | LSTM:
    net = getattr(model, "net", None)
    if isinstance(net, LSTM) or (isinstance(net, WaveNet) and net.members == 1):
        return net
    raise PanamaError(f"the {what} exporter needs a single wavenet or lstm model, not {type(net).__name__}",
                      "train with --net wavenet or lstm, or export with --format panama/torchscript")


def _player(model: Any, unit: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """``play(x[B, T]) -> y[B, T]``: the model at unit knobs ``unit``, from silence (as NAM plays)."""
    pad = model.receptive_field - 1
    knobs = torch.from_numpy(np.asarray(unit, dtype=np.float32)).view(1, -1)

    def play(x: np.ndarray) -> np.ndarray:
        batch = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        batch = torch.cat([torch.zeros(batch.shape[0], pad), batch], dim=1)
        model.net.eval()
        with torch.no_grad():
            return model.net(batch, knobs.expand(batch.shape[0], -1)).numpy()

    return play


def calibration(model: Any, setting: KnobSetting | None = None, di: str | Path | None = None) -> dict[str, float]:
    """NAM's ``loudness`` (dB) and ``gain`` (0…1) of ``model`` at ``setting`` (see :mod:`.loudness`),
    on PANAMA's standard DI or on the WAV ``di`` (e.g. NAM's own ``loudness_input.wav``)."""
    full = model.knob_space.validate_setting(setting or {})
    if di is None:
        x = loudness.standard_input(int(model.sample_rate))
    else:
        from panama.core.audio import read_wav

        x, _ = read_wav(di, sample_rate=int(model.sample_rate))
    loud, gain = loudness.measure(_player(model, model.knob_space.to_unit(full)), x)
    return {"loudness": round(loud, 4), "gain": round(gain, 4)}


def user_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """NAM's user fields (name, modeled_by, gear_*, tone_type, *_level_dbu) that are set."""
    unknown = sorted(set(metadata or {}) - set(NAM_USER_FIELDS))
    if unknown:
        raise PanamaError(f"unknown metadata field(s) {', '.join(unknown)}", f"use: {', '.join(NAM_USER_FIELDS)}")
    return {k: v for k, v in (metadata or {}).items() if v is not None}


def nam_metadata(model: Any, full: KnobSetting, metadata: Mapping[str, Any] | None,
                 validation_esr: Mapping[str, Any] | float | None, loudness_input: str | Path | None = None) -> dict[str, Any]:
    """The ``metadata`` block of a .nam: date, loudness, gain, the user's fields, the ESR."""
    esr = validation_esr if isinstance(validation_esr, Mapping) else (
        None if validation_esr is None else {"esr": float(validation_esr)})
    out: dict[str, Any] = {"date": _date(), **calibration(model, full, loudness_input),
                           "name": "PANAMA " + model.knob_space.format_setting(full), **user_metadata(metadata)}
    if esr is not None and esr.get("esr") is not None:
        out["training"] = {"validation_esr": float(esr["esr"])}
    out["panama"] = {
        "setting": full,
        "knobs": [k.model_dump() for k in model.knob_space],
        "metrics": _plain_metrics(model.metrics),
        "net": model.net_name,
        "net_options": model.net_options,
        "model": model.fingerprint() if hasattr(model, "fingerprint") else None,
        "loudness_input": loudness.DESCRIPTION if loudness_input is None else f"the user's {Path(loudness_input).name}",
        "loudness_input_file": None if loudness_input is None else Path(loudness_input).name,
    }
    if esr is not None:
        out["panama"]["validation_esr"] = dict(esr)
    return out


def _folded_wavenet(net: Any, unit: torch.Tensor) -> WaveNet:
    """The K = 0 WaveNet NAM plays at unit knobs ``unit``; the mean of P nets (``Recipe.average``)
    merges into one P-times-wider WaveNet."""
    if not getattr(net, "averaged", False):
        return net.fold(unit)
    if not isinstance(net.inner, WaveNet):
        raise PanamaError("the nam exporter merges averaged wavenets only", "export with --format panama or torchscript")
    return WaveNet.average([net.member(i).fold(unit) for i in range(net.members)])


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


def nam_snapshot(model: Any, setting: KnobSetting | None = None, nam_version: str = "0.5", *,
                 metadata: Mapping[str, Any] | None = None,
                 validation_esr: Mapping[str, Any] | float | None = None,
                 loudness_input: str | Path | None = None) -> dict[str, Any]:
    """The .nam dictionary of ``model`` at ``setting`` (native values; defaults fill gaps).

    ``metadata`` holds NAM's user fields (``name``, ``modeled_by``, ``gear_type`` …);
    ``validation_esr`` the ESR expected at this setting (a number, or ``{"esr": …, "basis": …}``);
    ``loudness_input`` a DI WAV for loudness and gain instead of PANAMA's standard one.
    """
    if nam_version not in ("0.5", "0.7"):
        raise PanamaError(f"nam version {nam_version!r} is not supported", "use 0.5 (all plugins) or 0.7")
    full = model.knob_space.validate_setting(setting or {})
    unit = torch.from_numpy(model.knob_space.to_unit(full).astype(np.float32))
    if isinstance(getattr(model, "net", None), ConvNet):  # NAM's ConvNet: same layout in 0.5.x and 0.7.x
        architecture, config, weights = "ConvNet", model.net.nam_config(), model.net.fold(unit).nam_weights()
    else:
        net = model.net if getattr(model.net, "averaged", False) else _single(model, "nam")
        if isinstance(net, LSTM):
            architecture = "LSTM"
            config, weights = fold_lstm(net, unit)
        else:
            architecture = "WaveNet"
            folded = _folded_wavenet(net, unit)
            layers = [nam_layer_config(layer, nam_version) for layer in folded.config.resolved_layers()]
            config = {"layers": layers, "head": None, "head_scale": float(folded.head_scale)}
            weights = nam_weights(folded)
    return {
        "version": "0.5.4" if nam_version == "0.5" else "0.7.0",
        "architecture": architecture,
        "config": config,
        "weights": weights,
        "sample_rate": int(model.sample_rate),
        "metadata": nam_metadata(model, full, metadata, validation_esr, loudness_input),
    }


class NamExporter:
    """A standard NAM file (WaveNet, ConvNet or LSTM) for one knob setting; the knob term folds into biases."""

    Config = ComponentConfig
    suffix = ".nam"

    def __init__(self, config: ComponentConfig | None = None):
        self.config = config

    def export(self, model: Any, path: Path, setting: KnobSetting | None = None,
               nam_version: Literal["0.5", "0.7"] = "0.5", *, metadata: Mapping[str, Any] | None = None,
               validation_esr: Mapping[str, Any] | float | None = None, loudness_input: str | Path | None = None,
               **options: Any) -> Path:
        _no_options(options, "nam")
        snapshot = nam_snapshot(model, setting, nam_version, metadata=metadata, validation_esr=validation_esr,
                                loudness_input=loudness_input)
        return write_text_atomic(path, json.dumps(snapshot))


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

    def export(self, model: Any, path: Path, setting: KnobSetting | None = None, *,
               metadata: Mapping[str, Any] | None = None, **options: Any) -> Path:
        _no_options(options, "panama")
        net = model.net
        averaged = bool(getattr(net, "averaged", False))
        nets = [net.member(i) for i in range(net.members)] if averaged else [net]
        config = nets[0].config.model_dump()
        if isinstance(nets[0], WaveNet):
            config["layers"] = [layer.model_dump() for layer in nets[0].config.resolved_layers()]
        if averaged:  # the mean of P nets: each net's own tensors (``member_tensors``, no ``tensors``)
            config["average"] = net.members
        payload = {
            "format": PANAMA_FORMAT,
            "version": PANAMA_FORMAT_VERSION,
            "net": model.net_name,
            "config": config,
            "receptive_field": int(net.receptive_field),
            "sample_rate": int(model.sample_rate),
            "knobs": [k.model_dump() for k in model.knob_space],
            "metadata": {"date": _date(), "metrics": _plain_metrics(model.metrics), **user_metadata(metadata),
                         "at_default_setting": calibration(model)},
        }
        tensors = [{name: encode_tensor(t) for name, t in n.state_dict().items()} for n in nets]
        if averaged:
            payload["member_tensors"] = tensors
        else:
            payload["tensors"] = tensors[0]
        return write_text_atomic(path, json.dumps(payload))


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
        with atomic_path(path) as tmp:
            torch.jit.save(scripted, str(tmp), _extra_files=extra)
        return Path(path)


def _no_options(options: dict[str, Any], name: str) -> None:
    options = {k: v for k, v in options.items() if v is not None}
    if options:
        raise PanamaError(f"the {name} exporter takes no option(s) {', '.join(sorted(options))}", "remove them")
