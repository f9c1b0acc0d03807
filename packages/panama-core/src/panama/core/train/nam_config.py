"""NAM-style ``data.json`` / ``model.json`` / ``learning.json`` configs, extended with knobs.

The files follow NAM's ``nam_full`` documentation: ``train`` / ``validation`` entries (one or a
list) with ``x_path``, ``y_path``, ``ny``, ``start_samples`` … and a ``common`` block (``delay``,
``sample_rate``, ``input_gain`` …); ``model.json``'s ``net`` {``name``, ``config``},
``optimizer``, ``lr_scheduler``, ``loss``; ``learning.json``'s ``train_dataloader`` and
``trainer`` (passed through to Lightning). PANAMA adds ``knobs: {name: value}`` per entry and an
optional top-level ``knobs`` list (names, ranges) in ``data.json``. Keys starting with ``_`` are
comments. Every problem is reported as ``file.path.to.field: message``.

Differences from NAM: ``nx`` is ignored (the receptive field comes from the net);
``y_preroll`` drops samples from both signals so they stay aligned; ``require_input_pre_silence``
is only checked when given; validation without a ``validation`` section holds out settings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from panama.core.errors import PanamaError, format_validation_error
from panama.core.knobs import Knob, KnobSpace
from panama.core.train.data import TrainingData
from panama.core.train.recipe import Recipe


class _Strict(BaseModel):
    """Unknown keys are errors; keys starting with ``_`` are comments and dropped."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _drop_comments(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if not (isinstance(k, str) and k.startswith("_"))}
        return value


class _Common(_Strict):
    delay: int = 0
    nx: int | None = None
    allow_unequal_lengths: bool = False
    sample_rate: int | None = Field(default=None, gt=0)
    y_preroll: int | None = Field(default=None, ge=0)
    input_gain: float = 0.0
    require_input_pre_silence: float | None = Field(default=None, ge=0)


class DataEntry(_Common):
    x_path: Path
    y_path: Path
    ny: int | None = Field(default=None, ge=1)
    start_samples: int | None = None
    stop_samples: int | None = None
    start_seconds: float | None = None
    stop_seconds: float | None = None
    knobs: dict[str, float] = Field(default_factory=dict)
    # common values may be given per entry too (NAM merges them): all optional here
    delay: int | None = None  # type: ignore[assignment]
    allow_unequal_lengths: bool | None = None  # type: ignore[assignment]
    input_gain: float | None = None  # type: ignore[assignment]


class DataConfig(_Strict):
    train: DataEntry | list[DataEntry]
    validation: DataEntry | list[DataEntry] | None = None
    common: _Common = Field(default_factory=_Common)
    knobs: list[Knob] | None = None


class NetSpec(_Strict):
    name: str
    config: dict[str, Any] = Field(default_factory=dict)


class LossSpec(_Strict):
    loss: Literal["mse", "esr", "mrstft"] | None = None
    val_loss: Literal["mse", "esr"] = "mse"
    mask_first: int = 0
    pre_emph_mrstft_weight: float | None = Field(default=None, ge=0)
    pre_emph_mrstft_coef: float | None = Field(default=None, ge=0, lt=1)


class SchedulerSpec(_Strict):
    class_: Literal["ExponentialLR"] = Field(default="ExponentialLR", alias="class")
    kwargs: dict[str, float] = Field(default_factory=dict)


class ModelConfig(_Strict):
    net: NetSpec
    optimizer: dict[str, float] = Field(default_factory=dict)
    lr_scheduler: SchedulerSpec | None = None
    loss: LossSpec = Field(default_factory=LossSpec)


class LoaderSpec(_Strict):
    batch_size: int = Field(default=16, ge=1)
    shuffle: bool = True
    pin_memory: bool = False
    drop_last: bool = True
    num_workers: int = Field(default=0, ge=0)


class LearningConfig(_Strict):
    train_dataloader: LoaderSpec = Field(default_factory=LoaderSpec)
    val_dataloader: dict[str, Any] = Field(default_factory=dict)
    trainer: dict[str, Any] = Field(default_factory=dict)
    trainer_fit_kwargs: dict[str, Any] = Field(default_factory=dict)
    seed: int = 0
    steps: int | None = Field(default=None, ge=1)
    val_every: int | None = Field(default=None, ge=1)


@dataclass
class Plan:
    """Everything ``fit`` needs, read from the three files."""

    data: TrainingData
    val: TrainingData | None
    knob_space: KnobSpace
    net: str
    net_options: dict[str, Any]
    recipe: Recipe


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise PanamaError(f"{what}: file {path} not found", "check the path") from None
    except json.JSONDecodeError as exc:
        raise PanamaError(f"{what}: not valid JSON (line {exc.lineno}: {exc.msg})", "fix the file") from None


