"""Training-step throughput: PANAMA's wavenet vs neural-amp-modeler's own WaveNet, same run.

One step = forward, MSE, backward, Adam, on a batch of ``--batch`` segments of ``--segment``
output samples (plus the receptive field of input). For each preset we time NAM's WaveNet
(neural-amp-modeler 0.13.0, A1 config), ours with 6 knobs (conditioning on) and ours with 0,
interleaved round by round so a busy machine slows all alike; medians are reported as output
samples per second and as ratios. Then an ensemble of 4 (one stacked module, each member its
own batch) against a single member. Results go to benchmarks/RESULTS.md (own section).

    python benchmarks/train_speed.py                 # all presets, 2 threads
    python benchmarks/train_speed.py --presets nano --rounds 3
    python benchmarks/train_speed.py --device cuda   # the same on a GPU: its own section beside the CPU's
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
NAM_RELEASE_LAYOUT = "0.7"  # neural-amp-modeler 0.13.0


def nam_wavenet(preset: str) -> torch.nn.Module:
    sys.path.insert(0, str(ROOT / "tests"))
    from nam_loader import loader_dir

    sys.path.insert(0, str(loader_dir(NAM_RELEASE_LAYOUT)))
    from nam.models.wavenet import WaveNet as NamWaveNet

    from panama.models.wavenet import preset_layers

    layers = []
    for layer in preset_layers(preset):
        layers.append({
            "input_size": layer.input_size, "condition_size": 1, "channels": layer.channels,
            "head": {"out_channels": layer.head_size, "kernel_size": 1, "bias": layer.head_bias},
            "kernel_size": layer.kernel_size, "dilations": layer.dilations, "activation": layer.activation,
        })
    return NamWaveNet.init_from_config({"layers_configs": layers, "head_scale": 0.02})


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()  # a GPU step is done when its kernels are, not when Python returns


def stepper(model: torch.nn.Module, forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> Callable[[], float]:
    device = x.device.type
    model.to(x.device)
    opt = torch.optim.Adam(model.parameters(), lr=4e-3)

    def step() -> float:
        sync(device)
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = (forward(x) - y).pow(2).mean()
        loss.backward()
        opt.step()
        sync(device)
        return time.perf_counter() - start

    step()  # warm-up (allocator, oneDNN primitives)
    return step


def interleaved(steps: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            times[name].append(step())
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["nano", "feather", "lite", "standard"])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--segment", type=int, default=8192)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ensemble-presets", nargs="+", default=["nano", "standard"])
    parser.add_argument("--members", type=int, default=4)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("train_speed: --device cuda, but torch sees no GPU here (run it where one is, or leave out --device)")
    dev = torch.device(args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    from panama.models.wavenet import WaveNet, WaveNetConfig

    b, t = args.batch, args.segment
    samples = b * t
    rows, ens_rows = [], []
    for preset in args.presets:
        ours6 = WaveNet(WaveNetConfig(preset=preset, num_knobs=6), seeds=[0])
        ours0 = WaveNet(WaveNetConfig(preset=preset), seeds=[0])
        nam = nam_wavenet(preset)
        x = torch.randn(b, t + ours6.receptive_field - 1, device=dev) * 0.3
        y = torch.randn(b, t, device=dev) * 0.1
        knobs6, knobs0 = torch.rand(b, 6, device=dev), torch.zeros(b, 0, device=dev)
        medians = interleaved({
            "nam": stepper(nam, lambda v, n=nam: n(v, pad_start=False), x, y),
            "ours_k6": stepper(ours6, lambda v, n=ours6, k=knobs6: n(v, k), x, y),
            "ours_k0": stepper(ours0, lambda v, n=ours0, k=knobs0: n(v, k), x, y),
        }, args.rounds)
        rows.append((preset, medians))
        print(f"{preset:9s} NAM {samples / medians['nam'] / 1e6:.3f} M/s  ours K=6 {samples / medians['ours_k6'] / 1e6:.3f} M/s "
              f"(×{medians['nam'] / medians['ours_k6']:.2f})  ours K=0 {samples / medians['ours_k0'] / 1e6:.3f} M/s "
              f"(×{medians['nam'] / medians['ours_k0']:.2f})", flush=True)
    for preset in args.ensemble_presets:
        m = args.members
        single = WaveNet(WaveNetConfig(preset=preset, num_knobs=6), seeds=[0])
        stacked = WaveNet(WaveNetConfig(preset=preset, num_knobs=6), members=m, seeds=list(range(m)))
        x1 = torch.randn(b, t + single.receptive_field - 1, device=dev) * 0.3
        xm, km = torch.randn(b, m, x1.shape[1], device=dev) * 0.3, torch.rand(b, m, 6, device=dev)
        k1 = km[:, 0]
        medians = interleaved({
            "single": stepper(single, lambda v, n=single, k=k1: n(v, k), x1, torch.randn(b, t, device=dev)),
            "ensemble": stepper(stacked, lambda v, n=stacked, k=km: n(v, k), xm, torch.randn(b, m, t, device=dev)),
        }, args.rounds)
        ens_rows.append((preset, medians))
        print(f"{preset:9s} ensemble of {m}: {medians['ensemble']:.3f} s/step vs one member {medians['single']:.3f} s/step "
              f"= ×{medians['ensemble'] / medians['single']:.2f}", flush=True)
    if not args.no_write:
        write_results(args, rows, ens_rows)


def write_results(args: argparse.Namespace, rows: list, ens_rows: list) -> None:
    """Replace this benchmark's section for this thread count in RESULTS.md (others stay)."""
    where = f"threads={args.threads}" if args.device == "cpu" else "cuda"
    mark_begin, mark_end = f"<!-- train_speed:{where}:begin -->", f"<!-- train_speed:{where}:end -->"
    b, t, samples = args.batch, args.segment, args.batch * args.segment
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()}, {os.cpu_count()} cores visible, {args.threads} torch threads, torch {torch.__version__}, {platform.python_version()}"
    if args.device == "cuda":
        machine = f"{torch.cuda.get_device_name(0)}, torch {torch.__version__} (CUDA {torch.version.cuda}), {platform.python_version()}"
    lines = [
        mark_begin,
        f"## Training-step speed, {'a GPU' if args.device == 'cuda' else f'{args.threads} thread(s)'}: PANAMA wavenet vs NAM's WaveNet (`benchmarks/train_speed.py`)",
        "",
        f"{now}; {machine}. One step = forward + MSE + backward + Adam on {b} × {t} output samples; "
        f"median of {args.rounds} interleaved rounds; reference: neural-amp-modeler 0.13.0 `WaveNet` (A1 config). "
        "Ratio > 1 means ours is faster. The machine was shared with other jobs: compare ratios, not absolutes.",
        "",
        "| preset | NAM (M samples/s) | ours K=6 (M/s) | ratio K=6 | ours K=0 (M/s) | ratio K=0 |",
        "|---|---|---|---|---|---|",
    ]
    for preset, m in rows:
        lines.append(f"| {preset} | {samples / m['nam'] / 1e6:.3f} | {samples / m['ours_k6'] / 1e6:.3f} | "
                     f"{m['nam'] / m['ours_k6']:.2f} | {samples / m['ours_k0'] / 1e6:.3f} | {m['nam'] / m['ours_k0']:.2f} |")
    lines += ["", f"Ensemble of {args.members} (one stacked module: grouped conv1d or batched matmuls, each member its own batch of {b} × {t}) "
              "vs one member, K=6; goal ≤ 2×:", "", "| preset | one member (s/step) | ensemble (s/step) | ratio |", "|---|---|---|---|"]
    for preset, m in ens_rows:
        lines.append(f"| {preset} | {m['single']:.3f} | {m['ensemble']:.3f} | {m['ensemble'] / m['single']:.2f} |")
    lines.append(mark_end)
    path = ROOT / "benchmarks" / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if mark_begin in text:
        head, rest = text.split(mark_begin, 1)
        text = head + "\n".join(lines) + rest.split(mark_end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    path.write_text(text)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
