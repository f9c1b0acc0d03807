"""A round's ensemble fit is checkpointed: a run killed during it resumes from the last saved
weights (not from scratch), and a checkpoint of any other fit is never resumed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from capture_helpers import run_cli

# `panama run` on the tiny preset with the ensemble checkpointed after every step (the presets
# save every 10 s, longer than a whole tiny fit).
RUN = """
import sys
from panama.core import presets
from panama.core.loop import run_capture

tiny = presets.RUN_PRESETS["tiny"]
presets.RUN_PRESETS["tiny"] = tiny.model_copy(update={"ensemble": {**tiny.ensemble, "checkpoint_seconds": 0}})
run_capture(sys.argv[1], sampler="ensemble-disagreement", budget=5, preset="tiny", progress=False)
"""


def _run(cap: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", RUN, str(cap)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PANAMA_LOAD_PLUGINS": "", "OMP_NUM_THREADS": "1", **env})


def test_a_killed_ensemble_fit_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    cap = tmp_path / "cap"
    killed = _run(cap, PANAMA_TEST_CRASH_AT="train:after-checkpoint@10")
    assert killed.returncode == -9, killed.stderr
    checkpoint = cap / "rounds" / "01" / "ensemble.ckpt"
    assert checkpoint.exists() and not (cap / "rounds" / "01" / "ensemble.pt").exists()
    assert "panama run" in json.loads(run_cli("status", str(cap), "--json").stdout)["next"]

    done = _run(cap)
    assert done.returncode == 0, done.stderr
    import torch

    ensemble = torch.load(cap / "rounds" / "01" / "ensemble.pt", weights_only=True)
    assert ensemble["metrics"]["resumed_from_step"] == 10  # continued, not restarted
    assert ensemble["metrics"]["steps"] == 25  # and still trained exactly the recipe's steps
    steps = [entry["step"] for entry in ensemble["history"]]
    assert steps == sorted(set(steps)) and 10 in steps and steps[-1] == 25  # the record runs on from step 10
    assert not checkpoint.exists()  # done: the ensemble.pt replaces it


def test_a_foreign_or_torn_checkpoint_is_not_resumed(tmp_path: Path) -> None:
    from panama.core.train.checkpoint import resume_path

    path = tmp_path / "ensemble.ckpt"
    path.write_bytes(b"half a checkpoint")
    assert resume_path(path, "abc") == (None, 0)
    assert not path.exists()
