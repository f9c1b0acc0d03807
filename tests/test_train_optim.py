"""``panama.core.train.optim``: the recipe's optimiser and schedule, as Lightning receives them."""

from __future__ import annotations

import itertools

import pytest
import torch

from panama.core.errors import PanamaError
from panama.core.train import Recipe
from panama.core.train.optim import PlateauOnValidation, configure


def _lrs(recipe: Recipe, steps: int) -> list[float]:
    answer = configure(torch.nn.Linear(1, 1).parameters(), recipe)
    opt, sched = answer["optimizer"], answer["lr_scheduler"]["scheduler"]
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_default_is_nams_exponential_decay_per_epoch() -> None:
    answer = configure(torch.nn.Linear(1, 1).parameters(), Recipe(lr=0.01, lr_decay=0.5))
    assert answer["lr_scheduler"]["interval"] == "epoch"
    assert _lrs(Recipe(lr=0.01, lr_decay=0.5), 3) == pytest.approx([0.01, 0.005, 0.0025])


def test_cosine_warms_up_then_falls_to_its_floor() -> None:
    lrs = _lrs(Recipe(lr=0.01, steps=10, lr_schedule="cosine", warmup_steps=2, lr_final_fraction=0.1), 11)
    assert lrs[0] == pytest.approx(0.005) and lrs[1] == pytest.approx(0.01)
    assert lrs[-1] == pytest.approx(0.001) and all(a >= b for a, b in itertools.pairwise(lrs[1:]))


def test_adam_options_and_a_named_scheduler() -> None:
    recipe = Recipe(lr=0.01, optimizer={"betas": [0.5, 0.9], "weight_decay": 0.1},
                    lr_scheduler={"class": "StepLR", "kwargs": {"step_size": 2, "gamma": 0.1}, "interval": "step"})
    answer = configure(torch.nn.Linear(1, 1).parameters(), recipe)
    group = answer["optimizer"].param_groups[0]
    assert group["betas"] == (0.5, 0.9) and group["weight_decay"] == 0.1 and answer["lr_scheduler"]["interval"] == "step"
    assert _lrs(recipe, 4) == pytest.approx([0.01, 0.01, 0.001, 0.001])


def test_plateau_steps_once_per_new_validation() -> None:
    latest: list[tuple[int, float] | None] = [None]
    recipe = Recipe(lr=0.01, lr_scheduler={"class": "ReduceLROnPlateau", "kwargs": {"factor": 0.5, "patience": 0}})
    answer = configure(torch.nn.Linear(1, 1).parameters(), recipe, lambda: latest[0])
    sched, opt = answer["lr_scheduler"]["scheduler"], answer["optimizer"]
    assert isinstance(sched, PlateauOnValidation)
    for step, value in ((0, 1.0), (0, 1.0), (0, 1.0), (5, 2.0), (5, 2.0)):  # repeats are the same validation
        latest[0] = (step, value)
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.005)  # one worse validation → one halving


@pytest.mark.parametrize(("recipe", "message"), [
    (Recipe(optimizer={"momentum": 0.9}), "optimizer.momentum: not an option of torch.optim.Adam"),
    (Recipe(lr_scheduler={"class": "LambdaLR"}), "needs a Python function"),
    (Recipe(lr_scheduler={"class": "StepLR", "kwargs": {}}), "lr_scheduler StepLR"),
    (Recipe(lr_scheduler={"class": "StepLR", "interval": "batch"}), "must be 'epoch' or 'step'"),
])
def test_bad_options_are_one_line(recipe: Recipe, message: str) -> None:
    with pytest.raises(PanamaError, match=message):
        configure(torch.nn.Linear(1, 1).parameters(), recipe)
