"""The training engine's public face: ``fit`` one net, ``fit_ensemble`` M at once.

Importing this package imports no torch: the Lightning engine (``engine.py``) loads inside the
functions. Data are plain arrays (:class:`TrainingData`, or a capture's ``CaptureData``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from panama.core.knobs import Knob, KnobSpace
from panama.core.train.data import TrainingData
from panama.core.train.model import TrainedEnsemble, TrainedModel, build_net
from panama.core.train.recipe import Recipe
from panama.core.train.warm import WarmStart

__all__ = ["Recipe", "TrainedEnsemble", "TrainedModel", "TrainingData", "WarmStart", "fit", "fit_ensemble"]


def _prepare(data: Any, val: Any, recipe: Recipe, knob_space: KnobSpace | None, hold_out: bool) -> tuple[TrainingData, TrainingData, KnobSpace]:
    data = TrainingData.of(data)
    if knob_space is None:
        knob_space = getattr(data, "knob_space", None) or KnobSpace(knobs=tuple(Knob(name=f"knob{i + 1}") for i in range(data.num_knobs)))
    if len(knob_space) != data.num_knobs:
        from panama.core.errors import PanamaError

        raise PanamaError(f"the knob space has {len(knob_space)} knobs but the data {data.num_knobs}", "pass the matching knob_space")
    if val is not None:
        return data, TrainingData.of(val), knob_space
    train, held_out = data.split(recipe.val_fraction if hold_out else 0.0, recipe.seed)
    return train, held_out if held_out is not None else train, knob_space


def _net_options(net_options: dict[str, Any] | None, num_knobs: int) -> dict[str, Any]:
    options = dict(net_options or {})
    options["num_knobs"] = num_knobs
    return options


def _pooled_esr(val_mse: Any, energy: float) -> list[float | None]:
    """Per member, the validation MSE over the mean energy of all validated targets together.

    The per-setting mean ESR is ruled by near-silent settings (their ESR is huge at the same
    absolute error); this one weighs every validated sample alike, as one long recording would.
    """
    values = val_mse if isinstance(val_mse, list) else [val_mse]
    return [float(v) / energy if energy > 0 else None for v in values]  # None: silent validation audio


def _load_weights(module: Any, source: TrainedModel, net: str, options: dict[str, Any]) -> None:
    """Copy ``source``'s weights into ``module`` (a fresh net of ``net``/``options``)."""
    from panama.core.errors import PanamaError
    from panama.core.train.warm import incompatibility

    reason = incompatibility(source, net, options)
    if reason:
        raise PanamaError(f"cannot start from the existing model: {reason}",
                          "train from scratch (leave out --continue), or keep the model's net and preset")
    module.load_state_dict(source.net.state_dict())


def fit(
    data: Any,
    *,
    net: str = "wavenet",
    net_options: dict[str, Any] | None = None,
    recipe: Recipe | None = None,
    val: Any = None,
    knob_space: KnobSpace | None = None,
    progress: bool = True,
    checkpoint_path: str | Path | None = None,
    resume_from: str | Path | None = None,
    lightning_checkpoint: str | Path | None = None,
    init_from: TrainedModel | None = None,
) -> TrainedModel:
    """Train one net; validation on ``val`` or on ``recipe.val_fraction`` held-out settings.

    The returned model carries the best weights seen (by ``recipe.val_loss``, MSE by default);
    with ``checkpoint_path`` each new best is also written there at once (atomically).
    ``resume_from`` continues from a Lightning checkpoint that ``lightning_checkpoint`` wrote.
    ``init_from``: a trained model of the same net and options whose weights the fit starts
    from (a fresh optimiser and schedule), so more training refines a model instead of
    re-learning it; recorded as ``metrics["init_from"]`` (the model's fingerprint).
    """
    from panama.core.train import engine

    recipe = recipe or Recipe()
    train, held_out, space = _prepare(data, val, recipe, knob_space, hold_out=True)
    options = _net_options(net_options, train.num_knobs)
    if recipe.average > 1:
        options["average"] = recipe.average
    # An averaged model's nets train apart, as one stacked ensemble (each on its own loss); its
    # first net has the seed, initial weights and segments a single model of this recipe has.
    seeds = engine.member_seeds(recipe.seed, int(options.get("average", 1) or 1))
    module = build_net(net, options, seeds=seeds)
    if init_from is not None:
        _load_weights(module, init_from, net, options)
    averaged = bool(getattr(module, "averaged", False))
    target, count = (module.inner, module.members) if averaged else (module, 1)

    def save_best(current: Any, entry: dict[str, Any]) -> None:
        if checkpoint_path is not None:
            TrainedModel(module, space, train.sample_rate, net, options, {"val_mse": entry["val_mse"], "val_esr": entry["val_esr"], "step": entry["step"]}).save(checkpoint_path)

    metrics, history = engine.train(target, train, held_out, recipe, members=count, seeds=seeds, progress=progress,
                                    on_best=save_best, resume_from=resume_from, lightning_checkpoint=lightning_checkpoint)
    if averaged:
        module.eval()
        for key in ("val_mse", "val_esr", "best_step"):
            metrics[f"member_{key}"] = metrics[key]
        metrics["val_mse"], metrics["val_esr"] = engine.validate(module, held_out, recipe)
        metrics["best_step"], metrics["average"] = max(metrics["member_best_step"]), count
    if init_from is not None:
        metrics["init_from"] = init_from.fingerprint()
    model = TrainedModel(module, space, train.sample_rate, net, options, metrics, history)
    if checkpoint_path is not None:
        model.save(checkpoint_path)
    return model


