"""Does a committee's disagreement point at the final model's errors? (active learning's premise)

An active learner labels where its committee disagrees most. That helps only if the score ranks
settings by the *final* model's error there. This benchmark fits committees of the kind a round
would fit on one of ``accuracy.py``'s data sets, scores the same 64 held-out settings with the
sampler's own code (``panama.acquisition.scores.evaluate``, relative disagreement anchored to the
labelled settings' median level, as ``ensemble-diverse`` does), and compares the scores with the
per-setting held-out ESR of a final model measured by ``accuracy.py`` (its cached JSON) and with
the committee's own mean prediction's ESR.

Reported per committee: Spearman's rho between score and error, the *top-quarter lift* (mean
error of the quarter of settings scored highest over the mean error of all; 1 = no better than
chance), rho between score and target level (a score that follows loudness only sends the search
to loud corners), and the fit's CPU seconds.

    python benchmarks/score_quality.py --data sim16sobol --final feather-avg2
    python benchmarks/score_quality.py --committees ens150,ens600 --results

With ``--runs DIR`` (finished ``benchmarks/data_efficiency.py`` runs) the committees are fitted on
each run's labels instead, and scored against that run's own final model's held-out ESR, beside
the distance to the nearest label (what ``maximin`` maximises) and the two combined:

    python benchmarks/score_quality.py --runs benchmarks/runs/data-efficiency-quick --sampler maximin \
        --committees ens150,ens600 --threads 1

Time it alone: the CPU seconds are honest under load, the wall seconds are not.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import accuracy  # noqa: E402  (the data sets, their held-out settings and the final models' scores)
from panama.core.presets import get_preset  # noqa: E402
from results_md import replace_section  # noqa: E402

MARK_START, MARK_END = "<!-- score_quality:start -->", "<!-- score_quality:end -->"

# Committees: a member count and recipe, taken from the shipped quick preset (ens150 is its round
# ensemble; final2 its final recipe's two nets as a committee instead of an average).
_QUICK = get_preset("quick")
_ENS = {**_QUICK.ensemble, "val_fraction": 0.0}
_FINAL = {k: v for k, v in _QUICK.final.items() if k != "average"}
COMMITTEES: dict[str, dict[str, Any]] = {
    "smoke": {"members": 2, "recipe": {**_ENS, "steps": 5, "val_every": 5}},  # for a quick check of this script
    "ens150": {"members": 4, "recipe": _ENS},
    "ens600": {"members": 4, "recipe": {**_ENS, "steps": 600, "val_every": 600}},
    "final2": {"members": 2, "recipe": {**_FINAL, "val_every": _FINAL["steps"]}},
}
NET = _QUICK.net_options


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def lift(score: np.ndarray, error: np.ndarray) -> float:
    top = np.argsort(-score, kind="stable")[: max(1, len(score) // 4)]
    return float(np.mean(error[top]) / np.mean(error))


def fit_committee(data: dict[str, Any], spec: dict[str, Any], threads: int) -> tuple[Any, float]:
    import torch

    from panama.core import train

    torch.set_num_threads(threads)
    recipe = train.Recipe(**{**spec["recipe"], "num_threads": threads})
    training = train.TrainingData(data["x"], data["y"], data["knobs"], data["sample_rate"], data["settings"])
    cpu0 = time.process_time()
    ensemble = train.fit_ensemble(training, members=spec["members"], net_options=NET, recipe=recipe,
                                  knob_space=data["space"])
    return ensemble, time.process_time() - cpu0


def committee_scores(ensemble: Any, data: dict[str, Any], excerpt_seconds: float, excerpts: int) -> np.ndarray:
    """The sampler's relative, anchored score at every held-out setting."""
    from dataclasses import replace

    from panama.acquisition.active import signal_tensor
    from panama.acquisition.scores import ScoreSpec, evaluate, spans_for

    signal = np.asarray(data["x"])
    x, field, usable = signal_tensor(ensemble, signal)
    excerpt = min(usable, max(1, int(excerpt_seconds * data["sample_rate"])))
    spans = spans_for(signal, field, excerpt, excerpts)
    spec = ScoreSpec("relative")
    typical = evaluate(ensemble, x, data["knobs"], spans, spec, field=field).levels
    spec = replace(spec, reference=float(np.median(typical)))
    held = np.stack([data["space"].to_unit(s) for s in data["held_out"]]).astype(np.float32)
    return evaluate(ensemble, x, held, spans, spec, field=field).scores


