"""Real-time factor of the built-in ``sim`` amp (target ≥ 50×), on one core.

    python benchmarks/sim_speed.py [--preset quick] [--runs 7]

Pins the process to one CPU and one BLAS/OpenMP thread, renders the reamp signal at several
knob settings, and reports the median real-time factor (audio seconds per wall second). The
``pedalboard`` chain (compiled C++ JUCE effects) is timed side by side in the same run as a
point of comparison. Prints a Markdown section to append to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import platform
import statistics
import time

import numpy as np


def median_rtf(source, x: np.ndarray, sr: int, settings: list[dict[str, float]], runs: int) -> tuple[float, list[float]]:
    source.label(x[:sr], sr, settings[0])  # warm-up (filter design caches, imports)
    factors = []
    for i in range(runs):
        setting = settings[i % len(settings)]
        start = time.perf_counter()
        source.label(x, sr, setting)
        factors.append(len(x) / sr / (time.perf_counter() - start))
    return statistics.median(factors), factors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    from panama.amps.sim import SimAmp
    from panama.core.signal import make_signal

    signal = make_signal(args.preset)
    x, sr = signal.audio, signal.sample_rate
    rng = np.random.default_rng(0)
    names = SimAmp().knob_space().names
    settings = [dict(zip(names, rng.uniform(0, 1, len(names)), strict=True)) for _ in range(args.runs)]
    sim, sim_all = median_rtf(SimAmp(), x, sr, settings, args.runs)
    rows = [("sim (NumPy/SciPy)", sim, sim_all)]
    try:
        from panama.amps.chain import PedalboardChain

        chain = PedalboardChain()
        chain_settings = [{k: v for k, v in s.items() if k in chain.knob_space().names} for s in settings]
        pb, pb_all = median_rtf(chain, x, sr, chain_settings, args.runs)
        rows.append(("pedalboard chain (C++)", pb, pb_all))
    except Exception as exc:  # pedalboard not installed: the sim figure stands alone
        print(f"(pedalboard chain skipped: {exc})")
    print(f"## sim speed ({time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, 1 core)\n")
    print(f"`python benchmarks/sim_speed.py --preset {args.preset} --runs {args.runs}`: {signal.duration:.1f} s of "
          f"audio at {sr} Hz, {args.runs} random settings, median real-time factor (higher is faster).\n")
    print("| source | median × real time | min … max | vs sim |")
    print("|---|---|---|---|")
    for name, value, values in rows:
        print(f"| {name} | {value:.0f}× | {min(values):.0f}× … {max(values):.0f}× | {value / sim:.2f} |")
    print(f"\nTarget ≥ 50× real time: {'met' if sim >= 50 else 'NOT met'}.")


if __name__ == "__main__":
    main()
