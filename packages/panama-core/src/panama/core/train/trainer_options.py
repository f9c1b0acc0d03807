"""``trainer`` settings (NAM's ``learning.json``, ``--trainer``) turned into Lightning arguments.

Most keys go to ``pytorch_lightning.Trainer`` as they are. A few need translating because a JSON
file cannot hold Python objects, or because PANAMA validates on its own schedule:

- ``logger``: ``true`` (a CSV logger under ``default_root_dir``), ``false``, a class name of
  ``pytorch_lightning.loggers`` or ``{"class": …, "kwargs": {…}}`` (or a list of them);
- ``callbacks``: a list of class names of ``pytorch_lightning.callbacks`` or
  ``{"class": …, "kwargs": {…}}``; they see ``val_loss`` / ``val_esr`` as logged metrics;
- ``val_check_interval`` (steps, or a fraction of an epoch) and ``check_val_every_n_epoch``
  set how often PANAMA's validation runs (``Recipe.val_every``), in optimiser steps;
- ``strategy``: data-parallel runs use ``ddp`` (Lightning re-launches the command once per
  extra process); ``ddp_spawn``/``ddp_fork``/``ddp_notebook`` are refused, since their worker
  processes cannot hand PANAMA's validation record back.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

from panama.core.errors import PanamaError

PROCESS_STRATEGIES = ("ddp_spawn", "ddp_fork", "ddp_notebook")
VALIDATION_KEYS = ("val_check_interval", "check_val_every_n_epoch")


def _objects(value: Any, module: Any, what: str) -> list[Any]:
    specs = value if isinstance(value, list) else [value]
    objects = []
    for i, spec in enumerate(specs):
        name, kwargs = (spec, {}) if isinstance(spec, str) else (
            (spec.get("class"), dict(spec.get("kwargs") or {})) if isinstance(spec, dict) else (None, {}))
        if isinstance(spec, dict) and set(spec) - {"class", "kwargs"}:
            raise PanamaError(f"trainer.{what}.{i}: unknown keys {sorted(set(spec) - {'class', 'kwargs'})}",
                              'give {"class": "Name", "kwargs": {...}}')
        cls = getattr(module, str(name), None) if name else None
        if not inspect.isclass(cls):
            raise PanamaError(f"trainer.{what}.{i}: {name!r} is not a class of {module.__name__}",
                              'give {"class": "Name", "kwargs": {...}} with a Lightning class name')
        try:
            objects.append(cls(**kwargs))
        except Exception as exc:  # a bad argument, or a logger whose package is missing: one line
            raise PanamaError(f"trainer.{what}.{i} {name}: {exc}", f"see {module.__name__}.{name}'s documentation") from None
    return objects


def loggers(value: Any, root: str | None) -> Any:
    """``logger`` as Lightning wants it: ``False``, or logger objects."""
    from pytorch_lightning import loggers as pl_loggers

    if value is False or value is None:
        return False
    if value is True:
        return [pl_loggers.CSVLogger(root or ".")]
    specs = value if isinstance(value, list) else [value]
    specs = [{"class": s, "kwargs": {}} if isinstance(s, str) else s for s in specs]
    for spec in specs:
        if isinstance(spec, dict) and "save_dir" in inspect.signature(getattr(pl_loggers, str(spec.get("class")), dict)).parameters:
            spec.setdefault("kwargs", {})
            spec["kwargs"] = {"save_dir": root or ".", **dict(spec["kwargs"] or {})}
    return _objects(specs, pl_loggers, "logger")


def callbacks(value: Any) -> list[Any]:
    from pytorch_lightning import callbacks as pl_callbacks

    return [] if not value else _objects(value, pl_callbacks, "callbacks")


def val_every(trainer: dict[str, Any], steps_per_epoch: int, default: int) -> int:
    """PANAMA's validation period in steps from Lightning's two validation-interval settings."""
    interval, epochs = trainer.get("val_check_interval"), trainer.get("check_val_every_n_epoch")
    if interval is None and epochs is None:
        return default
    if isinstance(interval, bool) or (interval is not None and (not isinstance(interval, int | float) or interval <= 0)):
        raise PanamaError(f"trainer.val_check_interval {interval!r} must be a positive number", "steps (int) or a fraction of an epoch")
    if isinstance(interval, float) and interval > 1:
        raise PanamaError(f"trainer.val_check_interval {interval} is a fraction above 1", "give a fraction ≤ 1 or a whole number of steps")
    per_epoch = steps_per_epoch * int(epochs or 1)
    if interval is None:
        return max(1, per_epoch)
    if isinstance(interval, float):
        return max(1, math.ceil(interval * steps_per_epoch))
    return int(interval)


def check_strategy(trainer: dict[str, Any]) -> None:
    strategy = trainer.get("strategy")
    if isinstance(strategy, str) and strategy in PROCESS_STRATEGIES:
        raise PanamaError(f"trainer.strategy {strategy!r}: its worker processes cannot hand PANAMA's validation record back",
                          "use strategy 'ddp' (Lightning re-runs the command in each extra process)")


def lightning_kwargs(trainer: dict[str, Any], steps_per_epoch: int) -> dict[str, Any]:
    """``trainer`` with objects for ``logger``/``callbacks`` and without PANAMA's own keys."""
    import pytorch_lightning as pl

    allowed = set(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}
    for key in trainer:
        if key not in allowed:
            raise PanamaError(f"trainer.{key}: not an argument of pytorch_lightning.Trainer", "see Lightning's Trainer docs")
    check_strategy(trainer)
    kwargs = {k: v for k, v in trainer.items() if k not in VALIDATION_KEYS}
    if "logger" in kwargs:
        kwargs["logger"] = loggers(kwargs["logger"], kwargs.get("default_root_dir"))
    if "callbacks" in kwargs:
        kwargs["callbacks"] = callbacks(kwargs["callbacks"])
        from pytorch_lightning.callbacks import ModelCheckpoint

        if any(isinstance(c, ModelCheckpoint) for c in kwargs["callbacks"]):
            kwargs["enable_checkpointing"] = True
    return kwargs


def check_loop(trainer: dict[str, Any], command: str) -> None:
    """Refuse what a command that trains inside its own process cannot do.

    ``devices = N`` is fine there: each round's ensemble splits its members across N devices,
    one worker process each (``panama.core.train.split``). A data-parallel strategy or several
    nodes would re-run the whole command in every process.
    """
    nodes, strategy = trainer.get("num_nodes", 1), str(trainer.get("strategy", ""))
    if (isinstance(nodes, int) and nodes > 1) or strategy.startswith(("ddp", "fsdp", "deepspeed")):
        raise PanamaError(f"{command} trains inside this process; a data-parallel strategy or several nodes would "
                          "re-run the whole command in each process",
                          "give --trainer devices=N alone (each round's ensemble is split across N devices), and "
                          "`panama train DIR --trainer devices=N` for a data-parallel final model")
