"""The ``panama`` command line.

Start-up stays instant and torch-free: command modules import heavy libraries inside their
functions, and a command's module is imported only when that command runs or help lists it
(:mod:`panama.core.lazy_group`); ``panama --help`` imports neither NumPy nor pydantic. Every expected error ends as one red line on stderr and a non-zero exit; a traceback
appears only with ``--debug`` (or ``PANAMA_DEBUG=1``).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from panama.core import __version__
from panama.core.console import error_line
from panama.core.errors import PanamaError, format_validation_error, os_error
from panama.core.lazy_group import LazyGroup

# Command name → the module whose ``register(app)`` adds it: the one place built-in commands are
# wired in (a module that adds several commands is named once per command). A module is imported
# only when one of its commands runs or help lists it, so ``panama CMD`` builds CMD alone.
COMMANDS = {
    "signal": "panama.core.commands.reamp_signal",
    "init": "panama.core.commands.capture_folder",
    "label": "panama.core.commands.capture_folder",
    "import": "panama.core.commands.capture_folder",
    "export-dataset": "panama.core.commands.capture_folder",
    "run": "panama.core.commands.run",
    "status": "panama.core.commands.run",
    "suggest": "panama.core.commands.run",
    "add": "panama.core.commands.run",
    "train": "panama.core.commands.training",
    "export": "panama.core.commands.export",
    "meta": "panama.core.commands.meta",
    "render": "panama.core.commands.playback",
    "evaluate": "panama.core.commands.evaluate",
    "compare": "panama.core.commands.compare",
    "report": "panama.core.commands.report",
    "plugins": "panama.core.commands.plugin_info",
    "labelers": "panama.core.commands.labelers",
}


class _Root(LazyGroup):
    table = COMMANDS


app = typer.Typer(
    name="panama",
    cls=_Root,
    help="PANAMA — capture an amp across all its knobs as one parametric neural model, "
    "recording as few settings as possible.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"panama {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks for errors.")] = False,
) -> None:
    """PANAMA — parametric neural amp modelling with active learning."""


_WIRED = False


def build_app() -> typer.Typer:
    """The app with the plugins' commands added (built-in ones load lazily, see :data:`COMMANDS`)."""
    global _WIRED
    if not _WIRED:
        from panama.core.plugins import register_commands

        register_commands(app)
        _WIRED = True
    return app


def _debug(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("PANAMA_DEBUG", "") not in ("", "0")


def _is_validation_error(exc: BaseException) -> bool:
    """A pydantic ``ValidationError``, without importing pydantic to ask: if no command loaded
    it, nothing can have raised one (``panama --help`` stays free of pydantic)."""
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(exc, pydantic.ValidationError)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (``main`` exits with it)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = _debug(argv)
    from panama.core import plugins

    plugins.show_tracebacks = debug
    try:
        build_app()
        # Standalone mode: Typer prints usage errors and --help itself and exits via SystemExit.
        app(args=argv, prog_name="panama")
        return 0
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except PanamaError as exc:
        if debug:
            raise
        error_line(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        error_line("interrupted — everything labelled so far is saved; run the same command to resume")
        return 130
    except Exception as exc:  # a bug: still one line, with the way to see more
        if debug:
            raise
        if _is_validation_error(exc):
            error_line("; ".join(format_validation_error(exc)))
            return 2
        known = os_error(exc)
        if known is not None:
            error_line(str(known))
            return known.exit_code
        error_line(
            f"internal error: {type(exc).__name__}: {exc} — this is a bug; rerun with --debug "
            "for the traceback and report it"
        )
        return 1


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
