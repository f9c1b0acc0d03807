"""PANAMA core: the vocabulary every plugin speaks, with no heavy imports.

Importing ``panama.core`` must stay instant and torch-free: the CLI, plugin discovery and the
capture store all live here, and a guitarist typing ``panama --help`` should not wait for
PyTorch to load. Every ``panama.core.X`` import runs this file first, so the public names below
resolve on first use (PEP 562): ``from panama.core import KnobSpace`` still works, but
``panama --help`` never pays for NumPy and pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from panama.core.errors import PanamaError

if TYPE_CHECKING:
    from panama.core.knobs import Knob, KnobSetting, KnobSpace
    from panama.core.protocols import (
        ComponentConfig,
        Ensemble,
        Exporter,
        LabelSource,
        Net,
        Sampler,
        SamplerContext,
    )

__version__ = "0.1.0"

# public name → the module that owns it (imported on first access)
_LAZY = {
    "Knob": "panama.core.knobs",
    "KnobSetting": "panama.core.knobs",
    "KnobSpace": "panama.core.knobs",
    "ComponentConfig": "panama.core.protocols",
    "Ensemble": "panama.core.protocols",
    "Exporter": "panama.core.protocols",
    "LabelSource": "panama.core.protocols",
    "Net": "panama.core.protocols",
    "Sampler": "panama.core.protocols",
    "SamplerContext": "panama.core.protocols",
}

__all__ = [
    "ComponentConfig",
    "Ensemble",
    "Exporter",
    "Knob",
    "KnobSetting",
    "KnobSpace",
    "LabelSource",
    "Net",
    "PanamaError",
    "Sampler",
    "SamplerContext",
    "__version__",
]


def __getattr__(name: str) -> Any:
    owner = _LAZY.get(name)
    if owner is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(owner), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
