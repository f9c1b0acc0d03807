"""The training engine on a small deterministic knob-dependent 'amp' (real training steps)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from panama.core.errors import PanamaError
from panama.core.knobs import Knob, KnobSpace
from panama.core.train import Recipe, TrainedEnsemble, TrainedModel, TrainingData, fit, fit_ensemble

torch.set_num_threads(1)
SR = 48_000


def toy_amp(x: np.ndarray, knobs: np.ndarray) -> np.ndarray:
    """A drive knob into tanh, a level knob after it: nonlinear and knob-dependent."""
    return np.tanh((1 + 6 * knobs[0]) * x) * (0.4 + 0.5 * knobs[1])


def toy_data(settings: int = 6, seconds: float = 0.5, seed: int = 0) -> TrainingData:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = (0.5 * np.sin(2 * np.pi * 110 * t * (1 + t)) + 0.1 * rng.standard_normal(t.size)).astype(np.float32)
    knobs = rng.random((settings, 2))
    return TrainingData(x, np.stack([toy_amp(x, k) for k in knobs]), knobs, SR)


SPACE = KnobSpace(knobs=(Knob(name="drive", minimum=0, maximum=10), Knob(name="level")))
QUICK = Recipe(steps=6, batch_size=2, segment_length=512, val_every=3)


@pytest.mark.slow
def test_nano_wavenet_learns_the_toy_amp(tmp_path) -> None:
    data = toy_data()
    recipe = Recipe(steps=200, batch_size=4, segment_length=1024, val_every=50, lr=5e-3)
    model = fit(data, net_options={"preset": "nano"}, recipe=recipe, knob_space=SPACE, progress=False,
                checkpoint_path=tmp_path / "model.pt")
    start, best = model.metrics["initial_val_esr"], model.metrics["val_esr"]
    print(f"validation ESR {start:.4f} -> {best:.4f}")
    assert start > 0.5
    assert best < 0.1 * start
    assert model.metrics["val_settings"] == 1  # 20 % of 6 settings held out
    assert [e["step"] for e in model.history] == [0, 50, 100, 150, 200]
    # the best checkpoint on disk is the returned model
    loaded = TrainedModel.load(tmp_path / "model.pt")
    setting = {"drive": 3.0, "level": 0.5}
    np.testing.assert_allclose(loaded.predict(data.x, setting), model.predict(data.x, setting), atol=1e-6)
    assert loaded.knob_space == SPACE and loaded.metrics["val_esr"] == pytest.approx(best)


def test_runs_are_reproducible_and_seeds_matter() -> None:
    data = toy_data(settings=3, seconds=0.2)
    options = {"preset": "nano"}
    a = fit(data, net_options=options, recipe=QUICK, progress=False)
    b = fit(data, net_options=options, recipe=QUICK, progress=False)
    c = fit(data, net_options=options, recipe=QUICK.model_copy(update={"seed": 1}), progress=False)
    for pa, pb in zip(a.net.parameters(), b.net.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.net.parameters(), c.net.parameters(), strict=True))


def test_ensemble_members_differ_and_predict_is_differentiable_in_knobs() -> None:
    data = toy_data(settings=3, seconds=0.2)
    ens = fit_ensemble(data, members=3, net_options={"preset": "nano"}, recipe=QUICK, seed=5, knob_space=SPACE)
    assert isinstance(ens, TrainedEnsemble) and ens.members == 3 and len(set(ens.seeds)) == 3
    knobs = torch.full((2, 2), 0.5, requires_grad=True)
    y = ens.predict(data.x[:5000], knobs)
    assert y.shape == (3, 2, 5000 - ens.receptive_field + 1)
    assert (y[0] - y[1]).abs().max() > 1e-4 and (y[1] - y[2]).abs().max() > 1e-4
    y.var(dim=0).mean().backward()  # a sampler's disagreement
    assert knobs.grad is not None and knobs.grad.abs().sum() > 0
    assert all(p.grad is None for p in ens.net.parameters())
    assert len(ens.metrics["val_mse"]) == 3
    # a member is a usable single model
    member = ens.member(1)
    assert (torch.from_numpy(member.predict(data.x[:5000], {"drive": 5, "level": 0.5}))[ens.receptive_field - 1:]
            - y[1, 0].detach()).abs().max() < 1e-5


def test_ensemble_equals_members_trained_alone() -> None:
    """One stacked run = M independent runs with the members' seeds (vectorised, not coupled)."""
    from panama.core.train.engine import member_seeds

    data = toy_data(settings=3, seconds=0.2)
    recipe = QUICK.model_copy(update={"val_fraction": 0.0})
    ens = fit_ensemble(data, members=2, net_options={"preset": "nano"}, recipe=recipe, seed=3)
    alone = fit(data, net_options={"preset": "nano"}, recipe=recipe.model_copy(update={"seed": 3}), progress=False)
    assert member_seeds(3, 2)[0] == member_seeds(3, 1)[0]
    x, k = torch.from_numpy(data.x), torch.tensor([[0.3, 0.7]])
    np.testing.assert_allclose(ens.predict(x, k)[0, 0].numpy(), alone.net(x[None], k)[0].detach().numpy(), atol=1e-5)


