"""The capture directory and its commands: init, label, import, export-dataset.

Every audio check is fed through the CLI as a real bad WAV file; each case asserts the exit
code, the message, and that nothing at all was written to the capture (or no capture made).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from capture_helpers import SR, one_line, tree_digest, write
from panama.amps.sim import SimAmp
from panama.core.audio import read_wav
from panama.core.capture.store import Capture, CaptureConfig
from panama.core.cli import run
from panama.core.errors import PanamaError
from panama.core.knobs import KnobSpace
from panama.core.signal import make_signal


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cap") / "amp"
    Capture.create(root, labeler="sim", preset="tiny", budget=12)
    return root


@pytest.fixture
def cap(template: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(template, tmp_path / "amp"))


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run([str(a) for a in args])
    captured = capsys.readouterr()
    return code, one_line(captured.out), one_line(captured.err)


# ------------------------------------------------------------------------------ the API
def test_create_writes_the_documented_layout(cap: Path) -> None:
    for name in ("capture.json", "input.wav", "input.json", "journal.jsonl", "labels", "rounds", "models", "exports"):
        assert (cap / name).exists(), name
    capture = Capture.open(cap)
    assert isinstance(capture.config, CaptureConfig)
    assert capture.config.labeler == "sim" and capture.config.budget == 12 and capture.config.preset == "tiny"
    assert capture.knob_space.names == ["gain", "bass", "mid", "treble", "master", "presence"]
    assert np.array_equal(capture.read_input(), make_signal("tiny").audio)
    assert capture.segments["blip_1"] == make_signal("tiny").segments["blip_1"]
    assert capture.round_dir(3) == cap / "rounds" / "03" and (cap / "rounds" / "03").is_dir()
    assert capture.models_dir.is_dir() and capture.exports_dir.is_dir()
    assert [e["event"] for e in capture.events()] == ["created"]
    assert not any(p.name.endswith(".creating") for p in cap.parent.iterdir())


def test_label_stores_the_sim_output_and_never_duplicates(cap: Path) -> None:
    capture = Capture.open(cap)
    amp = SimAmp()
    first = capture.label(amp, {"gain": 0.7, "bass": 0.2})
    again = capture.label(amp, {"gain": 0.7, "bass": 0.2})
    assert again.index == first.index == 1
    y, _ = read_wav(first.path, sample_rate=SR)
    x = capture.read_input()
    assert np.array_equal(y, amp.label(x, SR, first.setting))
    second = capture.label(amp, {"gain": 0.1})
    forced = capture.label(amp, {"gain": 0.1}, relabel=True)
    assert (second.index, forced.index) == (2, 3)
    # --relabel replaces: label 2 stays on disk and in the journal, but training sees label 3 only.
    data = Capture.open(cap).dataset()
    assert data.y.shape == (2, len(x)) and data.knobs.shape == (2, 6) and data.x.shape == x.shape
    assert data.knobs[0].tolist() == pytest.approx([0.7, 0.2, 0.5, 0.5, 0.5, 0.5])
    assert data.indices == [1, 3]
    assert (cap / "labels" / "0002.wav").exists()
    events = [e["event"] for e in capture.events()]
    assert events.count("labelled") == 3 and events.count("label-started") == 3
    assert all(isinstance(e.get("measured_latency"), int) for e in capture.events() if e["event"] == "labelled")


def test_add_label_checks_before_writing(cap: Path) -> None:
    capture = Capture.open(cap)
    x = capture.read_input()
    before = tree_digest(cap)
    with pytest.raises(PanamaError, match="unequal lengths"):
        capture.add_label({"gain": 0.5}, x[:-480])
    with pytest.raises(PanamaError, match="unknown knob"):
        capture.add_label({"drive": 0.5}, x)
    assert tree_digest(cap) == before
    label = capture.add_label({"gain": 0.5}, 0.5 * x, latency=17, source="import")
    assert label.latency == 17 and capture.labels()[0].source == "import"


def test_lock_refuses_a_second_writer_and_is_reentrant(cap: Path) -> None:
    first, second = Capture.open(cap), Capture.open(cap)
    with first.lock():
        with first.lock():  # re-entrant for the holder
            assert first.locked
        with pytest.raises(PanamaError, match=r"in use by another PANAMA process \(pid \d+"):
            with second.lock():
                pass
        with pytest.raises(PanamaError, match="in use"):
            second.journal("note", text="must not be written")
    with second.lock():
        pass
    assert "must not be written" not in (cap / "journal.jsonl").read_text()


def test_torn_journal_line_is_ignored_then_repaired(cap: Path) -> None:
    capture = Capture.open(cap)
    capture.label(SimAmp(), {"gain": 0.3})
    with open(cap / "journal.jsonl", "ab") as handle:
        handle.write(b'{"event": "labelled", "index": 9, "fi')
    assert len(Capture.open(cap).labels()) == 1
    with Capture.open(cap).lock():
        pass
    assert (cap / "journal.jsonl").read_bytes().endswith(b"}\n")
    assert Capture.open(cap).next_index() == 2


def test_a_users_own_input_works_like_the_generated_one(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(1)
    own = np.concatenate([np.zeros(SR // 4), 0.3 * np.sin(np.arange(SR) * 0.05) * rng.uniform(0.5, 1, SR)])
    write(tmp_path / "mine.wav", own)
    code, out, err = cli(capsys, "init", tmp_path / "c", "--labeler", "sim", "--input", tmp_path / "mine.wav")
    assert code == 0, err
    assert "your" in out
    code, out, err = cli(capsys, "label", tmp_path / "c", "--setting", "gain=0.9")
    assert code == 0, err
    capture = Capture.open(tmp_path / "c")
    assert capture.config.preset == "custom" and len(capture.labels()) == 1


# ---------------------------------------------------------------------- the commands
def test_cli_init_label_export_import_round_trip(tmp_path: Path, capsys) -> None:
    root = tmp_path / "amp"
    code, out, err = cli(capsys, "init", root, "--labeler", "sim", "--preset", "tiny", "--seed", "2")
    assert code == 0, err
    assert "created capture" in out
    for setting in ("gain=0.7,bass=0.2", "treble=0.9", "gain=0.7,bass=0.2"):
        code, out, err = cli(capsys, "label", root, "--setting", setting)
        assert code == 0, err
    assert "already labelled" in out
    assert len(Capture.open(root).labels()) == 2
    code, out, err = cli(capsys, "export-dataset", root)
    assert code == 0, err
    exported = json.loads((root / "exports" / "knob_dataset.json").read_text())
    assert exported["entries"][1]["knob_type"] == "treble" and exported["entries"][1]["knob_level"] == 0.9
    assert exported["entries"][0]["knobs"]["bass"] == 0.2
    code, out, err = cli(capsys, "import", root / "exports" / "knob_dataset.json", tmp_path / "copy")
    assert code == 0, err
    original, copy = Capture.open(root).dataset(), Capture.open(tmp_path / "copy").dataset()
    assert np.array_equal(original.y, copy.y) and np.array_equal(original.knobs, copy.knobs)
    # Importing again, or into the capture it came from, duplicates nothing.
    for target in (tmp_path / "copy", root):
        code, out, err = cli(capsys, "import", root / "exports" / "knob_dataset.json", target)
        assert code == 0 and "imported 0" in out
    assert len(Capture.open(root).labels()) == 2


def test_import_the_seeds_single_knob_form(tmp_path: Path, capsys) -> None:
    x = make_signal("tiny").audio
    write(tmp_path / "input_1.wav", x)
    amp = SimAmp()
    entries = []
    for i, level in enumerate((0.0, 0.5, 1.0)):
        write(tmp_path / f"output_{i}.wav", amp.label(x, SR, {"gain": level}))
        entries.append({"input_file": "input_1.wav", "output_file": f"output_{i}.wav", "knob_type": "gain", "knob_level": level})
    entries.append({"input_file": "input_1.wav", "output_file": "output_1.wav", "knobs": {"gain": 0.5, "bass": 0.25}})
    (tmp_path / "knob_dataset.json").write_text(json.dumps({"entries": entries}))
    code, _, err = cli(capsys, "import", tmp_path / "knob_dataset.json", tmp_path / "cap")
    assert code == 0, err
    capture = Capture.open(tmp_path / "cap")
    assert capture.knob_space == KnobSpace.of("gain", "bass")
    # output_1.wav is described twice (gain, then gain and bass): one recording at the combined setting
    assert [label.setting for label in capture.labels()] == [
        {"gain": 0.0, "bass": 0.5}, {"gain": 0.5, "bass": 0.25}, {"gain": 1.0, "bass": 0.5}]
    assert "don't set bass; they take its default 0.5" in " ".join(err.split())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--labeler", "nosuch"], "unknown labeler 'nosuch'"),
        (["--labeler", "sim", "--preset", "huge"], "unknown signal preset 'huge'"),
        (["--labeler", "sim", "--labeler-options", "volume=3"], "volume"),
        (["--labeler", "sim", "--sampler", "nosuch"], "unknown sampler 'nosuch'"),
        (["--labeler", "sim", "--budget", "0"], "budget"),
    ],
)
def test_cli_init_rejects_bad_arguments_and_writes_nothing(tmp_path: Path, capsys, args: list[str], message: str) -> None:
    code, _, err = cli(capsys, "init", tmp_path / "c", *args)
    assert code == 2 and message in err
    assert list(tmp_path.iterdir()) == []


def test_cli_init_refuses_an_existing_capture(cap: Path, capsys) -> None:
    before = tree_digest(cap)
    code, _, err = cli(capsys, "init", cap, "--labeler", "sim", "--preset", "tiny")
    assert code == 2 and "already exists and is a capture" in err
    assert tree_digest(cap) == before


@pytest.mark.parametrize(
    ("setting", "message"),
    [("volume=0.5", "unknown knob 'volume'"), ("gain=1.5", "'gain': 1.5 is out of range"),
     ("gain=loud", "is not a number"), ("gain", "not of the form name=value")],
)
def test_cli_label_rejects_bad_settings_and_writes_nothing(cap: Path, capsys, setting: str, message: str) -> None:
    before = tree_digest(cap)
    code, _, err = cli(capsys, "label", cap, "--setting", setting)
    assert code == 2 and message in err
    assert tree_digest(cap) == before


def test_cli_label_outside_a_capture(tmp_path: Path, capsys) -> None:
    code, _, err = cli(capsys, "label", tmp_path, "--setting", "gain=0.5")
    assert code == 2 and "is not a PANAMA capture" in err


# ------------------------------------------------------------ bad WAVs through the CLI
def _bad_output(kind: str, good: np.ndarray, path: Path) -> None:
    if kind == "rate":
        write(path, good, sr=44_100)
    elif kind == "length":
        write(path, good[: -SR // 2])
    elif kind == "clipped":
        write(path, np.clip(good * 40, -1, 1))
    elif kind == "silent":
        write(path, np.zeros_like(good))
    elif kind == "nan":
        y = good.copy()
        y[1000:1010] = np.nan
        write(path, y)
    elif kind == "stereo":
        sf.write(str(path), np.stack([good, 0.5 * good], axis=1), SR, subtype="FLOAT")
    elif kind == "corrupt":
        path.write_bytes(b"RIFF$\x00\x00\x00WAVEfmt " + bytes(20))
    elif kind == "missing":
        pass


OUTPUT_CASES = {
    "rate": "is at 44100 Hz but 48000 Hz is needed (sample-rate mismatch)",
    "length": "unequal lengths: differs by -0.500 s",
    "clipped": "is clipped",
    "silent": "is silent",
    "nan": "NaN/inf sample(s)",
    "stereo": "not mono) — say which channel to take with --channel N",
    "corrupt": "is not a readable audio file",
    "missing": "no such file",
}


@pytest.mark.parametrize("kind", list(OUTPUT_CASES))
def test_bad_recording_through_the_cli_writes_nothing(cap: Path, tmp_path: Path, capsys, kind: str) -> None:
    capture = Capture.open(cap)
    x = capture.read_input()
    write(tmp_path / "in.wav", x)
    good = SimAmp().label(x, SR, {"gain": 0.2})
    write(tmp_path / "good.wav", good)
    _bad_output(kind, good, tmp_path / "bad.wav")
    entries = [{"input_file": "in.wav", "output_file": name, "knobs": {"gain": level}}
               for name, level in (("good.wav", 0.2), ("bad.wav", 0.8))]
    (tmp_path / "ds.json").write_text(json.dumps({"entries": entries}))
    before = tree_digest(cap)
    code, _, err = cli(capsys, "import", tmp_path / "ds.json", cap)
    assert code == 2, err
    assert OUTPUT_CASES[kind] in err and "bad.wav" in err
    assert err.count("\n") <= 1 and "Traceback" not in err
    assert tree_digest(cap) == before  # not even the good entry was written


INPUT_CASES = {
    "no-silence": "ms of silence; at least 100 ms below -50 dBFS is required",
    "rate-ok-but-stereo": "not mono",
    "nan": "NaN/inf",
    "silent": "is silent",
    "clipped": "is clipped",
    "corrupt": "is not a readable audio file",
    "missing": "no such file",
}


@pytest.mark.parametrize("kind", list(INPUT_CASES))
def test_bad_input_through_cli_init_makes_no_capture(tmp_path: Path, capsys, kind: str) -> None:
    x = make_signal("tiny").audio
    path = tmp_path / "in.wav"
    if kind == "no-silence":
        write(path, x[make_signal("tiny").segments["validation_start"][0] :])
    elif kind == "rate-ok-but-stereo":
        sf.write(str(path), np.stack([x, -x], axis=1), SR, subtype="FLOAT")
    else:
        _bad_output(kind, x, path)
    code, _, err = cli(capsys, "init", tmp_path / "c", "--labeler", "sim", "--input", path)
    assert code == 2 and INPUT_CASES[kind] in err
    assert not (tmp_path / "c").exists()
    assert [p.name for p in tmp_path.iterdir()] in ([], ["in.wav"])


def test_import_with_an_input_of_another_rate_or_content(cap: Path, tmp_path: Path, capsys) -> None:
    x = Capture.open(cap).read_input()
    write(tmp_path / "in44.wav", x, sr=44_100)
    write(tmp_path / "out44.wav", 0.5 * x, sr=44_100)
    write(tmp_path / "other.wav", np.roll(x, 100))
    write(tmp_path / "out.wav", 0.5 * x)
    (tmp_path / "a.json").write_text(json.dumps({"entries": [{"input_file": "in44.wav", "output_file": "out44.wav", "knob_type": "gain", "knob_level": 0.1}]}))
    (tmp_path / "b.json").write_text(json.dumps({"entries": [{"input_file": "other.wav", "output_file": "out.wav", "knob_type": "gain", "knob_level": 0.1}]}))
    (tmp_path / "c.json").write_text('{"entries": [{"input_file": "x.wav"}]}')
    before = tree_digest(cap)
    assert cli(capsys, "import", tmp_path / "a.json", cap)[2].count("sample-rate mismatch") == 1
    assert "is not the input of" in cli(capsys, "import", tmp_path / "b.json", cap)[2]
    code, _, err = cli(capsys, "import", tmp_path / "c.json", cap)
    assert code == 2 and "output_file" in err
    assert tree_digest(cap) == before


class DelayedAmp(SimAmp):
    """A 'real' device: the sim behind 123 samples of interface latency, with a longer take."""

    deterministic = False

    def label(self, x: np.ndarray, sample_rate: int, setting: dict[str, float]) -> np.ndarray:
        y = super().label(x, sample_rate, setting)
        return np.concatenate([np.zeros(123, np.float32), y, np.zeros(480, np.float32)])


def test_a_real_devices_latency_is_measured_aligned_and_stored(cap: Path) -> None:
    capture = Capture.open(cap)
    label = capture.label(DelayedAmp(), {"gain": 0.6})
    assert label.measured_latency is not None and abs(label.measured_latency - 123) <= 3
    assert label.latency == label.measured_latency - 2  # the causal safety margin
    y, _ = read_wav(label.path, sample_rate=SR)
    x = capture.read_input()
    reference = SimAmp().label(x, SR, {"gain": 0.6})
    shift = 123 - label.latency  # ≥ 0: the stored label is never ahead of the device
    assert 0 <= shift <= 1
    assert np.array_equal(y[shift:], reference[: len(x) - shift])
    assert Capture.open(cap).labels()[0].measured_latency == label.measured_latency
    # Not deterministic: asking again records the setting again (a real amp's take varies).
    assert capture.label(DelayedAmp(), {"gain": 0.6}).index == 2


def test_cli_label_while_another_writer_holds_the_lock(cap: Path, capsys) -> None:
    holder = Capture.open(cap)
    with holder.lock():
        before = tree_digest(cap)
        code, _, err = cli(capsys, "label", cap, "--setting", "gain=0.4")
        assert code == 2 and "is in use by another PANAMA process" in err and "wait for it to finish" in err
        assert tree_digest(cap) == before


def test_an_input_made_by_panama_signal_keeps_its_segments(tmp_path: Path, capsys) -> None:
    assert cli(capsys, "signal", tmp_path / "reamp.wav", "--preset", "tiny", "--seed", "4")[0] == 0
    code, _, err = cli(capsys, "init", tmp_path / "c", "--labeler", "sim", "--input", tmp_path / "reamp.wav")
    assert code == 0, err
    capture = Capture.open(tmp_path / "c")
    assert capture.blips == make_signal("tiny", seed=4).blips and capture.config.preset == "tiny"
    # A sidecar that does not describe the file is ignored.
    write(tmp_path / "other.wav", make_signal("tiny", seed=4).audio[:-100])
    (tmp_path / "other.json").write_text((tmp_path / "reamp.json").read_text())
    assert cli(capsys, "init", tmp_path / "d", "--labeler", "sim", "--input", tmp_path / "other.wav")[0] == 0
    other = Capture.open(tmp_path / "d")
    assert other.blips == [] and other.config.preset == "custom"


class BrokenAmp(SimAmp):
    deterministic = False

    def __init__(self, fault: str) -> None:
        super().__init__()
        self.fault = fault

    def label(self, x: np.ndarray, sample_rate: int, setting: dict[str, float]) -> np.ndarray:
        if self.fault == "silent":
            return np.zeros_like(x)
        y = super().label(x, sample_rate, setting)
        y[5000] = np.inf
        return y


@pytest.mark.parametrize(("fault", "message"), [("silent", "is silent"), ("nan", "NaN/inf")])
def test_a_broken_device_writes_nothing(cap: Path, fault: str, message: str) -> None:
    before = tree_digest(cap)
    with pytest.raises(PanamaError, match=message):
        Capture.open(cap).label(BrokenAmp(fault), {"gain": 0.5})
    assert tree_digest(cap) == before


class MutedAtZeroMaster(SimAmp):
    """A rendering source whose master knob at zero mutes it, as GxStudioPre's does."""

    def label(self, x: np.ndarray, sample_rate: int, setting: dict[str, float]) -> np.ndarray:
        y = super().label(x, sample_rate, setting)
        return np.zeros_like(y) if setting["master"] == 0.0 else y


def test_a_plugin_muted_by_a_knob_is_labelled_with_a_warning(cap: Path) -> None:
    capture = Capture.open(cap)
    label = capture.label(MutedAtZeroMaster(), {"gain": 0.5, "master": 0.0})
    assert any("is silent" in w and "mutes at this setting" in w for w in label.warnings)
    assert capture.labels()[-1].index == label.index and not np.any(capture.dataset().y[-1])
    # a recording that silent is still refused: for a real amp it means a cable, not a knob
    with pytest.raises(PanamaError, match="is silent"):
        capture.label(BrokenAmp("silent"), {"gain": 0.6})
