"""The knobs of a device PANAMA cannot ask (a real amp): from an option or a JSON/TOML file.

A real amp's knobs are whatever its front panel says, so the user writes them down once:

* inline: ``knobs=gain:0:10;bass:0:10;master:0:10:3`` — ``name:min:max[:default[:unit]]``,
  separated by ``;`` (or ``,`` when not given through ``--labeler-option``);
* a file: ``knobs_file=amp.toml`` with ``[[knobs]]`` tables (or JSON ``{"knobs": [...]}``), each
  with ``name``, ``minimum``, ``maximum`` and optional ``default`` and ``unit``.

Without either, the amp is assumed to have the six 0–10 dials of the built-in sim.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from panama.core.errors import PanamaError, format_validation_error
from panama.core.knobs import Knob, KnobSpace

DEFAULT_DIALS = ("gain", "bass", "mid", "treble", "master", "presence")
HINT = "write knobs=gain:0:10;bass:0:10 (name:min:max[:default[:unit]]) or knobs_file=amp.toml"


def default_space() -> KnobSpace:
    return KnobSpace(knobs=tuple(Knob(name=n, minimum=0.0, maximum=10.0, default=5.0) for n in DEFAULT_DIALS))


def _knob(entry: Any, where: str) -> Knob:
    try:
        return Knob.model_validate(entry)
    except ValidationError as exc:
        raise PanamaError(f"{where}: " + "; ".join(format_validation_error(exc)), HINT) from None


def parse_inline(text: str) -> KnobSpace:
    knobs = []
    for part in filter(None, (p.strip() for p in text.replace(",", ";").split(";"))):
        fields = [f.strip() for f in part.split(":")]
        if not 3 <= len(fields) <= 5:
            raise PanamaError(f"knob {part!r} is not name:min:max[:default[:unit]]", HINT)
        entry: dict[str, Any] = {"name": fields[0]}
        try:
            entry["minimum"], entry["maximum"] = float(fields[1]), float(fields[2])
            if len(fields) > 3 and fields[3]:
                entry["default"] = float(fields[3])
        except ValueError:
            raise PanamaError(f"knob {part!r}: minimum, maximum and default must be numbers", HINT) from None
        if len(fields) > 4:
            entry["unit"] = fields[4]
        knobs.append(_knob(entry, f"knob {part!r}"))
    return _space(knobs, "knobs option")


def load_file(path: Path) -> KnobSpace:
    if not path.is_file():
        raise PanamaError(f"knobs file {str(path)!r} does not exist", HINT)
    text = path.read_text()
    try:
        if path.suffix.lower() == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except ImportError:
        raise PanamaError("reading TOML needs Python 3.11 or newer", "write the knobs file as JSON") from None
    except ValueError as exc:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        raise PanamaError(f"knobs file {str(path)!r} is not valid {path.suffix.lstrip('.').upper() or 'JSON'}: {exc}",
                          HINT) from None
    entries = data.get("knobs") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise PanamaError(f"knobs file {str(path)!r} has no list of knobs", 'give "knobs": [{"name": ..., ...}, ...]')
    return _space([_knob(e, f"{path}: knob {i + 1}") for i, e in enumerate(entries)], str(path))


def _space(knobs: list[Knob], where: str) -> KnobSpace:
    if not knobs:
        raise PanamaError(f"{where} names no knobs", HINT)
    try:
        return KnobSpace(knobs=tuple(knobs))
    except ValidationError as exc:
        raise PanamaError(f"{where}: " + "; ".join(format_validation_error(exc)), HINT) from None


def knob_space_from(knobs: str | None, knobs_file: str | Path | None) -> KnobSpace:
    """The knob space given by ``knobs`` or ``knobs_file`` (not both), else the six dials."""
    if knobs and knobs_file:
        raise PanamaError("give knobs or knobs_file, not both", HINT)
    if knobs:
        return parse_inline(knobs)
    if knobs_file:
        return load_file(Path(knobs_file).expanduser())
    return default_space()


def format_value(value: float, unit: str) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:.0f}"
    return f"{text} {unit}".strip()
