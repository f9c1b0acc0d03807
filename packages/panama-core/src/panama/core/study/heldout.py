"""Held-out evaluation: how close is the model to the device at settings it never saw?

The core is pure: :func:`score_settings` compares any ``predict(x, setting) -> y`` callable with
target recordings, so "the label source against itself" scores exactly zero and a wrong model
scores badly (the tests check both). :func:`evaluate_capture` is the thin glue that opens a
capture, draws held-out settings, labels them through the capture's own label source (or, for
a real amp, reads the recordings made with ``panama label --holdout``), runs the final model,
and writes ``evaluation.json`` plus example WAVs for ``panama report``.

Why the scoring region has context in front of it: the default evaluation audio is the reamp
signal's validation segment, cut out of a continuous signal. Model and device both get
``context`` samples before it, so neither starts "cold" inside the scored part (a WaveNet needs
its receptive field, a recorded amp was already running), and only the segment is scored.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from panama.core.audio import esr, mse
from panama.core.errors import PanamaError
from panama.core.fsutil import write_json_atomic
from panama.core.knobs import SAME_SETTING, KnobSetting, KnobSpace, unit_distances
from panama.core.protocols import is_deterministic, latency_samples

Predict = Callable[[np.ndarray, KnobSetting], np.ndarray]
"""``predict(x, setting) -> y``: model or device output for input ``x`` at a native setting."""

EVALUATION_FILE = "evaluation.json"
EXAMPLES_DIR = "evaluation"
# Enough for NAM's A1 receptive field (4093 samples) with room to spare.
DEFAULT_CONTEXT = 4096
# Mixed into the user's seed so that held-out settings never coincide with a sampler that
# draws uniform points from the same integer seed.
_HELDOUT_STREAM = 0x7E57_5E7
# NAM's grading of ESR (REFERENCE.md): what a user reads next to the number.
_GRADES = ((0.01, "great"), (0.035, "not bad"), (0.1, "might sound ok"))


def esr_grade(esr: float) -> str:
    for bound, name in _GRADES:
        if esr < bound:
            return name
    return "poor"


# --------------------------------------------------------------------------------- audio
@dataclass(frozen=True)
class EvalAudio:
    """What model and device are fed (``x``) and where scoring starts in it."""

    x: np.ndarray
    score_from: int
    sample_rate: int
    description: str
    # Position of x[0] in the source signal: a recording of the whole input is cut here.
    offset: int = 0

    @property
    def scored_length(self) -> int:
        return int(self.x.shape[0] - self.score_from)


def validation_range(segments: Mapping[str, Any] | None, length: int) -> tuple[int, int] | None:
    """The validation segment ``(start, stop)`` of a reamp signal, or ``None`` if it has none.

    The signal has a validation copy at its start and its end; the first one is used (the
    end copy exists to check drift between the two). Accepts ``{"validation_start": [a, b]}``
    or ``{"validation": [a, b]}``.
    """
    if not segments:
        return None
    for key in ("validation_start", "validation", "validation_end"):
        value = segments.get(key)
        if isinstance(value, Sequence) and len(value) == 2:
            start, stop = int(value[0]), int(value[1])
            if 0 <= start < stop <= length:
                return start, stop
    return None


def signal_audio(
    x: np.ndarray,
    sample_rate: int,
    segments: Mapping[str, Any] | None,
    *,
    context: int = DEFAULT_CONTEXT,
) -> EvalAudio:
    """Evaluation audio from the capture's reamp signal: its validation segment with context.

    A user-supplied input without segment metadata is scored as a whole.
    """
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    rng = validation_range(segments, x.shape[0])
    if rng is None:
        return EvalAudio(x, 0, sample_rate, "the whole input signal (it has no validation segment)")
    start, stop = rng
    begin = max(0, start - max(0, context))
    seconds = (stop - start) / sample_rate
    return EvalAudio(
        x[begin:stop].copy(), start - begin, sample_rate,
        f"the reamp signal's validation segment ({seconds:.2f} s)", offset=begin,
    )


def file_audio(x: np.ndarray, sample_rate: int, name: str) -> EvalAudio:
    """Evaluation audio from a guitar DI file: played from rest, scored as a whole."""
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    return EvalAudio(x, 0, sample_rate, f"{name} ({x.shape[0] / sample_rate:.2f} s)")


# ------------------------------------------------------------------------------ settings
def draw_heldout_settings(
    knob_space: KnobSpace,
    n: int,
    *,
    seed: int = 0,
    exclude: Sequence[Mapping[str, float]] = (),
) -> list[KnobSetting]:
    """``n`` uniform random settings, reproducible from ``seed`` and distinct from ``exclude``.

    Uniform over the knob box, as the paper's ~1000 random validation settings.
    """
    if n < 1:
        raise PanamaError(f"cannot evaluate on {n} settings", "give --settings 1 or more")
    if len(knob_space) == 0:
        return [{}]
    rng = np.random.default_rng([int(seed) & 0xFFFF_FFFF, _HELDOUT_STREAM])
    taken = knob_space.to_unit_array(list(exclude)) if exclude else np.empty((0, len(knob_space)))
    chosen: list[np.ndarray] = []
    while len(chosen) < n:
        u = rng.random(len(knob_space))
        if taken.shape[0] and np.min(unit_distances(u, taken)) < SAME_SETTING:
            continue
        chosen.append(u)
        taken = np.vstack([taken, u])
    return [knob_space.from_unit(u) for u in chosen]


# ------------------------------------------------------------------------------- metrics
def _scored(y: np.ndarray, audio: EvalAudio, what: str) -> np.ndarray:
    """The scored part of an output for ``audio.x``.

    A net without start padding returns ``T - receptive_field + 1`` samples that end with the
    input; outputs are therefore aligned at their end.
    """
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    n = audio.scored_length
    if y.shape[0] < n:
        raise PanamaError(
            f"{what} has {y.shape[0]} samples but {n} are scored",
            "use evaluation audio longer than the model's receptive field",
        )
    if y.shape[0] > audio.x.shape[0]:
        raise PanamaError(f"{what} is longer ({y.shape[0]}) than its input ({audio.x.shape[0]})")
    return y[y.shape[0] - n:]


class SettingScore(BaseModel):
    """One held-out setting and how well the model does there."""

    model_config = ConfigDict(extra="forbid")

    index: int
    setting: dict[str, float]
    unit: list[float]
    mse: float
    esr: float
    target_rms: float
    grade: str


class Stats(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mean: float
    median: float
    p90: float
    max: float
    min: float


class Summary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    settings: int
    mse: Stats
    esr: Stats
    worst: list[int]
    typical: int


def label_targets(label: Predict, audio: EvalAudio, settings: Sequence[KnobSetting]) -> list[np.ndarray]:
    """The device's output at each setting, scored part only."""
    return [_scored(label(audio.x, s), audio, f"label at setting {i}") for i, s in enumerate(settings)]


