"""The OUTDIR of ``panama train data.json model.json learning.json OUTDIR`` (NAM's ``nam_full``).

NAM's trainer leaves a ``.nam``, its checkpoints, a plot of prediction vs target and copies of
the three configs; PANAMA's OUTDIR holds the same, so a NAM user finds what they trained for:

    OUTDIR/model.pt                    best weights (PANAMA checkpoint: ``panama export OUTDIR``)
    OUTDIR/checkpoints/last.ckpt       Lightning checkpoint (``trainer_fit_kwargs.ckpt_path``)
    OUTDIR/curves.json                 metrics and training curves
    OUTDIR/config_{data,model,learning}.json   the configs as run (paths made absolute)
    OUTDIR/model.nam | model-<setting>.nam     a .nam per distinct setting of the entries
    OUTDIR/comparison.png              prediction vs target on the first validation entry

``panama evaluate OUTDIR`` scores the model on the validation entries (``evaluation.json``,
example WAVs) and ``panama report OUTDIR`` draws the page, as for a capture.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from panama.core.errors import PanamaError

CONFIG_FILES = {"data": "config_data.json", "model": "config_model.json", "learning": "config_learning.json"}
CHECKPOINT = Path("checkpoints") / "last.ckpt"
PLOT = "comparison.png"


def is_outdir(path: Path) -> bool:
    path = Path(path)
    return (path / "model.pt").is_file() and (path / CONFIG_FILES["data"]).is_file()


def _absolute(entry: Any, base: Path) -> Any:
    if isinstance(entry, list):
        return [_absolute(e, base) for e in entry]
    if not isinstance(entry, dict):
        return entry
    out = dict(entry)
    for key in ("x_path", "y_path"):
        if isinstance(out.get(key), str) and not Path(out[key]).expanduser().is_absolute():
            out[key] = str((base / out[key]).resolve())
    return out


def write_configs(outdir: Path, raw: dict[str, Any]) -> None:
    """Copies of the configs as run, with audio paths absolute so OUTDIR can be evaluated anywhere."""
    from panama.core.fsutil import write_json_atomic

    data = dict(raw["data"])
    base = Path(raw["base"])
    for section in ("train", "validation"):
        if section in data:
            data[section] = _absolute(data[section], base)
    for name, content in (("data", data), ("model", raw["model"]), ("learning", raw["learning"])):
        write_json_atomic(outdir / CONFIG_FILES[name], content)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", text).strip("_")


def write_nam_files(outdir: Path, model: Any, settings: list[dict[str, float]], log: Callable[[str], None]) -> list[Path]:
    """A ``.nam`` per distinct setting (one ``model.nam`` for a plain model), as NAM's trainer leaves one."""
    from panama.core.components import build

    exporter = build("exporter", "nam")
    space = model.knob_space
    distinct: dict[str, dict[str, float]] = {}
    for setting in settings or [space.default_setting()]:
        distinct.setdefault(space.format_setting(setting), setting)
    written = []
    for text, setting in distinct.items():
        name = "model.nam" if not len(space) else f"model-{slug(text)}.nam"
        try:
            written.append(exporter.export(model, outdir / name, setting if len(space) else None))
        except PanamaError as exc:
            log(f"no .nam written: {exc.message}")
            break
    return written


def write_plot(outdir: Path, model: Any, data: Any) -> Path | None:
    """Prediction vs target on the first validation entry (NAM's comparison plot), as a PNG."""
    from panama.core.study.report_html import plot_example

    rf = model.receptive_field
    x = data.input_for(0)
    setting = data.settings[0] if data.settings else None
    prediction = model.predict(x, setting)[rf - 1 :]
    target = data.y[0][rf - 1 :]
    esr = float(np.mean((prediction - target) ** 2) / (np.mean(target**2) + 1e-12))
    title = (model.knob_space.format_setting(setting) + " — " if setting else "") + f"ESR {esr:.4g}"
    return plot_example(target, prediction, data.sample_rate, outdir / PLOT, title=title)


def _plan(outdir: Path) -> Any:
    from panama.core.train.nam_config import load_plan

    return load_plan(*(outdir / CONFIG_FILES[k] for k in ("data", "model", "learning")), resume=False)


