"""Training data as plain arrays: one input signal and one output per labelled setting.

``panama.core.capture.store``'s ``CaptureData`` has the same fields, so a capture's dataset goes
straight into :func:`panama.core.train.fit`. No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from panama.core.errors import PanamaError
from panama.core.knobs import KnobSetting


@dataclass
class TrainingData:
    """``x[T]`` input, ``y[N, T]`` outputs, ``knobs[N, K]`` normalised settings in [0, 1].

    ``x`` may also be ``[N, T]``: one input per output (NAM-style configs with several input
    files); all must be equally long.
    """

    x: np.ndarray
    y: np.ndarray
    knobs: np.ndarray
    sample_rate: int
    settings: list[KnobSetting] = field(default_factory=list)

    def __post_init__(self) -> None:
        x = np.asarray(self.x, dtype=np.float32)
        self.x = np.ascontiguousarray(x if x.ndim == 2 else x.reshape(-1))
        self.y = np.ascontiguousarray(np.atleast_2d(np.asarray(self.y, dtype=np.float32)))
        knobs = np.asarray(self.knobs, dtype=np.float32)
        n = self.y.shape[0]
        self.knobs = np.ascontiguousarray(knobs.reshape(n, -1) if knobs.size else np.zeros((n, 0), np.float32))
        if self.y.shape[0] == 0:
            raise PanamaError("no labelled settings to train on", "label at least one setting first")
        if self.x.ndim == 2 and self.x.shape[0] != self.y.shape[0]:
            raise PanamaError(f"{self.x.shape[0]} inputs for {self.y.shape[0]} outputs", "give one input per output, or one for all")
        if self.y.shape[1] != self.x.shape[-1]:
            raise PanamaError(
                f"outputs have {self.y.shape[1]} samples but the input has {self.x.shape[-1]}",
                "every output must be aligned to the input and of the same length",
            )
        if self.knobs.shape[0] != self.y.shape[0]:
            raise PanamaError(f"{self.knobs.shape[0]} knob vectors for {self.y.shape[0]} outputs", "give one per output")
        if not (np.isfinite(self.x).all() and np.isfinite(self.y).all() and np.isfinite(self.knobs).all()):
            raise PanamaError("training data contains NaN or infinite values", "check the recordings")

    @property
    def length(self) -> int:
        return int(self.x.shape[-1])

    def input_for(self, index: int) -> np.ndarray:
        return self.x[index] if self.x.ndim == 2 else self.x

    @property
    def num_settings(self) -> int:
        return int(self.y.shape[0])

    @property
    def num_knobs(self) -> int:
        return int(self.knobs.shape[1])

    @classmethod
    def of(cls, data: Any) -> TrainingData:
        """Accept a ``TrainingData`` or anything with the same fields (e.g. ``CaptureData``)."""
        if isinstance(data, TrainingData):
            return data
        return cls(x=data.x, y=data.y, knobs=data.knobs, sample_rate=int(data.sample_rate),
                   settings=list(getattr(data, "settings", []) or []))

    def subset(self, index: np.ndarray | list[int]) -> TrainingData:
        index = list(map(int, index))
        settings = [self.settings[i] for i in index] if self.settings else []
        x = self.x[index] if self.x.ndim == 2 else self.x
        return TrainingData(x, self.y[index], self.knobs[index], self.sample_rate, settings)

    def split(self, fraction: float, seed: int) -> tuple[TrainingData, TrainingData | None]:
        """Hold out ``fraction`` of the settings (at least one, and only with 3+ settings)."""
        n = self.num_settings
        if fraction <= 0 or n < 3:
            return self, None
        n_val = min(n - 1, max(1, round(fraction * n)))
        order = np.random.default_rng(seed).permutation(n)
        return self.subset(np.sort(order[n_val:])), self.subset(np.sort(order[:n_val]))


def from_streams(
    xs: list[np.ndarray], ys: list[np.ndarray], knobs: np.ndarray, sample_rate: int, settings: list[KnobSetting], context: int,
) -> TrainingData:
    """Entries of any lengths (NAM's ConcatDataset) as one :class:`TrainingData`.

    Equal lengths are kept as they are. Otherwise every entry is cut into pieces as long as
    the shortest entry, consecutive pieces overlapping by ``context`` (the net's receptive field
    − 1) so that every output sample of every entry is a target in some piece; the last piece
    ends at the entry's end. Each entry thus stays its own stream, and since segments are drawn
    uniformly over pieces, longer entries weigh more, as in NAM's ConcatDataset.
    """
    lengths = [len(y) for y in ys]
    if len(set(lengths)) == 1:
        same_x = all(np.array_equal(x, xs[0]) for x in xs)
        return TrainingData(xs[0] if same_x else np.stack(xs), np.stack(ys), knobs, sample_rate, settings)
    piece = min(lengths)
    hop = piece - context
    if hop < 1:
        raise PanamaError(f"the shortest entry has {piece} samples, no more than the net's receptive field ({context + 1})",
                          "use longer entries or a smaller net")
    px, py, pk, ps = [], [], [], []
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        starts = list(range(0, len(y) - piece + 1, hop))
        if starts[-1] != len(y) - piece:
            starts.append(len(y) - piece)
        for s in starts:
            px.append(x[s : s + piece])
            py.append(y[s : s + piece])
            pk.append(knobs[i])
            if settings:
                ps.append(settings[i])
    return TrainingData(np.stack(px), np.stack(py), np.stack(pk), sample_rate, ps)
