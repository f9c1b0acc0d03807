"""Reports: the plot and page builders, the page in headless Chromium, then `panama report`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from panama.core.fsutil import write_text_atomic
from panama.core.study.report_html import (
    Section,
    audio_uris,
    curve_series,
    label_rounds,
    players_html,
    plot_curves,
    plot_error_map,
    plot_example,
    plot_knob_histograms,
    plot_pairs,
    render_html,
    table_html,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
# The histogram bars' colour (#3b7dd8): present in a screenshot only if the images decoded.
BAR_RGB = np.array([0x3B, 0x7D, 0xD8]) / 255


def is_png(path: Path) -> bool:
    return Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_label_rounds_follow_the_journal():
    events = [
        {"event": "proposed", "round": 0, "settings": []},
        {"event": "labelled", "index": 1}, {"event": "labelled", "index": 2},
        {"event": "round-finished", "round": 0},
        {"event": "proposed", "round": 1, "settings": []},
        {"event": "labelled", "index": 3},
        {"event": "model-trained"},
    ]
    assert label_rounds(events) == {1: 0, 2: 0, 3: 1}
    assert label_rounds([{"event": "labelled", "index": 1}]) == {1: 0}


def test_curve_series_reads_the_usual_shapes():
    assert curve_series({"train_loss": [3, 2, 1]}) == {"train_loss": ([1, 2, 3], [3.0, 2.0, 1.0])}
    records = [{"step": 10, "seconds": 1.0, "train_loss": 1.0},
               {"step": 20, "seconds": 2.0, "train_loss": 0.5, "val_mse": 0.2, "val_mse_members": [0.1, 0.3]}]
    assert curve_series({"history": records}) == {
        "train_loss": ([10.0, 20.0], [1.0, 0.5]), "val_mse": ([20.0], [0.2])}
    assert curve_series({"val": {"step": [1, 2], "value": [0.3, float("nan")]}}) == {"val": ([1.0], [0.3])}
    assert curve_series("nonsense") == {} and curve_series([]) == {}


def _report_images(tmp_path: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    names = ["gain", "bass", "mid", "treble"]
    unit = rng.random((20, 4))
    sr = 8000
    t = np.arange(sr // 2) / sr
    target = np.tanh(3 * np.sin(2 * np.pi * 110 * t))
    return [
        plot_curves({"train_loss": ([1, 2, 3], [1.0, 0.5, 0.3]), "val_mse": ([1, 3], [0.8, 0.4])}, tmp_path / "c.png"),
        plot_knob_histograms(unit, names, tmp_path / "h.png"),
        plot_pairs(unit, names, [i // 5 for i in range(20)], tmp_path / "p.png"),
        plot_error_map(rng.random((30, 4)), 10 ** rng.uniform(-3, 0, 30), names, tmp_path / "e.png", labelled=unit),
        plot_example(target, 0.9 * target + 0.01, sr, tmp_path / "x.png", title="worst"),
    ]


def test_plots_are_pngs(tmp_path):
    for path in _report_images(tmp_path):
        assert is_png(path) and path.stat().st_size > 5_000, path
    # one knob and no knobs at all still plot
    assert is_png(plot_pairs(np.array([[0.2], [0.8]]), ["gain"], [0, 1], tmp_path / "one.png"))
    assert is_png(plot_knob_histograms(np.array([[0.2], [0.8]]), ["gain"], tmp_path / "oneh.png"))


def test_page_is_self_contained_and_escaped(tmp_path):
    images = _report_images(tmp_path)
    page = render_html("<b>amp</b>", [Section("plots", images, table_html([("a<", 1.5)], ("k", "v")))])
    assert "&lt;b&gt;amp" in page and "a&lt;" in page
    srcs = re.findall(r"src='([^']*)'", page)
    assert len(srcs) == len(images) and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "http" not in page and "<script" not in page and "<link" not in page
    path = write_text_atomic(tmp_path / "r.html", page)
    assert path.read_text() == page


def chromium_render(page: Path, tmp_path: Path, height: int = 6000) -> tuple[np.ndarray, str]:
    """Open ``page`` in headless Chromium: the screenshot as RGB floats, and its log."""
    import matplotlib.image

    shot = tmp_path / f"{page.stem}-shot.png"
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
         "--hide-scrollbars", f"--window-size=1280,{height}", f"--screenshot={shot}", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    return matplotlib.image.imread(shot)[..., :3], proc.stderr


def page_problems(log: str) -> list[str]:
    """Console errors and failed loads Chromium reported for the page."""
    return [line for line in log.splitlines()
            if "CONSOLE" in line or "Failed to load" in line or "ERR_INVALID_URL" in line]


def bar_pixels(rgb: np.ndarray) -> int:
    return int(np.sum(np.all(np.abs(rgb - BAR_RGB) < 0.02, axis=-1)))


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_page_renders_its_images_in_headless_chromium(tmp_path):
    images = _report_images(tmp_path)
    good = write_text_atomic(tmp_path / "good.html", render_html("report", [Section("plots", images)]))
    rgb, log = chromium_render(good, tmp_path)
    assert page_problems(log) == []
    assert bar_pixels(rgb) > 2_000  # the histogram image decoded and is on screen

    # the check can fail: the same page with its images broken shows no bars
    broken = good.read_text().replace("data:image/png;base64,iVBOR", "data:image/png;base64,AAAA")
    rgb, _ = chromium_render(write_text_atomic(tmp_path / "broken.html", broken), tmp_path)
    assert bar_pixels(rgb) < 50


_PROBE = """<script>
function probe(){var a=[...document.querySelectorAll('audio')];
if(a.every(e=>e.readyState>=1||e.error)){document.body.setAttribute('data-durations',
a.map(e=>e.error?'error':e.duration.toFixed(4)).join(','));}else setTimeout(probe,50);}
window.addEventListener('load',probe);
</script>"""


def audio_durations(page: Path, tmp_path: Path) -> list[str]:
    """Open ``page`` (plus a probe script) in headless Chromium: each <audio>'s duration once its
    metadata loaded, or 'error' when the browser could not decode it."""
    probe = write_text_atomic(tmp_path / f"{page.stem}-probe.html", page.read_text().replace("</body>", _PROBE + "</body>"))
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=20000",
                           "--dump-dom", probe.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    found = re.search(r'data-durations="([^"]*)"', proc.stdout)
    assert found, proc.stderr[-2000:]
    return found.group(1).split(",")


def test_audio_players_are_16_bit_wavs_turned_down_together():
    import io

    import soundfile as sf

    sr = 8000
    quiet, loud = 0.5 * np.ones(sr // 2), 2.0 * np.ones(sr // 2)
    uris, gain = audio_uris([quiet, loud], sr)
    assert gain == pytest.approx(0.999 / 2.0)
    import base64

    clips = [sf.read(io.BytesIO(base64.b64decode(u.split(",", 1)[1]))) for u in uris]
    assert all(rate == sr for _, rate in clips)
    assert clips[1][0].max() == pytest.approx(0.999, abs=1e-3) and clips[0][0].max() == pytest.approx(0.25, abs=1e-3)
    assert audio_uris([quiet], sr)[1] == 1.0
    long, _ = audio_uris([np.zeros(int(40 * sr))], sr)
    assert sf.info(io.BytesIO(base64.b64decode(long[0].split(",", 1)[1]))).duration == pytest.approx(15.0)
    assert players_html([("a<b", [("device", uris[0])])]).count("<audio") == 1


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_audio_players_load_in_headless_chromium(tmp_path):
    sr = 48_000
    t = np.arange(int(1.25 * sr)) / sr
    uris, _ = audio_uris([0.3 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 330 * t[: sr // 2])], sr)
    page = render_html("listen", [Section("Listen", html=players_html([("x", [("device", uris[0]), ("model", uris[1])])]))])
    good = write_text_atomic(tmp_path / "listen.html", page)
    assert audio_durations(good, tmp_path) == ["1.2500", "0.5000"]
    # the check can fail: a broken data URI does not play
    broken = write_text_atomic(tmp_path / "broken.html", page.replace("base64,UklGR", "base64,AAAA", 1))
    assert audio_durations(broken, tmp_path)[0] == "error"


# ------------------------------------------------------------------ end to end on the sim
@pytest.mark.slow
def test_report_of_a_real_capture(trained_capture, tmp_path, panama):
    from eval_helpers import copy_capture

    root = copy_capture(trained_capture, tmp_path / "amp")
    before = panama("report", str(root), env={"OMP_NUM_THREADS": "1"})
    assert before.returncode == 0, before.stderr
    page = (root / "report.html").read_text()
    assert "panama evaluate" in page  # says how to get the error sections
    assert len(re.findall(r"src='data:image/png;base64,", page)) >= 3

    assert panama("evaluate", str(root), "--settings", "4", "-q").returncode == 0
    done = panama("report", str(root), "-o", str(tmp_path / "page.html"))
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "page.html").read_text()
    for title in ("Training and validation curves", "Chosen settings", "Error across the knob space",
                  "Worst settings", "Worst and typical setting"):
        assert title in page
    pngs = sorted(p.name for p in (root / "report").glob("*.png"))
    assert {"settings-histograms.png", "settings-pairs.png", "error-map.png", "example-worst.png",
            "example-typical.png"} <= set(pngs)
    assert len(re.findall(r"src='data:image/png;base64,", page)) == len(pngs)
    assert "http" not in page and "<script" not in page
    examples = json.loads((root / "evaluation.json").read_text())["examples"]
    assert "Listen: device vs model" in page and page.count("<audio") == 2 * len(examples) >= 4

    if CHROMIUM:
        rgb, log = chromium_render(tmp_path / "page.html", tmp_path, height=9000)
        assert page_problems(log) == []
        assert bar_pixels(rgb) > 2_000
        scored = json.loads((root / "evaluation.json").read_text())["scored_samples"] / 48_000
        assert audio_durations(tmp_path / "page.html", tmp_path) == [f"{scored:.4f}"] * (2 * len(examples))


def test_report_of_a_missing_capture_is_one_line(tmp_path, panama):
    done = panama("report", str(tmp_path / "nothing"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
