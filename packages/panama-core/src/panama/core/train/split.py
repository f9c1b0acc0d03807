"""Ensemble members split across devices: one worker process per device, each training its share.

The members of an ensemble are independent (disjoint parameters, own seeds, own segment
streams, own bootstrap draws), so an ensemble fit with ``trainer.devices = N`` needs no
gradient exchange at all: members are dealt into N contiguous shares, each share trains as a
smaller stacked ensemble in its own process (its own GPU, or its own CPU cores), and the
trained shares are stacked back in member order. Data-parallel training (Lightning's DDP)
would instead re-run the whole calling command in every process, which a ``panama run``
cannot do mid-loop.

A member's result depends only on its own seed, data and share-independent settings, so a
split fit matches the stacked fit of the same members up to floating-point order (unless
``grad_clip`` is set: it clips the norm of each share's summed gradient, as it clips the whole
ensemble's when stacked).

Importing this module imports no torch; the worker imports the engine.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from panama.core.errors import PanamaError

_MULTI = ("devices", "strategy", "num_nodes")


def _indices(devices: Any) -> list[int] | None:
    """The device indices ``trainer.devices`` names (a list, or Lightning's ``"0,2"``), else None."""
    if isinstance(devices, list | tuple):
        return [int(d) for d in devices]
    if isinstance(devices, str) and "," in devices:
        return [int(d) for d in devices.split(",") if d.strip()]
    return None


def _count(devices: Any, accelerator: str) -> int:
    indices = _indices(devices)
    if indices is not None:
        return len(indices)
    if isinstance(devices, str):
        text = devices.strip()
        try:
            devices = -1 if text == "auto" else int(text)
        except ValueError:
            raise PanamaError(f"trainer.devices {devices!r} is not a number or a list", "e.g. devices=2") from None
    if devices == -1:
        if accelerator == "cpu":
            return os.cpu_count() or 1
        import torch

        return max(1, torch.cuda.device_count())
    return int(devices) if isinstance(devices, int) else 1


def _accelerator(trainer: dict[str, Any]) -> str:
    accelerator = str(trainer.get("accelerator", "auto"))
    if accelerator == "auto":
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    return "gpu" if accelerator == "cuda" else accelerator


def device_groups(trainer: dict[str, Any], members: int) -> list[dict[str, Any]] | None:
    """Per worker, the ``trainer`` settings of one device; ``None`` when one process does it all.

    ``devices = N > 1`` (or a list of GPU indices) on one node splits the members N ways (at most
    one worker per member). On a CPU each worker is one process with ``cpu_count // N`` threads:
    a small WaveNet runs no faster on two threads than on one, so two processes use a 2-core
    box's second core where one process cannot.
    """
    nodes = trainer.get("num_nodes", 1)
    accelerator = _accelerator(trainer)
    count = _count(trainer.get("devices", 1), accelerator)
    if count <= 1 or members <= 1:
        return None
    if isinstance(nodes, int) and nodes > 1:
        raise PanamaError("an ensemble's members are split across the devices of one machine (trainer.num_nodes > 1)",
                          "train the ensembles on one node (devices=N), and the final model with "
                          "`panama train DIR --trainer num_nodes=…`")
    base = {k: v for k, v in trainer.items() if k not in _MULTI}
    workers = min(count, members)
    if accelerator == "cpu":
        threads = max(1, (os.cpu_count() or 1) // workers)
        return [{**base, "accelerator": "cpu", "devices": 1, "_threads": threads} for _ in range(workers)]
    indices = _indices(trainer.get("devices")) or list(range(count))
    return [{**base, "accelerator": accelerator, "devices": [indices[g]]} for g in range(workers)]


def one_device(trainer: dict[str, Any]) -> dict[str, Any]:
    """``trainer`` narrowed to one device (the first of a list), for a fit that is not split."""
    devices = trainer.get("devices")
    if devices is None or devices == 1:
        return dict(trainer)
    out = {k: v for k, v in trainer.items() if k != "devices"}
    indices = _indices(devices)
    if indices:
        out["devices"] = indices[:1]
    return out


def shares(members: int, workers: int) -> list[list[int]]:
    """Contiguous member indices per worker, as even as they go (5 over 2: 0-2, 3-4)."""
    return [[int(i) for i in part] for part in np.array_split(np.arange(members), workers)]


def copy_members(dst: Any, dst_members: int, src: Any, src_members: int, pairs: list[tuple[int, int]]) -> None:
    """Copy member ``i`` of ``src`` into member ``j`` of ``dst`` for each ``(j, i)``.

    Stacked nets keep member m's parameters as block m of every tensor's first axis (so
    ``view(M, -1)[m]``); a :class:`~panama.core.train.stack.LoopStack` keeps them in ``nets.m``.
    """
    import torch

    from panama.core.train.stack import LoopStack

    theirs, mine = src.state_dict(), dst.state_dict()
    with torch.no_grad():
        if isinstance(dst, LoopStack):
            for j, i in pairs:
                for key, tensor in mine.items():
                    if key.startswith(f"nets.{j}."):
                        tensor.copy_(theirs[f"nets.{i}." + key[len(f'nets.{j}.'):]])
            return
        for key, tensor in mine.items():
            for j, i in pairs:
                tensor.view(dst_members, -1)[j].copy_(theirs[key].view(src_members, -1)[i])


def _worker(job: dict[str, Any]) -> dict[str, Any]:
    """One share's fit, in its own process: returns its weights, metrics and history."""
    from panama.core.train import engine

    recipe = job["recipe"]  # its num_threads: this worker's share of the CPU (engine.train applies it)
    callbacks: list[Any] = []
    resume, resumed_from = None, 0
    if job["checkpoint"] is not None:
        from panama.core.train import checkpoint

        resume, resumed_from = checkpoint.resume_path(job["checkpoint"], job["key"])
        callbacks.append(checkpoint.PeriodicCheckpoint(job["checkpoint"], job["key"], recipe.checkpoint_seconds))
    net = job["net"]
    metrics, history = engine.train(net, job["train"], job["val"], recipe, members=len(job["seeds"]), seeds=job["seeds"],
                                    progress=False, pools=job["pools"], callbacks=callbacks, resume_from=resume)
    return {"state": {k: v.cpu() for k, v in net.state_dict().items()}, "metrics": metrics, "history": history,
            "resumed_from_step": resumed_from}


def _as_list(value: Any, size: int) -> list[Any]:
    return list(value) if isinstance(value, list) else [value] * size


def merge(results: list[dict[str, Any]], parts: list[list[int]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The workers' metrics and histories as one ensemble fit's (member order restored)."""
    members = sum(len(p) for p in parts)
    sizes = [len(p) for p in parts]
    metrics: dict[str, Any] = {
        "steps": max(int(r["metrics"]["steps"]) for r in results),
        "train_seconds": max(float(r["metrics"]["train_seconds"]) for r in results),
        "val_energy": results[0]["metrics"]["val_energy"],
        "val_settings": results[0]["metrics"]["val_settings"],
        "split": {"workers": len(parts), "members": parts,
                  "train_seconds": [r["metrics"]["train_seconds"] for r in results]},
    }
    for key in ("val_mse", "val_esr", "best_step"):
        metrics[key] = [v for r, n in zip(results, sizes, strict=True) for v in _as_list(r["metrics"][key], n)]
    for key in ("initial_val_mse", "initial_val_esr"):
        values = [r["metrics"].get(key) for r in results]
        metrics[key] = (None if any(v is None for v in values)
                        else float(sum(v * n for v, n in zip(values, sizes, strict=True)) / members))
    by_step: dict[int, list[dict[str, Any]]] = {}
    for result in results:
        for entry in result["history"]:
            by_step.setdefault(int(entry["step"]), []).append(entry)
    history = []
    for step in sorted(by_step):
        entries = by_step[step]
        if len(entries) != len(results):
            continue  # a step only some shares validated at (a resumed share): not a whole record
        mse = [v for e, n in zip(entries, sizes, strict=True) for v in e.get("val_mse_members", [e["val_mse"]] * n)]
        esr = [v for e, n in zip(entries, sizes, strict=True) for v in e.get("val_esr_members", [e["val_esr"]] * n)]
        merged = {"step": step, "seconds": max(e["seconds"] for e in entries),
                  "val_mse": float(np.mean(mse)), "val_esr": float(np.mean(esr)),
                  "val_mse_members": mse, "val_esr_members": esr}
        losses = [float(e["train_loss"]) for e in entries if e.get("train_loss") is not None]
        if len(losses) == len(entries):
            merged["train_loss"] = float(sum(v * n for v, n in zip(losses, sizes, strict=True)) / members)
        history.append(merged)
    return metrics, history


def part_path(path: Path, index: int) -> Path:
    """Worker ``index``'s periodic checkpoint beside the fit's own (``ensemble.ckpt.part1``)."""
    return path.with_name(f"{path.name}.part{index}")


def fit_split(module: Any, groups: list[dict[str, Any]], *, net: str, options: dict[str, Any], train: Any, val: Any,
              recipe: Any, seeds: list[int], pools: list[np.ndarray] | None, checkpoint_path: Path | None,
              key: str | None) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    """Train ``module``'s members in ``len(groups)`` processes; its weights are replaced in place.

    Returns ``(metrics, history, resumed_from_step)`` merged over the workers.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from panama.core.train.model import build_net

    members = len(seeds)
    parts = shares(members, len(groups))
    jobs = []
    for g, (part, trainer) in enumerate(zip(parts, groups, strict=True)):
        share = build_net(net, options, members=len(part), seeds=[seeds[i] for i in part])
        copy_members(share, len(part), module, members, [(j, i) for j, i in enumerate(part)])
        trainer = dict(trainer)
        threads = trainer.pop("_threads", None)
        jobs.append({
            "net": share, "train": train, "val": val, "seeds": [seeds[i] for i in part],
            "pools": None if pools is None else [pools[i] for i in part],
            "recipe": recipe.model_copy(update={"trainer": trainer, "num_threads": recipe.num_threads or threads}),
            "checkpoint": None if checkpoint_path is None else part_path(Path(checkpoint_path), g),
            "key": None if key is None else f"{key}:{g}/{len(groups)}",
        })
    # spawn, not fork: a process that has run torch's OpenMP threads cannot safely fork workers
    with ProcessPoolExecutor(max_workers=len(jobs), mp_context=mp.get_context("spawn")) as pool:
        try:
            results = list(pool.map(_worker, jobs))
        except PanamaError:
            raise
        except Exception as exc:  # a worker that died (out of memory, a bad device index): one line
            raise PanamaError(f"an ensemble worker failed: {exc}",
                              "check trainer.devices, or train on one device (devices=1)") from None
    for part, job, result in zip(parts, jobs, results, strict=True):
        job["net"].load_state_dict(result["state"])
        copy_members(module, members, job["net"], len(part), [(i, j) for j, i in enumerate(part)])
    metrics, history = merge(results, parts)
    return metrics, history, max(int(r["resumed_from_step"]) for r in results)
