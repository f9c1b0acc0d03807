"""panama.core.audio: reading, atomic writing, the NAM-style checks, latency and alignment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from capture_helpers import SR, write
from panama.amps.sim import SimAmp
from panama.core import audio
from panama.core.errors import PanamaError
from panama.core.signal import make_signal


@pytest.fixture(scope="module")
def tiny():
    return make_signal("tiny", seed=3)


def test_read_wav_round_trip_and_atomic_write(tmp_path: Path) -> None:
    y = np.linspace(-0.5, 0.5, 1000, dtype=np.float32)
    target = audio.write_wav_atomic(tmp_path / "a.wav", y, SR)
    back, rate = audio.read_wav(target, sample_rate=SR)
    assert rate == SR and back.dtype == np.float32
    assert np.array_equal(back, y)
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"]  # no temp file left


def test_read_wav_pcm16_is_scaled_to_float(tmp_path: Path) -> None:
    write(tmp_path / "p.wav", np.full(100, 0.25), subtype="PCM_16")
    y, _ = audio.read_wav(tmp_path / "p.wav")
    assert y.dtype == np.float32 and abs(float(y[0]) - 0.25) < 1e-4


def test_missing_corrupt_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(PanamaError, match="no such file"):
        audio.read_wav(tmp_path / "nope.wav")
    (tmp_path / "bad.wav").write_bytes(b"RIFF\x00\x00garbage" * 10)
    with pytest.raises(PanamaError, match="not a readable audio file") as info:
        audio.read_wav(tmp_path / "bad.wav")
    assert "re-export it as a WAV" in str(info.value)
    with pytest.raises(PanamaError, match="is a folder"):
        audio.read_wav(tmp_path)


def test_sample_rate_mismatch_names_both_rates(tmp_path: Path) -> None:
    write(tmp_path / "a.wav", np.zeros(100), sr=44_100)
    with pytest.raises(PanamaError, match="44100 Hz but 48000 Hz is needed") as info:
        audio.read_wav(tmp_path / "a.wav", sample_rate=48_000)
    assert "resample" in str(info.value)


def test_stereo_needs_a_channel_unless_channels_are_identical(tmp_path: Path) -> None:
    left, right = np.full(100, 0.1), np.full(100, 0.3)
    sf.write(str(tmp_path / "s.wav"), np.stack([left, right], axis=1), SR)
    with pytest.raises(PanamaError, match="2 different channels") as info:
        audio.read_wav(tmp_path / "s.wav")
    assert "--channel N" in str(info.value) and "channel 1 is the loudest" in str(info.value)
    y, _ = audio.read_wav(tmp_path / "s.wav", channel=1)
    assert np.allclose(y, 0.3, atol=1e-4)
    with pytest.raises(PanamaError, match="channel 2 does not exist"):
        audio.read_wav(tmp_path / "s.wav", channel=2)
    sf.write(str(tmp_path / "d.wav"), np.stack([left, left], axis=1), SR)
    y, _ = audio.read_wav(tmp_path / "d.wav")
    assert np.allclose(y, 0.1, atol=1e-4)


def test_check_output_hard_failures() -> None:
    x = np.zeros(SR, dtype=np.float32)
    good = 0.1 * np.sin(np.arange(SR) / 10).astype(np.float32)
    assert audio.check_output(good, x, sample_rate=SR) == []
    nan = good.copy()
    nan[100] = np.nan
    with pytest.raises(PanamaError, match=r"1 NaN/inf sample\(s\) \(first at sample 100\)"):
        audio.check_output(nan, x, sample_rate=SR)
    with pytest.raises(PanamaError, match=r"differs by -0\.500 s"):
        audio.check_output(good[: SR // 2], x, sample_rate=SR)
    clipped = good.copy()
    clipped[10:20] = 1.0
    with pytest.raises(PanamaError, match="clipped: 10 sample\\(s\\) flat at full scale") as info:
        audio.check_output(clipped, x, sample_rate=SR)
    assert "lower the output level" in str(info.value)
    with pytest.raises(PanamaError, match="is silent"):
        audio.check_output(np.full(SR, 1e-5, dtype=np.float32), x, sample_rate=SR)
    # Two isolated full-scale samples are not clipping (below CLIP_COUNT).
    peaks = good.copy()
    peaks[[5, 500]] = 0.9995
    audio.check_output(peaks, x, sample_rate=SR)


def test_check_output_soft_warnings(tiny) -> None:
    quiet = 0.001 * np.sin(np.arange(SR) / 10)
    assert any("quiet" in w for w in audio.check_output(quiet, sample_rate=SR))
    assert any("DC offset" in w for w in audio.check_output(quiet + 0.05, sample_rate=SR))
    # A float render run hot (+6 dB, smooth) is not clipped, only flagged; flat tops are.
    hot = 2.0 * np.sin(2 * np.pi * 110 * np.arange(SR) / SR)
    assert any("above full scale (+6.0 dBFS) without clipping" in w for w in audio.check_output(hot, sample_rate=SR))
    with pytest.raises(PanamaError, match="flat at full scale"):
        audio.check_output(np.clip(hot, -1, 1), sample_rate=SR)
    # A plugin's own limiter above full scale (Guitarix clamps at ±3) is the sound, not a lost take.
    limited = np.clip(4.0 * np.sin(2 * np.pi * 110 * np.arange(SR) / SR), -3, 3)
    assert audio.clipped_samples(limited) == 0
    assert any("above full scale" in w for w in audio.check_output(limited, sample_rate=SR))
    y = tiny.audio.copy()
    assert audio.check_output(y, sample_rate=SR, segments=tiny.segments) == []
    a, b = tiny.segments["validation_end"]
    y[a:b] *= 0.5  # the device drifted by 6 dB between the two copies
    warnings = audio.check_output(y, sample_rate=SR, segments=tiny.segments)
    assert any("validation copies differ" in w for w in warnings)


def test_check_input_requires_leading_silence(tiny) -> None:
    assert audio.check_input(tiny.audio, sample_rate=SR) == []
    late = tiny.audio[int(0.2 * SR):]
    with pytest.raises(PanamaError, match=r"starts with only 50 ms of silence; at least 100 ms") as info:
        audio.check_input(late, sample_rate=SR, what="my.wav")
    assert "prepend silence" in str(info.value)


@pytest.mark.parametrize("delay", [0, 1, 123, 4800])
def test_detect_latency_recovers_a_pure_delay_exactly(tiny, delay: int) -> None:
    y = np.concatenate([np.zeros(delay, np.float32), 0.3 * tiny.audio])[: len(tiny.audio)]
    assert audio.detect_latency(tiny.audio, y, SR, blips=tiny.blips) == delay
    assert audio.detect_latency(tiny.audio, y, SR) == delay  # blips found without input.json


def test_detect_latency_recovers_123_samples_applied_to_the_sim(tiny) -> None:
    x = tiny.audio
    for setting in ({"gain": 0.1}, {"gain": 0.9, "treble": 1.0}, {"master": 1.0, "bass": 0.0}):
        y = SimAmp().label(x, SR, setting)
        own = audio.detect_latency(x, y, SR, blips=tiny.blips)
        delayed = np.concatenate([np.zeros(123, np.float32), y])[: len(x)]
        found = audio.detect_latency(x, delayed, SR, blips=tiny.blips)
        # The applied delay is recovered to within one sample; the sim's own cabinet low-pass
        # adds a couple of samples of group delay to the onset (its digital latency is 0).
        assert abs((found - own) - 123) <= 1
        assert abs(found - 123) <= 3
        assert np.array_equal(audio.align(delayed, found - own, len(x))[: len(x) - 200], y[: len(x) - 200])


def test_detect_latency_ignores_noise_and_rejects_no_response(tiny) -> None:
    rng = np.random.default_rng(0)
    x = tiny.audio
    y = np.concatenate([np.zeros(300, np.float32), 0.5 * x])[: len(x)] + 1e-3 * rng.standard_normal(len(x))
    assert audio.detect_latency(x, y, SR, blips=tiny.blips) == 300
    with pytest.raises(PanamaError, match="no response to the latency blips"):
        audio.detect_latency(x, 1e-3 * rng.standard_normal(len(x)), SR, blips=tiny.blips)


def test_align_shifts_and_pads() -> None:
    y = np.arange(10, dtype=np.float32)
    assert audio.align(y, 3, 10).tolist() == [3, 4, 5, 6, 7, 8, 9, 0, 0, 0]
    assert audio.align(y, -2, 5).tolist() == [0, 0, 0, 1, 2]
    assert audio.align(y, 0, 4).tolist() == [0, 1, 2, 3]


def test_esr_and_mse() -> None:
    target = np.array([1.0, -1.0, 1.0, -1.0])
    assert audio.mse(target, target) == 0.0
    assert audio.esr(0.5 * target, target) == pytest.approx(0.25)
    assert audio.mse(target + 1.0, target) == pytest.approx(1.0)
