"""The README's ~40-line label source works as a drop-in extension, end to end through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import soundfile as sf

from capture_helpers import run_cli

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "extensions" / "fuzz_pedal.py"


def test_fuzz_extension_inspect_init_and_label(tmp_path: Path, panama_home: Path) -> None:
    (panama_home / "extensions").mkdir()
    shutil.copy(EXAMPLE, panama_home / "extensions")
    env = {"PANAMA_LOAD_PLUGINS": "extensions"}

    inspect = run_cli("labelers", "inspect", "fuzz", "--json", env=env)
    assert inspect.returncode == 0, inspect.stderr
    knobs = {k["name"]: k for k in json.loads(inspect.stdout)["knobs"]}
    assert set(knobs) == {"fuzz", "tone"} and knobs["fuzz"]["maximum"] == 10

    capture = tmp_path / "fuzz"
    assert run_cli("init", str(capture), "--labeler", "fuzz:output_db=-3", "--preset", "tiny", env=env).returncode == 0
    for setting in ("fuzz=1,tone=5", "fuzz=9,tone=5"):
        result = run_cli("label", str(capture), "--setting", setting, env=env)
        assert result.returncode == 0, result.stderr
    soft, _ = sf.read(capture / "labels" / "0001.wav")
    hard, _ = sf.read(capture / "labels" / "0002.wav")
    rms = lambda y: float((y**2).mean() ** 0.5)  # noqa: E731
    assert rms(hard) > 1.3 * rms(soft)  # more fuzz: the clipper squares the wave up

    bad = run_cli("label", str(capture), "--setting", "fuzz=11", env=env)
    assert bad.returncode == 2 and "knob 'fuzz': 11 is out of range" in bad.stderr
