"""Exporters checked against independent readers: NAM's own loader (both file layouts), the
NumPy reference forward, and TorchScript."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nam_loader import run_nam
from panama.core.components import build
from panama.core.errors import PanamaError
from panama.core.knobs import Knob, KnobSpace
from panama.core.train import TrainedModel
from panama.core.train.model import build_net
from panama.models import numpy_ref

torch.set_num_threads(1)
SPACE = KnobSpace(knobs=(Knob(name="gain", minimum=0, maximum=10), Knob(name="bass"), Knob(name="level", minimum=-6, maximum=6, unit="dB")))


def model(net: str = "wavenet", **options: object) -> TrainedModel:
    options = {"preset": "nano", **options} if net == "wavenet" else options
    options["num_knobs"] = 3
    module = build_net(net, options, seeds=[7])
    with torch.no_grad():  # knob weights large enough that settings really differ
        for name, p in module.named_parameters():
            if "knob" in name:
                p.mul_(3)
            if name == "gain_weight":  # FiLM's output gain starts at 1 for every setting
                p.copy_(torch.linspace(-0.8, 0.8, p.numel()).view_as(p))
    return TrainedModel(module.eval(), SPACE, 48_000, net, options, {"val_esr": 0.02, "val_mse": 1e-4})


def audio(n: int = 6000) -> np.ndarray:
    return (0.4 * np.random.default_rng(3).standard_normal(n)).astype(np.float32)


CONDITIONING = ["bias", "film"]


@pytest.mark.slow
@pytest.mark.parametrize("conditioning", CONDITIONING)
@pytest.mark.parametrize(("layout", "release"), [("0.5", "0.12.3"), ("0.7", "0.13.0")])
def test_nam_snapshot_loads_in_nams_own_loader(tmp_path, layout: str, release: str, conditioning: str) -> None:
    """Every conditioning kind folds into a plain NAM WaveNet that NAM's own loader runs."""
    m = model(conditioning=conditioning)
    rng = np.random.default_rng(int(float(layout) * 10))
    setting = SPACE.from_unit(rng.random(3))
    path = build("exporter", "nam").export(m, tmp_path / "amp.nam", setting, nam_version=layout)
    content = json.loads(path.read_text())
    assert content["version"].startswith(layout + ".")
    assert content["metadata"]["panama"]["setting"] == pytest.approx(setting)
    assert content["metadata"]["panama"]["metrics"]["val_esr"] == 0.02
    x = audio()
    np.save(tmp_path / "x.npy", x)
    assert run_nam(layout, path, tmp_path / "x.npy", tmp_path / "y.npy") == release
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), m.predict(x, setting), atol=1e-5)
    other = m.predict(x, SPACE.from_unit(1 - SPACE.to_unit(setting)))
    assert np.abs(other - m.predict(x, setting)).max() > 1e-3  # the setting really mattered


def test_nam_layouts_share_the_weights(tmp_path) -> None:
    m = model()
    old = json.loads(build("exporter", "nam").export(m, tmp_path / "a.nam", {"gain": 2}).read_text())
    new = json.loads(build("exporter", "nam").export(m, tmp_path / "b.nam", {"gain": 2}, nam_version="0.7").read_text())
    assert old["weights"] == new["weights"] and len(old["weights"]) == 841 + 1  # head_scale is the last float
    assert old["config"]["layers"][0]["kernel_size"] == 3 and new["config"]["layers"][0]["kernel_sizes"] == [3] * 7


@pytest.mark.parametrize("net", ["wavenet", "film", "lstm"])
def test_numpy_reference_matches_torch_at_three_settings(tmp_path, net: str) -> None:
    m = model("wavenet", conditioning="film" if net == "film" else "bias") if net != "lstm" else model("lstm", hidden_size=5, warmup=20)
    path = build("exporter", "panama").export(m, tmp_path / "amp.panama.json")
    ref = numpy_ref.load(path)
    assert ref.knob_space == SPACE and ref.receptive_field == m.receptive_field
    x = audio(5000 if net == "wavenet" else 600)
    outputs = []
    for setting in ({"gain": 0, "bass": 0, "level": -6}, {"gain": 7.3, "bass": 0.2, "level": 1.5}, {"gain": 10, "bass": 1, "level": 6}):
        y = ref.predict(x, setting)
        np.testing.assert_allclose(y, m.predict(x, setting), atol=1e-5)
        outputs.append(y)
    assert np.abs(outputs[0] - outputs[2]).max() > 1e-3


def test_numpy_reference_imports_no_torch(tmp_path) -> None:
    import subprocess
    import sys

    path = build("exporter", "panama").export(model(), tmp_path / "amp.panama.json")
    code = ("import sys, numpy as np; from panama.models import numpy_ref; "
            f"y = numpy_ref.load({str(path)!r}).predict(np.zeros(100), {{'gain': 3}}); "
            "print(y.shape, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "(100,) False"


@pytest.mark.parametrize("net", ["wavenet", "film", "lstm"])
def test_torchscript_matches(tmp_path, net: str) -> None:
    m = model("wavenet", conditioning="film" if net == "film" else "bias") if net != "lstm" else model("lstm", hidden_size=5, warmup=20)
    path = build("exporter", "torchscript").export(m, tmp_path / "amp.ts")
    scripted = torch.jit.load(str(path))
    x = audio(4500)
    setting = {"gain": 4.0, "bass": 0.9, "level": -2.0}
    knobs = torch.from_numpy(SPACE.to_unit(setting).astype(np.float32))
    with torch.no_grad():
        y = scripted(torch.from_numpy(x), knobs)[0].numpy()
    np.testing.assert_allclose(y, m.predict(x, setting), atol=1e-5)


def test_export_errors_are_clear(tmp_path) -> None:
    with pytest.raises(PanamaError, match="needs a single wavenet"):
        build("exporter", "nam").export(model("lstm", hidden_size=3), tmp_path / "x.nam")
    with pytest.raises(PanamaError, match="out of range"):
        build("exporter", "nam").export(model(), tmp_path / "x.nam", {"gain": 11})
    with pytest.raises(PanamaError, match="unknown knob"):
        build("exporter", "nam").export(model(), tmp_path / "x.nam", {"treble": 1})
    with pytest.raises(PanamaError, match="not supported"):
        build("exporter", "nam").export(model(), tmp_path / "x.nam", nam_version="0.6")
    assert not list(tmp_path.iterdir())  # nothing half-written
