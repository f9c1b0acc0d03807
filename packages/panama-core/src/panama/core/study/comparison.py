"""Sampler comparison: validation error versus number of labelled settings, per sampler.

The paper's Table 1 for any software device. Each sampler × seed is its own capture directory
under ``OUTDIR/runs/`` made by :func:`panama.core.loop.run_capture`, so a comparison resumes
wherever it was stopped, and finished runs and finished checkpoints are skipped.

Error-versus-points curves without one full run per point count. At checkpoint ``k`` the model
is the final recipe (same net, options, steps and seed as the run's own final training) trained
on the run's first ``k`` labels, in the order they were labelled:

* ``prefix`` — for samplers whose design is *nested*: the first ``k`` points of their budget-N
  design are what they would have chosen with budget ``k``. True for ``random`` and
  ``sobol``/``beta`` draws, and for ``ensemble-disagreement``, whose rounds only see what was
  labelled before them (a checkpoint may cut a round; that is exactly "stopping early").
* ``rerun`` — for one-shot designs that depend on the budget (``lhs``, ``lhs-corners``,
  ``grid``: a Latin hypercube of 32 points cut after 8 is not a Latin hypercube of 8), a
  separate capture with budget ``k`` is run, so they are compared at their best.

``--checkpoint-mode auto`` (the default) picks per sampler: ``prefix`` for classes that declare
``nested_design = True`` (:func:`panama.core.protocols.nested_design`), ``rerun`` for others. At ``k`` equal
to the budget the run's own final model is used. Every model is scored on the same held-out
settings and the same audio (``OUTDIR/heldout.npz``), with :mod:`panama.core.study.heldout`.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from panama.core.errors import PanamaError
from panama.core.fsutil import atomic_file, write_json_atomic
from panama.core.knobs import KnobSetting, KnobSpace
from panama.core.protocols import nested_design
from panama.core.study.heldout import (
    EvalAudio,
    capture_root,
    draw_heldout_settings,
    score_settings,
    summarise,
)

SPEC_FILE = "compare.json"
HELDOUT_FILE = "heldout.npz"
RESULTS_FILE = "results.json"
PLOT_FILE = "results.png"
CheckpointMode = Literal["auto", "prefix", "rerun"]


class CompareSpec(BaseModel):
    """One comparison; fixed on the first run (written to ``OUTDIR/compare.json``)."""

    model_config = ConfigDict(extra="forbid")

    labeler: str = "sim"
    labeler_options: dict[str, Any] = Field(default_factory=dict)
    samplers: list[str]
    # Per sampler, e.g. {"ensemble-disagreement": {"excerpt_seconds": 0.1}}.
    sampler_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    budget: int = Field(ge=1)
    seeds: list[int]
    checkpoints: list[int] = Field(default_factory=list)
    preset: str = "quick"
    net: str | None = None
    net_options: dict[str, Any] = Field(default_factory=dict)
    initial: int | None = None
    eval_settings: int = Field(default=64, ge=1)
    eval_seed: int = 12345
    checkpoint_mode: CheckpointMode = "auto"


# What must not change between resumed invocations of one comparison: it would mix
# incomparable runs. Samplers, seeds and checkpoints may be added.
FIXED_FIELDS = (
    "labeler", "labeler_options", "sampler_options", "budget", "preset", "net", "net_options", "initial",
    "eval_settings", "eval_seed",
)


class CheckpointResult(BaseModel):
    """One model (a run at k labelled settings) scored on the held-out settings."""

    model_config = ConfigDict(extra="forbid")

    sampler: str
    seed: int
    k: int
    mode: Literal["final", "prefix", "rerun"]
    run: str
    mse: float
    esr: float
    mse_median: float
    esr_median: float
    esr_p90: float


class CurvePoint(BaseModel):
    """Mean and spread over seeds of one sampler at one budget."""

    model_config = ConfigDict(extra="forbid")

    sampler: str
    k: int
    seeds: int
    mse_mean: float
    mse_std: float
    mse_min: float
    mse_max: float
    esr_mean: float
    esr_std: float
    esr_min: float
    esr_max: float


# ------------------------------------------------------------------------ pure planning
def parse_seeds(text: str) -> list[int]:
    """``"3"`` → seeds 0, 1, 2; ``"0,7,9"`` → those seeds."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise PanamaError(f"--seeds {text!r} is not a count or a comma list of integers", "e.g. --seeds 3 or --seeds 0,1,2") from None
    if not values:
        raise PanamaError("--seeds is empty", "e.g. --seeds 3")
    if len(values) == 1:
        if values[0] < 1:
            raise PanamaError(f"--seeds {values[0]}: need at least one seed", "e.g. --seeds 3")
        return list(range(values[0]))
    if len(set(values)) != len(values):
        raise PanamaError(f"--seeds {text!r} repeats a seed")
    return values


