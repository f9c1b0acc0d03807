"""The knob-dataset JSON of the knob-conditioned NAM fork, in and out of a capture.

Two entry forms are read (and written):

    {"entries": [{"input_file": "in.wav", "output_file": "out_1.wav",
                  "knob_type": "gain", "knob_level": 0.5}, ...]}          one knob per entry
    {"entries": [{"input_file": "in.wav", "output_file": "out_2.wav",
                  "knobs": {"gain": 0.7, "bass": 0.2}}, ...]}            several knobs

Knobs an entry does not mention take their default (the middle of the range). Relative paths
are relative to the JSON file's folder (then the current folder). A capture has one reamp
input, so every entry must use the same input audio. Import validates every file *before*
anything is written; re-importing the same output file is skipped, never duplicated.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from panama.core.errors import PanamaError, format_validation_error
from panama.core.knobs import Knob, KnobSetting, KnobSpace


class Entry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    input_file: str
    output_file: str
    knob_type: str | None = None
    knob_level: float | None = None
    knobs: dict[str, float] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Entry:
        if self.knobs is None and (self.knob_type is None or self.knob_level is None):
            raise ValueError("give either 'knobs': {name: value} or both 'knob_type' and 'knob_level'")
        return self

    def setting(self) -> dict[str, float]:
        if self.knobs is not None:
            return dict(self.knobs)
        return {str(self.knob_type): float(self.knob_level)}  # type: ignore[arg-type]


class KnobDataset(BaseModel):
    model_config = ConfigDict(extra="ignore")

    entries: list[Entry] = Field(min_length=1)


@dataclass
class Planned:
    """A validated entry, ready to be written."""

    setting: KnobSetting
    y: np.ndarray
    output_file: Path


def load(path: Path) -> KnobDataset:
    import json

    if not path.exists():
        raise PanamaError(f"{path}: no such file", "check the path of the knob dataset JSON")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise PanamaError(f"{path} is not valid JSON ({exc})", "fix the file (a trailing comma or a comment?)") from None
    try:
        return KnobDataset.model_validate(data)
    except ValidationError as exc:
        raise PanamaError(f"{path}: " + "; ".join(format_validation_error(exc)),
                          'expected {"entries": [{"input_file", "output_file", "knob_type", "knob_level"} or "knobs"]}') from None


def resolve(name: str, base: Path) -> Path:
    p = Path(name).expanduser()
    if p.is_absolute():
        return p
    for candidate in (base / p, Path.cwd() / p):
        if candidate.exists():
            return candidate
    return base / p


def infer_knob_space(settings: list[dict[str, float]]) -> KnobSpace:
    """Knobs in order of first appearance; range 0…1, widened to 0…10 (or the maximum) if needed."""
    names: list[str] = []
    values: dict[str, list[float]] = {}
    for setting in settings:
        for name, value in setting.items():
            if name not in values:
                names.append(name)
                values[name] = []
            values[name].append(float(value))
    knobs = []
    for name in names:
        lo, hi = min(values[name]), max(values[name])
        minimum = min(0.0, lo)
        maximum = 1.0 if hi <= 1.0 else (10.0 if hi <= 10.0 else hi)
        try:
            knobs.append(Knob(name=name, minimum=minimum, maximum=maximum))
        except ValidationError as exc:
            raise PanamaError("; ".join(format_validation_error(exc)), "rename the knob in the dataset") from None
    return KnobSpace(knobs=tuple(knobs))


def plan_import(path: Path, capture: Any | None, *, channel: int | None = None) -> tuple[Path, np.ndarray, int, KnobSpace, list[Planned]]:
    """Read and check every file of the dataset; returns (input path, x, rate, knob space, entries)."""
    from panama.core.audio import check_input, check_output, read_wav

    dataset = load(path)
    base = path.resolve().parent
    inputs = sorted({resolve(e.input_file, base) for e in dataset.entries})
    x, rate = read_wav(inputs[0], channel=channel)
    for other in inputs[1:]:
        x2, _ = read_wav(other, sample_rate=rate, channel=channel)
        if len(x2) != len(x) or not np.allclose(x, x2, atol=1e-6):
            raise PanamaError(
                f"the dataset uses different input files ({inputs[0].name}, {other.name}); a capture has one reamp input",
                "split the dataset by input file and import each into its own capture",
            )
    if capture is not None:
        ref = capture.read_input()
        if rate != capture.sample_rate:
            raise PanamaError(f"{inputs[0]} is at {rate} Hz but {capture.root} is at {capture.sample_rate} Hz (sample-rate mismatch)",
                              "import into a new capture or resample the files")
        if len(ref) != len(x) or not np.allclose(ref, x, atol=1e-4):
            raise PanamaError(f"{inputs[0]} is not the input of {capture.root} ({capture.input_path.name})",
                              "import into a new capture, or use recordings of this capture's input.wav")
        space = capture.knob_space
    else:
        check_input(x, sample_rate=rate, what=str(inputs[0]))
        space = infer_knob_space([e.setting() for e in dataset.entries])
    planned = []
    for entry in dataset.entries:
        setting = space.validate_setting(entry.setting())
        out_path = resolve(entry.output_file, base)
        y, _ = read_wav(out_path, sample_rate=rate, channel=channel)
        check_output(y, x, sample_rate=rate, what=str(out_path))
        planned.append(Planned(setting=setting, y=y, output_file=out_path.resolve()))
    return inputs[0], x, rate, space, planned


def export(capture: Any, output: Path) -> Path:
    """Write the capture's labels as a knob dataset JSON (paths relative to ``output``)."""
    from panama.core.fsutil import write_json_atomic

    space: KnobSpace = capture.knob_space
    defaults = space.default_setting()
    folder = output.resolve().parent
    entries = []
    for label in capture.labels():
        entry: dict[str, Any] = {
            "input_file": os.path.relpath(capture.input_path.resolve(), folder),
            "output_file": os.path.relpath(label.path.resolve(), folder),
        }
        changed = [k for k in space.names if abs(label.setting[k] - defaults[k]) > 1e-12]
        if len(changed) == 1:
            entry["knob_type"], entry["knob_level"] = changed[0], label.setting[changed[0]]
        entry["knobs"] = {k: label.setting[k] for k in space.names}
        entries.append(entry)
    if not entries:
        raise PanamaError(f"{capture.root} has no labels to export", "label some settings first (`panama label`)")
    write_json_atomic(output, {"entries": entries})
    return output
