"""Capture commands: ``init``, ``label``, ``import`` and ``export-dataset``.

Each command validates everything it can (paths, label source, knobs, every audio file) before it
writes anything, so a bad argument never leaves a half-made capture behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from panama.core.console import out, warning_line
from panama.core.errors import PanamaError


def init(
    directory: Annotated[Path, typer.Argument(help="The capture folder to create (must not exist or be empty).")],
    labeler: Annotated[str, typer.Option("--labeler", help="Label source: sim, pedalboard, vst:amp.vst3, lv2:URI, soundcard …")],
    input_wav: Annotated[Path | None, typer.Option("--input", help="Your own reamp input WAV instead of a generated one.")] = None,
    signal: Annotated[str | None, typer.Option("--signal", help="Generated signal length: tiny, quick (≈20 s, the default) or full (≈3 min).", show_default=False)] = None,
    seed: Annotated[int, typer.Option(help="Seed for the signal, the sampler and training.")] = 0,
    channel: Annotated[int | None, typer.Option(help="Channel of a multichannel --input to use (0 = left).")] = None,
    budget: Annotated[int, typer.Option(help="Total number of settings to label.")] = 64,
    sampler: Annotated[str | None, typer.Option(help="Sampler for `panama run` (default ensemble-disagreement).")] = None,
    labeler_option: Annotated[list[str] | None, typer.Option("--labeler-option", help="Label source option name=value, repeatable.")] = None,
    meta: Annotated[str | None, typer.Option("--meta", help="What is captured, for every .nam: gear_make=Marshall,gear_model=JCM800,gear_type=amp,tone_type=crunch,modeled_by=…,input_level_dbu=…")] = None,
    sample_rate: Annotated[int | None, typer.Option("--sample-rate", min=8000, help="Capture at this rate (default 48000; an --input at another rate is refused unless this names it).")] = None,
    old_preset: Annotated[str | None, typer.Option("--preset", hidden=True)] = None,
    old_labeler_options: Annotated[list[str] | None, typer.Option("--labeler-options", hidden=True)] = None,
) -> None:
    """Create a capture folder: capture.json, input.wav (+ input.json) and the empty stores."""
    from panama.core.capture.gear import parse_meta
    from panama.core.capture.store import Capture
    from panama.core.commands.aliases import merged, renamed
    from panama.core.options import parse_pairs
    from panama.core.signal import PRESETS

    preset = renamed(signal, old_preset, new="--signal", old="--preset") or "quick"
    options = parse_pairs(merged(labeler_option, old_labeler_options, new="--labeler-option", old="--labeler-options"),
                          what="--labeler-option")
    if input_wav is None and preset not in PRESETS:
        raise PanamaError(f"unknown signal preset {preset!r}", f"choose one of: {', '.join(PRESETS)}")
    extra: dict[str, Any] = {"meta": parse_meta(meta).fields()}
    if sampler is not None:
        from panama.core.plugins import get_registry

        get_registry().get("sampler", sampler)  # unknown sampler → clear error, before writing
        extra["sampler"] = sampler
    capture = Capture.create(directory, labeler=labeler, input_wav=input_wav, preset=preset, seed=seed,
                             channel=channel, budget=budget, labeler_options=options,
                             sample_rate=sample_rate, **extra)
    x = capture.read_input()
    out.print(
        f"created capture {directory}: label source {labeler}, knobs {', '.join(capture.knob_space.names)}; "
        f"input {len(x) / capture.sample_rate:.1f} s at {capture.sample_rate} Hz "
        f"({'your ' + str(input_wav) if input_wav else preset + ' signal'})"
    )


def label(
    directory: Annotated[Path, typer.Argument(help="The capture folder.")],
    setting: Annotated[str, typer.Option("--setting", help="Knob values, e.g. gain=0.7,bass=0.2 (others: defaults).")],
    relabel: Annotated[bool, typer.Option("--relabel", help="Record this setting again; the new recording replaces its label.")] = False,
    holdout: Annotated[bool, typer.Option("--holdout", help="Keep this recording for `panama evaluate` only; training never sees it.")] = False,
) -> None:
    """Label one knob setting through the capture's label source."""
    from panama.core.capture.store import Capture
    from panama.core.components import open_label_source

    capture = Capture.open(directory)
    parsed = capture.knob_space.parse_setting(setting)
    with capture.lock():
        existing = capture.find_label(parsed, holdout=holdout)
        with open_label_source(capture.config.labeler, capture.config.labeler_options) as source:
            result = capture.label(source, parsed, relabel=relabel, holdout=holdout)
    text = capture.knob_space.format_setting(result.setting)
    if existing is not None and existing.index == result.index:
        out.print(f"already labelled: {result.path.relative_to(capture.root)} {text} (use --relabel to record it again)")
        return
    for line in result.warnings:
        warning_line(line)
    measured = "" if result.measured_latency is None else f"; measured from the blips: {result.measured_latency}"
    kept = " for evaluation only (held out)" if holdout else ""
    replaced = f", replacing {existing.path.relative_to(capture.root)}" if existing is not None else ""
    out.print(f"labelled {result.path.relative_to(capture.root)} {text}{kept} (latency {result.latency} samples{measured}"
              f"{replaced})")


