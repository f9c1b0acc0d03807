"""``pedalboard`` — a knob-driven chain of Spotify pedalboard's built-in effects.

A second, independent device for tests and demos (different code, different nonlinearity
from ``sim``):

    Distortion(drive = gain) → LowShelf(bass) → Peak(mid) → HighShelf(treble)
    → Compressor → Gain(master)

Knobs ``gain, bass, mid, treble, master`` are all in [0, 1] (default 0.5): gain maps to
0…40 dB of drive, the three EQ knobs to −12…+12 dB, master to −36…−12 dB of output level
(chosen so that no setting clips). ``pedalboard`` is imported when the source is opened, so
listing plugins never needs it.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from panama.core.errors import PanamaError
from panama.core.knobs import Knob, KnobSetting, KnobSpace
from panama.core.protocols import BaseLabelSource, ComponentConfig

KNOBS = ("gain", "bass", "mid", "treble", "master")


def _span(value: float, low: float, high: float) -> float:
    return low + (high - low) * float(value)


class PedalboardChain(BaseLabelSource):
    """Distortion → 3-band EQ → compressor → level, from pedalboard's built-in effects."""

    class Config(ComponentConfig):
        bass_hz: float = Field(default=120.0, gt=0, description="low-shelf corner")
        mid_hz: float = Field(default=700.0, gt=0, description="mid peak centre")
        treble_hz: float = Field(default=3_000.0, gt=0, description="high-shelf corner")
        threshold_db: float = Field(default=-18.0, le=0, description="compressor threshold")
        ratio: float = Field(default=3.0, ge=1, description="compressor ratio")

    deterministic = True
    latency_samples = 0
    config: Config

    def __init__(self, config: Config | None = None) -> None:
        super().__init__(config)
        try:
            import pedalboard
        except ImportError as exc:
            raise PanamaError(
                "the 'pedalboard' labeler needs the pedalboard package", "pip install 'panama-amps[pedalboard]'"
            ) from exc
        self._pb = pedalboard

    def knob_space(self) -> KnobSpace:
        return KnobSpace(knobs=tuple(Knob(name=name, minimum=0.0, maximum=1.0, default=0.5) for name in KNOBS))

    def board(self, setting: KnobSetting) -> object:
        """The effect chain for a (validated) setting."""
        pb, c = self._pb, self.config
        return pb.Pedalboard(
            [
                pb.Distortion(drive_db=_span(setting["gain"], 0.0, 40.0)),
                pb.LowShelfFilter(cutoff_frequency_hz=c.bass_hz, gain_db=_span(setting["bass"], -12.0, 12.0)),
                pb.PeakFilter(cutoff_frequency_hz=c.mid_hz, gain_db=_span(setting["mid"], -12.0, 12.0), q=0.8),
                pb.HighShelfFilter(cutoff_frequency_hz=c.treble_hz, gain_db=_span(setting["treble"], -12.0, 12.0)),
                pb.Compressor(threshold_db=c.threshold_db, ratio=c.ratio, attack_ms=5.0, release_ms=80.0),
                pb.Gain(gain_db=_span(setting["master"], -36.0, -12.0)),
            ]
        )

    def label(self, x: np.ndarray, sample_rate: int, setting: KnobSetting) -> np.ndarray:
        knobs = self.knob_space().validate_setting(setting)
        audio = np.ascontiguousarray(np.asarray(x, dtype=np.float32).reshape(1, -1))
        y = self.board(knobs)(audio, float(sample_rate))  # type: ignore[operator]
        return np.asarray(y, dtype=np.float32).reshape(-1)
