"""``name=value`` items, the one parser for them.

A knob setting (``--setting gain=7,bass=3``), labeler and sampler options, gear metadata, a
snapshot grid, a sweep, knob ranges and Lightning trainer settings are all written the same
way, so they are read the same way: here. Items split at commas, a flag may be repeated (its
values merge), a name given twice is refused rather than silently overwritten, and a malformed
item is one :class:`PanamaError` naming it and showing the form to write.

Stdlib only: the CLI reads options before anything heavy is imported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from panama.core.errors import PanamaError


def parse_pairs(
    items: str | Iterable[str] | None,
    *,
    what: str = "option",
    example: str | None = None,
    separators: str = ",",
    continued: bool = False,
) -> dict[str, str]:
    """``"a=1,b=x"`` (or ``["a=1", "b=x"]`` from a repeated flag) → ``{"a": "1", "b": "x"}``.

    ``what`` names the items in messages (``"--labeler-option"``, ``"setting"``) and ``example``
    is the fix they show (default: ``--flag name=value`` for a flag, else a knob setting). ``separators`` are the characters items split at (``""``: one item per
    string, for values that hold commas, such as ``devices=[0,1]``). With ``continued``, a part
    without ``=`` continues the previous value, so lists survive the split
    (``knobs=gain:0:10,bass:0:10`` → ``{"knobs": "gain:0:10,bass:0:10"}``). Names and values are
    stripped; empty parts are skipped; an empty value (``name=``) is kept as ``""``.
    """
    if items is None:
        return {}
    if example is None:
        example = f"{what} name=value" if what.startswith("-") else "gain=0.7,bass=0.2"
    texts = [items] if isinstance(items, str) else list(items)
    pairs: dict[str, str] = {}
    for text in texts:
        last: str | None = None
        for separator, part in _split(text, separators):
            name, sep, value = (s.strip() for s in part.partition("="))
            if not sep:
                if continued and last is not None:
                    pairs[last] += separator + part.strip()
                    continue
                raise PanamaError(f"{what} {part.strip()!r} is not of the form name=value", f"write e.g. {example}")
            if not name:
                raise PanamaError(f"{what} {part.strip()!r} has no name", f"write e.g. {example}")
            if name in pairs:
                raise PanamaError(f"{what} gives {name!r} twice ({name}={pairs[name]} and {name}={value})",
                                  f"give each name once, e.g. {name}={value}")
            pairs[name] = value
            last = name
    return pairs


def _split(text: str, separators: str) -> list[tuple[str, str]]:
    """Non-empty parts of ``text``, each with the separator that preceded it (``""`` for the first)."""
    if not separators:
        return [("", text)] if text.strip() else []
    pieces = re.split(f"([{re.escape(separators)}])", text)
    parts = [("", pieces[0]), *zip(pieces[1::2], pieces[2::2], strict=True)]
    return [(sep, part) for sep, part in parts if part.strip()]
