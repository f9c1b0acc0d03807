"""Registers PANAMA's nets and exporters (lazy targets: discovery imports no torch)."""

from __future__ import annotations

from typing import Any

from panama.core.hookspecs import hookimpl


@hookimpl
def register_nets(register: Any) -> None:
    pass


@hookimpl
def register_exporters(register: Any) -> None:
    pass
