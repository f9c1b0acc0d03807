"""Optimiser and learning-rate schedule from a :class:`Recipe` (torch is imported inside the
functions, so importing this module never loads it).

NAM's ``model.json`` names them: ``optimizer`` {``lr``, ``betas``, ``weight_decay`` …} for
Adam, and ``lr_scheduler`` {``class``: any scheduler of ``torch.optim.lr_scheduler``,
``kwargs``, ``interval``: ``epoch`` (NAM's) or ``step``}. Without one, the recipe's own schedule:
``lr_decay`` as an ``ExponentialLR`` per epoch (NAM's), or ``lr_schedule="cosine"`` (warm-up,
then a cosine per step). ``ReduceLROnPlateau`` steps on
PANAMA's own validation (every ``val_every`` steps, on the metric ``val_loss`` names), through
:class:`PlateauOnValidation`, so it never reads a stale value between validations.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Iterable
from typing import Any

from panama.core.errors import PanamaError
from panama.core.train.recipe import Recipe

# Adam's keyword arguments that a config may set (``lr`` comes from the recipe itself).
ADAM_OPTIONS = ("betas", "eps", "weight_decay", "amsgrad")
# Schedulers that need more than an optimiser and keyword arguments; refused with the reason.
UNSUPPORTED_SCHEDULERS = {
    "LambdaLR": "needs a Python function",
    "MultiplicativeLR": "needs a Python function",
    "SequentialLR": "needs scheduler objects",
    "ChainedScheduler": "needs scheduler objects",
}


def scheduler_class(name: str) -> Any:
    """The torch scheduler class called ``name``, or a one-line error listing the choices."""
    import torch

    module = torch.optim.lr_scheduler
    cls = getattr(module, name, None)
    choices = sorted(n for n, c in vars(module).items() if inspect.isclass(c) and n.endswith(("LR", "Plateau", "LRScheduler"))
                     and not n.startswith("_") and n not in UNSUPPORTED_SCHEDULERS and n != "LRScheduler")
    if name in UNSUPPORTED_SCHEDULERS:
        raise PanamaError(f"lr_scheduler.class {name!r} {UNSUPPORTED_SCHEDULERS[name]}, which a JSON config cannot hold",
                          f"use one of: {', '.join(choices)}")
    if cls is None or not inspect.isclass(cls) or name not in choices:
        raise PanamaError(f"lr_scheduler.class {name!r} is not a torch.optim.lr_scheduler scheduler",
                          f"use one of: {', '.join(choices)}")
    return cls


def check(recipe: Recipe) -> None:
    """Validate the recipe's optimiser and schedule before any audio is read (a dummy parameter)."""
    import torch

    configure(torch.nn.Linear(1, 1).parameters(), recipe)


def configure(params: Iterable[Any], recipe: Recipe,
              latest_validation: Callable[[], tuple[int, float] | None] = lambda: None) -> dict[str, Any]:
    """``configure_optimizers``'s answer for ``recipe``: Adam and its Lightning scheduler dict."""
    if recipe.lr_scheduler is None and recipe.lr_schedule == "cosine":
        return _cosine(params, recipe)
    return build(params, lr=recipe.lr, lr_decay=recipe.lr_decay, optimizer=recipe.optimizer,
                 lr_scheduler=recipe.lr_scheduler, latest_validation=latest_validation)


def _adam_options(optimizer: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(optimizer) - set(ADAM_OPTIONS))
    if unknown:
        raise PanamaError(f"optimizer.{unknown[0]}: not an option of torch.optim.Adam (PANAMA trains with Adam)",
                          f"use lr, {', '.join(ADAM_OPTIONS)}")
    kwargs = dict(optimizer)
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    return kwargs


def build(
    params: Iterable[Any],
    *,
    lr: float,
    lr_decay: float,
    optimizer: dict[str, Any],
    lr_scheduler: dict[str, Any] | None,
    latest_validation: Callable[[], tuple[int, float] | None] = lambda: None,
) -> dict[str, Any]:
    """``configure_optimizers``'s answer: ``{"optimizer": Adam, "lr_scheduler": {...}}``."""
    import torch

    try:
        opt = torch.optim.Adam(params, lr=lr, **_adam_options(optimizer))
    except (TypeError, ValueError) as exc:
        raise PanamaError(f"optimizer: {exc}", "fix the optimizer options") from None
    if lr_scheduler is None:
        sched: Any = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=lr_decay)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
    name = str(lr_scheduler.get("class", "ExponentialLR"))
    interval = lr_scheduler.get("interval", "epoch")
    if interval not in ("epoch", "step"):
        raise PanamaError(f"lr_scheduler.interval {interval!r} must be 'epoch' or 'step'", "NAM steps its scheduler every epoch")
    cls = scheduler_class(name)
    try:
        sched = cls(opt, **dict(lr_scheduler.get("kwargs") or {}))
    except (TypeError, ValueError) as exc:
        raise PanamaError(f"lr_scheduler {name}: {exc}", "see torch.optim.lr_scheduler's documentation") from None
    if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
        sched = _plateau_class()(sched, latest_validation)
        interval = "step"
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": interval}}


def _cosine(params: Iterable[Any], recipe: Recipe) -> dict[str, Any]:
    """Linear warm-up, then a cosine to ``lr_final_fraction`` of ``lr`` at the last step: the last
    weights are then about the best, so choosing a checkpoint needs no held-out settings."""
    import torch

    opt = torch.optim.Adam(params, lr=recipe.lr, **_adam_options(recipe.optimizer))
    total, warm = max(1, recipe.steps or 1), recipe.warmup_steps
    floor = recipe.lr_final_fraction

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        done = min(1.0, (step - warm) / max(1, total - warm))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * done))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


@functools.cache
def _plateau_class() -> type:
    """:class:`PlateauOnValidation`, built on first use so torch loads only when training."""
    import torch

    class PlateauOnValidation(torch.optim.lr_scheduler.LRScheduler):
        """A ``ReduceLROnPlateau`` that steps once per new validation result.

        Lightning steps it after every batch; it looks at ``latest_validation()`` (the step and
        value of the last validation) and only passes a value on when it is new, so ``patience``
        counts validations, as in NAM where validation runs once per epoch.
        """

        def __init__(self, plateau: Any, latest_validation: Callable[[], tuple[int, float] | None]):
            # no super().__init__(): that would take a first scheduler step; this one only relays
            self.plateau, self.latest_validation, self.seen = plateau, latest_validation, -1
            self.optimizer = plateau.optimizer

        def step(self, *_: Any) -> None:  # type: ignore[override]
            latest = self.latest_validation()
            if latest is not None and latest[0] != self.seen:
                self.seen = latest[0]
                self.plateau.step(latest[1])

        def get_last_lr(self) -> list[float]:  # type: ignore[override]
            return [group["lr"] for group in self.optimizer.param_groups]

        def state_dict(self) -> dict[str, Any]:  # type: ignore[override]
            return {"plateau": self.plateau.state_dict(), "seen": self.seen}

        def load_state_dict(self, state: dict[str, Any]) -> None:  # type: ignore[override]
            self.plateau.load_state_dict(state["plateau"])
            self.seen = int(state["seen"])

    return PlateauOnValidation


def __getattr__(name: str) -> Any:
    if name == "PlateauOnValidation":
        cls = globals()[name] = _plateau_class()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
