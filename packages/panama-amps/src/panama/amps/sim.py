"""``sim`` — PANAMA's built-in, deterministic six-knob guitar amp.

The embedded default label source: it lets every part of PANAMA (capture, training, active
learning, export) run anywhere, with no hardware and no plugin. It is a small but honest
circuit-inspired model, so a parametric net has real, knob-dependent nonlinear behaviour to
learn:

    input gain → coupling high-pass
    → V1: gain-driven asymmetric triode stage → coupling high-pass + Miller low-pass
    → V2: second asymmetric triode stage      → coupling high-pass + Miller low-pass
    → cathode follower (soft symmetric clip)
    → passive Fender/Marshall-style TMB tone stack (Yeh & Smith's 3rd-order transfer function of
      the treble/bass/mid pots, bilinear-transformed) → recovery gain
    → master → push-pull power stage (near-odd saturation) with global negative feedback whose
      network is shaped by the presence control (less high-frequency feedback = more presence)
    → output transformer + 4×12 cab roll-off (low resonance, 4th-order high cut)

Knobs: ``gain, bass, mid, treble, master, presence``, all in [0, 1] (the PANAMA paper's
normalised range; 0.5 is the default). Bass and treble drive audio-taper pots.

``oversample=N`` (``--labeler sim:oversample=2``) runs the whole amp at N× the sample rate
with polyphase resampling around it: less aliasing from the clipping stages, N× slower.

Everything is NumPy/SciPy over whole arrays (``sosfilt``/``lfilter`` and ufuncs). The power
stage's feedback loop is a recursion; it is solved by ``FEEDBACK_SWEEPS`` fixed-point sweeps
over the whole signal, starting from the exact small-signal (linear closed-loop) solution; the
loop gain is ≤ 0.7 and the feedback path strictly causal, so each sweep shrinks the remaining
(purely nonlinear) error by a factor ≤ 0.7. The result is a fixed, deterministic function of
input and knobs, which is what a label source must be.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pydantic import Field

from panama.core.knobs import Knob, KnobSetting, KnobSpace
from panama.core.protocols import BaseLabelSource, ComponentConfig

KNOBS = ("gain", "bass", "mid", "treble", "master", "presence")
FEEDBACK_SWEEPS = 6
PUSH_PULL_MISMATCH = 0.05
LOOP_GAIN = 0.7
OUTPUT_SCALE = 0.25

# '59 Bassman 5F6-A tone-stack parts: treble pot R1, bass pot R2, mid pot R3, slope resistor R4.
R1, R2, R3, R4 = 250e3, 1e6, 25e3, 56e3
C1, C2, C3 = 250e-12, 20e-9, 20e-9


def audio_taper(position: float, steepness: float = 3.5) -> float:
    """Log ("A") pot law: the resistance fraction at a given rotation."""
    return float((np.exp(steepness * position) - 1.0) / (np.exp(steepness) - 1.0))


def tone_stack_analog(treble: float, mid: float, bass: float) -> tuple[np.ndarray, np.ndarray]:
    """Analog TMB transfer function H(s) = (b1 s + b2 s² + b3 s³) / (1 + a1 s + a2 s² + a3 s³).

    ``treble``, ``mid``, ``bass`` are wiper fractions in [0, 1]; returns (b, a) in descending
    powers of s. The polynomial coefficients follow the nodal analysis in D. Yeh and J. O. Smith,
    "Discretization of the '59 Fender Bassman tone stack" (DAFx 2006).
    """
    t, m, lo = treble, mid, bass
    b1 = t * C1 * R1 + m * C3 * R3 + lo * (C1 * R2 + C2 * R2) + (C1 * R3 + C2 * R3)
    b2 = (
        t * (C1 * C2 * R1 * R4 + C1 * C3 * R1 * R4)
        - m * m * (C1 * C3 * R3**2 + C2 * C3 * R3**2)
        + m * (C1 * C3 * R1 * R3 + C1 * C3 * R3**2 + C2 * C3 * R3**2)
        + lo * (C1 * C2 * R1 * R2 + C1 * C2 * R2 * R4 + C1 * C3 * R2 * R4)
        + lo * m * (C1 * C3 * R2 * R3 + C2 * C3 * R2 * R3)
        + (C1 * C2 * R1 * R3 + C1 * C2 * R3 * R4 + C1 * C3 * R3 * R4)
    )
    c123 = C1 * C2 * C3
    b3 = c123 * (
        lo * m * (R1 * R2 * R3 + R2 * R3 * R4)
        - m * m * (R1 * R3**2 + R3**2 * R4)
        + m * (R1 * R3**2 + R3**2 * R4)
        + t * R1 * R3 * R4
        - t * m * R1 * R3 * R4
        + t * lo * R1 * R2 * R4
    )
    a1 = (C1 * R1 + C1 * R3 + C2 * R3 + C2 * R4 + C3 * R4) + m * C3 * R3 + lo * (C1 * R2 + C2 * R2)
    a2 = (
        m * (C1 * C3 * R1 * R3 - C2 * C3 * R3 * R4 + C1 * C3 * R3**2 + C2 * C3 * R3**2)
        + lo * m * (C1 * C3 * R2 * R3 + C2 * C3 * R2 * R3)
        - m * m * (C1 * C3 * R3**2 + C2 * C3 * R3**2)
        + lo * (C1 * C2 * R2 * R4 + C1 * C2 * R1 * R2 + C1 * C3 * R2 * R4 + C2 * C3 * R2 * R4)
        + (C1 * C2 * R1 * R4 + C1 * C3 * R1 * R4 + C1 * C2 * R3 * R4 + C1 * C2 * R1 * R3 + C1 * C3 * R3 * R4 + C2 * C3 * R3 * R4)
    )
    a3 = c123 * (
        lo * m * (R1 * R2 * R3 + R2 * R3 * R4)
        - m * m * (R1 * R3**2 + R3**2 * R4)
        + m * (R3**2 * R4 + R1 * R3**2 - R1 * R3 * R4)
        + lo * R1 * R2 * R4
        + R1 * R3 * R4
    )
    return np.array([b3, b2, b1, 0.0]), np.array([a3, a2, a1, 1.0])


def tone_stack(treble: float, mid: float, bass: float, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """The tone stack as a digital filter (bilinear transform, pre-warped at 1 kHz)."""
    from scipy.signal import bilinear

    b, a = tone_stack_analog(treble, mid, bass)
    # Pre-warping: scale s so the analog and digital responses meet at 1 kHz.
    w = 2 * np.pi * 1000.0
    k = w / np.tan(w / (2 * sample_rate)) / (2 * sample_rate)
    scale = k ** np.arange(3, -1, -1)
    bz, az = bilinear(b * scale, a * scale, fs=sample_rate)
    return bz / az[0], az / az[0]


@lru_cache(maxsize=16)
def _fixed_filters(sample_rate: int) -> dict[str, np.ndarray]:
    """Knob-independent filters (second-order sections), designed once per sample rate."""
    from scipy.signal import butter, tf2sos

    def sos(order: int, hz: float, kind: str) -> np.ndarray:
        return butter(order, hz, btype=kind, fs=sample_rate, output="sos")

    def resonant_highpass(hz: float, q: float) -> np.ndarray:
        # RBJ-cookbook high-pass biquad: the cabinet's low resonance.
        w = 2 * np.pi * hz / sample_rate
        alpha = np.sin(w) / (2 * q)
        cw = np.cos(w)
        b = np.array([(1 + cw) / 2, -(1 + cw), (1 + cw) / 2])
        a = np.array([1 + alpha, -2 * cw, 1 - alpha])
        return tf2sos(b / a[0], a / a[0])

    nyq_safe = min(0.45 * sample_rate, 1e9)
    return {
        "input": sos(1, 35.0, "highpass"),
        "stage1": np.vstack([sos(1, 80.0, "highpass"), sos(1, min(9_000.0, nyq_safe), "lowpass")]),
        "stage2": np.vstack([sos(1, 60.0, "highpass"), sos(1, min(6_500.0, nyq_safe), "lowpass")]),
        "speaker": np.vstack([resonant_highpass(90.0, 1.4), sos(4, min(5_000.0, nyq_safe), "lowpass")]),
    }


# The nonlinearities run in float32 (NumPy's SIMD tanh is an order of magnitude faster than
# float64); the filters run in float64, where the tone stack's poles need the precision.
def _triode(v: np.ndarray, bias: float) -> np.ndarray:
    """Asymmetric soft clipper (a biased tanh with unit small-signal gain): even harmonics."""
    tb = float(np.tanh(bias))
    out = np.tanh(v.astype(np.float32) + np.float32(bias))
    out -= np.float32(tb)
    out *= np.float32(1.0 / (1.0 - tb * tb))
    return out


def _push_pull(v: np.ndarray) -> np.ndarray:
    """Push-pull output pair: mostly odd harmonics; a slightly mismatched pair (the small
    offset) lets a little even distortion through, as in a real amp."""
    out = np.tanh(v.astype(np.float32) + np.float32(PUSH_PULL_MISMATCH))
    out -= np.float32(np.tanh(PUSH_PULL_MISMATCH))
    return out


def _db(value: float) -> float:
    return float(10.0 ** (value / 20.0))


class SimAmp(BaseLabelSource):
    """The built-in six-knob amp (gain, bass, mid, treble, master, presence; all 0–1)."""

    class Config(ComponentConfig):
        input_gain_db: float = Field(default=0.0, ge=-24.0, le=24.0, description="gain before the first stage")
        output_db: float = Field(default=0.0, ge=-24.0, le=6.0, description="level trim after the speaker model")
        oversample: int = Field(default=1, ge=1, le=8, description="run the amp at N× the rate (less aliasing, N× slower)")

    deterministic = True
    latency_samples = 0
    config: Config

    def __init__(self, config: Config | None = None) -> None:
        super().__init__(config)

    def knob_space(self) -> KnobSpace:
        return KnobSpace(knobs=tuple(Knob(name=name, minimum=0.0, maximum=1.0, default=0.5) for name in KNOBS))

    def label(self, x: np.ndarray, sample_rate: int, setting: KnobSetting) -> np.ndarray:
        knobs = self.knob_space().validate_setting(setting)
        return render(np.asarray(x), int(sample_rate), knobs, self.config)  # type: ignore[arg-type]


def render(x: np.ndarray, sample_rate: int, knobs: KnobSetting, config: SimAmp.Config | None = None) -> np.ndarray:
    """Run the amp on ``x`` (mono) at ``knobs`` (a validated 0–1 setting); float32 out."""
    from scipy.signal import lfilter, sosfilt

    config = config or SimAmp.Config()
    if config.oversample > 1:
        from scipy.signal import resample_poly

        factor = config.oversample
        inner = config.model_copy(update={"oversample": 1})
        up = resample_poly(np.asarray(x, dtype=np.float64), factor, 1)
        return resample_poly(render(up, sample_rate * factor, knobs, inner), 1, factor).astype(np.float32)[: len(x)]
    f = _fixed_filters(sample_rate)
    gain, master, presence = knobs["gain"], knobs["master"], knobs["presence"]
    v = np.asarray(x, dtype=np.float64) * _db(config.input_gain_db)
    v = sosfilt(f["input"], v)

    # Preamp: two asymmetric stages; the gain knob drives both (−6…+28 dB and +4…+20 dB).
    v = sosfilt(f["stage1"], _triode(v * _db(-6.0 + 34.0 * gain), bias=0.25))
    v = sosfilt(f["stage2"], _triode(v * _db(4.0 + 16.0 * gain), bias=-0.4))
    v = np.tanh(np.float32(0.8) * v.astype(np.float32)) / np.float32(0.8)  # cathode follower

    # Passive tone stack: treble and mid are linear pots, bass an audio-taper pot.
    bz, az = tone_stack(knobs["treble"], knobs["mid"], audio_taper(knobs["bass"]), sample_rate)
    v = lfilter(bz, az, v) * _db(14.0)  # recovery stage makes up the stack's loss

    # Master into the power stage, −30…+6 dB.
    u = v * _db(-30.0 + 36.0 * master)
    y = _power_stage(u, presence, sample_rate)
    y = sosfilt(f["speaker"], y) * (OUTPUT_SCALE * _db(config.output_db))
    return y.astype(np.float32)


def _power_stage(u: np.ndarray, presence: float, sample_rate: int) -> np.ndarray:
    """y = pp(A·(u − β·F(y))) with F = one-sample delay × (1 − 0.95·p·high-pass at 2 kHz).

    Presence removes up to 95 % of the feedback above ~2 kHz, so the closed loop lifts the
    highs (and they distort earlier) — what the presence control does in a real amp.
    """
    from scipy.signal import butter, lfilter

    forward = 2.0
    beta = LOOP_GAIN / forward
    hb, ha = butter(1, 2_000.0, btype="highpass", fs=sample_rate)
    # F(z) = β · (1 − 0.95·p·HP(z)) as one first-order section, delayed by one sample.
    p = 0.95 * presence
    fb_b = beta * (ha - p * hb)
    fb_a = ha
    # Start from the exact small-signal solution: the linear closed loop A / (1 + A·F(z)).
    den = np.array([1.0, fb_a[1] + forward * fb_b[0], forward * fb_b[1]])
    y = _push_pull(lfilter(forward * fb_a, den, u))
    for _ in range(FEEDBACK_SWEEPS):
        fed = lfilter(fb_b, fb_a, y)
        fed = np.concatenate(([0.0], fed[:-1]))
        y = _push_pull(forward * (u - fed))
    return y
