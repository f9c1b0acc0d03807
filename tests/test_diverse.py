"""ensemble-diverse on the toy ensembles of test_active (known disagreement landscapes), and the
paper variant's defaults, which must stay exactly the paper's."""

from __future__ import annotations

import json

import numpy as np
import pytest

from panama.acquisition import batch
from panama.acquisition.active import EnsembleDisagreementConfig
from panama.acquisition.designs import min_distances
from panama.core.components import build
from panama.core.errors import PanamaError
from test_active import SOME_LABELS, TARGET, BumpEnsemble, context, unit

torch = pytest.importorskip("torch")

FAST = {"pool": 64, "restarts": 4, "steps": 40, "profile_points": 5}


def pairwise_min(points: np.ndarray) -> float:
    gaps = np.linalg.norm(points[:, None] - points[None], axis=-1)
    return float(gaps[~np.eye(len(points), dtype=bool)].min())


class Metered(BumpEnsemble):
    """A toy whose members report validation errors, as a trained ensemble does."""

    def __init__(self, *args, val_esr=(0.1, 0.2, 0.2, 0.3), **kwargs):
        super().__init__(*args, **kwargs)
        self.metrics = {"val_esr": list(val_esr), "val_mse": [1e-3] * len(val_esr), "val_held_out": True}


def test_finds_the_bump_and_spreads_the_rest_of_the_batch() -> None:
    ensemble = Metered([TARGET], [1.0], width=0.15)
    ctx = context(ensemble, SOME_LABELS)
    sampler = build("sampler", "ensemble-diverse", {**FAST, "min_distance": 0.3})
    points = unit(sampler.propose(ctx, 5))
    assert len(points) == 5
    assert np.abs(points[0] - TARGET).max() < 0.05  # the refined optimum comes first
    assert pairwise_min(points) >= 0.3 - 1e-9
    assert min_distances(points, unit(ctx.labelled)).min() >= 0.3 - 1e-9
    # warm start and bootstrap are asked of the engine; member errors land in the notes
    assert ctx.fitted == [{"members": 4, "warm_start": {"shrink": 0.8, "perturb": 0.1, "steps": 0.5}, "bootstrap": True}]
    assert ctx.notes["members"]["median_val_esr"] == pytest.approx(0.2)
    assert ctx.notes["members"]["validated_on"] == "held-out settings"
    first = ctx.notes["proposals"][0]
    assert first["source"].startswith("refined") and first["disagreement"] > ctx.notes["pool_disagreement"]["median"]
    assert len(first["member_rms_db"]) == 4 and len(first["profile"]) == 3 and len(first["profile"][0]) == 5
    # the profile along each knob peaks near the proposal's own value
    grid = np.array(ctx.notes["profile_grid"])
    for k, row in enumerate(first["profile"]):
        assert abs(grid[int(np.argmax(row))] - points[0][k]) <= 0.25 + 1e-9
        assert first["profile_at"] >= max(row)  # the proposal tops its own profile
    json.dumps(ctx.notes, allow_nan=False)


@pytest.mark.parametrize("selection", ["greedy", "proportional"])
@pytest.mark.parametrize("criterion", ["variance", "integrated"])
def test_a_batch_never_holds_two_proposals_closer_than_the_configured_distance(selection, criterion) -> None:
    ensemble = Metered([TARGET, [0.2, 0.8, 0.3]], [1.0, 0.9], width=0.25)
    for distance in (0.15, 0.4):
        options = {**FAST, "min_distance": distance, "selection": selection, "criterion": criterion}
        ctx = context(ensemble, SOME_LABELS, seed=3)
        points = unit(build("sampler", "ensemble-diverse", options).propose(ctx, 8))
        assert len(points) >= 2
        assert pairwise_min(points) >= distance - 1e-9
        assert min_distances(points, unit(ctx.labelled)).min() >= distance - 1e-9


