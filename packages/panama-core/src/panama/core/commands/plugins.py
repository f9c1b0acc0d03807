"""``panama plugins``: what is installed, who provides it, and what failed to load."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from panama.core.console import out
from panama.core.plugins import KIND_TITLES, get_registry


def plugins(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    kind: Annotated[str | None, typer.Option(help="Only this kind: net, sampler, labeler, exporter.")] = None,
) -> None:
    """List every net, sampler, labeler and exporter, with the distribution that provides it."""
    registry = get_registry()
    wanted = {v: k for k, v in KIND_TITLES.items()}.get(kind, kind) if kind else None
    rows = [c for c in registry.all() if wanted is None or c.kind == wanted]
    # A lazy target whose module is gone must not look healthy (checked without importing it).
    broken = {(c.kind, c.name): problem for c in rows if (problem := c.problem()) is not None}
    if as_json:
        payload = {
            "components": [
                {
                    "kind": KIND_TITLES[c.kind],
                    "name": c.name,
                    "summary": c.summary,
                    "distribution": c.distribution,
                    "version": c.version,
                    **({"problem": broken[(c.kind, c.name)]} if (c.kind, c.name) in broken else {}),
                }
                for c in rows
            ],
            "problems": [p.__dict__ for p in registry.problems],
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    from rich.table import Table

    table = Table(title="PANAMA plugins", title_justify="left")
    for column in ("kind", "name", "summary", "distribution", "version"):
        table.add_column(column, overflow="fold")
    for c in rows:
        table.add_row(KIND_TITLES[c.kind], c.name, c.summary, c.distribution, c.version)
    out.print(table)
    for failed in registry.problems:
        out.print(f"[red]broken:[/red] {failed.plugin} ({failed.distribution}): {failed.message}")
    for c in rows:
        if (c.kind, c.name) in broken:
            out.print(f"[red]broken:[/red] {KIND_TITLES[c.kind]} {c.name!r} ({c.distribution}): "
                      f"{broken[(c.kind, c.name)]}; using it fails — reinstall {c.distribution}")


def register(app: typer.Typer) -> None:
    app.command("plugins")(plugins)
