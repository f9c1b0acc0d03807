"""A Typer group whose commands are imported and built only when they are used.

Typer builds every option of every command before it parses anything, and each command module
is imported to find its commands. With twenty commands that was a third of ``panama --help``.
Here the root group knows each built-in command only by the module that registers it
(:attr:`LazyGroup.table`): ``panama CMD`` imports and builds CMD's module alone, and the
command list of ``panama --help`` reads names and docstrings without building any option.
Commands added to the app directly (plugins' ``register_commands``) are built as usual.
"""

from __future__ import annotations

import importlib
import inspect
from difflib import get_close_matches
from typing import Any, ClassVar

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_name, get_group, solve_typer_info_defaults

_registered: dict[str, typer.Typer] = {}  # module → a Typer holding what its register() added


def module_app(module: str) -> typer.Typer:
    """A Typer holding the commands that ``module.register(app)`` adds (imported once)."""
    if module not in _registered:
        sub = typer.Typer(rich_markup_mode="rich")
        importlib.import_module(module).register(sub)
        _registered[module] = sub
    return _registered[module]


def summaries(sub: typer.Typer) -> dict[str, TyperCommand]:
    """``sub``'s commands as option-less commands holding only name and help: all that the
    command list of a group's help shows."""
    found: dict[str, TyperCommand] = {}
    for info in sub.registered_commands:
        name = info.name or get_command_name(info.callback.__name__)  # type: ignore[union-attr]
        found[name] = TyperCommand(name, help=info.help or inspect.getdoc(info.callback),
                                   short_help=info.short_help, hidden=info.hidden)
    for group in sub.registered_groups:
        solved = solve_typer_info_defaults(group)
        found[str(solved.name)] = TyperCommand(str(solved.name), help=solved.help, short_help=solved.short_help,
                                               hidden=bool(solved.hidden))
    return found


class LazyGroup(TyperGroup):
    """Subclass it with ``table = {command name: module}`` and pass it as ``Typer(cls=...)``."""

    table: ClassVar[dict[str, str]] = {}
    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [*self.table, *(name for name in self.commands if name not in self.table)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        module = self.table.get(cmd_name)
        if cmd_name in self.commands or module is None:
            return self.commands.get(cmd_name)
        sub = module_app(module)
        if self._listing:
            return summaries(sub).get(cmd_name)
        built = get_group(sub).commands
        self.commands.update({name: command for name, command in built.items() if name in self.table})
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except Exception as exc:  # "No such command": Typer suggests only among commands built so far
            message = getattr(exc, "message", None)
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if matches and isinstance(message, str) and "Did you mean" not in message:
                exc.message = f"{message.rstrip('.')}. Did you mean {', '.join(map(repr, matches))}?"  # type: ignore[attr-defined]
            raise

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True  # the command list needs names and help only
        try:
            if self.rich_markup_mode is None:
                super().format_help(ctx, formatter)
            else:
                print_group_help(self, ctx)
        finally:
            self._listing = False


def _first_paragraph(text: str | None) -> str:
    return " ".join((text or "").strip().split("\n\n")[0].split())


def print_group_help(group: Any, ctx: Any) -> None:
    """The group's help in Typer's Rich layout (usage, text, Options and Commands panels), drawn
    here with Rich alone: ``typer.rich_utils`` also imports Rich's Markdown and traceback
    renderers (markdown-it, attrs), which was over a third of ``panama --help``."""
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.padding import Padding
    from rich.panel import Panel
    from rich.table import Table

    console = Console(highlight=False)
    usage = " ".join(group.collect_usage_pieces(ctx))
    console.print(Padding(f"[yellow]Usage:[/yellow] [bold]{escape(ctx.command_path)}[/bold] {escape(usage)}", (1, 1, 0, 1)))
    if group.help:
        console.print(Padding(" ".join(group.help.split()), (1, 1, 0, 1)))

    def panel(title: str, rows: list[tuple[str, str]]) -> None:
        table = Table.grid(padding=(0, 2), expand=True)
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column(ratio=1)
        for name, text in rows:
            table.add_row(name, escape(text))
        console.print(Panel(table, title=title, title_align="left", border_style="dim", box=box.ROUNDED))

    options = [(" ".join(param.opts + param.secondary_opts), _first_paragraph(getattr(param, "help", "")))
               for param in group.get_params(ctx) if not getattr(param, "hidden", False)]
    commands = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is not None and not command.hidden:
            commands.append((name, _first_paragraph(command.short_help or command.help)))
    console.print()
    panel("Options", options)
    panel("Commands", commands)
