"""Build components by name from options: the bridge between the CLI/JSON and plugin classes.

Every component class has a pydantic ``Config`` with ``extra="forbid"`` and is constructed as
``cls(config)``; bad options become ``field: message`` errors naming the component.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from panama.core.errors import PanamaError, format_validation_error
from panama.core.options import parse_pairs
from panama.core.plugins import KIND_TITLES, get_registry
from panama.core.protocols import config_class, spec_field

__all__ = ["build", "config_class", "labeler_options", "make_config", "open_label_source", "show_hint", "split_spec"]


def show_hint(name: str | None) -> str:
    """Where a component's options are described: ``panama plugins show NAME``."""
    return f"`panama plugins show {name}` lists its options" if name else "`panama plugins show NAME` lists a component's options"


def make_config(cls: Any, options: Mapping[str, Any], what: str, *, name: str | None = None) -> BaseModel:
    """Validate ``options`` against ``cls.Config``; ``name`` (the registered name) goes in the hint."""
    try:
        return config_class(cls).model_validate(dict(options))
    except ValidationError as exc:
        lines = format_validation_error(exc)
        raise PanamaError(f"{what}: " + "; ".join(lines), show_hint(name)) from None


def build(kind: str, name: str, options: Mapping[str, Any] | None = None) -> Any:
    """Instantiate the component ``name`` of ``kind`` with validated ``options``."""
    cls = get_registry().get(kind, name).load()
    config = make_config(cls, options or {}, f"{KIND_TITLES[kind]} {name!r}", name=name)
    return cls(config)


def split_spec(spec: str) -> tuple[str, str]:
    """``"vst:amp.vst3"`` → ``("vst", "amp.vst3")``; ``"sim"`` → ``("sim", "")``."""
    scheme, _, argument = spec.strip().partition(":")
    if not scheme:
        raise PanamaError(f"labeler spec {spec!r} has no scheme", "write e.g. sim, vst:amp.vst3 or lv2:URI")
    return scheme, argument


def _option_pairs(argument: str) -> dict[str, str] | None:
    """``a=1,b=x:0:1,y:0:1`` → ``{"a": "1", "b": "x:0:1,y:0:1"}``: a part without ``=``
    continues the previous value (lists such as ``knobs=gain:0:10,bass:0:10``); ``None`` if
    the argument does not start with ``name=``."""
    name, sep, _ = argument.partition(",")[0].partition("=")
    if not sep or not name.strip():
        return None
    return parse_pairs(argument, what="labeler option", example="vst:amp.vst3,map.gain=Drive", continued=True)


def labeler_options(cls: Any, argument: str, spec: str) -> dict[str, Any]:
    """What the part after the scheme means: ``key=value,...``, the value of ``spec_field``, or
    that value followed by options (``vst:amp.vst3,map.gain=Drive``)."""
    if not argument:
        return {}
    fields = set(config_class(cls).model_fields)
    pairs = _option_pairs(argument) if "=" in argument else None
    # ``pin.bass=0.2`` addresses an entry of the field ``pin``.
    if pairs is not None and {key.split(".", 1)[0] for key in pairs} <= fields:
        return dict(pairs)
    field = spec_field(cls)
    if field is not None and pairs is None and "," in argument:
        # ``folder:takes,knobs=gain:0:10`` — the value first, then options.
        head, _, rest = argument.partition(",")
        rest_pairs = _option_pairs(rest) if "=" in rest else None
        if rest_pairs is not None and {key.split(".", 1)[0] for key in rest_pairs} <= fields:
            return {field: head.strip(), **rest_pairs}
    scheme = split_spec(spec)[0]
    if field is None:
        if pairs is not None:
            unknown = sorted({key.split(".", 1)[0] for key in pairs} - fields)
            raise PanamaError(
                f"labeler {spec!r}: unknown option(s) {', '.join(unknown)}",
                f"its options are: {', '.join(sorted(fields)) or '(none)'}; {show_hint(scheme)}",
            )
        raise PanamaError(
            f"labeler {spec!r}: {scheme!r} takes no argument after ':'",
            f"its options are: {', '.join(sorted(fields)) or '(none)'}; {show_hint(scheme)}",
        )
    return {field: argument}


def open_label_source(spec: str, options: Mapping[str, Any] | None = None) -> Any:
    """Open the label source addressed by ``spec`` (``sim``, ``vst:amp.vst3``, ``lv2:URI`` …)."""
    scheme, argument = split_spec(spec)
    cls = get_registry().get("label_source", scheme).load()
    merged = labeler_options(cls, argument, spec)
    merged.update(options or {})
    config = make_config(cls, merged, f"labeler {spec!r}", name=scheme)
    return cls(config)
