"""What a trained model leaves in a capture: ``models/model.pt``, ``curves.json``, a journal line.

Shared by ``panama train DIR`` and the loop so both leave the same record, and so a resumed
``panama run`` can tell from the journal whether the model matches the labels it has.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

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