def test_batch_selection_rule_on_random_covariances() -> None:
    rng = np.random.default_rng(0)
    for trial in range(20):
        points = rng.random((60, 3))
        features = rng.standard_normal((60, 5)) * rng.random((60, 1))
        labelled = rng.random((4, 3))
        chosen = batch.select(points, features @ features.T, 10, labelled=labelled, min_distance=0.25,
                              selection="greedy" if trial % 2 else "proportional", rng=rng)
        picked = points[chosen.order]
        if len(picked) > 1:
            assert pairwise_min(picked) >= 0.25
        assert (min_distances(picked, labelled) >= 0.25).all()
    # conditioning: a setting moving exactly with the first pick has no variance left, an
    # independent one keeps it; once all is explained, picks go by the unconditioned values.
    features = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.7]])
    where, none = np.array([[0.0], [0.5], [1.0]]), np.empty((0, 1))
    exact = batch.select(where, features @ features.T, 3, labelled=none, min_distance=0.1, condition=1.0)
    assert exact.order == [0, 2, 1] and exact.values == pytest.approx([1.0, 0.49, 1.0])
    half = batch.select(where, features @ features.T, 2, labelled=none, min_distance=0.1, condition=0.5)
    assert half.order == [0, 1] and half.values == pytest.approx([1.0, 0.5])
    plain = batch.select(where, features @ features.T, 2, labelled=none, min_distance=0.1, condition=0.0)
    assert plain.order == [0, 1] and plain.values == pytest.approx([1.0, 1.0])
    # integrated variance: a setting that explains others beats an isolated one of equal variance
    shared = np.array([[1.0, 0.0], [0.9, 0.1], [0.9, -0.1], [0.0, 1.0]])
    ivr = batch.select(np.eye(4), shared @ shared.T, 1, labelled=np.empty((0, 4)), min_distance=0.1,
                       criterion="integrated")
    assert ivr.order == [0]
    assert batch.select(np.eye(4), shared @ shared.T, 1, labelled=np.empty((0, 4)), min_distance=0.1).order in ([0], [3])


def test_distance_power_leans_the_batch_towards_uncovered_settings() -> None:
    # three candidates of equal variance on a line, one label at 0: the farthest is picked first
    # only when distance counts; the second pick then weighs its distance to the first pick too
    where = np.array([[0.2], [0.5], [1.0]])
    gram = np.eye(3)
    labelled = np.array([[0.0]])
    assert batch.select(where, gram, 1, labelled=labelled, min_distance=0.1, distance_power=1.0).order == [2]
    assert batch.select(where, gram * [1.0, 1.0, 0.3], 1, labelled=labelled, min_distance=0.1,
                        distance_power=1.0).order == [1]  # 0.5 × 1 beats 1.0 × 0.3
    two = batch.select(where, gram, 2, labelled=labelled, min_distance=0.1, distance_power=1.0, condition=0.0)
    assert two.order == [2, 1] and two.values == pytest.approx([1.0, 0.5])  # 0.5 from both 0 and 1
    # p = 0 is the plain criterion (ties go to the first candidate)
    assert batch.select(where, gram, 1, labelled=labelled, min_distance=0.1).order == [0]
    # a higher power trades more score for distance
    scores = np.diag([1.0, 0.6, 0.0])
    near_loud = np.array([[0.2], [0.6], [0.9]])
    assert batch.select(near_loud, scores + 1e-3 * np.eye(3), 1, labelled=labelled, min_distance=0.1,
                        distance_power=1.0).order == [1]
    assert batch.select(near_loud, scores + 1e-3 * np.eye(3), 1, labelled=labelled, min_distance=0.1,
                        distance_power=0.1).order == [0]


def test_kernel_covariance_integrates_disagreement_over_the_box() -> None:
    # equal disagreement everywhere: the integrated criterion on the kernel covariance picks the
    # setting that covers most of the box (its middle, never an edge), then spreads the batch;
    # the pointwise variance cannot tell the settings apart (ties: the first candidate, an edge)
    line = np.linspace(0.0, 1.0, 21)[:, None]
    gram = batch.kernel_gram(line, np.ones(21), 0.15)
    assert np.allclose(np.diag(gram), 1.0) and gram[0, 1] == pytest.approx(np.exp(-0.05**2 / (2 * 0.15**2)))
    none = np.empty((0, 1))
    first = batch.select(line, gram, 3, labelled=none, min_distance=0.05, criterion="integrated", condition=1.0)
    assert first.order[0] == 10
    assert sorted(line[first.order, 0].round(2)) == pytest.approx([0.2, 0.5, 0.8], abs=0.051)
    assert batch.select(line, gram, 1, labelled=none, min_distance=0.05).order == [0]
    # where the members disagree more, the neighbourhood's weight moves the pick there
    leaning = batch.kernel_gram(line, 1.0 + 3.0 * (line[:, 0] > 0.6), 0.15)
    pick = batch.select(line, leaning, 1, labelled=none, min_distance=0.05, criterion="integrated").order[0]
    assert 0.65 <= line[pick, 0] <= 0.9
    # NaN disagreements count as none
    assert np.isfinite(batch.kernel_gram(line[:3], np.array([1.0, np.nan, 2.0]), 0.3)).all()


