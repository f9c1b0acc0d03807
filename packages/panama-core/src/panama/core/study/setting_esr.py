"""The validation ESR to expect from a model at any knob setting, from what the capture measured.

A ``.nam`` snapshot carries the ESR at its setting (NAM's ``training.validation_esr``), but a
snapshot's setting is seldom one that was recorded. So, in order of trust:

1. a recorded setting (labelled or held out): the ESR measured there, on the reamp signal's
   validation segment (audio that training never saw);
2. otherwise, when ``panama evaluate`` has run: the ESR at the nearest held-out setting it scored;
3. otherwise: the ESR measured at the nearest recorded setting (optimistic: training saw that
   setting, if not that audio).

Every answer says which of these it is and how far (in normalised knob units) the setting was.
Measurements are made lazily, once per recording.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from panama.core.knobs import KnobSetting

EXACT = 1e-6


class ExpectedError:
    """``at(setting)`` → ``{"esr", "basis", "distance"}`` for one model on one capture."""

    def __init__(self, capture: Any, model: Any) -> None:
        from panama.core.study.heldout import EVALUATION_FILE, capture_audio, capture_root, read_evaluation

        self.capture, self.model = capture, model
        self.space = capture.knob_space
        self.audio = capture_audio(capture)
        self.recorded = list(capture.labels()) + list(capture.holdout_labels())
        self.recorded_unit = self.space.to_unit_array([label.setting for label in self.recorded])
        self.heldout: list[tuple[np.ndarray, float]] = []
        path = capture_root(capture) / EVALUATION_FILE
        if path.exists():
            evaluation = read_evaluation(path)
            self.heldout = [(np.asarray(s.unit, dtype=float), float(s.esr)) for s in evaluation.scores]
        self._measured: dict[int, float] = {}

    def measured(self, position: int) -> float:
        """The model's ESR against recording ``position`` on the validation audio (cached)."""
        if position not in self._measured:
            from panama.core.study.heldout import recorded_targets, score_settings

            settings, targets = recorded_targets(self.capture, self.audio, [self.recorded[position]])
            self._measured[position] = score_settings(self.model.predict, targets, self.audio, settings, self.space)[0].esr
        return self._measured[position]

    def at(self, setting: KnobSetting) -> dict[str, Any] | None:
        """What to expect at ``setting``; ``None`` when nothing was recorded."""
        unit = self.space.to_unit(setting)
        nearest_recorded, recorded_distance = _nearest(self.recorded_unit, unit)
        what = self.audio.description
        if nearest_recorded is not None and recorded_distance < EXACT:
            return {"esr": self.measured(nearest_recorded), "basis": f"measured at this setting on {what}",
                    "distance": 0.0}
        if self.heldout:
            index, distance = _nearest(np.array([u for u, _ in self.heldout]), unit)
            assert index is not None
            return {"esr": self.heldout[index][1], "basis": "nearest held-out setting scored by panama evaluate",
                    "distance": round(distance, 4)}
        if nearest_recorded is None:
            return None
        return {"esr": self.measured(nearest_recorded), "basis": f"nearest recorded setting, on {what}",
                "distance": round(recorded_distance, 4)}


def _nearest(points: np.ndarray, unit: np.ndarray) -> tuple[int | None, float]:
    if len(points) == 0:
        return None, float("inf")
    distances = np.sqrt(np.sum((np.asarray(points, dtype=float) - unit[None, :]) ** 2, axis=1))
    index = int(np.argmin(distances))
    return index, float(distances[index])
