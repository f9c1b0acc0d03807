"""Registers PANAMA's label sources by ``--labeler`` scheme (lazy targets) and ``panama devices``."""

from __future__ import annotations

from typing import Any

from panama.core.hookspecs import Register, hookimpl


@hookimpl
def register_label_sources(register: Register) -> None:
    register("sim", "panama.amps.sim:SimAmp", "Built-in deterministic 6-knob tube amp simulator (no hardware needed)")
    register(
        "pedalboard",
        "panama.amps.chain:PedalboardChain",
        "Knob-driven chain of pedalboard's built-in effects (distortion, EQ, compressor)",
    )
    register("vst", "panama.amps.vst3:Vst3LabelSource", "Any VST3 plugin through pedalboard: vst:PATH.vst3")
    register("lv2", "panama.amps.lv2:Lv2LabelSource", "Any LV2 plugin through liblilv, e.g. Guitarix amps: lv2:URI")
    register("soundcard", "panama.amps.soundcard:SoundcardLabelSource",
             "A real amp through an audio interface: soundcard[:DEVICE]")
    register("folder", "panama.amps.folder:FolderLabelSource",
             "Offline: record the listed settings anywhere, drop the files in: folder:PATH")


@hookimpl
def register_commands(app: Any) -> None:
    # The command module imports sounddevice only when the command runs.
    from panama.amps.devices import register

    register(app)
