"""Held-out evaluation: the metric core on real signals, then `panama evaluate` end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.signal import lfilter

from panama.core.audio import esr
from panama.core.errors import PanamaError
from panama.core.fsutil import write_json_atomic
from panama.core.knobs import Knob, KnobSpace
from panama.core.study.heldout import (
    EvalAudio,
    draw_heldout_settings,
    file_audio,
    label_targets,
    make_evaluation,
    read_evaluation,
    render_evaluation,
    score_settings,
    signal_audio,
    summarise,
    validation_range,
)

SR = 8000
SPACE = KnobSpace.of("gain", "tone", Knob(name="level", minimum=-12, maximum=0, default=-6, unit="dB"))


def toy_amp(x: np.ndarray, setting: dict[str, float]) -> np.ndarray:
    """A small real 'device': drive into tanh, a one-pole tone filter, an output level."""
    drive = 1.0 + 20.0 * setting["gain"]
    y = np.tanh(drive * x)
    a = 0.05 + 0.9 * setting["tone"]
    y = lfilter([1 - a], [1, -a], y)
    return (10 ** (setting["level"] / 20) * y).astype(np.float32)


def guitarish(seconds: float = 0.5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    tone = sum(np.sin(2 * np.pi * f * t) / (i + 1) for i, f in enumerate((110, 220, 330, 440)))
    return (0.3 * tone * np.exp(-3 * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def test_heldout_settings_are_seeded_in_range_and_distinct_from_labelled():
    labelled = draw_heldout_settings(SPACE, 5, seed=3)
    a = draw_heldout_settings(SPACE, 20, seed=3, exclude=labelled)
    b = draw_heldout_settings(SPACE, 20, seed=3, exclude=labelled)
    assert a == b
    assert a != draw_heldout_settings(SPACE, 20, seed=4, exclude=labelled)
    for s in a:
        assert SPACE.validate_setting(s) == s
        assert -12 <= s["level"] <= 0
    # the same seed would have drawn the labelled points first; they must be skipped
    assert not any(s in labelled for s in a)
    units = SPACE.to_unit_array(a)
    assert len({tuple(u) for u in units}) == 20
    # not the plain uniform stream of the same integer seed (what a random sampler may use)
    assert not np.allclose(units[0], np.random.default_rng(3).random(3))
    with pytest.raises(PanamaError):
        draw_heldout_settings(SPACE, 0)


def test_validation_segment_with_context_and_fallbacks():
    x = guitarish(1.0)
    segments = {"blips": [10, 20], "validation_start": [4000, 6000], "validation_end": [7000, 7900]}
    assert validation_range(segments, x.size) == (4000, 6000)
    audio = signal_audio(x, SR, segments, context=1000)
    assert audio.offset == 3000 and audio.score_from == 1000 and audio.scored_length == 2000
    np.testing.assert_array_equal(audio.x, x[3000:6000])
    # context never reaches before the start of the signal
    assert signal_audio(x, SR, {"validation": [500, 900]}, context=1000).score_from == 500
    whole = signal_audio(x, SR, None)
    assert whole.scored_length == x.size and "whole" in whole.description
    assert validation_range({"validation_start": [0, 10**9]}, x.size) is None


def test_label_source_against_itself_scores_exactly_zero():
    audio = signal_audio(guitarish(1.0), SR, {"validation_start": [2000, 6000]}, context=500)
    settings = draw_heldout_settings(SPACE, 8, seed=0)
    targets = label_targets(toy_amp, audio, settings)
    scores = score_settings(toy_amp, targets, audio, settings, SPACE)
    assert [s.mse for s in scores] == [0.0] * 8
    assert [s.esr for s in scores] == [0.0] * 8
    assert all(s.grade == "great" for s in scores)
    summary = summarise(scores)
    assert summary.mse.max == 0.0 and summary.esr.p90 == 0.0


def test_wrong_model_scores_badly_and_ranking_points_at_the_worst_setting():
    audio = file_audio(guitarish(0.5), SR, "di.wav")
    settings = draw_heldout_settings(SPACE, 12, seed=1)
    targets = label_targets(toy_amp, audio, settings)

    def ignores_the_knobs(x, setting):  # a model that learned one setting only
        return toy_amp(x, {"gain": 0.5, "tone": 0.5, "level": -6.0})

    scores = score_settings(ignores_the_knobs, targets, audio, settings, SPACE)
    summary = summarise(scores, worst=3)
    assert summary.esr.mean > 0.1 and summary.mse.mean > 1e-4
    worst = max(scores, key=lambda s: s.esr)
    assert summary.worst[0] == worst.index and len(summary.worst) == 3
    assert summary.esr.min <= summary.esr.median <= summary.esr.p90 <= summary.esr.max
    assert scores[summary.typical].esr == pytest.approx(summary.esr.median, rel=0.5)

    # an inverted output: ESR is 4 (the error is twice the signal), independent of loudness
    inverted = score_settings(lambda x, s: -toy_amp(x, s), targets, audio, settings, SPACE)
    assert [s.esr for s in inverted] == pytest.approx([4.0] * 12)
    assert all(s.grade == "poor" for s in inverted)


def test_shorter_unpadded_model_output_is_end_aligned():
    """A net without start padding returns T - rf + 1 samples ending with the input."""
    audio = signal_audio(guitarish(1.0), SR, {"validation_start": [3000, 5000]}, context=1000)
    settings = draw_heldout_settings(SPACE, 2, seed=0)
    targets = label_targets(toy_amp, audio, settings)
    scores = score_settings(lambda x, s: toy_amp(x, s)[700:], targets, audio, settings, SPACE)
    assert all(s.mse == 0.0 for s in scores)
    with pytest.raises(PanamaError, match="scored"):
        score_settings(lambda x, s: toy_amp(x, s)[1500:], targets, audio, settings, SPACE)


def test_non_finite_prediction_is_a_clear_error():
    audio = file_audio(guitarish(0.2), SR, "di.wav")
    settings = draw_heldout_settings(SPACE, 1, seed=0)
    targets = label_targets(toy_amp, audio, settings)
    with pytest.raises(PanamaError, match="not finite"):
        score_settings(lambda x, s: x * np.nan, targets, audio, settings, SPACE)


def test_esr_of_silence():
    assert esr(np.zeros(4), np.zeros(4)) == 0.0
    assert math.isfinite(esr(np.ones(4), np.zeros(4))) and esr(np.ones(4), np.zeros(4)) > 1e6


def test_evaluation_json_round_trip_and_table(tmp_path):
    from rich.console import Console

    audio = file_audio(guitarish(0.3), SR, "di.wav")
    settings = draw_heldout_settings(SPACE, 6, seed=0)
    targets = label_targets(toy_amp, audio, settings)
    scores = score_settings(lambda x, s: 0.9 * toy_amp(x, s), targets, audio, settings, SPACE)
    evaluation = make_evaluation(scores, audio=audio, seed=0, source="toy", model="x", knob_space=SPACE)
    path = write_json_atomic(tmp_path / "evaluation.json", evaluation.model_dump(), allow_nan=False)
    data = json.loads(path.read_text())
    assert data["summary"]["settings"] == 6 and len(data["scores"]) == 6
    assert data["knobs"] == ["gain", "tone", "level"]
    assert all(s["esr"] == pytest.approx(0.01) for s in data["scores"])
    assert read_evaluation(path) == evaluation
    assert [p.name for p in tmp_path.iterdir()] == ["evaluation.json"]  # no temp file left

    console = Console(record=True, width=140)
    render_evaluation(evaluation, console)
    text = console.export_text()
    assert "Held-out evaluation" in text and "Worst settings" in text and "level" in text
    with pytest.raises(PanamaError, match="panama evaluate"):
        read_evaluation(tmp_path / "missing.json")


def test_eval_audio_shorter_than_context_is_rejected():
    audio = EvalAudio(np.zeros(100, np.float32), 50, SR, "x")
    with pytest.raises(PanamaError):
        score_settings(lambda x, s: x[:10], [np.zeros(50)], audio, [{"gain": 0.1}], KnobSpace.of("gain"))


# ------------------------------------------------------------------ end to end on the sim
def _sim():
    from panama.core.components import open_label_source

    return open_label_source("sim")


@pytest.mark.slow
def test_sim_against_itself_is_exactly_zero_and_a_wrong_model_is_large(trained_capture):
    from panama.core.capture.store import Capture
    from panama.core.study.heldout import capture_audio, device_predict, device_targets

    capture = Capture.open(trained_capture)
    audio = capture_audio(capture)
    assert "validation segment" in audio.description and audio.score_from > 0
    space = capture.knob_space
    settings = draw_heldout_settings(space, 4, seed=1, exclude=capture.labelled_settings())
    targets = device_targets("sim", {}, audio, settings)
    with _sim() as sim:
        same = score_settings(device_predict(sim, audio.sample_rate), targets, audio, settings, space)
        assert [s.mse for s in same] == [0.0] * 4 and [s.esr for s in same] == [0.0] * 4

        def mirrored(x, setting):  # the sim at the opposite corner of every knob
            return sim.label(x, audio.sample_rate, space.from_unit(1 - space.to_unit(setting)))

        wrong = score_settings(mirrored, targets, audio, settings, space)
    assert min(s.esr for s in wrong) > 0.05 and summarise(wrong).esr.mean > 0.3


@pytest.mark.slow
def test_evaluate_capture_writes_json_and_examples(trained_capture, tmp_path):
    from eval_helpers import copy_capture
    from panama.core.capture.store import Capture
    from panama.core.study.heldout import EVALUATION_FILE, evaluate_capture

    root = copy_capture(trained_capture, tmp_path / "amp")
    evaluation = evaluate_capture(root, settings=5, seed=3, json_out=tmp_path / "e.json")
    data = json.loads((root / EVALUATION_FILE).read_text())
    assert data == json.loads((tmp_path / "e.json").read_text())
    assert data["summary"]["settings"] == 5 and len(data["scores"]) == 5
    assert data["knobs"] == ["gain", "bass", "mid", "treble", "master", "presence"]
    values = [s[m] for s in data["scores"] for m in ("mse", "esr")]
    assert all(math.isfinite(v) and v > 0 for v in values)  # a tiny model is not perfect
    s = data["summary"]
    assert s["mse"]["min"] <= s["mse"]["median"] <= s["mse"]["p90"] <= s["mse"]["max"]
    assert s["mse"]["mean"] == pytest.approx(np.mean([x["mse"] for x in data["scores"]]))
    labelled = Capture.open(root).labelled_settings()
    assert not any(x["setting"] in labelled for x in data["scores"])
    for name in ("worst", "typical"):
        for kind in ("target", "prediction"):
            assert (root / data["examples"][name][kind]).is_file()
    # the same seed gives the same settings and numbers
    again = evaluate_capture(root, settings=5, seed=3)
    assert [x.mse for x in again.scores] == [x.mse for x in evaluation.scores]
    assert evaluation.notes == []
    # a model older than the labels is still evaluated, with a note saying so
    with _sim() as sim:
        Capture.open(root).label(sim, {"gain": 0.33})
    stale = evaluate_capture(root, settings=2, seed=3)
    assert len(stale.notes) == 1 and "trained on 4 settings" in stale.notes[0]


@pytest.mark.slow
def test_evaluate_cli_on_a_guitar_file_and_bad_inputs(trained_capture, tmp_path, panama):
    import soundfile as sf

    from eval_helpers import copy_capture

    root = copy_capture(trained_capture, tmp_path / "amp")
    t = np.arange(int(0.5 * 48000)) / 48000
    di = 0.4 * np.sin(2 * np.pi * 196 * t) * np.exp(-2 * t)
    sf.write(tmp_path / "di.wav", di, 48000, subtype="FLOAT")
    done = panama("evaluate", str(root), "--settings", "3", "--audio", str(tmp_path / "di.wav"), "--json-file",
                  str(tmp_path / "out.json"), env={"OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    assert "Held-out evaluation" in done.stdout and "Worst settings" in done.stdout and "di.wav" in done.stdout
    data = json.loads((tmp_path / "out.json").read_text())
    assert data["scored_samples"] == di.size and data["audio"].startswith("di.wav")

    sf.write(tmp_path / "di44.wav", di, 44100)
    wrong_rate = panama("evaluate", str(root), "--audio", str(tmp_path / "di44.wav"))
    assert wrong_rate.returncode == 2 and "Traceback" not in wrong_rate.stderr
    assert "44100" in wrong_rate.stderr or "sample rate" in wrong_rate.stderr.lower()
    missing = panama("evaluate", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


@pytest.mark.slow
def test_evaluate_without_a_model_is_one_clear_line(tmp_path, panama):
    from panama.core.capture.store import Capture

    Capture.create(tmp_path / "amp", labeler="sim", preset="tiny")
    done = panama("evaluate", str(tmp_path / "amp"))
    assert done.returncode == 2 and "no trained model" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "amp" / "evaluation.json").exists()


# ------------------------------------------------------------- held-out recordings (real amps)
@pytest.mark.slow
def test_holdout_recordings_are_kept_apart_from_training(tmp_path, panama):
    from panama.core.capture.store import Capture

    root = tmp_path / "amp"
    Capture.create(root, labeler="sim", preset="tiny")
    for setting in ("gain=0.2", "gain=0.9"):
        assert panama("label", str(root), "--setting", setting).returncode == 0
    held = panama("label", str(root), "--holdout", "--setting", "gain=0.5,bass=0.1")
    assert held.returncode == 0, held.stderr
    assert "held out" in held.stdout
    capture = Capture.open(root)
    assert [label.setting["gain"] for label in capture.labels()] == [0.2, 0.9]
    assert [(label.setting["gain"], label.setting["bass"]) for label in capture.holdout_labels()] == [(0.5, 0.1)]
    assert capture.dataset().y.shape[0] == 2
    assert capture.find_label({"gain": 0.5, "bass": 0.1}) is None
    # a held-out setting may also be labelled for training, and vice versa: they are separate sets
    assert panama("label", str(root), "--setting", "gain=0.5,bass=0.1").returncode == 0
    assert panama("label", str(root), "--holdout", "--setting", "gain=0.2").returncode == 0
    capture = Capture.open(root)
    assert len(capture.labels()) == 3 and len(capture.holdout_labels()) == 2
    again = panama("label", str(root), "--holdout", "--setting", "gain=0.2")
    assert "already labelled" in again.stdout and len(Capture.open(root).holdout_labels()) == 2
    indices = [label.index for label in capture.labels() + capture.holdout_labels()]
    assert len(set(indices)) == len(indices)


@pytest.mark.slow
def test_evaluate_a_recorded_amp_on_its_holdout_recordings(tmp_path, panama, panama_home):
    from eval_helpers import install_noisy_extension, tiny_capture
    from panama.core.capture.store import Capture
    from panama.core.study.heldout import capture_audio

    install_noisy_extension(panama_home)
    root = tiny_capture(tmp_path / "amp", labeler="noisy-sim")
    none_yet = panama("evaluate", str(root))
    assert none_yet.returncode == 2 and "--holdout" in none_yet.stderr and "Traceback" not in none_yet.stderr

    for setting in ("gain=0.1,master=0.9", "gain=0.8,treble=0.2", "bass=0.9,presence=0.1"):
        done = panama("label", str(root), "--holdout", "--setting", setting)
        assert done.returncode == 0, done.stderr
    done = panama("evaluate", str(root), "--json")  # --json: the results on stdout, and nothing else there
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data == json.loads((root / "evaluation.json").read_text())
    assert data["source"].startswith("3 held-out recordings") and len(data["scores"]) == 3
    assert data["scores"][0]["setting"]["gain"] == pytest.approx(0.1)
    capture = Capture.open(root)
    assert len(capture.labels()) == 4  # the held-out recordings did not join the training set

    # the target is the recording itself (cut to the validation segment), not a new rendering
    import soundfile as sf

    audio = capture_audio(capture)
    start = audio.offset + audio.score_from
    for example in data["examples"].values():
        recorded, _ = sf.read(capture.holdout_labels()[int(example["index"])].path, dtype="float32")
        target, _ = sf.read(root / example["target"], dtype="float32")
        np.testing.assert_array_equal(target, recorded[start:start + audio.scored_length])
    assert data["scored_samples"] == audio.scored_length

    refused = panama("evaluate", str(root), "--audio", str(root / "input.wav"))
    assert refused.returncode == 2 and "--audio" in refused.stderr
