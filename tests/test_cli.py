"""The CLI's promises: instant start without torch, one-line errors, tracebacks only on --debug."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from panama.core import PanamaError, __version__
from panama.core.cli import app, run

NO_TORCH = """
import sys, time
from panama.core.cli import run
t = time.perf_counter()
code = run({args!r})
sys.stderr.write(f"ELAPSED={{time.perf_counter() - t}}\\n")
heavy = sorted(m for m in ("torch", "pytorch_lightning", "lightning", "matplotlib", "pedalboard") if m in sys.modules)
sys.stderr.write(f"HEAVY={{','.join(heavy)}}\\n")
sys.exit(code)
"""


@pytest.mark.parametrize("args", [["--help"], ["plugins"], ["plugins", "--json"]])
def test_start_is_torch_free_and_fast(args):
    result = subprocess.run([sys.executable, "-c", NO_TORCH.format(args=args)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    facts = dict(line.split("=", 1) for line in result.stderr.splitlines() if "=" in line)
    assert facts["HEAVY"] == ""
    # "Well under a second" on an idle machine; a loose bound keeps a busy CI box from flaking.
    assert float(facts["ELAPSED"]) < 1.5


def test_version(panama):
    result = panama("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"panama {__version__}"


def test_plugins_json_lists_every_builtin_package(panama):
    result = panama("plugins", "--json")
    data = json.loads(result.stdout)
    dists = {c["distribution"] for c in data["components"]}
    assert "panama-acquisition" in dists
    assert data["problems"] == []


def _boom_command(app_):
    @app_.command("boom")
    def boom(kind: str = "panama") -> None:
        if kind == "panama":
            raise PanamaError("the amp is on fire", "turn it off")
        raise RuntimeError("unexpected")


def test_errors_are_one_red_line_and_tracebacks_need_debug(capsys):
    _boom_command(app)
    try:
        assert run(["boom"]) == 2
        err = capsys.readouterr().err
        assert err.strip() == "error: the amp is on fire — turn it off"
        assert run(["boom", "--kind", "bug"]) == 1
        err = capsys.readouterr().err
        assert "internal error: RuntimeError: unexpected" in err and "--debug" in err
        assert "Traceback" not in err
        with pytest.raises(PanamaError):
            run(["--debug", "boom"])
    finally:
        app.registered_commands[:] = [c for c in app.registered_commands if c.name != "boom"]


def test_usage_errors_exit_nonzero(panama):
    result = panama("no-such-command")
    assert result.returncode == 2
    assert "No such command" in result.stderr


LEAN_HELP = """
import contextlib, io, sys
from panama.core.cli import run
with contextlib.redirect_stdout(io.StringIO()) as shown:
    code = run({args!r})
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & {{"numpy", "pydantic", "scipy", "torch", "markdown_it", "attr"}})
commands = sorted(m for m in sys.modules if m.startswith("panama.core.commands."))
print(code, ",".join(loaded) or "-", ",".join(commands) or "-")
print(shown.getvalue())
"""


def _lean(args: list[str]) -> tuple[str, list[str], str]:
    done = subprocess.run([sys.executable, "-c", LEAN_HELP.format(args=args)], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"}, timeout=120)
    code, loaded, commands = done.stdout.splitlines()[0].split(" ")
    assert code == "0", done.stderr
    return loaded, commands.split(","), done.stdout


def test_top_level_help_imports_neither_numpy_nor_pydantic() -> None:
    """What makes ``panama --help`` quick (see benchmarks/cli_speed.py): a test of imports, not of time.
    (markdown-it and attrs come with typer.rich_utils, which the root help does without.)"""
    loaded, _, shown = _lean(["--help"])
    assert loaded == "-"
    assert "Usage: panama [OPTIONS] COMMAND [ARGS]..." in shown and "│ --version  Show the version and exit." in shown
    from panama.core.cli import COMMANDS

    listed = set(re.findall(r"│ ([a-z][a-z-]+) ", shown))
    assert set(COMMANDS) | {"devices"} <= listed  # every built-in command, and a plugin's


def test_a_command_s_help_builds_that_command_alone_without_numpy() -> None:
    loaded, commands, shown = _lean(["run", "--help"])
    assert "numpy" not in loaded and "torch" not in loaded
    assert commands == ["panama.core.commands.run"]
    assert "--labeler-option" in shown


def test_a_mistyped_command_still_gets_a_suggestion(panama) -> None:
    result = panama("stat")
    assert result.returncode == 2 and "Did you mean 'status'?" in result.stderr
