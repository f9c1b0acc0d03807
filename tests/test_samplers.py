"""The fixed designs, built through the real plugin registry as the loop builds them."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from panama.core.components import build
from panama.core.errors import PanamaError
from panama.core.knobs import Knob, KnobSpace
from panama.core.plugins import get_registry
from panama.core.protocols import Sampler, SamplerContext

FIXED = ["random", "beta", "sobol", "lhs", "lhs-corners", "grid"]

# Native ranges on purpose: samplers work in [0, 1] and must come back through the knob space.
SPACE = KnobSpace(
    knobs=(
        Knob(name="gain", minimum=0.0, maximum=10.0),
        Knob(name="bass", minimum=-12.0, maximum=12.0, unit="dB"),
        Knob(name="presence", minimum=0.0, maximum=1.0),
    )
)


def context(labelled=(), budget=16, seed=7, space=SPACE) -> SamplerContext:
    labelled = list(labelled)
    return SamplerContext(
        knob_space=space,
        labelled=labelled,
        budget_remaining=budget - len(labelled),
        rng=np.random.default_rng(12345),
        seed=seed,
    )


def unit(settings, space=SPACE) -> np.ndarray:
    return space.to_unit_array(settings)


def test_all_samplers_are_registered_lazily() -> None:
    registry = get_registry()
    names = set(registry.names("sampler"))
    assert set(FIXED) | {"ensemble-disagreement"} <= names
    for name in [*FIXED, "ensemble-disagreement"]:
        component = registry.get("sampler", name)
        assert component.summary
        assert isinstance(component.target, str) or component.load()


@pytest.mark.parametrize("name", FIXED)
def test_values_in_range_and_distinct(name: str) -> None:
    sampler = build("sampler", name, {})
    assert isinstance(sampler, Sampler)
    settings = sampler.propose(context(budget=16), 16)
    assert len(settings) == 16
    for setting in settings:
        assert SPACE.validate_setting(setting, fill_defaults=False) == setting
    points = unit(settings)
    assert points.min() >= 0.0 and points.max() <= 1.0
    assert len(np.unique(points.round(9), axis=0)) == 16


@pytest.mark.parametrize("name", FIXED)
def test_deterministic_under_a_seed(name: str) -> None:
    first = build("sampler", name, {}).propose(context(seed=3), 10)
    again = build("sampler", name, {}).propose(context(seed=3), 10)
    other = build("sampler", name, {}).propose(context(seed=4), 10)
    assert first == again
    if name != "grid":  # a grid is the grid; the seed only breaks ties in its order
        assert first != other


@pytest.mark.parametrize("name", FIXED)
def test_seed_option_overrides_the_capture_seed(name: str) -> None:
    pinned = build("sampler", name, {"seed": 11})
    assert pinned.propose(context(seed=1), 6) == pinned.propose(context(seed=2), 6)


@pytest.mark.parametrize("name", FIXED)
def test_continuation_is_the_same_design_without_repeats(name: str) -> None:
    budget = 20
    whole = build("sampler", name, {}).propose(context(budget=budget), budget)
    sampler = build("sampler", name, {})
    labelled: list = []
    for batch in (5, 3, 7, 5):
        proposals = sampler.propose(context(labelled, budget=budget), batch)
        assert len(proposals) == batch
        for setting in proposals:
            assert not any(np.allclose(unit([setting]), unit([old])) for old in labelled)
        labelled += proposals
    np.testing.assert_allclose(unit(labelled), unit(whole))


@pytest.mark.parametrize("name", FIXED)
def test_labelled_settings_from_elsewhere_are_not_reproposed(name: str) -> None:
    whole = build("sampler", name, {}).propose(context(budget=12), 12)
    # Labels recorded by hand at 3-digit rounded values still count as the design points.
    rounded = [{k: round(v, 3) for k, v in s.items()} for s in whole[:4:2]]
    proposals = build("sampler", name, {}).propose(context(rounded, budget=12), 10)
    assert whole[0] not in proposals and whole[2] not in proposals
    assert proposals == [s for i, s in enumerate(whole) if i not in (0, 2)]


def test_random_and_beta_marginals() -> None:
    space = KnobSpace.of("a", "b")
    uniform = unit(build("sampler", "random", {}).propose(context(budget=2000, space=space), 2000), space)
    beta = unit(build("sampler", "beta", {}).propose(context(budget=2000, space=space), 2000), space)
    # Uniform: a tenth of the values in each tenth. The paper's Beta(0.54, 0.41) is U-shaped:
    # 44 % of the values in the outer tenths (uniform: 20 %), 12 % in the middle fifth (20 %).
    assert abs(np.mean(uniform < 0.1) - 0.1) < 0.03
    assert abs(np.mean((beta < 0.1) | (beta > 0.9)) - 0.437) < 0.03
    assert abs(np.mean((beta > 0.4) & (beta < 0.6)) - 0.121) < 0.03
    assert abs(beta.mean() - 0.54 / 0.95) < 0.03  # mean alpha / (alpha + beta): leans towards 1


def test_beta_parameters_are_options() -> None:
    space = KnobSpace.of("a")
    bump = build("sampler", "beta", {"alpha": 20.0, "beta": 20.0})
    points = unit(bump.propose(context(budget=200, space=space), 200), space)
    assert abs(points.mean() - 0.5) < 0.03 and points.std() < 0.1


def test_lhs_is_a_latin_hypercube_of_the_whole_budget() -> None:
    points = unit(build("sampler", "lhs", {}).propose(context(budget=16), 16))
    for column in points.T:
        assert sorted(np.floor(column * 16).astype(int)) == list(range(16))


def test_lhs_corners_has_every_corner_first_when_the_budget_allows() -> None:
    points = unit(build("sampler", "lhs-corners", {}).propose(context(budget=16), 16))
    corners = {tuple(c) for c in itertools.product((0.0, 1.0), repeat=3)}
    assert {tuple(p) for p in points[:8]} == corners
    interior = points[8:]
    assert ((interior > 0) & (interior < 1)).all()
    # The rest is a Latin hypercube of 8 points.
    for column in interior.T:
        assert sorted(np.floor(column * 8).astype(int)) == list(range(8))


def test_lhs_corners_keeps_room_for_the_interior_when_corners_do_not_fit() -> None:
    space = KnobSpace.of(*"abcdef")  # 64 corners, budget 64: only half may be corners
    points = unit(build("sampler", "lhs-corners", {}).propose(context(budget=64, space=space), 64), space)
    is_corner = np.isin(points, (0.0, 1.0)).all(axis=1)
    assert is_corner[:32].all() and not is_corner[32:].any()
    assert len({tuple(p) for p in points[:32]}) == 32
    everything = build("sampler", "lhs-corners", {"corner_fraction": 1.0})
    all_corners = unit(everything.propose(context(budget=64, space=space), 64), space)
    assert np.isin(all_corners, (0.0, 1.0)).all()


def test_grid_shape() -> None:
    space = KnobSpace.of("a", "b")
    points = unit(build("sampler", "grid", {}).propose(context(budget=25, space=space), 25), space)
    assert sorted(map(tuple, points)) == sorted(itertools.product(np.linspace(0, 1, 5), repeat=2))
    # Farthest-first order: the middle, then the four corners.
    np.testing.assert_allclose(points[0], [0.5, 0.5])
    assert {tuple(p) for p in points[1:5]} == set(itertools.product((0.0, 1.0), repeat=2))
    # Three knobs and 30 points: 3 steps (27) fit, 4 (64) do not; the rest refine the grid.
    three = unit(build("sampler", "grid", {}).propose(context(budget=30), 30))
    assert sorted(map(tuple, three[:27])) == sorted(itertools.product((0.0, 0.5, 1.0), repeat=3))
    assert np.isin(three[27:], (0.0, 0.25, 0.5, 0.75, 1.0)).all()
    # An explicit step count and a cap.
    fixed = unit(build("sampler", "grid", {"steps": 3}).propose(context(budget=9, space=space), 9), space)
    assert set(np.unique(fixed)) == {0.0, 0.5, 1.0}
    capped = unit(build("sampler", "grid", {"max_steps": 3}).propose(context(budget=100, space=space), 9), space)
    assert set(np.unique(capped)) == {0.0, 0.5, 1.0}


def test_grid_too_fine_is_a_clear_error() -> None:
    with pytest.raises(PanamaError, match="grid"):
        build("sampler", "grid", {"steps": 101}).propose(context(space=KnobSpace.of(*"abcdef")), 4)


def test_bad_options_and_no_knobs_are_clear_errors() -> None:
    with pytest.raises(PanamaError, match="lhs"):
        build("sampler", "lhs", {"optimisation": "lloyd"})
    with pytest.raises(PanamaError, match="beta"):
        build("sampler", "beta", {"alpha": -1})
    with pytest.raises(PanamaError, match="no"):
        build("sampler", "sobol", {}).propose(context(space=KnobSpace()), 2)


def test_design_indices_are_noted_for_the_round_report() -> None:
    ctx = context(budget=10)
    build("sampler", "sobol", {}).propose(ctx, 4)
    assert ctx.notes["design"]["sampler"] == "sobol"
    assert ctx.notes["design"]["indices"] == [0, 1, 2, 3]


def test_listing_and_building_samplers_imports_no_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from panama.core.plugins import get_registry\n"
        "from panama.core.components import build\n"
        "names = get_registry().names('sampler')\n"
        "assert 'scipy.stats' not in sys.modules, 'listing imported scipy'\n"
        "build('sampler', 'ensemble-disagreement', {})\n"
        "assert 'torch' not in sys.modules and 'sklearn' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def sobol_start_then_a_batch(name: str) -> tuple[Any, list, Any, np.ndarray]:
    """A continuation sampler's Sobol' start (8 points) and its next batch of 4, all distinct."""
    sampler = build("sampler", name, {})
    assert type(sampler).nested_design is True
    first = sampler.propose(context(budget=16), 8)
    assert np.allclose(unit(first), unit(build("sampler", "sobol", {}).propose(context(budget=16), 8)))
    ctx = context(labelled=first, budget=16)
    batch = unit(sampler.propose(ctx, 4))
    assert len(batch) == 4 and len({tuple(p) for p in batch.round(9)}) == 4
    assert ctx.notes["design"]["sampler"] == name
    return sampler, first, ctx, batch


def test_maximin_starts_with_sobol_then_fills_the_largest_holes() -> None:
    from panama.acquisition.designs import min_distances, sobol_design

    sampler, first, ctx, batch = sobol_start_then_a_batch("maximin")
    labelled = unit(first)
    # each pick is farther from the labels than a typical point of a fresh Sobol' sample ...
    typical = np.median(min_distances(sobol_design(256, 3, 99), labelled))
    assert (min_distances(batch, labelled) > typical).all()
    # ... and the first is the farthest of its pool
    assert ctx.notes["design"]["pool"] == 256
    assert ctx.notes["design"]["nearest_label"][0] == pytest.approx(min_distances(batch[:1], labelled)[0])
    # deterministic for the capture's seed and what is labelled (a resumed run proposes the same)
    assert np.allclose(batch, unit(sampler.propose(context(labelled=first, budget=16), 4)))
    assert not np.allclose(batch, unit(sampler.propose(context(labelled=first, budget=16, seed=8), 4)))
    with pytest.raises(PanamaError, match="needs knobs"):
        sampler.propose(context(space=KnobSpace(knobs=())), 2)


def test_coverage_fills_the_interior_where_maximin_goes_to_the_faces() -> None:
    """The coverage continuation lowers the mean distance from the box to its nearest label more
    than greedy maximin does, and keeps its picks off the box's faces (six knobs, 8 + 24)."""
    from panama.acquisition.designs import coverage_batch, farthest_batch, min_distances, sobol_design

    sampler, first, _, batch = sobol_start_then_a_batch("coverage")
    assert np.allclose(batch, unit(sampler.propose(context(labelled=first, budget=16), 4)))

    start = sobol_design(8, 6, 3)
    designs = {}
    for name, step in (("maximin", farthest_batch), ("coverage", coverage_batch)):
        points = start
        for r in range(6):
            points = np.vstack([points, step(points, 4, 6, 100 + r, 256)])
        designs[name] = points
    probe = np.random.default_rng(0).random((2000, 6))
    mean = {name: min_distances(probe, points).mean() for name, points in designs.items()}
    assert mean["coverage"] < 0.95 * mean["maximin"]
    near_face = {name: np.mean(np.minimum(p, 1 - p).min(axis=1) < 0.05) for name, p in designs.items()}
    assert near_face["coverage"] < 0.3 < near_face["maximin"]