def parse_sampler_options(items: Sequence[str]) -> dict[str, dict[str, str]]:
    """``["ensemble-disagreement:steps=100,excerpt_seconds=0.1"]`` → options per sampler."""
    from panama.core.options import parse_pairs

    out: dict[str, dict[str, str]] = {}
    for item in items:
        name, sep, rest = item.partition(":")
        if not sep or not name.strip():
            raise PanamaError(f"--sampler-option {item!r} names no sampler",
                              "write SAMPLER:key=value,..., e.g. ensemble-disagreement:steps=100")
        out.setdefault(name.strip(), {}).update(parse_pairs(rest, what="--sampler-option",
                                                            example="ensemble-disagreement:steps=100"))
    return out


def parse_list(text: str | None, what: str) -> list[str]:
    items = [p.strip() for p in (text or "").split(",") if p.strip()]
    if not items:
        raise PanamaError(f"{what} is empty", f"give a comma list, e.g. {what} random,lhs-corners")
    if len(set(items)) != len(items):
        raise PanamaError(f"{what} {text!r} names something twice")
    return items


def plan_checkpoints(budget: int, checkpoints: Sequence[int] = (), initial: int | None = None) -> list[int]:
    """The sorted budgets to score; the full budget is always one of them.

    Without ``checkpoints``: doubling from the initial design (or from ``budget/8``) up to the
    budget, e.g. 8, 16, 32, 64.
    """
    if checkpoints:
        bad = [k for k in checkpoints if not 1 <= k <= budget]
        if bad:
            raise PanamaError(
                f"checkpoint(s) {', '.join(map(str, bad))} outside 1…{budget}",
                "give checkpoints between 1 and the budget",
            )
        return sorted(set(checkpoints) | {budget})
    start = max(1, initial or math.ceil(budget / 8))
    points = []
    k = start
    while k < budget:
        points.append(k)
        k *= 2
    return [*points, budget]


def checkpoint_mode(mode: CheckpointMode, sampler_class: Any) -> Literal["prefix", "rerun"]:
    """How a sampler's intermediate budgets are obtained (see the module docstring): ``auto``
    trusts the class's own ``nested_design`` declaration."""
    if mode != "auto":
        return mode
    return "prefix" if nested_design(sampler_class) else "rerun"


def result_from_scores(scores: Sequence[Any], *, sampler: str, seed: int, k: int, mode: str, run: str) -> CheckpointResult:
    summary = summarise(scores)
    return CheckpointResult(
        sampler=sampler, seed=seed, k=k, mode=mode, run=run,  # type: ignore[arg-type]
        mse=summary.mse.mean, esr=summary.esr.mean, mse_median=summary.mse.median,
        esr_median=summary.esr.median, esr_p90=summary.esr.p90,
    )


