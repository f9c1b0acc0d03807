"""``panama train`` from NAM-style configs and ``panama export``, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from panama.core.cli import run
from panama.models import numpy_ref

torch.set_num_threads(1)
SR = 48_000


def write_configs(tmp: Path, *, data: dict | None = None, model: dict | None = None, learning: dict | None = None) -> list[str]:
    rng = np.random.default_rng(0)
    x = (0.5 * np.sin(2 * np.pi * 110 * np.arange(12_000) / SR) + 0.05 * rng.standard_normal(12_000)).astype(np.float32)
    sf.write(tmp / "x.wav", x, SR, subtype="FLOAT")
    entries = []
    for i, drive in enumerate([0.0, 2.5, 5.0, 7.5, 10.0]):
        sf.write(tmp / f"y{i}.wav", np.tanh((1 + drive) * x) * 0.5, SR, subtype="FLOAT")
        entries.append({"x_path": "x.wav", "y_path": f"y{i}.wav", "ny": 1024, "knobs": {"drive": drive}})
    data = data or {
        "_notes": ["a comment"],
        "knobs": [{"name": "drive", "minimum": 0, "maximum": 10}],
        "train": entries[:4],
        "validation": {**entries[4], "ny": None},
        "common": {"delay": 0, "sample_rate": SR},
    }
    model = model or {"net": {"name": "WaveNet", "config": {"preset": "nano"}}, "optimizer": {"lr": 0.004},
                      "lr_scheduler": {"class": "ExponentialLR", "kwargs": {"gamma": 0.99}}}
    learning = learning or {"train_dataloader": {"batch_size": 2, "shuffle": True, "pin_memory": True, "drop_last": True, "num_workers": 0},
                            "val_dataloader": {}, "trainer": {"accelerator": "cpu", "devices": 1, "max_steps": 8}, "trainer_fit_kwargs": {},
                            "val_every": 4}
    paths = []
    for name, content in (("data", data), ("model", model), ("learning", learning)):
        (tmp / f"{name}.json").write_text(json.dumps(content))
        paths.append(str(tmp / f"{name}.json"))
    return paths


def test_train_from_nam_configs_then_export_every_format(tmp_path, capsys) -> None:
    configs = write_configs(tmp_path)
    assert run(["train", *configs, str(tmp_path / "out"), "--no-progress"]) == 0
    curves = json.loads((tmp_path / "out" / "curves.json").read_text())
    assert curves["metrics"]["steps"] == 8 and curves["metrics"]["val_settings"] == 1
    assert [e["step"] for e in curves["history"]] == [0, 4, 8]
    assert curves["recipe"]["segment_length"] == 1024 and curves["recipe"]["lr_decay"] == 0.99
    model = tmp_path / "out" / "model.pt"
    assert run(["export", str(model), "--format", "nam", "--setting", "drive=7", "-o", str(tmp_path / "a.nam")]) == 0
    nam = json.loads((tmp_path / "a.nam").read_text())
    assert nam["metadata"]["panama"]["setting"] == {"drive": 7.0} and nam["version"] == "0.5.4"
    assert run(["export", str(model), "--format", "nam", "--nam-version", "0.7", "-o", str(tmp_path / "b.nam")]) == 0
    assert json.loads((tmp_path / "b.nam").read_text())["version"] == "0.7.0"
    assert run(["export", str(model), "--format", "panama"]) == 0
    ref = numpy_ref.load(tmp_path / "out" / "model.panama.json")
    assert ref.knob_space.names == ["drive"]
    assert run(["export", str(model), "--format", "torchscript", "-o", str(tmp_path / "m.ts")]) == 0
    assert (tmp_path / "m.ts").stat().st_size > 0


@pytest.mark.parametrize(("change", "message"), [
    ({"data": {"train": {"y_path": "y0.wav"}}}, "data.train.x_path: Field required"),
    ({"data": {"train": [{"x_path": "x.wav", "y_path": "nope.wav"}]}}, "data.train.0.y_path: file not found"),
    ({"data": {"train": {"x_path": "x.wav", "y_path": "y0.wav", "knobs": {"drive": 11}}, "knobs": [{"name": "drive", "maximum": 10}]}},
     "data.train.knobs: knob 'drive': 11 is out of range"),
    ({"data": {"train": {"x_path": "x.wav", "y_path": "y0.wav", "bogus": 1}}}, "data.train.bogus: Extra inputs are not permitted"),
    ({"model": {"net": {"name": "wavenet", "config": {"preset": "huge"}}}}, "preset"),
    ({"model": {"net": {"config": {}}}}, "model.net.name: Field required"),
    ({"learning": {"trainer": {"max_steps": 2, "warp_speed": True}}}, "learning.trainer.warp_speed: not an argument"),
    ({"learning": {"train_dataloader": {"batch_size": 0}}}, "learning.train_dataloader.batch_size: Input should be greater than or equal to 1"),
])
def test_config_errors_are_one_clear_line(tmp_path, capsys, change: dict, message: str) -> None:
    configs = write_configs(tmp_path, **change)
    assert run(["train", *configs, str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in " ".join(err.split()) and "Traceback" not in err
    assert not (tmp_path / "out" / "model.pt").exists()


def test_bad_json_and_wrong_arity(tmp_path, capsys) -> None:
    configs = write_configs(tmp_path)
    Path(configs[1]).write_text("{not json")
    assert run(["train", *configs, str(tmp_path / "out")]) == 2
    assert "model: not valid JSON" in capsys.readouterr().err
    assert run(["train", configs[0], configs[1]]) == 2
    assert "takes 1 path" in capsys.readouterr().err


def test_export_errors(tmp_path, capsys) -> None:
    assert run(["export", str(tmp_path / "missing.pt")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "junk.pt").write_bytes(b"junk")
    assert run(["export", str(tmp_path / "junk.pt")]) == 2
    assert "not a readable PANAMA model" in capsys.readouterr().err
    assert run(["export", str(tmp_path / "junk.pt"), "--format", "wav"]) == 2
    assert "unknown exporter 'wav'" in capsys.readouterr().err
