"""Isolation: a native plugin that segfaults or hangs costs one clear error, never the capture."""

from __future__ import annotations

import time

import numpy as np
import pytest

from crashing_amp import CrashingAmp, CrashingConfig
from panama.core.errors import PanamaError

SR = 48_000
X = (0.1 * np.sin(2 * np.pi * 440 * np.arange(2400) / SR)).astype(np.float32)


@pytest.fixture
def amp():
    with CrashingAmp(CrashingConfig(timeout=2.0)) as source:
        yield source


def test_a_segfault_becomes_an_error_for_that_setting_and_the_next_one_works(amp) -> None:
    np.testing.assert_allclose(amp.label(X, SR, {"gain": 0.5}), 0.5 * X, rtol=1e-6)
    first_pid = amp._worker.process.pid
    with pytest.raises(PanamaError) as info:
        amp.label(X, SR, {"gain": 0.95})
    message = str(info.value)
    assert "test plugin 'crashing-amp' crashed (SIGSEGV) while labelling gain=0.95" in message
    assert "resume" in message
    # The worker is replaced on the next call; the host process never noticed.
    np.testing.assert_allclose(amp.label(X, SR, {"gain": 0.25}), 0.25 * X, rtol=1e-6)
    assert amp._worker.process.pid != first_pid


def test_a_hang_is_stopped_after_the_timeout(amp) -> None:
    amp.label(X, SR, {"gain": 0.5})
    worker = amp._worker
    started = time.monotonic()
    with pytest.raises(PanamaError, match=r"hung while labelling gain=0.05 \(no answer within 2 s\)"):
        amp.label(X, SR, {"gain": 0.05})
    assert time.monotonic() - started < 10
    assert not worker.alive  # killed, not left behind
    np.testing.assert_allclose(amp.label(X, SR, {"gain": 0.5}), 0.5 * X, rtol=1e-6)


def test_a_crash_while_loading_is_an_error() -> None:
    with CrashingAmp(CrashingConfig(crash_on_load=True)) as source:
        with pytest.raises(PanamaError, match=r"crashed \(SIGSEGV\) while loading"):
            source.knob_space()


def test_a_script_without_a_main_guard_is_not_run_again_by_the_worker(tmp_path) -> None:
    """The worker never re-imports the caller's __main__ (multiprocessing's spawn would)."""
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "label.py"
    script.write_text(
        "import numpy as np\n"
        "from crashing_amp import CrashingAmp\n"
        "print('script body ran')\n"
        "with CrashingAmp() as amp:\n"
        "    print(float(amp.label(np.ones(4, np.float32), 48000, {'gain': 0.5})[0]))\n"
    )
    env = {"PYTHONPATH": str(Path(__file__).parent)}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                          env={**__import__("os").environ, **env})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["script", "body", "ran", "0.5"]


def test_in_process_mode_runs_the_same_host() -> None:
    with CrashingAmp(CrashingConfig(isolate=False)) as source:
        assert source.knob_space().names == ["gain"]
        np.testing.assert_allclose(source.label(X, SR, {"gain": 0.3}), 0.3 * X, rtol=1e-6)
        assert source._worker is None


def test_capture_stays_intact_and_resumes(tmp_path) -> None:
    capture_module = pytest.importorskip("panama.core.capture.store", reason="the capture store is not merged yet")
    from panama.core.knobs import Knob, KnobSpace

    space = KnobSpace(knobs=(Knob(name="gain", minimum=0.0, maximum=1.0, default=0.5),))
    capture = capture_module.Capture.create(tmp_path / "cap", labeler="crashing-amp", knob_space=space, preset="tiny")
    with CrashingAmp(CrashingConfig(timeout=5.0)) as source:
        capture.label(source, {"gain": 0.5})
        with pytest.raises(PanamaError, match="crashed"):
            capture.label(source, {"gain": 0.95})
        reopened = capture_module.Capture.open(tmp_path / "cap")
        assert [label.setting["gain"] for label in reopened.labels()] == [0.5]
        reopened.label(source, {"gain": 0.3})  # the run goes on with a fresh worker
    assert sorted(label.setting["gain"] for label in capture_module.Capture.open(tmp_path / "cap").labels()) == [0.3, 0.5]


def test_cli_a_crashing_plugin_costs_one_setting(panama, panama_home, tmp_path) -> None:
    """Through the real CLI: the crash is one red line, the capture keeps its labels, and
    labelling goes on afterwards."""
    from pathlib import Path

    (panama_home / "extensions").mkdir()
    (panama_home / "extensions" / "crashy.py").write_text(
        "from panama.core.hookspecs import hookimpl\n"
        "@hookimpl\n"
        "def register_label_sources(register):\n"
        "    register('crashy', 'crashing_amp:CrashingAmp', 'segfaults above gain 0.9')\n"
    )
    env = {"PYTHONPATH": str(Path(__file__).parent)}
    cap = tmp_path / "cap"
    assert panama("init", str(cap), "--labeler", "crashy", "--preset", "tiny", env=env).returncode == 0
    assert panama("label", str(cap), "--setting", "gain=0.5", env=env).returncode == 0
    done = panama("label", str(cap), "--setting", "gain=0.95", env=env)
    assert done.returncode == 2
    assert done.stderr.startswith("error:") and "crashed (SIGSEGV) while labelling gain=0.95" in done.stderr
    assert "Traceback" not in done.stderr
    assert panama("label", str(cap), "--setting", "gain=0.3", env=env).returncode == 0
    from panama.core.capture.store import Capture

    assert sorted(label.setting["gain"] for label in Capture.open(cap).labels()) == [0.3, 0.5]