def fit_ensemble(
    data: Any,
    *,
    members: int = 4,
    net: str = "wavenet",
    net_options: dict[str, Any] | None = None,
    recipe: Recipe | None = None,
    seed: int | None = None,
    val: Any = None,
    knob_space: KnobSpace | None = None,
    progress: bool = False,
    init_from: TrainedEnsemble | None = None,
    warm_start: WarmStart | dict[str, Any] | None = None,
    bootstrap: bool = False,
    checkpoint_path: str | Path | None = None,
) -> TrainedEnsemble:
    """Train ``members`` nets as one vectorised module, each with its own seed and shuffling.

    No settings are held out unless ``recipe.val_fraction`` > 0 or ``val`` is given (an active
    learner has few labels to spare); each member keeps its own best weights.

    ``init_from``: a previous ensemble of the same net and size to continue from, by shrink and
    perturb (``warm_start``, see :mod:`panama.core.train.warm`), for ``warm_start.steps`` of the
    recipe. ``bootstrap``: each member trains on its own draw with replacement of the training
    settings. Both are recorded in the metrics (``warm_start``, ``bootstrap``: the training
    settings' indices each member drew).

    ``checkpoint_path``: the fit saves its state there every ``recipe.checkpoint_seconds``, and a
    killed fit of the same data, recipe, members and warm start resumes from it
    (``metrics["resumed_from_step"]``); the file is removed once the fit is done.

    ``recipe.trainer["devices"] = N`` splits the members across N devices, one worker process
    each (:mod:`panama.core.train.split`; ``metrics["split"]`` says how).
    """
    from panama.core.errors import PanamaError
    from panama.core.train import engine, split, warm

    recipe = recipe or Recipe(val_fraction=0.0)
    if recipe.average > 1:
        raise PanamaError(f"recipe.average {recipe.average}: an average of nets is a final model, not an ensemble member",
                          "leave average out of ensemble recipes")
    if seed is not None:
        recipe = recipe.model_copy(update={"seed": seed})
    held = val is not None or recipe.val_fraction > 0
    train, held_out, space = _prepare(data, val, recipe, knob_space, hold_out=recipe.val_fraction > 0)
    options = _net_options(net_options, train.num_knobs)
    seeds = engine.member_seeds(recipe.seed, members)
    module = build_net(net, options, members=members, seeds=seeds)
    extra: dict[str, Any] = {}
    if init_from is not None:
        reason = warm.incompatibility(init_from, net, options, members)
        if reason:
            raise PanamaError(f"cannot warm-start: {reason}", "train this ensemble from scratch (no init_from)")
        how = WarmStart.model_validate(warm_start or {})
        warm.shrink_and_perturb(module, init_from.net.state_dict(), how.shrink, how.perturb)
        recipe = warm.scaled_recipe(recipe, how.steps)
        extra["warm_start"] = {**how.model_dump(), "from_seeds": list(init_from.seeds)}
    pools = warm.bootstrap_pools(train.num_settings, seeds) if bootstrap else None
    if pools is not None:
        extra["bootstrap"] = [[int(i) for i in pool] for pool in pools]
    callbacks: list[Any] = []
    resume, resumed_from, key = None, 0, None
    groups = split.device_groups(recipe.trainer, members)
    if checkpoint_path is not None:
        from panama.core.train import checkpoint

        key = checkpoint.fingerprint(train, recipe, members, net, options, seeds, extra)
        if groups is None:
            resume, resumed_from = checkpoint.resume_path(Path(checkpoint_path), key)
            callbacks.append(checkpoint.PeriodicCheckpoint(Path(checkpoint_path), key, recipe.checkpoint_seconds))
    if groups is not None:  # trainer.devices = N: members split across N devices, one process each
        metrics, history, resumed_from = split.fit_split(
            module, groups, net=net, options=options, train=train, val=held_out, recipe=recipe, seeds=seeds, pools=pools,
            checkpoint_path=None if checkpoint_path is None else Path(checkpoint_path), key=key)
    else:
        metrics, history = engine.train(module, train, held_out, recipe, members=members, seeds=seeds, progress=progress,
                                        pools=pools, callbacks=callbacks, resume_from=resume)
    metrics.update(extra)
    metrics["val_held_out"] = bool(held and held_out is not train)
    metrics["val_esr_pooled"] = _pooled_esr(metrics["val_mse"], float(metrics.get("val_energy") or 0.0))
    if checkpoint_path is not None:
        metrics["resumed_from_step"] = resumed_from
        checkpoint.remove(Path(checkpoint_path))
        for g in range(len(groups or [])):
            checkpoint.remove(split.part_path(Path(checkpoint_path), g))
    module.eval().requires_grad_(False)
    return TrainedEnsemble(module, members, space, train.sample_rate, net, options, seeds, metrics, history)
