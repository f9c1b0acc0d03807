"""``panama report``: PNG plots and one self-contained HTML page for a capture.

What a user wants to see after a capture: did training converge (curves), where did the
sampler put its settings (per-knob histograms as the paper's Fig. 3, pairwise scatter coloured
by round), where in the knob space the model is weak (from ``evaluation.json``), and how the
worst and a typical held-out setting look and sound (waveform and spectrum, target against
prediction, from the WAVs ``panama evaluate`` saved).

The plotting functions are pure (arrays in, a PNG out); :func:`build_report` gathers the inputs
from the capture. matplotlib is imported lazily with the Agg backend, so the CLI stays instant
and no display is needed. Images are embedded as base64 data URIs: the page is one file that
can be mailed or attached to an issue.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from panama.core.errors import PanamaError
from panama.core.fsutil import write_text_atomic

REPORT_DIR = "report"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)
    return path


# ------------------------------------------------------------------------ pure extraction
def label_rounds(events: Sequence[Mapping[str, Any]]) -> dict[int, int]:
    """Label index → the round whose proposals it labelled (from the journal, in order).

    Labels made outside a round (``panama add``, imports) count as round 0's.
    """
    current = 0
    rounds: dict[int, int] = {}
    for event in events:
        kind = event.get("event")
        if kind == "proposed":
            current = int(event.get("round", current))
        elif kind == "labelled" and "index" in event:
            rounds[int(event["index"])] = current
    return rounds


def curve_series(data: Any) -> dict[str, tuple[list[float], list[float]]]:
    """Numeric series from a training-curves JSON, as name → (x, y).

    Accepts ``{"name": [y, ...]}``, ``{"name": {"step": [...], "value": [...]}}``, and a list
    of records ``[{"step": 1, "train_loss": ..., "val_mse": ...}, ...]`` (also under a
    ``"curves"``/``"history"`` key), so it reads what the trainer writes without guessing more.
    """
    if isinstance(data, Mapping):
        for key in ("curves", "history", "log", "metrics"):
            if key in data and isinstance(data[key], list | dict):
                return curve_series(data[key])
        out: dict[str, tuple[list[float], list[float]]] = {}
        for name, value in data.items():
            if isinstance(value, list) and value and all(_number(v) for v in value):
                out[str(name)] = (list(range(1, len(value) + 1)), [float(v) for v in value])
            elif isinstance(value, Mapping):
                xs = value.get("step") or value.get("steps") or value.get("x")
                ys = value.get("value") or value.get("values") or value.get("y")
                if isinstance(xs, list) and isinstance(ys, list) and len(xs) == len(ys):
                    pairs = [(float(a), float(b)) for a, b in zip(xs, ys, strict=True) if _number(a) and _number(b)]
                    if pairs:
                        out[str(name)] = ([p[0] for p in pairs], [p[1] for p in pairs])
        return out
    if isinstance(data, list) and data and all(isinstance(r, Mapping) for r in data):
        xkey = next((k for k in ("step", "epoch", "iteration") if k in data[0]), None)
        series: dict[str, tuple[list[float], list[float]]] = {}
        for i, record in enumerate(data):
            x = float(record[xkey]) if xkey and _number(record.get(xkey)) else float(i + 1)
            for name, value in record.items():
                if name in ("step", "epoch", "iteration", "seconds", "time") or not _number(value):
                    continue
                series.setdefault(str(name), ([], []))
                series[str(name)][0].append(x)
                series[str(name)][1].append(float(value))
        return series
    return {}


def _number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(float(value))


# ----------------------------------------------------------------------------- plotting
def plot_curves(series: Mapping[str, tuple[Sequence[float], Sequence[float]]], path: Path, *, title: str = "") -> Path:
    """Training and validation curves; losses on a log axis when they are all positive."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4), constrained_layout=True)
    positive = True
    for name, (xs, ys) in series.items():
        style = "--" if "val" in name.lower() else "-"
        ax.plot(xs, ys, style, label=name, marker="o" if len(xs) < 30 else None, ms=3)
        positive &= all(y > 0 for y in ys)
    if positive and series:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss / metric")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "training curves")
    return _save(fig, path)


