"""Turn the local optima of several restarts into distinct, new proposals (numpy + sklearn).

Restarts of a gradient search often land on the same optimum. The paper clusters the optima
with HDBSCAN (min_cluster_size 2) and keeps the best point of every cluster plus every noise
point. HDBSCAN is scale-free: it has no notion of "these two settings are the same knob
position", so two optima 0.3 apart can still share a cluster among ten scattered points. The
``radius`` method is the scale-aware alternative: greedy non-maximum suppression, best score
first, dropping any optimum within ``radius`` (normalised Euclidean) of one already kept. Both
are followed by the same filter against labelled settings and between the kept proposals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from panama.acquisition.designs import min_distances

DedupMethod = Literal["hdbscan", "radius", "none"]


@dataclass
class Selection:
    """Which optima survive, and why each of the others did not (for the round's report)."""

    order: list[int]  # indices into the optima, best score first
    clusters: np.ndarray  # cluster label per optimum (-1: noise / its own)
    reasons: list[str] = field(default_factory=list)  # one per optimum


def cluster(
    points: np.ndarray,
    method: DedupMethod,
    *,
    scores: np.ndarray,
    min_cluster_size: int = 2,
    min_samples: int | None = None,
    radius: float = 0.05,
) -> np.ndarray:
    """A cluster label per point; -1 means "a distinct optimum on its own"."""
    count = len(points)
    if method == "none" or count < 2:
        return np.full(count, -1)
    if method == "hdbscan":
        needed = max(min_cluster_size, min_samples or min_cluster_size)
        if count < needed:
            return np.full(count, -1)
        from sklearn.cluster import HDBSCAN

        return HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples, copy=True).fit_predict(points)
    labels = np.full(count, -1)
    next_label = 0
    for i in np.argsort(-scores, kind="stable"):
        if labels[i] != -1:
            continue
        near = (np.linalg.norm(points - points[i], axis=1) <= radius) & (labels == -1)
        if near.sum() > 1:
            labels[near] = next_label
            next_label += 1
    return labels


def select(
    points: np.ndarray,
    scores: np.ndarray,
    *,
    labelled: np.ndarray,
    min_distance: float,
    method: DedupMethod = "hdbscan",
    min_cluster_size: int = 2,
    min_samples: int | None = None,
    radius: float = 0.05,
) -> Selection:
    """Keep the best optimum per cluster and all unclustered ones, far from what is labelled.

    Survivors are sorted by score (best first). An optimum closer than ``min_distance`` to a
    labelled setting, or to a better survivor, is dropped: a setting is never proposed twice.
    """
    labels = cluster(
        points, method, scores=scores, min_cluster_size=min_cluster_size, min_samples=min_samples, radius=radius
    )
    reasons = [""] * len(points)
    by_score = [int(i) for i in np.argsort(-scores, kind="stable")]  # NaN scores sort last
    best_of: dict[int, int] = {}
    for i in by_score:
        if labels[i] >= 0 and labels[i] in best_of:
            reasons[i] = f"duplicate of restart {best_of[int(labels[i])]} (cluster {labels[i]})"
        elif labels[i] >= 0:
            best_of[int(labels[i])] = i
    to_labelled = min_distances(points, labelled)
    kept: list[int] = []
    for i in by_score:
        if not np.isfinite(scores[i]):
            reasons[i] = "diverged (score not finite)"
            continue
        if reasons[i]:
            continue
        if to_labelled[i] < min_distance:
            reasons[i] = f"within {to_labelled[i]:.3g} of a labelled setting"
            continue
        if kept:
            gap = min_distances(points[i : i + 1], points[kept])[0]
            if gap < min_distance:
                reasons[i] = f"within {gap:.3g} of a better proposal"
                continue
        kept.append(i)
        reasons[i] = "kept" if labels[i] < 0 else f"best of cluster {labels[i]}"
    return Selection(order=kept, clusters=labels, reasons=reasons)


def farthest_from(labelled: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """The candidate farthest from every labelled setting (a filler when no optimum is new)."""
    return candidates[int(np.argmax(min_distances(candidates, labelled)))]
