"""Run presets: how big a capture's signal, nets and training are, in one table.

``tiny`` is for tests (seconds), ``quick`` fits a budget-16 capture of the sim into four to
seven minutes on a 2-core CPU, ``good`` is a serious CPU capture (budget 32, the mean of two
feather nets trained about an hour on 2 cores), ``paper`` is the PANAMA paper's scale (A1 standard, 50-epoch
ensembles, the paper's bias conditioning) and wants a GPU.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from panama.core.errors import PanamaError


class RunPreset(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    signal: str
    # the sampler `panama run` uses when none is given (the user's --sampler wins)
    sampler: str = "ensemble-disagreement"
    net: str = "wavenet"
    net_options: dict[str, Any] = Field(default_factory=dict)
    budget: int
    initial: int
    per_round: int
    members: int = 4
    ensemble: dict[str, Any] = Field(default_factory=dict)
    final: dict[str, Any] = Field(default_factory=dict)
    # Overrides of the final recipe from this many labelled settings on (each threshold reached
    # applies, the larger over the smaller): what helps a model of 32 settings can hurt one of 16.
    final_from: dict[int, dict[str, Any]] = Field(default_factory=dict)
    # Per-sampler defaults at this scale (the user's --sampler-option wins). The paper's knob
    # search (250 Adam steps over the whole input) needs a GPU; on a CPU a short excerpt per
    # step finds the same optima in a fraction of the time.
    sampler_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Lightning Trainer settings for every training of the run (`panama run --trainer` wins).
    trainer: dict[str, Any] = Field(default_factory=dict)

    def final_recipe(self, labelled: int) -> dict[str, Any]:
        """The final model's recipe for a capture with ``labelled`` settings."""
        recipe = dict(self.final)
        for threshold in sorted(self.final_from):
            if labelled >= threshold:
                recipe.update(self.final_from[threshold])
        return recipe


# The final model's recipe, chosen by benchmarks/accuracy.py (held-out ESR per CPU-second):
# FiLM conditioning, every labelled setting trained on (no settings held out), small batches and
# many steps at a high learning rate, a warm-up then a cosine down to 2 %, so the last weights are
# about the best; the squared error of each setting weighed by its output energy^-0.5 (between
# MSE, where loud settings rule, and per-setting ESR, where near-silent ones do).
_FINAL = {"batch_size": 4, "segment_length": 8192, "lr": 8e-3, "lr_schedule": "cosine", "warmup_steps": 100,
          "val_fraction": 0.0, "val_seconds": 3.0, "level_weight": 0.5}
# From 24 settings on, each training segment also weighed by (its setting's energy / its own)^0.5,
# so the reamp signal's quiet guitar is not drowned by its loud sweeps and noise: on 32 random
# settings 0.65x the median held-out ESR on GxStudioPre (0.24 against 0.37) and 0.71x on the sim
# with the quick recipe (0.022 against 0.031); at 24 (three maximin designs) a small win on the
# sim (median 0.043 against 0.045, MSE 0.99x). At 16 settings (the quick preset's budget) it lost:
# median 0.055 against 0.052, MSE 1.18x over three designs (benchmarks/RESULTS.md, 2026-12-06/07).
_SEGMENT_WEIGHTED = {"segment_weight": 0.5}
# With the segment weight, each setting's weight closer to its ESR (energy^-0.75, from ^-0.5) won
# every held-out ESR statistic with quick's two nets: at 24 settings (three maximin designs)
# median 0.041 against 0.043, p90 0.090 against 0.112, mean 0.055 against 0.063, at 1.18x the
# MSE (the loudest settings, which rule MSE, weigh less); on 32 random sim settings median 0.020
# against 0.022, mean 0.028 against 0.035; one net on GxStudioPre's 32: p90 1.21 against 1.53.
# Power 1 (per-setting ESR) collapsed the GxStudioPre net. good's two 16000-step nets on 32 random
# sim settings: median 0.0116 against 0.0157, mean 0.024 against 0.027, p90 0.042 against 0.039
# (benchmarks/accuracy.py, 2026-12-07).
_CPU_FROM = {24: {**_SEGMENT_WEIGHTED, "level_weight": 0.75}}
# quick also clips the gradient's norm at 1 from 24 labels, measured at 32 settings with one of its
# nets: on GxStudioPre the net of training seed 1 learned silence without it (held-out median ESR
# 0.999) and fit with it (0.239); seed 0 median 0.221 against 0.234; GxAmplifier-X 0.534 against
# 0.578; the sim within its seed-to-seed spread (0.0281 and 0.0289 against 0.0231 and 0.0310).
# The loss's quiet segments weigh orders of magnitude more than the loud ones, and one step's
# spike can send Adam's moments far off. good's two 16000-step nets lost with it on GxStudioPre
# (median 0.179 against 0.138, p90 1.79 against 1.52), so good does not clip
# (benchmarks/RESULTS.md, 2026-12-07 evening).
_QUICK_FROM = {24: {**_CPU_FROM[24], "grad_clip": 1.0}}
_ENSEMBLE = {"batch_size": 8, "segment_length": 4096, "lr": 4e-3, "lr_schedule": "cosine", "warmup_steps": 20,
             "val_seconds": 1.0, "level_weight": 0.5}
