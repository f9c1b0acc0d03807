"""``panama labelers inspect SPEC``: a label source's knobs — the first thing to run on a new plugin."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from panama.core.console import out

labelers_app = typer.Typer(help="Inspect label sources (sim, vst:PATH, lv2:URI, soundcard, folder:PATH).",
                           no_args_is_help=True)


def knob_rows(source: Any) -> list[dict[str, Any]]:
    return [
        {"name": k.name, "minimum": k.minimum, "maximum": k.maximum, "default": k.default, "unit": k.unit}
        for k in source.knob_space()
    ]


@labelers_app.command("inspect")
def inspect(
    spec: Annotated[str, typer.Argument(help="Label source, e.g. sim, vst:amp.vst3, lv2:URI.")],
    labeler_option: Annotated[list[str] | None, typer.Option("--labeler-option", help="Label source option name=value, repeatable.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON to stdout.")] = False,
    old_option: Annotated[list[str] | None, typer.Option("--option", "-o", hidden=True)] = None,
) -> None:
    """List a label source's knobs: name, range, default and unit."""
    from panama.core.commands.aliases import merged
    from panama.core.components import open_label_source
    from panama.core.options import parse_pairs
    from panama.core.protocols import is_deterministic

    items = merged(labeler_option, old_option, new="--labeler-option", old="-o/--option")
    options = parse_pairs(items, what="--labeler-option")
    with open_label_source(spec, options) as source:
        rows = knob_rows(source)
        deterministic = is_deterministic(source)
    if as_json:
        typer.echo(json.dumps({"labeler": spec, "deterministic": deterministic, "knobs": rows}, indent=2))
        return
    from rich.table import Table

    table = Table(title=f"Knobs of {spec}", title_justify="left")
    for column, justify in (("knob", "left"), ("minimum", "right"), ("maximum", "right"),
                            ("default", "right"), ("unit", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(row["name"], f"{row['minimum']:g}", f"{row['maximum']:g}", f"{row['default']:g}", row["unit"])
    out.print(table)
    if not deterministic:
        out.print("[yellow]this source is not deterministic: the same setting may sound slightly different twice[/yellow]")


def register(app: typer.Typer) -> None:
    app.add_typer(labelers_app, name="labelers")