def aggregate(results: Sequence[CheckpointResult]) -> list[CurvePoint]:
    """Mean, standard deviation (population, over seeds), min and max per sampler and k."""
    groups: dict[tuple[str, int], list[CheckpointResult]] = defaultdict(list)
    order: list[str] = []
    for r in results:
        if r.sampler not in order:
            order.append(r.sampler)
        groups[(r.sampler, r.k)].append(r)
    points = []
    for sampler in order:
        for k in sorted(k for s, k in groups if s == sampler):
            group = groups[(sampler, k)]
            mse = np.array([r.mse for r in group])
            esr = np.array([r.esr for r in group])
            points.append(CurvePoint(
                sampler=sampler, k=k, seeds=len(group),
                mse_mean=float(mse.mean()), mse_std=float(mse.std()), mse_min=float(mse.min()),
                mse_max=float(mse.max()), esr_mean=float(esr.mean()), esr_std=float(esr.std()),
                esr_min=float(esr.min()), esr_max=float(esr.max()),
            ))
    return points


def ratios(curve: Sequence[CurvePoint], reference: str = "random", metric: str = "mse") -> dict[str, dict[int, float]]:
    """Each sampler's mean error divided by ``reference``'s at the same k (< 1 is better)."""
    ref = {p.k: getattr(p, f"{metric}_mean") for p in curve if p.sampler == reference}
    out: dict[str, dict[int, float]] = defaultdict(dict)
    for p in curve:
        if p.k in ref and ref[p.k] > 0:
            out[p.sampler][p.k] = getattr(p, f"{metric}_mean") / ref[p.k]
    return dict(out)


# ---------------------------------------------------------------------------- rendering
def render_compare(curve: Sequence[CurvePoint], console: Any, *, title: str = "") -> None:
    """One Rich table per metric: rows are budgets, columns samplers, cells mean ± std."""
    from rich.table import Table

    samplers = list(dict.fromkeys(p.sampler for p in curve))
    ks = sorted({p.k for p in curve})
    at = {(p.sampler, p.k): p for p in curve}
    for metric, label in (("mse", "validation MSE"), ("esr", "validation ESR")):
        table = Table(title=f"{title}{label} (mean ± std over seeds)", title_justify="left")
        table.add_column("labelled", justify="right")
        for s in samplers:
            table.add_column(s, justify="right")
        for k in ks:
            cells = []
            best = min((getattr(at[(s, k)], f"{metric}_mean") for s in samplers if (s, k) in at), default=None)
            for s in samplers:
                p = at.get((s, k))
                if p is None:
                    cells.append("—")
                    continue
                mean, std = getattr(p, f"{metric}_mean"), getattr(p, f"{metric}_std")
                cell = f"{mean:.3g} ± {std:.2g}" + (f" (n={p.seeds})" if p.seeds < max(q.seeds for q in curve) else "")
                cells.append(f"[bold]{cell}[/bold]" if mean == best and len(samplers) > 1 else cell)
            table.add_row(str(k), *cells)
        console.print(table)


