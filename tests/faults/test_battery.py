"""The fault battery: every row is a bad input or an injected fault, run through the real CLI.

Each row states the exit code, a substring of the one error line, and what the capture must
look like afterwards: byte for byte unchanged (``UNCHANGED``: the hashes of every file in the
case's work folder, taken after its setup), or repaired (a check that runs the next command and
asserts nothing was lost or duplicated). A row with exit 0 is a documented recovery or no-op.
The machinery is in ``faultlib.py``.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from faultlib import (
    UNCHANGED,
    Case,
    Work,
    assert_outcome,
    digest,
    labels_intact,
    make_work,
    public_dir,
    run_case,
)

CAP, NEW, WORK = "{cap}", "{new}", "{work}"
KNOBS = "gain=0.31,bass=0.42"


# ---------------------------------------------------------------------------- case set-ups
def take(work: Work, y: np.ndarray | None = None, name: str = "take.wav", sr: int | None = None) -> Path:
    """A take at KNOBS: the sim's answer to the capture's input (what `panama add` expects)."""
    from panama.amps.sim import SimAmp

    if y is None:
        with SimAmp() as sim:
            y = sim.label(work.x, work.sr, {"gain": 0.31, "bass": 0.42})
    return work.wav(name, y, sr)


def sim_take(work: Work) -> np.ndarray:
    from panama.amps.sim import SimAmp

    with SimAmp() as sim:
        return sim.label(work.x, work.sr, {"gain": 0.31, "bass": 0.42})


def truncated(work: Work, name: str, source: Path) -> Path:
    data = source.read_bytes()
    (work.root / name).write_bytes(data[: len(data) // 2])
    return work.root / name


def dataset(work: Work, entries: list[dict], name: str = "ds.json") -> Path:
    path = work.root / name
    path.write_text(json.dumps({"entries": entries}))
    return path


def extension(code: str, name: str = "ext.py") -> None:
    """Install a local extension into this test's $PANAMA_HOME (a real plugin, loaded for real)."""
    folder = Path(os.environ["PANAMA_HOME"]) / "extensions"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(code)


GHOST = '''
from panama.core.hookspecs import hookimpl

@hookimpl
def register_samplers(register):
    register("ghost", "panama_no_such_module.sampler:Ghost", "a sampler whose module is not installed")
'''
BROKEN = "raise ImportError('this extension needs libfoo')\n"
CLASH = '''
from panama.core.hookspecs import hookimpl

@hookimpl
def register_samplers(register):
    register("random", "panama.acquisition.fixed:RandomSampler", "a second 'random'")
'''


def delete_label(work: Work) -> None:
    work.label_file(2).unlink()


