"""A model's ``loudness`` and ``gain`` at one knob setting, as NAM's trainer defines them.

NAM's plugin reads both from a ``.nam`` file's metadata: ``loudness`` drives its output
normalisation (it turns every model to the same level), ``gain`` is shown to users as how
much drive / compression the model has. The definitions (NAM's trainer, ``_metadata_loudness``
and ``_metadata_gain``):

* ``loudness``: the RMS of the model's output, in dB (``20·log10``), when it plays a standard
  one-second guitar DI at unit gain, from silence (the input is padded at the start).
* ``gain``: the same DI played at 11 input levels ``0, 0.1, …, 1``; with ``r_i`` the output RMS
  (linear) at level ``i``, a model that follows its input linearly has ``Σ r_i = 5.5·r_10``
  (a triangle under the curve) and one that compresses everything to one level has
  ``Σ r_i = 11·r_10`` (a square); ``gain`` is where ``Σ r_i`` falls between the two, clipped
  to [0, 1].

NAM plays its own recorded DI clip; PANAMA plays a synthetic one (:func:`standard_input`: a
second of plucked-string guitar from :mod:`panama.core.signal`, seed 0) set to the same RMS
level as NAM's clip (−15.0 dBFS). The definition is the same, so a linear model gets the same
numbers and a driven one comes within a fraction of a dB (the test suite checks the
functions against NAM's own code on NAM's clip).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

# RMS level of NAM's standard loudness input (its resource ``loudness_input.wav``), in dBFS.
STANDARD_RMS_DBFS = -15.0
STANDARD_SECONDS = 1.0
STANDARD_SEED = 0
# Input levels of the gain measurement: 0, 0.1, …, 1.
GAIN_LEVELS = np.linspace(0.0, 1.0, 11)

# ``play(x[B, T]) -> y[B, T]``: the model at one setting, from silence, same length out.
Play = Callable[[np.ndarray], np.ndarray]


@lru_cache(maxsize=4)
def _standard_input(sample_rate: int) -> np.ndarray:
    from panama.core.signal import guitar

    x = guitar(STANDARD_SECONDS, sample_rate, np.random.default_rng(STANDARD_SEED))
    x *= 10 ** (STANDARD_RMS_DBFS / 20) / np.sqrt(np.mean(x**2))
    x = x.astype(np.float32)
    x.setflags(write=False)
    return x


def standard_input(sample_rate: int) -> np.ndarray:
    """The standard DI clip at ``sample_rate`` (read-only float32, −15 dBFS RMS)."""
    return _standard_input(int(sample_rate))


def rms(y: np.ndarray) -> np.ndarray:
    """RMS over the last axis, in float64."""
    return np.sqrt(np.mean(np.square(np.asarray(y, dtype=np.float64)), axis=-1))


def loudness_db(y: np.ndarray) -> float:
    """NAM's ``loudness`` of one output: ``20·log10(RMS)`` (−inf for silence is floored at −300)."""
    return float(20.0 * np.log10(max(float(rms(y)), 1e-15)))


def gain_from_levels(levels: np.ndarray) -> float:
    """NAM's ``gain`` from the output RMS at input levels 0, 0.1, …, 1 (linear, 11 values)."""
    r = np.asarray(levels, dtype=np.float64).reshape(-1)
    if r.shape[0] != GAIN_LEVELS.shape[0]:
        raise ValueError(f"gain needs {GAIN_LEVELS.shape[0]} levels, got {r.shape[0]}")
    square = r[-1] * len(r)
    triangle = 0.5 * square
    if square - triangle <= 0:  # a silent model has no gain to speak of
        return 0.0
    return float(np.clip((r.sum() - triangle) / (square - triangle), 0.0, 1.0))


def measure(play: Play, x: np.ndarray) -> tuple[float, float]:
    """``(loudness, gain)`` of a model (``play``) on the DI ``x``: one batch of 11 levels."""
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    batch = (GAIN_LEVELS[:, None] * x[None, :]).astype(np.float32)
    y = np.asarray(play(batch), dtype=np.float64)
    levels = rms(y)
    return loudness_db(y[-1]), gain_from_levels(levels)

DESCRIPTION = (f"PANAMA's standard DI: {STANDARD_SECONDS:g} s of synthetic guitar (panama.core.signal, seed "
               f"{STANDARD_SEED}) at {STANDARD_RMS_DBFS:g} dBFS RMS, NAM's input level")