def plot_compare(curve: Sequence[CurvePoint], results: Sequence[CheckpointResult], path: Path, *, title: str = "") -> Path:
    """MSE and ESR versus labelled settings: mean line, min–max band, each seed faintly."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    samplers = list(dict.fromkeys(p.sampler for p in curve))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, sampler in enumerate(samplers):
        colour = colours[i % len(colours)]
        pts = [p for p in curve if p.sampler == sampler]
        ks = [p.k for p in pts]
        for ax, metric in zip(axes, ("mse", "esr"), strict=True):
            ax.plot(ks, [getattr(p, f"{metric}_mean") for p in pts], "o-", color=colour, label=sampler, lw=2)
            ax.fill_between(ks, [getattr(p, f"{metric}_min") for p in pts],
                            [getattr(p, f"{metric}_max") for p in pts], color=colour, alpha=0.15, lw=0)
            for seed in sorted({r.seed for r in results if r.sampler == sampler}):
                rs = sorted((r for r in results if r.sampler == sampler and r.seed == seed), key=lambda r: r.k)
                ax.plot([r.k for r in rs], [getattr(r, metric) for r in rs], "-", color=colour, alpha=0.3, lw=0.8)
    for ax, label in zip(axes, ("validation MSE", "validation ESR"), strict=True):
        ax.set_xlabel("labelled settings")
        ax.set_ylabel(label)
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xticks(sorted({p.k for p in curve}))
    axes[0].legend()
    if title:
        fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ------------------------------------------------------------------------ spec and files
def load_or_write_spec(outdir: Path, spec: CompareSpec) -> CompareSpec:
    """The first run fixes the comparison; later runs may add samplers, seeds, checkpoints."""
    path = outdir / SPEC_FILE
    if not path.exists():
        write_json_atomic(path, spec.model_dump(), allow_nan=False)
        return spec
    try:
        old = CompareSpec.model_validate_json(path.read_text())
    except ValueError as exc:
        raise PanamaError(f"{path} is not a PANAMA comparison: {str(exc).splitlines()[0]}",
                          "use a new OUTDIR") from None
    changed = [f for f in FIXED_FIELDS if getattr(old, f) != getattr(spec, f)]
    if changed:
        raise PanamaError(
            f"{outdir} holds a comparison with other {', '.join(changed)} "
            f"({'; '.join(f'{f}={getattr(old, f)!r}' for f in changed)})",
            "give the same options to resume it, or use a new OUTDIR",
        )
    merged = spec.model_copy(update={
        "samplers": list(dict.fromkeys([*old.samplers, *spec.samplers])),
        "seeds": list(dict.fromkeys([*old.seeds, *spec.seeds])),
        "checkpoints": sorted(set(old.checkpoints) | set(spec.checkpoints)),
    })
    write_json_atomic(path, merged.model_dump(), allow_nan=False)
    return merged


class Heldout:
    """The comparison's held-out settings, evaluation audio and device outputs (cached)."""

    def __init__(self, settings: list[KnobSetting], audio: EvalAudio, targets: list[np.ndarray]) -> None:
        self.settings = settings
        self.audio = audio
        self.targets = targets

    def save(self, path: Path) -> None:
        with atomic_file(path) as handle:  # a handle: savez adds no .npz suffix
            np.savez(
                handle, x=self.audio.x, score_from=self.audio.score_from, sample_rate=self.audio.sample_rate,
                offset=self.audio.offset, description=self.audio.description,
                settings=json.dumps(self.settings), targets=np.stack(self.targets).astype(np.float32),
            )

    @classmethod
    def load(cls, path: Path) -> Heldout:
        with np.load(path) as data:
            audio = EvalAudio(
                data["x"], int(data["score_from"]), int(data["sample_rate"]), str(data["description"]),
                offset=int(data["offset"]),
            )
            settings = json.loads(str(data["settings"]))
            targets = [np.asarray(t, dtype=np.float64) for t in data["targets"]]
        return cls(settings, audio, targets)

    def score(self, predict: Callable[[np.ndarray, KnobSetting], np.ndarray], knob_space: KnobSpace) -> list[Any]:
        return score_settings(predict, self.targets, self.audio, self.settings, knob_space)


def draw_heldout(spec: CompareSpec, knob_space: KnobSpace) -> list[KnobSetting]:
    return draw_heldout_settings(knob_space, spec.eval_settings, seed=spec.eval_seed)


def too_close(knob_space: KnobSpace, heldout: Sequence[KnobSetting], labelled: Sequence[KnobSetting]) -> int:
    """How many held-out settings are the same setting (:meth:`KnobSpace.same`) as a labelled one."""
    return int(np.sum(knob_space.same_as_any(heldout, labelled)))


# ------------------------------------------------------------------ glue to the captures
class CompareResult(BaseModel):
    """What ``OUTDIR/results.json`` holds."""

    model_config = ConfigDict(extra="forbid")

    spec: CompareSpec
    heldout: dict[str, Any]
    curve: list[CurvePoint]
    ratios_to_random: dict[str, dict[int, float]]
    results: list[CheckpointResult]
    warnings: list[str] = Field(default_factory=list)


