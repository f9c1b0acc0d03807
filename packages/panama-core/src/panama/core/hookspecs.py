"""Hook specifications: every hook hands the plugin a ``register`` callback.

``register(name, target, summary)`` where ``target`` is the component itself or a lazy
``"module:attribute"`` string, so discovering plugins imports no torch.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("panama")
hookimpl = pluggy.HookimplMarker("panama")


@hookspec
def register_nets(register: Any) -> None:
    """Register nets (``torch.nn.Module`` classes following ``panama.core.Net``)."""


@hookspec
def register_samplers(register: Any) -> None:
    """Register samplers (classes following ``panama.core.Sampler``)."""


@hookspec
def register_label_sources(register: Any) -> None:
    """Register label sources; the name is the ``--labeler`` scheme (``vst`` in ``vst:x.vst3``)."""


@hookspec
def register_exporters(register: Any) -> None:
    """Register exporters (classes following ``panama.core.Exporter``)."""


@hookspec
def register_commands(app: Any) -> None:
    """Add commands to the ``panama`` Typer app. Keep heavy imports inside the commands."""
