"""A complete PANAMA label source in one file: a two-knob fuzz pedal.

Drop this file into ``$PANAMA_HOME/extensions/`` (default ``~/.panama/extensions/``) and it is a
labeler: ``panama labelers inspect fuzz`` lists its knobs, ``panama run my-fuzz --labeler fuzz``
captures it. Swap the DSP in ``label`` for a robot that turns real knobs, a hardware
controller or another simulator — the rest stays the same.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfilt

from panama.core import Knob, KnobSpace
from panama.core.hookspecs import hookimpl
from panama.core.protocols import BaseLabelSource, ComponentConfig


class FuzzPedal(BaseLabelSource):
    """A hard-clipping fuzz with a tone control."""

    class Config(ComponentConfig):
        output_db: float = -6.0  # `--labeler fuzz:output_db=-3` sets it

    def knob_space(self) -> KnobSpace:
        return KnobSpace(knobs=(
            Knob(name="fuzz", minimum=0, maximum=10, default=5),
            Knob(name="tone", minimum=0, maximum=10, default=5),
        ))

    def label(self, x: np.ndarray, sample_rate: int, setting: dict[str, float]) -> np.ndarray:
        drive = 10 ** (setting["fuzz"] * 4 / 10)            # 0 … 40 dB of gain
        y = np.clip(drive * x, -1.0, 1.0)                   # the fuzz
        cutoff = 500 * 2 ** (setting["tone"] * 0.5)         # 500 Hz … 16 kHz
        sos = butter(2, min(cutoff, 0.45 * sample_rate), fs=sample_rate, output="sos")
        return (10 ** (self.config.output_db / 20)) * sosfilt(sos, y)


@hookimpl
def register_label_sources(register):
    register("fuzz", FuzzPedal, "A two-knob fuzz pedal (example extension)")
