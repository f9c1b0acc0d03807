"""Checks for a take recorded from a real device: what to retake before it becomes a label.

Hard problems (NaN, clipping, silence, wrong length — ``panama.core.audio.check_output``) make a
take unusable. Soft ones (quiet, DC offset, dropouts reported by the driver, a latency that
moved, the two validation copies disagreeing) are worth a retake but may be accepted.

The drift check needs to know where the reamp signal's two identical validation copies are.
The label source only gets the input samples, so :func:`find_repeat` finds them there: the
copies are bit-identical, which ordinary audio never is, so exact matches of a probe window
locate them without any metadata (an input without a repeated stretch just skips this check).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

VALIDATION_ESR = 0.01  # NAM's threshold for the two validation copies
MIN_REPEAT_S = 0.1
PROBE = 256
PROBES = 100


@dataclass
class TakeReport:
    """What the checks found; ``hard`` makes the take unusable, ``soft`` asks the user."""

    hard: str | None = None
    soft: list[str] = field(default_factory=list)
    drift_esr: float | None = None

    @property
    def ok(self) -> bool:
        return self.hard is None and not self.soft


def find_repeat(x: np.ndarray, sample_rate: int) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """The two bit-identical copies in ``x`` (first, second) as (start, stop) pairs, or None."""
    x = np.asarray(x, dtype=np.float32)
    min_len = int(MIN_REPEAT_S * sample_rate)
    loud = np.flatnonzero(np.abs(x[: max(0, len(x) - PROBE)]) > 1e-3)
    if len(loud) == 0 or len(x) < 2 * min_len:
        return None
    for p in loud[np.linspace(0, len(loud) - 1, min(PROBES, len(loud))).astype(int)]:
        probe = x[p : p + PROBE]
        for q in np.flatnonzero(x == x[p]):
            if abs(int(q) - int(p)) < min_len or q + PROBE > len(x) or not np.array_equal(x[q : q + PROBE], probe):
                continue
            a, b = sorted((int(p), int(q)))
            d = b - a
            same = x[:-d] == x[d:]  # same[i]: x[i] == x[i + d]
            start = a - int(np.argmin(same[a::-1])) + 1 if not same[: a + 1].all() else 0
            stop = a + int(np.argmin(same[a:])) if not same[a:].all() else len(same)
            while start < stop and x[start] == 0.0:
                start += 1
            while stop > start and x[stop - 1] == 0.0:
                stop -= 1
            if stop - start >= min_len:
                return (start, stop), (start + d, stop + d)
    return None


def drift_esr(y: np.ndarray, repeat: tuple[tuple[int, int], tuple[int, int]]) -> float | None:
    """ESR between the recording's two validation copies (None if it does not cover them)."""
    (a0, a1), (b0, b1) = repeat
    if b1 > len(y):
        return None
    first, second = np.asarray(y[a0:a1], np.float64), np.asarray(y[b0:b1], np.float64)
    energy = float(np.mean(first**2))
    if energy <= 0:
        return None
    return float(np.mean((second - first) ** 2) / energy)


def raw_problem(y: np.ndarray, sample_rate: int, *, what: str) -> str | None:
    """A hard problem visible before alignment (NaN, clipping, silence), so a dead take says
    "silent" rather than "no response to the latency blips"."""
    from panama.core import audio
    from panama.core.errors import PanamaError

    try:
        audio.check_output(y, sample_rate=sample_rate, what=what)
    except PanamaError as exc:
        return str(exc)
    return None


def check_take(x: np.ndarray, aligned: np.ndarray, sample_rate: int, *, what: str,
               repeat: tuple[tuple[int, int], tuple[int, int]] | None,
               max_drift_esr: float = VALIDATION_ESR) -> TakeReport:
    """Run the audio checks on an aligned take (same length as ``x``)."""
    from panama.core import audio
    from panama.core.errors import PanamaError

    report = TakeReport()
    try:
        report.soft.extend(audio.check_output(aligned, x, sample_rate=sample_rate, what=what))
    except PanamaError as exc:
        report.hard = str(exc)
        return report
    if repeat is not None:
        report.drift_esr = drift_esr(aligned, repeat)
        if report.drift_esr is not None and report.drift_esr > max_drift_esr:
            report.soft.append(
                f"{what}: the two validation copies differ (ESR {report.drift_esr:.3g} > {max_drift_esr:g}); "
                "the amp drifted, is noisy or the recording has dropouts"
            )
    return report