def run_directory(outdir: Path, sampler: str, seed: int, k: int | None = None) -> Path:
    return Path(outdir) / "runs" / (f"{sampler}-seed{seed}" + (f"-n{k}" if k is not None else ""))


def _finished(directory: Path, budget: int) -> bool:
    """A run is finished when its final model was trained on the whole budget."""
    from panama.core.capture.store import Capture
    from panama.core.train.records import last_model_event

    if not Capture.exists(directory):
        return False
    capture = Capture.open(directory)
    event = last_model_event(capture)
    return event is not None and event.get("labelled") == budget == len(capture.labelled_settings())


def _run(spec: CompareSpec, directory: Path, sampler: str, seed: int, budget: int, *,
         progress: bool, log: Callable[[str], None]) -> Any:
    from panama.core.capture.store import Capture
    from panama.core.loop import run_capture

    if _finished(directory, budget):
        log(f"{directory.name}: finished earlier, skipped")
    else:
        log(f"{directory.name}: running {sampler} to {budget} settings")
        directory.parent.mkdir(parents=True, exist_ok=True)
        run_capture(
            directory, labeler=spec.labeler, sampler=sampler, budget=budget,
            initial=min(spec.initial, budget) if spec.initial else None, preset=spec.preset, seed=seed,
            net=spec.net, net_options=spec.net_options or None,
            labeler_options=spec.labeler_options or None,
            sampler_options=spec.sampler_options.get(sampler) or None, progress=progress, log=log,
        )
    return Capture.open(directory)


def ensure_heldout(outdir: Path, spec: CompareSpec, capture: Any) -> Heldout:
    """Draw, label and cache the held-out set once; every run is scored against the same one."""
    from panama.core.study.heldout import capture_audio, device_targets

    path = Path(outdir) / HELDOUT_FILE
    if path.exists():
        return Heldout.load(path)
    settings = draw_heldout(spec, capture.knob_space)
    audio = capture_audio(capture)
    targets = device_targets(spec.labeler, spec.labeler_options, audio, settings, need_deterministic=True)
    heldout = Heldout(settings, audio, targets)
    heldout.save(path)
    return heldout


