"""One word per concept on the CLI: ``--signal``, ``--preset``, ``--net-preset``, repeatable
``--labeler-option``, ``--json`` on stdout; the old spellings still work for one release."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from capture_helpers import one_line
from panama.core.capture.store import Capture
from panama.core.cli import run

OLD_NOTE = "the old spelling goes in the next release"


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = run([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, one_line(captured.err)


def help_text(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *command: str) -> str:
    monkeypatch.setenv("COLUMNS", "250")  # no wrapping inside the option table
    code, out, _ = cli(capsys, *command, "--help")
    assert code == 0
    return out


def flags(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", text))


@pytest.mark.parametrize(("command", "shown", "hidden"), [
    (("init",), {"--signal", "--labeler-option"}, {"--preset", "--labeler-options"}),
    (("signal",), {"--signal"}, {"--preset"}),
    (("train",), {"--net-preset"}, {"--preset"}),
    (("run",), {"--preset", "--net-preset", "--labeler-option", "--sampler-option"}, {"--signal"}),
    (("compare",), {"--preset", "--net-preset", "--labeler-option", "--sampler-option"}, set()),
    (("labelers", "inspect"), {"--labeler-option", "--json"}, {"--option"}),
    (("evaluate",), {"--json", "--json-file"}, set()),
])
def test_help_shows_the_new_words_only(capsys, monkeypatch, command, shown, hidden) -> None:
    text = help_text(capsys, monkeypatch, *command)
    assert shown <= flags(text), flags(text)
    assert not hidden & flags(text), hidden & flags(text)
    if command == ("labelers", "inspect"):
        assert not re.search(r"(?<![\w-])-o\b", text)


@pytest.mark.parametrize("command", [("init",), ("run",), ("compare",), ("import",), ("labelers", "inspect"),
                                     ("labelers",), ("label",)])
def test_help_calls_it_a_label_source(capsys, monkeypatch, command) -> None:
    text = help_text(capsys, monkeypatch, *command)
    prose = re.sub(r"--labeler[\w-]*|\blabelers\b", "", text)  # flag and command names stay
    assert not re.search(r"\blabeler\b", prose, re.IGNORECASE), prose


def test_init_takes_signal_and_labeler_options_and_the_old_spellings(tmp_path: Path, capsys) -> None:
    code, out, err = cli(capsys, "init", tmp_path / "new", "--labeler", "sim", "--signal", "tiny",
                         "--labeler-option", "output_db=-3", "--labeler-option", "oversample=2")
    assert code == 0, err
    assert OLD_NOTE not in err and "tiny signal" in one_line(out)
    config = Capture.open(tmp_path / "new").config
    assert config.preset == "tiny" and config.labeler_options == {"output_db": "-3", "oversample": "2"}

    code, _, err = cli(capsys, "init", tmp_path / "old", "--labeler", "sim", "--preset", "tiny",
                       "--labeler-options", "output_db=-3,oversample=2")
    assert code == 0, err
    assert "--preset is now spelled --signal" in err and "--labeler-options is now spelled --labeler-option" in err
    old = Capture.open(tmp_path / "old").config
    assert old.preset == "tiny" and old.labeler_options == config.labeler_options


def test_an_old_and_a_new_spelling_that_disagree_are_refused(tmp_path: Path, capsys) -> None:
    code, _, err = cli(capsys, "init", tmp_path / "c", "--labeler", "sim", "--signal", "tiny", "--preset", "full")
    assert code == 2 and "--signal tiny and --preset full both given" in err
    code, _, err = cli(capsys, "init", tmp_path / "c", "--labeler", "sim", "--signal", "tiny",
                       "--labeler-option", "output_db=-3", "--labeler-options", "output_db=-6")
    assert code == 2 and "gives 'output_db' twice" in err
    assert not (tmp_path / "c").exists()


def test_signal_takes_signal_and_the_old_preset(tmp_path: Path, capsys) -> None:
    code, out, err = cli(capsys, "signal", tmp_path / "new.wav", "--signal", "tiny")
    assert code == 0 and OLD_NOTE not in err and "signal tiny" in one_line(out)
    code, _, err = cli(capsys, "signal", tmp_path / "old.wav", "--preset", "tiny")
    assert code == 0 and "--preset is now spelled --signal" in err
    assert (tmp_path / "new.wav").read_bytes() == (tmp_path / "old.wav").read_bytes()


def test_train_names_the_net_size_net_preset(tmp_path: Path, capsys) -> None:
    configs = [tmp_path / f"{name}.json" for name in ("data", "model", "learning")]
    for path in configs:
        path.write_text("{}")
    code, _, err = cli(capsys, "train", *configs, tmp_path / "out", "--net-preset", "nano")
    assert code == 2 and "--net/--net-preset/--continue apply to a capture directory" in err
    code, _, err = cli(capsys, "train", *configs, tmp_path / "out", "--preset", "nano")  # the old spelling
    assert code == 2 and "--preset is now spelled --net-preset" in err and "apply to a capture directory" in err


def test_labelers_inspect_takes_labeler_option_and_the_old_o(capsys) -> None:
    code, out, err = cli(capsys, "labelers", "inspect", "sim", "--labeler-option", "output_db=-3", "--json")
    assert code == 0 and OLD_NOTE not in err
    new = json.loads(out)
    code, out, err = cli(capsys, "labelers", "inspect", "sim", "-o", "output_db=-3", "--json")
    assert code == 0 and "-o/--option is now spelled --labeler-option" in err
    assert json.loads(out) == new
    code, _, err = cli(capsys, "labelers", "inspect", "sim", "--labeler-option", "volume=3")
    assert code == 2 and "volume" in err
