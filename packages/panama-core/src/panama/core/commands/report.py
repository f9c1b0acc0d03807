"""``panama report``: plots and one self-contained HTML page for a capture."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from panama.core.console import out


def report(
    directory: Annotated[Path, typer.Argument(help="Capture directory, or a `panama train` OUTDIR.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="HTML file to write (default: DIR/report.html).")] = None,
) -> None:
    """Plots and one self-contained HTML page for a capture.

    Training curves, chosen settings, error across the knob space, and the worst and a typical
    held-out setting (target vs model); PNGs go to DIR/report/.
    """
    from panama.core.nam_outdir import is_outdir, report_outdir
    from panama.core.study.report_html import build_report

    path = report_outdir(directory, output) if is_outdir(directory) else build_report(directory, output)
    out.print(f"report written to {path}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