def score_settings(
    predict: Predict,
    targets: Sequence[np.ndarray],
    audio: EvalAudio,
    settings: Sequence[KnobSetting],
    knob_space: KnobSpace,
    *,
    keep: Callable[[int, np.ndarray, np.ndarray], None] | None = None,
) -> list[SettingScore]:
    """Score ``predict`` against ``targets`` (the scored parts) at each setting.

    ``keep(index, prediction, target)`` sees every pair, e.g. to save examples.
    """
    if len(targets) != len(settings):
        raise PanamaError(f"{len(targets)} targets for {len(settings)} settings")
    scores = []
    for i, (setting, target) in enumerate(zip(settings, targets, strict=True)):
        target = np.asarray(target, dtype=np.float64).reshape(-1)
        if target.shape[0] != audio.scored_length:
            raise PanamaError(f"target {i} has {target.shape[0]} samples, expected {audio.scored_length}")
        pred = _scored(predict(audio.x, setting), audio, f"prediction at setting {i}")
        if not np.all(np.isfinite(pred)):
            raise PanamaError(f"the model's output at setting {i} is not finite", "retrain the model")
        if keep is not None:
            keep(i, pred, target)
        e = esr(pred, target)
        scores.append(
            SettingScore(
                index=i,
                setting={k: float(v) for k, v in setting.items()},
                unit=[float(v) for v in knob_space.to_unit(setting)] if len(knob_space) else [],
                mse=mse(pred, target),
                esr=e,
                target_rms=float(np.sqrt(np.mean(target**2))),
                grade=esr_grade(e),
            )
        )
    return scores


