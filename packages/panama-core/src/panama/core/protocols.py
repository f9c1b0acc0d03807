"""The four component protocols, the context a sampler works in, and the optional members.

Components are classes with a pydantic ``Config`` (``extra="forbid"``) and a constructor that
takes one instance of it; ``panama.core.components`` builds them from CLI options or JSON. The
protocols are structural: a third-party sampler need not inherit from anything here.

Beyond what a protocol requires, core reads a few *optional* members (a sampler's
``nested_design``, a label source's ``latency_samples`` …). Each is read by exactly one function
at the end of this module, which documents it and its default, so a call site says
``nested_design(cls)`` rather than guessing an attribute name and a fallback of its own.
``docs/plugins.md`` is the plugin author's guide to all of it.
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
    # Each labelled setting's output energy (mean square of its recording), in the order of
    # ``labelled``; read from the recordings when called (None: the caller has no recordings).
    output_energy: Callable[[], np.ndarray] | None = None
    log: Callable[[str], None] = print
    # Samplers may leave per-proposal scores (e.g. disagreement) and other facts here; the
    # loop writes them next to the round's proposals.
    notes: dict[str, Any] = field(default_factory=dict)

    def labelled_unit(self) -> np.ndarray:
        """The labelled settings as an ``[N, K]`` array in [0, 1]."""
        return self.knob_space.to_unit_array(self.labelled)


@runtime_checkable
class Sampler(Protocol):
    """Chooses the next knob settings to label.

    Optional members (see :func:`initial_design` and :func:`nested_design`):
    ``initial_design`` (a fixed sampler's name for the first ``--initial`` labels) and
    ``nested_design`` (a class attribute: the first k proposals of a budget-N run are those of
    a budget-k run).
    """

    def propose(self, context: SamplerContext, n: int) -> list[KnobSetting]: ...


@runtime_checkable
class LabelSource(Protocol):
    """A device that turns (input audio, knob setting) into output audio.

    Native knob values go in. Optional members (each documented with its default by the function
    of the same name below): ``deterministic``, ``latency_samples``, ``spec_field`` and
    ``prepare(settings)``. :class:`BaseLabelSource` provides all of them and the context manager.
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

    It declares a software source: ``deterministic = True`` (unlike the protocol's default),
    ``latency_samples = 0``, no ``spec_field``. ``spec_field`` names the ``Config`` field that
    receives the part of ``--labeler`` after the scheme (``vst:amp.vst3`` → ``path="amp.vst3"``).
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


# -- optional members -------------------------------------------------------------------------
# The one place each optional member is read. A component that does not declare one gets the
# default documented here; core never reads these names any other way.


def config_class(cls: Any) -> type[ComponentConfig]:
    """Any component class: ``Config``, the pydantic model of its options.

    Default: :class:`ComponentConfig`, a component without options (any option is an error).
    """
    return getattr(cls, "Config", None) or ComponentConfig


def initial_design(sampler: Any) -> str | None:
    """Sampler: ``initial_design``, the name of the fixed sampler the loop asks instead while
    fewer than ``--initial`` settings are labelled (an active sampler has nothing to learn from
    yet). Usually a property returning a ``Config`` field.

    Default: ``None``, the sampler proposes the initial settings itself.
    """
    value = getattr(sampler, "initial_design", None)
    return str(value) if value else None


def nested_design(sampler_class: Any) -> bool:
    """Sampler class: ``nested_design: ClassVar[bool]``, whether the first k proposals of a
    budget-N run are exactly what a budget-k run would propose (a random stream, a Sobol'
    sequence, an active learner that only sees the labels so far). ``panama compare`` then
    trains on prefixes of one run instead of rerunning each budget.

    Default: ``False`` (budget-dependent, like a Latin hypercube sized to the budget): always
    correct, only slower to compare. Only a real ``bool`` counts.
    """
    declared = getattr(sampler_class, "nested_design", False)
    return declared if isinstance(declared, bool) else False


def spec_field(source_class: Any) -> str | None:
    """Label source class: ``spec_field: ClassVar[str | None]``, the ``Config`` field that gets
    the part of ``--labeler`` after the scheme (``vst:amp.vst3`` → ``path="amp.vst3"``).

    Default: ``None``, the part after ``:`` may only be ``name=value`` options.
    """
    return getattr(source_class, "spec_field", None)


def is_deterministic(source: Any) -> bool:
    """Label source (class or instance): ``deterministic: ClassVar[bool]``, whether the same
    setting always gives the same output (a plugin renders) or not (a real amp is recorded).
    A deterministic source is never asked for a setting twice and is trusted for its latency;
    a non-deterministic one gets a second take on request and its latency measured from the
    blips, and cannot label held-out settings for ``panama compare``.

    Default: ``False``, the safe reading for a device nobody described (:class:`BaseLabelSource`
    declares ``True``).
    """
    return bool(getattr(source, "deterministic", False))


def latency_samples(source: Any) -> int:
    """Label source: ``latency_samples``, how many samples late its output is (a plugin's
    reported latency); core aligns by it. For a non-deterministic source 0 means "measure it".

    Default: ``0``.
    """
    return int(getattr(source, "latency_samples", 0) or 0)


def preparer(source: Any) -> Callable[[list[KnobSetting]], None] | None:
    """Label source: ``prepare(settings)``, called with a round's unlabelled settings before the
    first ``label()`` of the round (``folder:`` lists them for the person recording offline).

    Default: ``None``, nothing is called.
    """
    prepare = getattr(source, "prepare", None)
    return prepare if callable(prepare) else None


def supports_members(net: Any) -> bool:
    """Net (class or instance): ``supports_members: ClassVar[bool]``, whether the class builds
    M ensemble members as one grouped module (``cls(config, members=M, seeds=[...])``, taking
    and returning ``[B, M, T]``).

    Default: ``False``, core stacks M separate instances itself.
    """
    return bool(getattr(net, "supports_members", False))
