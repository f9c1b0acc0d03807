"""The wavenet and lstm nets: NAM's sizes, exact folding, stacking members, shapes."""

from __future__ import annotations

import math

import pytest
import torch

from panama.models.lstm import LSTM, LSTMConfig
from panama.models.wavenet import WaveNet, WaveNetConfig

torch.set_num_threads(1)


@pytest.mark.parametrize(("preset", "plain", "six_knobs"), [
    ("nano", 841, 1219), ("feather", 3025, 3781), ("lite", 6553, 7687), ("standard", 13801, 15481),
])
def test_presets_have_nams_parameter_counts(preset: str, plain: int, six_knobs: int) -> None:
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    assert count(WaveNet(WaveNetConfig(preset=preset), seeds=[0])) == plain
    # PANAMA's reference model: standard + Linear(6 -> channels) per layer = 15,481 parameters
    assert count(WaveNet(WaveNetConfig(preset=preset, num_knobs=6), seeds=[0])) == six_knobs
    assert WaveNet(WaveNetConfig(preset=preset), seeds=[0]).receptive_field == 4093


def test_output_length_and_knob_dependence() -> None:
    net = WaveNet(WaveNetConfig(preset="nano", num_knobs=2), seeds=[1])
    x = torch.randn(3, 5000)
    y = net(x, torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    assert y.shape == (3, 5000 - 4093 + 1)
    same_x = net(x[:1].expand(2, -1), torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    assert (same_x[0] - same_x[1]).abs().max() > 1e-4


def test_fold_is_exact_and_plain() -> None:
    net = WaveNet(WaveNetConfig(preset="nano", num_knobs=3), seeds=[2])
    knobs = torch.rand(3)
    folded = net.fold(knobs)
    assert folded.num_knobs == 0
    assert sum(p.numel() for p in folded.parameters()) == 841
    x = torch.randn(2, 6000)
    diff = net(x, knobs.expand(2, 3)) - folded(x, torch.zeros(2, 0))
    assert diff.abs().max() < 1e-6


def test_knob_logs_fold_exactly_and_make_the_gain_a_power_of_the_knob() -> None:
    """With log_gain the output gain reads each knob's logs: a gain that is a power of a knob's
    position (a tapered level knob) is one weight; with log_embed the embedding reads them too.
    Both still fold into a plain net."""
    config = WaveNetConfig(preset="nano", num_knobs=2, conditioning="film", log_gain=True, log_embed=True)
    net = WaveNet(config, seeds=[3])
    assert net.embed_weight is not None and net.embed_weight.shape[1] == 6  # the knobs and their two logs
    x = torch.randn(2, 5000)
    with torch.no_grad():
        quiet = net(x, torch.tensor([[0.05, 0.5], [0.1, 0.5]]))
        net.gain_log_weight.zero_()[0, 0] = math.log(100)  # gain ∝ (knob 0 + 0.01): its output is linear in it
        louder = net(x, torch.tensor([[0.05, 0.5], [0.1, 0.5]]))
    ratio = (louder / quiet).mean(dim=1)
    assert ratio[0] == pytest.approx(0.06, rel=1e-4) and ratio[1] == pytest.approx(0.11, rel=1e-4)
    knobs = torch.rand(2)
    assert (net(x, knobs.expand(2, 2)) - net.fold(knobs)(x, torch.zeros(2, 0))).abs().max() < 1e-6


def test_gated_layers_fold_too() -> None:
    layers = [
        {"input_size": 1, "channels": 3, "head_size": 2, "dilations": [1, 2], "gated": True, "head_bias": False},
        {"input_size": 3, "channels": 2, "head_size": 1, "dilations": [4], "gated": True},
    ]
    net = WaveNet(WaveNetConfig(layers=layers, num_knobs=2), seeds=[4])
    assert net.receptive_field == 1 + 2 * 7
    x, knobs = torch.randn(1, 200), torch.rand(2)
    assert (net(x, knobs[None]) - net.fold(knobs)(x, torch.zeros(1, 0))).abs().max() < 1e-6


def test_bad_layer_chain_is_a_config_error() -> None:
    with pytest.raises(ValueError, match=r"layers\.1\.input_size"):
        WaveNetConfig(layers=[
            {"input_size": 1, "channels": 4, "head_size": 2, "dilations": [1]},
            {"input_size": 3, "channels": 2, "head_size": 1, "dilations": [1]},
        ])


def test_stacked_members_equal_single_nets() -> None:
    seeds = [11, 12, 13]
    stacked = WaveNet(WaveNetConfig(preset="nano", num_knobs=2), members=3, seeds=seeds)
    x, knobs = torch.randn(2, 4500), torch.rand(2, 2)
    y = stacked(x, knobs)
    assert y.shape == (2, 3, 4500 - 4092)
    for m, seed in enumerate(seeds):
        alone = WaveNet(WaveNetConfig(preset="nano", num_knobs=2), seeds=[seed])
        assert (alone(x, knobs) - y[:, m]).abs().max() < 1e-6
        assert (stacked.member(m)(x, knobs) - y[:, m]).abs().max() < 1e-6
    assert (y[:, 0] - y[:, 1]).abs().max() > 1e-4  # distinct seeds, distinct members
    again = WaveNet.stack([stacked.member(m) for m in range(3)])
    assert torch.equal(again(x, knobs), y)


def test_stacked_members_take_their_own_inputs() -> None:
    stacked = WaveNet(WaveNetConfig(preset="nano", num_knobs=1), members=2, seeds=[1, 2])
    x, knobs = torch.randn(1, 2, 4200), torch.rand(1, 2, 1)
    y = stacked(x, knobs)
    for m in range(2):
        assert (stacked.member(m)(x[:, m], knobs[:, m]) - y[:, m]).abs().max() < 1e-6


def test_lstm_concatenates_knobs_and_honours_presets() -> None:
    torch.manual_seed(0)
    net = LSTM(LSTMConfig(hidden_size=6, num_knobs=2, warmup=32))
    assert net.receptive_field == 33
    x = torch.randn(2, 200)
    y = net(x, torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    assert y.shape == (2, 200 - 32)
    assert LSTM(LSTMConfig(preset="lite")).lstm.num_layers == 2
