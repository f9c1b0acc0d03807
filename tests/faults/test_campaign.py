"""A crash campaign: ``panama run`` killed (SIGKILL) again and again at different instants of one
resumed run, then resumed to the end. The end state must be exactly what an uninterrupted run
leaves: every label once, none lost, a model trained on all of them, readable exports.
"""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

from faultlib import Work, labels_intact

from capture_helpers import run_cli

BUDGET = 7  # the trained capture has 4 labels: the run adds 3 in two rounds, then retrains
KILLS = [
    "loop:after-proposed",  # round proposed, nothing labelled
    "wav:mid-write",  # half a WAV in a temp file
    "journal:mid-append:labelled",  # a WAV renamed, its journal line torn
    "journal:before-append:model-trained",  # model.pt written, not journalled yet
]


def test_run_killed_at_every_instant_resumes_to_the_same_end(trained_capture: Path, tmp_path: Path) -> None:
    cap = Path(shutil.copytree(trained_capture, tmp_path / "cap"))
    work = Work(tmp_path, cap, x=None, sr=48_000)  # type: ignore[arg-type]
    progress = []
    for point in KILLS:
        killed = run_cli("run", str(cap), "--budget", str(BUDGET), "--quiet", env={"PANAMA_TEST_CRASH_AT": point})
        assert killed.returncode == -9, f"{point}: {killed.stderr}"
        progress.append(len(labels_intact(work)))
        status = run_cli("status", str(cap), "--json")
        assert status.returncode == 0 and "panama run" in json.loads(status.stdout)["next"], status.stderr
    assert progress == sorted(progress) and progress[-1] == BUDGET  # kills never undo progress
    done = run_cli("run", str(cap), "--quiet")
    assert done.returncode == 0, done.stderr
    indices = labels_intact(work)
    assert len(indices) == BUDGET and indices[:4] == [1, 2, 3, 4]  # an abandoned index is never reused
    events = [json.loads(line) for line in (cap / "journal.jsonl").read_text().splitlines()]
    trained = [e for e in events if e["event"] == "model-trained"]
    assert trained[-1]["labelled"] == BUDGET
    status = json.loads(run_cli("status", str(cap), "--json").stdout)
    assert status["next"].startswith("done")
    # Models and exports are as readable as the labels beside them (not mkstemp's 0600).
    label_mode = stat.S_IMODE((cap / "labels" / "0001.wav").stat().st_mode)
    for path in [cap / "models" / "model.pt", *sorted((cap / "exports").iterdir())]:
        assert stat.S_IMODE(path.stat().st_mode) == label_mode, path
