"""Registers PANAMA's label sources by ``--labeler`` scheme (lazy targets)."""

from __future__ import annotations

from typing import Any

from panama.core.hookspecs import hookimpl


@hookimpl
def register_label_sources(register: Any) -> None:
    register("sim", "panama.amps.sim:SimAmp", "Built-in deterministic 6-knob tube amp simulator (no hardware needed)")
    register(
        "pedalboard",
        "panama.amps.chain:PedalboardChain",
        "Knob-driven chain of pedalboard's built-in effects (distortion, EQ, compressor)",
    )
