"""The knob-dataset JSON of the knob-conditioned NAM fork, in and out of a capture.

Two entry forms are read (and written):

    {"entries": [{"input_file": "in.wav", "output_file": "out_1.wav",
                  "knob_type": "gain", "knob_level": 0.5}, ...]}          one knob per entry
    {"entries": [{"input_file": "in.wav", "output_file": "out_2.wav",
                  "knobs": {"gain": 0.7, "bass": 0.2}}, ...]}            several knobs

Entries that share one ``output_file`` (the fork README's "combinations": one recording, one
``knob_type`` entry per knob set) are one recording at the combined setting. Knob ranges come
from an optional top-level ``"knobs"`` declaration (``[{"name", "minimum", "maximum",
"default"}]`` or ``{"gain": [0, 10]}``) or the command line; otherwise they are guessed from
the levels, with a notice. Knobs an entry does not mention take their default (the middle of
the range), with a notice. Relative paths are relative to the JSON file's folder (then the
current folder). A capture has one reamp input, so every entry must use the same input audio.
Import validates every file *before* anything is written; re-importing the same output file is
skipped, never duplicated; export writes the paths and ``knob_type``/``knob_level`` entries as
they were imported.
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
    knobs: list[Knob] | dict[str, tuple[float, float]] | None = None

    def declared(self) -> list[Knob] | None:
        if self.knobs is None or isinstance(self.knobs, list):
            return self.knobs
        return [Knob(name=n, minimum=lo, maximum=hi) for n, (lo, hi) in self.knobs.items()]


@dataclass
class Recording:
    """One output file with its combined setting and the entries that described it."""

    input_file: str
    output_file: str
    setting: dict[str, float]
    entries: list[Entry]


def recordings(dataset: KnobDataset, where: str) -> list[Recording]:
    """Entries grouped by (input, output) file: a combination is one recording at all its knobs."""
    grouped: dict[tuple[str, str], Recording] = {}
    for i, entry in enumerate(dataset.entries):
        key = (entry.input_file, entry.output_file)
        rec = grouped.setdefault(key, Recording(entry.input_file, entry.output_file, {}, []))
        for name, value in entry.setting().items():
            if name in rec.setting and abs(rec.setting[name] - value) > 1e-12:
                raise PanamaError(f"{where}: entries.{i} gives {name}={value} for {entry.output_file}, an earlier entry "
                                  f"{name}={rec.setting[name]}", "one recording has one value per knob: fix the entries")
            rec.setting[name] = float(value)
        rec.entries.append(entry)
    return list(grouped.values())


def knob_space_for(dataset: KnobDataset, recs: list[Recording], ranges: dict[str, tuple[float, float]] | None,
                   notes: list[str]) -> KnobSpace:
    """Declared knobs, else ``--knob`` ranges, else guessed (noted); missing values noted too."""
    declared = dataset.declared()
    if declared is None and ranges:
        declared = [Knob(name=n, minimum=lo, maximum=hi) for n, (lo, hi) in ranges.items()]
    if declared is not None:
        space = KnobSpace(knobs=tuple(declared))
    else:
        space = infer_knob_space([r.setting for r in recs])
        notes.append("knob ranges guessed from the levels: " + ", ".join(f"{k.name} {k.minimum:g}…{k.maximum:g}" for k in space)
                     + ' (declare them: "knobs": {"gain": [0, 10]} in the dataset, or --knob gain=0:10)')
    missing: dict[str, int] = {}
    for rec in recs:
        for name in space.names:
            if name not in rec.setting:
                missing[name] = missing.get(name, 0) + 1
    for name, count in missing.items():
        notes.append(f"{count} recording(s) don't set {name}; they take its default {space[name].default:g}")
    return space


def as_data_config(path: Path, ranges: dict[str, tuple[float, float]] | None) -> tuple[dict[str, Any], list[str]]:
    """The fork's knob dataset as a NAM-style data config (one train entry per recording)."""
    dataset = load(path)
    notes: list[str] = []
    recs = recordings(dataset, str(path))
    space = knob_space_for(dataset, recs, ranges, notes)
    base = path.resolve().parent
    train = [{"x_path": str(resolve(r.input_file, base)), "y_path": str(resolve(r.output_file, base)),
              "knobs": space.validate_setting(r.setting)} for r in recs]
    return {"train": train, "knobs": [k.model_dump() for k in space]}, notes