def test_lstm_trains_through_the_same_engine() -> None:
    data = toy_data(settings=3, seconds=0.1)
    model = fit(data, net="lstm", net_options={"hidden_size": 4, "warmup": 64}, recipe=QUICK, progress=False)
    assert model.net.num_knobs == 2 and np.isfinite(model.metrics["val_mse"])
    ens = fit_ensemble(data, members=2, net="lstm", net_options={"hidden_size": 4, "warmup": 64}, recipe=QUICK)
    assert ens.predict(data.x[:300], torch.rand(1, 2)).shape == (2, 1, 300 - 64)


def test_bad_inputs_are_panama_errors() -> None:
    data = toy_data(settings=2, seconds=0.05)
    with pytest.raises(PanamaError, match="shorter than the net's receptive field"):
        fit(data, net_options={"preset": "nano"}, recipe=QUICK, progress=False)
    with pytest.raises(PanamaError, match="unknown net"):
        fit(data, net="nope", recipe=QUICK, progress=False)
    with pytest.raises(PanamaError, match="preset"):
        fit(data, net_options={"preset": "huge"}, recipe=QUICK, progress=False)
    with pytest.raises(PanamaError, match="samples but the input has"):
        TrainingData(np.zeros(10), np.zeros((2, 9)), np.zeros((2, 1)), SR)
    with pytest.raises(PanamaError, match="NaN"):
        TrainingData(np.full(10, np.nan), np.zeros((1, 10)), np.zeros((1, 1)), SR)
    with pytest.raises(PanamaError, match=r"trainer\.bogus"):
        fit(toy_data(settings=2, seconds=0.2), net_options={"preset": "nano"},
            recipe=QUICK.model_copy(update={"trainer": {"bogus": 1}}), progress=False)
    if not torch.cuda.is_available():
        with pytest.raises(PanamaError, match=r"^trainer: "):
            fit(toy_data(settings=2, seconds=0.2), net_options={"preset": "nano"},
                recipe=QUICK.model_copy(update={"trainer": {"accelerator": "gpu"}}), progress=False)


def test_importing_the_engine_api_imports_no_torch() -> None:
    code = "import sys, panama.core, panama.core.train, panama.core.cli; panama.core.cli.build_app(); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_a_warm_started_fit_starts_from_the_given_weights() -> None:
    """``init_from``: the first validation of the new fit is the given model's own best one."""
    data = toy_data(settings=3, seconds=0.2)
    recipe = Recipe(steps=6, batch_size=2, segment_length=512, val_every=3, val_fraction=0.0, val_seconds=0.05)
    first = fit(data, net_options={"preset": "nano"}, recipe=recipe, progress=False)
    later = fit(data, net_options={"preset": "nano"}, recipe=recipe.model_copy(update={"seed": 7}), progress=False,
                init_from=first)
    fresh = fit(data, net_options={"preset": "nano"}, recipe=recipe.model_copy(update={"seed": 7}), progress=False)
    assert later.metrics["initial_val_mse"] == pytest.approx(first.metrics["val_mse"], rel=1e-6)
    assert fresh.metrics["initial_val_mse"] != pytest.approx(first.metrics["val_mse"], rel=1e-3)
    assert later.metrics["init_from"] == first.fingerprint()
    assert later.metrics["val_mse"] <= first.metrics["val_mse"]  # best weights: never worse than the start


