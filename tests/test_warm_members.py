"""Active-learning members: warm starts across rounds (shrink and perturb) and bootstrap draws.

Real tiny nano ensembles and real training steps on a toy knob-dependent amp.
"""

from __future__ import annotations

import numpy as np
import pytest

from panama.core.errors import PanamaError
from panama.core.train import Recipe, TrainingData, WarmStart, fit_ensemble
from panama.core.train.model import build_net
from panama.core.train.warm import bootstrap_pools, scaled_recipe, shrink_and_perturb

torch = pytest.importorskip("torch")
SR = 8000
NANO = {"preset": "nano"}
QUICK = Recipe(steps=6, batch_size=2, segment_length=256, val_every=3, val_fraction=0.0, num_threads=1)


def toy_data(settings: int, seed: int = 0) -> TrainingData:
    rng = np.random.default_rng(seed)
    x = (0.4 * rng.standard_normal(5000)).astype(np.float32)
    knobs = rng.random((settings, 2))
    y = np.stack([np.tanh((1 + 6 * k[0]) * x) * (0.4 + 0.5 * k[1]) for k in knobs])
    return TrainingData(x, y, knobs, SR)


def test_warm_started_members_start_from_the_previous_rounds_weights() -> None:
    data, val = toy_data(4), toy_data(2, seed=1)
    first = fit_ensemble(data, members=2, net_options=NANO, recipe=QUICK, seed=1, val=val)
    # shrink 1, perturb 0: the new round's step-0 validation is the previous members' best.
    again = fit_ensemble(toy_data(5), members=2, net_options=NANO, recipe=QUICK, seed=2, val=val,
                         init_from=first, warm_start={"shrink": 1.0, "perturb": 0.0, "steps": 0.5})
    np.testing.assert_allclose(again.history[0]["val_mse_members"], first.metrics["val_mse"], rtol=1e-5)
    assert again.metrics["steps"] == 3  # half of the recipe's 6 steps when warm
    assert again.metrics["warm_start"]["from_seeds"] == first.seeds
    cold = fit_ensemble(toy_data(5), members=2, net_options=NANO, recipe=QUICK, seed=2, val=val)
    assert not np.allclose(cold.history[0]["val_mse_members"], first.metrics["val_mse"], rtol=1e-3)
    assert "warm_start" not in cold.metrics and cold.metrics["steps"] == 6
    # pooled ESR: the members' MSE over the energy of all validated target samples together
    energy = np.mean(np.square(val.y[:, first.receptive_field - 1 :], dtype=np.float64))
    np.testing.assert_allclose(first.metrics["val_esr_pooled"], np.array(first.metrics["val_mse"]) / energy, rtol=1e-9)
    with pytest.raises(PanamaError, match="has 2 members, this one 3"):
        fit_ensemble(data, members=3, net_options=NANO, recipe=QUICK, init_from=first)


def test_shrink_and_perturb_mixes_previous_weights_with_a_fresh_init() -> None:
    previous = build_net("wavenet", {**NANO, "num_knobs": 2}, members=2, seeds=[1, 2])
    module = build_net("wavenet", {**NANO, "num_knobs": 2}, members=2, seeds=[3, 4])
    fresh = {k: v.clone() for k, v in module.state_dict().items()}
    shrink_and_perturb(module, previous.state_dict(), 0.6, 0.3)
    for name, tensor in module.state_dict().items():
        torch.testing.assert_close(tensor, 0.6 * previous.state_dict()[name] + 0.3 * fresh[name])
    assert WarmStart().shrink < 1 and WarmStart().perturb > 0
    assert scaled_recipe(Recipe(steps=150), 0.5).steps == 75
    assert scaled_recipe(Recipe(steps=None, epochs=50), 0.1).epochs == 5


def test_bootstrap_draws_differ_per_member_and_members_train_only_on_their_draw() -> None:
    pools = bootstrap_pools(8, [11, 12, 13, 14])
    assert all(len(p) == 8 and p.min() >= 0 and p.max() < 8 for p in pools)
    assert len({tuple(p) for p in pools}) == 4  # every member its own draw
    assert pools[0].tolist() == bootstrap_pools(8, [11])[0].tolist()  # reproducible per seed
    assert any(len(set(p.tolist())) < 8 for p in pools)  # with replacement

    from panama.core.train.engine import SegmentStream

    data = toy_data(6)
    mine = [np.array([0, 0, 1]), np.array([4, 5])]
    stream = SegmentStream(data, 1, QUICK.model_copy(update={"batch_size": 12}), [1, 2], 4, mine)
    for _ in range(3):
        knobs = stream.batch()[1]  # x, knobs, y, ...
        for member, pool in enumerate(mine):
            rows = {int(np.flatnonzero((data.knobs == k).all(axis=1))[0]) for k in knobs[:, member].numpy()}
            assert rows == set(pool.tolist())  # the whole draw, and nothing else

    ensemble = fit_ensemble(data, members=3, net_options=NANO, recipe=QUICK, seed=4, bootstrap=True)
    draws = ensemble.metrics["bootstrap"]
    assert len(draws) == 3 and all(len(d) == 6 for d in draws)
    assert len({tuple(d) for d in draws}) > 1
    assert ensemble.metrics["val_held_out"] is False
