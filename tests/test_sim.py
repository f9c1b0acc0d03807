"""The built-in amp ``sim`` and the ``pedalboard`` chain: knobs matter, gain distorts,
determinism, speed, and the tone-stack model behaves like the circuit."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from capture_helpers import SR
from panama.amps.sim import KNOBS, SimAmp, render, tone_stack, tone_stack_analog
from panama.core.components import open_label_source
from panama.core.errors import PanamaError
from panama.core.plugins import get_registry
from panama.core.signal import make_signal

# A knob "changes the output measurably" when turning it from 0.1 to 0.9 (others at 0.5) moves
# at least one octave band (62.5 Hz … 8 kHz, Welch spectrum of the tiny signal) by ≥ 1.5 dB.
BAND_THRESHOLD_DB = 1.5


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return make_signal("tiny").audio


def octave_bands_db(y: np.ndarray) -> np.ndarray:
    from scipy.signal import welch

    f, p = welch(y, SR, nperseg=4096)
    lows = 62.5 * 2.0 ** np.arange(8)
    return np.array([10 * np.log10(p[(f >= lo) & (f < 2 * lo)].mean() + 1e-20) for lo in lows])


def thd(y: np.ndarray, f0: float) -> float:
    """Total harmonic distortion (harmonics 2–10 over the fundamental) of a steady tone."""
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    k = round(f0 * len(y) / SR)

    def peak(h: int) -> float:
        return float(spectrum[h * k - 2 : h * k + 3].max())

    return float(np.sqrt(sum(peak(h) ** 2 for h in range(2, 11))) / peak(1))


@pytest.mark.parametrize("knob", KNOBS)
def test_each_sim_knob_changes_the_output_measurably(x: np.ndarray, knob: str) -> None:
    amp = SimAmp()
    low = amp.label(x, SR, {knob: 0.1})
    high = amp.label(x, SR, {knob: 0.9})
    difference = np.abs(octave_bands_db(high) - octave_bands_db(low))
    assert difference.max() >= BAND_THRESHOLD_DB, f"{knob}: largest band change {difference.max():.2f} dB"


def test_the_tone_knobs_act_where_they_should(x: np.ndarray) -> None:
    amp = SimAmp()
    diff = {k: octave_bands_db(amp.label(x, SR, {k: 0.9})) - octave_bands_db(amp.label(x, SR, {k: 0.1}))
            for k in ("bass", "treble", "presence")}
    assert diff["bass"][:2].mean() > 2.0 > abs(diff["bass"][-2:].mean())  # lows up, highs alone
    assert diff["treble"][-3:].mean() > 3.0 > abs(diff["treble"][:2].mean())
    assert diff["presence"][-3:].mean() > 1.0 > abs(diff["presence"][:3].mean())


def test_harmonic_distortion_rises_with_gain() -> None:
    t = np.arange(SR // 2) / SR
    tone = (10 ** (-24 / 20) * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    amp = SimAmp()
    values = [thd(amp.label(tone, SR, {"gain": g})[SR // 4 :], 440) for g in np.linspace(0, 1, 6)]
    assert all(b > a for a, b in itertools.pairwise(values)), values
    assert values[-1] > 20 * values[0]


def test_same_setting_gives_bit_identical_output(x: np.ndarray) -> None:
    setting = {"gain": 0.73, "bass": 0.2, "mid": 0.9, "treble": 0.4, "master": 0.6, "presence": 0.8}
    first = SimAmp().label(x, SR, setting)
    second = SimAmp().label(x.copy(), SR, dict(setting))
    assert first.dtype == np.float32 and len(first) == len(x)
    assert np.array_equal(first, second)


def test_corners_stay_finite_and_unclipped(x: np.ndarray) -> None:
    snippet = x[: SR]
    peaks = []
    for corner in itertools.product((0.0, 1.0), repeat=len(KNOBS)):
        y = render(snippet, SR, dict(zip(KNOBS, corner, strict=True)))
        assert np.all(np.isfinite(y))
        peaks.append(float(np.max(np.abs(y))))
    assert max(peaks) < 0.999 and min(peaks) > 10 ** (-70 / 20)


def test_sim_renders_well_faster_than_real_time(x: np.ndarray) -> None:
    """A loose sanity bound for a shared 2-core CI box; benchmarks/sim_speed.py measures ≥ 50×."""
    amp = SimAmp()
    amp.label(x, SR, {})
    start = time.perf_counter()
    amp.label(x, SR, {})
    elapsed = time.perf_counter() - start
    assert len(x) / SR / elapsed > 5.0


def test_tone_stack_matches_the_circuit() -> None:
    from scipy.signal import freqs, freqz

    hz = np.array([100.0, 500.0, 1000.0, 5000.0])
    # All pots at zero: the passive stack only loses level (well below −14 dB everywhere).
    _, h0 = freqs(*tone_stack_analog(0.0, 0.0, 0.0), worN=2 * np.pi * hz)
    assert np.all(20 * np.log10(np.abs(h0)) < -14)
    # Mid-scoop at noon: 500 Hz sits below both 100 Hz and 5 kHz.
    _, hm = freqs(*tone_stack_analog(0.5, 0.5, 0.5), worN=2 * np.pi * hz)
    db = 20 * np.log10(np.abs(hm))
    assert db[1] < db[0] - 5 and db[1] < db[3] - 3
    # The bilinear transform (pre-warped at 1 kHz) matches the analog response there.
    _, hd = freqz(*tone_stack(0.5, 0.5, 0.5, SR), worN=hz, fs=SR)
    assert abs(20 * np.log10(abs(hd[2])) - db[2]) < 0.05


def test_sim_validates_knobs_and_options(x: np.ndarray) -> None:
    amp = SimAmp()
    with pytest.raises(PanamaError, match="unknown knob 'volume'"):
        amp.label(x, SR, {"volume": 0.5})
    with pytest.raises(PanamaError, match="out of range"):
        amp.label(x, SR, {"gain": 1.5})
    with pytest.raises(PanamaError, match="input_gain_db"):
        open_label_source("sim", {"input_gain_db": 99})
    louder = open_label_source("sim:input_gain_db=6")
    assert np.max(np.abs(louder.label(x, SR, {}))) > np.max(np.abs(amp.label(x, SR, {})))


def test_both_sources_are_registered_lazily() -> None:
    registry = get_registry()
    for name in ("sim", "pedalboard"):
        component = registry.get("label_source", name)
        assert isinstance(component.target, str) or component.target is not None
        assert component.distribution == "panama-amps"
    with open_label_source("sim") as source:
        assert source.knob_space().names == list(KNOBS)


def test_pedalboard_chain_follows_its_knobs(x: np.ndarray) -> None:
    pytest.importorskip("pedalboard")
    with open_label_source("pedalboard") as chain:
        names = chain.knob_space().names
        assert names == ["gain", "bass", "mid", "treble", "master"]
        base = chain.label(x, SR, {})
        assert np.array_equal(base, chain.label(x, SR, {}))
        assert len(base) == len(x) and np.all(np.isfinite(base))
        for knob in names:
            low, high = chain.label(x, SR, {knob: 0.1}), chain.label(x, SR, {knob: 0.9})
            difference = np.abs(octave_bands_db(high) - octave_bands_db(low))
            assert difference.max() >= BAND_THRESHOLD_DB, knob


def test_listing_plugins_imports_neither_scipy_nor_pedalboard() -> None:
    import json
    import subprocess
    import sys

    code = ("import sys, io, contextlib\nfrom panama.core.cli import run\nbuf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf):\n    run(['plugins', '--json'])\n"
            "print(buf.getvalue())\nprint([m for m in ('scipy', 'pedalboard', 'torch') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    payload, loaded = result.stdout.rsplit("\n", 2)[0], result.stdout.rsplit("\n", 2)[1]
    names = {c["name"] for c in json.loads(payload)["components"] if c["kind"] == "labeler"}
    assert {"sim", "pedalboard"} <= names
    assert loaded == "[]"


def test_oversampling_reduces_aliasing() -> None:
    """A 3.1 kHz tone at full gain: energy away from its harmonics is aliasing (folded back)."""
    f0 = 3_100.0
    t = np.arange(SR // 2) / SR
    tone = (0.3 * np.sin(2 * np.pi * f0 * t)).astype(np.float32)

    def aliasing(y: np.ndarray) -> float:
        y = y[SR // 8 :]
        spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y)))) ** 2
        freqs = np.fft.rfftfreq(len(y), 1 / SR)
        harmonic = np.zeros_like(freqs, dtype=bool)
        for k in range(0, int(SR / 2 / f0) + 1):
            harmonic |= np.abs(freqs - k * f0) < 40
        return float(spectrum[~harmonic & (freqs > 50)].sum() / spectrum.sum())

    setting = {"gain": 1.0, "treble": 1.0, "master": 1.0}
    plain = aliasing(open_label_source("sim").label(tone, SR, setting))
    over = open_label_source("sim:oversample=4").label(tone, SR, setting)
    assert len(over) == len(tone)
    assert aliasing(over) < 0.5 * plain
