"""Shared helpers for the audio/signal/capture tests (kept out of conftest.py on purpose)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 48_000


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `panama` CLI in a subprocess (as a user would)."""
    import os

    full_env = {**os.environ, "PANAMA_LOAD_PLUGINS": "", "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "panama.core.cli", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd, timeout=600,
    )


def write(path: Path, data: np.ndarray, sr: int = SR, subtype: str = "FLOAT") -> Path:
    sf.write(str(path), np.asarray(data, dtype=np.float32), sr, subtype=subtype)
    return path


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its content hash: 'nothing was written' is an equality.

    An *empty* ``.lock`` is left out: taking the writer lock creates it, and releasing the lock
    empties it again; it holds no data.
    """
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not (p.name == ".lock" and p.stat().st_size == 0)
    }


def one_line(text: str) -> str:
    """Rich may wrap long lines; join them back for message assertions."""
    return " ".join(text.split())