AMP6 = KnobSpace.of("volume", "gain", "bass", "middle", "treble", "presence")


def continue_design(name: str, options: dict, energy=None, rounds: int = 6) -> np.ndarray:
    """A continuation sampler's 8-point start and ``rounds`` batches of 4 in six knobs, each round
    seeing the "recorded" energy of what is labelled (``energy`` of the unit knobs, or none)."""
    space = AMP6
    sampler = build("sampler", name, options)
    labelled = list(sampler.propose(context(budget=32, space=space), 8))
    for _ in range(rounds):
        ctx = context(labelled, budget=32, space=space)
        if energy is not None:
            ctx.output_energy = lambda done=list(labelled): energy(unit(done, space))
        labelled += sampler.propose(ctx, 4)
        assert ctx.notes["design"]["sampler"] == name
    return unit(labelled, space)


def test_level_coverage_labels_where_the_device_is_loud_and_reads_the_level_from_the_labels() -> None:
    """On a device whose level rises steeply with its volume knob (and with gain), weighing the
    coverage by energy**0.5 puts more of the continuation at high volume than plain coverage,
    and energy**-0.5 more at low volume; without recordings it is exactly plain coverage."""
    def energy(points: np.ndarray) -> np.ndarray:
        return points[:, 0] ** 4 * (0.2 + points[:, 1])  # volume at 0 is muted

    plain = continue_design("coverage", {})
    loud = continue_design("level-coverage", {"power": 0.5}, energy)
    quiet = continue_design("level-coverage", {"power": -0.5}, energy)
    np.testing.assert_allclose(loud[:8], plain[:8])  # the same Sobol' start
    volume = {name: design[8:, 0].mean() for name, design in (("plain", plain), ("loud", loud), ("quiet", quiet))}
    assert volume["loud"] > volume["plain"] + 0.15 and volume["quiet"] < volume["plain"] - 0.1
    # every region keeps some labels: the weights are clipped (spread 10)
    assert (loud[8:, 0] < 0.5).sum() >= 3
    np.testing.assert_allclose(continue_design("level-coverage", {"power": 0.0}, energy), plain)

    space = AMP6
    start = unit(build("sampler", "coverage", {}).propose(context(budget=32, space=space), 8), space)
    ctx = context(space.from_unit_array(start), budget=32, space=space)
    without = unit(build("sampler", "level-coverage", {}).propose(ctx, 4), space)
    assert "no recordings" in ctx.notes["fallback"]
    plain_ctx = context(space.from_unit_array(start), budget=32, space=space)
    np.testing.assert_allclose(without, unit(build("sampler", "coverage", {}).propose(plain_ctx, 4), space))