def committee_esr(ensemble: Any, data: dict[str, Any]) -> np.ndarray:
    """Per held-out setting, the ESR of the committee's mean prediction."""
    from panama.core.study.heldout import score_settings

    models = [ensemble.member(i) for i in range(ensemble.members)]

    def mean_predict(x: Any, setting: Any) -> np.ndarray:
        return np.mean([m.predict(x, setting) for m in models], axis=0)

    scores = score_settings(mean_predict, data["targets"], data["audio"], data["held_out"], data["space"])
    return np.array([s.esr for s in scores])


def measure(dataset: str, names: list[str], final: str, outdir: Path, threads: int, force: bool,
            excerpt_seconds: float, excerpts: int) -> dict[str, Any]:
    final_path = accuracy.result_path(outdir, dataset, final)
    if not final_path.exists():
        raise SystemExit(f"score_quality: no accuracy result {final_path.name}; run "
                         f"`python benchmarks/accuracy.py --data {dataset} --variants {final}` first")
    final_esr = np.array(json.loads(final_path.read_text())["held_out_esr"])
    data = accuracy.load_dataset(dataset, outdir)
    level = np.array([float(np.sqrt(np.mean(np.square(t)))) for t in data["targets"]])
    results: dict[str, Any] = {}
    for name in names:
        path = outdir / f"score-{dataset}--{name}--e{excerpts}x{excerpt_seconds:g}.json"
        if path.exists() and not force:
            results[name] = json.loads(path.read_text())
        else:
            # the fitted committee is kept, so scoring it another way (excerpts) costs no refit
            saved = outdir / f"committee-{dataset}--{name}.pt"
            if saved.exists() and not force:
                from panama.core.train import TrainedEnsemble

                ensemble, cpu = TrainedEnsemble.load(saved), json.loads(saved.with_suffix(".json").read_text())["cpu_seconds"]
            else:
                ensemble, cpu = fit_committee(data, COMMITTEES[name], threads)
                ensemble.save(saved)
                saved.with_suffix(".json").write_text(json.dumps({"cpu_seconds": cpu}))
            score = committee_scores(ensemble, data, excerpt_seconds, excerpts)
            own = committee_esr(ensemble, data)
            results[name] = {"cpu_seconds": round(cpu, 1), "score": score.tolist(), "own_esr": own.tolist()}
            path.write_text(json.dumps(results[name]))
        r = results[name]
        score, own = np.array(r["score"]), np.array(r["own_esr"])
        r.update({
            "rho_final": spearman(score, final_esr), "lift_final": lift(score, final_esr),
            "rho_own": spearman(score, own), "lift_own": lift(score, own),
            "rho_level": spearman(score, level), "own_median": float(np.median(own)),
        })
        print(f"{dataset}/{name:8s} cpu {r['cpu_seconds']:6.1f}s  rho(final {final}) {r['rho_final']:+.2f} "
              f"lift {r['lift_final']:.2f}  rho(own) {r['rho_own']:+.2f} lift {r['lift_own']:.2f}  "
              f"rho(level) {r['rho_level']:+.2f}  own median ESR {r['own_median']:.3f}", flush=True)
    # the references: how the final model's error itself relates to level
    results["_reference"] = {"rho_final_level": spearman(final_esr, level), "final_median": float(np.median(final_esr))}
    print(f"reference: rho(final ESR, level) {results['_reference']['rho_final_level']:+.2f}, "
          f"final median ESR {results['_reference']['final_median']:.3f}")
    return results