def test_the_sampler_proposes_with_the_kernel_covariance_and_distance_weight() -> None:
    ensemble = Metered([TARGET], [1.0], width=0.25)
    options = {**FAST, "min_distance": 0.2, "kernel_length": 0.3, "criterion": "integrated", "condition": 1.0,
               "distance_power": 1.0}
    ctx = context(ensemble, SOME_LABELS, seed=5)
    points = unit(build("sampler", "ensemble-diverse", options).propose(ctx, 4))
    assert len(points) == 4 and pairwise_min(points) >= 0.2 - 1e-9
    assert min_distances(points, unit(ctx.labelled)).min() >= 0.2 - 1e-9
    assert np.linalg.norm(points - TARGET, axis=1).min() < 0.3  # the bump's neighbourhood is covered
    assert build("sampler", "ensemble-diverse", {"kernel_length": "none"}).config.kernel_length is None


def test_scale_free_scores_do_not_chase_loud_settings() -> None:
    quiet, loud = np.array([0.8, 0.3, 0.1]), np.array([0.2, 0.5, 1.0])
    ensemble = Metered([quiet, loud], [1.0, 0.5], width=0.2, loudness=2)
    first = {}
    for score in ("variance", "relative", "log-spectral"):
        ctx = context(ensemble, SOME_LABELS)
        points = unit(build("sampler", "ensemble-diverse", {**FAST, "score": score}).propose(ctx, 3))
        first[score] = points[0]
    assert np.abs(first["variance"] - loud).max() < 0.1
    assert np.abs(first["relative"] - quiet).max() < 0.1
    assert np.abs(first["log-spectral"] - quiet).max() < 0.1
    # score_power 0 is raw variance again: the loud bump wins
    ctx = context(ensemble, SOME_LABELS)
    options = {**FAST, "score": "relative", "score_power": 0.0, "anchored": False}
    assert np.abs(unit(build("sampler", "ensemble-diverse", options).propose(ctx, 3))[0] - loud).max() < 0.1


@pytest.mark.parametrize("power", [0.0, 0.5, 1.0])
def test_relative_score_is_variance_over_energy_to_the_power(power) -> None:
    from panama.acquisition.scores import ScoreSpec, disagreement, features

    out = torch.randn(4, 3, 256, dtype=torch.float64) * torch.tensor([0.01, 1.0, 30.0], dtype=torch.float64)[None, :, None]
    got = disagreement(features(out, ScoreSpec("relative", power=power)))
    energy = out.pow(2).mean(dim=(0, 2))
    assert torch.allclose(got, out.var(dim=0).mean(dim=-1) / energy**power)


def test_falls_back_to_space_filling_while_members_are_not_competent() -> None:
    ensemble = Metered([TARGET], [1.0], val_esr=(3.0, 50.0, 200.0, 400.0))
    ctx = context(ensemble, SOME_LABELS)
    logged: list[str] = []
    ctx.log = logged.append
    points = unit(build("sampler", "ensemble-diverse", FAST).propose(ctx, 4))
    assert ctx.notes["fallback"] == {"design": "sobol", "reason": "median member validation ESR 125 > 1"}
    assert any("not competent" in line for line in logged)
    # space-filling: far from the labels and from each other, not at the bump
    assert min_distances(points, unit(ctx.labelled)).min() > 0.2 and pairwise_min(points) > 0.3
    assert "proposals" not in ctx.notes
    trusted = context(ensemble, SOME_LABELS)
    build("sampler", "ensemble-diverse", {**FAST, "competence_esr": None}).propose(trusted, 4)
    assert "fallback" not in trusted.notes