def evaluate_outdir(outdir: Path, *, worst: int = 5, json_out: Path | None = None) -> Any:
    """Score OUTDIR's model on every validation entry of its configs; writes ``evaluation.json``."""
    from panama.core.audio import write_wav_atomic
    from panama.core.fsutil import write_json_atomic
    from panama.core.study.heldout import (
        EVALUATION_FILE,
        EXAMPLES_DIR,
        EvalAudio,
        SettingScore,
        esr_grade,
        make_evaluation,
    )
    from panama.core.train import TrainedModel

    model = TrainedModel.load(outdir / "model.pt")
    plan = _plan(outdir)
    val = plan.val
    if val is None:
        raise PanamaError(f"{outdir}'s configs have no validation entries", "add a validation section to the data config and retrain")
    rf = model.receptive_field
    space = model.knob_space
    scores, pairs = [], []
    for i in range(val.num_settings):
        setting = val.settings[i] if val.settings else space.default_setting()
        pred = model.predict(val.input_for(i), setting)[rf - 1 :].astype(np.float64)
        target = val.y[i][rf - 1 :].astype(np.float64)
        esr = float(np.mean((pred - target) ** 2) / (np.mean(target**2) + 1e-12))
        pairs.append((pred, target))
        scores.append(SettingScore(index=i, setting=dict(setting), unit=[float(v) for v in space.to_unit(setting)],
                                   mse=float(np.mean((pred - target) ** 2)), esr=esr,
                                   target_rms=float(np.sqrt(np.mean(target**2))), grade=esr_grade(esr)))
    audio = EvalAudio(val.input_for(0), rf - 1, val.sample_rate, f"the validation entries of {CONFIG_FILES['data']}")
    evaluation = make_evaluation(scores, audio=audio, seed=0, source=f"{len(scores)} validation entries",
                                 model="model.pt", knob_space=space, worst=worst)
    folder = outdir / EXAMPLES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for name, index in {"worst": evaluation.summary.worst[0], "typical": evaluation.summary.typical}.items():
        files = {"index": str(index)}
        for kind, y in (("prediction", pairs[index][0]), ("target", pairs[index][1])):
            write_wav_atomic(folder / f"{name}-{kind}.wav", y.astype(np.float32), val.sample_rate)
            files[kind] = f"{EXAMPLES_DIR}/{name}-{kind}.wav"
        evaluation.examples[name] = files
    payload = evaluation.model_dump()
    write_json_atomic(outdir / EVALUATION_FILE, payload)
    if json_out is not None:
        write_json_atomic(Path(json_out), payload)
    return evaluation


def report_outdir(outdir: Path, output: Path | None = None) -> Path:
    """The report page for OUTDIR: the run's numbers, curves, evaluation and examples."""
    import json

    from panama.core.fsutil import write_text_atomic
    from panama.core.study.heldout import EVALUATION_FILE, read_evaluation
    from panama.core.study.report_html import (
        REPORT_DIR,
        Section,
        _fmt,
        _note,
        _read_audio,
        plot_curves,
        plot_example,
        read_curves,
        render_html,
        table_html,
    )

    curves_file = outdir / "curves.json"
    info = json.loads(curves_file.read_text()) if curves_file.is_file() else {}
    rows = [("net", info.get("net", "?"))] + [(k, _fmt(v)) for k, v in (info.get("metrics") or {}).items() if not isinstance(v, list | dict)]
    sections = [Section("Training run", html=table_html(rows))]
    curves = read_curves(outdir)
    if curves:
        sections.append(Section("Training and validation curves", [plot_curves(curves, outdir / REPORT_DIR / "curves.png")]))
    if (outdir / EVALUATION_FILE).is_file():
        evaluation = read_evaluation(outdir / EVALUATION_FILE)
        table = table_html([(s.index, *(_fmt(s.setting.get(k)) for k in evaluation.knobs), _fmt(s.mse), _fmt(s.esr), s.grade)
                            for s in evaluation.scores], ("#", *evaluation.knobs, "MSE", "ESR", "grade"))
        images = []
        for name, files in evaluation.examples.items():
            target, prediction = (_read_audio(outdir / files[kind]) for kind in ("target", "prediction"))
            images.append(plot_example(target, prediction, evaluation.sample_rate, outdir / REPORT_DIR / f"example-{name}.png",
                                       title=f"{name} validation entry #{files['index']}"))
        sections.append(Section("Validation entries", images, _note(evaluation.source) + table))
    else:
        sections.append(Section("Validation entries", html=_note(f"no evaluation yet: run `panama evaluate {outdir}`")))
    page = render_html(f"PANAMA training report — {outdir.name}", sections, subtitle=str(outdir))
    return write_text_atomic(Path(output) if output else outdir / "report.html", page)
