"""Ensemble members that carry over between rounds and differ by their data (no torch at import).

An active learner retrains its ensemble every round on a few more labels. Starting from scratch
each time (the paper) spends most of the round re-learning what the last ensemble knew; plain
warm starts generalise worse than fresh nets (Ash & Adams 2020). Their fix, "shrink and
perturb", starts member m of the new round at ``shrink · θ_prev[m] + perturb · θ_fresh[m]``,
where ``θ_fresh`` is a fresh initialisation from this round's seeds: the learned function is
kept (scaled down), and fresh noise brings back plasticity and diversity between members.

Bootstrap: member m trains on N settings drawn with replacement from the N labelled ones (its
own draw, from its own seed), so members differ by their data as well as by their seeds —
bagging, which is what makes a small committee's disagreement mean something.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from panama.core.errors import PanamaError


class WarmStart(BaseModel):
    """How a round's ensemble continues from the previous round's members."""

    model_config = ConfigDict(extra="forbid")

    shrink: float = Field(0.8, ge=0.0, le=1.0, description="factor on the previous members' weights")
    perturb: float = Field(0.1, ge=0.0, le=1.0, description="factor on a fresh initialisation added to them")
    steps: float = Field(
        0.5, gt=0.0, le=1.0, description="share of the recipe's steps (or epochs) a warm-started ensemble trains"
    )


def bootstrap_pools(num_settings: int, seeds: list[int]) -> list[np.ndarray]:
    """Per member, ``num_settings`` setting indices drawn with replacement (sorted), from its seed."""
    if num_settings < 1:
        raise PanamaError("a bootstrap needs at least one labelled setting", "label a setting first")
    return [np.sort(np.random.default_rng([int(seed), 2]).integers(0, num_settings, num_settings)) for seed in seeds]


def incompatibility(previous: Any, net: str, net_options: dict[str, Any], members: int | None = None) -> str | None:
    """Why ``previous`` cannot seed this net, or None if it can: a TrainedEnsemble for an
    ensemble of ``members``, or (``members`` None) a TrainedModel for a single net."""
    what = "model" if members is None else "ensemble"
    if previous.net_name != net:
        return f"the previous {what} is a {previous.net_name!r} net, this one {net!r}"
    if members is not None and int(previous.members) != int(members):
        return f"the previous ensemble has {previous.members} members, this one {members}"
    if dict(previous.net_options) != dict(net_options):
        return f"the previous {what}'s net options {previous.net_options} differ from {net_options}"
    return None


def shrink_and_perturb(module: Any, previous_state: dict[str, Any], shrink: float, perturb: float) -> None:
    """In place: parameters become ``shrink · previous + perturb · current`` (current = fresh init).

    Buffers (running statistics and the like) are copied from ``previous_state`` unchanged.
    """
    import torch

    parameters = dict(module.named_parameters())
    with torch.no_grad():
        for name, tensor in module.state_dict(keep_vars=True).items():
            prev = previous_state[name].to(device=tensor.device, dtype=tensor.dtype)
            if name in parameters:
                tensor.mul_(perturb).add_(prev, alpha=shrink)
            else:
                tensor.copy_(prev)


def scaled_recipe(recipe: Any, share: float) -> Any:
    """The recipe with ``share`` of its steps (or epochs), at least one."""
    update: dict[str, int] = {}
    if recipe.steps is not None:
        update["steps"] = max(1, round(recipe.steps * share))
    if recipe.epochs is not None:
        update["epochs"] = max(1, round(recipe.epochs * share))
    return recipe.model_copy(update=update)
