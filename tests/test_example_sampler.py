"""The example third-party sampler, installed for real, is a peer of the built-in ones."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "panama-sampler-example"

PROPOSE = """
import json, numpy as np
from panama.core.components import build
from panama.core.knobs import KnobSpace
from panama.core.protocols import SamplerContext
space = KnobSpace.of("gain", "bass")
ctx = SamplerContext(knob_space=space, labelled=[], budget_remaining=4, rng=np.random.default_rng(0))
print(json.dumps(build("sampler", "example", {}).propose(ctx, 3)))
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("example-site")
    # Offline and faster when hatchling is already here; otherwise pip fetches it to build.
    isolation = [] if importlib.util.find_spec("hatchling") is None else ["--no-build-isolation"]
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check",
         *isolation, "--target", str(target), str(EXAMPLE)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    return target


def _run(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.slow
def test_installed_example_is_listed_and_proposes(site: Path) -> None:
    listed = _run(site, "-m", "panama.core.cli", "plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "panama-sampler-example" in listed.stdout and '"example"' in listed.stdout
    result = _run(site, "-c", PROPOSE)
    assert result.returncode == 0, result.stderr
    proposals = json.loads(result.stdout)
    assert proposals[0] == {"gain": 0.5, "bass": 0.5}
    assert len(proposals) == 3 and len({json.dumps(p) for p in proposals}) == 3


@pytest.mark.slow
def test_installed_example_runs_a_capture(site: Path, tmp_path: Path) -> None:
    """`panama run --sampler example`: a third-party sampler drives the whole loop."""
    capture = tmp_path / "amp"
    result = _run(site, "-m", "panama.core.cli", "run", str(capture), "--sampler", "example",
                  "--labeler", "sim", "--budget", "3", "--preset", "tiny", "--quiet")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in (capture / "journal.jsonl").read_text().splitlines()]
    proposed = [e for e in events if e["event"] == "proposed"]
    assert {e["sampler"] for e in proposed} == {"example"}
    settings = [e["setting"] for e in events if e["event"] == "labelled"]
    assert len(settings) == 3 and settings[0] == {k: 0.5 for k in settings[0]}  # centre first
    assert (capture / "exports" / "model.panama.json").exists()
