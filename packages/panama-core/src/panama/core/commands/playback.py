"""``panama render``: listen to the parametric model — any DI through it, at a setting or with
knobs moving over time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from panama.core.console import out, warning_line
from panama.core.errors import PanamaError


def render(
    source: Annotated[Path, typer.Argument(help="A capture DIR (uses DIR/models/model.pt) or a model .pt file.", show_default=False)],
    di: Annotated[Path, typer.Argument(help="The guitar DI to play through the model (mono WAV at the model's rate).", show_default=False)],
    output: Annotated[Path, typer.Argument(help="Where to write the result (32-bit float WAV).", show_default=False)],
    setting: Annotated[str | None, typer.Option(help="Knob setting, e.g. gain=7,bass=4 (others: defaults).")] = None,
    sweep: Annotated[str | None, typer.Option(help="Knobs that move across the file, e.g. gain=0:10 (from:to; others: --setting).")] = None,
    channel: Annotated[int | None, typer.Option(help="Channel of a multichannel DI to use (0 = left).")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
) -> None:
    """Play a DI through the model and write what it sounds like."""
    from panama.core.audio import read_wav, write_wav_atomic
    from panama.core.commands.export import _model_path
    from panama.core.progress import progress_bar
    from panama.core.render import parse_sweep
    from panama.core.render import render as play
    from panama.core.train import TrainedModel

    if output.resolve() == di.resolve():
        raise PanamaError(f"{output} is the DI itself", "write the result to another file")
    if not output.parent.exists():
        raise PanamaError(f"folder {output.parent} does not exist", "create it first or choose another path")
    model = TrainedModel.load(_model_path(source))
    space = model.knob_space
    parsed = space.parse_setting(setting) if setting else space.default_setting()
    moves = parse_sweep(space, sweep) if sweep else None
    x, _ = read_wav(di, sample_rate=model.sample_rate, channel=channel)
    seconds = x.shape[0] / model.sample_rate
    with progress_bar(x.shape[0], f"rendering {di.name} ({seconds:.1f} s)", enabled=progress, count=False) as advance:
        y = play(model, x, parsed, sweep=moves, advance=advance)
    write_wav_atomic(output, y, model.sample_rate)
    peak = float(abs(y).max()) if y.size else 0.0
    if peak > 1.0:
        warning_line(f"the output peaks at {peak:.2f} (above full scale); it is a float WAV, so nothing is clipped")
    what = space.format_setting({k: v for k, v in parsed.items() if k not in (moves or {})})
    if moves:
        what += "; sweeping " + ", ".join(f"{k} {a:g}→{b:g}" for k, (a, b) in moves.items())
    out.print(f"[green]rendered[/green] {di.name} → {output} ({seconds:.1f} s; {what})")


def register(app: typer.Typer) -> None:
    app.command("render")(render)
