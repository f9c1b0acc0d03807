"""A deliberately broken native label source for the isolation tests.

``gain`` above 0.9 dereferences a null pointer through ctypes (a real SIGSEGV in the worker),
``gain`` below 0.1 never returns (a hang), anything else is a plain gain. ``crash_on_load``
segfaults while "loading the plugin".
"""

from __future__ import annotations

import ctypes
import time
from typing import ClassVar

import numpy as np

from panama.amps.worker import IsolatedConfig, IsolatedLabelSource
from panama.core.knobs import Knob, KnobSetting, KnobSpace


class CrashingConfig(IsolatedConfig):
    crash_on_load: bool = False


def segfault() -> None:
    ctypes.string_at(0)  # reads address 0: SIGSEGV


class CrashingHost:
    def __init__(self, config: CrashingConfig) -> None:
        if config.crash_on_load:
            segfault()

    def knob_space(self) -> KnobSpace:
        return KnobSpace(knobs=(Knob(name="gain", minimum=0.0, maximum=1.0, default=0.5),))

    def label(self, x: np.ndarray, sample_rate: int, setting: KnobSetting) -> np.ndarray:
        if setting["gain"] > 0.9:
            segfault()
        if setting["gain"] < 0.1:
            time.sleep(3600)
        return (setting["gain"] * x).astype(np.float32)

    def close(self) -> None:
        pass


class CrashingAmp(IsolatedLabelSource):
    Config: ClassVar[type[CrashingConfig]] = CrashingConfig
    host_target: ClassVar[str] = "crashing_amp:CrashingHost"
    deterministic: ClassVar[bool] = True

    def describe(self) -> str:
        return "test plugin 'crashing-amp'"