def _knob_grid(plt: Any, knobs: int, width: float, height: float) -> tuple[Any, Any, int]:
    """One panel per knob, three to a row."""
    k = max(1, knobs)
    cols = min(3, k)
    rows = math.ceil(k / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False,
                             constrained_layout=True)
    return fig, axes, cols


def plot_knob_histograms(unit: np.ndarray, names: Sequence[str], path: Path, *, bins: int = 10) -> Path:
    """One histogram per knob of the chosen settings (normalised values), as the paper's Fig. 3."""
    plt = _pyplot()
    unit = np.atleast_2d(np.asarray(unit, dtype=float))
    fig, axes, _ = _knob_grid(plt, len(names), 3.3, 2.4)
    for i, ax in enumerate(axes.flat):
        if i >= len(names):
            ax.axis("off")
            continue
        ax.hist(unit[:, i], bins=bins, range=(0, 1), color="#3b7dd8", edgecolor="white")
        ax.set_title(names[i])
        ax.set_xlim(0, 1)
    fig.suptitle(f"chosen settings per knob ({unit.shape[0]} settings, normalised)")
    return _save(fig, path)


def plot_pairs(unit: np.ndarray, names: Sequence[str], rounds: Sequence[int], path: Path) -> Path:
    """Pairwise scatter of the chosen settings (lower triangle), coloured by round."""
    plt = _pyplot()
    unit = np.atleast_2d(np.asarray(unit, dtype=float))
    k = len(names)
    if k < 2:
        fig, ax = plt.subplots(figsize=(5, 2), constrained_layout=True)
        ax.scatter(unit[:, 0] if k else np.zeros(len(rounds)), np.zeros(len(rounds)), c=rounds, cmap="viridis")
        ax.set_yticks([])
        ax.set_xlabel(names[0] if k else "")
        return _save(fig, path)
    size = min(2.0, 12 / (k - 1))
    fig, axes = plt.subplots(k - 1, k - 1, figsize=(size * (k - 1) + 1.2, size * (k - 1)), squeeze=False,
                             constrained_layout=True)
    colour = np.asarray(rounds, dtype=float)
    vmax = max(1.0, float(colour.max()) if colour.size else 1.0)
    mappable = None
    for r in range(1, k):
        for c in range(k - 1):
            ax = axes[r - 1][c]
            if c >= r:
                ax.axis("off")
                continue
            mappable = ax.scatter(unit[:, c], unit[:, r], c=colour, cmap="viridis", vmin=0, vmax=vmax, s=14,
                                  edgecolors="black", linewidths=0.3)
            ax.set_xlim(-0.05, 1.05)
            ax.set_ylim(-0.05, 1.05)
            ax.set_xticks([0, 1])
            ax.set_yticks([0, 1])
            if r == k - 1:
                ax.set_xlabel(names[c])
            if c == 0:
                ax.set_ylabel(names[r])
    if mappable is not None:
        from matplotlib.ticker import MaxNLocator

        bar = fig.colorbar(mappable, ax=axes, label="round", shrink=0.6)
        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()
    fig.suptitle("chosen settings, pairwise (colour: round)")
    return _save(fig, path)


def plot_error_map(
    unit: np.ndarray, esr: Sequence[float], names: Sequence[str], path: Path, *,
    labelled: np.ndarray | None = None,
) -> Path:
    """Held-out ESR against each knob's value, with the labelled values as ticks underneath."""
    plt = _pyplot()
    unit = np.atleast_2d(np.asarray(unit, dtype=float))
    error = np.maximum(np.asarray(esr, dtype=float), 1e-12)
    fig, axes, cols = _knob_grid(plt, len(names), 3.6, 2.7)
    for i, ax in enumerate(axes.flat):
        if i >= len(names):
            ax.axis("off")
            continue
        ax.scatter(unit[:, i], error, c=np.log10(error), cmap="magma_r", s=16, edgecolors="black", linewidths=0.2)
        ax.set_yscale("log")
        ax.set_xlim(-0.02, 1.02)
        ax.set_title(names[i])
        ax.grid(True, which="both", alpha=0.25)
        if labelled is not None and len(labelled):
            low = error.min() / 2
            ax.plot(labelled[:, i], np.full(len(labelled), low), "|", color="#3b7dd8", ms=10, alpha=0.7)
        if i % cols == 0:
            ax.set_ylabel("held-out ESR")
    fig.suptitle("error across the knob space (blue ticks: labelled settings)")
    return _save(fig, path)