# The CPU presets' net: feather's channels (8, then 4), FiLM from a 32-unit knob embedding, both
# layer arrays dilated 1 … 256 (receptive field 2045 instead of NAM's 4093): at equal CPU time
# it beat nano, and NAM's longer receptive field (see benchmarks/RESULTS.md).
_CPU_NET = {"preset": "feather", "conditioning": "film", "knob_hidden": 32, "max_dilation": 256}

RUN_PRESETS: dict[str, RunPreset] = {
    "tiny": RunPreset(
        signal="tiny",
        # the CPU presets' net and loss at nano's width, so the tests exercise the shipped path
        # (the segment weight from 4 settings on, as the others from 24, so runs test both sides)
        net_options={**_CPU_NET, "preset": "nano"},
        budget=8,
        initial=4,
        per_round=2,
        ensemble={"steps": 25, "batch_size": 4, "segment_length": 2048, "lr": 4e-3, "val_seconds": 0.5},
        final={"steps": 60, "batch_size": 4, "segment_length": 2048, "lr": 4e-3, "val_seconds": 1.0, "level_weight": 0.5},
        final_from={4: _SEGMENT_WEIGHTED},
        sampler_options={
            "ensemble-disagreement": {"steps": 15, "restarts": 4, "excerpt_seconds": 0.05, "score_excerpts": 2},
            "ensemble-diverse": {"pool": 16, "restarts": 2, "steps": 10, "score_excerpts": 1, "profile_points": 3},
        },
    ),
    "quick": RunPreset(
        signal="quick",
        # benchmarks/data_efficiency.py --size quick (3 seeds): a Sobol' start continued by the
        # settings farthest from every label had 0.87x a Sobol' design's held-out MSE and lower
        # median and mean ESR on every seed; README job 0.041 median ESR against 0.062 (see
        # benchmarks/RESULTS.md). The learners lost to both (the paper's crowds into the loud
        # corner: 0.20 median ESR against Sobol's 0.067 in the README job)
        sampler="maximin",
        net_options=_CPU_NET,
        budget=16,
        initial=8,
        per_round=4,
        # Validating on the whole input would cost more than these short trainings themselves.
        ensemble={**_ENSEMBLE, "steps": 150, "val_every": 150},
        # the mean of two nets trained apart (benchmarks/RESULTS.md): on 16 Sobol settings median
        # ESR 0.060 against its first net's 0.085 (accuracy.py, sim16sobol), in the README job 0.062
        # against 0.066; the two share the 2 cores that one feather net cannot use
        final={**_FINAL, "steps": 3200, "val_every": 800, "average": 2},
        final_from=_QUICK_FROM,
        sampler_options={"ensemble-disagreement": {"steps": 100, "excerpt_seconds": 0.05}},
    ),
    "good": RunPreset(
        signal="full",
        # benchmarks/data_efficiency.py --size quick --budget 32 (3 seeds, the quick recipe): a
        # Sobol' start continued by the settings that most shrink the mean distance to a label had
        # the lowest mean held-out ESR (0.043 against Sobol's 0.056, random's 0.054 and maximin's
        # 0.049) and the steadiest MSE, with Sobol's MSE and median (1.02x); maximin's picks crowd
        # the box's faces at 32 settings (see benchmarks/RESULTS.md). With good's final recipe its
        # 32 settings reached a median held-out ESR of 0.0093 against 0.0116 on 32 random ones
        # (benchmarks/accuracy.py, sim32coverage against sim32, 2026-12-07). level-coverage at
        # power 1 had the lower held-out MSE on all three devices (0.41x random's on GxStudioPre
        # over 3 seeds, 0.66x on the sim, 0.89x on GxAmplifier-X) but on the sim a median ESR of
        # 0.0144 against coverage's 0.0093: it buys the loud settings' error with the rest's
        sampler="coverage",
        net_options=_CPU_NET,
        budget=32,
        initial=12,
        per_round=5,
        ensemble={**_ENSEMBLE, "steps": 300, "val_every": 300},
        final={**_FINAL, "steps": 16000, "val_every": 2000, "average": 2},
        final_from=_CPU_FROM,
        sampler_options={"ensemble-disagreement": {"steps": 100, "excerpt_seconds": 0.1}},
    ),
    "paper": RunPreset(
        signal="full",
        net_options={"preset": "standard"},
        budget=64,
        initial=10,
        per_round=10,
        ensemble={"epochs": 50, "batch_size": 32, "lr": 4e-3, "lr_decay": 0.993},
        final={"epochs": 100, "batch_size": 32, "lr": 4e-3, "lr_decay": 0.993},
    ),
}


def get_preset(name: str) -> RunPreset:
    try:
        return RUN_PRESETS[name]
    except KeyError:
        raise PanamaError(
            f"unknown preset {name!r}", f"choose one of: {', '.join(RUN_PRESETS)}"
        ) from None
