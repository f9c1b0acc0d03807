"""The seed documents' workflows run literally: NAM's ``nam_full`` configs and the knob fork.

``FIELDS`` is the table: each documented field (in the docs' shapes, tiny values) with what it
must do — change a curve or a file, or be refused with one line naming what PANAMA does instead.
Nothing may be accepted and ignored.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

from panama.core.cli import run

torch.set_num_threads(1)
SR = 48_000
N = 12_000
TINY_NET = {"name": "WaveNet", "config": {"layers_configs": [
    {"input_size": 1, "condition_size": 1, "head_size": 2, "channels": 2, "kernel_size": 3, "dilations": [1, 2], "activation": "Tanh",
     "gated": False, "head_bias": False},
    {"input_size": 2, "condition_size": 1, "head_size": 1, "channels": 2, "kernel_size": 3, "dilations": [4], "activation": "Tanh",
     "gated": False, "head_bias": True}], "head_config": None, "head_scale": 0.02}}


def _audio(tmp: Path) -> None:
    rng = np.random.default_rng(0)
    x = (0.5 * np.sin(2 * np.pi * 110 * np.arange(N) / SR) + 0.05 * rng.standard_normal(N)).astype(np.float32)
    x[:5000] = 0.0  # NAM's inputs start with silence (PANAMA's import checks it)
    sf.write(tmp / "x.wav", x, SR, subtype="FLOAT")
    sf.write(tmp / "x_short.wav", x[: N // 2], SR, subtype="FLOAT")
    for i, drive in enumerate([0.0, 2.5, 5.0, 7.5, 10.0]):
        sf.write(tmp / f"y{i}.wav", np.tanh((1 + drive) * x) * 0.5, SR, subtype="FLOAT")
    sf.write(tmp / "y_short.wav", (np.tanh(3 * x) * 0.5)[: N // 2], SR, subtype="FLOAT")


def base_configs() -> dict[str, dict[str, Any]]:
    entries = [{"x_path": "x.wav", "y_path": f"y{i}.wav", "ny": 512, "knobs": {"drive": d}}
               for i, d in enumerate([0.0, 2.5, 5.0, 7.5])]
    return {
        "data": {"knobs": [{"name": "drive", "minimum": 0, "maximum": 10}], "train": entries,
                 "validation": {"x_path": "x.wav", "y_path": "y4.wav", "ny": None, "knobs": {"drive": 10.0}},
                 "common": {"delay": 0, "sample_rate": SR}},
        "model": {"net": TINY_NET, "optimizer": {"lr": 0.004}, "lr_scheduler": {"class": "ExponentialLR", "kwargs": {"gamma": 0.993}}},
        "learning": {"train_dataloader": {"batch_size": 2, "shuffle": True, "pin_memory": True, "drop_last": True, "num_workers": 0},
                     "val_dataloader": {}, "trainer": {"accelerator": "cpu", "devices": 1, "max_steps": 6}, "trainer_fit_kwargs": {},
                     "val_every": 3},
    }


def merge(base: Any, change: Any) -> Any:
    """``change`` laid over ``base``; a ``net`` or ``lr_scheduler`` block replaces the old one whole."""
    if isinstance(base, dict) and isinstance(change, dict):
        out = dict(base)
        for k, v in change.items():
            out[k] = merge(base.get(k), v) if k in base and k not in ("net", "lr_scheduler") else v
        return out
    return change


def write(tmp: Path, configs: dict[str, Any]) -> list[str]:
    paths = []
    for name in ("data", "model", "learning"):
        (tmp / f"{name}.json").write_text(json.dumps(configs[name]))
        paths.append(str(tmp / f"{name}.json"))
    return paths


def train(tmp: Path, change: dict[str, Any] | None = None, *args: str, out: str = "out") -> tuple[int, Path]:
    if not (tmp / "x.wav").exists():
        _audio(tmp)
    configs = merge(base_configs(), change or {})
    code = run(["train", *write(tmp, configs), str(tmp / out), "--no-progress", *args])
    return code, tmp / out


def curves(outdir: Path) -> dict[str, Any]:
    return json.loads((outdir / "curves.json").read_text())


def lrs(outdir: Path) -> list[float]:
    rows = list(csv.DictReader((outdir / "lightning_logs" / "version_0" / "metrics.csv").open()))
    return [float(r["lr-Adam"]) for r in rows if r.get("lr-Adam")]


LR_MONITOR = {"learning": {"trainer": {"logger": True, "callbacks": [{"class": "LearningRateMonitor", "kwargs": {"logging_interval": "step"}}],
                                       "log_every_n_steps": 1}}}


def _effect_betas(tmp: Path, outdir: Path) -> None:
    _, ref = train(tmp, out="ref")
    assert curves(outdir)["history"][-1]["val_mse"] != curves(ref)["history"][-1]["val_mse"]
    assert curves(outdir)["recipe"]["optimizer"] == {"betas": [0.5, 0.9], "weight_decay": 0.01}


def _effect_steplr(tmp: Path, outdir: Path) -> None:
    values = lrs(outdir)
    assert values[0] == pytest.approx(0.004) and values[-1] == pytest.approx(0.004 * 0.5**2)


def _effect_plateau(tmp: Path, outdir: Path) -> None:
    assert min(lrs(outdir)) < 0.004  # patience 0, factor 0.5: the LR drops after a validation that didn't improve
    assert curves(outdir)["recipe"]["lr_scheduler"]["class"] == "ReduceLROnPlateau"


def _effect_val_interval(tmp: Path, outdir: Path) -> None:
    assert [e["step"] for e in curves(outdir)["history"]] == [0, 2, 4, 6]


def _effect_val_fraction(tmp: Path, outdir: Path) -> None:
    # 4 entries × 11,986 usable samples / (512 × 2) per step → 47 steps per epoch; 0.1 of it → 5
    assert [e["step"] for e in curves(outdir)["history"]] == [0, 5, 6]


def _effect_val_epochs(tmp: Path, outdir: Path) -> None:
    assert [e["step"] for e in curves(outdir)["history"]] == [0, 6]  # the 6-step run ends inside epoch 1


def _effect_val_loss(tmp: Path, outdir: Path) -> None:
    c = curves(outdir)
    best = min(c["history"], key=lambda e: e["val_esr"])
    assert c["recipe"]["val_loss"] == "esr" and c["metrics"]["best_step"] == best["step"]


def _effect_mask_first(tmp: Path, outdir: Path) -> None:
    _, ref = train(tmp, out="ref")
    assert curves(outdir)["history"][-1]["train_loss"] != curves(ref)["history"][-1]["train_loss"]


def _effect_logger(tmp: Path, outdir: Path) -> None:
    assert (outdir / "lightning_logs" / "version_0" / "metrics.csv").is_file()


def _effect_checkpoint_callback(tmp: Path, outdir: Path) -> None:
    assert list((outdir / "ckpts").glob("*.ckpt"))


def _effect_lstm(tmp: Path, outdir: Path) -> None:
    state = torch.load(outdir / "model.pt", weights_only=True)
    assert state["net_options"]["bias"] is False and not any("bias" in k for k in state["state_dict"] if k.startswith("lstm."))


def _effect_trained(tmp: Path, outdir: Path) -> None:
    assert (outdir / "model.pt").is_file()


def _effect_no_plots(tmp: Path, outdir: Path) -> None:
    assert not (outdir / "comparison.png").exists() and (outdir / "model.pt").is_file()


def _effect_no_show(tmp: Path, outdir: Path) -> None:
    assert (outdir / "comparison.png").stat().st_size > 1000


def _changes_the_run(tmp: Path, outdir: Path) -> None:
    _, ref = train(tmp, out="ref")
    assert curves(outdir)["history"][-1]["val_mse"] != curves(ref)["history"][-1]["val_mse"]


def _train_entries(**extra: Any) -> dict[str, Any]:
    return {"data": {"train": [{"x_path": "x.wav", "y_path": f"y{i}.wav", "ny": 512, "knobs": {"drive": d}, **extra}
                               for i, d in enumerate([0.0, 2.5, 5.0, 7.5])]}}


def _layers(**change: Any) -> dict[str, Any]:
    net = json.loads(json.dumps(TINY_NET))
    for layer in net["config"]["layers_configs"]:
        layer.update(change)
    return {"model": {"net": net}}


# field → (config change, extra CLI args, expected: a function checking the effect, or the refusal's text)
FIELDS: dict[str, tuple[dict[str, Any], tuple[str, ...], Any]] = {
    "optimizer.betas+weight_decay": ({"model": {"optimizer": {"lr": 0.004, "betas": [0.5, 0.9], "weight_decay": 0.01}}}, (), _effect_betas),
    "optimizer.momentum": ({"model": {"optimizer": {"momentum": 0.9}}}, (), "model.optimizer.momentum: not an option of torch.optim.Adam"),
    "lr_scheduler StepLR": (merge(LR_MONITOR, {"model": {"lr_scheduler": {"class": "StepLR", "kwargs": {"step_size": 2, "gamma": 0.5},
                                                                           "interval": "step"}},
                                               "learning": {"trainer": {"max_steps": 5}}}), (), _effect_steplr),
    "lr_scheduler ReduceLROnPlateau": (merge(LR_MONITOR, {"model": {"lr_scheduler": {"class": "ReduceLROnPlateau",
                                                                                      "kwargs": {"mode": "min", "factor": 0.5, "patience": 0,
                                                                                                 "threshold": 10.0}}},
                                                          "learning": {"val_every": 1}}), (), _effect_plateau),
    "lr_scheduler LambdaLR": ({"model": {"lr_scheduler": {"class": "LambdaLR"}}}, (), "needs a Python function"),
    "lr_scheduler unknown": ({"model": {"lr_scheduler": {"class": "WarpLR"}}}, (), "'WarpLR' is not a torch.optim.lr_scheduler"),
    "head_config object": ({"model": {"net": {**TINY_NET, "config": {**TINY_NET["config"], "head_config": {"channels": 4}}}}}, (),
                           "head_config: a head network"),
    "condition_size 1+K": (_layers(condition_size=2), (), _effect_trained),
    "condition_size 3": (_layers(condition_size=3), (), "condition_size: 3: the condition is the mono input"),
    "activation PReLU": (_layers(activation="PReLU"), (), "PReLU's learned slope"),
    "LSTM bias/input_size/burn_in": ({"model": {"net": {"name": "LSTM", "config": {"hidden_size": 3, "num_layers": 1, "input_size": 2,
                                                                                   "bias": False, "train_burn_in": 64}}}}, (), _effect_lstm),
    "LSTM train_truncate": ({"model": {"net": {"name": "LSTM", "config": {"hidden_size": 3, "train_truncate": 256}}}}, (), "train_truncate"),
    "loss.val_loss esr": ({"model": {"loss": {"val_loss": "esr"}}, "learning": {"val_every": 1}}, (), _effect_val_loss),
    "loss.mask_first": ({"model": {"loss": {"mask_first": 200}}}, (), _effect_mask_first),
    "loss.mask_first ≥ ny": ({"model": {"loss": {"mask_first": 512}}}, (), "mask_first: 512 masks every output"),
    "trainer.val_check_interval": ({"learning": {"trainer": {"val_check_interval": 2}}}, (), _effect_val_interval),
    "trainer.val_check_interval fraction": ({"learning": {"trainer": {"val_check_interval": 0.1}}}, (), _effect_val_fraction),
    "trainer.check_val_every_n_epoch": ({"learning": {"trainer": {"check_val_every_n_epoch": 1}}}, (), _effect_val_epochs),
    "net ConvNet ir_filename": ({"model": {"net": {"name": "ConvNet", "config": {"ir_filename": "cab.wav"}}}}, (), "ir_filename: an impulse"),
    "trainer.logger": ({"learning": {"trainer": {"logger": True, "log_every_n_steps": 1}}}, (), _effect_logger),
    "trainer.callbacks ModelCheckpoint": ({"learning": {"trainer": {"callbacks": [
        {"class": "ModelCheckpoint", "kwargs": {"dirpath": "CKPTS", "every_n_train_steps": 2}}]}}}, (), _effect_checkpoint_callback),
    "trainer.callbacks unknown": ({"learning": {"trainer": {"callbacks": ["Teleport"]}}}, (), "'Teleport' is not a class of"),
    "trainer.strategy ddp_spawn": ({"learning": {"trainer": {"strategy": "ddp_spawn"}}}, (), "use strategy 'ddp'"),
    "train_dataloader.shuffle false": ({"learning": {"train_dataloader": {"shuffle": False}}}, (), "shuffle: PANAMA always draws"),
    "train_dataloader.drop_last false": ({"learning": {"train_dataloader": {"drop_last": False}}}, (), "drop_last: PANAMA's batches"),
    "train_dataloader.num_workers": ({"learning": {"train_dataloader": {"num_workers": 2}}}, (), "num_workers: PANAMA cuts segments"),
    "val_dataloader.batch_size 4": ({"learning": {"val_dataloader": {"batch_size": 4}}}, (), "val_dataloader.batch_size: PANAMA validates"),
    "trainer_fit_kwargs other": ({"learning": {"trainer_fit_kwargs": {"datamodule": "x"}}}, (), "passes only ckpt_path"),
    "trainer_fit_kwargs.ckpt_path missing": ({"learning": {"trainer_fit_kwargs": {"ckpt_path": "nope.ckpt"}}}, (), "checkpoint nope.ckpt not found"),
    "validation.ny": ({"data": {"validation": {"ny": 512}}}, (), "data.validation.ny: PANAMA validates each validation entry whole"),
    "dataset type": ({"data": {"train": [{"type": "ParametricDataset", "x_path": "x.wav", "y_path": "y0.wav"}]}}, (), "data.train.0.type"),
    "common.delay": ({"data": {"common": {"delay": 7}}}, (), _changes_the_run),
    "common.input_gain": ({"data": {"common": {"input_gain": -6.0}}}, (), _changes_the_run),
    "common.y_preroll": ({"data": {"common": {"y_preroll": 300}}}, (), _changes_the_run),
    "train.start_samples/stop_samples": (_train_entries(start_samples=4800, stop_samples=-1000), (), _changes_the_run),
    "train.start_seconds/stop_seconds": (_train_entries(start_seconds=0.1, stop_seconds=-0.02), (), _changes_the_run),
    "common.require_input_pre_silence": ({"data": {"common": {"require_input_pre_silence": 0.4}}}, (),
                                         "the input is not silent for the first 0.4 s"),
    "common.sample_rate": ({"data": {"common": {"sample_rate": 44100}}}, (), "sample rate 48000 Hz, expected 44100 Hz"),
    "unequal x/y lengths": ({"data": {"train": [{"x_path": "x.wav", "y_path": "y_short.wav", "knobs": {"drive": 5}}]}}, (),
                            "trim them or set allow_unequal_lengths"),
    "common.allow_unequal_lengths": ({"data": {"train": [{"x_path": "x.wav", "y_path": "y_short.wav", "knobs": {"drive": 5}}],
                                               "common": {"allow_unequal_lengths": True}}}, (), _effect_trained),
    "_notes anywhere": ({"model": {"net": {**TINY_NET, "config": {**TINY_NET["config"], "_notes": ["a comment"]}},
                                   "optimizer": {"lr": 0.004, "_notes": "x"}}}, (), _effect_trained),
    "--no-plots": ({}, ("--no-plots",), _effect_no_plots),
    "--no-show": ({}, ("-ns",), _effect_no_show),
}


@pytest.mark.parametrize("field", list(FIELDS))
def test_every_seed_field_has_an_effect_or_a_one_line_refusal(tmp_path, capsys, field: str) -> None:
    change, args, expected = FIELDS[field]
    text = json.dumps(change).replace("CKPTS", str(tmp_path / "out" / "ckpts"))
    code, outdir = train(tmp_path, json.loads(text), *args)
    err = capsys.readouterr().err
    if isinstance(expected, str):
        assert code == 2 and expected in " ".join(err.split()) and "Traceback" not in err, err
        assert not (outdir / "model.pt").exists()
    else:
        assert code == 0, err
        expected(tmp_path, outdir)


def test_outdir_holds_what_nams_trainer_leaves_and_the_measuring_tools_work(tmp_path, capsys) -> None:
    code, outdir = train(tmp_path)
    assert code == 0
    names = {p.name for p in outdir.iterdir()}
    assert {"model.pt", "curves.json", "comparison.png", "config_data.json", "config_model.json", "config_learning.json"} <= names
    assert (outdir / "checkpoints" / "last.ckpt").is_file()
    assert {f"model-drive_{d}.nam" for d in ("0", "2.5", "5", "7.5", "10")} <= names
    nam = json.loads((outdir / "model-drive_2.5.nam").read_text())
    assert nam["metadata"]["panama"]["setting"] == {"drive": 2.5}
    assert run(["export", str(outdir), "--setting", "drive=3"]) == 0
    assert run(["evaluate", str(outdir)]) == 0
    evaluation = json.loads((outdir / "evaluation.json").read_text())
    assert evaluation["summary"]["settings"] == 1 and evaluation["scores"][0]["setting"] == {"drive": 10.0}
    assert run(["report", str(outdir)]) == 0
    assert "Validation entries" in (outdir / "report.html").read_text()


def test_resume_from_ckpt_path_continues_the_run(tmp_path) -> None:
    code, first = train(tmp_path, {"learning": {"trainer": {"max_steps": 3}}}, out="first")
    assert code == 0
    ckpt = first / "checkpoints" / "last.ckpt"
    code, second = train(tmp_path, {"learning": {"trainer": {"max_steps": 6}, "trainer_fit_kwargs": {"ckpt_path": str(ckpt)}}}, out="second")
    assert code == 0
    history = curves(second)["history"]
    assert [e["step"] for e in history] == [0, 3, 6]  # steps 0 and 3 come from the checkpoint
    assert history[:2] == curves(first)["history"][:2]
    assert curves(second)["metrics"]["steps"] == 6


def test_concat_dataset_of_unequal_lengths(tmp_path) -> None:
    """The docs' ConcatDataset example: a second entry with start_samples and input_gain."""
    change = {"data": {"train": [{"x_path": "x.wav", "y_path": "y0.wav", "ny": 512, "knobs": {"drive": 0}},
                                 {"x_path": "x.wav", "y_path": "y1.wav", "ny": 512, "start_samples": 3000, "input_gain": -3.0,
                                  "knobs": {"drive": 2.5}},
                                 {"x_path": "x_short.wav", "y_path": "y_short.wav", "ny": 512, "knobs": {"drive": 5}}]}}
    code, outdir = train(tmp_path, change)
    assert code == 0
    assert curves(outdir)["metrics"]["steps"] == 6


