"""Registers PANAMA's samplers (lazy targets)."""

from __future__ import annotations

from typing import Any

from panama.core.hookspecs import hookimpl


@hookimpl
def register_samplers(register: Any) -> None:
    register("random", "panama.acquisition.fixed:RandomSampler", "Uniform random settings (baseline)")