def test_a_warm_start_from_another_net_is_refused() -> None:
    data = toy_data(settings=3, seconds=0.2)
    first = fit(data, net_options={"preset": "nano"}, recipe=QUICK, progress=False)
    with pytest.raises(PanamaError, match="cannot start from the existing model"):
        fit(data, net_options={"preset": "feather"}, recipe=QUICK, progress=False, init_from=first)


def test_level_weight_moves_the_loss_from_mse_to_per_setting_esr() -> None:
    """``level_weight`` p weighs a setting's squared error by energy**-p: 0 is MSE, 1 the ESR loss."""
    from panama.core.train.engine import _loss_fn, loss_weights

    torch.manual_seed(0)
    target = torch.randn(3, 2, 64) * torch.tensor([1.0, 0.1, 0.01]).view(3, 1, 1)  # a loud, a quiet, a near-silent setting
    pred = target + 0.01 * torch.randn(3, 2, 64)
    inv_energy = 1.0 / target.pow(2).mean(dim=2)

    def loss(p: float, **recipe: object) -> torch.Tensor:
        weights = torch.from_numpy(loss_weights(target.numpy(), inv_energy.numpy(), np.zeros((3, 2), bool), p, 0.0))
        return _loss_fn(Recipe(level_weight=p, **recipe))(pred, target, weights)

    mse = (pred - target).pow(2).mean(dim=(0, 2))
    esr = ((pred - target).pow(2).mean(dim=2) * inv_energy).mean(dim=0)
    torch.testing.assert_close(loss(0.0), mse)
    torch.testing.assert_close(loss(1.0), esr)
    torch.testing.assert_close(loss(1.0, loss="esr"), esr)
    expected = ((pred - target).pow(2).mean(dim=2) * inv_energy.sqrt()).mean(dim=0)
    torch.testing.assert_close(loss(0.5), expected)
    # the near-silent setting's share of the loss grows with the weight
    share = lambda p: (((pred - target).pow(2).mean(dim=2) * inv_energy.pow(p))[2] / ((pred - target).pow(2).mean(dim=2) * inv_energy.pow(p)).sum(0))  # noqa: E731
    assert torch.all(share(0.0) < share(0.5)) and torch.all(share(0.5) < share(1.0))


def test_a_muted_setting_weighs_as_a_typical_one() -> None:
    """A plugin muted by a knob (silent output) has no ESR: its energy weight is the median's,
    not the floor's (there it outweighed a typical setting ~35×)."""
    from panama.core.train import TrainingData
    from panama.core.train.engine import SegmentStream

    rng = np.random.default_rng(0)
    levels = np.array([1.0, 0.3, 0.1, 0.0])  # the last setting is muted
    y = (rng.standard_normal((4, 4096)) * levels[:, None]).astype(np.float32)
    data = TrainingData(x=rng.standard_normal(4096).astype(np.float32), y=y, knobs=rng.random((4, 2)).astype(np.float32),
                        sample_rate=8000)
    stream = SegmentStream(data, 64, Recipe(segment_length=1024), seeds=[0], steps_per_epoch=1)
    energy = np.mean(np.square(y[:3], dtype=np.float64), axis=1)
    np.testing.assert_allclose(stream.inv_energy[:3], 1 / energy, rtol=1e-5)
    np.testing.assert_allclose(stream.inv_energy[3], 1 / np.median(energy), rtol=1e-5)


