"""``panama plugins``: what is installed, who provides it, what failed to load, and (``show``)
one component's options read from its pydantic ``Config``."""

from __future__ import annotations

import json
import types
import typing
from typing import Annotated, Any

import typer

from panama.core.console import out
from panama.core.errors import PanamaError
from panama.core.plugins import KIND_TITLES, Component, get_registry

KIND_NAMES = {title: kind for kind, title in KIND_TITLES.items()}
# Where each kind's options go on the command line (nets and exporters take them per command).
OPTION_SPELLINGS = {
    "sampler": "--sampler-option NAME=VALUE",
    "label_source": "--labeler-option NAME=VALUE (or --labeler SCHEME:NAME=VALUE)",
}

app = typer.Typer(invoke_without_command=True, no_args_is_help=False)

KindOption = Annotated[str | None, typer.Option(help="Only this kind: net, sampler, labeler, exporter.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _kind(kind: str | None) -> str | None:
    if kind is None:
        return None
    wanted = KIND_NAMES.get(kind, kind)
    if wanted not in KIND_TITLES:
        raise PanamaError(f"--kind {kind!r} is not a kind of component", "choose net, sampler, labeler or exporter")
    return wanted


@app.callback()
def plugins(ctx: typer.Context, as_json: JsonOption = False, kind: KindOption = None) -> None:
    """List every net, sampler, labeler and exporter, with the distribution that provides it;
    `panama plugins show NAME` lists one component's options."""
    if ctx.invoked_subcommand is not None:
        return
    registry = get_registry()
    wanted = _kind(kind)
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
    out.print("[dim]`panama plugins show NAME` lists a component's options[/dim]")


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Component name: ensemble-diverse, sim, wavenet, nam … "
                                        "(for a labeler spec such as vst:amp.vst3, its scheme).")],
    kind: KindOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a component's options: name, type, default and description (from its Config)."""
    found = _find(name, _kind(kind))
    described = [_describe(c) for c in found]
    if as_json:
        typer.echo(json.dumps(described if len(described) > 1 else described[0], indent=2, default=str))
        return
    for entry in described:
        _print(entry)


def _find(name: str, kind: str | None) -> list[Component]:
    """Every component called ``name`` (of ``kind``); a labeler spec counts by its scheme."""
    registry = get_registry()
    kinds = [kind] if kind else list(KIND_TITLES)
    names = {name, name.partition(":")[0]}
    matches = [(k, n) for k in kinds for n in sorted(names)
               if n in registry.components[k] or (k, n) in registry.clashes]
    if not matches:
        where = f"{KIND_TITLES[kind]} " if kind else "component "
        raise PanamaError(f"no {where}named {name!r} is installed", "`panama plugins` lists every installed name")
    return [registry.get(k, n) for k, n in matches]  # a clash is its own clear error


def _describe(component: Component) -> dict[str, Any]:
    from panama.core.protocols import config_class

    cls = component.load()
    options = []
    for field_name, info in config_class(cls).model_fields.items():
        required = info.is_required()
        options.append({
            "name": info.alias or field_name,
            "type": _type_text(info.annotation) + _bounds_text(info.metadata),
            "default": None if required else _jsonable(info.get_default(call_default_factory=True)),
            "required": required,
            "description": info.description or "",
        })
    return {"kind": KIND_TITLES[component.kind], "name": component.name, "summary": component.summary,
            "distribution": component.distribution, "version": component.version,
            "declares": _declared(component.kind, cls), "options": options}


def _declared(kind: str, cls: Any) -> dict[str, Any]:
    """The optional members core reads from this kind, as the class declares them (or defaults)."""
    from panama.core import protocols

    if kind == "sampler":
        return {"nested_design": protocols.nested_design(cls)}
    if kind == "label_source":
        return {"deterministic": protocols.is_deterministic(cls), "spec_field": protocols.spec_field(cls)}
    if kind == "net":
        return {"supports_members": protocols.supports_members(cls)}
    return {}


def _type_text(annotation: Any) -> str:
    """``int | None``, ``none | random-cd | lloyd``, ``dict[str, Any]``: as a user would write it."""
    if annotation is None or annotation is type(None):
        return "None"
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " | ".join(str(v) for v in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_text(a) for a in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join(_type_text(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


_BOUNDS = (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤"), ("min_length", "length ≥"), ("max_length", "length ≤"))


def _bounds_text(metadata: list[Any]) -> str:
    parts = [f"{symbol} {value}" for item in metadata for attribute, symbol in _BOUNDS
             if (value := getattr(item, attribute, None)) is not None]
    return f" ({', '.join(parts)})" if parts else ""


def _jsonable(value: Any) -> Any:
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(value, fallback=str)


def _print(entry: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    out.print(f"[bold]{entry['kind']} {entry['name']!r}[/bold] — {escape(entry['summary'] or '(no summary)')} "
              f"[dim]({escape(entry['distribution'])} {escape(entry['version'])})[/dim]")
    declares = ", ".join(f"{key} = {value!r}" for key, value in entry["declares"].items())
    if declares:
        out.print(f"declares: {declares}")
    if not entry["options"]:
        out.print("no options")
        return
    table = Table(title_justify="left")
    for column in ("option", "type", "default", "description"):
        table.add_column(column, overflow="fold")
    for option in entry["options"]:
        table.add_row(option["name"], escape(option["type"]), escape(_default_text(option)),
                      escape(option["description"]))
    out.print(table)
    spelling = OPTION_SPELLINGS.get(KIND_NAMES[entry["kind"]])
    if spelling:
        out.print(f"set them with {spelling}")


def _default_text(option: dict[str, Any]) -> str:
    """As it would be typed after ``NAME=``: strings bare, ``—`` for no value."""
    value = option["default"]
    if option["required"]:
        return "(required)"
    if value is None:
        return "—"
    return value if isinstance(value, str) else json.dumps(value)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="plugins")
