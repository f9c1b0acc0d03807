"""Registers PANAMA's label sources by ``--labeler`` scheme (lazy targets)."""

from __future__ import annotations

from typing import Any

from panama.core.hookspecs import hookimpl


@hookimpl
def register_label_sources(register: Any) -> None:
    pass
