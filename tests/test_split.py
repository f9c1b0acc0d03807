"""Ensemble members split across devices (``trainer.devices = N``): real worker processes on CPU."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from panama.core.errors import PanamaError
from panama.core.train import Recipe, fit_ensemble, split
from test_train_engine import SPACE, toy_data

torch.set_num_threads(1)


def test_members_are_dealt_into_contiguous_even_shares() -> None:
    assert split.shares(5, 2) == [[0, 1, 2], [3, 4]]
    assert split.shares(4, 4) == [[0], [1], [2], [3]]


def test_device_groups_per_accelerator() -> None:
    assert split.device_groups({"devices": 2, "accelerator": "cpu"}, members=1) is None  # nothing to split
    assert split.device_groups({"accelerator": "cpu"}, members=4) is None
    cpu = split.device_groups({"devices": 3, "accelerator": "cpu", "precision": "32"}, members=2)
    assert cpu is not None and len(cpu) == 2  # at most one worker per member
    assert all(g["devices"] == 1 and g["accelerator"] == "cpu" and g["precision"] == "32" and g["_threads"] >= 1 for g in cpu)
    gpu = split.device_groups({"devices": [1, 3], "accelerator": "gpu"}, members=4)
    assert gpu == [{"accelerator": "gpu", "devices": [1]}, {"accelerator": "gpu", "devices": [3]}]
    assert [g["devices"] for g in split.device_groups({"devices": "0,2", "accelerator": "cuda"}, members=2) or []] == [[0], [2]]
    with pytest.raises(PanamaError, match="one machine"):
        split.device_groups({"devices": 2, "num_nodes": 2, "accelerator": "cpu"}, members=4)
    assert split.one_device({"devices": [2, 3], "accelerator": "gpu"}) == {"devices": [2], "accelerator": "gpu"}
    assert split.one_device({"devices": 4, "accelerator": "cpu"}) == {"accelerator": "cpu"}


@pytest.mark.parametrize("bootstrap", [False, True])
def test_a_split_fit_matches_the_stacked_fit(tmp_path, bootstrap) -> None:
    """Members depend only on their own seed, data stream and draw, so two worker processes
    train the same members as one stacked module (up to floating-point order)."""
    data = toy_data(settings=4, seconds=0.3)
    recipe = Recipe(steps=8, batch_size=2, segment_length=512, val_every=4, val_fraction=0.0, seed=3)
    options = {"preset": "nano"}
    stacked = fit_ensemble(data, members=3, net_options=options, recipe=recipe, knob_space=SPACE, bootstrap=bootstrap)
    ckpt = tmp_path / "ensemble.ckpt"
    parted = fit_ensemble(data, members=3, net_options=options, knob_space=SPACE, bootstrap=bootstrap,
                          recipe=recipe.model_copy(update={"trainer": {"accelerator": "cpu", "devices": 2}}),
                          checkpoint_path=ckpt)
    assert parted.metrics["split"]["workers"] == 2 and parted.metrics["split"]["members"] == [[0, 1], [2]]
    assert parted.seeds == stacked.seeds and parted.metrics.get("bootstrap") == stacked.metrics.get("bootstrap")
    assert parted.metrics["initial_val_mse"] == pytest.approx(stacked.metrics["initial_val_mse"], rel=1e-5)
    np.testing.assert_allclose(parted.metrics["val_mse"], stacked.metrics["val_mse"], rtol=1e-3)
    assert parted.metrics["best_step"] == stacked.metrics["best_step"] and parted.metrics["steps"] == 8
    assert [e["step"] for e in parted.history] == [e["step"] for e in stacked.history]
    np.testing.assert_allclose([e["val_mse_members"] for e in parted.history],
                               [e["val_mse_members"] for e in stacked.history], rtol=1e-3)
    for mine, theirs in zip(parted.net.state_dict().values(), stacked.net.state_dict().values(), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-3, atol=1e-4)
    assert not list(tmp_path.iterdir())  # the fit's and its workers' checkpoints are gone


def test_panama_run_splits_its_ensembles_and_refuses_ddp(tmp_path, capsys) -> None:
    from panama.core.cli import run

    assert run(["run", str(tmp_path / "ddp"), "--preset", "tiny", "--trainer", "strategy=ddp"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "panama run trains inside this process" in err and "devices=N" in err and "Traceback" not in err
    assert not (tmp_path / "ddp").exists()
    root = tmp_path / "amp"
    code = run(["run", str(root), "--preset", "tiny", "--labeler", "sim", "--sampler", "ensemble-diverse", "--budget", "6",
                "--trainer", "devices=2", "--trainer", "accelerator=cpu", "--quiet"])
    assert code == 0, capsys.readouterr().err
    from panama.core.train import TrainedEnsemble

    notes = json.loads((root / "rounds" / "01" / "proposals.json").read_text())
    assert notes["sampler"] == "ensemble-diverse" and len(notes["notes"]["members"]["val_esr"]) == 4
    ensemble = TrainedEnsemble.load(root / "rounds" / "01" / "ensemble.pt")
    assert ensemble.metrics["split"]["members"] == [[0, 1], [2, 3]]
    assert (root / "exports" / "model.panama.json").exists() and not list(root.rglob("*.ckpt*"))
