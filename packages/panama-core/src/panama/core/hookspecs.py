"""Hook specifications: every hook hands the plugin a ``register`` callback.

A plugin module (the value of an entry point in the ``panama`` group, or a file in
``$PANAMA_HOME/extensions``) implements any of these with ``@hookimpl``::

    from panama.core.hookspecs import Register, hookimpl

    @hookimpl
    def register_samplers(register: Register) -> None:
        register("corners-first", "my_sampler.sampler:CornersFirst", "Box corners, then random")

``target`` is the component class itself or a lazy ``"module:attribute"`` string, so
discovering plugins imports no torch; ``summary`` (one line for ``panama plugins``) defaults to
the first line of the class docstring. ``docs/plugins.md`` describes every protocol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    import typer

hookspec = pluggy.HookspecMarker("panama")
hookimpl = pluggy.HookimplMarker("panama")


class Register(Protocol):
    """The callback each ``register_*`` hook receives: ``register(name, target, summary="")``.

    ``name`` is unique per kind across all plugins (a clash is reported naming both
    distributions); for label sources it is the ``--labeler`` scheme.
    """

    def __call__(self, name: str, target: type[Any] | str, summary: str = "") -> None: ...


@hookspec
def register_nets(register: Register) -> None:
    """Register nets (``torch.nn.Module`` classes following ``panama.core.Net``).

    ``register("tiny-tcn", "my_nets.tcn:TinyTCN", "A small TCN")`` — a lazy target keeps torch
    out of ``panama --help``.
    """


@hookspec
def register_samplers(register: Register) -> None:
    """Register samplers (classes following ``panama.core.Sampler``).

    ``register("corners-first", CornersFirst)`` — ``--sampler corners-first`` then builds it.
    """


@hookspec
def register_label_sources(register: Register) -> None:
    """Register label sources; the name is the ``--labeler`` scheme (``vst`` in ``vst:x.vst3``).

    ``register("gain", GainPedal, "A clean boost")`` — ``--labeler gain`` then opens it.
    """


@hookspec
def register_exporters(register: Register) -> None:
    """Register exporters (classes following ``panama.core.Exporter``).

    ``register("onnx", "my_export.onnx:OnnxExporter")`` — ``panama export --format onnx``.
    """


@hookspec
def register_commands(app: typer.Typer) -> None:
    """Add commands to the ``panama`` Typer app. Keep heavy imports inside the commands.

    ``app.command("devices")(devices)`` — the command's module is imported when the CLI starts.
    """
