"""Shared Rich consoles and the one-line error format used by every command."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def error_line(message: str) -> None:
    err.print(f"[bold red]error:[/bold red] {escape(message)}")


def warning_line(message: str) -> None:
    err.print(f"[yellow]warning:[/yellow] {escape(message)}")
