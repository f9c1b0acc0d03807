"""The README's main job, end to end, as a new user runs it: wall time and held-out accuracy.

    python benchmarks/readme_job.py                      # panama run … --preset quick, then evaluate
    python benchmarks/readme_job.py --preset good --results

Runs ``panama run DIR --labeler sim --preset PRESET`` in a fresh folder (the whole loop:
labelling, the active-learning rounds' ensembles, the final model, exports), times it (wall
seconds, and CPU seconds of the process and its children), then ``panama evaluate DIR --settings
N`` and reports the held-out median, p90 and mean ESR of the final model. ``--results`` writes its
section of ``benchmarks/RESULTS.md``. Time it alone: the wall seconds are the claim here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARK_START = "<!-- readme-job:start -->"
MARK_END = "<!-- readme-job:end -->"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def panama(*args: str) -> None:
    exe = Path(sys.executable).with_name("panama")
    subprocess.run([str(exe), *args], check=True, stdout=subprocess.DEVNULL)


def run(preset: str, sampler: str | None, settings: int, outdir: Path) -> dict:
    root = outdir / f"readme-{preset}-{sampler or 'default'}"
    if root.exists():
        shutil.rmtree(root)
    outdir.mkdir(parents=True, exist_ok=True)
    args = ["run", str(root), "--labeler", "sim", "--preset", preset, "--quiet"]
    if sampler:
        args += ["--sampler", sampler]
    cpu0, wall0 = children_cpu(), time.perf_counter()
    panama(*args)
    wall, cpu = time.perf_counter() - wall0, children_cpu() - cpu0
    panama("evaluate", str(root), "--settings", str(settings))
    summary = json.loads((root / "evaluation.json").read_text())["summary"]
    return {"preset": preset, "sampler": sampler or "(preset default)", "wall_seconds": round(wall, 1),
            "cpu_seconds": round(cpu, 1), "settings": settings, "esr_median": summary["esr"]["median"],
            "esr_p90": summary["esr"]["p90"], "esr_mean": summary["esr"]["mean"]}


def section(rows: list[dict], note: str) -> str:
    lines = [
        MARK_START,
        "## The README's main job (`benchmarks/readme_job.py`)",
        "",
        f"`panama run DIR --labeler sim --preset P` from nothing to exports, then `panama evaluate DIR --settings N`; "
        f"{platform.machine()}, {os.cpu_count()} cores, torch's default threads. {note}",
        "",
        "| preset | sampler | wall s | CPU s | held-out settings | ESR median | p90 | mean |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['preset']} | {r['sampler']} | {r['wall_seconds']:.0f} | {r['cpu_seconds']:.0f} | {r['settings']} | "
                     f"{r['esr_median']:.4f} | {r['esr_p90']:.4f} | {r['esr_mean']:.4f} |")
    lines.append(MARK_END)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--sampler", default=None, help="default: the preset's own")
    parser.add_argument("--settings", type=int, default=64, help="held-out settings to evaluate on")
    parser.add_argument("--outdir", type=Path, default=HERE / "runs" / "readme-job")
    parser.add_argument("--results", action="store_true", help="write the section of benchmarks/RESULTS.md")
    parser.add_argument("--note", default="", help="what else ran on the machine (goes into RESULTS.md)")
    parser.add_argument("--cached", action="store_true", help="run nothing: report the rows measured before")
    args = parser.parse_args(argv)
    cache = args.outdir / "rows.json"
    rows = json.loads(cache.read_text()) if cache.exists() else []
    if not args.cached:
        row = run(args.preset, args.sampler, args.settings, args.outdir)
        print(json.dumps(row))
        rows = [r for r in rows if (r["preset"], r["sampler"]) != (row["preset"], row["sampler"])] + [row]
        cache.write_text(json.dumps(rows, indent=1))
    if args.results:
        sys.path.insert(0, str(HERE))
        from results_md import replace_section

        replace_section(HERE / "RESULTS.md", section(rows, args.note), MARK_START, MARK_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
