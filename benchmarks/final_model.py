"""Variants of a finished run's final model, trained on the same labels and scored on the same
held-out settings.

With a budget's labels fixed, the final model is what a capture is worth. This benchmark retrains
it on finished ``benchmarks/data_efficiency.py`` runs, one variant at a time, for every seed of a
sampler, so a recipe is judged on several designs at no labelling cost:

- ``own``        the run's own final model, as the comparison scored it (nothing trained),
- ``scratch``    the run's final recipe again, from a fresh initialisation,
- ``warm``       from the last round's member with the lowest validation ESR (issue 10's
  "warm starts"), ``warm-half`` the same with half the steps, ``warm-sp`` from shrink and
  perturb of that member (0.8 × member + 0.1 × fresh, as the shipped learner's rounds start),
- recipe variants (``RECIPES``): the run's final recipe with some fields changed, e.g. more
  nets in the average for fewer steps each.

Each is scored on the comparison's held-out settings: held-out MSE, median, p90 and mean ESR,
the CPU and wall seconds of the training.

    python benchmarks/final_model.py benchmarks/runs/data-efficiency-quick --sampler maximin \\
        --variants own,avg4-1600 --threads 2

``--labels K`` trains the fresh variants on each run's first K labels instead (a sequential
design's first K picks are the design it would have made with budget K), with the recipe the
preset gives K settings.

Run it alone for the seconds; the errors do not depend on the load.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MARK_START = "<!-- final-model:start -->"
MARK_END = "<!-- final-model:end -->"
WARM = ("warm", "warm-half", "warm-sp")
# recipe variants: fields of the run's final recipe replaced (the quick preset's is the mean of
# two nets, 3200 steps each)
RECIPES: dict[str, dict] = {
    "avg4-1600": {"average": 4, "steps": 1600},
    "avg4-2400": {"average": 4, "steps": 2400},
    "avg3-2200": {"average": 3, "steps": 2200},
    "wd1e-4": {"optimizer": {"weight_decay": 1e-4}},
    # each training segment also weighed by its setting's energy over its own (segment_weight)
    "seg1": {"segment_weight": 1.0},
    "seg05": {"segment_weight": 0.5},
    "seg0": {"segment_weight": 0.0},
    # and the loss's per-setting weight closer to a per-setting ESR (level_weight 0.75, from 0.5)
    "seg05-lw075": {"segment_weight": 0.5, "level_weight": 0.75},
}
VARIANTS = ("own", "scratch", *WARM, *RECIPES)


def best_member(run: Path, capture):
    """The last round's member with the lowest validation ESR, in the capture's knob space."""
    from panama.core.train import TrainedEnsemble

    rounds = sorted((run / "rounds").glob("*/ensemble.pt"))
    if not rounds:
        return None
    ensemble = TrainedEnsemble.load(rounds[-1])
    esr = ensemble.metrics.get("val_esr_pooled") or ensemble.metrics.get("val_esr")
    member = ensemble.member(int(np.nanargmin(np.asarray(esr, dtype=float))))
    member.knob_space = capture.knob_space  # ensembles saved before the fix carry placeholder names
    return member


def train_variant(variant: str, capture, member, labels: int | None = None):
    """``variant`` trained on the capture's labels (its first ``labels`` of them where given), with
    the final recipe the capture's preset gives that many."""
    from panama.core import train
    from panama.core.study.comparison import first_labels
    from panama.core.train import engine, warm
    from panama.core.train.model import TrainedModel, build_net
    from panama.core.train.records import final_plan

    data = capture.dataset()
    data = first_labels(data, labels) if labels else data
    plan = final_plan(capture.config, labelled=data.y.shape[0])
    recipe = {**plan.recipe, **RECIPES.get(variant, {})}
    start = member if variant in WARM else None
    if variant == "warm-half":
        recipe["steps"] = max(1, recipe["steps"] // 2)
    if variant == "warm-sp":
        options = {**plan.net_options, "num_knobs": len(capture.knob_space)}
        fresh = build_net(plan.net, options, seeds=engine.member_seeds(recipe["seed"], 1))
        warm.shrink_and_perturb(fresh, member.net.state_dict(), 0.8, 0.1)
        start = TrainedModel(fresh, capture.knob_space, member.sample_rate, plan.net, options, {})
    began, wall = time.process_time(), time.perf_counter()
    model = train.fit(data, net=plan.net, net_options=plan.net_options, recipe=train.Recipe(**recipe),
                      knob_space=capture.knob_space, progress=False, init_from=start)
    return model, time.process_time() - began, time.perf_counter() - wall, recipe["steps"]


def tag(variant: str, labels: int | None) -> str:
    """A variant's name in the cache: ``seg05@24`` when trained on a run's first 24 labels."""
    return f"{variant}@{labels}" if labels else variant


def own_row(scored: dict) -> dict:
    """The run's own final model as the comparison scored it (its last checkpoint's scores)."""
    esr = np.asarray(scored["esr"], dtype=float)
    return {"mse": float(np.mean(scored["mse"])), "esr_median": float(np.median(esr)), "esr_p90": float(np.percentile(esr, 90)),
            "esr_mean": float(np.mean(esr)), "cpu_s": float("nan"), "wall_s": float("nan"), "steps": float("nan")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path, help="a benchmarks/data_efficiency.py folder with finished runs")
    parser.add_argument("--sampler", default="ensemble-diverse")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--labels", type=int, help="train on each run's first LABELS labels (not with own or warm starts)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for training (an average of nets uses more)")
    parser.add_argument("--results", action="store_true", help="write the section of benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.variants.split(",")) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    if args.labels is not None and args.labels < 1:
        parser.error(f"--labels {args.labels}: give the number of labels to train on, 1 or more")
    if args.labels and set(args.variants.split(",")) & {"own", *WARM}:
        parser.error("--labels trains fresh variants only (own and the warm starts belong to the run's last labels)")

    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(HERE))
    import data_efficiency

    data_efficiency.register_bench_preset()
    data_efficiency.merge_parts(args.outdir)
    from panama.core.capture.store import Capture
    from panama.core.fsutil import write_json_atomic
    from panama.core.study.comparison import HELDOUT_FILE, Heldout

    heldout = Heldout.load(args.outdir / HELDOUT_FILE)
    cache = args.outdir / "final-model.json"
    # this benchmark's cache from before it tried recipes, under its old name
    previous = next((path for path in (cache, args.outdir / "final-warm-start.json") if path.exists()), None)
    rows = json.loads(previous.read_text()) if previous else {}
    for run, scored in data_efficiency.finished_runs(args.outdir, args.sampler):
        capture = Capture.open(run)
        member = None
        for variant in args.variants.split(","):
            key = f"{run.name}/{tag(variant, args.labels)}"
            if key in rows:
                continue
            if variant == "own":
                row = own_row(scored)
            else:
                if variant in WARM:
                    member = member or best_member(run, capture)
                    if member is None:
                        continue
                model, cpu, wall, steps = train_variant(variant, capture, member, args.labels)
                scores = heldout.score(model.predict, capture.knob_space)
                esr = np.asarray([s.esr for s in scores])
                row = {"mse": float(np.mean([s.mse for s in scores])), "esr_median": float(np.median(esr)),
                       "esr_p90": float(np.percentile(esr, 90)), "esr_mean": float(np.mean(esr)), "cpu_s": cpu,
                       "wall_s": wall, "steps": steps, "threads": args.threads}
            rows[key] = row
            print(key, row, flush=True)
            write_json_atomic(cache, rows)
    text = section(rows, args)
    print(text)
    if args.results:
        from results_md import replace_section

        replace_section(HERE / "RESULTS.md", text, MARK_START, MARK_END)
    return 0


def section(rows: dict, args: argparse.Namespace) -> str:
    import data_efficiency

    variants = [tag(v, args.labels) for v in args.variants.split(",")]
    variants = [v for v in variants if any(k.endswith("/" + v) for k in rows)]
    seeds = sorted({k.split("/")[0] for k in rows if k.startswith(f"{args.sampler}-seed")})
    lines = [MARK_START, "## Variants of a finished run's final model (`benchmarks/final_model.py`)", "",
             f"{datetime.now(timezone.utc):%Y-%m-%d} on {platform.machine()}; runs: `{data_efficiency.repo_relative(args.outdir)}` "
             f"({', '.join(seeds)}), each variant trained on the run's labels; held-out MSE and ESR on the "
             f"comparison's held-out settings, mean over seeds, and the ratio of MSE to the first row.",
             "", "| variant | steps | CPU s | wall s | MSE | × first | median ESR | p90 | mean ESR |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    base = None
    for variant in variants:
        got = [rows[f"{s}/{variant}"] for s in seeds if f"{s}/{variant}" in rows]
        mean = {k: float(np.mean([g.get(k, np.nan) for g in got]))
                for k in ("mse", "esr_median", "esr_p90", "esr_mean", "cpu_s", "wall_s", "steps")}
        base = base or mean["mse"]
        lines.append(f"| {variant} ({len(got)} seeds) | {mean['steps']:.0f} | {mean['cpu_s']:.0f} | {mean['wall_s']:.0f} | "
                     f"{mean['mse']:.4g} | {mean['mse'] / base:.2f} | {mean['esr_median']:.4f} | {mean['esr_p90']:.3f} | "
                     f"{mean['esr_mean']:.3f} |")
    lines.append(MARK_END)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
