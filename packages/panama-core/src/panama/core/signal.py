"""The reamp signal every knob setting is labelled with (``panama signal``).

Layout (48 kHz mono float32; positions are stored as ``segments`` and saved as input.json):

    silence | blip_1 … blip_2 | silence | validation_start | sweeps (3 levels) | noise |
    guitar | validation_end | tail

* Leading silence measures the noise floor; two single-sample blips measure latency (and
  must agree, which catches dropouts).
* The validation segment is rendered once and placed at the start *and* at the end: the two
  copies of a recording must agree (drift, noise) and the slice is held out for validation.
* Log sweeps at −24, −12 and −3 dBFS show the device's level-dependent frequency response;
  white/pink noise bursts at random levels fill the spectrum.
* Synthetic guitar (Karplus–Strong plucked strings with pick brightness and a pickup comb):
  single notes, power chords, strummed open chords, palm-muted (damped) notes and a
  crescendo, at velocities from pianissimo to hard picking.

Everything is drawn from ``numpy.random.default_rng(seed)``: the same preset and seed give the
same samples on every machine. Vectorised: each string is rendered one *period* at a time.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from panama.core.errors import PanamaError

SAMPLE_RATE = 48_000
BLIP_LEVEL = 0.5

# Durations in seconds. quick ≈ 20 s, full ≈ 3 min, tiny ≈ 3 s (for tests).
PRESETS: dict[str, dict[str, float]] = {
    "tiny": dict(silence=0.25, blip_gap=0.05, after_blips=0.3, validation=0.3, sweep=0.25, noise=0.25, guitar=1.0, tail=0.05),
    "quick": dict(silence=0.5, blip_gap=0.1, after_blips=0.4, validation=2.0, sweep=1.5, noise=1.5, guitar=9.0, tail=0.25),
    "full": dict(silence=0.5, blip_gap=0.1, after_blips=0.4, validation=9.0, sweep=6.0, noise=8.0, guitar=134.0, tail=0.5),
}
SWEEP_LEVELS_DBFS = (-24.0, -12.0, -3.0)
# Open strings E2 A2 D3 G3 B3 E4 (Hz).
STRINGS = (82.41, 110.0, 146.83, 196.0, 246.94, 329.63)
# Open-chord shapes as frets per string (None = not played): E, A, D, G, C, Em, Am.
CHORDS = (
    (0, 2, 2, 1, 0, 0),
    (None, 0, 2, 2, 2, 0),
    (None, None, 0, 2, 3, 2),
    (3, 2, 0, 0, 0, 3),
    (None, 3, 2, 0, 1, 0),
    (0, 2, 2, 0, 0, 0),
    (None, 0, 2, 2, 1, 0),
)


@dataclass
class ReampSignal:
    """Audio plus the named sample ranges ``(start, stop)`` of its parts."""

    audio: np.ndarray
    sample_rate: int
    segments: dict[str, tuple[int, int]] = field(default_factory=dict)
    preset: str = "custom"
    seed: int = 0

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate

    @property
    def blips(self) -> list[int]:
        return [self.segments[k][0] for k in ("blip_1", "blip_2") if k in self.segments]

    def metadata(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "seed": self.seed,
            "sample_rate": self.sample_rate,
            "length": len(self.audio),
            "segments": {k: [int(a), int(b)] for k, a, b in ((k, *v) for k, v in self.segments.items())},
        }

    def save(self, path: str | Path) -> Path:
        """Write ``path`` (WAV) and its segments next to it (same name, ``.json``), atomically."""
        from panama.core.audio import write_wav_atomic
        from panama.core.fsutil import write_json_atomic

        target = Path(path)
        write_wav_atomic(target, self.audio, self.sample_rate)
        write_json_atomic(target.with_suffix(".json"), self.metadata())
        return target


def load_segments(path: str | Path) -> dict[str, tuple[int, int]]:
    """Segments from an input.json (empty when there is none, e.g. a user's own WAV)."""
    p = Path(path)
    if not p.exists():
        return {}
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        return {k: (int(v[0]), int(v[1])) for k, v in data.get("segments", {}).items()}
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise PanamaError(f"{p} is not a valid signal description ({exc})", "delete it or regenerate the input") from None


# ------------------------------------------------------------------------------- synthesis
def _fade(n: int, sample_rate: int, ms: float = 5.0) -> np.ndarray:
    env = np.ones(n)
    k = min(n // 2, int(sample_rate * ms / 1000))
    if k > 0:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, k))
        env[:k] = ramp
        env[n - k :] = ramp[::-1]
    return env


