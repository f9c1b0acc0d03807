"""What, known before any training, points at a parametric model's held-out errors?

A sampler that trains nothing can still look at two things: where the labels are, and what the
device recorded there. This benchmark asks, on finished ``benchmarks/data_efficiency.py`` runs,
how well each of these ranks the final model's per-setting held-out error (Spearman's rho over
the comparison's held-out settings, for MSE and for ESR):

- ``distance``   to the nearest labelled setting (what ``maximin`` maximises),
- ``variation``  the local output variation of the labels around a setting: for each label, the
  RMS difference between its recording and those of its ``k`` nearest labelled neighbours, per
  unit of knob distance, averaged over the labels with inverse squared distance weights. Three
  scalings of the difference: ``abs`` (raw), ``half`` (divided by the two recordings' energies to
  the power 1/4, like the training loss's ``level_weight`` 0.5) and ``rel`` (by the square root of
  their energies, scale-free),
- ``distance × variation`` (a LOLA-Voronoi-style score: big holes where the device changes fast),
- ``level``      the labels' output energy, interpolated the same way (what MSE follows),
- ``weighted-distance``  the distance to the nearest label with each knob weighted by how much
  it changes the recordings (non-negative least squares of the labels' pairwise ``half``-scaled
  squared differences on their squared knob differences: a learned metric, as an ARD kernel's).

    python benchmarks/error_predictors.py benchmarks/runs/data-efficiency-quick --samplers sobol,maximin

It reads recordings and per-setting scores only; nothing is trained.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from panama.acquisition.designs import sq_distances

SCALINGS = {"abs": 0.0, "half": 0.25, "rel": 0.5}


def label_variation(knobs: np.ndarray, outputs: np.ndarray, power: float, k: int = 4) -> np.ndarray:
    """Per label: mean RMS difference to its ``k`` nearest labels per unit knob distance, the
    squared difference divided by (E_i E_j)^power."""
    energy = np.mean(outputs**2, axis=1)
    dist = np.sqrt(sq_distances(knobs, knobs))
    out = np.empty(len(knobs))
    for i in range(len(knobs)):
        near = np.argsort(dist[i])[1:k + 1]
        diff = np.mean((outputs[i][None] - outputs[near]) ** 2, axis=1) / (energy[i] * energy[near]) ** power
        out[i] = np.mean(np.sqrt(diff) / dist[i, near])
    return out


def knob_weights(knobs: np.ndarray, outputs: np.ndarray, power: float = 0.25) -> np.ndarray:
    """Per knob, how much it changes the recordings (summing to 1): pairwise squared differences,
    divided by (E_i E_j)^power, fitted as a non-negative sum of the squared knob differences."""
    from scipy.optimize import nnls

    energy = np.mean(outputs**2, axis=1)
    upper = np.triu_indices(len(knobs), 1)
    diff = np.mean((outputs[:, None] - outputs[None]) ** 2, axis=-1) / (energy[:, None] * energy[None]) ** power
    weights, _ = nnls(((knobs[:, None] - knobs[None]) ** 2)[upper], diff[upper])
    return weights / weights.sum() if weights.sum() > 0 else np.full(knobs.shape[1], 1.0 / knobs.shape[1])


def predictors(points: np.ndarray, knobs: np.ndarray, outputs: np.ndarray) -> dict[str, np.ndarray]:
    dist = np.sqrt(sq_distances(points, knobs))
    nearest = dist.min(axis=1)
    weights = 1.0 / (dist + 1e-9) ** 2
    level = (weights * np.mean(outputs**2, axis=1)[None]).sum(1) / weights.sum(1)
    weighted = np.sqrt((((points[:, None] - knobs[None]) ** 2) * knob_weights(knobs, outputs)).sum(-1)).min(axis=1)
    found = {"distance": nearest, "level": level, "weighted-distance": weighted}
    for name, power in SCALINGS.items():
        variation = (weights * label_variation(knobs, outputs, power)[None]).sum(1) / weights.sum(1)
        found[f"variation-{name}"] = variation
        found[f"distance×variation-{name}"] = nearest * variation
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path, help="a benchmarks/data_efficiency.py folder with finished runs")
    parser.add_argument("--samplers", default="sobol,maximin")
    args = parser.parse_args(argv)
    from scipy.stats import spearmanr

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from data_efficiency import finished_runs
    from panama.core.capture.store import Capture
    from panama.core.study.comparison import HELDOUT_FILE, Heldout

    heldout = Heldout.load(args.outdir / HELDOUT_FILE)
    table: dict[str, list[tuple[float, float]]] = {}
    runs = [found for sampler in args.samplers.split(",") for found in finished_runs(args.outdir, sampler)]
    for run, scores in runs:
        budget = int(scores["result"]["k"])
        capture = Capture.open(run)
        data = capture.dataset()
        points = capture.knob_space.to_unit_array(heldout.settings)
        found = predictors(points, data.knobs[:budget], data.y[:budget].astype(np.float64))
        for name, values in found.items():
            table.setdefault(name, []).append((spearmanr(values, scores["mse"])[0], spearmanr(values, scores["esr"])[0]))
    names = [run.name for run, _ in runs]
    print(f"runs: {', '.join(names)}; Spearman's rho with the final model's held-out error, per run (MSE; ESR)\n")
    print("| predictor | rho with MSE (median, range) | rho with ESR (median, range) |")
    print("|---|---|---|")
    for name, rows in table.items():
        mse, esr = np.array(rows).T
        print(f"| {name} | {np.median(mse):+.2f} ({mse.min():+.2f} … {mse.max():+.2f}) | "
              f"{np.median(esr):+.2f} ({esr.min():+.2f} … {esr.max():+.2f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
