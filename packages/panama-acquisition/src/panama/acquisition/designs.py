"""Space-filling designs in the unit cube, as plain numpy arrays (no knobs, no context).

Every function is a pure function of its arguments (including the seed), so a design can be
regenerated at any time and continued where an earlier call stopped. The order of the rows
matters: samplers hand out a design front to back, so prefixes should already be useful.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable
from typing import Literal

import numpy as np
from scipy.stats import qmc

# The PANAMA paper's beta heuristic: the authors flattened the knob vectors that active learning
# chose, saw a U-shaped histogram concentrated near 0 and 1, fitted a beta distribution and sampled
# from it. Its numbers did not survive in our copy of the paper, so these are our own maximum-
# likelihood fit (loc 0, scale 1) to the 378 knob values of the reference run's published
# proposals (63 vectors × 6 knobs): alpha 0.54, beta 0.41. Both < 1 → mass near both ends.
PAPER_BETA_ALPHA = 0.54
PAPER_BETA_BETA = 0.41

# Enumerating all 2^K corners (and grid levels) beyond this many points is pointless for a
# budget of tens of settings; sample instead.
MAX_ENUMERATED = 1 << 16


def random_design(size: int, dims: int, seed: int) -> np.ndarray:
    """Uniform points; row i does not depend on ``size`` (PCG64 fills rows in order)."""
    return np.random.default_rng(seed).random((size, dims))


def beta_design(size: int, dims: int, seed: int, alpha: float, beta: float) -> np.ndarray:
    """Independent Beta(alpha, beta) coordinates; prefix-stable like :func:`random_design`."""
    return np.random.default_rng(seed).beta(alpha, beta, size=(size, dims))


def sobol_design(size: int, dims: int, seed: int) -> np.ndarray:
    """The first ``size`` points of a scrambled Sobol' sequence (prefix-stable by construction).

    We draw a power of two and cut, which keeps scipy's balance warning quiet; the first points
    of a Sobol' sequence are themselves well spread.
    """
    if size <= 0:
        return np.empty((0, dims))
    m = max(0, math.ceil(math.log2(size)))
    return qmc.Sobol(d=dims, scramble=True, rng=np.random.default_rng(seed)).random_base2(m)[:size]


def lhs_design(
    size: int, dims: int, seed: int, optimization: Literal["none", "random-cd", "lloyd"] = "none"
) -> np.ndarray:
    """A scrambled Latin hypercube of exactly ``size`` points (one per stratum per knob)."""
    if size <= 0:
        return np.empty((0, dims))
    sampler = qmc.LatinHypercube(
        d=dims,
        scramble=True,
        optimization=None if optimization == "none" else optimization,
        rng=np.random.default_rng(seed),
    )
    with warnings.catch_warnings():
        # lloyd/random-cd warn on tiny designs; the design is still valid.
        warnings.simplefilter("ignore", UserWarning)
        return sampler.random(size)


def corners(dims: int, seed: int, limit: int | None = None) -> np.ndarray:
    """Corners of the unit box, ordered so that every prefix is spread out (greedy maximin).

    With ``limit`` below 2^K only that many corners are returned: a farthest-point subset, so
    the chosen corners differ from each other in as many knobs as possible.
    """
    count = 1 << dims
    if count <= MAX_ENUMERATED:
        candidates = np.array(list(itertools.product((0.0, 1.0), repeat=dims)))
        return maximin_order(candidates, seed, limit=limit)
    rng = np.random.default_rng(seed)
    wanted = MAX_ENUMERATED if limit is None else min(limit, MAX_ENUMERATED)
    picked = np.unique(rng.integers(0, 2, size=(wanted * 2, dims)).astype(float), axis=0)
    return picked[rng.permutation(len(picked))][:wanted]


def grid_levels(steps: int, dims: int) -> np.ndarray:
    """The full factorial with ``steps`` equally spaced values (ends included) per knob."""
    axis = np.linspace(0.0, 1.0, steps)
    return np.array(list(itertools.product(axis, repeat=dims)), dtype=float).reshape(-1, dims)


def maximin_order(
    candidates: np.ndarray,
    seed: int,
    *,
    limit: int | None = None,
    chosen: np.ndarray | None = None,
) -> np.ndarray:
    """Greedy farthest-point ordering of ``candidates`` (optionally continuing after ``chosen``).

    Each next point is the candidate farthest from everything picked so far, so any prefix of the
    result is a reasonable design on its own. Ties are broken by a seeded shuffle, so the order
    is deterministic for a seed but not biased towards the lexicographic start. A fresh order
    starts at the candidate nearest the centre of the box (a random one of the corners when all
    are corners), so a grid's first point is its middle and the next ones its extremes.
    """
    rng = np.random.default_rng(seed)
    pool = candidates[rng.permutation(len(candidates))]
    total = len(pool) if limit is None else min(limit, len(pool))
    if total == 0:
        return np.empty((0, candidates.shape[1]))
    if chosen is not None and len(chosen):
        nearest = np.min(sq_distances(pool, chosen), axis=1)
        first = int(np.argmax(nearest))
    else:
        nearest = np.full(len(pool), np.inf)
        first = int(np.argmin(sq_distances(pool, np.full((1, pool.shape[1]), 0.5))[:, 0]))
    order = [first]
    nearest = np.minimum(nearest, sq_distances(pool, pool[first : first + 1])[:, 0])
    for _ in range(total - 1):
        nxt = int(np.argmax(nearest))
        order.append(nxt)
        nearest = np.minimum(nearest, sq_distances(pool, pool[nxt : nxt + 1])[:, 0])
    return pool[order]


def farthest_batch(labelled: np.ndarray, n: int, dims: int, seed: int, pool: int = 256) -> np.ndarray:
    """``n`` points of a fresh Sobol' pool (``pool``, at least 16 per point) farthest from
    ``labelled`` and from each other (greedy maximin): a space-filling continuation of whatever
    is labelled (the ``maximin`` sampler, ``ensemble-diverse``'s fallback round)."""
    return maximin_order(sobol_design(max(pool, 16 * n), dims, seed), seed, limit=n, chosen=labelled)


def coverage_batch(labelled: np.ndarray, n: int, dims: int, seed: int, pool: int = 256, reference: int = 1024,
                   weigh: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """``n`` points of a fresh Sobol' pool that most lower the mean distance from a uniform
    reference set (``reference`` Sobol' points) to its nearest label, chosen greedily: the
    ``coverage`` sampler's continuation. Unlike greedy maximin it weighs a hole by the volume it
    leaves uncovered, so in many dimensions it does not spend the budget on the box's corners.
    ``weigh`` maps the reference points ``[R, K]`` to their weights in that mean (default: all 1)."""
    candidates = sobol_design(max(pool, 16 * n), dims, seed)
    points = sobol_design(reference, dims, seed + 1)
    weights = None if weigh is None else np.asarray(weigh(points), dtype=float)[:, None]
    to_candidates = np.sqrt(sq_distances(points, candidates))  # [R, C]
    nearest = min_distances(points, labelled) if len(labelled) else np.full(len(points), np.sqrt(dims))
    picked: list[int] = []
    for _ in range(n):  # the pool holds at least 16 candidates per pick
        shrink = np.maximum(nearest[:, None] - to_candidates, 0.0)
        gain = (shrink if weights is None else shrink * weights).sum(axis=0)
        gain[picked] = -1.0
        best = int(np.argmax(gain))
        picked.append(best)
        nearest = np.minimum(nearest, to_candidates[:, best])
    return candidates[picked]


def sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[len(a), len(b)]`` squared Euclidean distances."""
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1)


def min_distances(points: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Euclidean distance from each of ``points`` to its nearest neighbour in ``others``."""
    if len(others) == 0:
        return np.full(len(points), np.inf)
    return np.sqrt(np.min(sq_distances(points, others), axis=1))


def grid_design(size: int, dims: int, seed: int, *, steps: int | None = None, max_steps: int = 5) -> np.ndarray:
    """A full factorial ordered by greedy maximin, continued by finer nested grids if needed.

    Without ``steps`` the grid is the finest one that fits ``size`` with at most ``max_steps``
    values per knob (a 2024 study found 5 per knob enough). If the budget is larger than the
    grid, the remaining points come from the next nested grid (2s-1 steps keeps every old
    point), farthest first; if even two steps do not fit, a spread-out subset of the corners.
    """
    if size <= 0:
        return np.empty((0, dims))
    if steps is None:
        steps = min(max_steps, math.floor(size ** (1.0 / dims) + 1e-9))
    steps = max(2, steps)
    if steps**dims > MAX_ENUMERATED:
        raise ValueError(f"a {steps}-step grid over {dims} knobs has {steps**dims} points; use fewer steps")
    design = maximin_order(grid_levels(steps, dims), seed, limit=size)
    while len(design) < size:
        steps = 2 * steps - 1
        if steps**dims > MAX_ENUMERATED:
            extra = sobol_design(size - len(design), dims, seed)
        else:
            finer = grid_levels(steps, dims)
            fresh = finer[min_distances(finer, design) > 1e-9]
            extra = maximin_order(fresh, seed, limit=size - len(design), chosen=design)
        design = np.vstack([design, extra])
    return design


def lhs_corners_design(
    size: int,
    dims: int,
    seed: int,
    *,
    corner_fraction: float = 0.5,
    optimization: Literal["none", "random-cd", "lloyd"] = "none",
) -> np.ndarray:
    """Corners of the knob box first, then a Latin hypercube over the rest of the budget.

    All 2^K corners go in when they take at most ``corner_fraction`` of the budget; otherwise a
    spread-out subset of that many corners, so the interior is never starved (6 knobs and a
    budget of 64 would otherwise be all corners).
    """
    if size <= 0:
        return np.empty((0, dims))
    allowed = math.floor(corner_fraction * size)
    box = corners(dims, seed, limit=min(allowed, 1 << min(dims, 62)))
    return np.vstack([box, lhs_design(size - len(box), dims, seed, optimization)])
