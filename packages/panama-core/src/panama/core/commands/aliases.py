"""Old option spellings, kept for one release: hidden from help, a one-line note when used.

The CLI says one word per concept (``--signal`` for the reamp signal, ``--preset`` for the run
size, ``--net-preset`` for the net size, repeatable ``--labeler-option``, ``--json`` printing to
stdout); scripts written against the old words keep working meanwhile.
"""

from __future__ import annotations

from typing import TypeVar

from panama.core.console import warning_line
from panama.core.errors import PanamaError

T = TypeVar("T")


def _note(old: str, new: str) -> None:
    warning_line(f"{old} is now spelled {new}; the old spelling goes in the next release")


def renamed(value: T | None, old_value: T | None, *, new: str, old: str) -> T | None:
    """The value of an option renamed from ``old`` to ``new``: the new spelling's, else the old
    one's (with a note); both, with different values, is an error."""
    if old_value is None:
        return value
    if value is not None and value != old_value:
        raise PanamaError(f"{new} {value} and {old} {old_value} both given",
                          f"{old} is the old spelling of {new}; give {new} only")
    _note(old, new)
    return old_value


def merged(items: list[str] | None, old_items: list[str] | None, *, new: str, old: str) -> list[str]:
    """A repeatable option and its old spelling(s): every value, the old ones with a note."""
    if old_items:
        _note(old, new)
    return [*(items or []), *(old_items or [])]
