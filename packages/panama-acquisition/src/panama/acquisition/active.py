"""Active learning by ensemble disagreement (the PANAMA paper's sampler).

Each round: train an ensemble on the settings labelled so far (``context.fit_ensemble``), then
climb the members' disagreement over the knob vector by gradient ascent: knobs = sigmoid(u),
Adam on u, all restarts as one batch (Adam is element-wise, so a batch of restarts is exactly
that many independent searches, at one forward pass per step). Disagreement is the mean over
time of the variance across members of their outputs on the fixed input signal. The optima are
deduplicated (``panama.acquisition.dedup``) and returned best first.

torch is imported inside the functions that need it: listing samplers never loads it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field

from panama.acquisition import dedup
from panama.acquisition.dedup import DedupMethod
from panama.acquisition.designs import sobol_design
from panama.acquisition.fixed import FIXED_SAMPLERS
from panama.acquisition.members import member_notes, require_training
from panama.acquisition.scores import playing_starts, spans_for
from panama.core.errors import PanamaError
from panama.core.knobs import KnobSetting
from panama.core.protocols import ComponentConfig, Ensemble, SamplerContext

# Guards the loudness-normalised ratio against silent outputs.
_ENERGY_FLOOR = 1e-12


class EnsembleDisagreementConfig(ComponentConfig):
    """Defaults are the paper's; the options marked "improvement" are ours, off by default."""

    members: int = Field(4, ge=2, le=64, description="ensemble size")
    restarts: int = Field(10, ge=1, le=1024, description="gradient searches, run as one batch")
    steps: int = Field(250, ge=0, le=100_000, description="Adam steps per search")
    lr: float = Field(0.02, gt=0.0, description="Adam learning rate on u (knobs = sigmoid(u))")
    init_std: float = Field(1.0, ge=0.0, description="u starts as N(0, init_std²) per knob")
    excerpt_seconds: float | None = Field(
        None, gt=0.0, description="improvement: each step uses a random excerpt this long (default: whole input)"
    )
    normalize: bool = Field(
        False, description="improvement: variance / mean member energy, so loud settings are not favoured"
    )
    score_excerpts: int = Field(
        8, ge=1, description="with excerpt_seconds: final scores on this many evenly spaced excerpts"
    )
    chunk_seconds: float | None = Field(
        1.0,
        gt=0.0,
        description="memory bound: inputs run in chunks this long (same objective, same gradient); "
        "activations scale with restarts × members × chunk",
    )
    dedup: DedupMethod = Field("hdbscan", description="hdbscan (paper), radius or none")
    min_cluster_size: int = Field(2, ge=2, description="HDBSCAN min_cluster_size")
    min_samples: int | None = Field(3, ge=1, description="HDBSCAN min_samples (3 in the reference code)")
    dedup_radius: float = Field(0.05, gt=0.0, description="radius method: optima this close are one")
    min_distance: float = Field(
        0.02, ge=0.0, description="no proposal this close (normalised) to a labelled setting or a better proposal"
    )
    min_labelled: int = Field(2, ge=0, description="with fewer labelled settings, use initial_design instead")
    initial_design: Literal["random", "beta", "sobol", "lhs", "lhs-corners", "grid"] = Field(
        "sobol", description="space-filling design used before an ensemble can be trained"
    )
    fit_options: dict[str, Any] = Field(
        default_factory=dict, description="extra keyword arguments for context.fit_ensemble"
    )
    trace_every: int = Field(10, ge=1, description="record every restart's disagreement every N steps")


@dataclass
class SearchResult:
    """The restarts' end points (unit knobs), their disagreement, and the optimisation trace."""

    points: np.ndarray  # [R, K]
    scores: np.ndarray  # [R]
    start: np.ndarray  # [R, K]
    trace: list[list[float | None]]  # [[step, score_0, ..., score_R-1], ...]; None: diverged


