"""Shared fixtures for the evaluation, comparison and report tests: one tiny trained capture.

Training even a tiny model costs seconds, so the capture is made once per test session and
copied where a test writes into it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# A real amp stand-in, installed for real as a local extension ($PANAMA_HOME/extensions): the
# built-in sim plus a little hiss and a reported non-determinism, so PANAMA treats it like a
# recorded amp (held-out recordings instead of labelling on demand).
NOISY_EXTENSION = '''
import numpy as np
from panama.core.hookspecs import hookimpl
from panama.amps.sim import SimAmp


class NoisySim(SimAmp):
    deterministic = False
    _calls = 0

    def label(self, x, sample_rate, setting):
        NoisySim._calls += 1
        y = super().label(x, sample_rate, setting)
        rng = np.random.default_rng(NoisySim._calls)
        return (y + 1e-4 * rng.standard_normal(y.shape)).astype(np.float32)


@hookimpl
def register_label_sources(register):
    register("noisy-sim", NoisySim, "the sim with hiss, treated as a recorded amp")
'''


def install_noisy_extension(home: Path) -> None:
    folder = Path(home) / "extensions"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "noisy_sim.py").write_text(NOISY_EXTENSION)


def tiny_capture(directory: Path, *, sampler: str = "random", budget: int = 4, labeler: str = "sim",
                 seed: int = 0) -> Path:
    from panama.core.loop import run_capture

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    run_capture(directory, labeler=labeler, sampler=sampler, budget=budget, preset="tiny", seed=seed,
                progress=False)
    return directory


def copy_capture(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target