def log_sweep(duration: float, sample_rate: int, level_dbfs: float, f0: float = 20.0, f1: float = 20_000.0) -> np.ndarray:
    n = int(duration * sample_rate)
    f1 = min(f1, 0.45 * sample_rate)
    t = np.arange(n) / sample_rate
    rate = math.log(f1 / f0)
    phase = 2 * np.pi * f0 * duration / rate * (np.exp(t / duration * rate) - 1.0)
    return 10 ** (level_dbfs / 20) * np.sin(phase) * _fade(n, sample_rate)


def noise_bursts(duration: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """White and pink bursts (50–300 ms) at random levels from −30 to −12 dBFS RMS."""
    total = int(duration * sample_rate)
    out = np.zeros(total)
    pos = 0
    while pos < total:
        n = min(total - pos, int(rng.uniform(0.05, 0.3) * sample_rate))
        white = rng.standard_normal(n)
        if rng.random() < 0.5:  # pink: 1/sqrt(f) amplitude in the frequency domain
            spec = np.fft.rfft(white)
            spec[1:] /= np.sqrt(np.arange(1, len(spec)))
            spec[0] = 0
            white = np.fft.irfft(spec, n)
        white /= np.sqrt(np.mean(white**2)) + 1e-12
        out[pos : pos + n] = 10 ** (rng.uniform(-30, -12) / 20) * white * _fade(n, sample_rate, 3.0)
        pos += n + int(0.03 * sample_rate)
    return np.clip(out, -0.9, 0.9)


def pluck(
    freq: float,
    duration: float,
    sample_rate: int,
    rng: np.random.Generator,
    *,
    velocity: float = 0.7,
    decay_s: float = 3.0,
    pickup: float = 0.2,
) -> np.ndarray:
    """One plucked string (Karplus–Strong), rendered a period at a time.

    ``velocity`` scales the pluck and its brightness (a harder pick has more highs);
    ``decay_s`` is the T60 (short for a palm-muted note); ``pickup`` places the pickup as a
    fraction of the string, which adds the comb filtering of a real guitar pickup.
    """
    from scipy.signal import lfilter

    period = max(2, round(sample_rate / freq - 0.5))
    total = max(period, int(duration * sample_rate))
    # Excitation: noise, low-passed less for harder picks.
    pole = 0.9 - 0.5 * velocity
    excitation = lfilter([1 - pole], [1, -pole], rng.uniform(-1, 1, period))
    excitation -= excitation.mean()
    gain = 10 ** (-3 * (period / sample_rate) / decay_s)
    blocks = -(-total // period)
    y = np.zeros(blocks * period + 1)  # y[0] is the zero before the first sample
    y[1 : period + 1] = excitation
    for k in range(1, blocks):
        s = 1 + k * period
        y[s : s + period] = gain * 0.5 * (y[s - period : s] + y[s - period - 1 : s - 1])
    y = y[1 : total + 1]
    shift = max(1, int(pickup * period))
    y[shift:] -= 0.6 * y[:-shift].copy()
    return velocity * y / (np.max(np.abs(y)) + 1e-12) * _fade(total, sample_rate, 4.0)


def _fret(string: int, fret: int) -> float:
    return STRINGS[string] * 2 ** (fret / 12)


def _event(kind: str, rng: np.random.Generator, sample_rate: int, velocity: float) -> np.ndarray:
    if kind == "damped":
        string = int(rng.integers(0, 3))
        return pluck(_fret(string, int(rng.integers(0, 8))), rng.uniform(0.08, 0.2), sample_rate, rng,
                     velocity=velocity, decay_s=0.12)
    if kind == "note":
        string = int(rng.integers(0, 6))
        return pluck(_fret(string, int(rng.integers(0, 13))), rng.uniform(0.25, 0.9), sample_rate, rng,
                     velocity=velocity, decay_s=rng.uniform(1.5, 4.0))
    duration = rng.uniform(0.5, 1.4)
    if kind == "power":
        root_string, fret = int(rng.integers(0, 2)), int(rng.integers(0, 10))
        voices = [(root_string, fret), (root_string + 1, fret + 2), (root_string + 2, fret + 2)]
        strum = 0.004
    else:  # chord
        shape = CHORDS[int(rng.integers(0, len(CHORDS)))]
        voices = [(s, f) for s, f in enumerate(shape) if f is not None]
        if rng.random() < 0.5:  # upstroke
            voices = voices[::-1]
        strum = rng.uniform(0.006, 0.02)
    n = int(duration * sample_rate)
    out = np.zeros(n)
    for i, (string, fret) in enumerate(voices):
        start = int(i * strum * sample_rate)
        tone = pluck(_fret(string, fret), duration - i * strum, sample_rate, rng,
                     velocity=velocity * rng.uniform(0.8, 1.0), decay_s=rng.uniform(2.0, 4.0))
        out[start : start + len(tone)] += tone[: n - start]
    return out


def guitar(duration: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A phrase of notes, power chords, chords and damped notes with varied dynamics."""
    total = int(duration * sample_rate)
    kinds = ("note", "power", "chord", "damped")
    parts: list[np.ndarray] = []
    length = 0
    index = 0
    while length < total:
        if index % 9 == 8:  # a crescendo of damped notes: dynamics from soft to hard
            for velocity in np.linspace(0.1, 1.0, 6):
                parts.append(_event("damped", rng, sample_rate, float(velocity)))
        else:
            kind = kinds[int(rng.choice(4, p=[0.35, 0.25, 0.25, 0.15]))]
            parts.append(_event(kind, rng, sample_rate, float(rng.uniform(0.15, 1.0))))
        parts.append(np.zeros(int(rng.uniform(0.0, 0.06) * sample_rate)))
        length += len(parts[-2]) + len(parts[-1])
        index += 1
    out = np.concatenate(parts)[:total]
    # Pickup inductance into the cable's capacitance: a gentle high cut, as on a real DI.
    from scipy.signal import butter, sosfilt

    out = sosfilt(butter(2, 4_000.0, fs=sample_rate, output="sos"), out)
    out *= _fade(total, sample_rate, 10.0)
    return 0.7 * out / (np.max(np.abs(out)) + 1e-12)


def make_signal(preset: str = "quick", sample_rate: int = SAMPLE_RATE, seed: int = 0) -> ReampSignal:
    """Build the reamp signal for ``preset`` (tiny | quick | full), reproducibly from ``seed``."""
    if preset not in PRESETS:
        raise PanamaError(f"unknown signal preset {preset!r}", f"choose one of: {', '.join(PRESETS)}")
    if sample_rate < 16_000:
        raise PanamaError(f"sample rate {sample_rate} Hz is too low", "use 48000 Hz (44100 Hz and up work)")
    p = PRESETS[preset]
    rng = np.random.default_rng(seed)
    sr = sample_rate

    def samples(seconds: float) -> np.ndarray:
        return np.zeros(round(seconds * sr))

    blip_block = samples(p["blip_gap"] + 1.0 / sr)
    blip_block[0] = blip_block[-1] = BLIP_LEVEL
    validation = guitar(p["validation"], sr, np.random.default_rng([seed, 1]))
    pieces: list[tuple[str, np.ndarray]] = [
        ("silence", samples(p["silence"])),
        ("blips", blip_block),
        ("gap", samples(p["after_blips"])),
        ("validation_start", validation),
    ]
    for name, level in zip(("sweep_low", "sweep_mid", "sweep_high"), SWEEP_LEVELS_DBFS, strict=True):
        pieces.append((name, log_sweep(p["sweep"], sr, level)))
    pieces += [
        ("noise", noise_bursts(p["noise"], sr, rng)),
        ("guitar", guitar(p["guitar"], sr, rng)),
        ("validation_end", validation.copy()),
        ("tail", samples(p["tail"])),
    ]
    segments: dict[str, tuple[int, int]] = {}
    pos = 0
    for name, piece in pieces:
        segments[name] = (pos, pos + len(piece))
        pos += len(piece)
    b0 = segments["blips"][0]
    segments["blip_1"] = (b0, b0 + 1)
    segments["blip_2"] = (segments["blips"][1] - 1, segments["blips"][1])
    segments["sweeps"] = (segments["sweep_low"][0], segments["sweep_high"][1])
    segments["train"] = (segments["validation_start"][1], segments["validation_end"][0])
    audio = np.concatenate([piece for _, piece in pieces]).astype(np.float32)
    return ReampSignal(audio=audio, sample_rate=sr, segments=segments, preset=preset, seed=seed)
