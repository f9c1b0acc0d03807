"""NAM-style extension files in ``$PANAMA_HOME/extensions``, run against PANAMA's registry.

NAM loads ``~/.neural-amp-modeler/extensions/*.py``; such a file registers a net with
``LightningModule.register_net_initializer(name, constructor)`` (and maybe a dataset with
``nam.data.register_dataset_initializer``), usually subclassing ``nam.models.base.BaseNet``.
NAM itself need not be installed: while the file runs, a thin stand-in ``nam`` package offers
exactly those three names. Each registered net becomes a PANAMA net of the same name (wrapped
to PANAMA's ``forward(x, knobs)``; a net whose ``forward`` takes a second argument gets the knob
vector, others train without knobs). Dataset initialisers are explained and not used: PANAMA
reads x_path/y_path entries with knobs, or the fork's knob dataset JSON. A file that needs more
of NAM than that gets one line saying so.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import ConfigDict, Field

from panama.core.errors import PanamaError
from panama.core.protocols import ComponentConfig

_MARKERS = re.compile(r"register_net_initializer|register_dataset_initializer|^\s*(from|import)\s+nam\b", re.M)
SHIM_MODULES = ("nam", "nam.train", "nam.train.lightning_module", "nam.models", "nam.models.base", "nam.data")


def is_nam_extension(text: str) -> bool:
    return bool(_MARKERS.search(text))


class NamNetConfig(ComponentConfig):
    """Whatever the NAM net's ``init_from_config`` reads, plus PANAMA's knob count."""

    model_config = ConfigDict(extra="allow")
    num_knobs: int = Field(default=0, ge=0)


def _shim(nets: dict[str, Callable[..., Any]], datasets: list[str]) -> dict[str, ModuleType]:
    import torch

    class BaseNet(torch.nn.Module):
        """Stand-in for ``nam.models.base.BaseNet``: ``forward(x)`` calls ``_forward(x)``."""

        def __init__(self, *args: Any, sample_rate: float | None = None, **kwargs: Any) -> None:
            super().__init__()
            self.sample_rate = sample_rate

        def forward(self, x: Any, *args: Any, **kwargs: Any) -> Any:
            return self._forward(x, *args)  # type: ignore[operator]

    class LightningModule:
        """Stand-in for ``nam.train.lightning_module.LightningModule`` (registration only)."""

        @staticmethod
        def register_net_initializer(name: str, constructor: Callable[..., Any], *, overwrite: bool = False) -> None:
            nets[str(name)] = constructor

    def register_dataset_initializer(name: str, constructor: Callable[..., Any], *, overwrite: bool = False) -> None:
        datasets.append(str(name))

    modules = {name: ModuleType(name) for name in SHIM_MODULES}
    modules["nam.models.base"].BaseNet = BaseNet  # type: ignore[attr-defined]
    modules["nam.train.lightning_module"].LightningModule = LightningModule  # type: ignore[attr-defined]
    modules["nam.data"].register_dataset_initializer = register_dataset_initializer  # type: ignore[attr-defined]
    for name, module in modules.items():
        module.__path__ = []  # type: ignore[attr-defined]  # a package, so submodule imports resolve here
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(modules[parent], child, module)
    return modules


def adapter(name: str, constructor: Callable[..., Any]) -> type:
    """A PANAMA net class around the NAM net that ``constructor(config)`` builds."""
    import torch

    class NamNet(torch.nn.Module):
        Config = NamNetConfig
        __doc__ = f"NAM extension net {name!r} (register_net_initializer)"

        def __init__(self, config: NamNetConfig | None = None):
            super().__init__()
            config = config or NamNetConfig()
            self.num_knobs = config.num_knobs
            self.inner = constructor(config.model_dump(exclude={"num_knobs"}))
            self.receptive_field = int(self.inner.receptive_field)
            params = [p for p in inspect.signature(self.inner.forward).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            self.takes_knobs = len(params) >= 2
            if self.num_knobs and not self.takes_knobs:
                raise PanamaError(f"NAM extension net {name!r} takes no knob input (its forward has one argument)",
                                  "train it on data without knobs, or give its forward a second argument for the knobs")

        def forward(self, x: torch.Tensor, knobs: torch.Tensor) -> torch.Tensor:
            y = self.inner(x, knobs) if self.num_knobs else self.inner(x)
            if y.dim() == 3:
                y = y[:, 0]
            return y[..., y.shape[-1] - (x.shape[-1] - self.receptive_field + 1):]  # PANAMA's unpadded output

    NamNet.__name__ = NamNet.__qualname__ = f"NamNet_{re.sub(r'[^0-9A-Za-z_]', '_', name)}"
    return NamNet


def load(path: Path, module_name: str, warn: Callable[[str], None]) -> ModuleType:
    """Run a NAM-style extension file with the stand-in ``nam`` and give it a ``register_nets`` hook."""
    from panama.core.hookspecs import Register, hookimpl

    nets: dict[str, Callable[..., Any]] = {}
    datasets: list[str] = []
    saved = {name: sys.modules.get(name) for name in SHIM_MODULES}
    sys.modules.update(_shim(nets, datasets))
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ModuleNotFoundError as exc:
        raise ImportError(f"{path.name} is a NAM extension needing {exc.name}, more of NAM than PANAMA's stand-in "
                          "(BaseNet, register_net_initializer, register_dataset_initializer); port it to a PANAMA "
                          "plugin (register_nets, see README)") from None
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old
    for name in datasets:
        warn(f"{path.name} registers NAM dataset {name!r}, which PANAMA does not use: it reads x_path/y_path entries "
             "with knobs (data.json) or the fork's knob dataset JSON")
    classes = {name: adapter(name, constructor) for name, constructor in nets.items()}

    @hookimpl
    def register_nets(register: Register) -> None:
        for name, cls in classes.items():
            register(name, cls, f"NAM extension net from {path.name}")

    module.register_nets = register_nets  # type: ignore[attr-defined]
    sys.modules[module_name] = module
    return module