def checkpoint_model(capture: Any, k: int, *, progress: bool) -> Any:
    """The final recipe trained on the capture's first ``k`` labels (saved next to the run)."""
    from panama.core import train
    from panama.core.train.records import final_plan

    path = capture_root(capture) / "checkpoints" / f"k{k:04d}.pt"
    if path.exists():
        return train.TrainedModel.load(path)
    model = final_plan(capture.config, labelled=k).fit(first_labels(capture.dataset(), k), knob_space=capture.knob_space, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return model


def first_labels(data: Any, k: int) -> Any:
    """The training data restricted to the first ``k`` labelled settings, in labelling order."""
    from panama.core.train import TrainingData

    if k > data.y.shape[0]:
        raise PanamaError(f"checkpoint {k} is beyond the {data.y.shape[0]} labelled settings")
    return TrainingData(x=data.x, y=data.y[:k], knobs=data.knobs[:k], sample_rate=data.sample_rate)


def _score_checkpoint(heldout: Heldout, model: Any, knob_space: KnobSpace, *, sampler: str, seed: int,
                      k: int, mode: str, run: str, cache: Path) -> CheckpointResult:
    scores = heldout.score(model.predict, knob_space)
    result = result_from_scores(scores, sampler=sampler, seed=seed, k=k, mode=mode, run=run)
    write_json_atomic(cache, {"result": result.model_dump(), "mse": [s.mse for s in scores],
                              "esr": [s.esr for s in scores]}, allow_nan=False)
    return result


def run_compare(
    outdir: Path,
    spec: CompareSpec,
    *,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> CompareResult:
    """Run (or resume) every sampler × seed, score every checkpoint, write results and plot."""
    from panama.core.plugins import get_registry
    from panama.core.presets import get_preset
    from panama.core.study.heldout import source_is_deterministic
    from panama.core.train.records import load_final_model

    log = log or (lambda message: None)
    outdir = Path(outdir)
    # Everything that can be checked is checked before anything is written.
    get_preset(spec.preset)
    modes = {s: checkpoint_mode(spec.checkpoint_mode, get_registry().get("sampler", s).load()) for s in spec.samplers}
    stray = sorted(set(spec.sampler_options) - set(spec.samplers))
    if stray:
        raise PanamaError(f"options given for {', '.join(stray)}, which is not compared",
                          f"compared samplers: {', '.join(spec.samplers)}")
    for name, options in spec.sampler_options.items():
        from panama.core.components import build

        build("sampler", name, options)  # bad options fail now, with the sampler's own message
    if not source_is_deterministic(spec.labeler):
        raise PanamaError(
            f"labeler {spec.labeler!r} records a real device: it cannot label the same held-out settings for every run",
            "compare samplers on a software source (sim, vst:, lv2:, pedalboard); a label source of "
            "your own that renders declares `deterministic = True`",
        )
    checkpoints = plan_checkpoints(spec.budget, spec.checkpoints, spec.initial or get_preset(spec.preset).initial)
    outdir.mkdir(parents=True, exist_ok=True)
    merged = load_or_write_spec(outdir, spec)
    heldout: Heldout | None = None
    warnings: list[str] = []
    for sampler in spec.samplers:
        mode = modes[sampler]
        for seed in spec.seeds:
            main = run_directory(outdir, sampler, seed)
            capture = _run(spec, main, sampler, seed, spec.budget, progress=progress, log=log)
            if heldout is None:
                heldout = ensure_heldout(outdir, spec, capture)
            overlap = too_close(capture.knob_space, heldout.settings, capture.labelled_settings())
            if overlap:
                warnings.append(f"{main.name}: {overlap} held-out setting(s) coincide with labelled ones")
            for k in checkpoints:
                cache = main / "checkpoints" / f"k{k:04d}.json"
                if cache.exists():
                    continue
                if k == spec.budget:
                    model, how, where = load_final_model(capture), "final", main
                elif mode == "prefix":
                    log(f"{main.name}: training on the first {k} settings")
                    model, how, where = checkpoint_model(capture, k, progress=progress), "prefix", main
                else:
                    where = run_directory(outdir, sampler, seed, k)
                    sub = _run(spec, where, sampler, seed, k, progress=progress, log=log)
                    model, how = load_final_model(sub), "rerun"
                _score_checkpoint(heldout, model, capture.knob_space, sampler=sampler, seed=seed, k=k,
                                  mode=how, run=str(where.relative_to(outdir)), cache=cache)
    if heldout is None:
        raise PanamaError("nothing to compare", "give at least one sampler and one seed")
    return collect(outdir, merged, heldout, warnings)


def collect(outdir: Path, spec: CompareSpec, heldout: Heldout, warnings: Sequence[str] = ()) -> CompareResult:
    """Gather every scored checkpoint under ``outdir`` into results.json and results.png."""
    results = []
    for sampler in spec.samplers:
        for seed in spec.seeds:
            for cache in sorted((run_directory(outdir, sampler, seed) / "checkpoints").glob("k*.json")):
                results.append(CheckpointResult.model_validate(json.loads(cache.read_text())["result"]))
    curve = aggregate(results)
    result = CompareResult(
        spec=spec,
        heldout={"settings": len(heldout.settings), "audio": heldout.audio.description,
                 "scored_samples": heldout.audio.scored_length, "sample_rate": heldout.audio.sample_rate},
        curve=curve,
        ratios_to_random=ratios(curve) if any(p.sampler == "random" for p in curve) else {},
        results=results,
        warnings=list(warnings),
    )
    write_json_atomic(Path(outdir) / RESULTS_FILE, result.model_dump(), allow_nan=False)
    plot_compare(curve, results, Path(outdir) / PLOT_FILE, title=f"{spec.labeler}: held-out error vs labelled settings")
    return result
