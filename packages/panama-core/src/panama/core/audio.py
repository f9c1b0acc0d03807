"""Audio I/O and the checks NAM users know, each failing with the problem *and* its fix.

Everything here works on mono ``float32`` NumPy arrays. Files go through ``soundfile``;
writes are atomic (temp file in the same folder → fsync → rename → fsync the folder) so a
crash never leaves a half-written WAV under a real name.

Thresholds (documented because tests and users rely on them):

* clipped — at least ``CLIP_COUNT`` samples of flat tops at full scale, between ``CLIP_LEVEL``
  (0.999) and ``FULL_SCALE`` (1.0): a sample equal to its neighbour there. A converter or a
  fixed-point file clips into plateaus at full scale; a float render that merely exceeds 0 dBFS
  (a plugin run hot) keeps its shape, loses nothing and only earns a warning, and flat tops
  *above* full scale can only be the device's own limiter on a float path (Guitarix clamps its
  output at ±3, +9.5 dBFS): that is the sound being captured, not a lost take;
* silent — peak below ``SILENCE_DBFS`` (−70 dBFS);
* required leading silence of an input — ``LEADING_SILENCE_S`` (0.1 s) below
  ``LEADING_SILENCE_DBFS`` (−50 dBFS) before the first sound: it measures the noise floor and
  anchors latency detection;
* validation copies — the two copies of the validation segment in a recording should agree
  within ESR ``VALIDATION_ESR`` (0.01, as NAM); worse is a warning (drift, noise, hum).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from panama.core.errors import PanamaError
from panama.core.faults import crash_point
from panama.core.fsutil import atomic_file

CLIP_LEVEL = 0.999
FULL_SCALE = 1.0 + 1e-6
CLIP_COUNT = 3
SILENCE_DBFS = -70.0
LEADING_SILENCE_S = 0.1
LEADING_SILENCE_DBFS = -50.0
VALIDATION_ESR = 0.01
QUIET_DBFS = -40.0
MAX_LATENCY_S = 0.25
ONSET_FRACTION = 0.1

Segments = Mapping[str, Sequence[int]]


def db_to_amplitude(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def dbfs(value: float) -> float:
    return float(20.0 * np.log10(max(float(value), 1e-12)))


def _seconds(samples: int, sample_rate: int) -> str:
    return f"{samples / sample_rate:.3f} s"


# --------------------------------------------------------------------------------- reading
def read_wav(
    path: str | os.PathLike[str], *, sample_rate: int | None = None, channel: int | None = None
) -> tuple[np.ndarray, int]:
    """Read a WAV (or any libsndfile format) as mono float32.

    A multichannel file needs ``channel`` unless all its channels are identical (a "stereo"
    export of a mono recording): PANAMA never mixes channels behind the user's back.
    """
    import soundfile as sf

    p = Path(path)
    if not p.exists():
        raise PanamaError(f"{p}: no such file", "check the path (relative paths start in the current folder)")
    if p.is_dir():
        raise PanamaError(f"{p} is a folder, not an audio file", "give the path of a .wav file")
    try:
        data, rate = sf.read(str(p), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        reason = str(exc).split(":")[-1].strip() or type(exc).__name__
        raise PanamaError(
            f"{p} is not a readable audio file ({reason})",
            "re-export it as a WAV (mono, 48 kHz, 24-bit or 32-bit float)",
        ) from None
    if data.shape[0] == 0:
        raise PanamaError(f"{p} contains no audio (0 samples)", "record or export it again")
    missing = wav_missing_bytes(p)
    if missing:
        raise PanamaError(
            f"{p} is truncated: its header promises {missing} more bytes of audio than the file holds "
            "(an interrupted copy, download or recording)",
            "copy or export the file again",
        )
    if sample_rate is not None and rate != sample_rate:
        raise PanamaError(
            f"{p} is at {rate} Hz but {sample_rate} Hz is needed (sample-rate mismatch)",
            f"record at {sample_rate} Hz or resample it, e.g. `sox {p.name} -r {sample_rate} out.wav`",
        )
    channels = data.shape[1]
    if channel is not None:
        if not 0 <= channel < channels:
            raise PanamaError(
                f"{p} has {channels} channel(s); channel {channel} does not exist",
                f"choose a channel from 0 to {channels - 1}",
            )
        return np.ascontiguousarray(data[:, channel]), int(rate)
    if channels > 1:
        if all(np.array_equal(data[:, 0], data[:, c]) for c in range(1, channels)):
            return np.ascontiguousarray(data[:, 0]), int(rate)
        loudest = int(np.argmax(np.sqrt(np.mean(np.square(data, dtype=np.float64), axis=0))))
        raise PanamaError(
            f"{p} has {channels} different channels but a mono recording is needed (not mono)",
            f"say which channel to take with --channel N (0 = left, 1 = right; channel "
            f"{loudest} is the loudest), or export the file as mono",
        )
    return np.ascontiguousarray(data[:, 0]), int(rate)


def wav_missing_bytes(path: str | os.PathLike[str]) -> int:
    """How many bytes of its ``data`` chunk a RIFF/WAVE file lacks (0 when whole or not a WAV).

    libsndfile reads a truncated WAV without a word, returning only the samples that are
    there; a half-copied take would then pass as a short recording. A size of 0 or 0xFFFFFFFF
    (streaming writers that never patched the header) and RF64 files are not judged.
    """
    import struct

    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            head = handle.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return 0
            offset = 12
            while offset + 8 <= size:
                handle.seek(offset)
                chunk_id, length = struct.unpack("<4sI", handle.read(8))
                if chunk_id == b"data":
                    if length in (0, 0xFFFFFFFF):
                        return 0
                    return max(0, length - (size - offset - 8))
                offset += 8 + length + (length & 1)
    except OSError:
        return 0
    return 0


# --------------------------------------------------------------------------------- writing
def write_wav_atomic(path: str | os.PathLike[str], y: np.ndarray, sample_rate: int) -> Path:
    """Write mono float32 audio so that ``path`` is either absent or complete, never partial."""
    import soundfile as sf

    target = Path(path)
    data = np.asarray(y, dtype=np.float32).reshape(-1)
    crash_point("wav:before-write")
    with atomic_file(target, before_rename=lambda: crash_point("wav:before-rename")) as handle:
        with sf.SoundFile(handle, "w", samplerate=int(sample_rate), channels=1, subtype="FLOAT", format="WAV") as f:
            half = len(data) // 2
            f.write(data[:half])
            f.flush()
            crash_point("wav:mid-write")
            f.write(data[half:])
    crash_point("wav:after-rename")
    return target


# ---------------------------------------------------------------------------------- checks
def check_finite(y: np.ndarray, *, what: str) -> None:
    bad = ~np.isfinite(y)
    if bad.any():
        first = int(np.argmax(bad))
        raise PanamaError(
            f"{what} contains {int(bad.sum())} NaN/inf sample(s) (first at sample {first})",
            "the device or plugin produced invalid numbers; check it and record again",
        )


def clipped_samples(y: np.ndarray) -> int:
    """Samples on flat tops at full scale (each plateau sample, its first included)."""
    y = np.asarray(y).reshape(-1)
    if y.size < 2:
        return 0
    hot = (np.abs(y) >= CLIP_LEVEL) & (np.abs(y) <= FULL_SCALE)
    flat = np.abs(np.diff(y)) <= 1e-7 * np.maximum(np.abs(y[1:]), 1.0)
    pairs = hot[1:] & hot[:-1] & flat
    on_plateau = np.zeros(y.size, dtype=bool)
    on_plateau[1:] |= pairs
    on_plateau[:-1] |= pairs
    return int(np.count_nonzero(on_plateau))


def check_clipped(y: np.ndarray, *, what: str) -> None:
    count = clipped_samples(y)
    if count >= CLIP_COUNT:
        raise PanamaError(
            f"{what} is clipped: {count} sample(s) flat at full scale (peak {dbfs(np.max(np.abs(y))):+.1f} dBFS)",
            "lower the output level (amp master, plugin output or interface input gain) by a few dB "
            "and record again",
        )


def is_silent(y: np.ndarray, *, axis: int | None = None) -> Any:
    """Whether ``y`` (or each row along ``axis``) peaks below ``SILENCE_DBFS``: the one silence
    test, shared by the label checks and the training loss's weight of muted settings."""
    y = np.asarray(y)
    if y.size == 0:
        return True if axis is None else np.ones(y.shape[:axis] + y.shape[axis + 1:], dtype=bool)
    return np.max(np.abs(y), axis=axis) < db_to_amplitude(SILENCE_DBFS)


