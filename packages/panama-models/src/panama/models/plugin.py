"""Registers PANAMA's nets and exporters (lazy targets: discovery imports no torch)."""

from __future__ import annotations

from panama.core.hookspecs import Register, hookimpl


@hookimpl
def register_nets(register: Register) -> None:
    register("wavenet", "panama.models.wavenet:WaveNet", "NAM A1 WaveNet with a per-layer knob term (presets nano … standard)")
    register("lstm", "panama.models.lstm:LSTM", "LSTM with the knob vector concatenated to the input at every step")
    register("convnet", "panama.models.convnet:ConvNet", "NAM's ConvNet (dilated kernel-2 blocks) with a per-block knob term")


@hookimpl
def register_exporters(register: Register) -> None:
    register("nam", "panama.models.exporters:NamExporter", "standard .nam snapshot at one knob setting (NAM 0.5.x or 0.7.x layout)")
    register("panama", "panama.models.exporters:PanamaExporter", "whole parametric model with knob names/ranges (JSON, torch-free)")
    register("torchscript", "panama.models.exporters:TorchScriptExporter", "TorchScript module taking (audio, knobs)")
