"""Sampler comparison: planning and aggregation, then a tiny `panama compare` end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from panama.core.errors import PanamaError
from panama.core.knobs import KnobSpace
from panama.core.study.comparison import (
    CheckpointResult,
    CompareSpec,
    aggregate,
    checkpoint_mode,
    load_or_write_spec,
    parse_list,
    parse_sampler_options,
    parse_seeds,
    plan_checkpoints,
    plot_compare,
    ratios,
    render_compare,
    too_close,
)


def load_benchmark(name: str):
    """A script from benchmarks/ as a module (they are not a package)."""
    import importlib.util

    from conftest import REPO

    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_seeds_and_lists():
    assert parse_seeds("3") == [0, 1, 2]
    assert parse_seeds("4,9") == [4, 9]
    for bad in ("0", "", "a", "1,1"):
        with pytest.raises(PanamaError):
            parse_seeds(bad)
    assert parse_list("random, lhs-corners", "--samplers") == ["random", "lhs-corners"]
    with pytest.raises(PanamaError):
        parse_list("random,random", "--samplers")


def test_sampler_options_per_sampler():
    assert parse_sampler_options(["ensemble-disagreement:steps=100,excerpt_seconds=0.1", "lhs:optimization=lloyd",
                                  "ensemble-disagreement:restarts=4"]) == {
        "ensemble-disagreement": {"steps": "100", "excerpt_seconds": "0.1", "restarts": "4"},
        "lhs": {"optimization": "lloyd"}}
    for bad in ("steps=100", ":steps=1", "random:steps"):
        with pytest.raises(PanamaError):
            parse_sampler_options([bad])


def test_checkpoints_always_end_at_the_budget():
    assert plan_checkpoints(64, initial=10) == [10, 20, 40, 64]
    assert plan_checkpoints(64) == [8, 16, 32, 64]
    assert plan_checkpoints(16, [8, 4, 8]) == [4, 8, 16]
    assert plan_checkpoints(1) == [1]
    with pytest.raises(PanamaError, match="outside"):
        plan_checkpoints(16, [0, 20])


def test_checkpoint_mode_prefix_for_nested_designs_rerun_for_budget_dependent_ones():
    """Each built-in sampler declares its design kind; the core names none of them."""
    from panama.core.plugins import get_registry

    registry = get_registry()
    modes = {name: checkpoint_mode("auto", registry.get("sampler", name).load())
             for name in ("random", "sobol", "beta", "ensemble-disagreement", "ensemble-diverse",
                          "lhs", "lhs-corners", "grid", "maximin", "coverage")}
    assert modes == {"random": "prefix", "sobol": "prefix", "beta": "prefix", "ensemble-disagreement": "prefix",
                     "ensemble-diverse": "prefix", "lhs": "rerun", "lhs-corners": "rerun", "grid": "rerun",
                     "maximin": "prefix", "coverage": "prefix"}
    assert checkpoint_mode("prefix", registry.get("sampler", "lhs").load()) == "prefix"

    class Declares:
        nested_design = True

    class Silent:  # undeclared: rerun, the mode that is always correct
        pass

    class Unclear:
        nested_design = "yes"  # only a real bool counts

    assert checkpoint_mode("auto", Declares) == "prefix"
    assert checkpoint_mode("auto", Silent) == checkpoint_mode("auto", Unclear) == "rerun"


def _result(sampler: str, seed: int, k: int, mse: float) -> CheckpointResult:
    return CheckpointResult(sampler=sampler, seed=seed, k=k, mode="prefix", run="r", mse=mse, esr=10 * mse,
                            mse_median=mse, esr_median=10 * mse, esr_p90=20 * mse)


def test_aggregate_over_seeds_and_ratios():
    results = [
        _result("random", 0, 8, 4e-3), _result("random", 1, 8, 2e-3),
        _result("random", 0, 16, 2e-3), _result("random", 1, 16, 1e-3),
        _result("ed", 0, 8, 3e-3), _result("ed", 1, 8, 1e-3),
        _result("ed", 0, 16, 5e-4), _result("ed", 1, 16, 2.5e-4),
    ]
    curve = aggregate(results)
    assert [(p.sampler, p.k, p.seeds) for p in curve] == [
        ("random", 8, 2), ("random", 16, 2), ("ed", 8, 2), ("ed", 16, 2)]
    r16 = curve[1]
    assert r16.mse_mean == pytest.approx(1.5e-3) and r16.mse_std == pytest.approx(5e-4)
    assert (r16.mse_min, r16.mse_max) == (1e-3, 2e-3)
    assert r16.esr_mean == pytest.approx(1.5e-2)
    ratio = ratios(curve)
    assert ratio["random"] == {8: 1.0, 16: 1.0}
    assert ratio["ed"][16] == pytest.approx(0.25)


def test_table_and_plot(tmp_path):
    from rich.console import Console

    results = [_result(s, seed, k, (2.0 if s == "random" else 1.0) / k) for s in ("random", "ed")
               for seed in (0, 1) for k in (4, 8)]
    curve = aggregate(results)
    console = Console(record=True, width=120)
    render_compare(curve, console)
    text = console.export_text()
    assert "validation MSE" in text and "validation ESR" in text and "random" in text and "± " in text
    path = plot_compare(curve, results, tmp_path / "plot.png", title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_spec_fixed_fields_refuse_a_different_comparison(tmp_path):
    spec = CompareSpec(samplers=["random"], budget=8, seeds=[0], preset="tiny")
    assert load_or_write_spec(tmp_path, spec) == spec
    more = spec.model_copy(update={"samplers": ["lhs"], "seeds": [1]})
    merged = load_or_write_spec(tmp_path, more)
    assert merged.samplers == ["random", "lhs"] and merged.seeds == [0, 1]
    assert json.loads((tmp_path / "compare.json").read_text())["samplers"] == ["random", "lhs"]
    with pytest.raises(PanamaError, match="budget"):
        load_or_write_spec(tmp_path, spec.model_copy(update={"budget": 16}))


def test_too_close_counts_coinciding_settings():
    space = KnobSpace.of("a", "b")
    held = [{"a": 0.1, "b": 0.2}, {"a": 0.5, "b": 0.5}]
    assert too_close(space, held, [{"a": 0.1, "b": 0.2}, {"a": 0.9, "b": 0.9}]) == 1
    assert too_close(space, held, []) == 0
    assert np.isfinite(too_close(space, held, [{"a": 0.5000001, "b": 0.5}]))


# ------------------------------------------------------------------ end to end on the sim
@pytest.mark.slow
def test_tiny_compare_end_to_end_and_resume(tmp_path, panama):
    import time

    out = tmp_path / "cmp"
    args = ("compare", str(out), "--labeler", "sim", "--samplers", "random,lhs-corners", "--budget", "4",
            "--seeds", "1", "--checkpoints", "2", "--preset", "tiny", "--eval-settings", "3", "--quiet")
    first = panama(*args, env={"OMP_NUM_THREADS": "1"})
    assert first.returncode == 0, first.stderr
    assert "validation MSE" in first.stdout and "lhs-corners" in first.stdout

    data = json.loads((out / "results.json").read_text())
    assert data["heldout"]["settings"] == 3
    assert {(r["sampler"], r["k"], r["mode"]) for r in data["results"]} == {
        ("random", 2, "prefix"), ("random", 4, "final"), ("lhs-corners", 2, "rerun"), ("lhs-corners", 4, "final")}
    assert all(np.isfinite(r[m]) and r[m] > 0 for r in data["results"] for m in ("mse", "esr"))
    assert [(p["sampler"], p["k"], p["seeds"]) for p in data["curve"]] == [
        ("random", 2, 1), ("random", 4, 1), ("lhs-corners", 2, 1), ("lhs-corners", 4, 1)]
    assert data["ratios_to_random"]["random"] == {"2": 1.0, "4": 1.0}
    assert (out / "results.png").read_bytes()[:4] == b"\x89PNG"
    # prefix: a model trained on the run's first 2 labels; rerun: its own budget-2 capture
    assert (out / "runs" / "random-seed0" / "checkpoints" / "k0002.pt").is_file()
    assert (out / "runs" / "lhs-corners-seed0-n2" / "capture.json").is_file()
    assert not (out / "runs" / "random-seed0-n2").exists()

    # the same held-out settings for every run, distinct from every labelled one
    from panama.core.capture.store import Capture
    from panama.core.study.comparison import Heldout

    heldout = Heldout.load(out / "heldout.npz")
    for run in ("random-seed0", "lhs-corners-seed0", "lhs-corners-seed0-n2"):
        capture = Capture.open(out / "runs" / run)
        assert too_close(capture.knob_space, heldout.settings, capture.labelled_settings()) == 0

    # resuming trains nothing and gives the same numbers
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.pt")}
    started = time.perf_counter()
    again = panama(*args)
    assert again.returncode == 0, again.stderr
    assert time.perf_counter() - started < 60  # nothing to train: seconds, with room for a loaded box
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.pt")} == stamps
    assert json.loads((out / "results.json").read_text())["results"] == data["results"]

    # the benchmark also scores each finished run on a guitar DI in no training signal: the same
    # held-out settings labelled once, each run's final model scored once (cached with its path)
    bench = load_benchmark("data_efficiency")
    spec = CompareSpec.model_validate_json((out / "compare.json").read_text())
    scores = bench.di_scores(out, spec, ["random", "lhs-corners"])
    di = Heldout.load(out / bench.DI_FILE)
    assert di.settings == heldout.settings and len(di.audio.x) == bench.DI_SECONDS * di.audio.sample_rate
    from scipy.signal import correlate

    signal = Capture.open(out / "runs" / "random-seed0").dataset().x.astype(np.float64)
    piece = di.audio.x[di.audio.sample_rate: di.audio.sample_rate + 4800].astype(np.float64)  # 0.1 s, 1 s in
    match = np.abs(correlate(signal, piece, mode="valid")) / (
        np.sqrt(np.convolve(signal**2, np.ones(len(piece)), mode="valid")) * np.linalg.norm(piece) + 1e-12)
    assert np.std(piece) > 1e-3 and match.max() < 0.9  # none of the DI's notes is in the training signal
    assert set(scores) == {"random", "lhs-corners"} and all(len(v) == 1 for v in scores.values())
    assert all(np.isfinite(v) and v > 0 for runs in scores.values() for run in runs for v in run.values())
    stamp = (out / "runs" / "random-seed0" / "di" / "k0004.json").stat().st_mtime_ns
    assert bench.di_scores(out, spec, ["random", "lhs-corners"]) == scores
    assert (out / "runs" / "random-seed0" / "di" / "k0004.json").stat().st_mtime_ns == stamp
    assert "| random | 1 |" in "\n".join(bench.di_lines(scores, 4))
    # the section says how each sampler's checkpoint below the budget was made, from the results
    from panama.core.study.comparison import CompareResult

    note = bench._checkpoint_note(CompareResult.model_validate_json((out / "results.json").read_text()))
    assert "random (nested designs" in note and "lhs-corners re-run with budget k" in note

    # another budget in the same folder is refused with one line
    other = panama(*args[:7], "6", *args[8:])
    assert other.returncode == 2 and "budget" in other.stderr and "Traceback" not in other.stderr


def test_compare_cli_rejects_bad_options(tmp_path, panama):
    for bad, words in ((("--seeds", "0"), "seed"), (("--checkpoints", "x"), "checkpoints"),
                       (("--checkpoint-mode", "maybe"), "checkpoint-mode"), (("--samplers", "nope"), "nope"),
                       (("--samplers", "random", "--sampler-option", "lhs:seed=1"), "not compared"),
                       (("--samplers", "random", "--sampler-option", "random:bogus=1"), "bogus")):
        done = panama("compare", str(tmp_path / "c"), "--budget", "4", "--preset", "tiny", *bad)
        assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "c").exists()


def test_benchmark_section_replaces_itself_and_keeps_the_rest(tmp_path):
    bench = load_benchmark("data_efficiency")
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## Sim speed\nkeep me\n")
    start, end = bench.markers("sim")
    first = f"{start}\n## Data efficiency\nold\n{end}\n"
    bench.write_section(results, first)
    bench.write_section(results, first.replace("old", "new"))
    # another device gets its own section beside the sim's, replaced on its own
    gx = "lv2:http://guitarix.sourceforge.net/plugins/gx_studiopre#studiopre"
    assert bench.device_slug(gx) == "gx-studiopre" and bench.markers(gx) != (start, end)
    amp = "{}\n## GxStudioPre\n{{}}\n{}\n".format(*bench.markers(gx))
    bench.write_section(results, amp.format("first"), gx)
    bench.write_section(results, amp.format("second"), gx)
    text = results.read_text()
    assert text.count(start) == 1 and "new" in text and "old" not in text and "keep me" in text
    assert "second" in text and "first" not in text and text.count(bench.markers(gx)[0]) == 1
    assert bench.SIZES["full"]["seeds"] == 3
    # the quick size (the shipped quick preset) has its own section beside the full one's
    assert bench.markers("sim", "quick") not in {(start, end), bench.markers(gx)}
    # the samplers: random, lhs, lhs-corners, the paper's method and the shipped learner
    assert {"random", "lhs", "lhs-corners", "ensemble-disagreement", "ensemble-diverse"} <= set(bench.SAMPLERS)
    # --jobs: every sampler in exactly one part, the costly learners spread over the parts
    parts = bench.partition(bench.SAMPLERS, 2)
    assert sorted(s for part in parts for s in part) == sorted(bench.SAMPLERS)
    assert [sum(bench.COST.get(s, 1.0) for s in part) for part in parts] == [5.0, 5.0]


def test_error_predictors_find_where_the_device_changes_fast():
    """benchmarks/error_predictors.py: labels whose neighbours sound different score a high
    variation, a point far from every label a large distance; the scalings differ only in level."""
    bench = load_benchmark("error_predictors")
    rng = np.random.default_rng(0)
    knobs = rng.random((24, 2))
    t = np.linspace(0, 1, 400)
    # the device changes with knob 0 only above 0.5, steeply
    outputs = np.stack([np.sin(40 * t) * (1 + 8 * max(0.0, k[0] - 0.5)) for k in knobs])
    variation = bench.label_variation(knobs, outputs, power=0.0)
    assert variation[knobs[:, 0] > 0.6].mean() > 3 * variation[knobs[:, 0] < 0.4].mean()
    points = np.array([[0.9, 0.5], [0.1, 0.5], [knobs[0, 0], knobs[0, 1]]])
    found = bench.predictors(points, knobs, outputs)
    assert found["variation-abs"][0] > found["variation-abs"][1]
    assert found["distance"][2] == 0.0 and found["distance×variation-abs"][2] == 0.0
    # scaled by the level, a change of gain counts for less than in raw samples
    assert found["variation-rel"].max() < found["variation-abs"].max()
    # the learned metric finds the one knob that changes the recordings
    assert np.argmax(bench.knob_weights(knobs, outputs)) == 0


def test_accuracy_seed_comparison_takes_the_ratio_of_the_means(tmp_path):
    """benchmarks/accuracy.py --versus: per design seed, a data set's held-out MSE beside the
    reference's; the ratio is of the means over seeds, as `panama compare` takes it; an older
    result's MSE comes from its ESRs and the cached targets; another device is not compared."""
    bench = load_benchmark("accuracy")
    targets = np.full((2, 100), 0.1, np.float32)  # energy 0.01 per held-out setting
    for name in ("studiopre32", "studiopre32@2", "studiopre32levelloud", "studiopre32levelloud@2", "sim32"):
        np.savez(tmp_path / f"{name}.npz", targets=targets * (2 if name == "sim32" else 1))

    def result(dataset, esr, **extra):
        return {"dataset": dataset, "variant": "v", "held_out_esr": esr, "esr_median": float(np.median(esr or [0])),
                "esr_p90": max(esr or [0]), **extra}

    results = {r["dataset"]: r for r in (
        result("studiopre32", [1.0, 1.0]),                     # MSE mean 0.01 (from the ESRs)
        result("studiopre32@2", [0.5, 0.5], mse_mean=0.03),    # kept: 0.03
        result("studiopre32levelloud", [0.5, 0.5]),            # 0.005
        result("studiopre32levelloud@2", [0.1, 0.9], mse_mean=0.003),
        result("studiopre32levelloud@3", [], mse_mean=0.001),  # no random at seed 3: left out
        result("sim32", [0.1, 0.1]),
    )}
    assert bench.held_out_mse(results["studiopre32"], tmp_path) == pytest.approx(0.01)
    table = bench.seed_comparison(results, "studiopre32", tmp_path)
    rows = [line for line in table.splitlines() if line.startswith("| v |")]
    assert len(rows) == 1 and "studiopre32levelloud" in rows[0]  # not the sim, not the reference
    assert "1234: 0.005 (0.50×)" in rows[0] and "2: 0.003 (0.10×)" in rows[0]
    assert f"**{(0.005 + 0.003) / (0.01 + 0.03):.2f}** |" in rows[0]  # 0.20, not the mean ratio 0.30
    # ESR beside the MSE: median and p90, means over seeds (random's in brackets); lower ESR per seed
    assert rows[0].endswith("| 0.500 (0.750) | 0.700 (0.750) | 2: 1/2; 1234: 2/2 |")
    assert "other held-out targets" not in rows[0]
    np.savez(tmp_path / "studiopre32levelloud@2.npz", targets=targets * 3)
    assert "2: 0.003 (0.10×, other held-out targets)" in bench.seed_comparison(results, "studiopre32", tmp_path)
    with pytest.raises(SystemExit, match="--versus takes a data set's name"):
        bench.main(["--data", "studiopre32", "--cached", "--outdir", str(tmp_path), "--versus", "studiopre32@2"])


def test_accuracy_refuses_a_cache_labelled_over_other_knobs(tmp_path):
    """benchmarks/accuracy.py: a cached data set drawn over another knob space (GxAmplifier-X's
    ten knobs before its data sets took eight) is one clear line, not a shape error mid-run."""
    bench = load_benchmark("accuracy")
    np.savez(tmp_path / "sim32.npz", y=np.zeros((1, 4), np.float32), units=np.zeros((32, 99)))
    with pytest.raises(SystemExit, match=r"labelled over 99 knobs, sim32 now takes \d+: delete it"):
        bench.load_dataset("sim32", tmp_path)
