"""Fixed (non-adaptive) designs: they ignore the labels and only fill the knob box."""

from __future__ import annotations

from panama.core.knobs import KnobSetting
from panama.core.protocols import ComponentConfig, SamplerContext


class RandomSampler:
    """Uniform random settings (the paper's 'uniform' baseline)."""

    class Config(ComponentConfig):
        pass

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or self.Config()

    def propose(self, context: SamplerContext, n: int) -> list[KnobSetting]:
        points = context.rng.uniform(0.0, 1.0, size=(n, len(context.knob_space)))
        return context.knob_space.from_unit_array(points)
