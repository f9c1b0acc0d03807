"""End to end on a real capture of the built-in sim: label a few settings, `panama train` a nano
WaveNet on them, check the validation ESR falls well below where it started, export a .nam."""

from __future__ import annotations

import json

import pytest
import torch

from panama.core.cli import run

torch.set_num_threads(1)
capture_mod = pytest.importorskip("panama.core.capture")
sim = pytest.importorskip("panama.amps.sim")


@pytest.mark.slow
def test_panama_train_on_a_sim_capture(tmp_path, capsys) -> None:
    root = tmp_path / "amp"
    capture = capture_mod.Capture.create(root, labeler="sim", preset="tiny")
    amp = sim.SimAmp()
    for gain, bass in ((0.1, 0.2), (0.4, 0.8), (0.6, 0.5), (0.9, 0.1), (0.3, 0.6)):
        capture.label(amp, {"gain": gain, "bass": bass, "master": 0.5})
    code = run(["train", str(root), "--net", "wavenet", "--preset", "nano", "--steps", "200", "--batch-size", "4",
                "--segment-length", "2048", "--lr", "0.005", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    curves = json.loads((root / "models" / "curves.json").read_text())
    start, best = curves["metrics"]["initial_val_esr"], curves["metrics"]["val_esr"]
    print(f"sim capture: validation ESR {start:.3f} -> {best:.3f}")
    assert best < 0.5 * start
    assert any(e["event"] == "model-trained" for e in capture_mod.Capture.open(root).events())
    assert run(["export", str(root), "--format", "nam", "--setting", "gain=0.5"]) == 0
    assert len(list((root / "exports").glob("*.nam"))) == 1
