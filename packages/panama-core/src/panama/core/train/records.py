"""The capture's final model: how it is trained (its plan) and what it leaves behind.

One owner for both. :func:`final_plan` says which net, options and recipe a capture's final
model gets (its run preset, then capture.json's own choices), so ``panama run``, ``panama train
DIR`` and ``panama compare`` all train the same model. :func:`record_model` leaves
``models/model.pt``, ``curves.json`` and a journal line, so a resumed ``panama run`` can tell
whether the model matches the labels it has; :func:`load_final_model` reads it back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from panama.core.errors import PanamaError
from panama.core.fsutil import write_json_atomic

MODEL_FILE = "model.pt"
CURVES_FILE = "curves.json"


def finite_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in (metrics or {}).items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out[key] = number
    return out


def record_model(capture: Any, model: Any, recipe: Any, **extra: Any) -> Path:
    """Save ``model`` into the capture (unless ``fit`` checkpointed it there) and journal it."""
    models = capture.models_dir
    models.mkdir(parents=True, exist_ok=True)
    path = models / MODEL_FILE
    model.save(path)
    write_json_atomic(models / CURVES_FILE, {
        "net": model.net_name, "net_options": model.net_options, "metrics": model.metrics,
        "history": model.history, "recipe": recipe.model_dump(), **extra,
    })
    capture.journal("model-trained", path=f"{models.name}/{MODEL_FILE}", net=model.net_name,
                    net_options=model.net_options, labelled=len(capture.labelled_settings()),
                    metrics=finite_metrics(model.metrics))
    return path


def seed_for(capture_seed: int, stage: int) -> int:
    """A reproducible seed per stage of a capture (round index, or FINAL_STAGE)."""
    return int(np.random.SeedSequence([capture_seed, stage]).generate_state(1)[0])


FINAL_STAGE = 10_000


@dataclass
class FinalPlan:
    """Net, net options and recipe (a ``train.Recipe`` as a dict) of a capture's final model."""

    net: str
    net_options: dict[str, Any]
    recipe: dict[str, Any] = field(default_factory=dict)

    def fit(self, data: Any, *, knob_space: Any, progress: bool = True, checkpoint_path: Path | None = None) -> Any:
        from panama.core import train

        return train.fit(data, net=self.net, net_options=self.net_options, recipe=train.Recipe(**self.recipe),
                         knob_space=knob_space, progress=progress, checkpoint_path=checkpoint_path)


def final_plan(config: Any, *, labelled: int, net: str | None = None, net_options: Mapping[str, Any] | None = None,
               recipe: Mapping[str, Any] | None = None) -> FinalPlan:
    """The final model of a capture with ``config`` (capture.json) and ``labelled`` settings: its
    run preset's final net and recipe for that many settings, overridden by capture.json's
    ``net``/``net_options``/``recipe``, then by the caller's.

    A different ``net`` from the caller drops the preset's net options (they belong to its net).
    """
    from panama.core.presets import get_preset

    preset = get_preset(getattr(config, "run_preset", "quick") or "quick")
    base_net = getattr(config, "net", None) or preset.net
    options = {**(preset.net_options if base_net == preset.net else {}), **(getattr(config, "net_options", None) or {})}
    if net is not None and net != base_net:
        base_net, options = net, {}
    options = {**options, **(net_options or {})}
    options.pop("num_knobs", None)
    plan_recipe = {**preset.final_recipe(labelled), **({"trainer": dict(preset.trainer)} if preset.trainer else {}),
                   "seed": seed_for(int(getattr(config, "seed", 0) or 0), FINAL_STAGE),
                   **(getattr(config, "recipe", None) or {}), **(recipe or {})}
    return FinalPlan(base_net, options, plan_recipe)


def last_model_event(capture: Any) -> dict[str, Any] | None:
    events = [e for e in capture.events() if e.get("event") == "model-trained"]
    return events[-1] if events else None


def load_final_model(capture: Any) -> Any:
    event = last_model_event(capture)
    if event is None:
        raise PanamaError(f"{capture.root} has no trained model yet", f"run `panama run {capture.root}` or `panama train {capture.root}`")
    from panama.core import train

    return train.TrainedModel.load(capture.root / event["path"])