def plot_example(
    target: np.ndarray, prediction: np.ndarray, sample_rate: int, path: Path, *, title: str,
    window_s: float = 0.03,
) -> Path:
    """Waveform (whole, and a zoom where the error is largest) and spectrum, target vs model."""
    from scipy.signal import welch

    plt = _pyplot()
    target = np.asarray(target, dtype=float)
    prediction = np.asarray(prediction, dtype=float)
    t = np.arange(target.size) / sample_rate
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6), constrained_layout=True)
    axes[0].plot(t, target, lw=0.6, label="target")
    axes[0].plot(t, prediction, lw=0.6, alpha=0.8, label="model")
    axes[0].set_xlabel("time (s)")
    axes[0].set_title("waveform")
    axes[0].legend(fontsize=8)

    width = max(16, int(window_s * sample_rate))
    error = np.convolve((target - prediction) ** 2, np.ones(width), mode="valid") if target.size > width else None
    start = int(np.argmax(error)) if error is not None else 0
    zoom = slice(start, min(target.size, start + width))
    axes[1].plot(t[zoom] * 1000, target[zoom], lw=1, label="target")
    axes[1].plot(t[zoom] * 1000, prediction[zoom], lw=1, alpha=0.8, label="model")
    axes[1].set_xlabel("time (ms)")
    axes[1].set_title(f"zoom: largest error ({window_s * 1000:.0f} ms)")

    nperseg = int(min(4096, max(256, 2 ** math.floor(math.log2(max(target.size // 4, 256))))))
    for y, name in ((target, "target"), (prediction, "model"), (target - prediction, "error")):
        f, p = welch(y, fs=sample_rate, nperseg=min(nperseg, y.size))
        axes[2].semilogx(f[1:], 10 * np.log10(p[1:] + 1e-20), lw=1, label=name)
    axes[2].set_xlabel("frequency (Hz)")
    axes[2].set_ylabel("power (dB)")
    axes[2].set_title("spectrum (Welch)")
    axes[2].legend(fontsize=8)
    axes[2].grid(True, which="both", alpha=0.25)
    fig.suptitle(title)
    return _save(fig, path)


# --------------------------------------------------------------------------------- HTML
@dataclass
class Section:
    title: str
    images: list[Path] = field(default_factory=list)
    html: str = ""


def data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


# Players carry at most this much audio each (the page stays mailable).
MAX_AUDIO_SECONDS = 15.0
_EXAMPLE_TITLES = {"worst": "worst setting", "typical": "median setting", "default": "setting nearest the defaults"}


def audio_uris(clips: Sequence[np.ndarray], sample_rate: int) -> tuple[list[str], float]:
    """16-bit WAV data URIs of clips that are compared by ear, and the gain applied to them.

    Clips louder than full scale are turned down together by one factor, so their relative
    levels stay as they are; each is cut to :data:`MAX_AUDIO_SECONDS`.
    """
    import io

    import soundfile as sf

    keep = int(MAX_AUDIO_SECONDS * sample_rate)
    clips = [np.asarray(c, dtype=np.float64).reshape(-1)[:keep] for c in clips]
    peak = max((float(np.max(np.abs(c))) for c in clips if c.size), default=0.0)
    gain = 1.0 if peak <= 0.999 else 0.999 / peak
    uris = []
    for clip in clips:
        buffer = io.BytesIO()
        sf.write(buffer, clip * gain, int(sample_rate), format="WAV", subtype="PCM_16")
        uris.append("data:audio/wav;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"))
    return uris, gain


def players_html(rows: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> str:
    """A table of ``<audio>`` players: one row per example, one column per (label, data URI)."""
    parts = ["<table class='players'>"]
    for title, players in rows:
        cells = "".join(f"<td>{html.escape(label)}<br><audio controls preload='metadata' src='{uri}'></audio></td>"
                        for label, uri in players)
        parts.append(f"<tr><th>{html.escape(title)}</th>{cells}</tr>")
    parts.append("</table>")
    return "".join(parts)


def table_html(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None) -> str:
    parts = ["<table>"]
    if header:
        parts.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
    for row in rows:
        parts.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
    parts.append("</table>")
    return "".join(parts)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;
color:#222;padding:0 1em}h1{margin-bottom:0.2em}h2{border-bottom:1px solid #ddd;padding-bottom:0.2em;
margin-top:1.6em}img{max-width:100%;height:auto;display:block;margin:0.8em 0;border:1px solid #eee}
table{border-collapse:collapse;margin:0.6em 0;font-size:0.9em}td,th{border:1px solid #ddd;
padding:0.25em 0.6em;text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.note{color:#666;font-style:italic}.players td{text-align:left}audio{width:320px}
"""


def render_html(title: str, sections: Sequence[Section], *, subtitle: str = "") -> str:
    """One self-contained page: no external files, scripts, fonts or styles."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    if subtitle:
        body.append(f"<p class='note'>{html.escape(subtitle)}</p>")
    for section in sections:
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        if section.html:
            body.append(section.html)
        for image in section.images:
            body.append(f"<img alt='{html.escape(Path(image).stem)}' src='{data_uri(image)}'>")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body) + "\n</body></html>\n"
    )


def _note(text: str) -> str:
    return f"<p class='note'>{html.escape(text)}</p>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def read_curves(models_dir: Path, model_file: Path | None = None) -> dict[str, tuple[list[float], list[float]]]:
    """Every numeric series of the trainer's curves under ``models/``.

    ``panama train`` writes ``models/curves.json``; ``panama run`` keeps the same history
    inside the checkpoint, which is read (with torch, lazily) when there is no JSON.
    """
    series: dict[str, tuple[list[float], list[float]]] = {}
    for path in sorted(Path(models_dir).glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for name, values in curve_series(data).items():
            series[name if path.stem in ("curves", "model") else f"{path.stem}:{name}"] = values
    if not series and model_file is not None and Path(model_file).is_file():
        from panama.core.train import TrainedModel

        series = curve_series({"history": TrainedModel.load(model_file).history})
    return series


def build_report(directory: Path, output: Path | None = None) -> Path:
    """Gather the capture's facts, draw every plot into ``DIR/report/`` and write the page."""
    from panama.core.capture.store import Capture
    from panama.core.study.heldout import EVALUATION_FILE, capture_root, read_evaluation

    capture = Capture.open(Path(directory))
    root = capture_root(capture)
    out_dir = root / REPORT_DIR
    space = capture.knob_space
    names = space.names
    sections: list[Section] = []

    config = capture.config
    labels = capture.labels()
    overview = [
        ("labeler", config.labeler), ("sampler", config.sampler), ("labelled settings", len(labels)),
        ("budget", config.budget), ("sample rate", capture.sample_rate),
        ("knobs", ", ".join(k.describe() for k in space)),
    ]
    from panama.core.train.records import last_model_event

    model_event = last_model_event(capture)
    for name, value in ((model_event or {}).get("metrics") or {}).items():
        overview.append((name, _fmt(value)))
    sections.append(Section("Capture", html=table_html(overview)))

    model_file = root / model_event["path"] if model_event and model_event.get("path") else None
    curves = read_curves(capture.models_dir, model_file)
    if curves:
        sections.append(Section("Training and validation curves", [plot_curves(curves, out_dir / "curves.png")]))
    else:
        sections.append(Section("Training and validation curves", html=_note("no training curves in models/ yet")))

    if labels:
        settings = [label.setting for label in labels]
        unit = space.to_unit_array(settings)
        rounds_of = label_rounds(capture.events())
        rounds = [rounds_of.get(label.index, 0) for label in labels]
        images = [plot_knob_histograms(unit, names, out_dir / "settings-histograms.png")]
        if names:
            images.append(plot_pairs(unit, names, rounds, out_dir / "settings-pairs.png"))
        sections.append(Section(f"Chosen settings ({len(labels)}, {max(rounds) + 1} rounds)", images))
    else:
        unit = np.empty((0, len(names)))
        sections.append(Section("Chosen settings", html=_note("nothing labelled yet")))

    from panama.core.study.report_rounds import rounds_sections

    sections.extend(rounds_sections(root, out_dir, names))

    evaluation_path = root / EVALUATION_FILE
    if evaluation_path.exists():
        evaluation = read_evaluation(evaluation_path)
        s = evaluation.summary
        stats = table_html(
            [(m, _fmt(st.mean), _fmt(st.median), _fmt(st.p90), _fmt(st.max)) for m, st in (("MSE", s.mse), ("ESR", s.esr))],
            ("metric", "mean", "median", "90th pct", "worst"),
        )
        by_index = {score.index: score for score in evaluation.scores}
        worst = table_html(
            [(i, *(_fmt(by_index[i].setting[k]) for k in evaluation.knobs), _fmt(by_index[i].mse),
              _fmt(by_index[i].esr), by_index[i].grade) for i in s.worst],
            ("#", *evaluation.knobs, "MSE", "ESR", "grade"),
        )
        intro = _note(f"{s.settings} held-out settings — {evaluation.source}; audio: {evaluation.audio}")
        intro += "".join(_note(f"note: {note}") for note in evaluation.notes)
        held_unit = np.array([score.unit for score in evaluation.scores], dtype=float).reshape(len(evaluation.scores), -1)
        images = []
        if held_unit.shape[1]:
            images.append(plot_error_map(held_unit, [score.esr for score in evaluation.scores], evaluation.knobs,
                                         out_dir / "error-map.png", labelled=unit if len(unit) else None))
        sections.append(Section("Error across the knob space", images, intro + stats + "<h3>Worst settings</h3>" + worst))
        example_images, players = [], []
        for name, files in evaluation.examples.items():
            target, prediction = (_read_audio(root / files[kind]) for kind in ("target", "prediction"))
            score = by_index[int(files["index"])]
            title = f"{name} setting #{score.index}: {space.format_setting(score.setting)} — ESR {score.esr:.3g}"
            example_images.append(plot_example(target, prediction, evaluation.sample_rate,
                                               out_dir / f"example-{name}.png", title=title))
            uris, gain = audio_uris([target, prediction], evaluation.sample_rate)
            label = f"{_EXAMPLE_TITLES.get(name, name)}: {space.format_setting(score.setting)} (ESR {score.esr:.3g})"
            if gain < 1:
                label += f", both turned down {20 * math.log10(gain):.1f} dB"
            players.append((label, [("device", uris[0]), ("model", uris[1])]))
        if players:
            sections.append(Section("Listen: device vs model", html=_note(f"on {evaluation.audio}") + players_html(players)))
        if example_images:
            sections.append(Section("Worst and typical setting: target vs model", example_images))
    else:
        sections.append(Section("Error across the knob space",
                                html=_note(f"no evaluation yet: run `panama evaluate {root}` and then the report again")))

    page = render_html(f"PANAMA capture report — {root.name}", sections, subtitle=str(root))
    return write_text_atomic(Path(output) if output else root / "report.html", page)


def _read_audio(path: Path) -> np.ndarray:
    import soundfile as sf

    try:
        y, _ = sf.read(str(path), dtype="float32", always_2d=False)
    except (OSError, RuntimeError) as exc:
        raise PanamaError(f"cannot read {path}: {exc}", "run `panama evaluate` again to rewrite it") from None
    return np.asarray(y)