def test_the_forks_knob_dataset_trains_directly(tmp_path, capsys) -> None:
    """``panama train knob_dataset.json model.json learning.json OUTDIR``; a combination (two
    entries sharing one output) is one recording at both knobs; guessed ranges are announced."""
    _audio(tmp_path)
    entries = [{"input_file": "x.wav", "output_file": f"y{i}.wav", "knob_type": "gain", "knob_level": lvl}
               for i, lvl in enumerate([0.0, 0.25, 0.5, 1.0])]
    entries.append({"input_file": "x.wav", "output_file": "y4.wav", "knob_type": "bass", "knob_level": 0.3})
    entries.append({"input_file": "x.wav", "output_file": "y4.wav", "knob_type": "gain", "knob_level": 0.75})
    (tmp_path / "knob_dataset.json").write_text(json.dumps({"entries": entries}))
    configs = base_configs()
    paths = write(tmp_path, configs)
    code = run(["train", str(tmp_path / "knob_dataset.json"), *paths[1:], str(tmp_path / "out"), "--no-progress"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 0, err
    assert "knob ranges guessed" in err and "don't set bass" in err
    config = json.loads((tmp_path / "out" / "config_data.json").read_text())
    settings = [e["knobs"] for e in config["train"]]
    assert {"gain": 0.75, "bass": 0.3} in settings and len(settings) == 5
    state = torch.load(tmp_path / "out" / "model.pt", weights_only=True)
    assert [k["name"] for k in state["knob_space"]["knobs"]] == ["gain", "bass"]
    assert list((tmp_path / "out").glob("model-gain_0.75_bass_0.3.nam"))


@pytest.mark.parametrize("batchnorm", [False, True])
def test_the_forks_convnet_trains_on_the_knob_dataset_and_nams_own_convnet_runs_the_export(tmp_path, capsys, batchnorm: bool) -> None:
    """The fork's example: its knob dataset with ``models/convnet.json``; a .nam per setting
    that NAM's own ConvNet (filled in NAM's weight order) runs like PANAMA's model there."""
    from nam_loader import run_nam
    from panama.core.train import TrainedModel

    _audio(tmp_path)
    entries = [{"input_file": "x.wav", "output_file": f"y{i}.wav", "knob_type": "gain", "knob_level": lvl}
               for i, lvl in enumerate([0.0, 2.5, 5.0, 7.5, 10.0])]
    (tmp_path / "kd.json").write_text(json.dumps({"knobs": {"gain": [0, 10]}, "entries": entries}))
    configs = merge(base_configs(), {"model": {"net": {"name": "ConvNet", "config": {
        "channels": 3, "dilations": [1, 2, 4, 8], "batchnorm": batchnorm, "activation": "Tanh"}}}})
    paths = write(tmp_path, configs)
    code = run(["train", str(tmp_path / "kd.json"), *paths[1:], str(tmp_path / "out"), "--no-progress", "--no-plots"])
    assert code == 0, capsys.readouterr().err
    nam_file = tmp_path / "out" / "model-gain_7.5.nam"
    content = json.loads(nam_file.read_text())
    assert content["architecture"] == "ConvNet" and content["config"]["batchnorm"] is batchnorm
    model = TrainedModel.load(tmp_path / "out" / "model.pt")
    x = np.random.default_rng(1).uniform(-0.5, 0.5, 3000).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    run_nam("0.5", nam_file, tmp_path / "x.npy", tmp_path / "y.npy")
    ours = model.predict(x, {"gain": 7.5})
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), ours, atol=1e-5)
    assert np.abs(model.predict(x, {"gain": 0.0}) - ours).max() > 1e-4  # the knob really mattered


