"""`panama render`: a DI through the parametric model, at a setting or with knobs sweeping."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from panama.core import render as rendering
from panama.core.errors import PanamaError
from panama.core.knobs import Knob, KnobSpace
from panama.core.train import TrainedModel
from panama.core.train.model import build_net

torch.set_num_threads(1)
SPACE = KnobSpace(knobs=(Knob(name="gain", minimum=0, maximum=10), Knob(name="bass", minimum=0, maximum=10)))


def model(net: str = "wavenet") -> TrainedModel:
    options = {"preset": "nano", "num_knobs": 2} if net == "wavenet" else {"hidden_size": 4, "warmup": 30, "num_knobs": 2}
    module = build_net(net, options, seeds=[3])
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "knob" in name:
                p.mul_(3)
    return TrainedModel(module.eval(), SPACE, 48_000, net, options)


def di(n: int = 9000) -> np.ndarray:
    return (0.3 * np.random.default_rng(1).standard_normal(n)).astype(np.float32)


def test_blocks_give_exactly_the_whole_file_output(monkeypatch) -> None:
    m, x = model(), di()
    monkeypatch.setattr(rendering, "FIXED_BLOCK", 1000)  # nine blocks and a ragged end
    monkeypatch.setattr(rendering, "BATCH_SAMPLES", 12_000)  # several forward passes
    seen: list[float] = []
    y = rendering.render(m, x, {"gain": 7}, advance=seen.append)
    np.testing.assert_allclose(y, m.predict(x, {"gain": 7}), atol=1e-5)
    assert sum(seen) == x.shape[0] and len(seen) > 1


def test_a_sweep_moves_the_knobs_block_by_block() -> None:
    m, x = model(), di(rendering.SWEEP_BLOCK * 8)
    y = rendering.render(m, x, {"bass": 2}, sweep={"gain": (0.0, 10.0)})
    block = rendering.SWEEP_BLOCK
    first = {"gain": 10 * 0.5 / 8, "bass": 2}  # the first block's middle is 1/16 of the way
    last = {"gain": 10 * 7.5 / 8, "bass": 2}
    np.testing.assert_allclose(y[:block], m.predict(x, first)[:block], atol=1e-5)
    np.testing.assert_allclose(y[-block:], m.predict(x, last)[-block:], atol=1e-5)
    assert np.abs(y[-block:] - m.predict(x, first)[-block:]).max() > 1e-3  # it really moved
    steady = rendering.render(m, x, {"bass": 2}, sweep={"gain": (4.0, 4.0)})
    np.testing.assert_allclose(steady, m.predict(x, {"gain": 4, "bass": 2}), atol=1e-5)


def test_lstm_renders_whole_and_refuses_sweeps() -> None:
    m, x = model("lstm"), di(2000)
    np.testing.assert_allclose(rendering.render(m, x, {"gain": 3}), m.predict(x, {"gain": 3}), atol=1e-6)
    with pytest.raises(PanamaError, match="drop --sweep"):
        rendering.render(m, x, sweep={"gain": (0.0, 10.0)})


@pytest.mark.parametrize(("text", "message"), [
    ("gain=0:11", "out of range"), ("treble=0:1", "unknown knob"), ("gain=5", "not from:to"), ("gain=a:b", "not two numbers"),
])
def test_bad_sweeps_are_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(PanamaError, match=message):
        rendering.parse_sweep(SPACE, text)


def test_render_command(tmp_path, panama) -> None:
    m = model()
    m.save(tmp_path / "model.pt")
    sf.write(tmp_path / "di.wav", di(6000), 48_000, subtype="FLOAT")
    done = panama("render", str(tmp_path / "model.pt"), str(tmp_path / "di.wav"), str(tmp_path / "out.wav"),
                  "--setting", "gain=7", "--sweep", "bass=0:10")
    assert done.returncode == 0, done.stderr
    assert "sweeping bass 0→10" in done.stdout and "rendering di.wav" in done.stderr  # the progress bar
    y, rate = sf.read(tmp_path / "out.wav", dtype="float32")
    assert rate == 48_000 and y.shape == (6000,)
    np.testing.assert_allclose(y, rendering.render(m, di(6000), {"gain": 7}, sweep={"bass": (0.0, 10.0)}), atol=1e-6)
    sf.write(tmp_path / "di44.wav", di(6000), 44_100)
    for args, message in (((str(tmp_path / "di44.wav"), str(tmp_path / "x.wav")), "sample-rate mismatch"),
                          ((str(tmp_path / "di.wav"), str(tmp_path / "di.wav")), "is the DI itself"),
                          ((str(tmp_path / "di.wav"), str(tmp_path / "x.wav"), "--setting", "gain=11"), "out of range")):
        bad = panama("render", str(tmp_path / "model.pt"), *args)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr
        assert not (tmp_path / "x.wav").exists()
