"""Gear metadata and snapshot packs: `panama init --meta`, `panama meta`, `panama export --grid`
/ `--settings-file` on a real trained capture, killed half-way and resumed."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from panama.core import packs
from panama.core.errors import PanamaError
from panama.core.knobs import Knob, KnobSpace

SPACE = KnobSpace(knobs=(Knob(name="gain", minimum=0, maximum=10), Knob(name="bass", minimum=0, maximum=10),
                         Knob(name="level", minimum=-6, maximum=6, unit="dB")))


def test_grid_is_every_combination_with_defaults_elsewhere() -> None:
    snaps = packs.grid(SPACE, "gain=0:10:3,level=-6:6:2")
    assert [(s.setting["gain"], s.setting["level"]) for s in snaps] == [
        (0, -6), (0, 6), (5, -6), (5, 6), (10, -6), (10, 6)]
    assert {s.setting["bass"] for s in snaps} == {SPACE["bass"].default}
    assert packs.file_names("amp", snaps, SPACE)[:2] == ["amp-gain0_level-6.nam", "amp-gain0_level6.nam"]
    one = packs.grid(SPACE, "bass=7")
    assert len(one) == 1 and packs.file_names("my amp", one, SPACE) == ["my_amp-gain5_bass7_level0.nam"]


@pytest.mark.parametrize(("text", "message"), [
    ("treble=0:10:3", "unknown knob 'treble'"),
    ("gain=0:11:3", "out of range"),
    ("gain=0:10", "not from:to:count"),
    ("gain=0:10:2.5", "whole number"),
    ("gain=loud", "not a number"),
    ("gain=0:10:40,bass=0:10:40", "more than 1000"),
])
def test_bad_grids_are_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(PanamaError, match=message):
        packs.grid(SPACE, text)


def test_settings_file_reads_strings_and_tables(tmp_path: Path) -> None:
    path = tmp_path / "presets.toml"
    path.write_text('crunch = "gain=6,bass=4"\n"lead/solo" = "gain=9.5"\n[clean]\ngain = 1\nlevel = -3\n')
    snaps = packs.settings_file(SPACE, path)
    assert [s.preset for s in snaps] == ["crunch", "lead/solo", "clean"]
    assert snaps[0].setting == {"gain": 6, "bass": 4, "level": 0} and snaps[2].setting["level"] == -3
    assert packs.file_names("amp", snaps, SPACE) == ["amp-crunch.nam", "amp-lead_solo.nam", "amp-clean.nam"]
    for body, message in (('x = "gain=60"', "preset 'x': knob 'gain': 60 is out of range"),
                          ("x = 3", "neither"), ("x = [", "not valid TOML"), ("", "names no settings")):
        path.write_text(body)
        with pytest.raises(PanamaError, match=message):
            packs.settings_file(SPACE, path)
    with pytest.raises(PanamaError, match="does not exist"):
        packs.settings_file(SPACE, tmp_path / "nope.toml")


def test_init_meta_and_meta_command(tmp_path: Path, panama) -> None:
    bad = panama("init", str(tmp_path / "bad"), "--labeler", "sim", "--preset", "tiny", "--meta", "tone_type=loud")
    assert bad.returncode == 2 and "tone_type" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "bad").exists()
    done = panama("init", str(tmp_path / "amp"), "--labeler", "sim", "--preset", "tiny",
                  "--meta", "gear_make=Fender,gear_model=Deluxe Reverb,tone_type=clean")
    assert done.returncode == 0, done.stderr
    config = json.loads((tmp_path / "amp" / "capture.json").read_text())
    assert config["meta"] == {"gear_make": "Fender", "gear_model": "Deluxe Reverb", "tone_type": "clean"}
    changed = panama("meta", str(tmp_path / "amp"), "--set", "tone_type=crunch,gear_model=,input_level_dbu=12.2",
                     "--json")
    assert changed.returncode == 0, changed.stderr
    assert json.loads(changed.stdout) == {"gear_make": "Fender", "tone_type": "crunch", "input_level_dbu": 12.2}
    refused = panama("meta", str(tmp_path / "amp"), "--set", "input_level_dbu=loud")
    assert refused.returncode == 2 and "input_level_dbu" in refused.stderr
    assert json.loads((tmp_path / "amp" / "capture.json").read_text())["meta"]["tone_type"] == "crunch"


@pytest.mark.slow
def test_pack_from_a_capture_resumes_after_a_kill(trained_capture: Path, tmp_path: Path, panama) -> None:
    from eval_helpers import copy_capture

    root = copy_capture(trained_capture, tmp_path / "amp")
    env = {"OMP_NUM_THREADS": "1"}
    assert panama("meta", str(root), "--set", "gear_make=Marshall,gear_model=JCM800,gear_type=amp,"
                  "tone_type=crunch,modeled_by=tests").returncode == 0
    args = ("export", str(root), "--grid", "gain=0:1:3,bass=0.2:0.8:2", "--no-progress")
    killed = panama(*args, env={**env, "PANAMA_TEST_CRASH_AT": "pack:after-file@3"})
    assert killed.returncode == -9
    folder = root / "exports" / "amp-snapshots"
    first = sorted(folder.iterdir())
    assert len(first) == 3 and all(p.suffix == ".nam" for p in first)  # whole files, no temp, no index yet
    stamps = {p.name: p.stat().st_mtime_ns for p in first}

    done = panama(*args, env=env)
    assert done.returncode == 0, done.stderr
    assert "wrote 3, kept 3" in done.stdout
    assert all((folder / name).stat().st_mtime_ns == ns for name, ns in stamps.items())  # not redone
    names = sorted(p.name for p in folder.glob("*.nam"))
    assert names == sorted(f"amp-gain{g}_bass{b}.nam" for g in ("0", "0.5", "1") for b in ("0.2", "0.8"))
    rows = list(csv.DictReader((folder / packs.INDEX_CSV).open()))
    assert [r["file"] for r in rows] == [f"amp-gain{g}_bass{b}.nam" for g in ("0", "0.5", "1") for b in ("0.2", "0.8")]
    index = json.loads((folder / packs.INDEX_JSON).read_text())
    assert [k["name"] for k in index["knobs"]][:2] == ["gain", "bass"] and len(index["snapshots"]) == 6
    for row in rows:
        content = json.loads((folder / row["file"]).read_text())
        meta = content["metadata"]
        assert meta["gear_make"] == "Marshall" and meta["tone_type"] == "crunch" and meta["modeled_by"] == "tests"
        assert meta["name"].startswith("Marshall JCM800 (gain=")
        assert float(row["loudness_db"]) == meta["loudness"] and float(row["nam_gain"]) == meta["gain"]
        assert float(row["expected_esr"]) == meta["training"]["validation_esr"] > 0
        assert "nearest" in row["esr_basis"]
        assert float(row["gain"]) == meta["panama"]["setting"]["gain"]
    assert len({r["loudness_db"] for r in rows}) > 1  # the settings really differ

    # measured on another DI, the loudness changes: every file is redone
    import shutil

    shutil.copy(root / "input.wav", tmp_path / "di.wav")
    other = panama(*args, "--loudness-input", str(tmp_path / "di.wav"), env=env)
    assert other.returncode == 0 and "wrote 6" in other.stdout, other.stderr
    assert json.loads((folder / names[0]).read_text())["metadata"]["panama"]["loudness_input_file"] == "di.wav"

    # a single export at a recorded setting carries the ESR measured there
    from panama.core.capture.store import Capture

    label = Capture.open(root).labels()[0]
    text = ",".join(f"{k}={v!r}" for k, v in label.setting.items())
    single = panama("export", str(root), "--setting", text, "-o", str(tmp_path / "one.nam"), "--meta", "name=My amp")
    assert single.returncode == 0, single.stderr
    meta = json.loads((tmp_path / "one.nam").read_text())["metadata"]
    assert meta["name"] == "My amp" and meta["panama"]["validation_esr"]["distance"] == 0.0
    assert meta["panama"]["validation_esr"]["basis"].startswith("measured at this setting")

    # bad input: one line, nothing written
    for bad, message in ((("--grid", "gain=0:1:3", "--format", "panama"), "--format nam"),
                         (("--grid", "gain=0:2:3"), "out of range"),
                         (("--settings-file", str(tmp_path / "none.toml")), "does not exist")):
        result = panama("export", str(root), *bad, "-o", str(tmp_path / "nothing"))
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "nothing").exists()
