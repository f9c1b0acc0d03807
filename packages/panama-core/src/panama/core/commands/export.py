"""``panama export``: a trained model as .nam (one setting), parametric JSON, or TorchScript."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from panama.core.console import out
from panama.core.errors import PanamaError


def _model_path(source: Path) -> Path:
    if source.is_dir():
        from panama.core.nam_outdir import is_outdir

        return source / "model.pt" if is_outdir(source) else source / "models" / "model.pt"
    return source


def _default_output(source: Path, fmt: str, suffix: str, setting_text: str) -> Path:
    folder = source / "exports" if source.is_dir() else source.parent
    stem = source.resolve().name if source.is_dir() else source.stem
    if fmt == "nam":
        stem += "-" + (re.sub(r"[^A-Za-z0-9.]+", "_", setting_text).strip("_") or "default")
    return folder / f"{stem}{suffix}"


def export(
    source: Annotated[Path, typer.Argument(help="A capture DIR (uses DIR/models/model.pt), a `panama train` OUTDIR or a model .pt file.", show_default=False)],
    format: Annotated[str, typer.Option("--format", "-f", help="nam, panama or torchscript (or any installed exporter).")] = "nam",
    setting: Annotated[str | None, typer.Option(help="Knob setting for .nam, e.g. gain=0.7,bass=0.2 (others: defaults).")] = None,
    nam_version: Annotated[str | None, typer.Option("--nam-version", help="NAM file layout: 0.5 (default, every plugin) or 0.7.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Output file (default: DIR/exports/…).")] = None,
) -> None:
    """Export a trained model for NAM's plugin, for torch-free use, or as TorchScript."""
    from panama.core.components import build
    from panama.core.train import TrainedModel

    exporter = build("exporter", format)
    model = TrainedModel.load(_model_path(source))
    parsed = model.knob_space.parse_setting(setting) if setting else None
    options = {}
    if nam_version is not None:
        if format != "nam":
            raise PanamaError("--nam-version applies to --format nam only", "drop it")
        if nam_version not in ("0.5", "0.7"):
            raise PanamaError(f"--nam-version {nam_version!r} is not supported", "use 0.5 or 0.7")
        options["nam_version"] = nam_version
    if setting and format != "nam":
        raise PanamaError("--setting applies to --format nam only (the other formats keep every knob)", "drop it")
    text = model.knob_space.format_setting(parsed) if parsed else ""
    path = output or _default_output(source, format, exporter.suffix, text)
    written = exporter.export(model, path, parsed, **options)
    out.print(f"[green]exported[/green] {format} → {written}")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
