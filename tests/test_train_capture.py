"""End to end on a real capture of the built-in sim: label a few settings, `panama train` a nano
WaveNet on them, check the validation ESR falls well below where it started, export a .nam."""

from __future__ import annotations

import json

import pytest
import torch

from panama.core.cli import run

torch.set_num_threads(1)
capture_mod = pytest.importorskip("panama.core.capture.store")
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


def test_panama_train_dir_retrains_the_runs_own_net_and_recipe(tmp_path, capsys) -> None:
    """`panama train DIR` with no options trains what `panama run` trained for that capture: the
    run preset's final net and recipe (here tiny: nano, 60 steps), with capture.json's net options."""
    from panama.core.presets import get_preset
    from panama.core.train.records import final_plan

    root = tmp_path / "amp"
    capture = capture_mod.Capture.create(root, labeler="sim", preset="tiny", run_preset="tiny",
                                         net_options={"conditioning": "film"})
    amp = sim.SimAmp()
    for gain in (0.2, 0.5, 0.8):
        capture.label(amp, {"gain": gain})
    assert run(["train", str(root), "--no-progress"]) == 0, capsys.readouterr().err
    curves = json.loads((root / "models" / "curves.json").read_text())
    tiny = get_preset("tiny").final
    assert curves["net"] == "wavenet"
    assert curves["net_options"]["preset"] == "nano" and curves["net_options"]["conditioning"] == "film"
    assert {k: curves["recipe"][k] for k in tiny} == tiny
    assert curves["metrics"]["steps"] == tiny["steps"]
    assert curves["recipe"] == {**curves["recipe"], **final_plan(capture.config, labelled=3).recipe}
    assert curves["recipe"]["segment_weight"] == 0  # tiny weighs segments from 4 settings on
    # the command line still overrides the plan
    assert run(["train", str(root), "--steps", "5", "--preset", "feather", "--no-progress"]) == 0
    curves = json.loads((root / "models" / "curves.json").read_text())
    assert curves["metrics"]["steps"] == 5 and curves["net_options"]["preset"] == "feather"


def test_the_final_recipe_follows_the_number_of_labelled_settings() -> None:
    """The segment weight, which won at 24 and 32 settings and lost at 16, is on from 24 labels in
    quick and good, with level_weight 0.75 (and in quick gradient clipping); capture.json's recipe
    and the caller's still override the preset's choice."""
    from types import SimpleNamespace

    from panama.core.presets import get_preset
    from panama.core.train.records import final_plan

    for name in ("quick", "good"):
        preset = get_preset(name)
        assert preset.final_recipe(16) == preset.final and "segment_weight" not in preset.final
        assert preset.final_recipe(23) == preset.final and preset.final["level_weight"] == 0.5
        grown = {**preset.final, "segment_weight": 0.5, "level_weight": 0.75, **({"grad_clip": 1.0} if name == "quick" else {})}
        assert preset.final_recipe(24) == grown == preset.final_recipe(64)
    config = SimpleNamespace(run_preset="quick", seed=0, recipe=None)
    assert "segment_weight" not in final_plan(config, labelled=16).recipe
    assert final_plan(config, labelled=16).recipe["level_weight"] == 0.5
    assert final_plan(config, labelled=32).recipe["segment_weight"] == 0.5
    assert final_plan(config, labelled=32).recipe["level_weight"] == 0.75
    assert final_plan(config, labelled=32).recipe["grad_clip"] == 1.0 and "grad_clip" not in final_plan(config, labelled=16).recipe
    assert final_plan(config, labelled=32, recipe={"segment_weight": 0.0}).recipe["segment_weight"] == 0.0
    config.recipe = {"segment_weight": 1.0}
    assert final_plan(config, labelled=32).recipe["segment_weight"] == 1.0


def test_panama_train_continue_starts_from_the_captures_model(tmp_path, capsys) -> None:
    """`panama train DIR --continue` refines the capture's current model: the new fit's first
    validation is the old model's best one, and a net that does not match is refused unchanged."""
    root = tmp_path / "amp"
    capture = capture_mod.Capture.create(root, labeler="sim", preset="tiny", run_preset="tiny")
    amp = sim.SimAmp()
    for gain in (0.2, 0.5, 0.8):
        capture.label(amp, {"gain": gain})
    assert run(["train", str(root), "--steps", "8", "--no-progress"]) == 0, capsys.readouterr().err
    before = json.loads((root / "models" / "curves.json").read_text())["metrics"]
    assert run(["train", str(root), "--steps", "8", "--continue", "--no-progress"]) == 0
    after = json.loads((root / "models" / "curves.json").read_text())["metrics"]
    assert after["initial_val_mse"] == pytest.approx(before["val_mse"], rel=1e-6)
    assert after["val_mse"] <= before["val_mse"] and "init_from" in after
    model_bytes = (root / "models" / "model.pt").read_bytes()
    assert run(["train", str(root), "--preset", "feather", "--continue", "--no-progress"]) == 2
    assert "cannot start from the existing model" in capsys.readouterr().err
    assert (root / "models" / "model.pt").read_bytes() == model_bytes
