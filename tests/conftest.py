"""Shared fixtures: every test gets its own PANAMA_HOME and a fresh plugin registry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from panama.core.plugins import reset_registry

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("panama-home")
    monkeypatch.setenv("PANAMA_HOME", str(home))
    for var in ("PANAMA_LOAD_PLUGINS", "PANAMA_STRICT_PLUGINS", "PANAMA_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    reset_registry()
    yield home
    reset_registry()


@pytest.fixture
def panama_home(_isolated_home: Path) -> Path:
    return _isolated_home


def run_panama(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
               timeout: float = 300, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `panama` console entry point in a subprocess (as a user would)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "panama.core.cli", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout, input=input,
    )


@pytest.fixture
def panama():
    return run_panama


@pytest.fixture(scope="session")
def trained_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A capture of the sim with a tiny trained model (4 random settings), made once.

    Tests that write into a capture copy it first (``eval_helpers.copy_capture``).
    """
    from eval_helpers import tiny_capture

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PANAMA_HOME", str(tmp_path_factory.mktemp("panama-home-session")))
        reset_registry()
        path = tiny_capture(tmp_path_factory.mktemp("trained") / "amp")
    reset_registry()
    return path
