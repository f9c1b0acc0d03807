"""``panama compare``: samplers at equal budgets on one device, error vs labelled settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from panama.core.console import out


def compare(
    outdir: Annotated[Path, typer.Argument(help="Folder for the runs and results (resumable).")],
    labeler: Annotated[str, typer.Option(help="Software label source: sim, vst:PATH, lv2:URI, pedalboard.")] = "sim",
    samplers: Annotated[str, typer.Option(help="Comma list of samplers to compare.")] = "random,lhs-corners,ensemble-disagreement",
    budget: Annotated[int, typer.Option(min=1, help="Labelled settings per run.")] = 16,
    seeds: Annotated[str, typer.Option(help="Number of seeds (e.g. 3) or a comma list of seeds.")] = "3",
    checkpoints: Annotated[str | None, typer.Option(help="Comma list of budgets to score, e.g. 8,16,32 (default: doubling up to the budget).")] = None,
    preset: Annotated[str, typer.Option(help="Run preset: tiny, quick, good, paper.")] = "quick",
    initial: Annotated[int | None, typer.Option(min=1, help="Initial space-filling settings of each run.")] = None,
    net: Annotated[str | None, typer.Option(help="Net name (default: the preset's).")] = None,
    net_preset: Annotated[str | None, typer.Option("--net-preset", help="Net size preset, e.g. nano.")] = None,
    eval_settings: Annotated[int, typer.Option("--eval-settings", min=1, help="Held-out random settings every model is scored on.")] = 64,
    eval_seed: Annotated[int, typer.Option("--eval-seed", help="Seed of the held-out settings.")] = 12345,
    checkpoint_mode: Annotated[str, typer.Option("--checkpoint-mode", help="auto, prefix (train on the first k labels) or rerun (a budget-k run).")] = "auto",
    labeler_option: Annotated[list[str] | None, typer.Option("--labeler-option", help="Label source option name=value, repeatable.")] = None,
    sampler_option: Annotated[list[str] | None, typer.Option("--sampler-option", help="SAMPLER:name=value,..., repeatable, e.g. ensemble-disagreement:excerpt_seconds=0.1.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Compare samplers: held-out error versus labelled settings (the paper's Table 1).

    Each sampler × seed runs as its own capture under OUTDIR/runs/ (re-running resumes and skips
    what is finished); every model is scored on the same held-out settings.
    """
    from panama.core.errors import PanamaError
    from panama.core.options import parse_pairs
    from panama.core.study.comparison import (
        PLOT_FILE,
        RESULTS_FILE,
        CompareSpec,
        parse_list,
        parse_sampler_options,
        parse_seeds,
        render_compare,
        run_compare,
    )

    if checkpoint_mode not in ("auto", "prefix", "rerun"):
        raise PanamaError(f"--checkpoint-mode {checkpoint_mode!r} is unknown", "choose auto, prefix or rerun")
    try:
        points = [int(k) for k in parse_list(checkpoints, "--checkpoints")] if checkpoints else []
    except ValueError:
        raise PanamaError(f"--checkpoints {checkpoints!r} is not a comma list of integers", "e.g. --checkpoints 8,16,32") from None
    spec = CompareSpec(
        labeler=labeler, labeler_options=parse_pairs(labeler_option, what="--labeler-option"), samplers=parse_list(samplers, "--samplers"),
        sampler_options=parse_sampler_options(sampler_option or []), budget=budget,
        seeds=parse_seeds(seeds), checkpoints=points, preset=preset, initial=initial, net=net,
        net_options={"preset": net_preset} if net_preset else {}, eval_settings=eval_settings,
        eval_seed=eval_seed, checkpoint_mode=checkpoint_mode,  # type: ignore[arg-type]
    )
    result = run_compare(
        outdir, spec, progress=not quiet,
        log=(lambda m: None) if quiet else (lambda m: out.print(f"[cyan]•[/cyan] {m}")),
    )
    render_compare(result.curve, out, title=f"{labeler}, {len(result.spec.seeds)} seed(s), "
                   f"{result.heldout['settings']} held-out settings: ")
    for warning in result.warnings:
        out.print(f"[yellow]warning:[/yellow] {warning}")
    out.print(f"written to {outdir / RESULTS_FILE} and {outdir / PLOT_FILE}")


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)
