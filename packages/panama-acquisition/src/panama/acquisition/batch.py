"""Choose a diverse batch from scored candidates (numpy only).

A top-k batch from one search is redundant: its points sit on the same ridge. Here the batch is
built one pick at a time from the candidates' *covariance* under the ensemble (the Gram matrix
of their deviation vectors, :mod:`panama.acquisition.scores`):

- the criterion is the candidate's disagreement (``variance``), or how much labelling it would
  reduce the disagreement over a reference set of settings (``integrated``, Cohn et al. 1996:
  ``Σ_z cov(x, z)² / (var(x) + noise)``, which prefers settings that explain many others over
  isolated edge spikes; ``noise`` is relative to the reference's mean variance and keeps the
  criterion from being flat when every setting moves together);
- after each pick the covariance is conditioned on it (``K ← K − c · k kᵀ / k_xx``; ``c = 1`` is
  exact conditioning, as if its label were known), so settings that move with it lose score (a
  soft diversity penalty). An ensemble's covariance is a crude posterior — a few members can move
  together everywhere — so the default ``c`` is partial, and once conditioning has explained
  every candidate away the remaining picks go by the unconditioned values;
- a hard rule: no pick is closer than ``min_distance`` (normalised Euclidean) to a labelled
  setting or to an earlier pick;
- a soft one, ``distance_power`` p > 0: each candidate's value is multiplied by its distance to
  the nearest labelled setting or earlier pick, to the power p. The committee's disagreement
  ranks the final model's errors only loosely (Spearman rho 0.35–0.59 in score_quality.py), and
  so does the distance to the labels (the error of a 16-setting model is where nothing was
  recorded); the product keeps a batch spread like a space-filling design while it leans
  towards where the members disagree (p = 0: the value alone);
- ``kernel_gram`` offers a second covariance: each candidate's own disagreement, correlated
  between candidates by a Gaussian kernel of their distance in the knob box. With four members the
  deviations' inner products are a crude posterior (members that are louder than the others
  everywhere covary everywhere); the kernel makes covariance local, as a Gaussian process would.
  With the ``integrated`` criterion over a uniform pool it scores a setting by the disagreement
  its label would remove from its neighbourhood, which also keeps picks off the box's corners
  (a corner has the fewest neighbours inside the box);
- ``greedy`` takes the best candidate each time; ``proportional`` draws one with probability
  proportional to ``value ** power`` (Kirsch et al.: stochastic batches beat top-k).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from panama.acquisition.designs import min_distances, sq_distances

Criterion = Literal["variance", "integrated"]
Selection = Literal["greedy", "proportional"]


@dataclass
class Batch:
    order: list[int]  # candidate indices, in the order picked
    values: list[float]  # the criterion of each pick when it was picked (after conditioning)


def kernel_gram(points: np.ndarray, variances: np.ndarray, length: float) -> np.ndarray:
    """``s sᵀ ⊙ exp(−d² / 2ℓ²)`` with ``s = √variance``: pointwise disagreement, spatially correlated."""
    s = np.sqrt(np.clip(np.nan_to_num(np.asarray(variances, dtype=np.float64), nan=0.0), 0.0, None))
    return np.outer(s, s) * np.exp(-sq_distances(points, points) / (2.0 * length**2))


def criterion_values(gram: np.ndarray, criterion: Criterion, reference: np.ndarray, noise: float) -> np.ndarray:
    diag = np.clip(np.diag(gram), 0.0, None)
    if criterion == "variance":
        return diag
    return (gram[:, reference] ** 2).sum(axis=1) / (diag + noise) / max(1, len(reference))


def select(
    points: np.ndarray,
    gram: np.ndarray,
    n: int,
    *,
    labelled: np.ndarray,
    min_distance: float,
    criterion: Criterion = "variance",
    reference: np.ndarray | None = None,
    noise: float = 1.0,
    selection: Selection = "greedy",
    power: float = 1.0,
    condition: float = 0.5,
    distance_power: float = 0.0,
    rng: np.random.Generator | None = None,
) -> Batch:
    """Up to ``n`` candidate indices (fewer if the distance rule leaves none), see the module doc."""
    gram = np.array(gram, dtype=np.float64, copy=True)
    reference = np.arange(len(points)) if reference is None else np.asarray(reference)
    rng = rng or np.random.default_rng(0)
    diag = np.clip(np.diag(gram), 0.0, None)
    scale = float(diag[reference].mean()) if len(reference) and diag[reference].mean() > 0 else 1.0
    initial = np.nan_to_num(criterion_values(gram, criterion, reference, noise * scale), nan=0.0)
    tiny = 1e-9 * max(float(initial.max(initial=0.0)), 1e-300)
    nearest = min_distances(points, labelled)
    allowed = (initial > tiny) & (nearest >= min_distance)
    # distance to the nearest label or pick (the box's diagonal while nothing is labelled)
    spread = np.minimum(nearest, np.sqrt(points.shape[1]))
    order: list[int] = []
    values: list[float] = []
    while len(order) < n and allowed.any():
        value = criterion_values(gram, criterion, reference, noise * scale) if condition > 0 else initial
        value = np.where(allowed & np.isfinite(value), np.maximum(value, 0.0), 0.0)
        if not (value > tiny).any():  # conditioning explained everything left: go by the initial values
            value = np.where(allowed, initial, 0.0)
        if distance_power:
            value = value * spread**distance_power
        if selection == "greedy":
            pick = int(np.argmax(value))
        else:
            weights = value**power
            pick = int(rng.choice(len(points), p=weights / weights.sum()))
        order.append(pick)
        values.append(float(value[pick]))
        away = np.linalg.norm(points - points[pick], axis=1)
        allowed &= away >= min_distance
        spread = np.minimum(spread, away)
        if condition > 0 and gram[pick, pick] > 0:
            k = gram[:, pick].copy()
            gram -= condition * np.outer(k, k) / k[pick]
    return Batch(order=order, values=values)
