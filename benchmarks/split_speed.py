"""An ensemble fit split across devices (``--trainer devices=N``) against the same fit stacked.

    python benchmarks/split_speed.py                     # the quick and good presets' ensembles
    python benchmarks/split_speed.py --presets quick --repeats 3 --no-write

A round's ensemble is trained with the run preset's own ensemble recipe and net on sim
recordings of the preset's signal (``--settings`` random settings): once as one stacked module
in this process (torch's default threads), once split over ``--devices`` CPU worker processes
(``cpu_count / devices`` threads each). The two alternate, ``--repeats`` times; the medians of
wall seconds (worker start-up included) go to the section of ``benchmarks/RESULTS.md``, with the
members' validation ESR, so a faster fit is seen to be the same fit. Time it alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
MARK_START, MARK_END = "<!-- split-speed:start -->", "<!-- split-speed:end -->"


def recordings(signal_name: str, settings: int) -> tuple[Any, Any]:
    from panama.amps.sim import SimAmp
    from panama.core.signal import make_signal
    from panama.core.train import TrainingData

    amp, signal = SimAmp(), make_signal(signal_name, seed=0)
    space = amp.knob_space()
    units = np.random.default_rng(7).random((settings, len(space)))
    y = np.stack([amp.label(signal.audio, signal.sample_rate, space.from_unit(u)) for u in units]).astype(np.float32)
    return TrainingData(signal.audio, y, units.astype(np.float32), signal.sample_rate), space


def fit(preset: Any, data: Any, space: Any, trainer: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    from panama.core import train

    recipe = train.Recipe(**{**preset.ensemble, "val_fraction": 0.0, "trainer": trainer})
    started = time.perf_counter()
    ensemble = train.fit_ensemble(data, members=preset.members, net=preset.net, net_options=preset.net_options,
                                  recipe=recipe, knob_space=space)
    return time.perf_counter() - started, ensemble.metrics


def measure(name: str, settings: int, devices: int, repeats: int) -> dict[str, Any]:
    from panama.core.presets import get_preset

    preset = get_preset(name)
    data, space = recordings(preset.signal, settings)
    kinds = {"stacked": {"accelerator": "cpu"}, "split": {"accelerator": "cpu", "devices": devices}}
    seconds: dict[str, list[float]] = {k: [] for k in kinds}
    esr: dict[str, list[float]] = {}
    for _ in range(repeats):
        for kind, trainer in kinds.items():
            wall, metrics = fit(preset, data, space, trainer)
            seconds[kind].append(wall)
            esr[kind] = metrics["val_esr"]
        print(name, {k: [round(s, 1) for s in v] for k, v in seconds.items()}, flush=True)
    med = {k: statistics.median(v) for k, v in seconds.items()}
    return {"preset": name, "members": preset.members, "steps": preset.ensemble.get("steps"), "settings": settings,
            "stacked_s": med["stacked"], "split_s": med["split"], "speedup": med["stacked"] / med["split"],
            "esr_stacked": float(np.median(esr["stacked"])), "esr_split": float(np.median(esr["split"]))}


def section(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [MARK_START, "## Ensembles split across devices (`benchmarks/split_speed.py`)", "",
             f"One round's ensemble fit with the run preset's ensemble recipe and net on {args.settings} sim settings: "
             f"stacked in one process (torch's default threads) against `--trainer devices={args.devices}` "
             f"({args.devices} CPU worker processes, {max(1, (os.cpu_count() or 1) // args.devices)} thread(s) each, "
             f"start-up included); medians of {args.repeats} alternating repeats, wall seconds. "
             f"{platform.machine()}, {os.cpu_count()} cores, measured {dt.date.today().isoformat()}. {args.note}".rstrip(),
             "", "| preset | members × steps | stacked s | split s | speed-up | median member val ESR (stacked / split) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['preset']} | {r['members']} × {r['steps']} | {r['stacked_s']:.1f} | {r['split_s']:.1f} | "
                     f"**{r['speedup']:.2f}×** | {r['esr_stacked']:.3g} / {r['esr_split']:.3g} |")
    return "\n".join([*lines, MARK_END])


def write_results(text: str, path: Path) -> None:
    old = path.read_text() if path.exists() else ""
    if MARK_START in old and MARK_END in old:
        new = old[: old.index(MARK_START)] + text + old[old.index(MARK_END) + len(MARK_END):]
    else:
        new = old.rstrip() + "\n\n" + text + "\n"
    path.write_text(new)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["quick", "good"])
    parser.add_argument("--settings", type=int, default=12)
    parser.add_argument("--devices", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--note", default="", help="what else ran on the machine")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    rows = [measure(name, args.settings, args.devices, args.repeats) for name in args.presets]
    text = section(rows, args)
    print(text)
    if not args.no_write:
        write_results(text, HERE / "RESULTS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
