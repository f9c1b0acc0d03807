"""PANAMA core: the vocabulary every plugin speaks, with no heavy imports.

Importing ``panama.core`` must stay instant and torch-free: the CLI, plugin discovery and the
capture store all live here, and a guitarist typing ``panama --help`` should not wait for
PyTorch to load.
"""

from panama.core.errors import PanamaError
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
