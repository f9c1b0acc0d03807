"""``panama export``: a trained model as .nam (one setting or a snapshot pack), parametric JSON,
or TorchScript. From a capture, every file carries the capture's gear metadata and the ESR to
expect at its setting."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from panama.core.console import out
from panama.core.errors import PanamaError

# Exporters that take the gear metadata (NAM's user fields).
_WITH_METADATA = ("nam", "panama")


def _model_path(source: Path) -> Path:
    if source.is_dir():
        from panama.core.nam_outdir import is_outdir

        return source / "model.pt" if is_outdir(source) else source / "models" / "model.pt"
    return source


def _capture_of(source: Path) -> Any:
    """The capture a source belongs to: DIR itself, or DIR for DIR/models/*.pt; else ``None``."""
    from panama.core.capture.store import Capture

    root = source if source.is_dir() else source.resolve().parent.parent
    if source.is_dir() or source.resolve().parent.name == "models":
        if Capture.exists(root):
            return Capture.open(root)
    return None


def _home(source: Path, capture: Any) -> tuple[Path, str]:
    """Where exports go by default and the name they start with: a capture's exports/ and its
    name (also for DIR/models/*.pt), else the model file's folder and stem."""
    if capture is not None:
        return capture.exports_dir, capture.root.resolve().name
    return source.parent, source.stem


def _default_output(source: Path, capture: Any, fmt: str, suffix: str, setting_text: str) -> Path:
    folder, stem = _home(source, capture)
    if fmt == "nam":
        stem += "-" + (re.sub(r"[^A-Za-z0-9.]+", "_", setting_text).strip("_") or "default")
    return folder / f"{stem}{suffix}"


def export(
    source: Annotated[Path, typer.Argument(help="A capture DIR (uses DIR/models/model.pt), a `panama train` OUTDIR or a model .pt file.", show_default=False)],
    format: Annotated[str, typer.Option("--format", "-f", help="nam, panama or torchscript (or any installed exporter).")] = "nam",
    setting: Annotated[str | None, typer.Option(help="Knob setting for .nam, e.g. gain=0.7,bass=0.2 (others: defaults).")] = None,
    grid: Annotated[str | None, typer.Option("--grid", help="A snapshot pack over a grid: gain=0:10:6,bass=5 (from:to:count or one value; others: defaults).")] = None,
    settings_file: Annotated[Path | None, typer.Option("--settings-file", help='A snapshot pack of named presets (TOML): crunch = "gain=6,bass=4".')] = None,
    nam_version: Annotated[str | None, typer.Option("--nam-version", help="NAM file layout: 0.5 (default, every plugin) or 0.7.")] = None,
    meta: Annotated[str | None, typer.Option("--meta", help="Gear metadata for this export, over the capture's: name=…,gear_make=…,tone_type=crunch …")] = None,
    loudness_input: Annotated[Path | None, typer.Option("--loudness-input", help="DI WAV for the .nam's loudness and gain (default: PANAMA's standard DI; NAM's own loudness_input.wav gives NAM's exact numbers).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Output file, or folder for a pack (default: DIR/exports/…).")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar (packs).")] = True,
) -> None:
    """Export a trained model for NAM's plugin, for torch-free use, or as TorchScript.

    With --grid or --settings-file, writes a snapshot pack: one .nam per setting plus
    index.csv / index.json (settings, loudness, gain, expected ESR). Run it again after an
    interruption: finished files are kept.
    """
    from panama.core.capture.gear import GearMeta, parse_meta
    from panama.core.components import build
    from panama.core.train import TrainedModel

    pack = grid is not None or settings_file is not None
    if pack and format != "nam":
        raise PanamaError("--grid and --settings-file make .nam snapshot packs", "use --format nam (the default)")
    if grid is not None and settings_file is not None:
        raise PanamaError("--grid and --settings-file both given", "use one of them per pack")
    if setting and pack:
        raise PanamaError("--setting exports one file; a pack takes its settings from --grid/--settings-file", "drop --setting")
    if setting and format != "nam":
        raise PanamaError("--setting applies to --format nam only (the other formats keep every knob)", "drop it")
    options: dict[str, Any] = {}
    if nam_version is not None:
        if format != "nam":
            raise PanamaError("--nam-version applies to --format nam only", "drop it")
        if nam_version not in ("0.5", "0.7"):
            raise PanamaError(f"--nam-version {nam_version!r} is not supported", "use 0.5 or 0.7")
        options["nam_version"] = nam_version
    if loudness_input is not None:
        if format != "nam":
            raise PanamaError("--loudness-input applies to --format nam only", "drop it")
        from panama.core.audio import read_wav

        read_wav(loudness_input)  # a missing or unreadable file: one line, before any work
        options["loudness_input"] = loudness_input
    extra_meta = parse_meta(meta)
    exporter = build("exporter", format)
    model = TrainedModel.load(_model_path(source))
    capture = _capture_of(source)
    gear: GearMeta = (capture.config.meta if capture is not None else GearMeta()).merged(extra_meta)
    title = gear.title(_home(source, capture)[1])
    expected = None
    if capture is not None and format == "nam":
        from panama.core.study.setting_esr import ExpectedError

        expected = ExpectedError(capture, model)

    if pack:
        _locked(capture, lambda: _export_pack(
            _home(source, capture), model, gear, title, expected, grid=grid, settings_file=settings_file,
            nam_version=nam_version or "0.5", output=output, progress=progress, loudness_input=loudness_input))
        return

    parsed = model.knob_space.parse_setting(setting) if setting else None
    text = model.knob_space.format_setting(parsed) if parsed else ""
    if format in _WITH_METADATA:
        fields = gear.fields()
        if format == "nam" and "name" not in extra_meta.fields():
            fields["name"] = f"{title} {text or 'default'}".strip()
        options["metadata"] = fields
    if expected is not None:
        options["validation_esr"] = expected.at(model.knob_space.validate_setting(parsed or {}))
    path = output or _default_output(source, capture, format, exporter.suffix, text)
    if not path.parent.is_dir():
        raise PanamaError(f"folder {path.parent} does not exist", "create it first or choose another --output")
    written = _locked(capture, lambda: exporter.export(model, path, parsed, **options))
    out.print(f"[green]exported[/green] {format} → {written}")


def _locked(capture: Any, write: Callable[[], Any]) -> Any:
    """Write under the capture's lock when exporting from a capture (a writer like any other)."""
    if capture is None:
        return write()
    with capture.lock():
        return write()


def _export_pack(home: tuple[Path, str], model: Any, gear: Any, title: str, expected: Any, *, grid: str | None,
                 settings_file: Path | None, nam_version: str, output: Path | None, progress: bool,
                 loudness_input: Path | None) -> None:
    from panama.core import packs
    from panama.core.components import build
    from panama.core.progress import progress_bar

    space = model.knob_space
    snapshots = packs.grid(space, grid) if grid is not None else packs.settings_file(space, settings_file)  # type: ignore[arg-type]
    folder = output or home[0] / f"{home[1]}-snapshots"
    if folder.exists() and not folder.is_dir():
        raise PanamaError(f"{folder} is a file, not a folder", "give a folder with --output")
    names = packs.file_names(home[1], snapshots, space)
    exporter = build("exporter", "nam")
    fields = gear.fields()
    shared = {k: v for k, v in fields.items() if k != "name"}

    def write(path: Path, snap: packs.Snapshot) -> None:
        label = snap.preset or space.format_setting(snap.setting)
        esr = expected.at(snap.setting) if expected is not None else None
        exporter.export(model, path, snap.setting, nam_version=nam_version, loudness_input=loudness_input,
                        metadata={**shared, "name": f"{title} ({label})"}, validation_esr=esr)

    with progress_bar(len(snapshots), f"snapshots → {folder.name}", enabled=progress) as advance:
        result = packs.export_pack(folder, snapshots, names, space=space, fingerprint=model.fingerprint(),
                                   nam_version=nam_version, meta=shared, write=write, progress=advance,
                                   loudness_file=loudness_input.name if loudness_input is not None else None)
    kept = f", kept {result.kept} already there" if result.kept else ""
    out.print(f"[green]exported[/green] {len(result.rows)} .nam snapshots → {folder} "
              f"(wrote {result.written}{kept}; index: {packs.INDEX_CSV}, {packs.INDEX_JSON})")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
