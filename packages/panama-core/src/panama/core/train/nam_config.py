"""NAM-style ``data.json`` / ``model.json`` / ``learning.json`` configs, extended with knobs.

The files follow NAM's ``nam_full`` documentation: ``train`` / ``validation`` entries (one or a
list, of any lengths: NAM's ConcatDataset) with ``x_path``, ``y_path``, ``ny``,
``start_samples`` … and a ``common`` block (``delay``, ``sample_rate``, ``input_gain`` …);
``model.json``'s ``net`` {``name``, ``config``}, ``optimizer``, ``lr_scheduler``, ``loss``;
``learning.json``'s ``train_dataloader``, ``trainer`` (to Lightning, see
:mod:`panama.core.train.trainer_options`) and ``trainer_fit_kwargs`` (``ckpt_path``: resume).
PANAMA adds ``knobs: {name: value}`` per entry and an optional top-level ``knobs`` list (names,
ranges) in ``data.json``. The knob-conditioning fork's dataset JSON (``{"entries": …}``) may
stand in for ``data.json``. Keys starting with ``_`` are comments. Every problem is reported as
``file.path.to.field: message``.

Every documented field is either honoured or refused with one line that says what PANAMA does
instead (:data:`REFUSALS` lists the refusals; ``tests/test_nam_seed_configs.py`` checks each
field's effect). Differences from NAM: ``nx`` is ignored (the receptive field comes from the
net); ``y_preroll`` drops samples from both signals so they stay aligned;
``require_input_pre_silence`` is only checked when given; without a ``validation`` section, 20 %
of the entries' settings are held out (none with fewer than 3: then the training entries
validate).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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
    type: str | None = None
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
    val_loss: Literal["mse", "esr"] | None = None  # None: esr for the esr loss, else mse (NAM: mse)
    mask_first: int = 0
    pre_emph_mrstft_weight: float | None = Field(default=None, ge=0)
    pre_emph_mrstft_coef: float | None = Field(default=None, ge=0, lt=1)


class SchedulerSpec(_Strict):
    class_: str = Field(default="ExponentialLR", alias="class")
    kwargs: dict[str, Any] = Field(default_factory=dict)
    interval: Literal["epoch", "step"] = "epoch"


class ModelConfig(_Strict):
    net: NetSpec
    optimizer: dict[str, Any] = Field(default_factory=dict)
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
    resume_from: Path | None = None
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


def _without_comments(value: Any, parent: str = "") -> Any:
    """Drop ``_``-keys (NAM's ``_notes`` convention) at every depth, except knob names."""
    if isinstance(value, dict):
        return {k: _without_comments(v, k) for k, v in value.items()
                if parent == "knobs" or not (isinstance(k, str) and k.startswith("_"))}
    if isinstance(value, list):
        return [_without_comments(v, parent) for v in value]
    return value


def _read_json(path: Path, what: str) -> Any:
    try:
        return _without_comments(json.loads(Path(path).read_text()))
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


def _knob_space(config: DataConfig, entries: list[DataEntry], notes: list[str]) -> KnobSpace:
    """The declared ``knobs``, else guessed from the entries' values (with a notice saying so)."""
    if config.knobs is not None:
        return KnobSpace(knobs=tuple(config.knobs))
    from panama.core.capture.knob_dataset import infer_knob_space

    space = infer_knob_space([e.knobs for e in entries])
    if len(space):
        notes.append("knob ranges guessed from the entries' values: "
                     + ", ".join(f"{k.name} {k.minimum:g}…{k.maximum:g}" for k in space)
                     + ' (declare them: "knobs": [{"name", "minimum", "maximum"}] or --knob name=min:max)')
    return space


def _entries(value: DataEntry | list[DataEntry] | None) -> list[DataEntry]:
    return [] if value is None else value if isinstance(value, list) else [value]


@dataclass
class _Streams:
    xs: list[np.ndarray]
    ys: list[np.ndarray]
    knobs: list[np.ndarray]
    settings: list[dict[str, float]]
    rate: int
    ny: int | None

    def data(self, context: int) -> TrainingData:
        from panama.core.train.data import from_streams

        return from_streams(self.xs, self.ys, np.array(self.knobs).reshape(len(self.ys), -1), self.rate, self.settings, context)


def _dataset(entries: list[DataEntry], common: _Common, space: KnobSpace, base: Path, section: str, many: bool,
             where_of: list[str] | None = None) -> _Streams:
    """Each entry read and sliced on its own: entries may differ in length (NAM's ConcatDataset)."""
    streams = _Streams([], [], [], [], 0, None)
    for i, entry in enumerate(entries):
        where = where_of[i] if where_of else (f"data.{section}.{i}" if many else f"data.{section}")
        x, y, r, entry_ny = _slice(entry, common, base, where)
        if streams.rate and r != streams.rate:
            raise PanamaError(f"{where}: sample rate {r} Hz differs from the first entry's {streams.rate} Hz", "use one rate")
        try:
            setting = space.validate_setting(entry.knobs)
        except PanamaError as exc:
            raise PanamaError(f"{where}.knobs: {exc.message}", exc.hint) from None
        streams.rate, streams.ny = r, streams.ny or entry_ny
        streams.xs.append(x)
        streams.ys.append(y)
        streams.settings.append(setting)
        streams.knobs.append(space.to_unit(setting))
    return streams


_NET_NAMES = {"wavenet": "wavenet", "WaveNet": "wavenet", "lstm": "lstm", "LSTM": "lstm", "convnet": "convnet", "ConvNet": "convnet"}
# NAM's built-in dataset type; anything else is NAM Python code (register_dataset_initializer)
_DATASET_TYPES = (None, "dataset", "Dataset")


def _refuse(where: str, message: str, hint: str) -> PanamaError:
    return PanamaError(f"{where}: {message}", hint)


def _net_options(spec: NetSpec, num_knobs: int) -> tuple[str, dict[str, Any]]:
    """NAM's ``net`` block → PANAMA net name and options; NAM keys PANAMA cannot honour are refused."""
    name = _NET_NAMES.get(spec.name, spec.name)
    config = dict(spec.config)
    where = "model.net.config"
    if name == "wavenet":
        if config.get("head_config") is not None:
            raise _refuse(f"{where}.head_config", "a head network is not part of NAM's A1 WaveNet (NAM's plugin refuses it); "
                          "PANAMA ends in the A1 head rechannel and head_scale", "set head_config to null or remove it")
        config.pop("head_config", None)
    if name == "wavenet" and "layers_configs" in config:
        layers = []
        for i, layer in enumerate(config.pop("layers_configs")):
            layer = dict(layer)
            if isinstance(layer.get("head"), dict):  # NAM 0.13 layout
                head = layer.pop("head")
                layer["head_size"], layer["head_bias"] = head.get("out_channels"), head.get("bias", True)
            condition = layer.pop("condition_size", 1)
            if condition not in (1, 1 + num_knobs):
                raise _refuse(f"{where}.layers_configs.{i}.condition_size",
                              f"{condition}: the condition is the mono input (1) or the input and the {num_knobs} knob(s) "
                              f"({1 + num_knobs}); PANAMA adds the knobs through a per-layer term either way",
                              f"use 1 or {1 + num_knobs}")
            if layer.get("activation") == "PReLU":
                raise _refuse(f"{where}.layers_configs.{i}.activation", "PReLU's learned slope has no place in a .nam file "
                              "(NAM's exporter drops it)", "use LeakyReLU (fixed slope) or Tanh")
            layers.append(layer)
        config["layers"] = layers
    if name == "convnet":
        if config.pop("ir_filename", None) is not None:
            raise _refuse(f"{where}.ir_filename", "an impulse response after the net is not part of a .nam file PANAMA writes",
                          "remove ir_filename (capture the cabinet in the recordings instead)")
        if config.pop("train_strategy", "dilate") != "dilate":
            raise _refuse(f"{where}.train_strategy", "only 'dilate' (NAM dropped 'stride')", "remove train_strategy")
        if config.get("activation") == "PReLU":
            raise _refuse(f"{where}.activation", "PReLU's learned slope has no place in a .nam file", "use LeakyReLU or Tanh")
    if name == "lstm":
        size = config.pop("input_size", 1)
        if size not in (1, 1 + num_knobs):
            raise _refuse(f"{where}.input_size", f"{size}: the LSTM's input is the audio (1) with the {num_knobs} knob(s) "
                          f"appended by PANAMA ({1 + num_knobs})", f"use 1 or {1 + num_knobs}")
        truncate = config.pop("train_truncate", None)
        if truncate:
            raise _refuse(f"{where}.train_truncate", "PANAMA backpropagates through whole segments (ny samples)",
                          "remove train_truncate and set a smaller ny instead")
        for key, value, does in (("batch_first", None, "the layout is internal"),
                                 ("bidirectional", False, "an amp model must be causal"),
                                 ("proj_size", 0, "the output is a Linear head on the hidden state")):
            if key in config and config.pop(key) != value:
                raise _refuse(f"{where}.{key}", f"not supported: {does}", f"remove {key}")
        if "train_burn_in" in config:
            config["warmup"] = config.pop("train_burn_in")
    return name, config


def _check_loaders(learning: LearningConfig) -> None:
    loader = learning.train_dataloader
    if not loader.shuffle:
        raise _refuse("learning.train_dataloader.shuffle", "PANAMA always draws segments at random positions, "
                      "in a shuffled order of the entries", "remove shuffle (or set true)")
    if not loader.drop_last:
        raise _refuse("learning.train_dataloader.drop_last", "PANAMA's batches are always full (random segments, "
                      "no partial last batch)", "remove drop_last (or set true)")
    if loader.num_workers:
        raise _refuse("learning.train_dataloader.num_workers", "PANAMA cuts segments from audio held in memory, in "
                      "the training process", "remove num_workers (or set 0)")
    same = {"batch_size": 1, "shuffle": False, "num_workers": 0, "drop_last": False, "pin_memory": False}
    for key, value in learning.val_dataloader.items():
        if key.startswith("_") or same.get(key, object()) == value:
            continue
        raise _refuse(f"learning.val_dataloader.{key}", "PANAMA validates each validation entry whole, one at a time "
                      "(as NAM does with ny null)", f"remove {key}")
    for key in learning.trainer_fit_kwargs:
        if key not in ("ckpt_path",) and not key.startswith("_"):
            raise _refuse(f"learning.trainer_fit_kwargs.{key}", "PANAMA passes only ckpt_path to Trainer.fit "
                          "(it builds the model and data itself)", f"remove {key}")


def _resume_path(value: Any, learning_path: Path) -> Path | None:
    if value is None:
        return None
    path = Path(str(value)).expanduser()
    if not path.is_absolute() and not path.exists() and (Path(learning_path).resolve().parent / path).exists():
        path = Path(learning_path).resolve().parent / path
    if not path.is_file():
        raise _refuse("learning.trainer_fit_kwargs.ckpt_path", f"checkpoint {value} not found",
                      "give the .ckpt an earlier run wrote (OUTDIR/checkpoints/last.ckpt)")
    return path


def _split_entries(entries: list[DataEntry], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Hold out ``fraction`` of the distinct settings (as ``TrainingData.split`` does with labels)."""
    keys = sorted({tuple(sorted(e.knobs.items())) for e in entries})
    n = len(keys)
    if n < 3 or fraction <= 0:
        return list(range(len(entries))), []
    n_val = min(n - 1, max(1, round(fraction * n)))
    held = {keys[i] for i in np.random.default_rng(seed).permutation(n)[:n_val]}
    val = [i for i, e in enumerate(entries) if tuple(sorted(e.knobs.items())) in held]
    return [i for i in range(len(entries)) if i not in val], val


def read_data_config(data_path: Path, knob_ranges: dict[str, tuple[float, float]] | None = None) -> tuple[Any, list[str]]:
    """``data.json``'s raw content, or a fork knob dataset turned into one (with notes)."""
    raw = _read_json(data_path, "data")
    if isinstance(raw, dict) and "entries" in raw:
        from panama.core.capture.knob_dataset import as_data_config

        return as_data_config(Path(data_path), knob_ranges)
    if knob_ranges and isinstance(raw, dict) and raw.get("knobs") is None:
        raw = {**raw, "knobs": [{"name": n, "minimum": lo, "maximum": hi} for n, (lo, hi) in knob_ranges.items()]}
    return raw, []


def load_plan(data_path: Path, model_path: Path, learning_path: Path, *,
              knob_ranges: dict[str, tuple[float, float]] | None = None, resume: bool = True) -> Plan:
    """Read and check the three files (and every audio file) before anything is trained."""
    raw_data, notes = read_data_config(Path(data_path), knob_ranges)
    raw_model, raw_learning = _read_json(model_path, "model"), _read_json(learning_path, "learning")
    data_cfg = _validate(DataConfig, raw_data, "data")
    model_cfg = _validate(ModelConfig, raw_model, "model")
    learning = _validate(LearningConfig, raw_learning, "learning")
    train_entries, val_entries = _entries(data_cfg.train), _entries(data_cfg.validation)
    for section, entries in (("train", train_entries), ("validation", val_entries)):
        many = isinstance(getattr(data_cfg, section), list)
        for i, entry in enumerate(entries):
            where = f"data.{section}.{i}" if many else f"data.{section}"
            if entry.type not in _DATASET_TYPES:
                raise _refuse(f"{where}.type", f"{entry.type!r} is a NAM dataset class (Python); PANAMA reads "
                              "x_path/y_path entries with knobs, or a knob dataset JSON", "remove type")
            if section == "validation" and entry.ny is not None:
                raise _refuse(f"{where}.ny", "PANAMA validates each validation entry whole (NAM's ny null)", "remove ny")
    space = _knob_space(data_cfg, train_entries + val_entries, notes)
    net, options = _net_options(model_cfg.net, len(space))
    _check_loaders(learning)
    from panama.core.train.model import build_net

    context = int(build_net(net, {**options, "num_knobs": len(space)}).receptive_field) - 1
    base = Path(data_path).resolve().parent
    if not val_entries:
        train_idx, val_idx = _split_entries(train_entries, Recipe().val_fraction, learning.seed)
        many = isinstance(data_cfg.train, list)
        wheres = [f"data.train.{i}" if many else "data.train" for i in range(len(train_entries))]
        streams = _dataset([train_entries[i] for i in train_idx], data_cfg.common, space, base, "train", many, [wheres[i] for i in train_idx])
        val_streams = (_dataset([train_entries[i] for i in val_idx], data_cfg.common, space, base, "train", many, [wheres[i] for i in val_idx])
                       if val_idx else None)
    else:
        streams = _dataset(train_entries, data_cfg.common, space, base, "train", isinstance(data_cfg.train, list))
        val_streams = _dataset(val_entries, data_cfg.common, space, base, "validation", isinstance(data_cfg.validation, list))
    data = streams.data(context)
    # Too few settings to hold any out: validate on the training entries themselves (not on
    # pieces of them, which a later split of pieces would leak into training).
    val = val_streams.data(context) if val_streams else data
    recipe = _recipe(model_cfg, learning, streams.ny)
    resume_from = _resume_path(learning.trainer_fit_kwargs.get("ckpt_path"), Path(learning_path)) if resume else None
    return Plan(data, val, space, net, options, recipe, resume_from, notes,
                {"data": raw_data, "model": raw_model, "learning": raw_learning, "base": str(base)})


def _recipe(model_cfg: ModelConfig, learning: LearningConfig, ny: int | None) -> Recipe:
    trainer = dict(learning.trainer)
    epochs = trainer.pop("max_epochs", None)
    steps = trainer.pop("max_steps", None) or learning.steps
    if epochs is None and steps is None:
        steps = Recipe().steps
    from panama.core.train.trainer_options import lightning_kwargs

    try:
        lightning_kwargs(trainer, 1)  # unknown keys, bad logger/callbacks: one line now, before training
    except PanamaError as exc:
        raise PanamaError(f"learning.{exc.message}", exc.hint) from None
    loss = model_cfg.loss
    kind = loss.loss or ("mrstft" if loss.pre_emph_mrstft_weight else "mse")
    optimizer = dict(model_cfg.optimizer)
    recipe_fields: dict[str, Any] = {
        "steps": steps if steps not in (None, -1) else None,
        "epochs": epochs if epochs not in (None, -1) else None,
        "batch_size": learning.train_dataloader.batch_size,
        "lr": optimizer.pop("lr", Recipe().lr),
        "optimizer": optimizer,
        "loss": kind,
        "val_loss": loss.val_loss,
        "mask_first": loss.mask_first,
        "seed": learning.seed,
        "trainer": trainer,
        "pin_memory": learning.train_dataloader.pin_memory,
    }
    sched = model_cfg.lr_scheduler
    if sched is not None:
        if sched.class_ == "ExponentialLR" and set(sched.kwargs) <= {"gamma"} and sched.interval == "epoch":
            recipe_fields["lr_decay"] = sched.kwargs.get("gamma", 1.0)  # PANAMA's own default schedule
        else:
            recipe_fields["lr_decay"] = 1.0
            recipe_fields["lr_scheduler"] = {"class": sched.class_, "kwargs": sched.kwargs, "interval": sched.interval}
    else:
        recipe_fields["lr_decay"] = 1.0  # NAM: no lr_scheduler, a constant learning rate
    if ny:
        recipe_fields["segment_length"] = ny
    if loss.pre_emph_mrstft_weight is not None:
        recipe_fields["mrstft_weight"] = loss.pre_emph_mrstft_weight
    if loss.pre_emph_mrstft_coef is not None:
        recipe_fields["pre_emphasis"] = loss.pre_emph_mrstft_coef
    if learning.val_every:
        recipe_fields["val_every"] = learning.val_every
    recipe = _validate(Recipe, recipe_fields, "learning")
    if recipe.mask_first >= recipe.segment_length:
        raise _refuse("model.loss.mask_first", f"{recipe.mask_first} masks every output of a {recipe.segment_length}-sample segment",
                      "use a mask_first below ny")
    from panama.core.train import optim

    try:
        optim.check(recipe)
    except PanamaError as exc:
        raise PanamaError(f"model.{exc.message}", exc.hint) from None
    return recipe