def test_segment_weight_weighs_each_segment_by_its_own_energy() -> None:
    """``segment_weight`` 1: a quiet passage of a setting (the guitar after the sweeps) weighs as
    much as a loud one relative to its energy; silence is floored at SEGMENT_FLOOR of the setting's
    energy; a muted setting keeps its setting weight. The segments drawn are the same."""
    from panama.core.train import TrainingData
    from panama.core.train.engine import SEGMENT_FLOOR, SegmentStream

    rng = np.random.default_rng(0)
    envelope = np.repeat([1.0, 0.2, 0.0, 0.5], 1024)  # loud, quiet, silent, middle passages
    y = (rng.standard_normal((3, 4096)) * envelope * np.array([[1.0], [0.5], [0.0]])).astype(np.float32)  # third muted
    data = TrainingData(x=rng.standard_normal(4096).astype(np.float32), y=y, knobs=rng.random((3, 2)).astype(np.float32),
                        sample_rate=8000)
    recipe = Recipe(segment_length=256, batch_size=256, level_weight=0.5)
    by_setting = SegmentStream(data, 1, recipe, seeds=[0], steps_per_epoch=1)
    by_segment = SegmentStream(data, 1, recipe.model_copy(update={"segment_weight": 1.0}), seeds=[0], steps_per_epoch=1)
    _, _, target, setting_w = by_setting.batch()
    _, _, same_target, segment_w = by_segment.batch()
    torch.testing.assert_close(target, same_target)
    energy = target.double().pow(2).mean(dim=-1)[:, 0]
    setting_w, segment_w = setting_w[:, 0].double(), segment_w[:, 0].double()
    setting_energy = setting_w ** -2  # level_weight 0.5
    muted = torch.isclose(setting_w, torch.tensor(float(by_setting.inv_energy[2]) ** 0.5, dtype=torch.float64))
    assert muted.any() and torch.equal(segment_w[muted], setting_w[muted])
    loud = ~muted & (energy > SEGMENT_FLOOR * setting_energy)
    torch.testing.assert_close(segment_w[loud], setting_w[loud] * setting_energy[loud] / energy[loud], rtol=1e-4, atol=0)
    floored = ~muted & ~loud  # silence and near-silence: as loud as the floor, never louder
    assert floored.any()
    torch.testing.assert_close(segment_w[floored], setting_w[floored] / SEGMENT_FLOOR, rtol=1e-4, atol=0)
    # within the loudest setting, its quiet passage now outweighs its loud one (by setting: equal)
    first = loud & torch.isclose(setting_w, torch.tensor(float(by_setting.inv_energy[0]) ** 0.5, dtype=torch.float64))
    assert segment_w[first][energy[first].argmin()] > 5 * segment_w[first][energy[first].argmax()]


def test_knob_noise_jitters_the_knobs_and_nothing_else() -> None:
    """``knob_noise`` σ adds N(0, σ²) to each segment's knobs; the segments drawn stay the same."""
    from panama.core.train import TrainingData
    from panama.core.train.engine import SegmentStream

    rng = np.random.default_rng(0)
    data = TrainingData(x=rng.standard_normal(4096).astype(np.float32), y=rng.standard_normal((3, 4096)).astype(np.float32),
                        knobs=rng.random((3, 2)).astype(np.float32), sample_rate=8000)
    plain = SegmentStream(data, 64, Recipe(segment_length=512, batch_size=64), seeds=[0, 1], steps_per_epoch=1).batch()
    noisy = SegmentStream(data, 64, Recipe(segment_length=512, batch_size=64, knob_noise=0.05), seeds=[0, 1],
                          steps_per_epoch=1).batch()
    for a, b in zip((plain[0], plain[2], plain[3]), (noisy[0], noisy[2], noisy[3]), strict=True):
        torch.testing.assert_close(a, b)
    jitter = (noisy[1] - plain[1]).numpy()
    assert noisy[1].dtype == torch.float32 and jitter.shape == (64, 2, 2)
    assert 0.04 < jitter.std() < 0.06 and abs(jitter.mean()) < 0.01
    assert not np.allclose(jitter[:, 0], jitter[:, 1])  # each member draws its own jitter


