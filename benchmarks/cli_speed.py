"""How long ``panama --help`` takes, beside bare Python and beside importing NumPy.

    python benchmarks/cli_speed.py                 # prints the table
    python benchmarks/cli_speed.py --results       # and writes its section of benchmarks/RESULTS.md

A user meets ``panama --help`` first; the target is under 0.25 s on a 2-core machine. Absolute
times move with the machine and its load, so each command runs in the same rounds (order
rotated each round, so no command always runs first or after another) and the table reports the
median wall and CPU seconds of each together with the ratios to ``python -c pass`` (the floor
any Python CLI pays) and to ``python -c "import numpy"`` (what the help used to import).
Bytecode is cached as after an install (in a temporary ``PYTHONPYCACHEPREFIX``, so the working
tree stays clean even where ``PYTHONDONTWRITEBYTECODE`` is set), and one unmeasured run of each
command warms it.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARK_START = "<!-- cli-speed:start -->"
MARK_END = "<!-- cli-speed:end -->"
TARGET_SECONDS = 0.25


def commands() -> dict[str, list[str]]:
    python = sys.executable
    panama = str(Path(python).with_name("panama"))
    return {
        "panama --help": [panama, "--help"],
        "panama run --help": [panama, "run", "--help"],
        "python -c pass": [python, "-c", "pass"],
        'python -c "import numpy"': [python, "-c", "import numpy"],
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(runs: int) -> dict[str, dict[str, float]]:
    """Median wall and CPU seconds per command over ``runs`` interleaved rounds."""
    with tempfile.TemporaryDirectory(prefix="panama-pycache-") as cache:
        env = {**os.environ, "COLUMNS": "80", "PYTHONPYCACHEPREFIX": cache}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        return _measure(runs, env)


def _measure(runs: int, env: dict[str, str]) -> dict[str, dict[str, float]]:
    table = commands()
    names = list(table)
    walls: dict[str, list[float]] = {name: [] for name in names}
    cpus: dict[str, list[float]] = {name: [] for name in names}
    for name in names:  # one unmeasured run each: bytecode caches and the page cache are warm
        subprocess.run(table[name], check=True, stdout=subprocess.DEVNULL, env=env)
    for round_ in range(runs):
        for name in names[round_ % len(names):] + names[: round_ % len(names)]:
            cpu0, wall0 = _children_cpu(), time.perf_counter()
            subprocess.run(table[name], check=True, stdout=subprocess.DEVNULL, env=env)
            walls[name].append(time.perf_counter() - wall0)
            cpus[name].append(_children_cpu() - cpu0)
    return {name: {"wall": statistics.median(walls[name]), "cpu": statistics.median(cpus[name])} for name in names}


def section(result: dict[str, dict[str, float]], runs: int, note: str) -> str:
    floor = result["python -c pass"]["wall"]
    numpy = result['python -c "import numpy"']["wall"]
    help_wall = result["panama --help"]["wall"]
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    verdict = "under" if help_wall < TARGET_SECONDS else "over"
    header = [
        MARK_START,
        "## CLI start-up (`benchmarks/cli_speed.py`)",
        "",
        f"Median of {runs} interleaved runs each; {platform.machine()}, {os.cpu_count()} cores, "
        f"load average {load} at the end. `panama --help` takes {help_wall:.3f} s, {verdict} the "
        f"{TARGET_SECONDS} s target: {help_wall / floor:.1f}× bare Python and {help_wall / numpy:.2f}× "
        f"`import numpy` (it imports neither NumPy nor pydantic). {note}".rstrip(),
        "",
        "| command | wall s | CPU s | × `python -c pass` | × `import numpy` |",
        "|---|---|---|---|---|",
    ]
    rows = [f"| `{name}` | {row['wall']:.3f} | {row['cpu']:.3f} | {row['wall'] / floor:.1f} | {row['wall'] / numpy:.2f} |"
            for name, row in result.items()]
    return "\n".join([*header, *rows, MARK_END]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11, help="interleaved rounds (the median is reported)")
    parser.add_argument("--results", action="store_true", help="write the section of benchmarks/RESULTS.md")
    parser.add_argument("--note", default="", help="what else ran on the machine (goes into RESULTS.md)")
    args = parser.parse_args(argv)
    result = measure(args.runs)
    text = section(result, args.runs, args.note)
    print(text)
    if args.results:
        sys.path.insert(0, str(HERE))
        from results_md import replace_section

        replace_section(HERE / "RESULTS.md", text, MARK_START, MARK_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
