"""Check a new run's options before its capture folder exists.

``panama run NEW_DIR`` creates the capture first and builds the sampler and the net much
later; an unknown sampler, a bad ``--sampler-option`` or a plugin whose module cannot be
imported would then fail after the folder was written, leaving a capture that can never be
resumed with the corrected options ("was started with other options"). Building each
component once here, with exactly the options the loop will use, turns all of those into one
clear error with nothing written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def check_run_options(
    *,
    sampler: str,
    sampler_options: Mapping[str, Any],
    preset: str,
    net: str | None,
    net_options: Mapping[str, Any],
) -> None:
    """Raise ``PanamaError`` for anything ``Loop`` would refuse later (sampler, its options and
    its initial design, the net and its options)."""
    from panama.core.components import build, make_config
    from panama.core.plugins import KIND_TITLES, get_registry
    from panama.core.presets import get_preset
    from panama.core.protocols import initial_design

    run_preset = get_preset(preset)
    options = {**run_preset.sampler_options.get(sampler, {}), **dict(sampler_options)}
    design = initial_design(build("sampler", sampler, options))
    if design:
        build("sampler", design, {})
    net_name = net or run_preset.net
    cls = get_registry().get("net", net_name).load()
    make_config(cls, {**run_preset.net_options, **dict(net_options)}, f"{KIND_TITLES['net']} {net_name!r}", name=net_name)
