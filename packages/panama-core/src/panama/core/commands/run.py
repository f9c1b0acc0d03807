"""``panama run``, ``status``, ``suggest`` and ``add``: the capture workflow around the loop."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from panama.core.console import out

Dir = Annotated[Path, typer.Argument(help="Capture directory.")]


def run(
    directory: Annotated[Path, typer.Argument(help="Capture directory (created if new, resumed if not).")] = Path("capture"),
    sampler: Annotated[str | None, typer.Option(help="Sampler name (`panama plugins`).")] = None,
    labeler: Annotated[str | None, typer.Option(help="Label source: sim, vst:PATH, lv2:URI, soundcard[:DEVICE], folder:PATH.")] = None,
    budget: Annotated[int | None, typer.Option(min=1, help="Total number of knob settings to label.")] = None,
    initial: Annotated[int | None, typer.Option(min=1, help="Space-filling settings before active learning starts.")] = None,
    net: Annotated[str | None, typer.Option(help="Net name (wavenet, lstm, …).")] = None,
    net_preset: Annotated[str | None, typer.Option("--net-preset", help="Net size preset, e.g. nano, feather, lite, standard.")] = None,
    preset: Annotated[str | None, typer.Option(help="Run preset: tiny, quick (CPU, ~10 min), good (CPU, ~1 h), paper (GPU).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for the whole run.")] = None,
    sampler_option: Annotated[list[str] | None, typer.Option("--sampler-option", help="Sampler option name=value, repeatable.")] = None,
    labeler_option: Annotated[list[str] | None, typer.Option("--labeler-option", help="Label source option name=value, repeatable.")] = None,
    input_wav: Annotated[Path | None, typer.Option("--input", help="Your own reamp WAV instead of the generated signal.")] = None,
    trainer: Annotated[list[str] | None, typer.Option("--trainer", help="Lightning Trainer setting name=value, repeatable "
                                                      "(accelerator=gpu, precision=bf16-mixed; devices=N splits each round's ensemble over N devices).")] = None,
    sample_rate: Annotated[int | None, typer.Option("--sample-rate", min=8000, help="Capture at this rate (default 48000; an --input at another rate is refused unless this names it).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Capture a device end to end: choose settings, label them, train, repeat, export."""
    from panama.core.commands.training import parse_trainer_options
    from panama.core.loop import run_capture
    from panama.core.options import parse_pairs

    summary = run_capture(
        directory,
        labeler=labeler,
        sampler=sampler,
        budget=budget,
        initial=initial,
        preset=preset,
        seed=seed,
        net=net,
        net_options={"preset": net_preset} if net_preset else None,
        sampler_options=parse_pairs(sampler_option, what="--sampler-option") or None,
        labeler_options=parse_pairs(labeler_option, what="--labeler-option") or None,
        input_wav=input_wav,
        sample_rate=sample_rate,
        progress=not quiet,
        log=(lambda m: None) if quiet else (lambda m: out.print(f"[cyan]•[/cyan] {m}")),
        trainer=parse_trainer_options(trainer),
    )
    from rich.table import Table

    table = Table(title=f"Capture {summary.directory}", title_justify="left", show_header=False)
    table.add_row("labelled settings", str(summary.labelled))
    table.add_row("rounds", str(summary.rounds))
    for name, value in summary.metrics.items():
        table.add_row(name, f"{value:.4g}")
    for path in summary.exports:
        table.add_row("export", str(path))
    out.print(table)


def status(directory: Dir, as_json: Annotated[bool, typer.Option("--json", help="Print JSON to stdout.")] = False) -> None:
    """Where a capture stands: points, rounds, last validation error, what comes next."""
    import json

    from panama.core.loop import capture_status

    info = capture_status(directory)
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    from rich.table import Table

    table = Table(title=f"Capture {directory}", title_justify="left", show_header=False)
    for key, value in info.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            value = "; ".join(map(str, value))
        table.add_row(key.replace("_", " "), str(value))
    out.print(table)


def suggest(
    directory: Dir,
    n: Annotated[int, typer.Option("-n", min=1, help="How many settings to propose.")] = 4,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON to stdout.")] = False,
) -> None:
    """Propose the next settings without labelling them (record them anywhere, then `panama add`)."""
    from panama.core.offline import suggest_settings

    capture, settings = suggest_settings(directory, n)
    if as_json:
        import json

        rows = [{"setting": s, "arg": capture.knob_space.format_setting(s, digits=6)} for s in settings]
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table(title="Record these settings with the capture's input.wav", title_justify="left")
    table.add_column("#")
    for knob in capture.knob_space:
        table.add_column(f"{knob.name}{f' ({knob.unit})' if knob.unit else ''}", justify="right")
    for i, setting in enumerate(settings, 1):
        table.add_row(str(i), *(f"{setting[k]:.2f}" for k in capture.knob_space.names))
    out.print(table)
    out.print("then import each recording:")
    for i, setting in enumerate(settings, 1):
        arg = capture.knob_space.format_setting(setting, digits=6)
        out.print(f"  panama add {directory} take{i}.wav --setting {arg}", soft_wrap=True)


def add(
    directory: Dir,
    recording: Annotated[Path, typer.Argument(help="WAV recorded from the device with the capture's input.wav.")],
    setting: Annotated[str, typer.Option(help="The knob setting it was recorded at, e.g. gain=7,bass=3.")],
    holdout: Annotated[bool, typer.Option("--holdout", help="Keep it for `panama evaluate` only; training never sees it.")] = False,
    relabel: Annotated[bool, typer.Option("--relabel", help="Replace the label this setting already has with this take.")] = False,
) -> None:
    """Import a recording made elsewhere (checked, aligned, journalled)."""
    from panama.core.console import warning_line
    from panama.core.offline import add_recording

    label = add_recording(directory, recording, setting, holdout=holdout, relabel=relabel)
    for line in label.warnings:
        warning_line(line)
    out.print(f"added label {label.index:04d} at {label.path}")


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("status")(status)
    app.command("suggest")(suggest)
    app.command("add")(add)