def test_level_weights_follow_the_labels_levels_and_are_clipped() -> None:
    from panama.acquisition.maximin import level_weights

    labelled = np.random.default_rng(0).random((20, 3))
    energy = 10.0 ** (4 * labelled[:, 0] - 2)  # 80 dB across the volume knob, smooth in log
    probe = np.array([[0.05, 0.5, 0.5], [0.4, 0.5, 0.5], [0.6, 0.5, 0.5], [0.95, 0.5, 0.5]])
    w = level_weights(labelled, energy, 0.5, 100.0)(probe)
    assert (np.diff(w) > 0).all()
    w = level_weights(labelled, energy, 1.0, 100.0)(probe)  # about 70 dB across the probe: clipped
    assert w[0] == pytest.approx(0.1) and w[-1] == pytest.approx(10.0)
    flat = level_weights(labelled, np.zeros(20), 1.0, 100.0)(probe)  # all muted: no preference
    np.testing.assert_allclose(flat, 1.0)
    few = level_weights(labelled[:3], energy[:3], 1.0, 1e9)(labelled[:3])  # nearest label
    np.testing.assert_allclose(few, energy[:3] / np.median(energy[:3]))
    # labels that vary one knob only (a sweep recorded by hand): no spline, the nearest label
    sweep = np.column_stack([np.linspace(0, 1, 12), np.full(12, 0.5), np.full(12, 0.5)])
    w = level_weights(sweep, 10.0 ** (2 * sweep[:, 0]), 1.0, 1e9)(sweep[[0, 11]] + [0.0, 0.3, 0.0])
    np.testing.assert_allclose(w, [0.1, 10.0])  # its ends: 20 dB from the labels' median level