def check_not_silent(y: np.ndarray, *, what: str) -> None:
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if is_silent(y):
        raise PanamaError(
            f"{what} is silent (peak {dbfs(peak):.0f} dBFS, below {SILENCE_DBFS:.0f} dBFS)",
            "check that the device is on, its output is connected and the right input is recorded",
        )


def check_same_length(y: np.ndarray, x: np.ndarray, *, sample_rate: int, what: str) -> None:
    if len(y) != len(x):
        diff = len(y) - len(x)
        raise PanamaError(
            f"{what} is {_seconds(len(y), sample_rate)} long but the input is "
            f"{_seconds(len(x), sample_rate)} (unequal lengths: differs by {diff / sample_rate:+.3f} s, "
            f"{diff:+d} samples)",
            "record the whole input from its first sample and trim the recording to the input's length",
        )


TAKE_SLACK_S = 0.01


def check_take_length(
    y: np.ndarray, length: int, latency: int, *, sample_rate: int, what: str, max_extra_s: float | None = TAKE_SLACK_S
) -> None:
    """A take recorded with the input must cover it: ``latency + length`` samples, give or take
    ``TAKE_SLACK_S``. Shorter would be zero-padded into a label the device never produced;
    longer than ``max_extra_s`` past that (``None``: any) is a different or untrimmed file."""
    expected = int(latency) + int(length)
    slack = int(TAKE_SLACK_S * sample_rate)
    if len(y) < expected - slack:
        raise PanamaError(
            f"{what} is too short: it ends {(expected - len(y)) / sample_rate:.3f} s before the input does "
            f"({_seconds(len(y), sample_rate)} recorded, the input is {_seconds(length, sample_rate)} plus "
            f"{latency} samples of latency; unequal lengths)",
            "record the whole input.wav, starting the recording before playback",
        )
    if max_extra_s is not None and len(y) > expected + int(max_extra_s * sample_rate):
        raise PanamaError(
            f"{what} is {(len(y) - expected) / sample_rate:.3f} s longer than the input "
            f"({_seconds(len(y), sample_rate)} recorded, the input is {_seconds(length, sample_rate)} plus "
            f"{latency} samples of latency; unequal lengths)",
            "trim the recording to the input's length (keep its start), or check that it is a take of this "
            "capture's input.wav",
        )