@dataclass
class Planned:
    """A validated entry, ready to be written."""

    setting: KnobSetting
    y: np.ndarray
    output_file: Path
    written: dict[str, Any] | None = None  # the entries as the dataset wrote them (for export)


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


def plan_import(path: Path, capture: Any | None, *, channel: int | None = None,
                ranges: dict[str, tuple[float, float]] | None = None,
                notes: list[str] | None = None) -> tuple[Path, np.ndarray, int, KnobSpace, list[Planned]]:
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
    recs = recordings(dataset, str(path))
    if capture is None:
        check_input(x, sample_rate=rate, what=str(inputs[0]))
        space = knob_space_for(dataset, recs, ranges, notes if notes is not None else [])
    planned = []
    for rec in recs:
        setting = space.validate_setting(rec.setting)
        out_path = resolve(rec.output_file, base)
        y, _ = read_wav(out_path, sample_rate=rate, channel=channel)
        check_output(y, x, sample_rate=rate, what=str(out_path))
        written = {"dataset": str(path.resolve()), "input_file": rec.input_file, "output_file": rec.output_file,
                   "entries": [e.model_dump(exclude_none=True, include={"knob_type", "knob_level", "knobs"}) for e in rec.entries]}
        planned.append(Planned(setting=setting, y=y, output_file=out_path.resolve(), written=written))
    return inputs[0], x, rate, space, planned


def export(capture: Any, output: Path) -> Path:
    """Write the capture's labels as a knob dataset JSON (paths relative to ``output``)."""
    from panama.core.fsutil import write_json_atomic

    space: KnobSpace = capture.knob_space
    defaults = space.default_setting()
    folder = output.resolve().parent
    imported = {int(e["index"]): e.get("dataset_entry") for e in capture.events()
                if e.get("event") == "labelled" and isinstance(e.get("dataset_entry"), dict)}
    entries: list[dict[str, Any]] = []
    for label in capture.labels():
        written = imported.get(label.index)
        if written is not None:
            entries += _as_written(written, folder, label.setting, space)
            continue
        entry: dict[str, Any] = {
            "input_file": os.path.relpath(capture.input_path.resolve(), folder),
            "output_file": os.path.relpath(label.path.resolve(), folder),
        }
        changed = [k for k in space.names if abs(label.setting[k] - defaults[k]) > 1e-12]
        if len(space) == 1 or len(changed) == 1:
            name = space.names[0] if len(space) == 1 else changed[0]
            entry["knob_type"], entry["knob_level"] = name, label.setting[name]
        entry["knobs"] = {k: label.setting[k] for k in space.names}
        entries.append(entry)
    if not entries:
        raise PanamaError(f"{capture.root} has no labels to export", "label some settings first (`panama label`)")
    write_json_atomic(output, {"knobs": [k.model_dump() for k in space], "entries": entries})
    return output


def _as_written(written: dict[str, Any], folder: Path, setting: KnobSetting, space: KnobSpace) -> list[dict[str, Any]]:
    """An imported recording's entries as its dataset wrote them; paths as written when the
    export sits beside the original dataset, else re-pointed at the same original files."""
    source = Path(written["dataset"]).parent
    paths = {}
    for key in ("input_file", "output_file"):
        text = written[key]
        paths[key] = text if source == folder or Path(text).is_absolute() else os.path.relpath(resolve(text, source), folder)
    full = {k: setting[k] for k in space.names}
    return [{**paths, **entry, **({} if "knobs" in entry else {"knobs": full})} for entry in written["entries"]]
