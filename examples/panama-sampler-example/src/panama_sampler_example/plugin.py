"""Registers the example sampler; the target is a lazy "module:attribute" string."""

from __future__ import annotations

from panama.core.hookspecs import Register, hookimpl


@hookimpl
def register_samplers(register: Register) -> None:
    register("example", "panama_sampler_example.sampler:CentreThenRandom", "Centre of the knob box, then random")
