"""The Lightning training engine (imported only by ``fit`` / ``fit_ensemble``: torch lives here).

Every run trains ``M`` members (``M = 1`` for :func:`fit`) as one module whose batches are
``[B, M, T]``: member m sees its own random segments and its own order of settings, drawn from its
own seed, and its loss is its own mean; the members' losses are summed, and since their
parameters are disjoint, each gets exactly the gradient it would get alone (Adam is elementwise).
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.exceptions import MisconfigurationException

from panama.core.audio import is_silent
from panama.core.errors import PanamaError
from panama.core.protocols import supports_members
from panama.core.train.data import TrainingData
from panama.core.train.recipe import Recipe
from panama.core.train.stack import LoopStack

for _name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning"):
    logging.getLogger(_name).setLevel(logging.ERROR)
warnings.filterwarnings("ignore", message=r".*(num_workers|does not have many workers|LeafSpec|_pytree|IterableDataset).*")


def member_seeds(seed: int, members: int) -> list[int]:
    """Distinct, reproducible seeds per member (member 0 of any M shares its seed)."""
    return [int(s.generate_state(1)[0] % (2**31 - 1)) for s in np.random.SeedSequence(seed).spawn(members)]


def run_net(net: Any, x: torch.Tensor, knobs: torch.Tensor) -> torch.Tensor:
    """``x[B, M, T]``, ``knobs[B, M, K]`` → ``[B, M, T']`` for stacked and plain nets alike."""
    if isinstance(net, LoopStack) or supports_members(net):
        return net(x, knobs)
    return net(x[:, 0], knobs[:, 0]).unsqueeze(1)


class SegmentStream(torch.utils.data.IterableDataset):
    """Random training segments, balanced across settings, per member.

    Each member walks through its own shuffled order of the settings (reshuffled when used up),
    so every setting is seen equally often; segment starts are uniform over the usable audio.
    ``pools`` gives member m its own multiset of setting indices instead (a bootstrap draw: a
    setting drawn twice is seen twice as often, one not drawn never).
    An item is one whole batch: ``x[B, M, L + rf - 1]``, ``knobs[B, M, K]``, ``y[B, M, L]``.
    """

    def __init__(self, data: TrainingData, receptive_field: int, recipe: Recipe, seeds: list[int], steps_per_epoch: int,
                 pools: list[np.ndarray] | None = None):
        self.x, self.y, self.knobs = data.x, data.y, data.knobs
        self.rf = receptive_field
        self.length = min(recipe.segment_length, data.length - receptive_field + 1)
        if self.length < 1:
            raise PanamaError(
                f"the audio ({data.length} samples) is shorter than the net's receptive field ({receptive_field})",
                "use longer recordings or a smaller net",
            )
        self.batch_size, self.steps_per_epoch = recipe.batch_size, steps_per_epoch
        # 1 / each setting's output energy: the "esr" loss weighs every setting alike, whatever
        # its level (a quiet setting's error counts as much as a loud one's). A muted setting
        # (a plugin's master at 0: silent by the labelling's own rule) has no ESR; it counts as a
        # typical setting. At the floor it outweighed a typical one ~35× in the level-weighted loss,
        # and lhs-corners' 12 muted corners of GxStudioPre left a net that fit nothing (ESR 0.99).
        energy = np.mean(np.square(self.y, dtype=np.float64), axis=1)
        muted = is_silent(self.y, axis=1)
        if muted.any() and not muted.all():
            energy = np.where(muted, np.median(energy[~muted]), energy)
        self.inv_energy = (1.0 / np.maximum(energy, 1e-10 + 1e-6 * energy.max())).astype(np.float32)
        self.muted = muted
        self.level_power, self.segment_power = level_power(recipe), recipe.segment_weight
        self.seeds, self.ranked = list(seeds), False
        self.rngs = [np.random.default_rng([seed, 1]) for seed in seeds]
        # knob jitter draws from its own streams, so the segments drawn do not depend on it
        self.knob_noise = recipe.knob_noise
        self.noise_rngs = [np.random.default_rng([seed, 2]) for seed in seeds]
        self.queues: list[list[int]] = [[] for _ in seeds]
        if pools is not None and (len(pools) != len(seeds) or any(len(p) == 0 for p in pools)):
            raise ValueError("need one non-empty pool of setting indices per member")
        self.pools = pools

    def __len__(self) -> int:
        return self.steps_per_epoch

    def _settings(self, member: int) -> np.ndarray:
        out: list[int] = []
        while len(out) < self.batch_size:
            if not self.queues[member]:
                pool = self.y.shape[0] if self.pools is None else self.pools[member]
                self.queues[member] = list(self.rngs[member].permutation(pool))
            out.append(self.queues[member].pop())
        return np.array(out)

    def batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        span = self.length + self.rf - 1
        last_start = self.x.shape[-1] - span
        settings = np.stack([self._settings(m) for m in range(len(self.rngs))], axis=1)  # [B, M]
        starts = np.stack([rng.integers(0, last_start + 1, self.batch_size) for rng in self.rngs], axis=1)
        idx = starts[..., None] + np.arange(span)
        x = self.x[settings[..., None], idx] if self.x.ndim == 2 else self.x[idx]
        y = self.y[settings[..., None], idx[..., self.rf - 1 :]]
        weights = torch.from_numpy(loss_weights(y, self.inv_energy[settings], self.muted[settings], self.level_power,
                                                self.segment_power))  # [B, M]
        knobs = self.knobs[settings]
        if self.knob_noise:
            jitter = np.stack([rng.standard_normal((self.batch_size, knobs.shape[-1])) for rng in self.noise_rngs], axis=1)
            knobs = (knobs + self.knob_noise * jitter).astype(np.float32)
        return torch.from_numpy(x), torch.from_numpy(knobs), torch.from_numpy(y), weights

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
        rank = torch.distributed.get_rank() if torch.distributed.is_available() and torch.distributed.is_initialized() else 0
        if rank and not self.ranked:  # data-parallel: each process draws its own segments
            self.rngs = [np.random.default_rng([seed, 1, rank]) for seed in self.seeds]
            self.noise_rngs = [np.random.default_rng([seed, 2, rank]) for seed in self.seeds]
        self.ranked = True
        for _ in range(self.steps_per_epoch):
            yield self.batch()


# A segment quieter than this share of its setting's mean energy (-10 dB: silence, a decaying
# note) is weighed as if it were this loud, so near-silent audio cannot rule the loss.
SEGMENT_FLOOR = 0.1


def level_power(recipe: Recipe) -> float:
    """The power of 1 / a setting's energy in its weight: 1 for the ``esr`` loss, else ``level_weight``."""
    return 1.0 if recipe.loss == "esr" else recipe.level_weight


def loss_weights(y: np.ndarray, inv_energy: np.ndarray, muted: np.ndarray, level: float, segment: float) -> np.ndarray:
    """Each training segment's weight in the loss, ``[B, M]`` for segments ``y [B, M, L]``.

    ``inv_energy ** level`` weighs settings by loudness (``level_weight``: 0 is MSE, 1 the
    per-setting ESR). ``segment`` (``segment_weight``) also weighs each segment by its setting's
    energy over its own, to that power: a reamp signal's sweeps and noise are far louder than its
    guitar, so under a setting's weight alone a driven amp's loss is mostly the sweeps, and the
    guitar (what is played, and what the validation segment holds) is fitted last. A segment
    below ``SEGMENT_FLOOR`` of its setting's energy counts as that loud; a muted setting's
    segments keep their setting weight.
    """
    weights = inv_energy.astype(np.float64) ** level
    if segment:
        relative = np.mean(np.square(y, dtype=np.float64), axis=-1) * inv_energy
        weights = weights * np.where(muted, 1.0, 1.0 / np.maximum(relative, SEGMENT_FLOOR)) ** segment
    return weights.astype(np.float32)


LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _loss_fn(recipe: Recipe) -> LossFn:
    """Per-member loss ``[M]`` from ``pred, target [B, M, T]`` and the segments' ``weights [B, M]``
    (:func:`loss_weights`; all ones for plain MSE, which skips the multiply).

    ``esr`` is the error-to-signal ratio *per setting* (each segment's squared error over its
    setting's whole output energy), so every setting counts alike; a ratio of the batch's pooled
    error and pooled energy would weigh settings by loudness exactly as MSE does.
    """

    def loss(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return ((pred - target).pow(2).mean(dim=2) * weights).mean(dim=0)

    def plain(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return (pred - target).pow(2).mean(dim=(0, 2))

    weighted = level_power(recipe) > 0 or recipe.segment_weight > 0
    mse = loss if weighted else plain
    if recipe.loss in ("mse", "esr"):
        return mse
    import auraloss

    stft = auraloss.freq.MultiResolutionSTFTLoss()
    coef, weight = recipe.pre_emphasis, recipe.mrstft_weight

    def mrstft(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        b, m, t = pred.shape
        pe = lambda s: (s[..., 1:] - coef * s[..., :-1]).permute(1, 0, 2).reshape(m, b, 1, t - 1)  # noqa: E731
        spectral = torch.stack([stft(p, q) for p, q in zip(pe(pred), pe(target), strict=False)])
        return mse(pred, target, weights) + weight * spectral

    return mrstft


@torch.no_grad()
def clip_grad_norm(parameters: Iterable[torch.nn.Parameter], max_norm: float) -> float:
    """Scale the gradients so their joint norm is at most ``max_norm``; returns the norm before.

    ``torch.nn.utils.clip_grad_norm_`` scales each parameter's gradient in place, and autograd can
    hand two parameters one gradient tensor (a bias-conditioned layer's conv bias and knob bias,
    one segment per batch), which it would then scale twice: here each tensor is scaled once.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    total = float(torch.nn.utils.get_total_norm(grads))  # every parameter's gradient counts, shared or not
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        unique = {(g.untyped_storage().data_ptr(), g.storage_offset(), tuple(g.shape), g.stride()): g for g in grads}
        for g in unique.values():
            g.mul_(coef)
    return total


class TrainModule(pl.LightningModule):
    def __init__(self, net: Any, recipe: Recipe):
        super().__init__()
        self.net, self.recipe, self.loss_fn = net, recipe, _loss_fn(recipe)
        self.latest_validation: tuple[int, float] | None = None  # (step, val_loss), set by the Validator

    def forward(self, x: torch.Tensor, knobs: torch.Tensor) -> torch.Tensor:
        return run_net(self.net, x, knobs)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, knobs, y, weights = batch
        skip = self.recipe.mask_first  # NAM's mask_first: the first outputs of a segment don't count
        per_member = self.loss_fn(self(x, knobs)[..., skip:], y[..., skip:], weights)
        self.log("loss", per_member.mean(), prog_bar=True, on_step=True, batch_size=x.shape[0])
        self.last_losses = per_member.detach()
        return per_member.sum()

    def on_before_optimizer_step(self, optimizer: Any) -> None:
        if self.recipe.grad_clip:
            clip_grad_norm(self.net.parameters(), self.recipe.grad_clip)

    def configure_optimizers(self) -> Any:
        from panama.core.train import optim

        return optim.configure(self.net.parameters(), self.recipe, lambda: self.latest_validation)


class Validator(pl.Callback):
    """Validation MSE/ESR per member on held-out settings; keeps each member's best weights."""

    def __init__(self, val: TrainingData, members: int, every: int, max_samples: int | None,
                 on_best: Callable[[Any, dict[str, Any]], None] | None = None, select: str = "mse",
                 receptive_field: int = 1):
        x_all = val.x if val.x.ndim == 2 else np.broadcast_to(val.x, (val.num_settings, val.length))
        self.x, self.y = self._windows(x_all, val.y, max_samples, receptive_field)
        # Mean target energy of the validated outputs: val MSE / this is the pooled ESR.
        self.energy = float(self.y[..., receptive_field - 1 :].double().pow(2).mean()) if self.y.numel() else 0.0
        self.knobs = torch.from_numpy(val.knobs)
        self.members, self.every, self.on_best = members, every, on_best
        self.select = select  # "mse" or "esr": the metric that picks each member's best weights
        self.best = [math.inf] * members
        self.best_step = [0] * members
        self.best_states: list[dict[str, torch.Tensor] | None] = [None] * members
        self.history: list[dict[str, Any]] = []
        self.started = time.perf_counter()

    @staticmethod
    def _windows(x: np.ndarray, y: np.ndarray, max_samples: int | None, rf: int, pieces: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
        """``x[S, P, span]`` and ``y[S, P, span]``: the whole audio, or (capped) ``pieces`` windows
        spread evenly over it, so a short validation still hears every part of the signal (its
        first seconds alone are mostly silence and latency blips)."""
        length = x.shape[-1]
        if max_samples is None or max_samples >= length:
            return torch.from_numpy(np.array(x[:, None])), torch.from_numpy(np.array(y[:, None]))
        out = max(1, (max_samples - (rf - 1)) // pieces)
        span = min(length, out + rf - 1)
        starts = np.linspace(0, length - span, pieces).astype(int)
        idx = starts[:, None] + np.arange(span)
        return torch.from_numpy(np.array(x[:, idx])), torch.from_numpy(np.array(y[:, idx]))

    @torch.no_grad()
    def evaluate(self, module: TrainModule) -> tuple[list[float], list[float]]:
        was_training = module.net.training
        module.net.eval()
        rf, m = module.net.receptive_field, self.members
        se, esr = torch.zeros(m, dtype=torch.float64), torch.zeros(m, dtype=torch.float64)
        count = 0
        for x, y, k in zip(self.x, self.y, self.knobs, strict=True):
            pieces = x.shape[0]
            x = x.to(module.device)
            pred = module(x.unsqueeze(1).expand(pieces, m, -1), k.to(module.device).view(1, 1, -1).expand(pieces, m, -1))
            target = y[:, rf - 1 :].to(module.device).unsqueeze(1)  # [P, 1, L]
            err = (pred - target).double().pow(2).sum(dim=(0, 2)).cpu()
            se += err
            esr += err / (target.double().pow(2).sum().cpu() + 1e-12)
            count += target.numel()
        module.net.train(was_training)
        return (se / count).tolist(), (esr / len(self.y)).tolist()

    def record(self, trainer: pl.Trainer, module: TrainModule, step: int, *, log: bool = True) -> None:
        mse, esr = self.evaluate(module)
        losses = getattr(module, "last_losses", None)
        entry: dict[str, Any] = {
            "step": step, "seconds": round(time.perf_counter() - self.started, 3),
            "val_mse": float(np.mean(mse)), "val_esr": float(np.mean(esr)),
        }
        if losses is not None:
            entry["train_loss"] = float(losses.mean())
        if self.members > 1:
            entry["val_mse_members"], entry["val_esr_members"] = mse, esr
        self.history.append(entry)
        state = None
        chosen = esr if self.select == "esr" else mse
        latest = module.latest_validation = (step, float(np.mean(chosen)))  # for ReduceLROnPlateau (optim.py)
        for m in range(self.members):
            if chosen[m] < self.best[m]:
                self.best[m], self.best_step[m] = chosen[m], step
                state = state or {k: v.detach().clone() for k, v in module.net.state_dict().items()}
                self.best_states[m] = state
        if state is not None and self.on_best is not None and trainer.global_rank == 0:
            self.on_best(module.net, entry)
        if log and trainer.state.fn is not None and step > 0:
            module.log("val_esr", entry["val_esr"], prog_bar=True, on_step=True)
            module.log("val_loss", latest[1], on_step=True)  # what Lightning callbacks monitor

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.started = time.perf_counter()
        if not self.history or self.history[-1]["step"] != trainer.global_step:  # a resumed run has its record
            # no self.log() in on_train_start (Lightning forbids it); a resumed run starts at its step
            self.record(trainer, module, trainer.global_step, log=False)  # type: ignore[arg-type]

    def state_dict(self) -> dict[str, Any]:
        """Saved in Lightning checkpoints, so a run resumed from ``ckpt_path`` keeps its record."""
        return {"history": self.history, "best": self.best, "best_step": self.best_step, "best_states": self.best_states}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history, self.best = list(state["history"]), list(state["best"])
        self.best_step, self.best_states = list(state["best_step"]), list(state["best_states"])

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, *args: Any) -> None:
        if trainer.global_step % self.every == 0:
            self.record(trainer, module, trainer.global_step)  # type: ignore[arg-type]

    def on_train_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if not self.history or self.history[-1]["step"] != trainer.global_step:
            # Lightning forbids self.log() in on_train_end; the history still gets the entry.
            self.record(trainer, module, trainer.global_step, log=False)  # type: ignore[arg-type]
        restore_best(module.net, self.best_states)


@torch.no_grad()
def restore_best(net: Any, best_states: list[dict[str, torch.Tensor] | None]) -> None:
    """Put each member's best weights back (blocks of stacked params, or whole sub-nets)."""
    members = len(best_states)
    current = net.state_dict()
    for key, tensor in current.items():
        for m, state in enumerate(best_states):
            if state is None:
                continue
            if members == 1:
                tensor.copy_(state[key])
            elif isinstance(net, LoopStack):
                if key.startswith(f"nets.{m}."):
                    tensor.copy_(state[key])
            else:
                tensor.view(members, -1)[m].copy_(state[key].view(members, -1)[m])


def validate(net: Any, val: TrainingData, recipe: Recipe) -> tuple[float, float]:
    """``(MSE, ESR)`` of a single net on ``val``, measured as a fit's validation measures them."""
    rf = int(net.receptive_field)
    max_val = None if recipe.val_seconds is None else int(recipe.val_seconds * val.sample_rate) + rf - 1
    mse, esr = Validator(val, 1, 1, max_val, receptive_field=rf).evaluate(TrainModule(net, recipe))
    return float(mse[0]), float(esr[0])


def _trainer_kwargs(recipe: Recipe, callbacks: list[Any], progress: bool, steps_per_epoch: int) -> dict[str, Any]:
    from panama.core.train import trainer_options

    user = trainer_options.lightning_kwargs(recipe.trainer, steps_per_epoch)
    callbacks = [*callbacks, *user.pop("callbacks", [])]
    if progress:
        from pytorch_lightning.callbacks import RichProgressBar

        callbacks = [*callbacks, RichProgressBar(leave=True)]
    kwargs: dict[str, Any] = {
        "max_steps": recipe.steps or -1,
        # a finite epoch bound also when steps decide, so the progress bar reads "Epoch 3/12"
        "max_epochs": recipe.epochs or math.ceil((recipe.steps or 1) / steps_per_epoch),
        "accelerator": "auto",
        "devices": 1,
        "logger": False,
        "enable_checkpointing": False,
        "enable_model_summary": False,
        "enable_progress_bar": progress,
        "num_sanity_val_steps": 0,
        "limit_val_batches": 0,
        "callbacks": callbacks,
    }
    kwargs.update(user)
    return kwargs


def train(
    net: Any,
    data: TrainingData,
    val: TrainingData,
    recipe: Recipe,
    *,
    members: int,
    seeds: list[int],
    progress: bool,
    on_best: Callable[[Any, dict[str, Any]], None] | None = None,
    resume_from: str | Path | None = None,
    lightning_checkpoint: str | Path | None = None,
    pools: list[np.ndarray] | None = None,
    callbacks: list[Any] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Train ``net`` in place (best weights restored); returns ``(metrics, history)``.

    ``resume_from`` is a Lightning checkpoint (NAM's ``trainer_fit_kwargs.ckpt_path``): weights,
    optimiser, schedule, step and validation record continue from it. ``lightning_checkpoint``
    is where the run's own (last) checkpoint goes. In a data-parallel run the extra processes
    exit here once training is done; only rank 0 returns (and writes files). ``pools``: per
    member, the setting indices it trains on (see :class:`SegmentStream`). ``callbacks`` join
    the engine's own (e.g. ``panama.core.train.checkpoint.PeriodicCheckpoint``).
    """
    if recipe.num_threads:
        torch.set_num_threads(recipe.num_threads)
    if recipe.steps is None and recipe.epochs is None:
        raise PanamaError("recipe: give steps or epochs", "e.g. steps=2000")
    rf = int(net.receptive_field)
    usable = max(1, data.length - rf + 1)
    steps_per_epoch = recipe.steps_per_epoch or max(
        1, math.ceil(data.num_settings * usable / (recipe.segment_length * recipe.batch_size))
    )
    stream = SegmentStream(data, rf, recipe, seeds, steps_per_epoch, pools)
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=0, pin_memory=recipe.pin_memory and torch.cuda.is_available())
    max_val = None if recipe.val_seconds is None else int(recipe.val_seconds * data.sample_rate) + rf - 1
    from panama.core.train.trainer_options import val_every

    select = recipe.val_loss or ("esr" if recipe.loss == "esr" else "mse")  # NAM's loss.val_loss, else the loss's own
    validator = Validator(val, members, val_every(recipe.trainer, steps_per_epoch, recipe.val_every), max_val, on_best,
                          select=select, receptive_field=rf)
    torch.manual_seed(seeds[0])
    module = TrainModule(net, recipe)
    try:
        kwargs = _trainer_kwargs(recipe, [validator, *(callbacks or [])], progress, steps_per_epoch)
        if resume_from is not None and recipe.epochs is None:
            kwargs["max_epochs"] = -1  # the checkpoint's epoch count may pass the display bound: steps decide
        trainer = pl.Trainer(**kwargs)
    except (ValueError, TypeError, RuntimeError, MisconfigurationException) as exc:  # e.g. accelerator="gpu" on a CPU-only box
        raise PanamaError(f"trainer: {exc}", "check the trainer options (accelerator, devices, strategy …)") from None
    started = time.perf_counter()
    if resume_from is not None and not Path(resume_from).is_file():
        raise PanamaError(f"trainer_fit_kwargs.ckpt_path: checkpoint {resume_from} not found",
                          "give a .ckpt written by an earlier run (OUTDIR/checkpoints/last.ckpt)")
    trainer.fit(module, train_dataloaders=loader, ckpt_path=None if resume_from is None else str(resume_from))
    if lightning_checkpoint is not None:
        trainer.save_checkpoint(str(lightning_checkpoint))  # collective: every rank calls, rank 0 writes
    if trainer.world_size > 1 and trainer.global_rank != 0:
        raise SystemExit(0)  # a process Lightning launched for data-parallel training: rank 0 reports
    net.cpu().eval()
    for p in net.parameters():
        p.grad = None
    best: dict[str, Any] | None = min(validator.history, key=lambda e: e[f"val_{validator.select}"]) if validator.history else None
    first = validator.history[0] if validator.history else {}
    metrics: dict[str, Any] = {
        "steps": int(trainer.global_step),
        "train_seconds": round(time.perf_counter() - started, 3),
        "val_energy": validator.energy,
        "initial_val_mse": first.get("val_mse"),
        "initial_val_esr": first.get("val_esr"),
        "val_mse": ([min((e["val_mse_members"][m] for e in validator.history if e["step"] == s), default=math.inf)
                     for m, s in enumerate(validator.best_step)] if members > 1
                    else float(best["val_mse"]) if best else math.inf),
        "best_step": validator.best_step if members > 1 else validator.best_step[0],
        "val_settings": int(val.num_settings),
    }
    if members > 1:
        metrics["val_esr"] = [min((e["val_esr_members"][m] for e in validator.history if e["step"] == s), default=None)
                              for m, s in enumerate(validator.best_step)]
    else:
        metrics["val_esr"] = best["val_esr"] if best else None
    return metrics, validator.history
