"""Option shapes shared by the plugin label sources (lists and name→value maps).

Options reach a label source from JSON (real lists and dicts) or from the command line, where
``--labeler-option`` values are ``name=value`` pairs split at commas. So lists are also accepted
as ``a;b;c`` strings, maps as ``a=x;b=y`` strings, and one map entry can be given per option as
``pin.bypass=0`` or ``map.gain=Drive`` (collected into the ``pin`` / ``knob_map`` field).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from panama.core.errors import PanamaError
from panama.core.options import parse_pairs

_SEPARATORS = re.compile(r"[;,+]")


def split_list(value: Any) -> list[str] | None:
    """``"a;b"`` / ``"a,b"`` / ``["a", "b"]`` → ``["a", "b"]``; ``None``/empty stays ``None``."""
    if value is None:
        return None
    items = _SEPARATORS.split(value) if isinstance(value, str) else [str(v) for v in value]
    items = [item.strip() for item in items if item.strip()]
    return items or None


def split_pairs(value: Any) -> dict[str, str]:
    """``"a=x;b=y"`` or a mapping → ``{"a": "x", "b": "y"}`` (a malformed part is a ValueError,
    so pydantic reports it against the field)."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k).strip(): str(v).strip() for k, v in value.items()}
    try:
        return parse_pairs(str(value), what="entry", example="a=x;b=y", separators=";,")
    except PanamaError as exc:
        raise ValueError(str(exc)) from None


def collect_prefixed(data: Any, prefixes: Mapping[str, str]) -> Any:
    """Move ``pin.x=1`` style keys into their field (``{"pin.": "pin"}``), for a before-validator."""
    if not isinstance(data, Mapping):
        return data
    out: dict[str, Any] = {}
    gathered: dict[str, dict[str, Any]] = {}
    for key, value in data.items():
        for prefix, field in prefixes.items():
            if isinstance(key, str) and key.startswith(prefix) and len(key) > len(prefix):
                gathered.setdefault(field, {})[key[len(prefix):]] = value
                break
        else:
            out[key] = value
    for field, extra in gathered.items():
        out[field] = {**split_pairs(out.get(field)), **extra}
    return out
