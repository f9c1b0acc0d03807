"""ensemble-disagreement on toy ensembles whose disagreement landscape is known exactly.

The toys are real torch modules implementing the Ensemble protocol (``predict(x, knobs) ->
[M, B, T']``, differentiable in the knobs): member m outputs a causal moving average of the
input times ``1 + g_m · bump(knobs)``, with member gains g_m spread around zero, so the
across-member variance is largest exactly where ``bump`` peaks.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from panama.acquisition import dedup
from panama.acquisition.active import _disagreement, search
from panama.core.components import build
from panama.core.errors import PanamaError
from panama.core.knobs import KnobSpace
from panama.core.protocols import Ensemble, SamplerContext

torch = pytest.importorskip("torch")

SPACE = KnobSpace.of("gain", "bass", "treble")
TARGET = np.array([0.8, 0.3, 0.6])
OTHER = np.array([0.15, 0.85, 0.2])
RATE = 1000
SIGNAL = np.sin(np.linspace(0.0, 40.0, 200)).astype(np.float32)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class BumpEnsemble(torch.nn.Module):
    """Members disagree in proportion to a sum of Gaussian bumps centred on ``centres``."""

    def __init__(self, centres, heights, *, width=0.2, members=4, field=1, loudness=None, nan_below=None):
        super().__init__()
        self.register_buffer("centres", torch.tensor(np.array(centres), dtype=torch.float32))
        self.register_buffer("heights", torch.tensor(heights, dtype=torch.float32))
        self.register_buffer("gains", torch.linspace(-1.0, 1.0, members))
        # A real (trainable) parameter, to check the search freezes and restores it.
        self.kernel = torch.nn.Parameter(torch.full((field,), 1.0 / field))
        self.width = width
        self.members = members
        self.receptive_field = field
        self.loudness = loudness  # optional: output level grows with this knob index
        self.nan_below = nan_below  # optional: outputs are NaN where the first knob is below this
        self.calls: list[tuple[int, tuple[int, ...]]] = []

    def bump(self, knobs):
        d2 = ((knobs[:, None, :] - self.centres[None]) ** 2).sum(-1)
        return (self.heights * torch.exp(-d2 / (2 * self.width**2))).sum(-1)

    def predict(self, x, knobs):
        self.calls.append((int(x.shape[-1]), tuple(knobs.shape)))
        smooth = torch.nn.functional.conv1d(x.reshape(1, 1, -1), self.kernel.reshape(1, 1, -1))[0, 0]
        level = 1.0 if self.loudness is None else 1.0 + 20.0 * knobs[:, self.loudness] ** 2
        scale = (1.0 + self.gains[:, None] * self.bump(knobs)[None, :]) * level  # [M, B]
        if self.nan_below is not None:
            scale = torch.where(knobs[None, :, 0] < self.nan_below, torch.nan, scale)
        return scale[:, :, None] * smooth[None, None, :]


def context(ensemble, labelled=(), *, budget=20, seed=0, **extra) -> SamplerContext:
    fitted: list[dict] = []

    def fit_ensemble(**options):
        fitted.append(options)
        return ensemble

    ctx = SamplerContext(
        knob_space=SPACE,
        labelled=[SPACE.from_unit(p) if not isinstance(p, dict) else p for p in labelled],
        budget_remaining=budget - len(labelled),
        rng=np.random.default_rng(seed),
        seed=seed,
        input_signal=SIGNAL,
        sample_rate=RATE,
        fit_ensemble=fit_ensemble,
        **extra,
    )
    ctx.fitted = fitted  # type: ignore[attr-defined]
    return ctx


SOME_LABELS = ([0.1, 0.1, 0.1], [0.5, 0.9, 0.9])


def unit(settings) -> np.ndarray:
    return SPACE.to_unit_array(settings)


def test_toy_follows_the_protocol() -> None:
    assert isinstance(BumpEnsemble([TARGET], [1.0]), Ensemble)


def test_finds_the_known_most_disagreeing_setting_and_dedups_it() -> None:
    ensemble = BumpEnsemble([TARGET], [1.0], field=5)
    ctx = context(ensemble, SOME_LABELS)
    proposals = build("sampler", "ensemble-disagreement", {}).propose(ctx, 10)
    # All ten restarts climb the one bump: one proposal, at the bump.
    assert len(proposals) == 1
    assert np.abs(unit(proposals)[0] - TARGET).max() < 0.05
    assert ctx.fitted == [{"members": 4}]
    optima = ctx.notes["optima"]
    assert len(optima) == 10
    assert all(np.abs(np.array(o["unit"]) - TARGET).max() < 0.05 for o in optima)
    assert sum(o["status"] in ("kept",) or o["status"].startswith("best of") for o in optima) == 1
    assert ctx.notes["scores"] == [max(o["score"] for o in optima)]


def test_restarts_run_as_one_batch_on_a_frozen_ensemble() -> None:
    ensemble = BumpEnsemble([TARGET], [1.0], field=5)
    sampler = build("sampler", "ensemble-disagreement", {"steps": 30, "restarts": 6})
    sampler.propose(context(ensemble, SOME_LABELS), 6)
    # One predict call per step (plus the final scoring), every one with all 6 restarts.
    assert len(ensemble.calls) == 31
    assert {shape for _, shape in ensemble.calls} == {(6, 3)}
    assert ensemble.kernel.requires_grad and ensemble.kernel.grad is None
    assert sampler.last_ensemble is ensemble


def test_two_optima_best_first_and_labelled_ones_excluded() -> None:
    ensemble = BumpEnsemble([TARGET, OTHER], [1.0, 0.7], width=0.15)
    options = {"restarts": 16, "init_std": 1.5}
    ctx = context(ensemble, SOME_LABELS, seed=1)
    proposals = unit(build("sampler", "ensemble-disagreement", options).propose(ctx, 10))
    assert len(proposals) == 2
    assert np.abs(proposals[0] - TARGET).max() < 0.05
    assert np.abs(proposals[1] - OTHER).max() < 0.05
    assert ctx.notes["scores"][0] > ctx.notes["scores"][1]

    # Once the better bump is labelled, it is never proposed again; the other one is.
    labelled = [*ctx.labelled, SPACE.from_unit(TARGET)]
    again = context(ensemble, labelled, seed=1)
    proposals = unit(build("sampler", "ensemble-disagreement", options).propose(again, 10))
    gaps = np.linalg.norm(proposals - TARGET, axis=1)
    assert (gaps >= 0.02).all()
    assert np.abs(proposals[0] - OTHER).max() < 0.05
    assert any("labelled" in o["status"] for o in again.notes["optima"])


@pytest.mark.parametrize("dedup", ["hdbscan", "radius"])
def test_restarts_on_one_optimum_give_one_proposal(dedup: str) -> None:
    ensemble = BumpEnsemble([TARGET], [1.0])
    ctx = context(ensemble, SOME_LABELS)
    proposals = build("sampler", "ensemble-disagreement", {"dedup": dedup}).propose(ctx, 10)
    # HDBSCAN may call exactly converged copies all noise (zero core distances); the
    # min_distance filter is what merges them then. Either way: one proposal.
    assert len(proposals) == 1


def test_radius_dedup_alone_merges_converged_restarts() -> None:
    ensemble = BumpEnsemble([TARGET], [1.0])
    ctx = context(ensemble, SOME_LABELS)
    options = {"dedup": "radius", "min_distance": 0.0}
    assert len(build("sampler", "ensemble-disagreement", options).propose(ctx, 10)) == 1
    assert {o["cluster"] for o in ctx.notes["optima"]} == {0}


A, B = np.array([0.8, 0.3, 0.6]), np.array([0.15, 0.85, 0.2])
JITTERED = np.vstack(
    [
        A + np.random.default_rng(0).normal(0, 1e-3, (4, 3)),
        B + np.random.default_rng(1).normal(0, 1e-3, (4, 3)),
        [[0.05, 0.05, 0.95], [0.95, 0.95, 0.95]],  # two lone optima
    ]
)
JITTERED_SCORES = np.array([5, 6, 4, 3, 9, 8, 7, 1, 2, 10.0])


def test_hdbscan_keeps_the_best_of_each_cluster_and_all_noise() -> None:
    chosen = dedup.select(JITTERED, JITTERED_SCORES, labelled=np.empty((0, 3)), min_distance=0.0)
    labels = chosen.clusters
    expected = {int(i) for i in np.flatnonzero(labels < 0)}
    for label in set(labels[labels >= 0].tolist()):
        members = np.flatnonzero(labels == label)
        expected.add(int(members[np.argmax(JITTERED_SCORES[members])]))
    assert set(chosen.order) == expected
    assert list(JITTERED_SCORES[chosen.order]) == sorted(JITTERED_SCORES[chosen.order], reverse=True)
    # The restarts around B always form one cluster, as do those around A.
    assert len(set(labels[4:8])) == 1 and labels[4] >= 0
    assert len(set(labels[:4])) == 1


def test_radius_keeps_every_distinct_optimum_best_first() -> None:
    chosen = dedup.select(
        JITTERED, JITTERED_SCORES, labelled=np.empty((0, 3)), min_distance=0.0, method="radius"
    )
    assert chosen.order == [9, 4, 1, 8]  # lone 10, best of B (9), best of A (6), lone 2


def test_no_dedup_keeps_distinct_restarts_apart_only_by_min_distance() -> None:
    ensemble = BumpEnsemble([TARGET], [1.0])
    ctx = context(ensemble, SOME_LABELS)
    proposals = build("sampler", "ensemble-disagreement", {"dedup": "none", "min_distance": 0.0}).propose(ctx, 10)
    assert len(proposals) == 10  # nothing merges them: the min distance is what protects users
    ctx = context(ensemble, SOME_LABELS)
    assert len(build("sampler", "ensemble-disagreement", {"dedup": "none"}).propose(ctx, 10)) == 1


def test_every_optimum_labelled_gives_one_far_away_filler() -> None:
    ensemble = BumpEnsemble([TARGET], [1.0])
    labelled = [*SOME_LABELS, list(TARGET)]
    ctx = context(ensemble, labelled)
    proposals = build("sampler", "ensemble-disagreement", {"min_distance": 0.1}).propose(ctx, 5)
    assert len(proposals) == 1 and ctx.notes["filler"] is True
    assert ctx.notes["scores"] == [None]
    gaps = np.linalg.norm(unit(proposals)[0] - np.array(labelled), axis=1)
    assert gaps.min() > 0.3


def test_deterministic_for_the_same_rng_seed() -> None:
    ensemble = BumpEnsemble([TARGET, OTHER], [1.0, 0.7], width=0.15)
    options = {"steps": 60}
    first = build("sampler", "ensemble-disagreement", options).propose(context(ensemble, SOME_LABELS, seed=5), 10)
    again = build("sampler", "ensemble-disagreement", options).propose(context(ensemble, SOME_LABELS, seed=5), 10)
    assert first == again


def test_falls_back_to_a_space_filling_design_without_enough_labels() -> None:
    ensemble = BumpEnsemble([TARGET], [1.0])
    sampler = build("sampler", "ensemble-disagreement", {})
    assert sampler.initial_design == "sobol"
    ctx = context(ensemble, [SOME_LABELS[0]])
    proposals = sampler.propose(ctx, 4)
    assert len(proposals) == 4 and ctx.fitted == [] and ctx.notes["fallback"] == "sobol"
    sobol = build("sampler", "sobol", {}).propose(context(ensemble, [SOME_LABELS[0]]), 4)
    assert proposals == sobol
    lhs = build("sampler", "ensemble-disagreement", {"initial_design": "lhs"})
    points = unit(lhs.propose(context(ensemble, []), 8))
    for column in points.T:  # a Latin hypercube of the 8 points asked for, not of the budget
        assert sorted(np.floor(column * 8).astype(int)) == list(range(8))


def test_chunked_disagreement_is_exact() -> None:
    ensemble = BumpEnsemble([TARGET], [1.0], field=7)
    x = torch.as_tensor(SIGNAL)
    u0 = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))

    def score_and_grad(chunk):
        u = u0.clone().requires_grad_(True)
        scores = _disagreement(ensemble, x, u, 7, [(6, len(SIGNAL))], chunk, False, backward=True)
        return scores, u.grad.clone()

    with torch.no_grad():
        direct = ensemble.predict(x, torch.sigmoid(u0)).var(dim=0).mean(dim=-1).numpy()
    whole, grad_whole = score_and_grad(10_000)
    pieces, grad_pieces = score_and_grad(23)
    np.testing.assert_allclose(whole, direct, rtol=1e-5)
    np.testing.assert_allclose(pieces, direct, rtol=1e-5)
    torch.testing.assert_close(grad_pieces, grad_whole, rtol=1e-4, atol=1e-7)


def test_excerpts_keep_every_search_step_short() -> None:
    ensemble = BumpEnsemble([TARGET], [1.0], field=5)
    options = {"excerpt_seconds": 0.03, "score_excerpts": 3}
    ctx = context(ensemble, SOME_LABELS)
    proposals = build("sampler", "ensemble-disagreement", options).propose(ctx, 10)
    assert np.abs(unit(proposals)[0] - TARGET).max() < 0.05
    lengths = {length for length, _ in ensemble.calls}
    assert lengths == {30 + 4}  # 30 outputs plus the receptive field's preroll


def test_loudness_normalised_disagreement_does_not_chase_loud_settings() -> None:
    # Relative disagreement peaks at a quiet setting (treble 0.1); a loud one (treble 1, up to
    # 21× the level) has half the relative disagreement but far more raw variance.
    quiet, loud = np.array([0.8, 0.3, 0.1]), np.array([0.2, 0.5, 1.0])
    ensemble = BumpEnsemble([quiet, loud], [1.0, 0.5], width=0.2, loudness=2)
    raw = unit(build("sampler", "ensemble-disagreement", {}).propose(context(ensemble, SOME_LABELS), 10))
    normalised_sampler = build("sampler", "ensemble-disagreement", {"normalize": True})
    ctx = context(ensemble, SOME_LABELS)
    normalised = unit(normalised_sampler.propose(ctx, 10))
    assert np.abs(raw[0] - loud).max() < 0.1  # raw variance goes where it is loud
    assert np.abs(normalised[0] - quiet).max() < 0.05
    assert ctx.notes["score"] == "normalised variance"


def test_notes_are_json_ready_for_the_round_report() -> None:
    ensemble = BumpEnsemble([TARGET], [1.0])
    ctx = context(ensemble, SOME_LABELS)
    build("sampler", "ensemble-disagreement", {"steps": 20, "trace_every": 5}).propose(ctx, 3)
    notes = json.loads(json.dumps(ctx.notes))
    assert [row[0] for row in notes["trace"]] == [0, 5, 10, 15, 20]
    assert all(len(row) == 11 for row in notes["trace"])
    assert set(notes["optima"][0]) >= {"unit", "setting", "start", "score", "cluster", "status"}
    assert notes["timing"]["search_s"] >= 0


def test_diverged_restarts_are_reported_never_proposed() -> None:
    ensemble = BumpEnsemble([TARGET], [1.0], nan_below=0.3)
    ctx = context(ensemble, SOME_LABELS)
    proposals = build("sampler", "ensemble-disagreement", {}).propose(ctx, 10)
    diverged = [o for o in ctx.notes["optima"] if o["score"] is None]
    assert diverged and all(o["status"].startswith("diverged") for o in diverged)
    assert len(proposals) == 1 and np.abs(unit(proposals)[0] - TARGET).max() < 0.05
    json.dumps(ctx.notes, allow_nan=False)
    everywhere = context(BumpEnsemble([TARGET], [1.0], nan_below=2.0), SOME_LABELS)
    with pytest.raises(PanamaError, match="not finite"):
        build("sampler", "ensemble-disagreement", {"steps": 5}).propose(everywhere, 3)


def test_clear_errors_without_training_engine_or_input() -> None:
    ensemble = BumpEnsemble([TARGET], [1.0])
    sampler = build("sampler", "ensemble-disagreement", {})
    with pytest.raises(PanamaError, match="training engine"):
        sampler.propose(_without(ensemble, fit=True), 2)
    with pytest.raises(PanamaError, match="input signal"):
        sampler.propose(_without(ensemble, signal=True), 2)
    short = context(BumpEnsemble([TARGET], [1.0], field=500), SOME_LABELS)
    with pytest.raises(PanamaError, match="receptive field"):
        sampler.propose(short, 2)
    with pytest.raises(PanamaError, match="ensemble-disagreement"):
        build("sampler", "ensemble-disagreement", {"members": 1})


def _without(ensemble, *, fit=False, signal=False) -> SamplerContext:
    ctx = context(ensemble, SOME_LABELS)
    if fit:
        ctx.fit_ensemble = None
    if signal:
        ctx.input_signal = None
    return ctx


def test_search_is_usable_on_its_own() -> None:
    from panama.acquisition.active import EnsembleDisagreementConfig

    result = search(BumpEnsemble([TARGET], [1.0]), SIGNAL, RATE, 3, EnsembleDisagreementConfig(restarts=3), 0)
    assert result.points.shape == (3, 3) and result.scores.shape == (3,)
    assert np.abs(result.points - TARGET).max() < 0.05