def test_the_loop_hands_level_coverage_the_recorded_levels(tmp_path) -> None:
    """Through the loop on the sim: each round's sampler reads the level of every label so far
    from its recording (noted in proposals.json), and nothing falls back."""
    import json

    import soundfile as sf

    from panama.core.capture.store import Capture
    from panama.core.loop import Loop

    capture = Capture.create(tmp_path / "amp", labeler="sim", preset="tiny", sampler="level-coverage",
                             budget=8, initial=4, run_preset="tiny", seed=2)
    with capture.lock():
        loop = Loop(capture, progress=False, log=lambda line: None)
        for round_index in range(2):
            loop.label(loop.propose(round_index))
    notes = json.loads((capture.root / "rounds" / "01" / "proposals.json").read_text())["notes"]
    first = [e for e in capture.events() if e["event"] == "labelled"][:4]
    recorded = [10 * np.log10(np.mean(np.square(sf.read(capture.root / e["file"], dtype="float64")[0])))
                for e in first]
    np.testing.assert_allclose(notes["design"]["label_energy_db"], recorded, rtol=1e-6)
    assert notes["design"]["power"] == 0.5
    assert not any("fallback" in e for e in capture.events() if e["event"] == "proposed")
    assert len(capture.labelled_settings()) == 6  # 4, then a round of the tiny preset (2)
