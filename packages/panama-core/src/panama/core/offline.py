"""The offline workflow: ``panama suggest`` → record anywhere → ``panama add``.

For an amp that cannot be driven from this machine: PANAMA proposes settings (journalled like
any round, so ``panama run`` later picks up exactly these), the user records them with the
capture's ``input.wav``, and ``panama add`` imports each file through the same checks and
alignment as a live recording.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from panama.core.errors import PanamaError
from panama.core.knobs import KnobSetting


def suggest_settings(directory: Path, n: int) -> tuple[Any, list[KnobSetting]]:
    from panama.core.capture.store import Capture
    from panama.core.loop import Loop, finished_rounds, pending_round

    capture = Capture.open(directory)
    with capture.lock():
        pending = pending_round(capture)
        if pending is not None and pending.settings:
            return capture, pending.settings[:n]
        left = capture.config.budget - len(capture.labelled_settings())
        if left <= 0:
            raise PanamaError(
                f"{directory} has labelled its whole budget ({capture.config.budget})",
                f"raise it with `panama run {directory} --budget N`, or train and export",
            )
        loop = Loop(capture, progress=False)
        plan = loop.propose(finished_rounds(capture))
        return capture, plan.settings[:n]


class _Recording:
    """A finished recording dressed as a label source, so an import goes through exactly the
    checks, latency measurement and alignment of a live one."""

    deterministic = False
    latency_samples = 0

    def __init__(self, y: Any) -> None:
        self.y = y

    def label(self, x: Any, sample_rate: int, setting: KnobSetting) -> Any:
        return self.y


def add_recording(directory: Path, recording: Path, setting_text: str, *, holdout: bool = False,
                  relabel: bool = False) -> Any:
    """Import one take: checked (whole file, length = input + latency, not clipped …), aligned,
    journalled. A setting that already has a label is refused unless ``relabel`` (the take then
    replaces it); a label whose file is gone is replaced without asking."""
    from panama.core import audio
    from panama.core.capture.store import Capture

    capture = Capture.open(directory)
    setting = capture.knob_space.parse_setting(setting_text)
    y, _ = audio.read_wav(recording, sample_rate=capture.sample_rate)
    with capture.lock():
        # As close as `panama suggest` prints settings (6 digits) counts as the same setting.
        existing = capture.find_label(setting, holdout=holdout, tolerance=1e-6)
        if existing is not None:
            if not relabel and capture.label_problem(existing) is None:
                raise PanamaError(
                    f"{capture.knob_space.format_setting(setting)} is already labelled "
                    f"({existing.path.relative_to(capture.root)})",
                    "add --relabel to replace that label with this take, or check the --setting",
                )
            setting = existing.setting
        return capture.label(_Recording(y), setting, relabel=True, origin=f"import:{recording.name}",
                             holdout=holdout, check_length=True)
