"""The machinery of the fault battery: one case = a bad input or an injected fault, run through
the real CLI, with the exit code, the message and the capture's bytes it must leave.

Every case works on its own copy of one small trained capture (made once per session), inside
its own work folder ``work/``: ``work/cap`` is the copy, ``work/new`` a folder that must not
come into existence, and take files are written next to them. "Unchanged" is an equality of
:func:`capture_helpers.tree_digest` over the whole work folder, taken after the case's setup.
Most cases run the CLI in this process (``panama.core.cli.run``: fast, no interpreter start);
kills run it in a subprocess, and permission cases as another user (``nobody`` under root,
whose permission checks would otherwise be bypassed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from capture_helpers import one_line, tree_digest

UNCHANGED = "unchanged"


@dataclass
class Work:
    """What a case sees: its folder, the capture copy, the input, and a place for cleanups."""

    root: Path
    cap: Path
    x: np.ndarray
    sr: int
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    capsys: Any = None

    @property
    def new(self) -> Path:
        return self.root / "new"

    def wav(self, name: str, y: np.ndarray, sr: int | None = None, subtype: str = "FLOAT") -> Path:
        path = self.root / name
        sf.write(str(path), np.asarray(y, dtype=np.float32), sr or self.sr, subtype=subtype)
        return path

    def label_file(self, n: int = 1) -> Path:
        return self.cap / "labels" / f"{n:04d}.wav"

    def journal(self) -> list[dict[str, Any]]:
        import json

        return [json.loads(line) for line in (self.cap / "journal.jsonl").read_text().splitlines() if line.strip()]

    def labelled_setting(self, n: int = 1) -> str:
        """A journalled label's setting as `--setting` text (full precision)."""
        for event in self.journal():
            if event["event"] == "labelled" and event["index"] == n:
                return ",".join(f"{k}={v!r}" for k, v in event["setting"].items())
        raise KeyError(n)

    def hold_lock(self) -> None:
        """Hold the capture's writer lock as another writer would (flock is per open file, so a
        second open in this process conflicts exactly like another process)."""
        from panama.core.capture.store import Capture

        context = Capture.open(self.cap).lock()
        context.__enter__()
        self.cleanups.append(lambda: context.__exit__(None, None, None))


@dataclass
class Case:
    id: str
    argv: tuple[str, ...]
    code: int
    message: str
    setup: Callable[[Work], Any] | None = None
    check: str | Callable[[Work, dict[str, str]], None] = UNCHANGED
    env: dict[str, str] = field(default_factory=dict)
    how: str = "inproc"  # inproc | subprocess | other-user


@dataclass
class Outcome:
    code: int
    out: str
    err: str


def other_user_prefix() -> list[str]:
    """Run as ``nobody`` when we are root (root ignores file permissions)."""
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []


def make_work(base: Path, parent: Path, capsys: Any = None) -> Work:
    root = parent / "work"
    root.mkdir(mode=0o755)
    shutil.copytree(base, root / "cap")
    x, sr = sf.read(str(base / "input.wav"), dtype="float32")
    return Work(root, root / "cap", x, int(sr), capsys=capsys)


def public_dir() -> Path:
    """A work folder another user can traverse (pytest's own are 0700)."""
    path = Path(tempfile.mkdtemp(prefix="panama-faults-"))
    path.chmod(0o755)
    return path


def run_case(case: Case, work: Work) -> Outcome:
    """Run ``case.argv`` (``{cap}``, ``{work}``, ``{new}`` filled in) as ``case.how`` says."""
    capsys = work.capsys
    argv = [a.format(cap=work.cap, work=work.root, new=work.new) for a in case.argv]
    env = {k: v.format(cap=work.cap, work=work.root) for k, v in case.env.items()}
    if case.how == "inproc":
        from panama.core import faults
        from panama.core.cli import run
        from panama.core.plugins import reset_registry

        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        faults._hits.clear()
        reset_registry()
        capsys.readouterr()
        try:
            code = run(argv)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            reset_registry()
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)
    prefix = other_user_prefix() if case.how == "other-user" else []
    full_env = {**os.environ, "PANAMA_LOAD_PLUGINS": "", "OMP_NUM_THREADS": "1", **env}
    result = subprocess.run([*prefix, sys.executable, "-m", "panama.core.cli", *argv],
                            capture_output=True, text=True, env=full_env, timeout=300)
    return Outcome(result.returncode, result.stdout, result.stderr)


def assert_outcome(case: Case, outcome: Outcome) -> None:
    text = one_line(outcome.err + " " + outcome.out)
    assert outcome.code == case.code, f"{case.id}: exit {outcome.code}, wanted {case.code}\n{outcome.err}{outcome.out}"
    assert case.message.lower() in text.lower(), f"{case.id}: {case.message!r} not in {text!r}"
    assert "Traceback" not in outcome.err, outcome.err
    if case.code not in (0, -9):
        errors = [line for line in outcome.err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, f"{case.id}: wanted one error line, got {outcome.err!r}"
        assert "internal error" not in errors[0], errors[0]


def digest(work: Work) -> dict[str, str]:
    return tree_digest(work.root)


def labels_intact(work: Work) -> list[int]:
    """After recovery: every journalled training label readable, no index or setting twice."""
    from panama.core.capture.store import Capture

    capture = Capture.open(work.cap)
    with capture.lock():  # taking the lock runs the repair a next writer would
        pass
    labels = capture.labels()
    indices = [label.index for label in labels]
    settings = [tuple(label.setting.values()) for label in labels]
    assert len(set(indices)) == len(indices) and len(set(settings)) == len(settings), settings
    assert capture.damaged_labels() == []
    assert not [p for p in work.cap.rglob("*") if p.name.endswith((".tmp", ".creating"))]
    assert (work.cap / "journal.jsonl").read_bytes().endswith(b"\n")
    return indices