def _error_lines(exc: ValidationError, raw: Any, prefix: str) -> list[str]:
    """``prefix.path.to.field: message`` lines; a union's branch tags (``DataEntry``,
    ``list[DataEntry]``) are dropped, and so are errors of the branch the input did not take."""
    lines = []
    for error in exc.errors():
        parts: list[str] = [prefix]
        node, wrong_branch = raw, False
        for part in error["loc"]:
            if isinstance(part, str) and (part[:1].isupper() or "[" in part):
                if part.startswith("list[") != isinstance(node, list):
                    wrong_branch = True
                    break
                continue
            parts.append(str(part))
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                node = None
        if not wrong_branch:
            lines.append(f"{'.'.join(parts)}: {error['msg']}")
    return lines or format_validation_error(exc, prefix=prefix)


def _validate(model: type[BaseModel], raw: Any, what: str) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise PanamaError("\n".join(_error_lines(exc, raw, what)), f"see the {what} format in the docs") from None


def _read_wav(path: Path, where: str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    if not path.is_file():
        raise PanamaError(f"{where}: file not found: {path}", "check the path (relative paths start at the config's folder)")
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise PanamaError(f"{where}: cannot read {path} as audio ({exc})", "give a WAV file") from None
    if audio.shape[1] != 1:
        raise PanamaError(f"{where}: {path} has {audio.shape[1]} channels", "give a mono file")
    return audio[:, 0], int(rate)


def _slice(entry: DataEntry, common: _Common, base: Path, where: str) -> tuple[np.ndarray, np.ndarray, int, int | None]:
    x_path = entry.x_path if entry.x_path.is_absolute() else base / entry.x_path
    y_path = entry.y_path if entry.y_path.is_absolute() else base / entry.y_path
    x, rate = _read_wav(x_path, f"{where}.x_path")
    y, y_rate = _read_wav(y_path, f"{where}.y_path")
    expected = entry.sample_rate or common.sample_rate
    if expected is not None and rate != expected:
        raise PanamaError(f"{where}.x_path: sample rate {rate} Hz, expected {expected} Hz", "resample the file or fix sample_rate")
    if y_rate != rate:
        raise PanamaError(f"{where}.y_path: sample rate {y_rate} Hz differs from x's {rate} Hz", "record at the input's rate")
    unequal = entry.allow_unequal_lengths if entry.allow_unequal_lengths is not None else common.allow_unequal_lengths
    if len(x) != len(y) and not unequal:
        raise PanamaError(f"{where}: x has {len(x)} samples but y has {len(y)}", "trim them or set allow_unequal_lengths")
    n = min(len(x), len(y))
    x, y = x[:n], y[:n]
    gain = entry.input_gain if entry.input_gain is not None else common.input_gain
    x = x * np.float32(10 ** (gain / 20))
    start = entry.start_samples if entry.start_samples is not None else (
        None if entry.start_seconds is None else int(entry.start_seconds * rate))
    stop = entry.stop_samples if entry.stop_samples is not None else (
        None if entry.stop_seconds is None else int(entry.stop_seconds * rate))
    x, y = x[start:stop], y[start:stop]
    pre_silence = entry.require_input_pre_silence or common.require_input_pre_silence
    if pre_silence:
        head = x[: int(pre_silence * rate)]
        if head.size and np.max(np.abs(head)) > 1e-3:
            raise PanamaError(f"{where}: the input is not silent for the first {pre_silence} s",
                              "start the data at silence or lower require_input_pre_silence")
    delay = entry.delay if entry.delay is not None else common.delay
    if delay > 0:
        x, y = x[:-delay], y[delay:]
    elif delay < 0:
        x, y = x[-delay:], y[:delay]
    preroll = entry.y_preroll or common.y_preroll or 0
    x, y = x[preroll:], y[preroll:]
    if len(x) == 0:
        raise PanamaError(f"{where}: nothing left after start/stop/delay", "check the sample ranges")
    return x, y, rate, entry.ny


def _knob_space(config: DataConfig, entries: list[DataEntry]) -> KnobSpace:
    if config.knobs is not None:
        return KnobSpace(knobs=tuple(config.knobs))
    names: dict[str, list[float]] = {}
    for e in entries:
        for name, value in e.knobs.items():
            names.setdefault(name, []).append(value)
    try:
        return KnobSpace(knobs=tuple(Knob(name=n, minimum=min(0.0, *v), maximum=max(1.0, *v)) for n, v in names.items()))
    except ValidationError as exc:
        raise PanamaError("\n".join(format_validation_error(exc, prefix="data.knobs")), "fix the knob names") from None


def _entries(value: DataEntry | list[DataEntry] | None) -> list[DataEntry]:
    return [] if value is None else value if isinstance(value, list) else [value]


def _dataset(entries: list[DataEntry], common: _Common, space: KnobSpace, base: Path, section: str,
             many: bool) -> tuple[TrainingData, int | None]:
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    knobs: list[np.ndarray] = []
    settings: list[dict[str, float]] = []
    rate: int | None = None
    ny: int | None = None
    for i, entry in enumerate(entries):
        where = f"data.{section}.{i}" if many else f"data.{section}"
        x, y, r, entry_ny = _slice(entry, common, base, where)
        if rate is not None and r != rate:
            raise PanamaError(f"{where}: sample rate {r} Hz differs from the first entry's {rate} Hz", "use one rate")
        if xs and len(x) != len(xs[0]):
            raise PanamaError(f"{where}: {len(x)} samples after slicing, the first entry has {len(xs[0])}",
                              "give every entry the same length (start_samples/stop_samples)")
        try:
            setting = space.validate_setting(entry.knobs)
        except PanamaError as exc:
            raise PanamaError(f"{where}.knobs: {exc.message}", exc.hint) from None
        rate, ny = r, ny or entry_ny
        xs.append(x)
        ys.append(y)
        settings.append(setting)
        knobs.append(space.to_unit(setting))
    same_x = all(np.array_equal(x, xs[0]) for x in xs)
    x_all = xs[0] if same_x else np.stack(xs)
    assert rate is not None
    return TrainingData(x_all, np.stack(ys), np.array(knobs).reshape(len(ys), len(space)), rate, settings), ny


_NET_NAMES = {"wavenet": "wavenet", "WaveNet": "wavenet", "lstm": "lstm", "LSTM": "lstm"}


def _net_options(spec: NetSpec) -> tuple[str, dict[str, Any]]:
    name = _NET_NAMES.get(spec.name, spec.name)
    config = dict(spec.config)
    if name == "wavenet" and "layers_configs" in config:
        layers = []
        for layer in config.pop("layers_configs"):
            layer = dict(layer)
            if isinstance(layer.get("head"), dict):  # NAM 0.13 layout
                head = layer.pop("head")
                layer["head_size"], layer["head_bias"] = head.get("out_channels"), head.get("bias", True)
            layers.append(layer)
        config["layers"] = layers
    if name == "lstm":
        config.pop("input_size", None)
        config.pop("train_truncate", None)
        if "train_burn_in" in config:
            config["warmup"] = config.pop("train_burn_in")
    return name, config


def load_plan(data_path: Path, model_path: Path, learning_path: Path) -> Plan:
    data_cfg = _validate(DataConfig, _read_json(data_path, "data"), "data")
    model_cfg = _validate(ModelConfig, _read_json(model_path, "model"), "model")
    learning = _validate(LearningConfig, _read_json(learning_path, "learning"), "learning")
    train_entries, val_entries = _entries(data_cfg.train), _entries(data_cfg.validation)
    space = _knob_space(data_cfg, train_entries + val_entries)
    base = Path(data_path).resolve().parent
    many = isinstance(data_cfg.train, list)
    data, ny = _dataset(train_entries, data_cfg.common, space, base, "train", many)
    val = None
    if val_entries:
        val, _ = _dataset(val_entries, data_cfg.common, space, base, "validation", isinstance(data_cfg.validation, list))
    net, options = _net_options(model_cfg.net)
    trainer = dict(learning.trainer)
    epochs = trainer.pop("max_epochs", None)
    steps = trainer.pop("max_steps", None) or learning.steps
    if epochs is None and steps is None:
        steps = Recipe().steps
    _check_trainer(trainer)
    loss = model_cfg.loss
    kind = loss.loss or ("mrstft" if loss.pre_emph_mrstft_weight else "mse")
    gamma = (model_cfg.lr_scheduler.kwargs.get("gamma", 1.0) if model_cfg.lr_scheduler else 1.0)
    recipe_fields: dict[str, Any] = {
        "steps": steps if steps not in (None, -1) else None,
        "epochs": epochs if epochs not in (None, -1) else None,
        "batch_size": learning.train_dataloader.batch_size,
        "lr": model_cfg.optimizer.get("lr", Recipe().lr),
        "lr_decay": gamma,
        "loss": kind,
        "seed": learning.seed,
        "trainer": trainer,
    }
    if ny:
        recipe_fields["segment_length"] = ny
    if loss.pre_emph_mrstft_weight is not None:
        recipe_fields["mrstft_weight"] = loss.pre_emph_mrstft_weight
    if loss.pre_emph_mrstft_coef is not None:
        recipe_fields["pre_emphasis"] = loss.pre_emph_mrstft_coef
    if learning.val_every:
        recipe_fields["val_every"] = learning.val_every
    recipe = _validate(Recipe, recipe_fields, "learning")
    return Plan(data, val, space, net, options, recipe)


def _check_trainer(trainer: dict[str, Any]) -> None:
    import inspect

    import pytorch_lightning as pl

    allowed = set(inspect.signature(pl.Trainer.__init__).parameters) - {"self", "callbacks", "logger", "plugins"}
    for key in trainer:
        if key not in allowed:
            raise PanamaError(f"learning.trainer.{key}: not an argument of pytorch_lightning.Trainer",
                              "see Lightning's Trainer documentation")