def leading_silence(x: np.ndarray, *, threshold_dbfs: float = LEADING_SILENCE_DBFS) -> int:
    """Number of samples before the first one louder than ``threshold_dbfs``."""
    loud = np.abs(x) > db_to_amplitude(threshold_dbfs)
    return int(np.argmax(loud)) if loud.any() else len(x)


def check_input(x: np.ndarray, *, sample_rate: int, what: str = "input") -> list[str]:
    """Checks for a reamp input (generated or the user's own): returns soft warnings."""
    check_finite(x, what=what)
    check_not_silent(x, what=what)
    check_clipped(x, what=what)
    need = round(LEADING_SILENCE_S * sample_rate)
    have = leading_silence(x)
    if have < need:
        raise PanamaError(
            f"{what} starts with only {1000 * have / sample_rate:.0f} ms of silence; at least "
            f"{1000 * LEADING_SILENCE_S:.0f} ms below {LEADING_SILENCE_DBFS:.0f} dBFS is required before "
            "the first sound",
            "prepend silence (e.g. `sox in.wav out.wav pad 0.5`) or generate an input with `panama signal`",
        )
    warnings = []
    if len(x) < 2 * sample_rate:
        warnings.append(f"{what} is only {_seconds(len(x), sample_rate)} long; models learn little from it")
    return warnings


def check_output(
    y: np.ndarray,
    x: np.ndarray | None = None,
    *,
    sample_rate: int,
    what: str = "recording",
    segments: Segments | None = None,
    silence_ok: bool = False,
) -> list[str]:
    """Hard checks (raise ``PanamaError``) and soft ones (returned as warning strings).

    Hard: NaN/inf, unequal length to ``x``, clipped, silent. Soft: quiet output, DC offset,
    the two validation copies disagreeing (needs ``segments`` from the signal's input.json).
    ``silence_ok``: silence is a warning, for a source that renders rather than records (a
    plugin whose master knob is at zero *is* silent there; a recording that silent is a cable).
    """
    y = np.asarray(y)
    check_finite(y, what=what)
    if x is not None:
        check_same_length(y, x, sample_rate=sample_rate, what=what)
    check_clipped(y, what=what)
    warnings: list[str] = []
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if silence_ok and is_silent(y):
        return [f"{what} is silent (peak {dbfs(peak):.0f} dBFS): the device mutes at this setting, and the "
                "model learns that"]
    check_not_silent(y, what=what)
    if peak > 1.0:
        warnings.append(f"{what} peaks above full scale ({dbfs(peak):+.1f} dBFS) without clipping; fine for a "
                        "float render, but a file written as 16/24-bit would clip")
    if peak < db_to_amplitude(QUIET_DBFS):
        warnings.append(f"{what} is quiet (peak {dbfs(peak):.0f} dBFS); raise the level for a better signal-to-noise ratio")
    dc = float(np.mean(y, dtype=np.float64))
    if abs(dc) > 0.01:
        warnings.append(f"{what} has a DC offset of {dc:+.3f}; the model will learn it")
    if segments and "validation_start" in segments and "validation_end" in segments:
        a0, a1 = segments["validation_start"]
        b0, b1 = segments["validation_end"]
        if a1 - a0 == b1 - b0 and b1 <= len(y):
            first, second = y[a0:a1], y[b0:b1]
            if np.any(first):
                value = esr(second, first)
                if value > VALIDATION_ESR:
                    warnings.append(
                        f"{what}: the two validation copies differ (ESR {value:.3g} > {VALIDATION_ESR}); "
                        "the device drifted, is noisy or the recording has dropouts"
                    )
    return warnings


