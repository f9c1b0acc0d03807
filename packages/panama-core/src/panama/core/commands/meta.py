"""``panama meta``: show or change what a capture says it captured (NAM's metadata fields)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from panama.core.console import out


def meta(
    directory: Annotated[Path, typer.Argument(help="The capture folder.")],
    set_: Annotated[str | None, typer.Option("--set", help="Fields to set: gear_make=Marshall,gear_model=JCM800,tone_type=crunch (an empty value unsets).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the fields as JSON to stdout.")] = False,
) -> None:
    """Show or set the gear metadata written into every exported .nam.

    Fields (NAM's): name, modeled_by, gear_type (amp, pedal, pedal_amp, amp_cab, amp_pedal_cab,
    preamp, studio), gear_make, gear_model, tone_type (clean, overdrive, crunch, hi_gain, fuzz),
    input_level_dbu and output_level_dbu (the analog level that 0 dBFS in / out stands for).
    """
    from panama.core.capture.gear import GearMeta, validate_meta
    from panama.core.capture.store import Capture
    from panama.core.options import parse_pairs

    capture = Capture.open(directory)
    current: GearMeta = capture.config.meta
    if set_:
        changes = parse_pairs(set_, what="--set", example="--set gear_make=Marshall,tone_type=crunch")
        fields = current.fields()
        for name, value in changes.items():
            fields[name] = value or None
        updated = validate_meta(fields)
        capture.update_config(meta=updated.fields())
        current = updated
    if json_out:
        out.print(json.dumps(current.fields(), indent=2), markup=False)
        return
    fields = current.fields()
    if not fields:
        out.print(f"{directory}: no metadata yet — set it with `panama meta {directory} --set gear_make=…,gear_model=…`")
    for name, value in fields.items():
        out.print(f"{name} = {value}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("meta")(meta)
