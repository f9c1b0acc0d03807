"""Snapshot packs: one ``.nam`` per knob setting, for NAM's plugin (which has no knobs).

A guitarist uses a parametric capture in NAM as a set of snapshots: a grid over the knobs that
matter (``gain=0:10:6,bass=5``) or named presets from a TOML file (``crunch = "gain=6,bass=4"``).
:func:`export_pack` writes one file per setting with a readable name and an index
(``index.csv`` and ``index.json``: file, preset, knob values, loudness, gain, expected ESR).

Interrupt it at any point and run it again: every file is written whole (temp file + rename),
and a file already there for the same model, setting, layout and metadata is kept, not redone.
The index is written last, from the files themselves.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tomllib

from panama.core.errors import PanamaError
from panama.core.faults import crash_point
from panama.core.fsutil import write_json_atomic, write_text_atomic
from panama.core.knobs import KnobSetting, KnobSpace
from panama.core.options import parse_pairs

MAX_SNAPSHOTS = 1000
INDEX_CSV, INDEX_JSON = "index.csv", "index.json"


@dataclass(frozen=True)
class Snapshot:
    """One planned file: its preset name (``""`` on a grid) and its full setting."""

    preset: str
    setting: KnobSetting


# ------------------------------------------------------------------------------ planning
def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise PanamaError(f"{what}: {text!r} is not a number", "write e.g. gain=0:10:6 (from:to:count) or bass=5") from None
    if not math.isfinite(value):
        raise PanamaError(f"{what}: {text!r} is not finite", "give a finite number")
    return value


def _grid_values(name: str, spec: str) -> list[float]:
    parts = spec.split(":")
    if len(parts) == 1:
        return [_number(parts[0], f"grid knob {name!r}")]
    if len(parts) != 3:
        raise PanamaError(f"grid knob {name!r}: {spec!r} is not from:to:count or one value",
                          "write e.g. gain=0:10:6 (six values from 0 to 10) or bass=5")
    start, stop = (_number(p, f"grid knob {name!r}") for p in parts[:2])
    count = _number(parts[2], f"grid knob {name!r} count")
    if count != int(count) or count < 1:
        raise PanamaError(f"grid knob {name!r}: count {parts[2]!r} must be a whole number ≥ 1", "write e.g. gain=0:10:6")
    return [float(v) for v in np.linspace(start, stop, int(count))]


def grid(space: KnobSpace, text: str) -> list[Snapshot]:
    """``"gain=0:10:6,bass=5"``: every combination; knobs not named stay at their defaults."""
    spec = parse_pairs(text, what="grid", example="--grid gain=0:10:6,bass=5")
    if not spec:
        raise PanamaError("the grid is empty", "write e.g. --grid gain=0:10:6,bass=5")
    axes = {}
    for name, values in spec.items():
        if name not in space:
            space.validate_setting({name: 0})  # the knob-space's own message for unknown knobs
        axes[name] = _grid_values(name, values)
    total = math.prod(len(v) for v in axes.values())
    if total > MAX_SNAPSHOTS:
        raise PanamaError(f"the grid has {total} settings (more than {MAX_SNAPSHOTS})", "use fewer values per knob")
    return [Snapshot("", space.validate_setting(dict(zip(axes, combo, strict=True))))
            for combo in itertools.product(*axes.values())]


def settings_file(space: KnobSpace, path: Path) -> list[Snapshot]:
    """Named presets from TOML: ``crunch = "gain=6,bass=4"`` or a ``[crunch]`` table of knobs."""
    path = Path(path)
    if not path.is_file():
        raise PanamaError(f"settings file {path} does not exist", 'write one with lines like: crunch = "gain=6,bass=4"')
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PanamaError(f"{path} is not valid TOML ({exc})", 'write lines like: crunch = "gain=6,bass=4"') from None
    if not data:
        raise PanamaError(f"{path} names no settings", 'add lines like: crunch = "gain=6,bass=4"')
    snapshots = []
    for name, value in data.items():
        where = f"{path.name}: preset {name!r}"
        if isinstance(value, str):
            values: Mapping[str, Any] = parse_pairs(value, what=where, example="crunch = \"gain=6,bass=4\"")
        elif isinstance(value, Mapping):
            values = value
        else:
            raise PanamaError(f"{where} is neither a \"knob=value,…\" string nor a table", 'write: crunch = "gain=6,bass=4"')
        try:
            snapshots.append(Snapshot(str(name), space.validate_setting(values)))
        except PanamaError as exc:
            raise PanamaError(f"{where}: {exc.message}", exc.hint) from None
    return snapshots


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_") or "x"


def _value(value: float) -> str:
    return f"{value:.4g}"


def file_names(stem: str, snapshots: Sequence[Snapshot], space: KnobSpace) -> list[str]:
    """Readable, unique names: ``amp-crunch.nam`` for presets, ``amp-gain2_bass5.nam`` on a grid
    (the knobs that vary across the pack; all of them when none varies)."""
    varying = [k for k in space.names if len({s.setting[k] for s in snapshots}) > 1] or space.names
    names: list[str] = []
    for snap in snapshots:
        tail = snap.preset or "_".join(f"{k}{_value(snap.setting[k])}" for k in varying) or "default"
        name = f"{_slug(stem)}-{_slug(tail)}"
        candidate, n = name, 2
        while f"{candidate}.nam" in names:
            candidate, n = f"{name}-{n}", n + 1
        names.append(f"{candidate}.nam")
    return names


# ------------------------------------------------------------------------------- writing
@dataclass
class PackResult:
    folder: Path
    rows: list[dict[str, Any]]
    written: int
    kept: int


def _existing(path: Path) -> dict[str, Any] | None:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return content if isinstance(content, dict) and isinstance(content.get("metadata"), dict) else None


def _same(content: dict[str, Any], setting: KnobSetting, fingerprint: str, version: str, meta: Mapping[str, Any],
          loudness_file: str | None) -> bool:
    metadata = content["metadata"]
    panama = metadata.get("panama") or {}
    stored = panama.get("setting") or {}
    return (
        panama.get("model") == fingerprint
        and panama.get("loudness_input_file") == loudness_file
        and str(content.get("version", "")).startswith(version + ".")
        and set(stored) == set(setting)
        and all(abs(float(stored[k]) - setting[k]) <= 1e-9 * max(1.0, abs(setting[k])) for k in setting)
        and all(metadata.get(k) == v for k, v in meta.items())
    )


def export_pack(
    folder: Path,
    snapshots: Sequence[Snapshot],
    names: Sequence[str],
    *,
    space: KnobSpace,
    fingerprint: str,
    nam_version: str,
    meta: Mapping[str, Any],
    write: Callable[[Path, Snapshot], None],
    progress: Callable[[float], None] = lambda n: None,
    loudness_file: str | None = None,
) -> PackResult:
    """Write every snapshot not already there (``write(path, snapshot)`` writes one whole file),
    then the index. ``meta`` are the user's NAM fields each file must carry; ``loudness_file``
    the name of the DI its loudness was measured on (``None``: PANAMA's standard DI)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows, written, kept = [], 0, 0
    for snap, name in zip(snapshots, names, strict=True):
        path = folder / name
        content = _existing(path) if path.exists() else None
        if content is not None and _same(content, snap.setting, fingerprint, nam_version, meta, loudness_file):
            kept += 1
        else:
            write(path, snap)
            crash_point("pack:after-file")
            content = _existing(path)
            if content is None:
                raise PanamaError(f"the exporter did not write a readable .nam to {path}", "rerun with --debug and report it")
            written += 1
        rows.append(_row(name, snap, space, content["metadata"]))
        progress(1)
    write_index(folder, rows, space)
    return PackResult(folder, rows, written, kept)


def _row(name: str, snap: Snapshot, space: KnobSpace, metadata: Mapping[str, Any]) -> dict[str, Any]:
    esr = (metadata.get("panama") or {}).get("validation_esr") or {}
    return {
        "file": name, "preset": snap.preset, "setting": {k: snap.setting[k] for k in space.names},
        "loudness_db": metadata.get("loudness"), "nam_gain": metadata.get("gain"),
        "expected_esr": esr.get("esr"), "esr_basis": esr.get("basis", ""),
    }


def write_index(folder: Path, rows: Sequence[Mapping[str, Any]], space: KnobSpace) -> None:
    """``index.json`` (with the knobs' ranges) and ``index.csv`` (one row per file, a column per knob;
    ``nam_gain`` is NAM's 0…1 gain figure, not a knob)."""
    fixed = ["loudness_db", "nam_gain", "expected_esr", "esr_basis"]
    knobs = [k if k not in ("file", "preset", *fixed) else f"knob_{k}" for k in space.names]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["file", "preset", *knobs, *fixed])
    for row in rows:
        cells = [row["file"], row["preset"], *(row["setting"][k] for k in space.names), *(row.get(k) for k in fixed)]
        writer.writerow(["" if c is None else c for c in cells])
    write_json_atomic(folder / INDEX_JSON, {"knobs": [k.model_dump() for k in space], "snapshots": list(rows)},
                      allow_nan=False)
    write_text_atomic(folder / INDEX_CSV, buffer.getvalue())