def edit_json(work: Work, name: str, **changes: object) -> None:
    path = work.cap / name
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def corrupt_journal_middle(work: Work) -> None:
    lines = (work.cap / "journal.jsonl").read_text().splitlines()
    lines[2] = lines[2][: len(lines[2]) // 2]
    (work.cap / "journal.jsonl").write_text("\n".join(lines) + "\n")


def read_only(work: Work) -> None:
    """The capture belongs to someone else (under root: the case runs as ``nobody``)."""
    if os.geteuid() != 0:
        for path in [work.cap, *work.cap.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
            work.cleanups.insert(0, lambda p=path: p.chmod(p.stat().st_mode | 0o200))


def read_only_parent(work: Work) -> None:
    locked = work.root / "locked"
    locked.mkdir(mode=0o755)
    if os.geteuid() != 0:
        locked.chmod(0o555)
        work.cleanups.insert(0, lambda: locked.chmod(0o755))


# -------------------------------------------------------------------------------- checks
def relabel_repairs(work: Work, before: dict[str, str]) -> None:
    from panama.core.capture.store import Capture

    capture = Capture.open(work.cap)
    assert capture.damaged_labels() == [] and len(capture.labels()) == 4
    assert any(e.get("replaces") == 2 for e in capture.events() if e["event"] == "labelled")


def nothing_created(work: Work, before: dict[str, str]) -> None:
    assert digest(work) == before
    assert not work.new.exists()


def no_stale_creating(work: Work, before: dict[str, str]) -> None:
    assert not [p for p in work.root.iterdir() if p.name.endswith(".creating")]
    assert (work.new / "capture.json").exists()


def stale_temp_removed(work: Work, before: dict[str, str]) -> None:
    assert not (work.cap / "labels" / ".0009.wav.999999999.tmp").exists()
    assert labels_intact(work)[-1] == 5


def torn_line_cut(work: Work, before: dict[str, str]) -> None:
    assert (work.cap / "journal.jsonl").read_bytes().endswith(b"\n")
    assert len(labels_intact(work)) == 5


def enospc_wav_recovers(work: Work, before: dict[str, str]) -> None:
    """The failed write left a `label-started` only; the next writer marks it abandoned."""
    assert not list((work.cap / "labels").glob(".*.tmp"))
    assert len(labels_intact(work)) == 4
    assert any(e["event"] == "label-abandoned" for e in work.journal())


def enospc_journal_recovers(work: Work, before: dict[str, str]) -> None:
    """The WAV was complete, its `labelled` line was torn: the next writer completes it."""
    assert len(labels_intact(work)) == 5
    assert any(e.get("recovered") for e in work.journal() if e["event"] == "labelled")


def killed_then_resumed(command: tuple[str, ...], labels: int):
    """Repaired: the same (or the natural next) command completes; nothing lost or doubled."""

    def check(work: Work, before: dict[str, str]) -> None:
        outcome = run_case(Case("resume", command, 0, ""), work)
        assert outcome.code == 0, outcome.err
        assert len(labels_intact(work)) == labels

    return check


def killed_create_cleaned(work: Work, before: dict[str, str]) -> None:
    """A kill while creating leaves `.new.PID.creating`; creating `new` again removes it."""
    assert [p.name for p in work.root.iterdir() if p.name.endswith(".creating")]
    outcome = run_case(Case("again", ("init", NEW, "--labeler", "sim", "--preset", "tiny"), 0, ""), work)
    assert outcome.code == 0, outcome.err
    no_stale_creating(work, before)


def killed_import_resumes(work: Work, before: dict[str, str]) -> None:
    outcome = run_case(Case("again", ("import", f"{WORK}/ds.json", CAP), 0, ""), work)
    assert outcome.code == 0, outcome.err
    assert "skipped 1 already imported" in outcome.out
    assert len(labels_intact(work)) == 6


def ds_two_takes(work: Work) -> None:
    from panama.amps.sim import SimAmp

    entries = []
    work.wav("in.wav", work.x)
    with SimAmp() as sim:
        for i, gain in enumerate((0.11, 0.77)):
            work.wav(f"out{i}.wav", sim.label(work.x, work.sr, {"gain": gain}))
            entries.append({"input_file": "in.wav", "output_file": f"out{i}.wav", "knob_type": "gain", "knob_level": gain})
    dataset(work, entries)


def add_existing_setting(work: Work) -> None:
    take(work, sim_take(work))
    (work.root / "setting.txt").write_text(work.labelled_setting(1))


# ---------------------------------------------------------------------------------- the table
ADD = ("add", CAP, f"{WORK}/take.wav", "--setting", KNOBS)
CASES: list[Case] = [
    # --- panama add: a take recorded elsewhere (items 1 and 2)
    Case("add-truncated-wav", ADD, 2, "is truncated",
         lambda w: truncated(w, "take.wav", take(w, name="whole.wav"))),
    Case("add-half-length-take", ADD, 2, "too short", lambda w: take(w, sim_take(w)[: len(w.x) // 2])),
    Case("add-one-second-too-long", ADD, 2, "longer than the input",
         lambda w: take(w, np.concatenate([sim_take(w), np.zeros(w.sr, np.float32)]))),
    Case("add-44k-take", ADD, 2, "44100 Hz but 48000 Hz", lambda w: take(w, sr=44_100)),
    Case("add-stereo-take", ADD, 2, "not mono",
         lambda w: w.wav("take.wav", np.stack([sim_take(w), 0.5 * sim_take(w)], axis=1))),
    Case("add-nan-take", ADD, 2, "NaN", lambda w: take(w, np.where(np.arange(len(w.x)) == 99, np.nan, sim_take(w)))),
    Case("add-silent-take", ADD, 2, "is silent", lambda w: take(w, np.zeros(len(w.x)))),
    Case("add-clipped-take", ADD, 2, "clipped",
         lambda w: w.wav("take.wav", np.clip(50 * sim_take(w), -1, 1), subtype="PCM_16")),
    Case("add-missing-file", ADD, 2, "no such file"),
    Case("add-folder-as-take", ("add", CAP, WORK, "--setting", KNOBS), 2, "is a folder"),
    Case("add-corrupt-wav", ADD, 2, "not a readable audio file",
         lambda w: (w.root / "take.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 50)),
    Case("add-empty-wav", ADD, 2, "contains no audio", lambda w: take(w, np.zeros(0))),
    Case("add-labelled-setting", ("add", CAP, f"{WORK}/take.wav", "--setting", "@setting"), 2, "already labelled",
         add_existing_setting),
    Case("add-unknown-knob", ("add", CAP, f"{WORK}/take.wav", "--setting", "drive=0.5"), 2, "unknown knob 'drive'",
         lambda w: take(w)),
    Case("add-knob-out-of-range", ("add", CAP, f"{WORK}/take.wav", "--setting", "gain=7"), 2, "out of range",
         lambda w: take(w)),
    Case("add-knob-twice", ("add", CAP, f"{WORK}/take.wav", "--setting", "gain=0.2,gain=0.9"), 2, "'gain' twice",
         lambda w: take(w)),
    Case("add-not-a-number", ("add", CAP, f"{WORK}/take.wav", "--setting", "gain=loud"), 2, "not a number",
         lambda w: take(w)),
    Case("add-malformed-setting", ("add", CAP, f"{WORK}/take.wav", "--setting", "gain"), 2, "not of the form",
         lambda w: take(w)),
    Case("add-not-a-capture", ("add", WORK, f"{WORK}/take.wav", "--setting", KNOBS), 2, "is not a PANAMA capture",
         lambda w: take(w)),
    Case("add-while-locked", ADD, 2, "in use by another PANAMA process", lambda w: (take(w), w.hold_lock())),
    # --- panama label
    Case("label-knob-twice", ("label", CAP, "--setting", "gain=0.2,gain=0.9"), 2, "'gain' twice"),
    Case("label-unknown-knob", ("label", CAP, "--setting", "drive=1"), 2, "unknown knob"),
    Case("label-out-of-range", ("label", CAP, "--setting", "gain=-1"), 2, "out of range"),
    Case("label-while-locked", ("label", CAP, "--setting", KNOBS), 2, "in use by another", lambda w: w.hold_lock()),
    Case("label-read-only-capture", ("label", CAP, "--setting", KNOBS), 2, "is read-only for you",
         read_only, how="other-user"),
    Case("add-read-only-capture", ADD, 2, "is read-only for you", lambda w: (take(w), read_only(w)), how="other-user"),
    Case("train-read-only-capture", ("train", CAP), 2, "is read-only for you", read_only, how="other-user"),
    Case("label-already-labelled", ("label", CAP, "--setting", "@setting"), 0, "already labelled",
         lambda w: (w.root / "setting.txt").write_text(w.labelled_setting(1))),
    # --- a new capture: nothing may be created (items 3 and 4)
    Case("run-unknown-sampler", ("run", NEW, "--preset", "tiny", "--sampler", "nosuch"), 2, "unknown sampler", check=nothing_created),
    Case("run-bad-sampler-option", ("run", NEW, "--preset", "tiny", "--sampler", "random", "--sampler-option", "foo=1"),
         2, "Extra inputs are not permitted", check=nothing_created),
    Case("run-invalid-sampler-value", ("run", NEW, "--preset", "tiny", "--sampler-option", "steps=-3"), 2,
         "greater than or equal to 0", check=nothing_created),
    Case("run-sampler-option-twice", ("run", NEW, "--preset", "tiny", "--sampler-option", "steps=3",
                                      "--sampler-option", "steps=4"), 2, "'steps' twice", check=nothing_created),
    Case("run-sampler-module-missing", ("run", NEW, "--preset", "tiny", "--sampler", "ghost"), 2,
         "could not be imported: No module named 'panama_no_such_module' — install the missing module",
         lambda w: extension(GHOST), check=nothing_created),
    Case("run-unknown-net", ("run", NEW, "--preset", "tiny", "--net", "nosuch"), 2, "unknown net", check=nothing_created),
    Case("run-bad-net-preset", ("run", NEW, "--preset", "tiny", "--net-preset", "huge"), 2, "preset: Input should be",
         check=nothing_created),
    Case("run-unknown-preset", ("run", NEW, "--preset", "huge"), 2, "unknown preset", check=nothing_created),
    Case("run-unknown-labeler", ("run", NEW, "--preset", "tiny", "--labeler", "nosuch"), 2, "unknown labeler",
         check=nothing_created),
    Case("run-bad-labeler-option", ("run", NEW, "--preset", "tiny", "--labeler-option", "foo=1"), 2,
         "labeler 'sim': foo", check=nothing_created),
    Case("run-input-truncated", ("run", NEW, "--preset", "tiny", "--input", f"{WORK}/in.wav"), 2, "is truncated",
         lambda w: truncated(w, "in.wav", w.cap / "input.wav"), check=nothing_created),
    Case("run-input-44k", ("run", NEW, "--preset", "tiny", "--input", f"{WORK}/in.wav"), 2,
         "pass --sample-rate 44100", lambda w: w.wav("in.wav", w.x, 44_100), check=nothing_created),
    Case("run-input-missing", ("run", NEW, "--preset", "tiny", "--input", f"{WORK}/in.wav"), 2, "no such file",
         check=nothing_created),
    Case("run-input-no-leading-silence", ("run", NEW, "--preset", "tiny", "--input", f"{WORK}/in.wav"), 2,
         "of silence", lambda w: w.wav("in.wav", 0.5 * np.sin(np.arange(w.sr * 3) / 7)), check=nothing_created),
    Case("init-input-clipped", ("init", NEW, "--labeler", "sim", "--input", f"{WORK}/in.wav"), 2, "clipped",
         lambda w: w.wav("in.wav", np.clip(40 * w.x, -1, 1), subtype="PCM_16"), check=nothing_created),
    Case("init-not-empty", ("init", NEW, "--labeler", "sim", "--preset", "tiny"), 2, "not empty",
         lambda w: (w.new.mkdir(), (w.new / "notes.txt").write_text("mine"))),
    Case("init-parent-missing", ("init", f"{WORK}/no/such", "--labeler", "sim"), 2, "does not exist"),
    Case("init-unknown-signal", ("init", NEW, "--labeler", "sim", "--preset", "huge"), 2, "unknown signal preset",
         check=nothing_created),
    Case("init-read-only-parent", ("init", f"{WORK}/locked/amp", "--labeler", "sim", "--preset", "tiny"), 2,
         "cannot create", read_only_parent, how="other-user"),
    # --- resuming, repairing (items 5 and 8)
    Case("run-other-options", ("run", CAP, "--seed", "5"), 2, "was started with other options"),
    Case("run-budget-below-labelled", ("run", CAP, "--budget", "2"), 2, "below the 4 settings"),
    Case("run-input-on-resume", ("run", CAP, "--input", f"{CAP}/input.wav"), 2, "already has its input.wav"),
    Case("run-label-file-deleted", ("run", CAP, "--budget", "5"), 2, "labels/0002.wav is missing", delete_label),
    Case("train-label-file-deleted", ("train", CAP), 2, "--relabel", delete_label),
    Case("run-label-file-truncated", ("run", CAP), 2, "labels/0002.wav is truncated",
         lambda w: w.label_file(2).write_bytes(w.label_file(2).read_bytes()[:5000])),
    Case("status-names-the-repair", ("status", CAP, "--json"), 0, "repair label 0002", delete_label),
    Case("relabel-repairs-deleted-label", ("label", CAP, "--setting", "@setting2", "--relabel"), 0, "replacing",
         lambda w: ((w.root / "setting.txt").write_text(w.labelled_setting(2)), delete_label(w)), check=relabel_repairs),
    Case("run-while-locked", ("run", CAP, "--budget", "5"), 2, "in use by another", lambda w: w.hold_lock()),
    Case("train-while-locked", ("train", CAP), 2, "in use by another", lambda w: w.hold_lock()),
    Case("export-while-locked", ("export", CAP, "--format", "panama"), 2, "in use by another", lambda w: w.hold_lock()),
    Case("export-dataset-while-locked", ("export-dataset", CAP), 2, "in use by another", lambda w: w.hold_lock()),
    Case("meta-while-locked", ("meta", CAP, "--set", "gear_make=Marshall"), 2, "in use by another",
         lambda w: w.hold_lock()),
    Case("meta-bad-gear-type", ("meta", CAP, "--set", "gear_type=toaster"), 2, "gear_type"),
    Case("export-pack-while-locked", ("export", CAP, "--grid", "gain=0:1:2"), 2, "in use by another",
         lambda w: w.hold_lock()),
    Case("import-while-locked", ("import", f"{WORK}/ds.json", CAP), 2, "in use by another",
         lambda w: (ds_two_takes(w), w.hold_lock())),
    # --- damaged capture files
    Case("capture-json-corrupt", ("label", CAP, "--setting", KNOBS), 2, "is not valid JSON",
         lambda w: (w.cap / "capture.json").write_text("{oops")),
    Case("capture-json-bad-budget", ("run", CAP), 2, "budget", lambda w: edit_json(w, "capture.json", budget=-1)),
    Case("capture-json-newer-format", ("status", CAP), 2, "newer PANAMA", lambda w: edit_json(w, "capture.json", format=99)),
    Case("journal-corrupt-line", ("label", CAP, "--setting", KNOBS), 2, "is corrupt", corrupt_journal_middle),
    Case("input-wav-missing", ("label", CAP, "--setting", KNOBS), 2, "has no input.wav",
         lambda w: (w.cap / "input.wav").unlink()),
    Case("journal-torn-last-line", ("label", CAP, "--setting", KNOBS), 0, "labelled labels/0005.wav",
         lambda w: open(w.cap / "journal.jsonl", "a").write('{"event": "label-sta'), check=torn_line_cut),
    Case("stale-temp-file", ("label", CAP, "--setting", KNOBS), 0, "labelled",
         lambda w: (w.cap / "labels" / ".0009.wav.999999999.tmp").write_bytes(b"half"), check=stale_temp_removed),
    # --- export, train, import arguments
    Case("export-unknown-format", ("export", CAP, "--format", "nosuch"), 2, "unknown exporter"),
    Case("export-bad-nam-version", ("export", CAP, "--nam-version", "0.6"), 2, "is not supported"),
    Case("export-setting-not-nam", ("export", CAP, "--format", "panama", "--setting", "gain=0.1"), 2, "--format nam only"),
    Case("export-output-folder-missing", ("export", CAP, "-o", f"{WORK}/no/x.nam"), 2, "does not exist"),
    Case("train-bad-loss", ("train", CAP, "--loss", "foo"), 2, "loss"),
    Case("train-three-paths", ("train", CAP, "a", "b"), 2, "takes 1 path"),
    Case("import-missing-dataset", ("import", f"{WORK}/nope.json", CAP), 2, "no such file"),
    Case("import-invalid-json", ("import", f"{WORK}/ds.json", CAP), 2, "is not valid JSON",
         lambda w: (w.root / "ds.json").write_text("{'entries': []}")),
    Case("import-other-rate", ("import", f"{WORK}/ds.json", CAP), 2, "sample-rate mismatch",
         lambda w: (w.wav("in.wav", w.x, 44_100), w.wav("o.wav", 0.5 * w.x, 44_100),
                    dataset(w, [{"input_file": "in.wav", "output_file": "o.wav", "knob_type": "gain", "knob_level": 0.2}]))),
    # --- injected faults: a full disk, kills (items 7 and the crash campaign)
    Case("enospc-writing-label", ("label", CAP, "--setting", KNOBS), 2, "no space left",
         env={"PANAMA_TEST_FAIL_AT": "wav:mid-write"}, check=enospc_wav_recovers),
    Case("enospc-journalling-label", ("label", CAP, "--setting", KNOBS), 2, "no space left",
         env={"PANAMA_TEST_FAIL_AT": "journal:mid-append:labelled"}, check=enospc_journal_recovers),
    Case("kill-label-mid-wav", ("label", CAP, "--setting", KNOBS), -9, "",
         env={"PANAMA_TEST_CRASH_AT": "wav:mid-write"}, how="subprocess",
         check=killed_then_resumed(("label", CAP, "--setting", KNOBS), 5)),
    Case("kill-add-before-rename", ADD, -9, "", lambda w: take(w),
         env={"PANAMA_TEST_CRASH_AT": "wav:before-rename"}, how="subprocess", check=killed_then_resumed(ADD, 5)),
    Case("kill-add-after-rename", ADD, -9, "", lambda w: take(w),
         env={"PANAMA_TEST_CRASH_AT": "wav:after-rename"}, how="subprocess",
         check=killed_then_resumed(("label", CAP, "--setting", KNOBS), 5)),
    Case("kill-import-second-label", ("import", f"{WORK}/ds.json", CAP), -9, "", ds_two_takes,
         env={"PANAMA_TEST_CRASH_AT": "wav:mid-write@2"}, how="subprocess", check=killed_import_resumes),
    Case("kill-train-before-journal", ("train", CAP, "--steps", "3"), -9, "",
         env={"PANAMA_TEST_CRASH_AT": "journal:before-append:model-trained"}, how="subprocess",
         check=killed_then_resumed(("train", CAP, "--steps", "3"), 4)),
    Case("kill-while-creating", ("init", NEW, "--labeler", "sim", "--preset", "tiny"), -9, "",
         env={"PANAMA_TEST_CRASH_AT": "capture:creating"}, how="subprocess", check=killed_create_cleaned),
    # --- plugins and the environment (items 6 and 10)
    Case("strict-broken-extension", ("plugins",), 2, "extensions/bad.py", lambda w: extension(BROKEN, "bad.py"),
         env={"PANAMA_STRICT_PLUGINS": "1"}),
    Case("strict-clash", ("plugins",), 2, "'random' is registered by both", lambda w: extension(CLASH),
         env={"PANAMA_STRICT_PLUGINS": "1"}),
    Case("strict-unknown-load-plugins", ("status", CAP), 2, "names 'nosuch', which is not an installed plugin",
         env={"PANAMA_STRICT_PLUGINS": "1", "PANAMA_LOAD_PLUGINS": "nosuch"}, how="subprocess"),
    Case("broken-extension-version", ("--version",), 0, "--debug shows the traceback", lambda w: extension(BROKEN),
         env={"PANAMA_LOAD_PLUGINS": "extensions"}, how="subprocess"),
    Case("lazy-target-missing-listed", ("plugins",), 0, "module 'panama_no_such_module' is not installed",
         lambda w: extension(GHOST)),
    Case("unreadable-extensions", ("status", CAP), 0, "cannot read the extensions folder",
         lambda w: (w.root / "home" / "extensions").mkdir(parents=True, mode=0),
         env={"PANAMA_LOAD_PLUGINS": "extensions"}, how="other-user"),
]


def _expand(case: Case, work: Work) -> Case:
    """``@setting``/``@setting2`` stand for a label's exact setting, known only after set-up."""
    text = (work.root / "setting.txt").read_text() if (work.root / "setting.txt").exists() else ""
    argv = tuple(text if a in ("@setting", "@setting2") else a for a in case.argv)
    return replace(case, argv=argv)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fault(case: Case, trained_capture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other_user = case.how == "other-user"
    if other_user and os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("needs setpriv to run as another user")
    # Another user must be able to reach the work folder (pytest's own folders are 0700).
    parent = public_dir() if other_user else tmp_path
    work = make_work(trained_capture, parent, capsys)
    if other_user:
        work.cleanups.append(lambda: shutil.rmtree(parent, ignore_errors=True))
        (work.root / "home").mkdir(mode=0o755)
        case = replace(case, env={"PANAMA_HOME": f"{WORK}/home", **case.env})
    try:
        if case.setup is not None:
            case.setup(work)
        before = digest(work)
        case = _expand(case, work)
        outcome = run_case(case, work)
        assert_outcome(case, outcome)
        if case.check == UNCHANGED:
            assert digest(work) == before, f"{case.id} changed the capture"
        else:
            assert callable(case.check)
            case.check(work, before)
    finally:
        for undo in reversed(work.cleanups):
            undo()


def test_the_battery_is_big_enough() -> None:
    assert len(CASES) >= 60 and len({c.id for c in CASES}) == len(CASES)


def test_debug_shows_a_broken_plugins_traceback(tmp_path: Path) -> None:
    """The warning promises it: `--debug` adds the traceback (and the command still works)."""
    from capture_helpers import run_cli

    extension(BROKEN, "bad.py")
    result = run_cli("--debug", "plugins", env={"PANAMA_LOAD_PLUGINS": "extensions"})
    assert result.returncode == 0, result.stderr
    assert "Traceback" in result.stderr and "libfoo" in result.stderr
