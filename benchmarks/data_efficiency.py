"""Data efficiency on the built-in sim: does active learning need fewer settings?

Runs ``panama compare`` (random, lhs-corners, ensemble-disagreement; 3 seeds; the sim's 6
knobs) at CPU scale and writes a section to ``benchmarks/RESULTS.md``: held-out validation MSE
and ESR versus labelled settings, mean ± std over seeds, and the ratios the PANAMA claim is
about (ensemble-disagreement / random, ensemble-disagreement / lhs-corners at equal budget).
The goal: ensemble-disagreement at most half of random's MSE and below lhs-corners.
Each final model is also scored at the same held-out settings on a guitar DI that is in no
training signal (the validation segment's audio is in every run's signal; only its settings are
unheard).

    python benchmarks/data_efficiency.py                 # the full benchmark (~1 h, 2 cores)
    python benchmarks/data_efficiency.py --smoke         # minutes: checks that it all runs
    python benchmarks/data_efficiency.py --size quick --samplers sobol,random,ensemble-diverse-final --jobs 2
                                                         # the shipped quick preset at budget 16 (~1 h)

Resumable: the comparison lives in ``--outdir`` (default ``benchmarks/runs/data-efficiency``);
re-running skips finished runs and checkpoints. A smoke run writes its section next to its runs
(``OUTDIR/RESULTS.md``), never into benchmarks/RESULTS.md, unless ``--results`` says so.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from panama.core.capture.store import Capture
    from panama.core.study.comparison import CompareSpec, Heldout

HERE = Path(__file__).resolve().parent
SAMPLERS = ["random", "lhs", "lhs-corners", "ensemble-disagreement", "ensemble-diverse", "ensemble-diverse-mse"]
# Benchmark-only name for the shipped learner scored by raw variance (the paper's criterion, the
# expected squared error) instead of its default scale-free score: held-out MSE is what the
# targets are stated in, and the two scores trade MSE against ESR.
VARIANTS = {"ensemble-diverse-mse": ("panama.acquisition.diverse:EnsembleDiverseSampler", {"score": "variance"}),
            # between the two: variance / energy**0.5, the weight the training loss gives a setting
            "ensemble-diverse-w05": ("panama.acquisition.diverse:EnsembleDiverseSampler", {"score_power": 0.5})}


def _final_committee() -> dict:
    """ensemble-diverse whose committee is the quick preset's final recipe, two nets trained apart
    (score_quality.py on sim16sobol: its disagreement ranks the final model's held-out errors with
    rho +0.54 and top-quarter lift 1.96, the round ensemble's with +0.35 and 2.14 but leaning to
    quiet settings, rho -0.69 against level); no bootstrap, so each net sees every label, as the
    final model does."""
    from panama.core.presets import get_preset

    final = {k: v for k, v in get_preset("quick").final.items() if k != "average"}
    return {"members": 2, "bootstrap": False, "fit_options": {**final, "val_every": final["steps"]}}


VARIANTS["ensemble-diverse-final"] = ("panama.acquisition.diverse:EnsembleDiverseSampler", _final_committee())
# level-coverage the other way round: the quiet settings first (energy**-0.5), where a model's ESR
# is highest
VARIANTS["level-coverage-quiet"] = ("panama.acquisition.maximin:LevelCoverageSampler", {"power": -0.5})
# and further the loud way (energy**1): held-out MSE is the loud settings' error, and a weighted
# mean distance to the nearest label is least with the density rising with the weight
VARIANTS["level-coverage-loud"] = ("panama.acquisition.maximin:LevelCoverageSampler", {"power": 1.0})
# the batch leans to settings far from the labels and earlier picks: criterion × distance**p
VARIANTS["ensemble-diverse-spread"] = ("panama.acquisition.diverse:EnsembleDiverseSampler", {"distance_power": 1.0})
VARIANTS["ensemble-diverse-spread2"] = ("panama.acquisition.diverse:EnsembleDiverseSampler", {"distance_power": 2.0})
# the disagreement its label would remove from its neighbourhood (kernel covariance, integrated over
# a uniform pool, exact conditioning on each pick)
VARIANTS["ensemble-diverse-ivr"] = ("panama.acquisition.diverse:EnsembleDiverseSampler",
                                    {"kernel_length": 0.5, "criterion": "integrated", "condition": 1.0, "pool": 256})
# the same on raw variance, the expected squared error: held-out MSE follows the output level
# (Spearman 0.94 over the 64 held-out settings; the loudest 8 hold two thirds of it)
VARIANTS["ensemble-diverse-ivr-var"] = ("panama.acquisition.diverse:EnsembleDiverseSampler",
                                        {**VARIANTS["ensemble-diverse-ivr"][1], "score": "variance"})
# never trusts its members (competence_esr below any ESR): every round is the sampler's own
# space-filling continuation, the Sobol pool point farthest from everything labelled (maximin);
# the distance to the nearest label ranks a 16-setting model's held-out errors better (Spearman
# 0.45-0.62 on the quick size's Sobol runs) than the round ensemble's disagreement does (0.35)
VARIANTS["ensemble-diverse-maximin"] = ("panama.acquisition.diverse:EnsembleDiverseSampler", {"competence_esr": 1e-9})


def device_slug(labeler: str) -> str:
    """A short name for a label source spec (``sim``; ``gx-studiopre`` for
    ``lv2:…/plugins/gx_studiopre#studiopre``, the last path segment before any ``#``): each
    device has its own section in RESULTS.md and its own runs folder."""
    import re

    tail = labeler.split(":", 1)[-1].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"[^a-z0-9]+", "-", tail.lower()).strip("-") or "device"


def markers(labeler: str, size: str = "full") -> tuple[str, str]:
    """This device's and size's section markers (the sim at the full size keeps the section's
    first, unnamed markers)."""
    name = ("" if labeler == "sim" else f":{device_slug(labeler)}") + ("" if size in ("full", "smoke") else f":{size}")
    return f"<!-- data-efficiency{name}:start -->", f"<!-- data-efficiency{name}:end -->"


def repo_relative(path: Path) -> str:
    """``path`` relative to the repository (RESULTS.md holds no machine's absolute paths)."""
    try:
        return str(path.resolve().relative_to(HERE.parent))
    except ValueError:
        return path.name

# The benchmark's own run preset, registered at run time (the shipped presets are for users).
# Measured here on one thread of a loaded 2-core machine (nano WaveNet with the matmul fast
# path, quick signal, 8 labels): a final training ≈ 5 s + 0.08 s/step, an ensemble of 4 ≈
# 0.3 s/step, a knob search of 100 steps on 0.1 s excerpts under a minute. Validation is capped
# at 2 s of audio: on the whole 20 s input it dominates short trainings. With budget 32, 8
# points per round and checkpoints 8/16/32, one seed of the three samplers is 9 final trainings,
# 3 ensembles and 3 searches ≈ 17 min on one thread, so 3 seeds ≈ 50 min (less on 2 threads).
# ensemble-disagreement with the paper's restarts and learning rate, but each search step on a
# 0.1 s excerpt (the sampler's own option) and 100 steps instead of 250 over the whole input:
# at the paper's settings one round's search alone takes many minutes on a CPU.
ED_OPTIONS = {"excerpt_seconds": 0.1, "steps": 100}
BENCH_PRESET = {
    "signal": "quick",
    # the shipped CPU presets' net family (FiLM from a 32-unit knob embedding, dilations to 256)
    # at nano's width, and their level-weighted loss
    "net_options": {"preset": "nano", "conditioning": "film", "knob_hidden": 32, "max_dilation": 256},
    "budget": 32,
    "initial": 8,
    "per_round": 8,
    "members": 4,
    "ensemble": {"steps": 300, "batch_size": 8, "segment_length": 4096, "lr": 4e-3, "lr_schedule": "cosine",
                 "warmup_steps": 20, "val_every": 300, "val_seconds": 1.0, "level_weight": 0.5},
    "final": {"steps": 800, "batch_size": 8, "segment_length": 8192, "lr": 8e-3, "lr_schedule": "cosine",
              "warmup_steps": 50, "val_fraction": 0.0, "val_every": 400, "val_seconds": 2.0, "level_weight": 0.5},
    "sampler_options": {"ensemble-disagreement": ED_OPTIONS,
                        **{name: options for name, (_, options) in VARIANTS.items()}},
}
SIZES = {
    "full": {"preset": "cpu-bench", "budget": 32, "checkpoints": [8, 16, 32], "seeds": 3, "eval_settings": 64,
             "initial": 8},
    # the README's main job: the shipped quick preset (its final recipe and rounds of 4) at budget 16
    "quick": {"preset": "cpu-bench-quick", "budget": 16, "checkpoints": [16], "seeds": 3, "eval_settings": 64,
              "initial": 8},
    "smoke": {"preset": "tiny", "budget": 6, "checkpoints": [4, 6], "seeds": 1, "eval_settings": 6,
              "initial": 4},
}


def register_bench_preset() -> None:
    """The benchmark's run preset and sampler variants, registered in this process only."""
    from panama.core.plugins import Component, get_registry
    from panama.core.presets import RUN_PRESETS, RunPreset

    RUN_PRESETS.setdefault("cpu-bench", RunPreset(**BENCH_PRESET))
    quick = RUN_PRESETS["quick"]
    RUN_PRESETS.setdefault("cpu-bench-quick", quick.model_copy(update={"sampler_options": {
        **quick.sampler_options, **{name: options for name, (_, options) in VARIANTS.items()}}}))
    registry = get_registry()
    for name, (target, options) in VARIANTS.items():
        if name not in registry.names("sampler"):
            registry.add(Component("sampler", name, target, f"benchmark variant: {options}", "benchmarks", "", "benchmarks"))


def fmt(value: float) -> str:
    return f"{value:.3g}"


LEARNERS = ("ensemble-disagreement", "ensemble-diverse", "ensemble-diverse-mse", "ensemble-diverse-w05",
            "ensemble-diverse-final", "ensemble-diverse-spread", "ensemble-diverse-spread2", "ensemble-diverse-ivr",
            "ensemble-diverse-ivr-var", "ensemble-diverse-maximin")


def run_minutes(outdir: Path, sampler: str, seeds: list[int]) -> float | None:
    """Mean wall minutes of the budget run (its journal's first to last event), over seeds."""
    from panama.core.capture.store import Capture
    from panama.core.study.comparison import run_directory

    spans = []
    for seed in seeds:
        directory = run_directory(outdir, sampler, seed)
        if not Capture.exists(directory):
            continue
        times = [datetime.fromisoformat(e["time"]) for e in Capture.open(directory).events() if "time" in e]
        if len(times) > 1:
            spans.append((max(times) - min(times)).total_seconds() / 60)
    return sum(spans) / len(spans) if spans else None


def _checkpoint_note(result) -> str:
    """How each sampler's checkpoints below the budget were made, from the modes the results record."""
    below = [r for r in result.results if r.k < result.spec.budget]
    if not below:
        return ""
    how = {"prefix": "(nested designs: the first k labels are what a budget-k run picks) train the final "
                     "recipe on their first k labels",
           "rerun": "re-run with budget k (the design depends on the budget)"}
    parts = [f"{', '.join(names)} {phrase}" for mode, phrase in how.items()
             if (names := sorted({r.sampler for r in below if r.mode == mode}))]
    return " Checkpoints below the budget: " + "; ".join(parts) + "."


def section(result, size: str, seconds: float, outdir: Path, command: str = "",
            floors: dict[str, dict[str, float]] | None = None,
            di: dict[str, list[dict[str, float]]] | None = None) -> str:
    """The Markdown section: configuration, the table, ratios, and the verdict on the goal."""
    from panama.core.study.comparison import ratios

    spec = result.spec
    curve = result.curve
    samplers = list(dict.fromkeys(p.sampler for p in curve))
    ks = sorted({p.k for p in curve})
    at = {(p.sampler, p.k): p for p in curve}
    start, end = markers(spec.labeler, size)
    base = size.rstrip("0123456789")  # "quick32": the quick size at a budget of its own
    lines = [
        start,
        f"## Data efficiency: samplers on `{spec.labeler}` ({base}{f', budget {size[len(base):]}' if size != base else ''})",
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} cores, wall time {seconds / 60:.1f} min (of this invocation; a resumed "
        "run counts only what it did). Command: "
        f"`python benchmarks/data_efficiency.py{' --smoke' if size == 'smoke' else ''}"
        f"{f' --size {base}' if size not in ('full', 'smoke') else ''}{command}`.",
        "",
        f"Labeler `{spec.labeler}`, run preset `{spec.preset}` "
        f"({_preset_note(spec.preset)}), budget {spec.budget}, "
        f"initial design {spec.initial}, seeds {spec.seeds}; every model is scored on the same "
        f"{result.heldout['settings']} held-out uniform random settings, on "
        f"{result.heldout['audio']}.{_checkpoint_note(result)}",
        "",
        f"ensemble-disagreement options (from the run preset): {_ed_options(spec.preset)}.",
        "",
        "Seeds finished at the budget: " + ", ".join(
            f"{name} {next((p.seeds for p in curve if p.sampler == name and p.k == spec.budget), 0)}" for name in samplers)
        + " (a sampler with fewer seeds than asked for was cut short for time).",
        "",
        "Held-out validation MSE, mean ± std over seeds (lower is better):",
        "",
        "| labelled | " + " | ".join(samplers) + " |",
        "|---:|" + "---:|" * len(samplers),
    ]
    for k in ks:
        cells = [f"{fmt(at[(s, k)].mse_mean)} ± {fmt(at[(s, k)].mse_std)}" if (s, k) in at else "—" for s in samplers]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    lines += ["", "Held-out ESR, mean ± std over seeds:", "",
              "| labelled | " + " | ".join(samplers) + " |", "|---:|" + "---:|" * len(samplers)]
    for k in ks:
        cells = [f"{fmt(at[(s, k)].esr_mean)} ± {fmt(at[(s, k)].esr_std)}" if (s, k) in at else "—" for s in samplers]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")

    medians: dict[tuple[str, int], list[float]] = {}
    for r in result.results:
        medians.setdefault((r.sampler, r.k), []).append(r.esr_median)
    lines += ["", "Held-out median ESR (per run, then the mean over seeds):", "",
              "| labelled | " + " | ".join(samplers) + " |", "|---:|" + "---:|" * len(samplers)]
    for k in ks:
        cells = [fmt(sum(medians[(s, k)]) / len(medians[(s, k)])) if (s, k) in medians else "—" for s in samplers]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    final = spec.budget
    if floors:
        lines += ["", f"At {final} settings: the final model on its own training settings (the validation segment of its own "
                  "input; the room a sampler has is held-out / training-settings ESR), and the wall minutes of a budget run "
                  "(journal, first to last event; parts ran side by side, one thread each):", "",
                  "| sampler | training-settings MSE | training-settings median ESR | held-out / training median ESR | run minutes |",
                  "|---|---:|---:|---:|---:|"]
        for sm in samplers:
            if sm in floors:
                f = floors[sm]
                held = medians.get((sm, final))
                gap = f"{(sum(held) / len(held)) / f['esr_median']:.2f}" if held and f["esr_median"] > 0 else "—"
                minutes = run_minutes(outdir, sm, list(spec.seeds))
                lines.append(f"| {sm} | {fmt(f['mse'])} | {fmt(f['esr_median'])} | {gap} | "
                             f"{'—' if minutes is None else f'{minutes:.1f}'} |")
    lines += di_lines(di or {}, final)
    verdict = []
    goals = {"random": 0.5, "lhs-corners": 0.8, "sobol": None}  # sobol: the quick preset's shipped sampler
    for ed in LEARNERS:
        parts = []
        for reference, goal in goals.items():
            if (ed, final) in at and (reference, final) in at:
                value = ratios(curve, reference)[ed][final]
                parts.append(f"{ed} / {reference} MSE = **{value:.2f}**"
                             + (f" (goal ≤ {goal}: {'met' if value <= goal else 'not met'})" if goal else ""))
        if parts:
            verdict += ["", f"At {final} settings, " + "; ".join(parts) + "."]
    lines += verdict
    if result.warnings:
        lines += ["", "Warnings: " + "; ".join(result.warnings)]
    lines += ["", f"Plot and per-run results: `{repo_relative(outdir)}/results.png`, `results.json`.", end, ""]
    return "\n".join(lines)


def _ed_options(preset: str) -> dict:
    from panama.core.presets import get_preset

    return dict(get_preset(preset).sampler_options.get("ensemble-disagreement", {}))


def _preset_note(preset: str) -> str:
    if preset == "cpu-bench":
        return "defined in the script: " + _preset_text()
    if preset == "cpu-bench-quick":
        return "the shipped quick preset, plus the benchmark's sampler variants"
    return "shipped"


def _preset_text() -> str:
    p = BENCH_PRESET
    return (f"nano FiLM WaveNet, quick signal, {p['per_round']} points per round, ensembles of {p['members']} × "
            f"{p['ensemble']['steps']} steps, final {p['final']['steps']} steps, batch {p['final']['batch_size']} × "
            f"{p['final']['segment_length']}")


# Relative cost of one run per sampler on this preset (ensembles and searches), for --jobs.
COST = {"ensemble-disagreement": 3.0, "ensemble-diverse": 2.0, "ensemble-diverse-mse": 2.0, "ensemble-diverse-w05": 2.0,
        "ensemble-diverse-final": 3.0, "ensemble-diverse-spread": 2.0, "ensemble-diverse-spread2": 2.0,
        "ensemble-diverse-ivr": 2.0, "ensemble-diverse-ivr-var": 2.0, "ensemble-diverse-maximin": 1.5}


def partition(samplers: list[str], jobs: int) -> list[list[str]]:
    """Samplers in ``jobs`` groups of about equal cost (largest first, each to the lightest group)."""
    groups: list[list[str]] = [[] for _ in range(min(jobs, len(samplers)))]
    load = [0.0] * len(groups)
    for name in sorted(samplers, key=lambda s: -COST.get(s, 1.0)):
        i = load.index(min(load))
        groups[i].append(name)
        load[i] += COST.get(name, 1.0)
    return groups


def run_parts(args: argparse.Namespace, outdir: Path, samplers: list[str], jobs: int) -> None:
    """Run each group of samplers in its own process (one thread) and folder, then link their runs
    into ``outdir`` so that the in-process comparison finds every run and checkpoint finished.
    Resumable like a single process: each part resumes in its own folder."""
    import subprocess

    same = [f"--{name}={value}" for name, value in (("labeler", args.labeler), ("budget", args.budget),
                                                    ("checkpoints", args.checkpoints), ("seeds", args.seeds))
            if value is not None] + [f"--labeler-option={item}" for item in args.labeler_option] + (
                ["--smoke"] if args.smoke else ["--size", args.size])
    (outdir / "parts").mkdir(parents=True, exist_ok=True)
    parts = []
    for i, group in enumerate(partition(samplers, jobs)):
        folder = outdir / "parts" / str(i)
        cmd = [sys.executable, str(Path(__file__).resolve()), *same, "--samplers", ",".join(group),
               "--outdir", str(folder), "--threads", "1", "--results", str(folder / "RESULTS.md")]
        with open(outdir / "parts" / f"{i}.log", "a") as log:
            parts.append((folder, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)))
    failed = [str(folder) for folder, proc in parts if proc.wait() != 0]
    if failed:
        raise SystemExit(f"part(s) failed: {', '.join(failed)}; see {outdir / 'parts'}/*.log, then run again to resume")
    merge_parts(outdir)


def merge_parts(outdir: Path) -> None:
    """Hard-link every part's runs (``OUTDIR/parts/*/runs/*``) and the held-out set into ``outdir``.

    A part's run is linked afresh each time: one merged while its part was still running would
    otherwise keep the files it had then (atomic writes replace files, so old links go stale)."""
    import shutil

    (outdir / "runs").mkdir(parents=True, exist_ok=True)
    for folder in sorted((outdir / "parts").glob("*/")) if (outdir / "parts").is_dir() else []:
        if not (outdir / "heldout.npz").exists() and (folder / "heldout.npz").exists():
            shutil.copy2(folder / "heldout.npz", outdir / "heldout.npz")
        for run in (folder / "runs").iterdir() if (folder / "runs").is_dir() else []:
            merged = outdir / "runs" / run.name
            if merged.exists():
                shutil.rmtree(merged)
            shutil.copytree(run, merged, copy_function=os.link)


def finished_runs(outdir: Path, sampler: str) -> list[tuple[Path, dict]]:
    """``sampler``'s runs at the comparison's budget (not the ``-n<k>`` re-runs for a checkpoint),
    each with its last checkpoint's scores (``result`` and the per-setting ``mse`` and ``esr`` on
    the held-out settings), in seed order; a run with no checkpoint yet is left out."""
    import json

    found = []
    for run in sorted((outdir / "runs").glob(f"{sampler}-seed*")):
        checkpoints = sorted((run / "checkpoints").glob("k*.json"))
        if "-n" not in run.name.split("seed", 1)[1] and checkpoints:
            found.append((run, json.loads(checkpoints[-1].read_text())))
    return found


def budget_captures(outdir: Path, sampler: str, seeds: list[int], budget: int) -> Iterator[Capture]:
    """``sampler``'s runs scored at ``budget`` (a run not started or not finished is left out),
    opened, in seed order."""
    from panama.core.capture.store import Capture
    from panama.core.study.comparison import run_directory

    for seed in seeds:
        directory = run_directory(outdir, sampler, seed)
        if (directory / "checkpoints" / f"k{budget:04d}.json").exists():
            yield Capture.open(directory)


def fit_floor(outdir: Path, samplers: list[str], seeds: list[int], budget: int) -> dict[str, dict[str, float]]:
    """Per sampler, means over seeds of the final model's error on the settings it was trained
    on (mean MSE, median ESR), scored on the validation segment of that run's own input (each
    seed's signal is its own, so the labels' recordings are of that one).

    Where a net underfits, no choice of settings brings held-out error much below what it reaches
    on its own training settings: held-out / training-settings ESR is the room a sampler has.
    (MSE is compared less well: it depends on how loud the chosen settings are.)"""
    import numpy as np

    from panama.core.study.heldout import capture_audio, recorded_targets, score_settings
    from panama.core.train.records import load_final_model

    floors: dict[str, dict[str, float]] = {}
    for sampler in samplers:
        values: list[tuple[float, float]] = []
        for capture in budget_captures(outdir, sampler, seeds, budget):
            audio = capture_audio(capture)
            settings, targets = recorded_targets(capture, audio, capture.labels())
            scores = score_settings(load_final_model(capture).predict, targets, audio, settings, capture.knob_space)
            values.append((float(np.mean([s.mse for s in scores])), float(np.median([s.esr for s in scores]))))
        if values:
            floors[sampler] = {"mse": float(np.mean([v[0] for v in values])),
                               "esr_median": float(np.mean([v[1] for v in values]))}
    return floors


# A guitar DI in no training signal: the signal module's synthetic guitar (notes, power chords,
# chords, palm mutes, a crescendo) drawn with a seed of its own, so none of its notes is in any
# run's reamp signal. The held-out settings' validation segment is unheard *settings* only: its
# audio is in every training signal (at the labelled settings), so it cannot tell whether a
# net generalises to new playing. Played from rest and scored whole, like `panama evaluate --audio`.
DI_SECONDS = 6.0
DI_SEED = 20261207
DI_FILE = "heldout-di.npz"


def di_heldout(outdir: Path, spec: CompareSpec) -> Heldout:
    """The comparison's held-out settings labelled on the DI (cached in ``OUTDIR/heldout-di.npz``)."""
    import numpy as np

    from panama.core.signal import guitar
    from panama.core.study.comparison import HELDOUT_FILE, Heldout
    from panama.core.study.heldout import device_targets, file_audio

    path = outdir / DI_FILE
    if path.exists():
        return Heldout.load(path)
    base = Heldout.load(outdir / HELDOUT_FILE)
    rate = base.audio.sample_rate
    x = guitar(DI_SECONDS, rate, np.random.default_rng(DI_SEED)).astype(np.float32)
    audio = file_audio(x, rate, "a synthetic guitar DI in no training signal")
    targets = device_targets(spec.labeler, spec.labeler_options, audio, base.settings, need_deterministic=True)
    heldout = Heldout(base.settings, audio, targets)
    heldout.save(path)
    return heldout


def di_scores(outdir: Path, spec: CompareSpec, samplers: list[str]) -> dict[str, list[dict[str, float]]]:
    """Per sampler, each finished seed's final model at the budget scored on the DI (``mse``, the
    mean over settings; ``esr_median``; ``esr_mean``), in seed order. Cached per run in
    ``RUN/di/kNNNN.json`` with the model's path, so a retrained run is scored again."""
    import json

    from panama.core.fsutil import write_json_atomic
    from panama.core.study.heldout import capture_root, summarise
    from panama.core.train.records import last_model_event, load_final_model

    heldout: Heldout | None = None
    found: dict[str, list[dict[str, float]]] = {}
    for sampler in samplers:
        for capture in budget_captures(outdir, sampler, list(spec.seeds), spec.budget):
            model_path = str((last_model_event(capture) or {}).get("path", ""))
            cache = capture_root(capture) / "di" / f"k{spec.budget:04d}.json"
            cached = json.loads(cache.read_text()) if cache.exists() else {}
            if cached.get("model") != model_path:
                heldout = heldout or di_heldout(outdir, spec)
                summary = summarise(heldout.score(load_final_model(capture).predict, capture.knob_space))
                cached = {"model": model_path, "mse": summary.mse.mean, "esr_median": summary.esr.median,
                          "esr_mean": summary.esr.mean}
                cache.parent.mkdir(exist_ok=True)
                write_json_atomic(cache, cached, allow_nan=False)
            found.setdefault(sampler, []).append({k: cached[k] for k in ("mse", "esr_median", "esr_mean")})
    return found


def di_lines(scores: dict[str, list[dict[str, float]]], budget: int) -> list[str]:
    """The section's DI table: means over seeds, MSE also as a ratio to random's."""
    if not scores:
        return []

    def mean(sampler: str, key: str) -> float:
        return sum(s[key] for s in scores[sampler]) / len(scores[sampler])

    random_mse = mean("random", "mse") if "random" in scores else None
    lines = ["", f"At {budget} settings, the same held-out settings on a guitar DI in no training signal "
             f"({DI_SECONDS:g} s of the signal module's synthetic guitar, seed {DI_SEED}; played from rest, scored "
             "whole), means over seeds:", "",
             "| sampler | seeds | DI MSE | MSE × random | DI median ESR | DI mean ESR |", "|---|---:|---:|---:|---:|---:|"]
    for sampler in scores:
        ratio = "—" if random_mse is None else f"{mean(sampler, 'mse') / random_mse:.2f}"
        lines.append(f"| {sampler} | {len(scores[sampler])} | {fmt(mean(sampler, 'mse'))} | {ratio} | "
                     f"{fmt(mean(sampler, 'esr_median'))} | {fmt(mean(sampler, 'esr_mean'))} |")
    return lines


def write_section(path: Path, text: str, labeler: str = "sim", size: str = "full") -> None:
    """Replace this device's section in ``path`` (or append it), keeping everything else."""
    sys.path.insert(0, str(HERE))
    from results_md import replace_section

    replace_section(path, text, *markers(labeler, size))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: only shows that everything runs")
    parser.add_argument("--size", choices=["full", "quick"], default="full",
                        help="full: the script's nano preset at budget 32; quick: the shipped quick preset at budget 16")
    parser.add_argument("--outdir", type=Path, default=None, help="comparison folder (resumable)")
    parser.add_argument("--results", type=Path, default=None, help="Markdown file to write the section into")
    parser.add_argument("--threads", type=int, default=2, help="torch/BLAS threads")
    parser.add_argument("--labeler", default="sim", help="label source spec (sim, lv2:URI, vst:PATH)")
    parser.add_argument("--labeler-option", action="append", default=[], metavar="NAME=VALUE",
                        help="a label source option, repeatable (lists use ;, e.g. knobs=PreGain;Drive for an LV2 amp)")
    parser.add_argument("--samplers", default=",".join(SAMPLERS), help="comma list")
    parser.add_argument("--budget", type=int, default=None, help="override the size's budget")
    parser.add_argument("--checkpoints", default=None, help="comma list of checkpoints (override)")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (override)")
    parser.add_argument("--collect", action="store_true",
                        help="run nothing: write the section from the runs and checkpoints already under OUTDIR "
                             "(and OUTDIR/parts/*); a sampler and seed not finished is left out")
    parser.add_argument("--jobs", type=int, default=1,
                        help="run the samplers in this many processes (one thread each), then merge")
    args = parser.parse_args(argv)

    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))
    size = "smoke" if args.smoke else args.size
    cfg = SIZES[size]
    device = "" if args.labeler == "sim" else f"-{device_slug(args.labeler)}"
    outdir = args.outdir or HERE / "runs" / f"data-efficiency{device}{'' if size == 'full' else '-' + size}"
    results = args.results or (outdir / "RESULTS.md" if args.smoke else HERE / "RESULTS.md")

    import torch

    torch.set_num_threads(args.threads)
    from panama.core.console import out
    from panama.core.options import parse_pairs
    from panama.core.study.comparison import CompareSpec, render_compare, run_compare

    register_bench_preset()

    command = "".join(f" --{k} {v}" for k, v in (("labeler", args.labeler if args.labeler != "sim" else None),
                                                   ("samplers", args.samplers if args.samplers != ",".join(SAMPLERS) else None),
                                                   ("budget", args.budget), ("checkpoints", args.checkpoints),
                                                   ("seeds", args.seeds)) if v is not None)
    command += "".join(f" --labeler-option '{item}'" for item in args.labeler_option)
    spec = CompareSpec(
        labeler=args.labeler, labeler_options=parse_pairs(args.labeler_option, what="--labeler-option"),
        samplers=args.samplers.split(","), budget=args.budget or cfg["budget"],
        seeds=list(range(args.seeds or cfg["seeds"])),
        checkpoints=[int(k) for k in args.checkpoints.split(",")] if args.checkpoints else cfg["checkpoints"],
        preset=cfg["preset"], initial=cfg["initial"], eval_settings=cfg["eval_settings"],
    )
    started = time.perf_counter()
    if args.collect:
        from panama.core.study.comparison import HELDOUT_FILE, Heldout, collect

        merge_parts(outdir)
        result = collect(outdir, spec, Heldout.load(outdir / HELDOUT_FILE))
    else:
        if args.jobs > 1:
            run_parts(args, outdir, spec.samplers, args.jobs)
        result = run_compare(outdir, spec, progress=False, log=lambda m: out.print(f"[cyan]•[/cyan] {m}"))
    seconds = time.perf_counter() - started
    render_compare(result.curve, out)
    floors = fit_floor(outdir, spec.samplers, list(spec.seeds), spec.budget)
    # a budget other than the size's own gets a section of its own (e.g. quick32 beside quick)
    tag = size if spec.budget == cfg["budget"] else f"{size}{spec.budget}"
    di = di_scores(outdir, spec, spec.samplers)
    write_section(results, section(result, tag, seconds, outdir, command, floors, di), spec.labeler, tag)
    out.print(f"{seconds / 60:.1f} min; section written to {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