def test_an_averaged_fit_trains_its_nets_apart_and_predicts_their_mean(tmp_path) -> None:
    """``Recipe(average=2)``: two nets, each on its own loss and seed, one model (their mean) that
    saves, loads and reports its own validation error beside its nets'."""
    data = toy_data(settings=3, seconds=0.2)
    recipe = QUICK.model_copy(update={"average": 2, "val_fraction": 0.0})
    model = fit(data, net_options={"preset": "nano"}, recipe=recipe, knob_space=SPACE, progress=False)
    assert model.net_options["average"] == 2 and model.metrics["average"] == 2
    assert len(model.metrics["member_val_mse"]) == 2 and model.metrics["member_val_mse"][0] != model.metrics["member_val_mse"][1]
    assert isinstance(model.metrics["val_mse"], float) and model.metrics["val_mse"] <= max(model.metrics["member_val_mse"]) * 1.0001
    x, setting = data.x[:4000], {"drive": 3.0, "level": 0.4}
    nets = [TrainedModel(model.net.member(i).eval(), SPACE, SR, "wavenet", {"preset": "nano", "num_knobs": 2}) for i in range(2)]
    np.testing.assert_allclose(model.predict(x, setting), np.mean([n.predict(x, setting) for n in nets], axis=0), atol=1e-6)
    loaded = TrainedModel.load(model.save(tmp_path / "m.pt"))
    np.testing.assert_allclose(loaded.predict(x, setting), model.predict(x, setting), atol=1e-7)
    with pytest.raises(PanamaError, match="not an ensemble member"):
        fit_ensemble(data, members=2, net_options={"preset": "nano"}, recipe=recipe, knob_space=SPACE)


def test_an_averaged_fits_first_net_is_the_single_fit() -> None:
    """The first of an averaged model's nets is the model the same recipe trains alone (same
    seed, initial weights and segments), so the average is compared with it pairwise."""
    data = toy_data(settings=3, seconds=0.2)
    recipe = QUICK.model_copy(update={"val_fraction": 0.0, "seed": 5})
    single = fit(data, net_options={"preset": "nano"}, recipe=recipe, knob_space=SPACE, progress=False)
    averaged = fit(data, net_options={"preset": "nano"}, recipe=recipe.model_copy(update={"average": 2}), knob_space=SPACE,
                   progress=False)
    for mine, theirs in zip(averaged.net.member(0).state_dict().values(), single.net.state_dict().values(), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-6)


def test_grad_clip_caps_the_gradient_norm_before_each_step() -> None:
    """``grad_clip`` (on in the CPU presets' final recipes): a loss spike from a quiet segment's
    large weight moves Adam's moments by at most the cap, instead of throwing the net into a
    silent plateau (GxStudioPre, benchmarks/RESULTS.md)."""
    from panama.core.train.engine import TrainModule
    from panama.core.train.model import build_net

    data = toy_data(settings=2, seconds=0.1)
    # FiLM with two segments, and bias conditioning with one, whose conv bias and knob bias
    # receive one shared gradient tensor (scaled once, not twice)
    for conditioning, segments in (("film", 2), ("bias", 1)):
        norms = {}
        for clip in (None, 0.5):
            net = build_net("wavenet", {"preset": "nano", "conditioning": conditioning, "num_knobs": 2}, seeds=[0])
            module = TrainModule(net, Recipe(grad_clip=clip))
            x = torch.from_numpy(data.x).view(1, 1, -1).expand(segments, 1, -1)
            knobs = torch.from_numpy(data.knobs[:segments].astype(np.float32)).view(segments, 1, -1)
            y = torch.from_numpy(data.y[:segments, net.receptive_field - 1:]).view(segments, 1, -1)
            (1e3 * (module(x, knobs) - y).pow(2).mean()).backward()  # a loud, weighted segment
            module.on_before_optimizer_step(None)
            norms[clip] = float(torch.norm(torch.stack([p.grad.norm() for p in net.parameters() if p.grad is not None])))
        assert norms[None] > 1.0 and norms[0.5] == pytest.approx(0.5, rel=1e-4), conditioning
