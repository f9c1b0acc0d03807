"""Resumable fits: a Lightning checkpoint saved every few seconds while a round's ensemble trains.

An ensemble fit is the longest step of a round; without checkpoints a run killed during it (an
out-of-memory kill, a laptop lid, ``kill -9``) starts the fit again from scratch, and kills
that come faster than one fit make no progress at all. :class:`PeriodicCheckpoint` writes the
whole training state (weights, Adam moments, LR schedule, step) atomically to one file; the
next fit with the *same* data, recipe and members (:func:`fingerprint`) resumes from it
(:func:`resume_path`). A checkpoint of another fit is deleted, never resumed. Only single-
process fits checkpoint (a multi-GPU strategy writes its own way); a fit split across devices
(:mod:`panama.core.train.split`) checkpoints each worker's share to its own part file.

torch and Lightning are imported inside the functions (the class is built on first use), so
importing this module never loads them.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from panama.core.faults import crash_point
from panama.core.fsutil import atomic_path


def fingerprint(data: Any, recipe: Any, members: int, net: str, net_options: dict[str, Any], seeds: list[int],
                extra: dict[str, Any] | None = None) -> str:
    """What makes two fits the same fit: data (knobs and a strided sample of the audio, so a
    capture of hours hashes in milliseconds), recipe, members, net, seeds and ``extra`` (how it
    was warm-started, each member's bootstrap draw)."""
    digest = hashlib.sha256()
    spec = {"recipe": recipe.model_dump(mode="json"), "members": members, "net": net, "net_options": net_options,
            "seeds": seeds, "extra": extra or {}, "shapes": [list(np.shape(data.x)), list(np.shape(data.y))]}
    digest.update(json.dumps(spec, sort_keys=True, default=str).encode())
    for array in (data.knobs, np.asarray(data.y)[..., ::997], np.asarray(data.x)[..., ::997]):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


@functools.cache
def _periodic_checkpoint_class() -> type:
    """:class:`PeriodicCheckpoint`, a Lightning callback: built here so Lightning loads only on use."""
    import pytorch_lightning as pl

    class PeriodicCheckpoint(pl.Callback):
        """Save the training state to ``path`` at most every ``every_seconds`` (0: every step)."""

        def __init__(self, path: Path, fingerprint: str, every_seconds: float) -> None:
            self.path, self.fingerprint, self.every_seconds = Path(path), fingerprint, every_seconds
            self.last = time.monotonic()

        @property
        def state_key(self) -> str:
            return "panama-periodic-checkpoint"

        def state_dict(self) -> dict[str, Any]:
            return {"fingerprint": self.fingerprint}

        def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
            if trainer.world_size > 1 or time.monotonic() - self.last < self.every_seconds:
                return
            with atomic_path(self.path) as tmp:
                trainer.save_checkpoint(tmp)
            self.last = time.monotonic()
            crash_point("train:after-checkpoint")

    return PeriodicCheckpoint


def __getattr__(name: str) -> Any:
    if name == "PeriodicCheckpoint":
        cls = globals()[name] = _periodic_checkpoint_class()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def resume_path(path: Path, fingerprint: str) -> tuple[Path | None, int]:
    """``(path, step)`` when ``path`` is a whole checkpoint of this very fit; else it is removed
    (torn, foreign or stale) and ``(None, 0)`` is returned."""
    path = Path(path)
    if not path.exists():
        return None, 0
    try:
        # Our own file in the capture folder; Lightning checkpoints hold non-tensor loop state.
        import torch

        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        state = checkpoint["callbacks"]["panama-periodic-checkpoint"]
        if state.get("fingerprint") == fingerprint:
            return path, int(checkpoint.get("global_step", 0))
    except Exception:  # a torn or foreign file is simply not resumed
        pass
    remove(path)
    return None, 0


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        Path(path).unlink()
