"""`panama run` end to end on the sim: the capture it leaves, resuming after SIGKILL, offline mode."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from capture_helpers import run_cli

pytest.importorskip("torch")

# A tiny run: 4 space-filling points, then one round of active learning that adds 2.
ACTIVE = [
    "--labeler", "sim", "--sampler", "ensemble-disagreement", "--budget", "6", "--initial", "4",
    "--preset", "tiny", "--seed", "3", "--quiet", "--sampler-option", "restarts=3",
]


def journal(directory: Path) -> list[dict]:
    return [json.loads(line) for line in (directory / "journal.jsonl").read_text().splitlines() if line.strip()]


def labelled(directory: Path) -> list[dict]:
    return [e for e in journal(directory) if e["event"] == "labelled"]


def assert_complete(directory: Path, budget: int) -> None:
    labels = labelled(directory)
    settings = [tuple(sorted(e["setting"].items())) for e in labels]
    assert len(labels) == budget
    assert len(set(settings)) == budget, "a setting was labelled twice"
    assert len({e["index"] for e in labels}) == budget
    for e in labels:
        y, sr = sf.read(directory / e["file"], dtype="float32")
        assert sr == 48_000 and np.all(np.isfinite(y)) and np.abs(y).max() > 1e-3
    assert (directory / "models" / "model.pt").exists()
    assert (directory / "exports" / "model.panama.json").exists()
    assert (directory / "exports" / "default.nam").exists()


@pytest.mark.slow
def test_run_active_learning_end_to_end(tmp_path: Path) -> None:
    capture = tmp_path / "amp"
    result = run_cli("run", str(capture), *ACTIVE)
    assert result.returncode == 0, result.stderr
    assert_complete(capture, 6)
    proposals = json.loads((capture / "rounds" / "01" / "proposals.json").read_text())
    assert proposals["sampler"] == "ensemble-disagreement"
    assert len(proposals["settings"]) == 2 and all(s is not None and s > 0 for s in proposals["scores"])
    assert (capture / "rounds" / "01" / "ensemble.pt").exists()
    first = json.loads((capture / "rounds" / "00" / "proposals.json").read_text())
    assert first["sampler"] == "sobol" and len(first["settings"]) == 4
    events = [e["event"] for e in journal(capture)]
    assert events.count("round-finished") == 2 and events.count("model-trained") == 1
    # 6 labels: the tiny preset's final recipe for that many (its segment weight from 4 on)
    assert json.loads((capture / "models" / "curves.json").read_text())["recipe"]["segment_weight"] == 0.5
    nam = json.loads((capture / "exports" / "default.nam").read_text())
    assert nam["architecture"] == "WaveNet" and nam["sample_rate"] == 48_000
    assert len(nam["weights"]) > 100 and all(np.isfinite(nam["weights"]))
    meta = nam["metadata"]  # what NAM's plugin and model sites read
    assert np.isfinite(meta["loudness"]) and 0 <= meta["gain"] <= 1 and meta["training"]["validation_esr"] > 0
    assert meta["name"] == "amp (default setting)"
    # A second run of the finished capture trains nothing and changes no label.
    again = run_cli("run", str(capture), "--quiet")
    assert again.returncode == 0, again.stderr
    assert [e["event"] for e in journal(capture)].count("model-trained") == 1

    status = run_cli("status", str(capture), "--json")
    info = json.loads(status.stdout)
    assert info["labelled"] == 6 and info["next"].startswith("done")


@pytest.mark.slow
@pytest.mark.parametrize("crash", ["loop:after-fit-ensemble", "loop:after-proposed@2", "wav:before-rename@6"])
def test_run_resumes_after_sigkill(tmp_path: Path, crash: str) -> None:
    capture = tmp_path / "amp"
    killed = run_cli("run", str(capture), *ACTIVE, env={"PANAMA_TEST_CRASH_AT": crash})
    assert killed.returncode == -9, (killed.returncode, killed.stderr)
    done_before = len(labelled(capture))
    assert 4 <= done_before < 6
    result = run_cli("run", str(capture), *ACTIVE)
    assert result.returncode == 0, result.stderr
    assert_complete(capture, 6)


def test_resume_refuses_other_options(tmp_path: Path) -> None:
    capture = tmp_path / "amp"
    created = run_cli("init", str(capture), "--labeler", "sim", "--preset", "tiny")
    assert created.returncode == 0, created.stderr
    result = run_cli("run", str(capture), "--sampler", "random", "--budget", "2")
    assert result.returncode == 2
    assert "started with other options: --sampler 'random'" in " ".join(result.stderr.split())


@pytest.mark.slow
def test_fixed_design_run_and_offline_workflow(tmp_path: Path) -> None:
    """lhs-corners through `panama run`, then `suggest` → record elsewhere → `add`."""
    from panama.amps.sim import SimAmp

    capture = tmp_path / "amp"
    result = run_cli("run", str(capture), "--labeler", "sim", "--sampler", "lhs", "--budget", "3",
                     "--preset", "tiny", "--quiet")
    assert result.returncode == 0, result.stderr
    assert_complete(capture, 3)

    grow = run_cli("suggest", str(capture), "-n", "2")
    assert grow.returncode == 2 and "whole budget" in grow.stderr
    assert run_cli("run", str(capture), "--budget", "4", "--quiet", env={"PANAMA_TEST_CRASH_AT": "loop:after-proposed"}).returncode == -9
    shown = run_cli("suggest", str(capture), "-n", "1")
    assert shown.returncode == 0, shown.stderr
    assert "gain" in shown.stdout and "presence" in shown.stdout
    suggested = run_cli("suggest", str(capture), "-n", "1", "--json")  # the same pending proposal
    setting_text = json.loads(suggested.stdout)[0]["arg"]
    assert setting_text.startswith("gain=") and setting_text.replace(".", "").replace(",", "").strip()

    # "Record" the setting somewhere else: the sim, delayed by 100 samples like a real interface.
    x, sr = sf.read(capture / "input.wav", dtype="float32")
    from panama.core.knobs import KnobSpace

    space = KnobSpace.model_validate(json.loads((capture / "capture.json").read_text())["knob_space"])
    with SimAmp() as sim:
        y = sim.label(x, sr, space.parse_setting(setting_text))
    recording = tmp_path / "take.wav"
    sf.write(recording, np.concatenate([np.zeros(100, np.float32), y]), sr, subtype="FLOAT")
    added = run_cli("add", str(capture), str(recording), "--setting", setting_text)
    assert added.returncode == 0, added.stderr
    event = labelled(capture)[-1]
    assert event["source"] == "import:take.wav" and 97 <= event["measured_latency"] <= 103
    stored, _ = sf.read(capture / event["file"], dtype="float32")
    # aligned back onto the input (NAM-style safety margin keeps it a sample or two late at most)
    errors = {lag: float(np.mean((stored[10:-10] - np.roll(y, lag)[10:-10]) ** 2)) for lag in range(-5, 6)}
    lag = min(errors, key=errors.get)
    assert 0 <= lag <= 3 and errors[lag] < 1e-10
    finish = run_cli("run", str(capture), "--quiet")
    assert finish.returncode == 0, finish.stderr
    assert_complete(capture, 4)
