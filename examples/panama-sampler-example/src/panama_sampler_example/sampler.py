"""The sampler itself: it only uses the ``Sampler`` protocol and ``SamplerContext``."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from panama.core.knobs import KnobSetting
from panama.core.protocols import ComponentConfig, SamplerContext


class CentreThenRandom:
    """The middle of every knob first (if not yet labelled), then uniform random settings."""

    class Config(ComponentConfig):
        centre: bool = Field(True, description="start with the centre of the knob box")

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or self.Config()

    def propose(self, context: SamplerContext, n: int) -> list[KnobSetting]:
        dims = len(context.knob_space)
        labelled = context.labelled_unit()
        points: list[np.ndarray] = []
        centre = np.full(dims, 0.5)
        if self.config.centre and not any(np.allclose(row, centre) for row in labelled):
            points.append(centre)
        while len(points) < n:
            points.append(context.rng.uniform(0.0, 1.0, size=dims))
        return [context.knob_space.from_unit(p) for p in points[:n]]