class EnsembleDisagreementSampler:
    """Proposes the settings where an ensemble trained on the labels so far disagrees most."""

    name = "ensemble-disagreement"
    Config = EnsembleDisagreementConfig
    # For `panama compare`: a round sees only what was labelled before it, so the first k labels
    # are what a budget-k run would have chosen (a checkpoint may cut a round: stopping early).
    nested_design = True

    def __init__(self, config: EnsembleDisagreementConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()
        self.last_ensemble: Ensemble | None = None  # the loop may checkpoint it

    @property
    def initial_design(self) -> str:
        """The space-filling sampler the loop uses for the first ``--initial`` points."""
        return self.config.initial_design

    def propose(self, context: SamplerContext, n: int) -> list[KnobSetting]:
        cfg = self.config
        if n <= 0:
            return []
        if len(context.labelled) < cfg.min_labelled:
            context.log(
                f"{len(context.labelled)} labelled setting(s): choosing from the {cfg.initial_design} "
                "design until an ensemble can be trained"
            )
            context.notes["fallback"] = cfg.initial_design
            # Size the design to what is being filled now (the initial batch), not the budget.
            return FIXED_SAMPLERS[cfg.initial_design]().take(context, n, len(context.labelled) + n)
        require_training(context, self.name)
        started = time.perf_counter()
        ensemble = context.fit_ensemble(members=cfg.members, **cfg.fit_options)
        self.last_ensemble = ensemble
        context.notes["members"] = member_notes(ensemble)
        fitted = time.perf_counter()
        seed = int(context.rng.integers(0, 2**31 - 1))
        result = search(ensemble, np.asarray(context.input_signal), context.sample_rate, len(context.knob_space), cfg, seed)
        finite = np.isfinite(result.scores) & np.isfinite(result.points).all(axis=1)
        if not finite.any():
            raise PanamaError(
                "the ensemble's outputs are not finite (NaN or inf), so there is no disagreement to climb",
                "check the labelled recordings and the training settings (a lower learning rate)",
            )
        # Diverged restarts stay in the report but can never be chosen (dedup skips NaN scores).
        result.scores = np.where(finite, result.scores, np.nan)
        result.points = np.where(finite[:, None], result.points, 0.5)
        labelled = context.labelled_unit()
        chosen = dedup.select(
            result.points,
            result.scores,
            labelled=labelled,
            min_distance=cfg.min_distance,
            method=cfg.dedup,
            min_cluster_size=cfg.min_cluster_size,
            min_samples=cfg.min_samples,
            radius=cfg.dedup_radius,
        )
        order = chosen.order[:n]
        points = result.points[order]
        scores: list[float | None] = [float(s) for s in result.scores[order]]
        if not order:
            # Every optimum is a labelled setting: the ensemble agrees everywhere else that it
            # found. Propose the spot farthest from the labels so the round is not wasted.
            filler = dedup.farthest_from(labelled, sobol_design(256, len(context.knob_space), seed))
            points = filler[None, :]
            scores = [None]
            context.log("every disagreement optimum is already labelled; proposing the least covered setting")
        context.notes.update(
            {
                "scores": scores,
                "score": "normalised variance" if cfg.normalize else "variance",
                "optima": [
                    {
                        "restart": i,
                        "unit": [float(v) for v in result.points[i]],
                        "setting": context.knob_space.from_unit(result.points[i]),
                        "start": [float(v) for v in result.start[i]],
                        "score": float(result.scores[i]) if finite[i] else None,
                        "cluster": int(chosen.clusters[i]),
                        "status": chosen.reasons[i],
                    }
                    for i in range(len(result.points))
                ],
                "trace": result.trace,
                "filler": not order,
                "timing": {"fit_s": fitted - started, "search_s": time.perf_counter() - fitted},
            }
        )
        return context.knob_space.from_unit_array(points)


def search(
    ensemble: Ensemble, signal: np.ndarray, sample_rate: int, dims: int, cfg: EnsembleDisagreementConfig, seed: int
) -> SearchResult:
    """Gradient ascent of the disagreement from ``cfg.restarts`` random starts, as one batch."""
    import torch

    rng = np.random.default_rng(seed)
    x, field, usable = signal_tensor(ensemble, signal)
    device, dtype = x.device, x.dtype
    chunk = usable if cfg.chunk_seconds is None else max(1, int(cfg.chunk_seconds * sample_rate))
    excerpt = None if cfg.excerpt_seconds is None else min(usable, max(1, int(cfg.excerpt_seconds * sample_rate)))
    u0 = rng.normal(0.0, cfg.init_std, size=(cfg.restarts, dims))
    u = torch.tensor(u0, dtype=dtype, device=device, requires_grad=True)
    optimizer = torch.optim.Adam([u], lr=cfg.lr)
    trace: list[list[float | None]] = []
    full = [(field - 1, x.shape[0])]
    # with excerpts, never the input's silent lead-in, gaps or tail (scores.playing_starts)
    scoring = full if excerpt is None else spans_for(signal, field, excerpt, cfg.score_excerpts)
    playing = np.array([field - 1]) if excerpt is None else playing_starts(signal, field, excerpt)
    with _frozen(ensemble):
        for step in range(cfg.steps):
            optimizer.zero_grad()
            if excerpt is None:
                spans = full
            else:
                start = int(rng.choice(playing))
                spans = [(start, start + excerpt)]
            scores = _disagreement(ensemble, x, u, field, spans, chunk, cfg.normalize, backward=True)
            optimizer.step()
            if step % cfg.trace_every == 0:
                trace.append([float(step), *map(_finite_or_none, scores)])
        with torch.no_grad():
            final = _disagreement(ensemble, x, u, field, scoring, chunk, cfg.normalize, backward=False)
        trace.append([float(cfg.steps), *map(_finite_or_none, final)])
        points = torch.sigmoid(u).detach().cpu().numpy().astype(np.float64)
    return SearchResult(points=points, scores=final.astype(np.float64), start=1 / (1 + np.exp(-u0)), trace=trace)


def signal_tensor(ensemble: Ensemble, signal: np.ndarray) -> tuple[Any, int, int]:
    """The input as a tensor where the ensemble computes, its receptive field, and the number of
    output samples it yields (a clear error when the input is shorter than the field)."""
    import torch

    device, dtype = _placement(ensemble)
    x = torch.as_tensor(np.ascontiguousarray(signal), dtype=dtype, device=device).reshape(-1)
    field = int(getattr(ensemble, "receptive_field", 1))
    usable = x.shape[0] - field + 1
    if usable < 1:
        raise PanamaError(
            f"the input signal ({x.shape[0]} samples) is shorter than the model's receptive field ({field})",
            "use a longer input signal or a smaller net",
        )
    return x, field, usable


def _disagreement(
    ensemble: Ensemble,
    x: Any,
    u: Any,
    field: int,
    spans: list[tuple[int, int]],
    chunk: int,
    normalize: bool,
    *,
    backward: bool,
) -> np.ndarray:
    """Disagreement per restart over the output samples of ``spans`` (input indices), by chunks.

    Output sample t needs inputs t-field+1..t, so a chunk of outputs reads ``field - 1`` samples
    of preroll. Plain variance is a sum over time, so per-chunk backward passes accumulate
    exactly the gradient of the whole; the normalised score is the mean of per-chunk ratios
    (exact whenever one chunk covers a span, as with the usual short excerpts).
    """
    import torch

    pieces = [(lo, min(lo + chunk, stop)) for start, stop in spans for lo in range(start, stop, chunk)]
    total = sum(hi - lo for lo, hi in pieces)
    result = torch.zeros(u.shape[0], device=u.device)
    for lo, hi in pieces:
        knobs = torch.sigmoid(u)
        out = ensemble.predict(x[lo - field + 1 : hi], knobs)[..., -(hi - lo) :]  # [M, R, hi-lo]
        variance = out.var(dim=0)  # across members (unbiased, as the reference)
        if normalize:
            energy = out.pow(2).mean(dim=0).sum(dim=-1).clamp_min(_ENERGY_FLOOR)
            part = variance.sum(dim=-1) / energy / len(pieces)
        else:
            part = variance.sum(dim=-1) / total
        if backward:
            (-part.sum()).backward()
        result += part.detach()
    return result.cpu().numpy()


def _module_of(ensemble: Any) -> Any:
    """The torch module behind an ensemble: itself, or its ``net`` (as ``TrainedEnsemble``)."""
    if callable(getattr(ensemble, "parameters", None)):
        return ensemble
    return getattr(ensemble, "net", None)


class _frozen:
    """Eval mode and no weight gradients while searching (they are not needed, and cost time)."""

    def __init__(self, ensemble: Any) -> None:
        self.ensemble = _module_of(ensemble)
        self.saved: list[tuple[Any, bool]] = []

    def __enter__(self) -> None:
        if hasattr(self.ensemble, "eval"):
            self.ensemble.eval()
        parameters = getattr(self.ensemble, "parameters", None)
        if callable(parameters):
            for p in parameters():
                self.saved.append((p, p.requires_grad))
                p.requires_grad_(False)

    def __exit__(self, *exc: object) -> None:
        for p, flag in self.saved:
            p.requires_grad_(flag)


def _finite_or_none(value: float) -> float | None:
    """JSON has no NaN: a diverged restart's score is written as null."""
    return float(value) if np.isfinite(value) else None


def _placement(ensemble: Any) -> tuple[Any, Any]:
    """The device and float dtype the ensemble computes in (``device`` attribute, else weights)."""
    import torch

    device, dtype = getattr(ensemble, "device", None), torch.float32
    parameters = getattr(_module_of(ensemble), "parameters", None)
    if callable(parameters):
        for p in parameters():
            device = device if device is not None else p.device
            dtype = p.dtype if p.is_floating_point() else dtype
            break
    return torch.device(device if device is not None else "cpu"), dtype
