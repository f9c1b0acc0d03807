"""Should an active run's final model start from its last ensemble's best member?

An active run has trained ensembles of the final model's own net on most of its labels; the
final model could continue from one of them instead of starting from scratch (issue 10's
"warm starts"). This benchmark measures it on finished ``benchmarks/data_efficiency.py`` runs:
for each seed of a sampler, the run's final recipe is trained on all its labels

- ``scratch``    from a fresh initialisation (what ``panama run`` does; the run's own model),
- ``warm``       from the member with the lowest validation ESR of the last round,
- ``warm-half``  the same with half the steps,
- ``warm-sp``    from shrink and perturb of that member (0.8 × member + 0.1 × fresh, as the
  shipped learner's rounds start),

and each is scored on the comparison's held-out settings (held-out MSE, median and mean ESR,
CPU seconds of the training on one thread).

    python benchmarks/final_warm_start.py benchmarks/runs/data-efficiency-studiopre --results

Run it alone for the CPU seconds; the errors do not depend on the load.
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
MARK_START = "<!-- final-warm-start:start -->"
MARK_END = "<!-- final-warm-start:end -->"
VARIANTS = ("scratch", "warm", "warm-half", "warm-sp")


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


def train_variant(variant: str, capture, member):
    from panama.core import train
    from panama.core.train import engine, warm
    from panama.core.train.model import TrainedModel, build_net
    from panama.core.train.records import final_plan

    plan = final_plan(capture.config)
    recipe = dict(plan.recipe)
    start = None if variant == "scratch" else member
    if variant == "warm-half":
        recipe["steps"] = max(1, recipe["steps"] // 2)
    if variant == "warm-sp":
        options = {**plan.net_options, "num_knobs": len(capture.knob_space)}
        fresh = build_net(plan.net, options, seeds=engine.member_seeds(recipe["seed"], 1))
        warm.shrink_and_perturb(fresh, member.net.state_dict(), 0.8, 0.1)
        start = TrainedModel(fresh, capture.knob_space, member.sample_rate, plan.net, options, {})
    began = time.process_time()
    model = train.fit(capture.dataset(), net=plan.net, net_options=plan.net_options, recipe=train.Recipe(**recipe),
                      knob_space=capture.knob_space, progress=False, init_from=start)
    return model, time.process_time() - began, recipe["steps"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path, help="a benchmarks/data_efficiency.py folder with finished runs")
    parser.add_argument("--sampler", default="ensemble-diverse")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--results", action="store_true", help="write the section of benchmarks/RESULTS.md")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(HERE))
    import data_efficiency

    data_efficiency.register_bench_preset()
    data_efficiency.merge_parts(args.outdir)
    from panama.core.capture.store import Capture
    from panama.core.study.comparison import HELDOUT_FILE, Heldout

    heldout = Heldout.load(args.outdir / HELDOUT_FILE)
    cache = args.outdir / "final-warm-start.json"
    rows = json.loads(cache.read_text()) if cache.exists() else {}
    for run in sorted((args.outdir / "runs").glob(f"{args.sampler}-seed*")):
        if "-n" in run.name.split("seed", 1)[1] or not (run / "checkpoints").is_dir():
            continue
        capture = Capture.open(run)
        member = best_member(run, capture)
        if member is None:
            continue
        for variant in args.variants.split(","):
            key = f"{run.name}/{variant}"
            if key in rows:
                continue
            model, seconds, steps = train_variant(variant, capture, member)
            scores = heldout.score(model.predict, capture.knob_space)
            rows[key] = {"mse": float(np.mean([s.mse for s in scores])),
                         "esr_median": float(np.median([s.esr for s in scores])),
                         "esr_mean": float(np.mean([s.esr for s in scores])), "cpu_s": seconds, "steps": steps}
            print(key, rows[key], flush=True)
            cache.write_text(json.dumps(rows, indent=1))
    text = section(rows, args)
    print(text)
    if args.results:
        from results_md import replace_section

        replace_section(HERE / "RESULTS.md", text, MARK_START, MARK_END)
    return 0


def section(rows: dict, args: argparse.Namespace) -> str:
    import data_efficiency

    variants = [v for v in args.variants.split(",") if any(k.endswith("/" + v) for k in rows)]
    seeds = sorted({k.split("/")[0] for k in rows})
    lines = [MARK_START, "## The final model from the last ensemble's best member (`benchmarks/final_warm_start.py`)", "",
             f"{datetime.now(timezone.utc):%Y-%m-%d} on {platform.machine()}; runs: `{data_efficiency.repo_relative(args.outdir)}` "
             f"({', '.join(seeds)}), the run preset's final recipe, one thread; held-out MSE and ESR on the "
             "comparison's held-out settings, mean over seeds, and the ratio of MSE to `scratch` (the shipped behaviour).",
             "", "| variant | steps | CPU s | MSE | × scratch | median ESR | mean ESR |", "|---|---:|---:|---:|---:|---:|---:|"]
    base = None
    for variant in variants:
        got = [rows[f"{s}/{variant}"] for s in seeds if f"{s}/{variant}" in rows]
        mean = {k: float(np.mean([g[k] for g in got])) for k in ("mse", "esr_median", "esr_mean", "cpu_s", "steps")}
        base = mean["mse"] if variant == "scratch" else base
        ratio = f"{mean['mse'] / base:.2f}" if base else "–"
        lines.append(f"| {variant} ({len(got)} seeds) | {mean['steps']:.0f} | {mean['cpu_s']:.0f} | {mean['mse']:.4g} | "
                     f"{ratio} | {mean['esr_median']:.3f} | {mean['esr_mean']:.3f} |")
    lines.append(MARK_END)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
