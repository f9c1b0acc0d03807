"""``ensemble-diverse``: active learning built to beat space-filling designs on a CPU budget.

What the paper's ``ensemble-disagreement`` does not do, and this sampler does (issue 11):

1. Members worth listening to: warm-started from the previous round's ensemble (shrink and
   perturb), each on its own bootstrap draw of the labelled settings, their validation ESR
   recorded; while the median member still validates above ``competence_esr`` their spread is
   noise, so the round falls back to a space-filling continuation (Sobol pool, farthest from
   what is labelled) and says so (notes and journal).
2. A scale-free score (:mod:`panama.acquisition.scores`): disagreement relative to the members'
   output energy, or in log-spectral dB, so loud settings and box edges are not favoured.
3. A diverse batch (:mod:`panama.acquisition.batch`): a Sobol pool of candidates is scored, the
   best ``restarts`` of them are refined by gradient ascent, and the batch is picked from pool
   and refined points alike, greedily (or in proportion to the score) on the members' covariance
   (or, with ``kernel_length``, their disagreements correlated by distance) conditioned on each
   pick, never two picks closer than ``min_distance``. Optionally the criterion is the
   integrated variance reduction over the pool instead of the variance.
4. For the report: per proposal, the members' output levels, its disagreement, and the score
   along each knob axis through it (``profile_points``).

torch is imported inside the functions that need it: listing samplers never loads it.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from panama.acquisition import batch
from panama.acquisition.active import _finite_or_none, _frozen, signal_tensor
from panama.acquisition.batch import Criterion, Selection
from panama.acquisition.dedup import farthest_from
from panama.acquisition.designs import farthest_batch, sobol_design
from panama.acquisition.fixed import FIXED_SAMPLERS
from panama.acquisition.members import incompetence, member_notes, require_training
from panama.acquisition.scores import SCORE_NAMES, Score, ScoreSpec, climb, evaluate, spans_for
from panama.core.errors import PanamaError
from panama.core.knobs import KnobSetting
from panama.core.protocols import ComponentConfig, Ensemble, SamplerContext


class EnsembleDiverseConfig(ComponentConfig):
    """Members, score, search and batch of the recommended active sampler (CPU-sized defaults)."""

    members: int = Field(4, ge=2, le=64, description="ensemble size")
    warm_start: bool = Field(True, description="continue from the previous round's members (shrink and perturb)")
    shrink: float = Field(0.8, ge=0.0, le=1.0, description="warm start: factor on the previous weights")
    perturb: float = Field(0.1, ge=0.0, le=1.0, description="warm start: factor on a fresh initialisation")
    warm_steps: float = Field(0.5, gt=0.0, le=1.0, description="warm start: share of the ensemble recipe's steps")
    bootstrap: bool = Field(True, description="each member trains on its own bootstrap draw of the settings")
    competence_esr: float | None = Field(
        1.0, gt=0.0, description="median member validation ESR above this: a space-filling round instead"
    )
    min_labelled: int = Field(2, ge=0, description="with fewer labelled settings, use initial_design instead")
    initial_design: Literal["random", "beta", "sobol", "lhs", "lhs-corners", "grid"] = Field(
        "sobol", description="space-filling design used before an ensemble can be trained"
    )
    score: Score = Field("relative", description="relative (variance / output energy), log-spectral or variance")
    score_power: float = Field(
        1.0, ge=0.0, le=1.0,
        description="relative: variance / energy**score_power (1 scale-free; 0.5 weighs settings as level_weight 0.5 does)",
    )
    criterion: Criterion = Field("variance", description="variance, or integrated (variance reduction over the pool)")
    anchored: bool = Field(
        True, description="scale-free scores anchored to the labelled settings' typical level (quiet_db, floor_db)"
    )
    quiet_db: float = Field(-20.0, le=0.0, description="relative: settings this far below the typical level count as it")
    fft_size: int = Field(256, ge=8, description="log-spectral: FFT size")
    floor_db: float = Field(-40.0, le=0.0, description="log-spectral: floor below the typical (else the setting's) power")
    pool: int = Field(128, ge=1, le=65536, description="Sobol candidates scored each round")
    restarts: int = Field(8, ge=0, le=1024, description="best pool candidates refined by gradient ascent")
    steps: int = Field(30, ge=0, le=100_000, description="Adam steps per refinement (from good starts: few)")
    lr: float = Field(0.05, gt=0.0, description="Adam learning rate on u (knobs = sigmoid(u))")
    excerpt_seconds: float | None = Field(0.05, gt=0.0, description="input excerpt per step and per score")
    score_excerpts: int = Field(2, ge=1, description="candidates are scored on this many evenly spaced excerpts")
    eval_batch: int = Field(32, ge=1, description="memory bound: candidates per forward pass")
    selection: Selection = Field("greedy", description="greedy, or proportional (draw ∝ score ** power)")
    power: float = Field(1.0, gt=0.0, description="proportional selection: exponent on the score")
    condition: float = Field(
        0.5, ge=0.0, le=1.0, description="share of a pick's covariance removed from the others (1: exact conditioning)"
    )
    noise: float = Field(1.0, gt=0.0, description="integrated criterion: noise relative to the pool's mean variance")
    kernel_length: float | None = Field(
        None, gt=0.0, le=10.0,
        description="covariance between candidates: their disagreements correlated by exp(-d²/2ℓ²) in the unit box "
                    "(none: the members' deviations)",
    )
    min_distance: float | None = Field(
        None, ge=0.0, description="no two proposals (nor a proposal and a label) closer; default from budget and knobs"
    )
    distance_power: float = Field(
        0.0, ge=0.0, le=8.0,
        description="criterion times (distance to the nearest label or pick) ** this: 0 off; 1 leans to uncovered settings",
    )
    profile_points: int = Field(5, ge=0, le=101, description="report: score at this many values per knob axis (0: off)")
    fit_options: dict[str, Any] = Field(default_factory=dict, description="extra keyword arguments for fit_ensemble")

    @field_validator("competence_esr", "excerpt_seconds", "min_distance", "kernel_length", mode="before")
    @classmethod
    def _words_for_none(cls, value: Any) -> Any:
        """``--sampler-option competence_esr=none`` (or ``off``; ``min_distance=auto``) means None."""
        if isinstance(value, str) and value.strip().lower() in {"none", "off", "auto", "null", ""}:
            return None
        return value


class EnsembleDiverseSampler:
    """Proposes a diverse batch where competent, warm-started, bootstrapped members disagree."""

    name = "ensemble-diverse"
    Config = EnsembleDiverseConfig
    # For `panama compare`: a round sees only what was labelled before it, so the first k labels
    # are what a budget-k run would have chosen (except that the automatic min_distance is sized
    # to the whole budget).
    nested_design = True

    def __init__(self, config: EnsembleDiverseConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()
        self.last_ensemble: Ensemble | None = None

    @property
    def initial_design(self) -> str:
        return self.config.initial_design

    def min_distance(self, context: SamplerContext) -> float:
        """The configured distance, or half the spacing of the whole budget in the knob box (≤ 0.2)."""
        if self.config.min_distance is not None:
            return self.config.min_distance
        total = max(1, len(context.labelled) + context.budget_remaining)
        return float(min(0.2, 0.5 * total ** (-1.0 / max(1, len(context.knob_space)))))

    def propose(self, context: SamplerContext, n: int) -> list[KnobSetting]:
        cfg = self.config
        if n <= 0:
            return []
        if len(context.labelled) < cfg.min_labelled:
            context.log(f"{len(context.labelled)} labelled setting(s): choosing from the {cfg.initial_design} design")
            context.notes["fallback"] = {"design": cfg.initial_design, "reason": "too few labels to train on"}
            return FIXED_SAMPLERS[cfg.initial_design]().take(context, n, len(context.labelled) + n)
        require_training(context, self.name)
        started = time.perf_counter()
        options = dict(cfg.fit_options)
        if cfg.warm_start:
            options["warm_start"] = {"shrink": cfg.shrink, "perturb": cfg.perturb, "steps": cfg.warm_steps}
        if cfg.bootstrap:
            options["bootstrap"] = True
        assert context.fit_ensemble is not None  # require_training checked it
        ensemble = context.fit_ensemble(members=cfg.members, **options)
        self.last_ensemble = ensemble
        fitted = time.perf_counter()
        members = member_notes(ensemble)
        context.notes["members"] = members
        seed = int(context.rng.integers(0, 2**31 - 1))
        labelled = context.labelled_unit()
        distance = self.min_distance(context)
        reason = incompetence(members, cfg.competence_esr)
        if reason:
            points = farthest_batch(labelled, n, len(context.knob_space), seed)
            context.log(f"round {context.round}: {reason}: the members are not competent yet, "
                        f"so {len(points)} space-filling (sobol) settings this round")
            context.notes["fallback"] = {"design": "sobol", "reason": reason}
            context.notes["timing"] = {"fit_s": fitted - started, "search_s": time.perf_counter() - fitted}
            return context.knob_space.from_unit_array(points)
        chosen, notes = self._search(ensemble, context, n, labelled, distance, seed)
        notes["timing"] = {"fit_s": fitted - started, "search_s": time.perf_counter() - fitted}
        context.notes.update(notes)
        return context.knob_space.from_unit_array(chosen)

    def _search(self, ensemble: Any, context: SamplerContext, n: int, labelled: np.ndarray, distance: float,
                seed: int) -> tuple[np.ndarray, dict[str, Any]]:
        cfg = self.config
        dims = len(context.knob_space)
        x, field, usable = signal_tensor(ensemble, np.asarray(context.input_signal))
        excerpt = usable if cfg.excerpt_seconds is None else min(usable, max(1, int(cfg.excerpt_seconds * context.sample_rate)))
        spans = spans_for(context.input_signal, field, excerpt, cfg.score_excerpts)
        kw: dict[str, Any] = {"field": field, "batch": cfg.eval_batch}
        spec = ScoreSpec(cfg.score, cfg.fft_size, cfg.floor_db, cfg.quiet_db, power=cfg.score_power)
        rng = np.random.default_rng(seed)
        pool = sobol_design(cfg.pool, dims, seed)
        with _frozen(ensemble):
            if cfg.anchored and cfg.score != "variance" and len(labelled):
                typical = evaluate(ensemble, x, labelled, spans, spec, **kw).levels
                typical = typical[np.isfinite(typical) & (typical > 0)]
                spec = replace(spec, reference=float(np.median(typical))) if len(typical) else spec
            pooled = evaluate(ensemble, x, pool, spans, spec, deviations=True, **kw)
            ranked = np.argsort(-np.nan_to_num(pooled.scores, nan=-np.inf), kind="stable")
            starts = pool[ranked[: min(cfg.restarts, len(pool))]]
            refined = (climb(ensemble, x, starts, spec, field=field, excerpt=excerpt, steps=cfg.steps, lr=cfg.lr, rng=rng)
                       if len(starts) and cfg.steps else np.empty((0, dims)))
            polished = evaluate(ensemble, x, refined, spans, spec, deviations=True, **kw)
            candidates = np.vstack([pool, refined])
            scores = np.concatenate([pooled.scores, polished.scores])
            levels = np.vstack([pooled.member_rms_db, polished.member_rms_db]) if len(refined) else pooled.member_rms_db
            finite = np.isfinite(scores)
            if not finite.any():
                raise PanamaError(
                    "the ensemble's outputs are not finite (NaN or inf), so there is no disagreement to climb",
                    "check the labelled recordings and the training settings (a lower learning rate)",
                )
            parts = [pooled.deviations] + ([polished.deviations] if len(refined) else [])
            deviations = np.vstack([d for d in parts if d is not None])
            deviations[~np.isfinite(deviations).all(axis=1)] = 0.0
            gram = (deviations @ deviations.T if cfg.kernel_length is None
                    else batch.kernel_gram(candidates, np.nan_to_num(scores, nan=0.0), cfg.kernel_length))
            picked = batch.select(
                candidates, gram, n, labelled=labelled, min_distance=distance,
                criterion=cfg.criterion, reference=np.arange(len(pool)), noise=cfg.noise, selection=cfg.selection,
                power=cfg.power,
                condition=cfg.condition, distance_power=cfg.distance_power, rng=rng,
            )
            order, values = picked.order, picked.values
            filler = not order
            if filler:
                context.log("no candidate is informative and far enough from the labels; proposing the least covered setting")
                chosen = farthest_from(labelled, pool)[None, :]
            else:
                chosen = candidates[order]
            grid = np.linspace(0.0, 1.0, cfg.profile_points) if cfg.profile_points else np.empty(0)
            profiles = self._profiles(ensemble, x, chosen, grid, spans[:1], spec, kw) if len(grid) else None
        space = context.knob_space
        proposals = []
        for j, point in enumerate(chosen):
            entry: dict[str, Any] = {"unit": [float(v) for v in point], "setting": space.from_unit(point)}
            if not filler:
                i = order[j]
                entry.update({
                    "source": "pool" if i < len(pool) else f"refined from pool #{int(ranked[i - len(pool)])}",
                    "disagreement": _finite_or_none(scores[i]),
                    "criterion": values[j],
                    "member_rms_db": [_finite_or_none(v) for v in levels[i]],
                })
            if profiles is not None:
                entry["profile"] = [[_finite_or_none(v) for v in row[:-1]] for row in profiles[j]]
                entry["profile_at"] = _finite_or_none(profiles[j][0][-1])
            proposals.append(entry)
        pool_finite = pooled.scores[np.isfinite(pooled.scores)]
        notes: dict[str, Any] = {
            "scores": [None] * len(chosen) if filler else values,
            "score": f"{SCORE_NAMES[cfg.score]}; criterion {cfg.criterion}, {cfg.selection} batch"
                     + (f", kernel covariance (length {cfg.kernel_length:g})" if cfg.kernel_length else "")
                     + (f", times distance^{cfg.distance_power:g}" if cfg.distance_power else ""),
            "reference_level": spec.reference,
            "min_distance": distance,
            "candidates": {"pool": len(pool), "refined": len(refined), "finite": int(finite.sum())},
            "pool_disagreement": {
                q: float(np.quantile(pool_finite, p)) for q, p in (("min", 0), ("median", 0.5), ("max", 1))
            } if len(pool_finite) else None,
            "proposals": proposals,
            "profile_grid": [float(v) for v in grid],
            "knobs": list(space.names),
            "filler": filler,
        }
        return chosen, notes

    def _profiles(self, ensemble: Any, x: Any, chosen: np.ndarray, grid: np.ndarray, spans: list[tuple[int, int]],
                  spec: ScoreSpec, kw: dict[str, Any]) -> np.ndarray:
        """``[n, K, P + 1]``: the pointwise score along each knob axis through each proposal, on the
        profile's excerpt; the last value of every row is the score at the proposal itself."""
        n, dims = chosen.shape
        lines = np.repeat(chosen[:, None, None, :], dims, axis=1).repeat(len(grid) + 1, axis=2)  # [n, K, P+1, K]
        for k in range(dims):
            lines[:, k, :-1, k] = grid
        flat = evaluate(ensemble, x, lines.reshape(-1, dims), spans, spec, **kw).scores
        return flat.reshape(n, dims, len(grid) + 1)