def _stats(values: Sequence[float]) -> Stats:
    v = np.asarray(values, dtype=np.float64)
    return Stats(
        mean=float(np.mean(v)), median=float(np.median(v)), p90=float(np.percentile(v, 90)),
        max=float(np.max(v)), min=float(np.min(v)),
    )


def summarise(scores: Sequence[SettingScore], *, worst: int = 5) -> Summary:
    """Mean, median, 90th percentile; the worst settings and a typical one, ranked by ESR.

    ESR, not MSE, ranks settings: MSE grows with loudness, so it would point at loud settings
    rather than at settings the model renders badly.
    """
    if not scores:
        raise PanamaError("nothing was evaluated")
    order = sorted(range(len(scores)), key=lambda i: scores[i].esr, reverse=True)
    median_rank = sorted(range(len(scores)), key=lambda i: scores[i].esr)[(len(scores) - 1) // 2]
    return Summary(
        settings=len(scores),
        mse=_stats([s.mse for s in scores]),
        esr=_stats([s.esr for s in scores]),
        worst=[scores[i].index for i in order[:worst]],
        typical=scores[median_rank].index,
    )


# -------------------------------------------------------------------------------- report
class Evaluation(BaseModel):
    """What ``evaluation.json`` holds."""

    model_config = ConfigDict(extra="forbid")

    created: str
    audio: str
    sample_rate: int
    scored_samples: int
    seed: int
    source: str
    model: str
    knobs: list[str]
    summary: Summary
    scores: list[SettingScore]
    examples: dict[str, dict[str, str]] = {}
    notes: list[str] = []


def make_evaluation(
    scores: Sequence[SettingScore],
    *,
    audio: EvalAudio,
    seed: int,
    source: str,
    model: str,
    knob_space: KnobSpace,
    worst: int = 5,
) -> Evaluation:
    return Evaluation(
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        audio=audio.description,
        sample_rate=audio.sample_rate,
        scored_samples=audio.scored_length,
        seed=seed,
        source=source,
        model=model,
        knobs=knob_space.names,
        summary=summarise(scores, worst=worst),
        scores=list(scores),
    )


def read_evaluation(path: Path) -> Evaluation:
    try:
        return Evaluation.model_validate_json(Path(path).read_text())
    except FileNotFoundError:
        raise PanamaError(f"{path} does not exist", "run `panama evaluate DIR` first") from None
    except ValueError as exc:
        raise PanamaError(f"{path} is not a PANAMA evaluation file: {exc}".splitlines()[0]) from None


def _fmt(value: float) -> str:
    return f"{value:.3g}" if math.isfinite(value) else str(value)


def render_evaluation(evaluation: Evaluation, console: Any, *, rows: int = 10) -> None:
    """Rich tables: the summary, then the worst settings with their knob values."""
    from rich.table import Table

    s = evaluation.summary
    table = Table(title=f"Held-out evaluation — {s.settings} settings, {evaluation.audio}", title_justify="left")
    for column in ("metric", "mean", "median", "90th pct", "worst"):
        table.add_column(column, justify="right" if column != "metric" else "left")
    for name, stats in (("MSE", s.mse), ("ESR", s.esr)):
        table.add_row(name, _fmt(stats.mean), _fmt(stats.median), _fmt(stats.p90), _fmt(stats.max))
    console.print(table)

    by_index = {score.index: score for score in evaluation.scores}
    worst = Table(title="Worst settings (by ESR)", title_justify="left")
    worst.add_column("#", justify="right", no_wrap=True, min_width=2)
    # Narrow terminals squeeze the knob columns (their full names are in the JSON), never the
    # numbers the table is for.
    for name in evaluation.knobs:
        worst.add_column(name, justify="right", overflow="ellipsis", no_wrap=True)
    for column in ("MSE", "ESR", "grade"):
        worst.add_column(column, justify="right", no_wrap=True, min_width=7 if column != "grade" else 5)
    for index in s.worst[:rows]:
        score = by_index[index]
        worst.add_row(
            str(index), *(f"{score.setting[k]:.2f}" for k in evaluation.knobs),
            f"{score.mse:.2g}", f"{score.esr:.2g}", score.grade,
        )
    console.print(worst)


# ------------------------------------------------------------------ glue to the captures
def capture_segments(capture: Any) -> dict[str, Any] | None:
    """The reamp signal's segments (from ``input.json``); ``None`` for a user's own input."""
    segments = capture.segments
    return dict(segments) if segments else None


def capture_root(capture: Any) -> Path:
    return Path(getattr(capture, "path", None) or capture.root)


def capture_audio(capture: Any, *, context: int = DEFAULT_CONTEXT) -> EvalAudio:
    """The default evaluation audio of a capture: its signal's validation segment."""
    return signal_audio(capture.read_input(), capture.sample_rate, capture_segments(capture), context=context)


def device_predict(source: Any, sample_rate: int) -> Predict:
    """A label source as a ``predict(x, setting)`` callable, aligned for its latency."""
    latency = latency_samples(source)

    def run(x: np.ndarray, setting: KnobSetting) -> np.ndarray:
        y = source.label(x, sample_rate, setting)
        if latency:
            from panama.core.audio import align

            y = align(y, latency, len(x))
        return y

    return run


def source_is_deterministic(spec: str) -> bool:
    """Whether a label source renders (software) or records (a real amp), without opening it."""
    from panama.core.components import split_spec
    from panama.core.plugins import get_registry

    cls = get_registry().get("label_source", split_spec(spec)[0]).load()
    return is_deterministic(cls)


def device_targets(
    labeler: str,
    options: Mapping[str, Any] | None,
    audio: EvalAudio,
    settings: Sequence[KnobSetting],
    *,
    need_deterministic: bool = False,
) -> list[np.ndarray]:
    """Label every held-out setting through the device, scored parts only."""
    from panama.core.components import open_label_source

    with open_label_source(labeler, options) as source:
        if need_deterministic and not is_deterministic(source):
            raise PanamaError(
                f"labeler {labeler!r} records a real device, which cannot label held-out settings on demand",
                "compare samplers on a software source (sim, vst:, lv2:); for a real amp record "
                "held-out settings with `panama label DIR --holdout` and run `panama evaluate`",
            )
        return label_targets(device_predict(source, audio.sample_rate), audio, settings)


def holdout_targets(capture: Any, audio: EvalAudio) -> tuple[list[KnobSetting], list[np.ndarray]]:
    """Held-out recordings of a real amp (``panama label --holdout``), cut to the scored part."""
    labels = capture.holdout_labels()
    if not labels:
        raise PanamaError(
            f"{capture_root(capture)} has no held-out recordings, and its labeler {capture.config.labeler!r} "
            "cannot render new settings",
            (f"record a few random settings and add them with `panama add {capture_root(capture)} REC.wav --holdout --setting ...`"
             if capture.config.labeler.split(":", 1)[0] == "folder"
             else f"record a few random settings with `panama label {capture_root(capture)} --holdout --setting ...`"),
        )
    return recorded_targets(capture, audio, labels)


def recorded_targets(capture: Any, audio: EvalAudio, labels: Sequence[Any]) -> tuple[list[KnobSetting], list[np.ndarray]]:
    """The settings of ``labels`` and their recordings cut to the scored part of ``audio``."""
    from panama.core.audio import read_wav

    capture.check_labels(list(labels))  # a deleted recording: named with its repair, not a bare "no such file"
    start = audio.offset + audio.score_from
    stop = audio.offset + audio.x.shape[0]
    settings, targets = [], []
    for label in labels:
        y, _ = read_wav(label.path, sample_rate=capture.sample_rate)
        if y.shape[0] < stop:
            raise PanamaError(f"recording {label.path} is shorter than the input signal")
        settings.append(capture.knob_space.validate_setting(label.setting))
        targets.append(np.asarray(y[start:stop], dtype=np.float64))
    return settings, targets


def evaluate_capture(
    directory: Path,
    *,
    settings: int = 32,
    audio_path: Path | None = None,
    seed: int = 0,
    json_out: Path | None = None,
    worst: int = 5,
    log: Callable[[str], None] | None = None,
) -> Evaluation:
    """``panama evaluate``: score the capture's final model on held-out settings.

    Writes ``DIR/evaluation.json`` (and ``json_out`` if given) and, for ``panama report``, the
    target and predicted audio of the worst and a typical setting under ``DIR/evaluation/``.
    """
    from panama.core.capture.store import Capture
    from panama.core.train.records import last_model_event, load_final_model

    log = log or (lambda message: None)
    capture = Capture.open(Path(directory))
    space = capture.knob_space
    model = load_final_model(capture)
    labeler = capture.config.labeler
    if source_is_deterministic(labeler):
        if audio_path is not None:
            from panama.core.audio import read_wav

            x, rate = read_wav(audio_path, sample_rate=capture.sample_rate)
            audio = file_audio(x, rate, Path(audio_path).name)
        else:
            audio = capture_audio(capture)
        chosen = draw_heldout_settings(space, settings, seed=seed, exclude=capture.labelled_settings())
        log(f"labelling {len(chosen)} held-out settings through {labeler}")
        targets = device_targets(labeler, capture.config.labeler_options, audio, chosen)
        source = f"{labeler}: {len(chosen)} random settings (seed {seed})"
    else:
        if audio_path is not None:
            raise PanamaError(
                f"--audio needs a software label source, and {labeler!r} records a real device",
                "drop --audio: held-out recordings are scored on the capture's own input signal",
            )
        audio = capture_audio(capture)
        chosen, targets = holdout_targets(capture, audio)
        source = f"{len(chosen)} held-out recordings (panama label --holdout)"
    log(f"running the model on {len(chosen)} settings")
    scores = score_settings(model.predict, targets, audio, chosen, space)
    root = capture_root(capture)
    evaluation = make_evaluation(
        scores, audio=audio, seed=seed, source=source, model=str((last_model_event(capture) or {}).get("path", "")),
        knob_space=space, worst=worst,
    )
    evaluation.examples = _write_examples(root, model, audio, chosen, targets, evaluation)
    trained_on = (last_model_event(capture) or {}).get("labelled")
    if trained_on is not None and trained_on != len(capture.labels()):
        evaluation.notes.append(
            f"the model was trained on {trained_on} settings but the capture now has {len(capture.labels())}; "
            f"`panama run {root}` or `panama train {root}` brings it up to date"
        )
    payload = evaluation.model_dump()
    # Strict JSON (no NaN/Infinity): other tools read this file.
    write_json_atomic(root / EVALUATION_FILE, payload, allow_nan=False)
    if json_out is not None:
        write_json_atomic(Path(json_out), payload, allow_nan=False)
    return evaluation


def _write_examples(
    root: Path, model: Any, audio: EvalAudio, settings: Sequence[KnobSetting],
    targets: Sequence[np.ndarray], evaluation: Evaluation,
) -> dict[str, dict[str, str]]:
    """Target and prediction WAVs of the worst, the median ("typical") setting and the one
    nearest the knobs' defaults, where a user starts (for reports, and ears)."""
    from panama.core.audio import write_wav_atomic

    folder = root / EXAMPLES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    picks = {"worst": evaluation.summary.worst[0], "typical": evaluation.summary.typical}
    space = model.knob_space
    if len(space) and evaluation.scores:
        home = space.to_unit(space.default_setting())
        nearest = min(evaluation.scores, key=lambda s: float(np.sum((np.asarray(s.unit) - home) ** 2))).index
        if nearest not in picks.values():
            picks["default"] = nearest
    examples = {}
    for name, index in picks.items():
        prediction = _scored(model.predict(audio.x, settings[index]), audio, "prediction")
        files = {"index": str(index)}
        for kind, y in (("target", targets[index]), ("prediction", prediction)):
            path = folder / f"{name}-{kind}.wav"
            write_wav_atomic(path, np.asarray(y, dtype=np.float32), audio.sample_rate)
            files[kind] = str(path.relative_to(root))
        examples[name] = files
    return examples
