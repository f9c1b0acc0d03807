"""kill -9 a process that is labelling into a capture, at every dangerous instant.

The labelling process is real: a child forked from the test process (so it need not import
SciPy again) running the real capture code and the real sim; one more test kills the real
``panama label`` command. ``PANAMA_TEST_CRASH_AT=<point>@<n>`` makes the process SIGKILL itself
the n-th time it reaches ``<point>`` — before, during and after the WAV write and both journal appends. Afterwards the
capture is reopened: every journalled label must be intact (bit-identical to a fresh render),
no setting and no index may appear twice, no temp file may survive, and labelling resumes to
completion.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from capture_helpers import run_cli
from panama.amps.sim import SimAmp
from panama.core import faults
from panama.core.audio import read_wav
from panama.core.capture.store import Capture

SETTINGS = [
    {"gain": 0.1, "bass": 0.9},
    {"gain": 0.8, "treble": 0.2},
    {"gain": 0.5, "master": 0.9, "presence": 0.1},
]

POINTS = [
    "journal:before-append:label-started",
    "journal:mid-append:label-started",
    "journal:after-append:label-started",
    "wav:before-write",
    "wav:mid-write",
    "wav:before-rename",
    "wav:after-rename",
    "journal:before-append:labelled",
    "journal:mid-append:labelled",
    "journal:after-append:labelled",
]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crash") / "template"
    Capture.create(root, labeler="sim", preset="tiny")
    return root


@pytest.fixture(scope="module")
def expected(template: Path) -> dict[tuple[float, ...], np.ndarray]:
    capture = Capture.open(template)
    x = capture.read_input()
    amp = SimAmp()
    out = {}
    for s in SETTINGS:
        valid = capture.knob_space.validate_setting(s)
        out[tuple(valid.values())] = amp.label(x, capture.sample_rate, valid)
    return out


def _copy(template: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(template, dest)
    return dest


def _label_all(root: Path) -> None:
    """What `panama run` does on resume: label every setting not labelled yet."""
    capture = Capture.open(root)
    with capture.lock(), SimAmp() as amp:
        for s in SETTINGS:
            capture.label(amp, s)


def _forked_child(root: Path, crash_at: str) -> int:
    """Label in a forked child that SIGKILLs itself at ``crash_at``; returns its wait status."""
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 3
        try:
            os.environ["PANAMA_TEST_CRASH_AT"] = crash_at
            faults._hits.clear()
            _label_all(root)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return status


def _check_intact(root: Path, expected: dict[tuple[float, ...], np.ndarray]) -> list[tuple[float, ...]]:
    capture = Capture.open(root)
    with capture.lock():  # taking the lock runs recovery, as the next writer would
        pass
    labels = capture.labels()
    keys = [tuple(label.setting.values()) for label in labels]
    assert len(set(keys)) == len(keys), f"a setting was labelled twice: {keys}"
    indices = [label.index for label in labels]
    assert len(set(indices)) == len(indices)
    for label, key in zip(labels, keys, strict=True):
        y, _ = read_wav(label.path, sample_rate=capture.sample_rate)
        assert np.array_equal(y, expected[key]), f"{label.path.name} is not intact"
    leftovers = [p.name for p in root.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    raw = (root / "journal.jsonl").read_bytes()
    assert raw.endswith(b"\n")  # a torn line was cut off
    # Every label file on disk is journalled (a rename that lost its journal line is recovered).
    on_disk = sorted(p.name for p in (root / "labels").iterdir())
    assert on_disk == sorted(label.path.name for label in labels)
    return keys


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_at_each_point_loses_and_duplicates_nothing(
    point: str, template: Path, expected: dict[tuple[float, ...], np.ndarray], tmp_path: Path
) -> None:
    root = _copy(template, tmp_path / "cap")
    # Crash while writing the *second* label: the first one must survive untouched.
    status = _forked_child(root, f"{point}@2")
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"child ended with {status}"
    before = _check_intact(root, expected)
    assert 1 <= len(before) <= 2
    _label_all(root)  # resume
    after = _check_intact(root, expected)
    assert len(after) == len(SETTINGS)
    assert after[: len(before)] == before  # nothing journalled before the crash changed


def test_sigkill_through_the_cli_then_resume(template: Path, expected: dict, tmp_path: Path) -> None:
    root = _copy(template, tmp_path / "cap")
    result = run_cli("label", str(root), "--setting", "gain=0.1,bass=0.9",
                     env={"PANAMA_TEST_CRASH_AT": "wav:after-rename"})
    assert result.returncode == -signal.SIGKILL
    # The WAV was complete but never journalled as labelled: the next writer recovers it.
    result = run_cli("label", str(root), "--setting", "gain=0.1,bass=0.9")
    assert result.returncode == 0, result.stderr
    assert "already labelled" in result.stdout
    keys = _check_intact(root, expected)
    assert len(keys) == 1
    events = Capture.open(root).events()
    assert any(e.get("recovered") for e in events if e["event"] == "labelled")


def test_lock_of_a_killed_writer_is_free(template: Path, tmp_path: Path) -> None:
    root = _copy(template, tmp_path / "cap")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys,time\nfrom panama.core.capture.store import Capture\n"
         "c=Capture.open(sys.argv[1])\nwith c.lock():\n    print('locked',flush=True)\n    time.sleep(60)",
         str(root)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        from panama.core.errors import PanamaError

        with pytest.raises(PanamaError, match=rf"in use by another PANAMA process \(pid {holder.pid}"):
            with Capture.open(root).lock():
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with Capture.open(root).lock():  # the kernel released the dead writer's lock
        pass