def import_dataset(
    dataset: Annotated[Path, typer.Argument(help="knob_dataset.json ({'entries': [...]}).")],
    directory: Annotated[Path, typer.Argument(help="Capture folder: an existing capture or a new one.")],
    labeler: Annotated[str, typer.Option("--labeler", help="Label source recorded in a new capture.")] = "folder",
    channel: Annotated[int | None, typer.Option(help="Channel of multichannel files to use.")] = None,
    knob: Annotated[list[str] | None, typer.Option("--knob", help="Knob range name=min:max when the dataset declares none (repeatable).")] = None,
) -> None:
    """Import a knob dataset (knob_type/knob_level or multi-knob 'knobs' entries) into a capture."""
    from panama.core.capture.knob_dataset import plan_import
    from panama.core.capture.store import CAPTURE_FILE, Capture
    from panama.core.commands.training import parse_knob_ranges

    existing = Capture.open(directory) if (directory / CAPTURE_FILE).exists() else None
    notes: list[str] = []
    input_path, _, rate, space, planned = plan_import(dataset, existing, channel=channel, ranges=parse_knob_ranges(knob), notes=notes)
    for note in notes:
        warning_line(note)
    # A dataset states its own rate (every file was checked against it): keep it.
    capture = existing or Capture.create(directory, labeler=labeler, knob_space=space, input_wav=input_path,
                                         channel=channel, sample_rate=rate)
    imported = skipped = 0
    with capture.lock():
        done = {e.get("imported_from") for e in capture.events() if e.get("event") == "labelled"}
        done |= {str(existing_label.path.resolve()) for existing_label in capture.labels()}
        for item in planned:
            if str(item.output_file) in done:
                skipped += 1
                continue
            capture.add_label(item.setting, item.y, source="import", imported_from=str(item.output_file), dataset_entry=item.written)
            imported += 1
    note = f", skipped {skipped} already imported" if skipped else ""
    out.print(f"imported {imported} label(s) into {directory}{note}; knobs {', '.join(space.names)}")


def export_dataset(
    directory: Annotated[Path, typer.Argument(help="The capture folder.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where to write (default DIR/exports/knob_dataset.json).")] = None,
) -> None:
    """Write the capture's labels as a knob dataset JSON (both the knob_type and 'knobs' forms)."""
    from panama.core.capture.knob_dataset import export
    from panama.core.capture.store import Capture

    capture = Capture.open(directory)
    target = output or capture.exports_dir / "knob_dataset.json"
    if not target.parent.exists():
        raise PanamaError(f"folder {target.parent} does not exist", "create it first or choose another path")
    with capture.lock():
        export(capture, target)
    out.print(f"wrote {target} ({len(capture.labels())} entries)")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("label")(label)
    app.command("import")(import_dataset)
    app.command("export-dataset")(export_dataset)
