"""The four component protocols and the context a sampler works in.

Components are classes with a pydantic ``Config`` (``extra="forbid"``) and a constructor that
takes one instance of it; ``panama.core.components`` builds them from CLI options or JSON. The
protocols are structural: a third-party sampler need not inherit from anything here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict

from panama.core.knobs import KnobSetting, KnobSpace


class ComponentConfig(BaseModel):
    """Base for every component's ``Config``: unknown options are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


@runtime_checkable
class Net(Protocol):
    """A ``torch.nn.Module`` mapping audio and knobs to audio.

    ``forward(x[B, T], knobs[B, K]) -> y[B, T - receptive_field + 1]``; knobs are normalised to
    [0, 1]. ``num_knobs == 0`` is a plain, non-parametric model.
    """

    receptive_field: int
    num_knobs: int

    def forward(self, x: Any, knobs: Any) -> Any: ...


@runtime_checkable
class Ensemble(Protocol):
    """What ``SamplerContext.fit_ensemble`` returns: M trained members run as one module.

    ``predict(x[T] or [B, T], knobs[B, K]) -> y[M, B, T']`` is differentiable with respect to
    ``knobs`` (normalised torch tensors), so a sampler can climb the members' disagreement.
    """

    members: int
    receptive_field: int

    def predict(self, x: Any, knobs: Any) -> Any: ...


@dataclass
class SamplerContext:
    """Everything a sampler may use; built by the active-learning loop for each round.

    A sampler never needs to know how training is done: ``fit_ensemble(members=4, ...)`` trains
    on the labelled settings so far and returns an :class:`Ensemble`.
    """

    knob_space: KnobSpace
    labelled: list[KnobSetting]
    budget_remaining: int
    rng: np.random.Generator
    seed: int = 0
    round: int = 0
    input_signal: np.ndarray | None = None
    sample_rate: int = 48_000
    fit_ensemble: Callable[..., Ensemble] | None = None
    workdir: Path | None = None
    log: Callable[[str], None] = print
    # Samplers may leave per-proposal scores (e.g. disagreement) and other facts here; the
    # loop writes them next to the round's proposals.
    notes: dict[str, Any] = field(default_factory=dict)

    def labelled_unit(self) -> np.ndarray:
        """The labelled settings as an ``[N, K]`` array in [0, 1]."""
        return self.knob_space.to_unit_array(self.labelled)


@runtime_checkable
class Sampler(Protocol):
    """Chooses the next knob settings to label."""

    def propose(self, context: SamplerContext, n: int) -> list[KnobSetting]: ...


@runtime_checkable
class LabelSource(Protocol):
    """A device that turns (input audio, knob setting) into output audio.

    Native knob values go in. Real devices may set ``latency_samples`` (core aligns);
    ``deterministic`` says whether the same setting gives the same output twice.
    """

    def knob_space(self) -> KnobSpace: ...

    def label(self, x: np.ndarray, sample_rate: int, setting: KnobSetting) -> np.ndarray: ...

    def close(self) -> None: ...

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> Any: ...


@runtime_checkable
class Exporter(Protocol):
    """Writes a trained model to a file people can use elsewhere."""

    suffix: str

    def export(self, model: Any, path: Path, setting: KnobSetting | None = None, **options: Any) -> Path: ...


class BaseLabelSource:
    """Convenience base for label sources: config handling, context manager, no-op close.

    ``spec_field`` names the ``Config`` field that receives the part of ``--labeler`` after the
    scheme (``vst:amp.vst3`` → ``path="amp.vst3"``); ``None`` means the source takes none.
    """

    Config: ClassVar[type[ComponentConfig]] = ComponentConfig
    spec_field: ClassVar[str | None] = None
    deterministic: ClassVar[bool] = True
    latency_samples: int = 0

    def __init__(self, config: ComponentConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()

    def knob_space(self) -> KnobSpace:
        raise NotImplementedError

    def label(self, x: np.ndarray, sample_rate: int, setting: KnobSetting) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        return None

    def __enter__(self) -> BaseLabelSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