def test_the_paper_variant_keeps_the_papers_defaults() -> None:
    paper = EnsembleDisagreementConfig()
    assert paper.model_dump() == {
        "members": 4, "restarts": 10, "steps": 250, "lr": 0.02, "init_std": 1.0, "excerpt_seconds": None,
        "normalize": False, "score_excerpts": 8, "chunk_seconds": 1.0, "dedup": "hdbscan", "min_cluster_size": 2,
        "min_samples": 3, "dedup_radius": 0.05, "min_distance": 0.02, "min_labelled": 2, "initial_design": "sobol",
        "fit_options": {}, "trace_every": 10,
    }
    ensemble = Metered([TARGET], [1.0])
    ctx = context(ensemble, SOME_LABELS)
    build("sampler", "ensemble-disagreement", {"steps": 5}).propose(ctx, 2)
    assert ctx.fitted == [{"members": 4}]  # members trained from scratch on all labels, as the paper
    assert ctx.notes["members"]["val_esr"] == [0.1, 0.2, 0.2, 0.3]


class NearSilent(Metered):
    """Output level falls 60 dB as the third knob goes to 0 (a master knob)."""

    def predict(self, x, knobs):
        return super().predict(x, knobs) * (0.001 + knobs[:, 2] ** 2)[None, :, None]


@pytest.mark.parametrize("score", ["relative", "log-spectral"])
def test_anchored_scores_do_not_chase_near_silent_settings(score) -> None:
    silent, loud = np.array([0.8, 0.3, 0.02]), np.array([0.2, 0.5, 0.9])
    ensemble = NearSilent([silent, loud], [1.0, 0.6], width=0.2)
    labels = ([0.1, 0.1, 0.9], [0.5, 0.9, 0.6])
    first = {}
    for anchored in (False, True):
        ctx = context(ensemble, labels)
        options = {**FAST, "score": score, "anchored": anchored, "floor_db": -20.0}
        first[anchored] = unit(build("sampler", "ensemble-diverse", options).propose(ctx, 2))[0]
        assert (ctx.notes["reference_level"] is not None) == anchored
    assert first[False][2] < 0.15  # fully scale-free: the near-silent spread wins
    assert np.abs(first[True] - loud).max() < 0.1


def test_compare_scores_it_on_prefixes_of_its_run() -> None:
    from panama.acquisition.diverse import EnsembleDiverseSampler
    from panama.core.study.comparison import checkpoint_mode

    assert checkpoint_mode("auto", EnsembleDiverseSampler) == "prefix"


def test_command_line_words_for_off_and_auto() -> None:
    sampler = build("sampler", "ensemble-diverse", {"competence_esr": "none", "min_distance": "auto", "pool": "16"})
    assert sampler.config.competence_esr is None and sampler.config.min_distance is None
    assert sampler.config.pool == 16
    with pytest.raises(PanamaError, match="competence_esr"):
        build("sampler", "ensemble-diverse", {"competence_esr": "high"})


@pytest.mark.parametrize("count", [2, 8])
def test_scored_excerpts_are_where_the_input_plays(count) -> None:
    """The capture signal opens and closes with digital silence: an excerpt there scores the
    members' offsets, not their disagreement about the amp (both of the two default excerpts
    used to sit there)."""
    from panama.acquisition.scores import playing_starts, spans_for
    from panama.core.signal import make_signal

    signal = make_signal("quick", seed=0)
    x, segments = signal.audio, signal.metadata()["segments"]
    excerpt, field = int(0.05 * signal.sample_rate), 4093
    spans = spans_for(x, field, excerpt, count)
    assert len(spans) == count and all(b - a == excerpt and a >= field - 1 for a, b in spans)
    floor = np.mean(x**2) * 10 ** (-20 / 10)
    assert all(np.mean(x[a:b] ** 2) >= floor for a, b in spans)
    reach = excerpt // 4  # at most this far into a silence
    assert spans[0][0] >= segments["blips"][0] and spans[-1][1] <= segments["tail"][0] + reach
    starts = playing_starts(x, field, excerpt)
    assert len(starts) and all(s + reach >= segments["gap"][1] and s + excerpt <= segments["tail"][0] + reach
                               for s in starts)
    # a silent input has nowhere better: evenly spaced over all of it, as before
    (a, _), (_, b) = spans_for(np.zeros(10_000), 100, 500, 2)
    assert a == 99 and b > 10_000 - 500 // 4
