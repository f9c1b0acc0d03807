"""``panama train``: from a capture directory, or from NAM-style JSON configs.

``panama train DIR --net wavenet --net-preset feather`` trains on every labelled setting of the
capture and writes ``DIR/models/model.pt`` (best checkpoint) and ``DIR/models/curves.json``.
``panama train data.json model.json learning.json OUTDIR`` reads NAM's three config files
(extended with knob settings per dataset entry) and writes the same two files into OUTDIR.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from panama.core.console import out
from panama.core.errors import PanamaError
from panama.core.fsutil import write_json_atomic


def _overrides(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _write_curves(path: Path, model: Any, extra: dict[str, Any]) -> None:
    payload = {"net": model.net_name, "net_options": model.net_options, "metrics": model.metrics,
               "history": model.history, **extra}
    write_json_atomic(path, payload)


def _summary(model: Any, where: Path) -> None:
    m = model.metrics
    esr = m.get("val_esr")
    start = m.get("initial_val_esr")
    out.print(f"[green]trained[/green] {model.net_name} in {m.get('train_seconds')} s, {m.get('steps')} steps; "
              f"validation ESR {start:.4g} → {esr:.4g} (best at step {m.get('best_step')}) → {where}")


def train(
    paths: Annotated[list[Path], typer.Argument(help="A capture DIR, or data.json model.json learning.json OUTDIR.", show_default=False)],
    net: Annotated[str | None, typer.Option(help="Net to train (capture mode): wavenet or lstm.")] = None,
    net_preset: Annotated[str | None, typer.Option("--net-preset", help="Net size preset: nano, feather, lite, standard.")] = None,
    steps: Annotated[int | None, typer.Option(help="Optimiser steps.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs (passes over the labelled audio).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Segments per batch.")] = None,
    segment_length: Annotated[int | None, typer.Option(help="Output samples per segment.")] = None,
    lr: Annotated[float | None, typer.Option(help="Adam learning rate.")] = None,
    loss: Annotated[str | None, typer.Option(help="mse, esr or mrstft.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads for torch.")] = None,
    trainer: Annotated[list[str] | None, typer.Option("--trainer", help="Lightning Trainer setting name=value, repeatable "
                                                      "(devices=2, accelerator=gpu, strategy=ddp, num_nodes=2, precision=bf16-mixed).")] = None,
    knob: Annotated[list[str] | None, typer.Option("--knob", help="Knob range name=min:max for configs that do not declare it (repeatable).")] = None,
    no_show: Annotated[bool, typer.Option("--no-show", "-ns", help="NAM's flag; PANAMA never opens plot windows (it writes PNGs).")] = False,
    no_plots: Annotated[bool, typer.Option("--no-plots", "-np", help="Don't write OUTDIR/comparison.png (config mode).")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
    resume: Annotated[bool, typer.Option("--continue", help="Capture mode: start from the capture's current model "
                                         "(same net and preset) instead of from scratch, e.g. to train a quick capture longer.")] = False,
    old_preset: Annotated[str | None, typer.Option("--preset", hidden=True)] = None,
) -> None:
    """Train a parametric model on a capture, or from NAM-style JSON configs (or a knob dataset JSON)."""
    from pydantic import ValidationError

    from panama.core.commands.aliases import renamed
    from panama.core.errors import format_validation_error
    from panama.core.train import Recipe, fit

    preset = renamed(net_preset, old_preset, new="--net-preset", old="--preset")

    overrides = _overrides(steps=steps, epochs=epochs, batch_size=batch_size, segment_length=segment_length,
                           lr=lr, loss=loss, seed=seed, num_threads=threads)
    trainer_settings = parse_trainer_options(trainer)
    if len(paths) == 4:
        from panama.core import nam_outdir
        from panama.core.console import warning_line
        from panama.core.train.nam_config import load_plan

        if net is not None or preset is not None or resume:
            raise PanamaError("--net/--net-preset/--continue apply to a capture directory",
                              "set the net in model.json; resume a config run with trainer_fit_kwargs.ckpt_path")
        plan = load_plan(*paths[:3], knob_ranges=parse_knob_ranges(knob))
        for note in plan.notes:
            warning_line(note)
        outdir = paths[3]
        base = plan.recipe.model_dump()
        base["trainer"] = {"default_root_dir": str(outdir), **base["trainer"], **trainer_settings}
        try:
            recipe = Recipe.model_validate({**base, **overrides})
        except ValidationError as exc:
            raise PanamaError("\n".join(format_validation_error(exc)), "fix the option") from None
        # no mkdir here: OUTDIR appears with the first file training writes, so a run refused
        # by Lightning (bad devices …) leaves nothing behind
        model = fit(plan.data, net=plan.net, net_options=plan.net_options, recipe=recipe, val=plan.val,
                    knob_space=plan.knob_space, progress=progress, checkpoint_path=outdir / "model.pt",
                    resume_from=plan.resume_from, lightning_checkpoint=outdir / nam_outdir.CHECKPOINT)
        _write_curves(outdir / "curves.json", model, {"recipe": recipe.model_dump(), "configs": [str(p) for p in paths[:3]]})
        nam_outdir.write_configs(outdir, plan.raw)
        settings = list(plan.data.settings) + list(plan.val.settings if plan.val is not None else [])
        nam_files = nam_outdir.write_nam_files(outdir, model, settings, warning_line)
        if not no_plots:
            nam_outdir.write_plot(outdir, model, plan.val if plan.val is not None else plan.data)
        _summary(model, outdir / "model.pt")
        out.print(f"{len(nam_files)} .nam file(s), checkpoint {nam_outdir.CHECKPOINT}" + ("" if no_plots else f", {nam_outdir.PLOT}")
                  + f" in {outdir}")
        return
    if len(paths) != 1:
        raise PanamaError(f"panama train takes 1 path (a capture) or 4 (data.json model.json learning.json OUTDIR), not {len(paths)}",
                          "see panama train --help")
    directory = paths[0]
    if not directory.is_dir():
        raise PanamaError(f"{directory} is not a capture directory", "create one with `panama run` or `panama new`")
    try:
        from panama.core.capture.store import Capture
    except ImportError:
        raise PanamaError("capture support is not installed", "install panama-core with the capture module") from None
    capture = Capture.open(directory)
    from panama.core.train.records import final_plan, record_model

    # the run's own net and recipe for its labels (its preset and capture.json), then the command line's
    final = final_plan(capture.config, labelled=len(capture.labels()), net=net,
                       net_options={"preset": preset} if preset else None, recipe=overrides)
    try:
        recipe = Recipe.model_validate(final.recipe)
    except ValidationError as exc:
        raise PanamaError("\n".join(format_validation_error(exc)), "fix the option") from None
    if trainer_settings:
        recipe = recipe.model_copy(update={"trainer": {**recipe.trainer, **trainer_settings}})
    # The writer lock for the whole fit: a `panama run` adding labels meanwhile would otherwise
    # be followed by a model.pt trained on fewer labels than its journal line claims.
    with capture.lock():
        start = None
        if resume:
            from panama.core.train.records import load_final_model

            start = load_final_model(capture)
        data = capture.dataset()
        models = capture.models_dir
        models.mkdir(parents=True, exist_ok=True)
        model = fit(data, net=final.net, net_options=final.net_options, recipe=recipe, knob_space=capture.knob_space,
                    progress=progress, checkpoint_path=models / "model.pt", init_from=start)
        where = record_model(capture, model, recipe)
    _summary(model, where)


def parse_trainer_options(items: list[str] | None) -> dict[str, Any]:
    """``--trainer devices=2 --trainer strategy=ddp`` → Lightning Trainer keyword arguments.

    One setting per flag, so a value may hold commas (``devices=[0,1]``); values are read as
    JSON where they parse (``2``, ``true``, ``[0, 1]``), else kept as text.
    """
    import json

    from panama.core.options import parse_pairs

    settings: dict[str, Any] = {}
    for key, text in parse_pairs(items, what="--trainer", example="--trainer devices=2", separators="").items():
        try:
            settings[key] = json.loads(text)
        except ValueError:
            settings[key] = text
    return settings


def parse_knob_ranges(items: list[str] | None) -> dict[str, tuple[float, float]] | None:
    """``--knob gain=0:10`` → ``{"gain": (0.0, 10.0)}``."""
    from panama.core.options import parse_pairs

    ranges: dict[str, tuple[float, float]] = {}
    for name, text in parse_pairs(items, what="--knob", example="--knob gain=0:10").items():
        try:
            lo, hi = (float(v) for v in text.split(":"))
        except ValueError:
            raise PanamaError(f"--knob {name}={text}: expected name=min:max", "e.g. --knob gain=0:10") from None
        ranges[name] = (lo, hi)
    return ranges or None


def register(app: typer.Typer) -> None:
    app.command("train")(train)
