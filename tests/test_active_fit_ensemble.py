"""ensemble-disagreement driven by the real training engine (a tiny wavenet ensemble)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from panama.core.components import build
from panama.core.knobs import KnobSpace
from panama.core.protocols import SamplerContext

pytest.importorskip("torch")
train = pytest.importorskip("panama.core.train")

RATE = 8000
SPACE = KnobSpace.of("gain", "tone")


def toy_amp(x: np.ndarray, gain: float, tone: float) -> np.ndarray:
    """A soft clipper with a one-pole tone filter: enough to make the knobs matter."""
    y = np.tanh((1.0 + 9.0 * gain) * x)
    out = np.empty_like(y)
    state = 0.0
    alpha = 0.1 + 0.8 * tone
    for i, v in enumerate(y):
        state = alpha * v + (1.0 - alpha) * state
        out[i] = state
    return out.astype(np.float32)


@pytest.mark.slow
def test_proposes_new_settings_from_a_trained_wavenet_ensemble() -> None:
    rng = np.random.default_rng(0)
    x = (0.3 * rng.standard_normal(RATE)).astype(np.float32)
    labelled_unit = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    data = train.TrainingData(
        x=x,
        y=np.stack([toy_amp(x, *k) for k in labelled_unit]),
        knobs=labelled_unit,
        sample_rate=RATE,
    )
    recipe = train.Recipe(steps=5, batch_size=2, segment_length=512, val_fraction=0.0, num_threads=1, val_every=5)

    def fit_ensemble(members: int, **overrides):
        return train.fit_ensemble(
            data, members=members, net="wavenet", net_options={"preset": "nano"},
            recipe=recipe.model_copy(update=overrides), progress=False,
        )

    ctx = SamplerContext(
        knob_space=SPACE,
        labelled=SPACE.from_unit_array(labelled_unit),
        budget_remaining=5,
        rng=np.random.default_rng(1),
        input_signal=x,
        sample_rate=RATE,
        fit_ensemble=fit_ensemble,
    )
    options = {"members": 2, "restarts": 4, "steps": 15, "excerpt_seconds": 0.05, "score_excerpts": 2}
    sampler = build("sampler", "ensemble-disagreement", options)
    proposals = sampler.propose(ctx, 4)
    assert 1 <= len(proposals) <= 4
    points = SPACE.to_unit_array(proposals)
    gaps = np.linalg.norm(points[:, None, :] - labelled_unit[None], axis=-1)
    assert gaps.min() >= 0.02
    scores = ctx.notes["scores"]
    assert len(scores) == len(proposals) and all(s > 0 for s in scores)
    assert scores == sorted(scores, reverse=True)
    assert sampler.last_ensemble.members == 2
    json.dumps(ctx.notes, allow_nan=False)
