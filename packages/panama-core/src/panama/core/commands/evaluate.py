"""``panama evaluate``: the final model against the device at held-out settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from panama.core.console import out


def evaluate(
    directory: Annotated[Path, typer.Argument(help="Capture directory with a trained model, or a `panama train` OUTDIR (scored on its validation entries).")],
    settings: Annotated[int, typer.Option("--settings", "-n", min=1, help="How many random held-out settings to label and score.")] = 32,
    audio: Annotated[Path | None, typer.Option("--audio", help="A guitar DI WAV to evaluate on (default: the reamp signal's validation segment).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for the held-out settings.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON to stdout (instead of the tables).")] = False,
    json_out: Annotated[Path | None, typer.Option("--json-file", help="Also write the results to this JSON file.")] = None,
    worst: Annotated[int, typer.Option(min=1, help="How many worst settings to list.")] = 5,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the tables.")] = False,
) -> None:
    """Score the model on held-out settings it never saw (MSE, ESR, worst settings).

    Writes DIR/evaluation.json and example WAVs of the worst and a typical setting.
    """
    from panama.core.console import warning_line
    from panama.core.nam_outdir import evaluate_outdir, is_outdir
    from panama.core.study.heldout import EVALUATION_FILE, evaluate_capture, render_evaluation

    if is_outdir(directory):  # a `panama train data.json model.json learning.json OUTDIR` run
        evaluation = evaluate_outdir(directory, worst=worst, json_out=json_out)
    else:
        evaluation = evaluate_capture(
            directory, settings=settings, audio_path=audio, seed=seed, json_out=json_out, worst=worst,
            log=(lambda m: None) if quiet or as_json else (lambda m: out.print(f"[cyan]•[/cyan] {m}")),
        )
    if as_json:  # stdout holds the JSON alone; notes go to stderr
        import json

        typer.echo(json.dumps(evaluation.model_dump(), indent=2))
    else:
        render_evaluation(evaluation, out, rows=worst)
    for note in evaluation.notes:
        warning_line(note)
    if not as_json:
        out.print(f"written to {directory / EVALUATION_FILE}" + (f" and {json_out}" if json_out else ""))


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
