"""``folder:PATH`` — the offline workflow: record the listed settings anywhere, drop the files in.

For an amp that cannot be wired to this machine. The folder holds:

* ``input.wav`` — the reamp signal to play through the amp (written by PANAMA);
* ``settings.md`` / ``settings.csv`` — the settings still to record, numbered, each with the
  knob values in the amp's units and the file name to save the recording as (printable);
* the recordings, e.g. ``003_gain=7.5_bass=2.wav`` — any file whose name starts with the
  setting's number (``003.wav``, ``003_take2.flac``) is matched to it.

Labelling a setting that has no recording yet adds it to the list and stops with a
``PanamaError`` naming the file to record; labelling one whose recording is there imports it:
read (right sample rate, mono or the chosen channel), latency measured from the blips, aligned,
and checked (clipping, silence, length, level, drift between the validation copies). Hard
problems are errors naming the file; soft ones are printed as warnings.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from panama.amps.knobspec import format_value, knob_space_from
from panama.amps.takes import VALIDATION_ESR, check_take, find_repeat, raw_problem
from panama.core.errors import PanamaError
from panama.core.fsutil import write_text_atomic
from panama.core.knobs import KnobSetting, KnobSpace
from panama.core.protocols import BaseLabelSource, ComponentConfig

AUDIO_SUFFIXES = (".wav", ".flac", ".aif", ".aiff", ".w64")


class FolderConfig(ComponentConfig):
    path: str = Field(description="The folder recordings are dropped into.")
    knobs: str | None = Field(None, description="The amp's knobs: name:min:max[:default[:unit]];...")
    knobs_file: str | None = Field(None, description="JSON or TOML file describing the amp's knobs.")
    channel: int | None = Field(None, ge=0, description="Channel of multi-channel recordings to use (0-based).")
    max_drift_esr: float = Field(VALIDATION_ESR, gt=0, description="Allowed ESR between the two validation copies.")


class FolderLabelSource(BaseLabelSource):
    """Settings out as a printable list, recordings in as files."""

    Config: ClassVar[type[FolderConfig]] = FolderConfig
    spec_field: ClassVar[str | None] = "path"
    deterministic: ClassVar[bool] = False

    def __init__(self, config: FolderConfig | None = None) -> None:
        super().__init__(config)
        self.config: FolderConfig
        self.folder = Path(self.config.path).expanduser()
        self._space = knob_space_from(self.config.knobs, self.config.knobs_file)
        self.last_latency: int | None = None
        self.warnings: list[str] = []

    def knob_space(self) -> KnobSpace:
        return self._space

    # -- the list ---------------------------------------------------------------------------
    def entries(self) -> list[tuple[int, str, KnobSetting]]:
        """``(number, file name, setting)`` for every listed setting, from settings.csv."""
        path = self.folder / "settings.csv"
        if not path.exists():
            return []
        rows = []
        with open(path, newline="") as fh:
            for row in csv.DictReader(fh):
                try:
                    setting = self._space.validate_setting({k: float(row[k]) for k in self._space.names})
                    rows.append((int(row["number"]), row["file"], setting))
                except (KeyError, TypeError, ValueError) as exc:
                    raise PanamaError(f"{path} does not match this amp's knobs ({exc})",
                                      "use a new folder for a different knob set, or restore the file") from None
        return rows

    def file_name(self, number: int, setting: KnobSetting) -> str:
        values = "_".join(f"{k}={format_value(setting[k], '')}" for k in self._space.names)
        return f"{number:03d}_{values}.wav"

    def _find_entry(self, entries: list[tuple[int, str, KnobSetting]], setting: KnobSetting) -> Any:
        found = self._space.find_same(setting, [entry[2] for entry in entries])
        return None if found is None else entries[found]

    def prepare(self, settings: list[KnobSetting]) -> list[tuple[int, str, KnobSetting]]:
        """List ``settings`` (those not listed yet) for recording; returns their entries."""
        entries = self.entries()
        wanted = []
        for setting in settings:
            valid = self._space.validate_setting(setting)
            entry = self._find_entry(entries, valid)
            if entry is None:
                number = max((e[0] for e in entries), default=0) + 1
                entry = (number, self.file_name(number, valid), valid)
                entries.append(entry)
            wanted.append(entry)
        self._write_lists(entries)
        return wanted

    def _write_lists(self, entries: list[tuple[int, str, KnobSetting]]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        names = self._space.names
        table = io.StringIO()
        writer = csv.writer(table, lineterminator="\n")
        writer.writerow(["number", "file", *names, "recorded"])
        for number, file, setting in entries:
            writer.writerow([number, file, *(repr(setting[k]) for k in names), self._recording(number) is not None])
        write_text_atomic(self.folder / "settings.csv", table.getvalue())
        units = [f"{k.name} ({k.unit})" if k.unit else k.name for k in self._space]
        lines = [
            "# Settings to record",
            "",
            "Play `input.wav` (in this folder) through the amp at each setting below and save the",
            "recording in this folder under the file name given (mono, same sample rate as",
            "`input.wav`, starting when playback starts). Then run the same `panama` command again.",
            "",
            "| # | " + " | ".join(units) + " | save as | done |",
            "|---|" + "---|" * len(units) + "---|---|",
        ]
        for number, file, setting in entries:
            done = "yes" if self._recording(number) is not None else ""
            lines.append(f"| {number} | " + " | ".join(format_value(setting[k], "") for k in names)
                         + f" | `{file}` | {done} |")
        write_text_atomic(self.folder / "settings.md", "\n".join(lines) + "\n")

    def _recording(self, number: int) -> Path | None:
        if not self.folder.is_dir():
            return None
        prefix = f"{number:03d}"
        found = sorted(
            p for p in self.folder.iterdir()
            if p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith(".")
            and (p.stem == prefix or p.stem.startswith(prefix + "_") or p.stem.startswith(prefix + " "))
        )
        if len(found) > 1:
            raise PanamaError(f"several recordings for setting {number} in {self.folder}: "
                              + ", ".join(p.name for p in found), "keep exactly one file per setting")
        return found[0] if found else None

    def _write_input(self, x: np.ndarray, sample_rate: int) -> None:
        from panama.core import audio

        path = self.folder / "input.wav"
        if path.exists():
            try:
                current, _ = audio.read_wav(path, sample_rate=sample_rate)
                if len(current) == len(x) and np.array_equal(current, np.asarray(x, np.float32)):
                    return
            except PanamaError:
                pass
        self.folder.mkdir(parents=True, exist_ok=True)
        audio.write_wav_atomic(path, np.asarray(x, np.float32), sample_rate)

    # -- labelling --------------------------------------------------------------------------
    def label(self, x: np.ndarray, sample_rate: int, setting: KnobSetting) -> np.ndarray:
        from panama.core import audio

        valid = self._space.validate_setting(setting)
        self._write_input(x, sample_rate)
        number, file, _ = self.prepare([valid])[0]
        recording = self._recording(number)
        if recording is None:
            raise PanamaError(
                f"setting {number} ({self._space.format_setting(valid)}) is not recorded yet",
                f"play {self.folder / 'input.wav'} through the amp at that setting and save the recording as "
                f"{self.folder / file}; everything still to record is listed in {self.folder / 'settings.md'}",
            )
        y, _ = audio.read_wav(recording, sample_rate=sample_rate, channel=self.config.channel)
        what = f"recording {recording}"
        x = np.asarray(x, dtype=np.float32)
        problem = raw_problem(y, sample_rate, what=what)
        if problem is not None:
            raise PanamaError(problem, f"re-record {recording.name} (replace the file) and run the same command again")
        try:
            latency = audio.detect_latency(x, y, sample_rate)
        except PanamaError as exc:
            raise PanamaError(f"{what}: {exc.message}", exc.hint) from None
        aligned = audio.align(y, latency, len(x))
        audio.check_take_length(y, len(x), latency, sample_rate=sample_rate, what=what, max_extra_s=None)
        report = check_take(x, aligned, sample_rate, what=what, repeat=find_repeat(x, sample_rate),
                            max_drift_esr=self.config.max_drift_esr)
        if report.hard is not None:
            raise PanamaError(report.hard, f"re-record {recording.name} (replace the file) and run the same command again")
        self.warnings = list(report.soft)
        if report.soft:
            from panama.core.console import warning_line

            for line in report.soft:
                warning_line(line)
        self.last_latency = latency
        self._write_lists(self.entries())
        return aligned