def test_knob_dataset_round_trip_keeps_knob_entries_and_paths(tmp_path) -> None:
    _audio(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    for name in ("x.wav", "y0.wav", "y1.wav", "y2.wav"):
        (data / name).write_bytes((tmp_path / name).read_bytes())
    entries = [{"input_file": "x.wav", "output_file": "y0.wav", "knob_type": "gain", "knob_level": 5.0},
               {"input_file": "x.wav", "output_file": "y1.wav", "knob_type": "gain", "knob_level": 7.0},
               {"input_file": "x.wav", "output_file": "y2.wav", "knob_type": "gain", "knob_level": 2.0}]
    (data / "kd.json").write_text(json.dumps({"knobs": {"gain": [0, 10]}, "entries": entries}))
    assert run(["import", str(data / "kd.json"), str(tmp_path / "cap")]) == 0
    assert run(["export-dataset", str(tmp_path / "cap"), "-o", str(data / "again.json")]) == 0
    again = json.loads((data / "again.json").read_text())
    for old, new in zip(entries, again["entries"], strict=True):
        assert {k: new[k] for k in old} == old  # knob_type/knob_level at the default (5.0) too; paths as written
    assert again["knobs"][0]["maximum"] == 10


@pytest.mark.timeout(600)
def test_ddp_two_processes_on_cpu(tmp_path) -> None:
    """``--trainer devices=2``: Lightning DDP (gloo) re-runs the command in a second process;
    each process draws its own segments; only rank 0 writes and reports."""
    _audio(tmp_path)
    paths = write(tmp_path, merge(base_configs(), {"learning": {"trainer": {"max_steps": 4}, "val_every": 2}}))
    cmd = [sys.executable, "-m", "panama.core.cli", "train", *paths, str(tmp_path / "ddp"), "--no-progress",
           "--trainer", "devices=2", "--trainer", "strategy=ddp", "--no-plots"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=500, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("trained") == 1
    c = curves(tmp_path / "ddp")
    assert c["metrics"]["steps"] == 4 and [e["step"] for e in c["history"]] == [0, 2, 4]
    code, single = train(tmp_path, {"learning": {"trainer": {"max_steps": 4}, "val_every": 2}}, "--no-plots", out="single")
    assert code == 0
    assert c["history"][-1]["val_mse"] != curves(single)["history"][-1]["val_mse"]  # twice the data per step


def test_trainer_settings_reach_panama_train_and_run(tmp_path, capsys) -> None:
    """``--trainer`` goes to Lightning from ``panama train DIR`` and ``panama run``; the loop
    trains in its own process, so a data-parallel strategy is refused there with the way out
    (``devices=N`` splits its ensembles instead: tests/test_split.py)."""
    from panama.amps.sim import SimAmp
    from panama.core.capture.store import Capture

    root = tmp_path / "amp"
    capture = Capture.create(root, labeler="sim", preset="tiny")
    for gain in (0.1, 0.5, 0.9):
        capture.label(SimAmp(), {"gain": gain})
    code = run(["train", str(root), "--preset", "nano", "--steps", "50", "--batch-size", "2", "--segment-length", "1024",
                "--no-progress", "--trainer", "max_steps=3", "--trainer", "accelerator=cpu"])
    assert code == 0, capsys.readouterr().err
    curves_ = json.loads((root / "models" / "curves.json").read_text())
    assert curves_["metrics"]["steps"] == 3 and curves_["recipe"]["trainer"] == {"max_steps": 3, "accelerator": "cpu"}
    assert run(["run", str(tmp_path / "run"), "--preset", "tiny", "--trainer", "num_nodes=2"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "panama run trains inside this process" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


NAM_EXTENSION = '''
"""The seed docs' extension example: a custom net registered the NAM way."""
import torch
from nam.models.base import BaseNet
from nam.train.lightning_module import LightningModule
from nam.data import register_dataset_initializer


class MyCustomNet(BaseNet):
    def __init__(self, hidden_features, receptive_field_val):
        super().__init__()
        self._receptive_field = receptive_field_val
        self.conv = torch.nn.Conv1d(1, hidden_features, receptive_field_val)
        self.head = torch.nn.Conv1d(hidden_features, 1, 1)

    @property
    def receptive_field(self):
        return self._receptive_field

    @classmethod
    def init_from_config(cls, config_dict):
        return cls(hidden_features=config_dict["hidden_features"], receptive_field_val=config_dict["receptive_field"])

    def _forward(self, x):
        return self.head(torch.tanh(self.conv(x[:, None])))[:, 0]


LightningModule.register_net_initializer("MyCustomNet", MyCustomNet.init_from_config)
register_dataset_initializer("MyCustomDataset", dict)
'''


def test_a_nam_style_extension_registers_its_net_without_nam(tmp_path, panama_home) -> None:
    """Dropped into $PANAMA_HOME/extensions, NAM's register_net_initializer runs against
    PANAMA's registry (a stand-in `nam`); its dataset initialiser is explained; a file that
    needs more of NAM says so in one line."""
    (panama_home / "extensions").mkdir()
    (panama_home / "extensions" / "my_net.py").write_text(NAM_EXTENSION)
    (panama_home / "extensions" / "needs_more.py").write_text("from nam.models.wavenet import WaveNet\n")
    env = {"PANAMA_HOME": str(panama_home), "PANAMA_LOAD_PLUGINS": "extensions", "OMP_NUM_THREADS": "1"}
    listed = subprocess.run([sys.executable, "-m", "panama.core.cli", "plugins", "--json"], capture_output=True, text=True,
                            env={**__import__("os").environ, **env}, timeout=300)
    assert listed.returncode == 0, listed.stderr
    assert any(c["name"] == "MyCustomNet" and c["kind"] == "net" for c in json.loads(listed.stdout)["components"])
    err = " ".join(listed.stderr.split())
    assert "registers NAM dataset 'MyCustomDataset', which PANAMA does not use" in err
    assert "needs_more.py is a NAM extension needing nam.models.wavenet" in err and "Traceback" not in err
    _audio(tmp_path)
    configs = base_configs()
    configs["data"] = {"train": [{"x_path": "x.wav", "y_path": "y2.wav", "ny": 512}],
                       "validation": {"x_path": "x.wav", "y_path": "y2.wav"}}
    configs["model"]["net"] = {"name": "MyCustomNet", "config": {"hidden_features": 3, "receptive_field": 8}}
    paths = write(tmp_path, configs)
    done = subprocess.run([sys.executable, "-m", "panama.core.cli", "train", *paths, str(tmp_path / "out"), "--no-progress"],
                          capture_output=True, text=True, env={**__import__("os").environ, **env}, timeout=300)
    assert done.returncode == 0, done.stderr
    c = curves(tmp_path / "out")
    assert c["net"] == "MyCustomNet" and c["history"][-1]["val_mse"] < c["history"][0]["val_mse"]


def test_knob_ranges_from_the_command_line_and_the_evaluate_hint_for_imports(tmp_path, capsys) -> None:
    _audio(tmp_path)
    entries = [{"input_file": "x.wav", "output_file": f"y{i}.wav", "knob_type": "bass", "knob_level": lvl}
               for i, lvl in enumerate([0.2, 0.6, 1.0])]
    (tmp_path / "kd.json").write_text(json.dumps({"entries": entries}))
    assert run(["import", str(tmp_path / "kd.json"), str(tmp_path / "cap"), "--knob", "bass=0:10"]) == 0
    err = capsys.readouterr().err
    assert "guessed" not in err  # levels ≤ 1 on a 0–10 dial: the range comes from --knob, not from the levels
    from panama.core.capture.store import Capture

    assert Capture.open(tmp_path / "cap").knob_space["bass"].maximum == 10
    assert run(["train", str(tmp_path / "cap"), "--preset", "nano", "--steps", "2", "--batch-size", "2",
                "--segment-length", "1024", "--no-progress"]) == 0
    assert run(["evaluate", str(tmp_path / "cap")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "panama add" in err and "--holdout" in err and "panama label" not in err


def test_a_plain_nam_config_leaves_model_nam_that_nams_loader_runs(tmp_path, capsys) -> None:
    """No knobs at all (NAM's own use): OUTDIR/model.nam, read by NAM's init_from_nam. A trainer
    setting Lightning refuses is one line and leaves no OUTDIR."""
    from nam_loader import run_nam
    from panama.core.train import TrainedModel

    _audio(tmp_path)
    configs = base_configs()
    configs["data"] = {"train": {"x_path": "x.wav", "y_path": "y2.wav", "ny": 512},
                       "validation": {"x_path": "x.wav", "y_path": "y2.wav", "ny": None}, "common": {"sample_rate": SR}}
    paths = write(tmp_path, configs)
    assert run(["train", *paths, str(tmp_path / "bad"), "--no-progress", "--trainer", "accelerator=cpu", "--trainer", "devices=[0]"]) == 2
    assert "trainer: `devices`" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    assert run(["train", *paths, str(tmp_path / "out"), "--no-progress"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.nam")) == ["model.nam"]
    x = np.random.default_rng(2).uniform(-0.5, 0.5, 2000).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    run_nam("0.5", tmp_path / "out" / "model.nam", tmp_path / "x.npy", tmp_path / "y.npy")
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), TrainedModel.load(tmp_path / "out" / "model.pt").predict(x), atol=1e-5)
