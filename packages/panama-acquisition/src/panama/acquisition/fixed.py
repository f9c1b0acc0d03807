"""Fixed (non-adaptive) designs: they ignore the labels' audio and only fill the knob box.

A run asks a sampler for points several times (an initial batch, then more after a restart or a
``--budget`` raise), so every fixed sampler generates its *whole* design from a stable seed
(``Config.seed`` or the capture's ``context.seed``, never the loop's moving ``context.rng``) and
hands it out front to back: ``propose(n)`` then ``propose(m)`` gives the same points as
``propose(n + m)``. Design points that are already labelled (within ``tolerance``) are skipped,
so a setting is never proposed twice and a resumed run carries on where it stopped.

Each class declares ``nested_design`` (see :func:`panama.core.protocols.nested_design`): a
stream (random, Beta, Sobol') gives the same first k points whatever the budget, a design sized
to the budget (Latin hypercube, grid) does not, so ``panama compare`` reruns it per budget.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from panama.acquisition import designs
from panama.core.errors import PanamaError
from panama.core.knobs import KnobSetting
from panama.core.protocols import ComponentConfig, SamplerContext


class DesignConfig(ComponentConfig):
    """Options every fixed design shares."""

    seed: int | None = Field(None, description="design seed; default: the capture's seed")
    tolerance: float = Field(
        1e-3,
        gt=0.0,
        le=0.25,
        description="a labelled setting this close (per knob, normalised) to a design point counts as it",
    )


class DesignSampler:
    """Base for fixed designs: subclasses only say how to build the design of a given size."""

    name: ClassVar[str] = "design"
    Config: ClassVar[type[DesignConfig]] = DesignConfig
    nested_design: ClassVar[bool] = False  # each concrete design says which it is

    def __init__(self, config: DesignConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()

    def design(self, size: int, dims: int, seed: int) -> np.ndarray:
        """The whole design, ``[size, dims]`` in [0, 1], best-first order."""
        raise NotImplementedError

    def design_size(self, context: SamplerContext, n: int) -> int:
        """Labelled + remaining = the capture's total budget, which stays put across calls."""
        return len(context.labelled) + max(context.budget_remaining, n)

    def propose(self, context: SamplerContext, n: int) -> list[KnobSetting]:
        return self.take(context, n, self.design_size(context, n))

    def take(self, context: SamplerContext, n: int, size: int) -> list[KnobSetting]:
        """The first ``n`` unlabelled points of the design of ``size`` points."""
        if n <= 0:
            return []
        dims, seed = knobs_and_seed(self.name, context, self.config.seed)
        design = np.clip(self.design(size, dims, seed), 0.0, 1.0)
        free = unlabelled_rows(design, context.labelled_unit(), self.config.tolerance)[:n]
        context.notes["design"] = {
            "sampler": self.name,
            "seed": seed,
            "size": len(design),
            "indices": [int(i) for i in free],
        }
        return context.knob_space.from_unit_array(design[free]) if len(free) else []


def knobs_and_seed(name: str, context: SamplerContext, seed: int | None) -> tuple[int, int]:
    """The knob count (a clear error for a device without knobs) and the design seed: the
    sampler's own, else the capture's (stable across rounds, never the loop's moving rng)."""
    dims = len(context.knob_space)
    if dims == 0:
        raise PanamaError(
            f"sampler {name!r} needs knobs to choose, but the device has none",
            "a device without knobs needs a single recording: label its default setting",
        )
    return dims, seed if seed is not None else context.seed


def unlabelled_rows(design: np.ndarray, labelled: np.ndarray, tolerance: float) -> np.ndarray:
    """Indices of design rows not yet labelled, in design order.

    Each labelled setting claims the nearest unclaimed design row within ``tolerance`` (max norm),
    so two nearly equal design rows are not both swallowed by one label.
    """
    taken = np.zeros(len(design), dtype=bool)
    for point in labelled:
        gap = np.max(np.abs(design - point), axis=1)
        gap[taken] = np.inf
        best = int(np.argmin(gap)) if len(gap) else -1
        if best >= 0 and gap[best] <= tolerance:
            taken[best] = True
    return np.flatnonzero(~taken)


class RandomSampler(DesignSampler):
    """Uniform random settings (the paper's 'uniform' baseline)."""

    name = "random"
    nested_design = True

    def design(self, size: int, dims: int, seed: int) -> np.ndarray:
        return designs.random_design(size, dims, seed)


class BetaConfig(DesignConfig):
    alpha: float = Field(designs.PAPER_BETA_ALPHA, gt=0.0, description="Beta shape a (mass near 0 when < 1)")
    beta: float = Field(designs.PAPER_BETA_BETA, gt=0.0, description="Beta shape b (mass near 1 when < 1)")


class BetaSampler(DesignSampler):
    """The paper's heuristic: each knob drawn from a U-shaped Beta, so settings crowd the ends."""

    name = "beta"
    nested_design = True
    Config = BetaConfig
    config: BetaConfig

    def design(self, size: int, dims: int, seed: int) -> np.ndarray:
        return designs.beta_design(size, dims, seed, self.config.alpha, self.config.beta)


class SobolSampler(DesignSampler):
    """A scrambled Sobol' sequence: low discrepancy, and every prefix is space-filling."""

    name = "sobol"
    nested_design = True

    def design(self, size: int, dims: int, seed: int) -> np.ndarray:
        return designs.sobol_design(size, dims, seed)


Optimization = Literal["none", "random-cd", "lloyd"]


class LHSConfig(DesignConfig):
    optimization: Optimization = Field(
        "none", description="scipy's LHS improvement: none, random-cd (lower discrepancy) or lloyd"
    )


class LHSSampler(DesignSampler):
    """A scrambled Latin hypercube sized to the whole budget (each knob range cut evenly)."""

    name = "lhs"
    nested_design = False
    Config = LHSConfig
    config: LHSConfig

    def design(self, size: int, dims: int, seed: int) -> np.ndarray:
        return designs.lhs_design(size, dims, seed, self.config.optimization)


class LHSCornersConfig(LHSConfig):
    corner_fraction: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="at most this share of the budget goes to corners (all 2^K when they fit)",
    )


class LHSCornersSampler(DesignSampler):
    """The corners of the knob box first, then a Latin hypercube for the interior."""

    name = "lhs-corners"
    nested_design = False
    Config = LHSCornersConfig
    config: LHSCornersConfig

    def design(self, size: int, dims: int, seed: int) -> np.ndarray:
        return designs.lhs_corners_design(
            size,
            dims,
            seed,
            corner_fraction=self.config.corner_fraction,
            optimization=self.config.optimization,
        )


class GridConfig(DesignConfig):
    steps: int | None = Field(
        None, ge=2, le=101, description="values per knob; default: the finest grid that fits the budget"
    )
    max_steps: int = Field(5, ge=2, le=101, description="cap on the automatic choice of steps")


class GridSampler(DesignSampler):
    """A full factorial grid (farthest points first), refined by nested grids if budget is left."""

    name = "grid"
    nested_design = False
    Config = GridConfig
    config: GridConfig

    def design(self, size: int, dims: int, seed: int) -> np.ndarray:
        try:
            return designs.grid_design(
                size, dims, seed, steps=self.config.steps, max_steps=self.config.max_steps
            )
        except ValueError as exc:
            raise PanamaError(f"sampler 'grid': {exc}", "pass steps=N with fewer values per knob") from None


FIXED_SAMPLERS: dict[str, type[DesignSampler]] = {
    cls.name: cls
    for cls in (RandomSampler, BetaSampler, SobolSampler, LHSSampler, LHSCornersSampler, GridSampler)
}
