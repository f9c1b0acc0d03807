"""Trained models as users and samplers hold them; torch is imported inside the methods.

A ``TrainedModel`` is one net plus what it needs to be used: the knob space (native ↔ unit),
the sample rate, the net's name and options (to rebuild it), metrics and training curves. It
saves to one ``.pt`` file of plain tensors and JSON-able values (``torch.load(weights_only=True)``
reads it). A ``TrainedEnsemble`` is M members stacked in one module (``Ensemble`` protocol).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from panama.core.errors import PanamaError
from panama.core.knobs import KnobSetting, KnobSpace

FORMAT = "panama-model"
FORMAT_VERSION = 1


def build_net(name: str, options: dict[str, Any], *, members: int = 1, seeds: list[int] | None = None) -> Any:
    """Instantiate net ``name`` from the registry; ``members > 1`` stacks M of them in one module."""
    from panama.core.components import make_config
    from panama.core.plugins import get_registry
    from panama.core.protocols import supports_members

    options = dict(options)
    average = int(options.pop("average", 1) or 1)
    if average > 1:  # the mean of `average` nets trained apart (Recipe.average), as one module
        from panama.core.train.engine import member_seeds
        from panama.core.train.stack import Averaged

        if members > 1:
            raise PanamaError("an averaged net (average > 1) cannot be stacked into an ensemble",
                              "give average only to a final model's recipe")
        given = list(seeds) if seeds is not None else [0]
        inner_seeds = given if len(given) == average else member_seeds(given[0], average)  # fit gives one per net
        return Averaged(build_net(name, options, members=average, seeds=inner_seeds), average)
    cls = get_registry().get("net", name).load()
    config = make_config(cls, options, f"net {name!r}", name=name)
    seeds = list(seeds) if seeds is not None else [0] * members
    if supports_members(cls):
        return cls(config, members=members, seeds=seeds)
    if members == 1:
        import torch

        torch.manual_seed(seeds[0])
        return cls(config)
    from panama.core.train.stack import LoopStack

    return LoopStack(cls, config, seeds)


def _atomic_torch_save(payload: dict[str, Any], path: Path) -> None:
    import torch

    from panama.core.fsutil import atomic_path

    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


@dataclass
class TrainedModel:
    """A trained single net with its knob space; ``predict`` works in native knob values."""

    net: Any
    knob_space: KnobSpace
    sample_rate: int
    net_name: str
    net_options: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def receptive_field(self) -> int:
        return int(self.net.receptive_field)

    def unit_knobs(self, setting: KnobSetting | None) -> np.ndarray:
        if setting is None:
            setting = self.knob_space.default_setting()
        return self.knob_space.to_unit(setting).astype(np.float32)

    def predict(self, x: np.ndarray, setting: KnobSetting | None = None) -> np.ndarray:
        """Output for input ``x[T]`` at a native ``setting``, same length as ``x``.

        The input is padded at the start with ``receptive_field - 1`` zeros, as NAM's plugin
        sees silence before the first sample.
        """
        import torch

        x = np.asarray(x, dtype=np.float32).reshape(-1)
        knobs = torch.from_numpy(self.unit_knobs(setting))[None]
        padded = np.concatenate([np.zeros(self.receptive_field - 1, np.float32), x])
        self.net.eval()
        with torch.no_grad():
            y = self.net(torch.from_numpy(padded)[None], knobs)
        return y[0].numpy().astype(np.float32)

    def fingerprint(self) -> str:
        """A short hash of the net's name, options and weights: which model made an export."""
        import hashlib

        digest = hashlib.sha256(json.dumps([self.net_name, self.net_options], sort_keys=True, default=str).encode())
        for name, tensor in sorted(self.net.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()[:16]

    def payload(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "net": self.net_name,
            "net_options": self.net_options,
            "state_dict": {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()},
            "knob_space": self.knob_space.model_dump(),
            "sample_rate": int(self.sample_rate),
            "metrics": self.metrics,
            "history": self.history,
        }

    def save(self, path: str | Path) -> Path:
        """Write atomically (temp file + rename): a crash never leaves half a checkpoint."""
        path = Path(path)
        _atomic_torch_save(self.payload(), path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> TrainedModel:
        import torch

        path = Path(path)
        if not path.is_file():
            raise PanamaError(f"model file {path} does not exist", "train one first with `panama train`")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a corrupt or foreign file: say so in one line
            raise PanamaError(f"{path} is not a readable PANAMA model ({type(exc).__name__})", "retrain or pick another file") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise PanamaError(f"{path} is not a PANAMA model file", "pick a models/*.pt written by `panama train`")
        net = build_net(payload["net"], dict(payload["net_options"]))
        net.load_state_dict(payload["state_dict"])
        net.eval()
        return cls(
            net=net,
            knob_space=KnobSpace.model_validate(payload["knob_space"]),
            sample_rate=int(payload["sample_rate"]),
            net_name=payload["net"],
            net_options=dict(payload["net_options"]),
            metrics=dict(payload.get("metrics") or {}),
            history=list(payload.get("history") or []),
        )


@dataclass
class TrainedEnsemble:
    """M members trained together; ``predict(x, knobs[B, K]) -> [M, B, T']`` (torch tensors).

    Parameters are frozen (``requires_grad=False``) so a sampler's gradient flows to the knobs
    only. ``member(i)`` returns member i as a :class:`TrainedModel`.
    """

    net: Any
    members: int
    knob_space: KnobSpace
    sample_rate: int
    net_name: str
    net_options: dict[str, Any]
    seeds: list[int]
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def receptive_field(self) -> int:
        return int(self.net.receptive_field)

    def predict(self, x: Any, knobs: Any) -> Any:
        """``x[T]`` or ``x[B, T]`` (array or tensor), ``knobs[B, K]`` unit tensor → ``[M, B, T']``.

        ``T' = T - receptive_field + 1`` (no padding). Differentiable with respect to ``knobs``.
        """
        import torch

        knobs = torch.as_tensor(knobs, dtype=torch.float32)
        if knobs.dim() == 1:
            knobs = knobs[None]
        x = torch.as_tensor(np.asarray(x, dtype=np.float32) if not isinstance(x, torch.Tensor) else x, dtype=torch.float32)
        if x.dim() == 1:
            x = x[None].expand(knobs.shape[0], -1)
        y = self.net(x.unsqueeze(1).expand(-1, self.members, -1), knobs.unsqueeze(1).expand(-1, self.members, -1))
        return y.permute(1, 0, 2)

    def member(self, index: int) -> TrainedModel:
        net = self.net.member(index)
        net.eval()
        return TrainedModel(net, self.knob_space, self.sample_rate, self.net_name, dict(self.net_options),
                            metrics={k: (v[index] if isinstance(v, list) and len(v) == self.members else v)
                                     for k, v in self.metrics.items()})

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        payload = {
            "format": FORMAT + "-ensemble", "version": FORMAT_VERSION, "net": self.net_name,
            "net_options": self.net_options, "members": self.members, "seeds": self.seeds,
            "state_dict": {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()},
            "knob_space": self.knob_space.model_dump(), "sample_rate": int(self.sample_rate),
            "metrics": self.metrics, "history": self.history,
        }
        _atomic_torch_save(payload, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> TrainedEnsemble:
        import torch

        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
        if not isinstance(payload, dict) or payload.get("format") != FORMAT + "-ensemble":
            raise PanamaError(f"{path} is not a PANAMA ensemble file", "pick a rounds/NN/ensemble.pt")
        net = build_net(payload["net"], dict(payload["net_options"]), members=payload["members"], seeds=payload["seeds"])
        net.load_state_dict(payload["state_dict"])
        net.eval().requires_grad_(False)
        return cls(net, payload["members"], KnobSpace.model_validate(payload["knob_space"]), payload["sample_rate"],
                   payload["net"], dict(payload["net_options"]), list(payload["seeds"]),
                   dict(payload.get("metrics") or {}), list(payload.get("history") or []))
