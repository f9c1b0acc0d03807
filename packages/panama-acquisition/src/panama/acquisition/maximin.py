"""``maximin``: a Sobol' start, then each batch the settings farthest from everything labelled.

Why a design that looks at where the labels are (but never at their audio): a parametric model
trained on 16 settings of 6 knobs errs where nothing was recorded. On the sim its held-out ESR
follows the distance to the nearest labelled setting (Spearman 0.45–0.62 over 64 held-out
settings, three seeds of the quick preset's Sobol runs) more closely than the round ensemble's
disagreement does (0.35, ``benchmarks/score_quality.py``), and its worst settings sit towards the
edges of the knob box, which a Sobol' prefix seldom reaches. So after a Sobol' start each batch
fills the largest holes: the points of a fresh Sobol' pool farthest from every labelled setting
and from each other (greedy maximin), which also reach towards the edges. It costs no training,
so a run takes a fixed design's time (``benchmarks/RESULTS.md``, data efficiency, quick).

It is adaptive in one way only: it continues from whatever is labelled (imported recordings,
a resumed run, a raised budget), so, like the active samplers, a round sees only the labels
before it (``nested_design``: the first k labels are what a budget-k run would choose).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np
from pydantic import Field

from panama.acquisition import designs
from panama.acquisition.fixed import SobolSampler, knobs_and_seed
from panama.core.knobs import KnobSetting
from panama.core.protocols import ComponentConfig, SamplerContext


class MaximinConfig(ComponentConfig):
    """Options of the maximin continuation."""

    seed: int | None = Field(None, description="design seed; default: the capture's seed")
    pool: int = Field(256, ge=1, le=65536, description="Sobol' candidates per batch (at least 16 per proposal)")


class MaximinSampler:
    """Sobol' while nothing is labelled, then the candidates farthest from all labels (maximin)."""

    name: ClassVar[str] = "maximin"
    Config: ClassVar[type[MaximinConfig]] = MaximinConfig
    nested_design: ClassVar[bool] = True

    def __init__(self, config: MaximinConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()

    def propose(self, context: SamplerContext, n: int) -> list[KnobSetting]:
        if n <= 0:
            return []
        dims, seed = knobs_and_seed(self.name, context, self.config.seed)
        labelled = context.labelled_unit()
        if not len(labelled):
            return SobolSampler(SobolSampler.Config(seed=seed)).take(context, n, n)
        # a pool of its own per batch (seeded by the capture's seed and the label count, so a
        # resumed run proposes the same), far larger than the batch so its farthest points exist
        batch_seed = int(np.random.SeedSequence([abs(seed), len(labelled)]).generate_state(1)[0])
        points = self.batch(labelled, n, dims, batch_seed, context)
        context.notes["design"] = {
            **context.notes.get("design", {}),
            "sampler": self.name,
            "seed": seed,
            "pool": max(self.config.pool, 16 * n),
            "nearest_label": [float(v) for v in designs.min_distances(points, labelled)],
        }
        return context.knob_space.from_unit_array(points)

    def batch(self, labelled: np.ndarray, n: int, dims: int, seed: int, context: SamplerContext) -> np.ndarray:
        return designs.farthest_batch(labelled, n, dims, seed, self.config.pool)


class CoverageSampler(MaximinSampler):
    """Sobol' while nothing is labelled, then the candidates that most lower the mean distance
    from a uniform reference set to its nearest label.

    Why another continuation: greedy maximin's farthest points in six knobs are mostly corners and
    edges of the box. At 16 settings reaching them helped (8 of the 16 are its picks), at 32 its
    24 picks leave the interior, where most of the settings a user plays lie, thinner than a
    Sobol' design does (``benchmarks/RESULTS.md``, data efficiency, quick, budget 32). A hole's
    weight here is the volume it leaves uncovered, so the picks fill the interior first.
    """

    name: ClassVar[str] = "coverage"

    def batch(self, labelled: np.ndarray, n: int, dims: int, seed: int, context: SamplerContext) -> np.ndarray:
        return designs.coverage_batch(labelled, n, dims, seed, self.config.pool)


class LevelCoverageConfig(MaximinConfig):
    """Options of the level-weighted coverage continuation."""

    power: float = Field(0.5, ge=-1.0, le=1.0, description=(
        "weigh the knob space by its output energy to this power: 1 as held-out MSE weighs it "
        "(loud settings), -1 as per-setting ESR does (quiet ones), 0 is plain coverage"))
    spread: float = Field(10.0, ge=1.0, description="the largest weight over the smallest (no region is ignored)")


class LevelCoverageSampler(CoverageSampler):
    """Coverage of the knob space weighted by how loud the device is there, read from the labels.

    Why: a parametric model's absolute error at an unlabelled setting grows with the distance to
    the labels and with the output level there (on GxStudioPre held-out MSE follows the level,
    Spearman 0.94; the loudest 8 of 64 held-out settings hold two thirds of it), while plain
    coverage spends labels on every region alike, including the muted corner where no error is
    large. The labels' own recordings say how loud each region is: their log energy,
    interpolated over the knobs (a thin-plate spline, or the nearest label while there are too
    few), weighs each reference point of the coverage criterion by ``energy ** power``, clipped to
    ``spread``. It costs no training. Without recordings (a caller that passes no
    ``output_energy``) it is plain coverage and says so.
    """

    name: ClassVar[str] = "level-coverage"
    Config: ClassVar[type[LevelCoverageConfig]] = LevelCoverageConfig

    def batch(self, labelled: np.ndarray, n: int, dims: int, seed: int, context: SamplerContext) -> np.ndarray:
        config = self.config
        if not config.power:
            return super().batch(labelled, n, dims, seed, context)
        if context.output_energy is None:
            context.notes["fallback"] = "no recordings to read the output level from: plain coverage"
            return super().batch(labelled, n, dims, seed, context)
        energy = np.asarray(context.output_energy(), dtype=float)
        weigh = level_weights(labelled, energy, config.power, config.spread)
        context.notes["design"] = {"power": config.power, "label_energy_db": [float(v) for v in 10 * np.log10(
            np.maximum(energy, 1e-12))]}
        return designs.coverage_batch(labelled, n, dims, seed, config.pool, weigh=weigh)


def level_weights(labelled: np.ndarray, energy: np.ndarray, power: float,
                  spread: float) -> Callable[[np.ndarray], np.ndarray]:
    """``points [R, K] -> weights [R]``: ``energy ** power`` at each point, from the labels' log
    energy interpolated over the knobs, relative to the labels' median and clipped to ``spread``.
    A muted label counts as 60 dB below the loudest, so silence does not dominate the fit."""
    from scipy.interpolate import RBFInterpolator

    log_e = np.log(np.maximum(energy, max(float(energy.max()), 1e-12) * 1e-6))
    low, high, centre = log_e.min(), log_e.max(), np.median(log_e)
    half = np.log(spread) / 2

    def nearest(points: np.ndarray) -> np.ndarray:
        return log_e[np.argmin(designs.sq_distances(points, labelled), axis=1)]

    predict: Callable[[np.ndarray], np.ndarray] = nearest  # too few labels for a spline with a linear part
    if len(labelled) > labelled.shape[1] + 1:
        try:
            predict = RBFInterpolator(labelled, log_e, kernel="thin_plate_spline", degree=1, smoothing=1e-3)
        except (np.linalg.LinAlgError, ValueError):  # labels on a line or a plane (a one-knob sweep)
            pass

    def weigh(points: np.ndarray) -> np.ndarray:
        level = np.clip(predict(points), low, high)
        return np.exp(np.clip(power * (level - centre), -half, half))

    return weigh