# ------------------------------------------------------------------------- latency and align
def find_blips(x: np.ndarray, sample_rate: int, *, count: int = 2) -> list[int]:
    """Positions of the first ``count`` isolated peaks after the leading silence.

    For ``panama signal`` inputs these are the two latency blips (the signal's input.json
    names them exactly; this is the fallback for inputs that come without it).
    """
    onset = leading_silence(x)
    if onset >= len(x):
        raise PanamaError("the input is silent, so it has no blips to measure latency with",
                          "use an input made by `panama signal`")
    window = np.abs(x[onset : onset + int(0.3 * sample_rate)])
    gap = max(1, int(0.01 * sample_rate))
    picks: list[int] = []
    order = np.argsort(window)[::-1]
    for idx in order:
        if all(abs(int(idx) - p) > gap for p in picks):
            picks.append(int(idx))
        if len(picks) == count:
            break
    return sorted(onset + p for p in picks)


def detect_latency(
    x: np.ndarray,
    y: np.ndarray,
    sample_rate: int,
    *,
    blips: Sequence[int] | None = None,
    max_latency_s: float = MAX_LATENCY_S,
) -> int:
    """Delay of ``y`` behind ``x`` in samples, measured on the signal's blips.

    Each blip's neighbourhood in ``x`` is cross-correlated with ``y`` over lags 0…max; a lag
    must explain *every* blip (the score is the minimum over blips), which rejects a loud
    guitar note that happens to line up with one of them. The reported lag is the earliest one
    whose score reaches ``ONSET_FRACTION`` of the best, i.e. the onset of the response rather
    than the peak of a filtered impulse response: over-estimating latency would ask a causal
    model to predict the future. A pure delay is recovered exactly; a device with a low-pass
    (e.g. the sim's cabinet) shows its first couple of samples of group delay on top.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    positions = list(blips) if blips else find_blips(np.asarray(x), sample_rate)
    max_lag = int(max_latency_s * sample_rate)
    before, after = 8, 64
    scores = []
    from scipy.signal import correlate

    for p in positions:
        a, b = max(0, p - before), min(len(x), p + after)
        xw = x[a:b]
        seg = y[a : b + max_lag]
        if len(seg) < len(xw) + max_lag:
            seg = np.pad(seg, (0, len(xw) + max_lag - len(seg)))
        scores.append(np.abs(correlate(seg, xw, mode="valid", method="fft")) / (np.linalg.norm(xw) + 1e-12))
    score = np.min(np.stack(scores), axis=0)
    best = int(np.argmax(score))
    first = min(positions)
    floor_region = y[: max(0, first - before)]
    noise = float(np.sqrt(np.mean(np.square(floor_region)))) if floor_region.size else 0.0
    if score[best] < max(1e-5, 6.0 * noise):
        raise PanamaError(
            f"no response to the latency blips within {1000 * max_latency_s:.0f} ms "
            f"(response {dbfs(score[best]):.0f} dB, noise floor {dbfs(noise):.0f} dBFS)",
            "check the routing (the recording must contain the device's answer to input.wav) and that "
            "recording starts before playback",
        )
    lag = best
    lo = max(0, best - 32)
    hits = np.nonzero(score[lo : best + 1] >= ONSET_FRACTION * score[best])[0]
    if hits.size:
        lag = lo + int(hits[0])
    return int(lag)


def align(y: np.ndarray, latency: int, length: int) -> np.ndarray:
    """Shift ``y`` earlier by ``latency`` samples and cut or zero-pad it to ``length``."""
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    if latency < 0:
        y = np.concatenate([np.zeros(-latency, dtype=np.float32), y])
    else:
        y = y[latency:]
    if len(y) >= length:
        return np.ascontiguousarray(y[:length])
    return np.concatenate([y, np.zeros(length - len(y), dtype=np.float32)])


# ----------------------------------------------------------------------------------- metrics
def mse(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean squared error, in float64 (the one definition; ``study.heldout`` and the checks use it)."""
    diff = np.asarray(pred, dtype=np.float64) - np.asarray(target, dtype=np.float64)
    return float(np.mean(np.square(diff)))


def esr(pred: np.ndarray, target: np.ndarray) -> float:
    """Error-to-signal ratio, NAM's headline metric: mean((ŷ−y)²) / mean(y²).

    The power is floored at 1e-20, so a silent target gives 0 for a silent prediction and a
    huge but finite number otherwise (it stays valid JSON).
    """
    energy = float(np.mean(np.square(np.asarray(target, dtype=np.float64))))
    return mse(pred, target) / max(energy, 1e-20)
