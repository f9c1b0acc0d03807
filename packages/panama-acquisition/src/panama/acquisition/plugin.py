"""Registers PANAMA's samplers (lazy targets: listing them imports neither scipy nor torch)."""

from __future__ import annotations

from panama.core.hookspecs import Register, hookimpl

_SAMPLERS = (
    ("random", "fixed:RandomSampler", "Uniform random settings (the paper's baseline)"),
    ("beta", "fixed:BetaSampler", "U-shaped Beta per knob, crowding the ends (the paper's heuristic)"),
    ("sobol", "fixed:SobolSampler", "Scrambled Sobol' sequence: low discrepancy, every prefix spread out"),
    ("lhs", "fixed:LHSSampler", "Scrambled Latin hypercube sized to the budget"),
    ("lhs-corners", "fixed:LHSCornersSampler", "Corners of the knob box first, then a Latin hypercube"),
    ("grid", "fixed:GridSampler", "Full factorial grid that fits the budget (≤ 5 steps per knob)"),
    ("maximin", "maximin:MaximinSampler", "Sobol' start, then each batch the settings farthest from all labels"),
    ("coverage", "maximin:CoverageSampler", "Sobol' start, then each batch the settings that most shrink the mean distance to a label"),
    ("level-coverage", "maximin:LevelCoverageSampler", "Coverage weighted by the output level that the labels recorded"),
    (
        "ensemble-disagreement",
        "active:EnsembleDisagreementSampler",
        "Active learning: where an ensemble trained so far disagrees most (PANAMA)",
    ),
    (
        "ensemble-diverse",
        "diverse:EnsembleDiverseSampler",
        "Active learning, recommended: warm-started bootstrapped members, scale-free score, diverse batches",
    ),
)


@hookimpl
def register_samplers(register: Register) -> None:
    for name, target, summary in _SAMPLERS:
        register(name, f"panama.acquisition.{target}", summary)