def measure_runs(outdir: Path, sampler: str, names: list[str], threads: int, excerpt_seconds: float,
                 excerpts: int) -> list[dict[str, Any]]:
    """Per finished run of ``sampler`` and committee: rho and lift of the score, of the distance
    to the nearest label, and of their product, against the run's own final held-out ESR."""
    from scipy.stats import rankdata

    from data_efficiency import finished_runs
    from panama.acquisition.designs import min_distances
    from panama.core.capture.store import Capture
    from panama.core.study.comparison import HELDOUT_FILE, Heldout

    heldout = Heldout.load(outdir / HELDOUT_FILE)
    rows = []
    for run, scored in finished_runs(outdir, sampler):
        budget, final_esr = int(scored["result"]["k"]), np.array(scored["esr"])
        capture = Capture.open(run)
        labels = capture.dataset()
        data = {"x": labels.x, "y": labels.y[:budget], "knobs": labels.knobs[:budget].astype(np.float32),
                "sample_rate": labels.sample_rate, "settings": labels.settings[:budget], "space": capture.knob_space,
                "held_out": heldout.settings}
        held = capture.knob_space.to_unit_array(heldout.settings)
        distance = min_distances(held, data["knobs"])
        for name in names:
            ensemble, cpu = fit_committee(data, COMMITTEES[name], threads)
            score = committee_scores(ensemble, data, excerpt_seconds, excerpts)
            row = {"run": run.name, "committee": name, "cpu_seconds": round(cpu, 1)}
            for key, value in (("score", score), ("distance", distance), ("product", score * distance),
                               ("ranks", rankdata(score) + rankdata(distance))):
                row[f"rho_{key}"], row[f"lift_{key}"] = spearman(value, final_esr), lift(value, final_esr)
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def section(dataset: str, final: str, results: dict[str, Any], excerpt_seconds: float, excerpts: int, note: str) -> str:
    ref = results["_reference"]
    lines = [MARK_START, "## Does the committee's disagreement point at the errors? (`benchmarks/score_quality.py`)", "",
             f"{dataset}: 64 held-out settings, the relative score anchored to the labelled settings' median level "
             f"(ensemble-diverse's), on {excerpts} excerpts of {excerpt_seconds:g} s. *final*: the per-setting held-out ESR "
             f"of accuracy.py's `{final}` (median {ref['final_median']:.3f}); *own*: the committee's mean prediction. "
             "Lift = mean error of the top-scored quarter / mean error of all (1 = chance). "
             f"rho(final ESR, level) = {ref['rho_final_level']:+.2f}. {note}", "",
             "| committee | CPU s | rho(score, final ESR) | lift (final) | rho(score, own ESR) | lift (own) | rho(score, level) | own median ESR |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        if name.startswith("_"):
            continue
        lines.append(f"| {name} | {r['cpu_seconds']:.0f} | {r['rho_final']:+.2f} | {r['lift_final']:.2f} | "
                     f"{r['rho_own']:+.2f} | {r['lift_own']:.2f} | {r['rho_level']:+.2f} | {r['own_median']:.3f} |")
    lines.append(MARK_END)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="sim16sobol")
    parser.add_argument("--final", default="feather-avg2", help="the accuracy.py variant whose errors are the target")
    parser.add_argument("--committees", default="ens150,ens600,final2")
    parser.add_argument("--outdir", type=Path, default=HERE / "runs" / "accuracy")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--excerpt-seconds", type=float, default=0.05, help="ensemble-diverse's default")
    parser.add_argument("--excerpts", type=int, default=2, help="ensemble-diverse's default")
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--results", action="store_true", help="write the section of benchmarks/RESULTS.md")
    parser.add_argument("--note", default="")
    parser.add_argument("--runs", type=Path, default=None, help="finished data_efficiency.py runs to fit committees on")
    parser.add_argument("--sampler", default="maximin", help="with --runs: whose runs")
    args = parser.parse_args(argv)
    names = [n for n in args.committees.split(",") if n]
    unknown = [n for n in names if n not in COMMITTEES]
    if unknown:
        raise SystemExit(f"score_quality: unknown committee {unknown[0]!r}; known: {', '.join(COMMITTEES)}")
    if args.runs is not None:
        measure_runs(args.runs, args.sampler, names, args.threads, args.excerpt_seconds, args.excerpts)
        return 0
    results = measure(args.data, names, args.final, args.outdir, args.threads, args.force, args.excerpt_seconds, args.excerpts)
    if args.results:
        text = section(args.data, args.final, results, args.excerpt_seconds, args.excerpts, args.note)
        replace_section(HERE / "RESULTS.md", text, MARK_START, MARK_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
