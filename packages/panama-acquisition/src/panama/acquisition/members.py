"""What a round's ensemble members were like: their validation errors, warm start and data draws.

Committee disagreement only means something when the members are near the device (Burbidge et
al. 2007): while they validate far off, their spread is noise. These facts go into the round's
``proposals.json`` so a report (and a person) can see whether the committee could be trusted.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def member_notes(ensemble: Any) -> dict[str, Any]:
    """The ensemble's per-member metrics as JSON-ready notes (empty fields when not known)."""
    metrics = dict(getattr(ensemble, "metrics", None) or {})
    esr = _as_list(metrics.get("val_esr"))
    pooled = _as_list(metrics.get("val_esr_pooled"))
    # The competence check reads the pooled ESR where the engine gives it (quiet settings do
    # not rule it), else the mean of the per-setting ESRs.
    judged = pooled or esr
    notes: dict[str, Any] = {
        "val_esr": esr,
        "val_esr_pooled": pooled,
        "val_mse": _as_list(metrics.get("val_mse")),
        "median_val_esr": float(np.median(judged)) if judged else None,
        "median_of": "val_esr_pooled" if pooled else "val_esr",
        "validated_on": (
            None if "val_held_out" not in metrics
            else "held-out settings" if metrics["val_held_out"] else "the training settings"
        ),
    }
    for key in ("steps", "train_seconds", "warm_start", "bootstrap"):
        if key in metrics:
            notes[key] = metrics[key]
    return notes


def _as_list(value: Any) -> list[float]:
    if value is None:
        return []
    values = value if isinstance(value, list | tuple) else [value]
    return [float(v) for v in values if v is not None and np.isfinite(float(v))]


def incompetence(notes: dict[str, Any], threshold: float | None) -> str | None:
    """Why the members cannot be trusted yet (median validation ESR above ``threshold``), or None."""
    median = notes.get("median_val_esr")
    if threshold is None or median is None or median <= threshold:
        return None
    return f"median member validation ESR {median:.3g} > {threshold:g}"


def require_training(context: Any, name: str) -> None:
    """A clear error when an active sampler runs without a training engine or an input signal."""
    from panama.core.errors import PanamaError

    if context.fit_ensemble is None:
        raise PanamaError(
            f"sampler {name!r} needs a training engine but none was given",
            "run it through `panama run`, or pick a fixed design such as --sampler lhs-corners",
        )
    if context.input_signal is None:
        raise PanamaError(
            f"sampler {name!r} needs the capture's input signal",
            "run it through `panama run` on a capture with an input.wav",
        )
