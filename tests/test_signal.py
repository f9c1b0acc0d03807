"""The reamp signal: layout, levels, reproducibility and the `panama signal` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from capture_helpers import SR, one_line
from panama.core import audio
from panama.core.cli import run
from panama.core.signal import BLIP_LEVEL, SWEEP_LEVELS_DBFS, make_signal


@pytest.fixture(scope="module")
def quick():
    return make_signal("quick")


def test_presets_have_the_promised_lengths(quick) -> None:
    assert 18.0 <= quick.duration <= 22.0
    assert 2.5 <= make_signal("tiny").duration <= 4.0
    assert quick.sample_rate == 48_000 and quick.audio.dtype == np.float32


@pytest.mark.slow
def test_full_preset_is_about_three_minutes() -> None:
    full = make_signal("full")
    assert 170.0 <= full.duration <= 190.0
    assert audio.check_input(full.audio, sample_rate=SR) == []


def test_same_seed_same_samples_other_seed_other_guitar(quick) -> None:
    assert np.array_equal(quick.audio, make_signal("quick", seed=0).audio)
    other = make_signal("quick", seed=1)
    a, b = quick.segments["guitar"]
    assert not np.array_equal(quick.audio[a:b], other.audio[a:b])


def test_layout_silence_blips_and_validation_copies(quick) -> None:
    x, seg = quick.audio, quick.segments
    assert audio.check_input(x, sample_rate=SR) == []
    assert not np.any(x[: seg["silence"][1]])
    b1, b2 = quick.blips
    assert x[b1] == pytest.approx(BLIP_LEVEL) and x[b2] == pytest.approx(BLIP_LEVEL)
    assert np.count_nonzero(x[seg["blips"][0] : seg["gap"][1]]) == 2  # nothing else near the blips
    assert audio.find_blips(x, SR) == [b1, b2]
    a0, a1 = seg["validation_start"]
    c0, c1 = seg["validation_end"]
    assert a1 - a0 == c1 - c0 and np.array_equal(x[a0:a1], x[c0:c1])
    assert seg["validation_start"][0] < seg["train"][0] < seg["train"][1] <= seg["validation_end"][0]
    assert np.max(np.abs(x)) < audio.CLIP_LEVEL


def test_sweeps_at_three_levels_and_noise(quick) -> None:
    x, seg = quick.audio, quick.segments
    for name, level in zip(("sweep_low", "sweep_mid", "sweep_high"), SWEEP_LEVELS_DBFS, strict=True):
        a, b = seg[name]
        assert audio.dbfs(np.max(np.abs(x[a:b]))) == pytest.approx(level, abs=0.1)
        spectrum = np.abs(np.fft.rfft(x[a:b]))
        freqs = np.fft.rfftfreq(b - a, 1 / SR)
        assert spectrum[(freqs > 50) & (freqs < 100)].mean() > 0.1 * spectrum[(freqs > 1000) & (freqs < 2000)].mean()
        assert spectrum[(freqs > 8000) & (freqs < 12000)].max() > 0  # reaches the highs
    a, b = seg["noise"]
    assert audio.dbfs(np.sqrt(np.mean(x[a:b] ** 2))) > -35


def test_guitar_has_dynamics(quick) -> None:
    a, b = quick.segments["guitar"]
    g = quick.audio[a:b]
    frames = g[: len(g) // 2400 * 2400].reshape(-1, 2400)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    loud = rms[rms > 1e-4]
    assert audio.dbfs(loud.max()) - audio.dbfs(np.percentile(loud, 10)) > 15  # soft and hard playing
    # Pitched content: most energy below 2 kHz, fundamental range of a guitar present.
    spectrum = np.abs(np.fft.rfft(g)) ** 2
    freqs = np.fft.rfftfreq(len(g), 1 / SR)
    assert spectrum[(freqs > 70) & (freqs < 2000)].sum() > 0.6 * spectrum.sum()


def test_cli_writes_wav_and_segments(tmp_path: Path) -> None:
    out = tmp_path / "sig.wav"
    assert run(["signal", str(out), "--preset", "tiny", "--seed", "5"]) == 0
    y, rate = audio.read_wav(out)
    expected = make_signal("tiny", seed=5)
    assert rate == SR and np.array_equal(y, expected.audio)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["segments"]["blip_1"] == list(expected.segments["blip_1"])
    assert meta["preset"] == "tiny" and meta["seed"] == 5


def test_cli_rejects_bad_arguments_before_writing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["signal", str(tmp_path / "s.wav"), "--preset", "huge"]) == 2
    assert "unknown signal preset 'huge'" in one_line(capsys.readouterr().err)
    assert run(["signal", str(tmp_path / "s.flac"), "--preset", "tiny"]) == 2
    assert "ending in .wav" in one_line(capsys.readouterr().err)
    assert run(["signal", str(tmp_path / "no" / "s.wav"), "--preset", "tiny"]) == 2
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "s.wav").write_bytes(b"keep")
    assert run(["signal", str(tmp_path / "s.wav"), "--preset", "tiny"]) == 2
    assert "already exists" in one_line(capsys.readouterr().err)
    assert (tmp_path / "s.wav").read_bytes() == b"keep"
