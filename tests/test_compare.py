"""Sampler comparison: planning and aggregation, then a tiny `panama compare` end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from panama.core.compare import (
    CheckpointResult,
    CompareSpec,
    aggregate,
    checkpoint_mode,
    load_or_write_spec,
    parse_list,
    parse_seeds,
    plan_checkpoints,
    plot_compare,
    ratios,
    render_compare,
    too_close,
)
from panama.core.errors import PanamaError
from panama.core.knobs import KnobSpace


def test_seeds_and_lists():
    assert parse_seeds("3") == [0, 1, 2]
    assert parse_seeds("4,9") == [4, 9]
    for bad in ("0", "", "a", "1,1"):
        with pytest.raises(PanamaError):
            parse_seeds(bad)
    assert parse_list("random, lhs-corners", "--samplers") == ["random", "lhs-corners"]
    with pytest.raises(PanamaError):
        parse_list("random,random", "--samplers")


def test_checkpoints_always_end_at_the_budget():
    assert plan_checkpoints(64, initial=10) == [10, 20, 40, 64]
    assert plan_checkpoints(64) == [8, 16, 32, 64]
    assert plan_checkpoints(16, [8, 4, 8]) == [4, 8, 16]
    assert plan_checkpoints(1) == [1]
    with pytest.raises(PanamaError, match="outside"):
        plan_checkpoints(16, [0, 20])


def test_checkpoint_mode_prefix_for_nested_designs_rerun_for_budget_dependent_ones():
    assert checkpoint_mode("random", "auto") == "prefix"
    assert checkpoint_mode("ensemble-disagreement", "auto") == "prefix"
    assert checkpoint_mode("lhs-corners", "auto") == "rerun"
    assert checkpoint_mode("lhs", "auto") == "rerun"
    assert checkpoint_mode("lhs", "prefix") == "prefix"

    class Declares:
        nested_design = True

    assert checkpoint_mode("my-sampler", "auto", Declares) == "prefix"


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
