"""``panama signal OUT.wav --signal quick|full``: write the reamp signal and its segments."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from panama.core.console import out
from panama.core.errors import PanamaError


def signal(
    output: Annotated[Path, typer.Argument(help="Where to write the signal (.wav); segments go to the same name .json.")],
    signal_: Annotated[str | None, typer.Option("--signal", help="Length: tiny (≈3 s, tests), quick (≈20 s, the default) or full (≈3 min).", show_default=False)] = None,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same samples.")] = 0,
    sample_rate: Annotated[int, typer.Option("--sample-rate", help="Sample rate in Hz.")] = 48_000,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    old_preset: Annotated[str | None, typer.Option("--preset", hidden=True)] = None,
) -> None:
    """Write the reamp signal: silence, latency blips, validation copies, sweeps, noise, guitar."""
    from panama.core.commands.aliases import renamed
    from panama.core.signal import PRESETS, make_signal

    preset = renamed(signal_, old_preset, new="--signal", old="--preset") or "quick"

    if output.suffix.lower() != ".wav":
        raise PanamaError(f"{output}: the signal is written as WAV", "give a file name ending in .wav")
    if not output.parent.exists():
        raise PanamaError(f"folder {output.parent} does not exist", "create it first or choose another path")
    if output.exists() and not force:
        raise PanamaError(f"{output} already exists", "choose another name or pass --force to overwrite it")
    if preset not in PRESETS:
        raise PanamaError(f"unknown signal preset {preset!r}", f"choose one of: {', '.join(PRESETS)}")
    result = make_signal(preset, sample_rate=sample_rate, seed=seed)
    result.save(output)
    out.print(
        f"wrote {output} ({result.duration:.1f} s, {result.sample_rate} Hz, signal {preset}, seed {seed}) "
        f"and {output.with_suffix('.json')} (segment positions)"
    )


def register(app: typer.Typer) -> None:
    app.command("signal")(signal)
