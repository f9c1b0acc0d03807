"""``soundcard[:DEVICE]`` — a real amp through an audio interface (sounddevice / PortAudio).

For every setting the user is shown the knob values in the amp's own units (its 0–10 dials, a
gain in dB — see ``panama.amps.knobspec``) and presses Enter once the knobs are set; the input is
played out of the interface into the amp and its return recorded in the same full-duplex
stream (``sd.playrec``), so playback and recording share one clock.

The round-trip latency is measured once, from the reamp signal's blips, on the first take (or
given with ``latency=``); every later take is measured again and must agree within a couple of
samples, which catches dropouts and changed buffer sizes. Each take is checked before it is
accepted (clipping, silence, level, DC, driver-reported dropouts, drift between the two
validation copies) and the user is offered a retake. The raw take is returned with
``latency_samples`` set, and the capture aligns it (the same way for every take).

``ask`` (the prompt) and ``playrec`` (the stream) are attributes, so a test or another front
end can replace the person and the interface.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from panama.amps.knobspec import format_value, knob_space_from
from panama.amps.takes import VALIDATION_ESR, check_take, find_repeat, raw_problem
from panama.core.errors import PanamaError
from panama.core.knobs import KnobSetting, KnobSpace
from panama.core.protocols import BaseLabelSource, ComponentConfig

LATENCY_TOLERANCE = 2  # samples a later take's latency may differ from the first one's


class SoundcardConfig(ComponentConfig):
    device: str | None = Field(None, description="Interface index or name (`panama devices`); default: the system's.")
    output_device: str | None = Field(None, description="Playback device, when it differs from the recording one.")
    input_channel: int = Field(1, ge=1, description="Interface input the amp's return is connected to (1-based).")
    output_channel: int = Field(1, ge=1, description="Interface output that feeds the amp (1-based).")
    knobs: str | None = Field(None, description="The amp's knobs: name:min:max[:default[:unit]];...")
    knobs_file: str | None = Field(None, description="JSON or TOML file describing the amp's knobs.")
    latency: int | None = Field(None, ge=0, description="Known round-trip latency in samples (skips the measurement).")
    preroll: float = Field(0.0, ge=0, le=10, description="Seconds of silence played before the input.")
    tail: float = Field(0.5, ge=0, le=10, description="Seconds recorded after the input ends.")
    retakes: int = Field(3, ge=1, description="Takes per setting before giving up.")
    max_drift_esr: float = Field(VALIDATION_ESR, gt=0, description="Allowed ESR between the two validation copies.")


def _device(value: str | None) -> int | str | None:
    if value is None or value == "":
        return None
    return int(value) if value.strip().isdigit() else value


class SoundcardLabelSource(BaseLabelSource):
    """A real amp: the user sets the knobs, PANAMA plays, records and checks."""

    Config: ClassVar[type[SoundcardConfig]] = SoundcardConfig
    spec_field: ClassVar[str | None] = "device"
    deterministic: ClassVar[bool] = False

    def __init__(self, config: SoundcardConfig | None = None) -> None:
        super().__init__(config)
        self.config: SoundcardConfig
        self._space = knob_space_from(self.config.knobs, self.config.knobs_file)
        self.latency_samples = int(self.config.latency or 0)
        self.measured_latency: int | None = self.config.latency
        self.ask: Callable[[str], str] = input
        self.playrec: Callable[[np.ndarray, int], np.ndarray] = self._playrec
        self.takes = 0
        self._dropouts: str | None = None
        self._repeat_for: tuple[int, int] | None = None
        self._repeat: Any = None
        from panama.core.console import err

        self.console = err  # prompts go to the terminal, never into stdout a script reads

    def knob_space(self) -> KnobSpace:
        return self._space

    # -- the person -------------------------------------------------------------------------
    def _prompt(self, text: str) -> str:
        try:
            return self.ask(text)
        except EOFError:
            raise PanamaError(
                "the sound-card labeler needs someone at the amp, but its input was closed",
                "run it in a terminal, or record offline with --labeler folder:DIR",
            ) from None

    def show_setting(self, setting: KnobSetting) -> None:
        from rich.table import Table

        table = Table(title="Set the amp to", title_justify="left")
        table.add_column("knob")
        table.add_column("value", justify="right")
        table.add_column("range", style="dim")
        for knob in self._space:
            table.add_row(knob.name, format_value(setting[knob.name], knob.unit),
                          f"{format_value(knob.minimum, '')} … {format_value(knob.maximum, knob.unit)}")
        self.console.print(table)

    # -- the interface ----------------------------------------------------------------------
    def _playrec(self, play: np.ndarray, sample_rate: int) -> np.ndarray:
        try:
            import sounddevice as sd
        except (ImportError, OSError) as exc:
            raise PanamaError(f"the sound-card labeler needs sounddevice and PortAudio: {exc}",
                              "pip install 'panama-amps[soundcard]'; apt-get install libportaudio2") from None
        config = self.config
        device = (_device(config.device), _device(config.output_device or config.device))
        try:
            recording = sd.playrec(play.reshape(-1, 1), samplerate=sample_rate, dtype="float32",
                                   input_mapping=[config.input_channel], output_mapping=[config.output_channel],
                                   device=device, blocking=True)
        except (sd.PortAudioError, ValueError) as exc:
            raise PanamaError(f"the audio interface refused the stream: {exc}",
                              "check device, channels and sample rate with `panama devices`") from None
        status = sd.get_status()
        if status.input_overflow or status.output_underflow:
            self._dropouts = f"the driver reported dropouts ({status}); close other audio programs or raise the buffer size"
        return np.asarray(recording, dtype=np.float32)[:, 0]

    def record(self, x: np.ndarray, sample_rate: int) -> np.ndarray:
        """One take: preroll silence, the input, a tail; returns the recording from the input's start."""
        pre, tail = int(self.config.preroll * sample_rate), int(self.config.tail * sample_rate)
        play = np.concatenate([np.zeros(pre, np.float32), np.asarray(x, np.float32), np.zeros(tail, np.float32)])
        self._dropouts = None
        y = np.asarray(self.playrec(play, sample_rate), dtype=np.float32).reshape(-1)
        if len(y) != len(play):
            raise PanamaError(f"the interface returned {len(y)} samples for {len(play)} played",
                              "this is a driver problem; try another buffer size or device")
        self.takes += 1
        return y[pre:]

    # -- one setting ------------------------------------------------------------------------
    def repeat_of(self, x: np.ndarray, sample_rate: int) -> Any:
        key = (len(x), hash(np.asarray(x[:: max(1, len(x) // 64)]).tobytes()))
        if self._repeat_for != key:
            self._repeat, self._repeat_for = find_repeat(x, sample_rate), key
        return self._repeat

    def _review(self, x: np.ndarray, y: np.ndarray, sample_rate: int, what: str) -> tuple[int | None, Any]:
        """Latency and checks of one take → (latency, report)."""
        from panama.amps.takes import TakeReport
        from panama.core import audio

        problem = raw_problem(y, sample_rate, what=what)
        if problem is not None:
            return None, TakeReport(hard=problem)
        try:
            latency = audio.detect_latency(x, y, sample_rate)
        except PanamaError as exc:
            return None, TakeReport(hard=str(exc))
        aligned = audio.align(y, latency if self.measured_latency is None else self.measured_latency, len(x))
        report = check_take(x, aligned, sample_rate, what=what, repeat=self.repeat_of(x, sample_rate),
                            max_drift_esr=self.config.max_drift_esr)
        if self.measured_latency is not None and abs(latency - self.measured_latency) > LATENCY_TOLERANCE:
            report.soft.append(f"the round trip took {latency} samples instead of {self.measured_latency} "
                               "(a dropout, or the buffer size changed)")
        if self._dropouts:
            report.soft.append(self._dropouts)
        return latency, report

    def label(self, x: np.ndarray, sample_rate: int, setting: KnobSetting) -> np.ndarray:
        valid = self._space.validate_setting(setting)
        what = f"take at {self._space.format_setting(valid)}"
        x = np.asarray(x, dtype=np.float32)
        for attempt in range(1, self.config.retakes + 1):
            self.show_setting(valid)
            answer = self._prompt("Set the knobs, then press Enter to record (q to stop): ")
            if answer.strip().lower() in ("q", "quit", "stop"):
                raise PanamaError(f"stopped before recording {self._space.format_setting(valid)}",
                                  "everything recorded so far is kept; run the same command to resume")
            y = self.record(x, sample_rate)
            latency, report = self._review(x, y, sample_rate, what)
            if report.ok:
                return self._accept(y, latency)
            if report.hard is not None:
                self.console.print(f"[red]unusable take:[/red] {report.hard}")
            for line in report.soft:
                self.console.print(f"[yellow]check:[/yellow] {line}")
            if attempt == self.config.retakes:
                break
            choices = "Enter = retake, q = stop" + (", a = accept anyway" if report.hard is None else "")
            answer = self._prompt(f"{choices}: ").strip().lower()
            if answer in ("q", "quit", "stop"):
                raise PanamaError(f"stopped at {self._space.format_setting(valid)}: {report.hard or report.soft[0]}",
                                  "fix the problem and run the same command to resume")
            if answer in ("a", "accept") and report.hard is None:
                return self._accept(y, latency)
        raise PanamaError(
            f"no usable take at {self._space.format_setting(valid)} after {self.config.retakes} tries: "
            f"{report.hard or report.soft[0]}",
            "fix the problem (level, cables, buffer size) and run the same command to resume",
        )

    def _accept(self, y: np.ndarray, latency: int | None) -> np.ndarray:
        if self.measured_latency is None and latency is not None:
            self.measured_latency = latency
            self.console.print(f"round-trip latency: {latency} samples (measured from the blips)")
        self.latency_samples = int(self.measured_latency or 0)
        return y
