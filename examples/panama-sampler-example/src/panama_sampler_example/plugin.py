"""Registers the example sampler; the target is a lazy "module:attribute" string."""

from __future__ import annotations

from typing import Any

from panama.core.hookspecs import hookimpl


@hookimpl
def register_samplers(register: Any) -> None:
    register("example", "panama_sampler_example.sampler:CentreThenRandom", "Centre of the knob box, then random")
