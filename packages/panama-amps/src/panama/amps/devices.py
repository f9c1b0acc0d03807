"""``panama devices``: the audio interfaces sounddevice (PortAudio) can see, for ``soundcard:DEVICE``."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from panama.core.console import out
from panama.core.errors import PanamaError


def list_devices() -> list[dict[str, Any]]:
    """Every PortAudio device with its host API, channel counts and default rate."""
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:
        raise PanamaError(f"cannot list audio devices: {exc}",
                          "pip install 'panama-amps[soundcard]' and the PortAudio library (libportaudio2)") from None
    apis = sd.query_hostapis()
    default_in, default_out = (sd.default.device[0], sd.default.device[1])
    rows = []
    for index, device in enumerate(sd.query_devices()):
        rows.append({
            "index": index,
            "name": device["name"],
            "host_api": apis[device["hostapi"]]["name"],
            "inputs": int(device["max_input_channels"]),
            "outputs": int(device["max_output_channels"]),
            "sample_rate": float(device["default_samplerate"]),
            "default": [tag for tag, d in (("input", default_in), ("output", default_out)) if d == index],
        })
    return rows


def devices(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """List audio devices (use the index or name with --labeler soundcard:DEVICE)."""
    rows = list_devices()
    if as_json:
        typer.echo(json.dumps({"devices": rows}, indent=2))
        return
    if not rows:
        out.print("no audio devices found (is an audio server running, e.g. JACK or PulseAudio?)")
        return
    from rich.table import Table

    table = Table(title="Audio devices", title_justify="left")
    for column in ("#", "name", "host API", "in", "out", "rate", "default"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(str(row["index"]), row["name"], row["host_api"], str(row["inputs"]), str(row["outputs"]),
                      f"{row['sample_rate']:g}", ", ".join(row["default"]))
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command("devices")(devices)
