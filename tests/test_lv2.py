"""``lv2:URI`` with Debian's real Guitarix plugins, hosted through liblilv (ctypes)."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from native import GXAMP, STUDIOPRE, STUDIOPRE_KNOBS, require_lv2
from panama.core.components import open_label_source
from panama.core.errors import PanamaError

pytestmark = pytest.mark.lv2
SR = 48_000


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    rng = np.random.default_rng(3)
    t = np.arange(SR // 2) / SR
    sig = 0.3 * np.sin(2 * np.pi * 196 * t) * np.exp(-3 * t) + 0.05 * rng.standard_normal(t.size)
    sig[: SR // 50] = 0.0
    return sig.astype(np.float32)


@pytest.fixture(scope="module")
def studiopre():
    require_lv2("gx_studiopre.lv2")
    with open_label_source(f"lv2:{STUDIOPRE}") as source:
        yield source


@pytest.fixture(scope="module")
def gxamp():
    require_lv2("gx_amp.lv2")
    with open_label_source(f"lv2:{GXAMP}") as source:
        yield source


def test_studiopre_ports_become_six_knobs(studiopre) -> None:
    space = studiopre.knob_space()
    assert space.names == STUDIOPRE_KNOBS
    assert all((k.minimum, k.maximum) == (0.0, 1.0) for k in space)
    assert [k.default for k in space] == [0.0, 0.5, 0.5, 0.5, 0.5, 0.5]


def test_gxamp_loads_with_urid_map_and_lists_its_controls(gxamp) -> None:
    space = gxamp.knob_space()
    ranges = {k.name: (k.minimum, k.maximum, k.default) for k in space}
    assert ranges["PreGain"] == (-20.0, 20.0, 0.0)
    assert ranges["MasterGain"] == (-20.0, 20.0, 0.0)
    assert ranges["Distortion"] == (1.0, 100.0, 20.0)
    assert ranges["Drive"] == (0.01, 1.0, 0.25)
    assert ranges["Presence"] == (0.0, 10.0, 5.0)
    # The bypass switch and the discrete model selectors are not knobs.
    assert not {"BYPASS", "model", "t_model", "c_model"} & set(ranges)


@pytest.mark.parametrize("which", ["studiopre", "gxamp"])
def test_settings_differ_and_repeat_exactly(which, request, x) -> None:
    source = request.getfixturevalue(which)
    space = source.knob_space()
    low = space.from_unit(np.full(len(space), 0.2))
    high = space.from_unit(np.full(len(space), 0.8))
    a = source.label(x, SR, low)
    b = source.label(x, SR, high)
    again = source.label(x, SR, low)
    assert a.shape == x.shape and np.all(np.isfinite(a)) and np.abs(a).max() > 1e-3
    np.testing.assert_array_equal(a, again)  # a fresh instance per setting: nothing carried over
    assert np.sqrt(np.mean((a - b) ** 2)) > 0.05 * np.sqrt(np.mean(a**2))


def _lv2apply(uri: str, x: np.ndarray, setting: dict[str, float], tmp_path) -> np.ndarray:
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(src, x, SR, subtype="FLOAT")
    controls = [arg for name, value in setting.items() for arg in ("-c", name, repr(float(value)))]
    subprocess.run(["lv2apply", "-i", str(src), "-o", str(dst), *controls, uri], check=True,
                   capture_output=True, timeout=60)
    y, rate = sf.read(dst, dtype="float32")
    assert rate == SR
    return y


@pytest.mark.parametrize("setting", [
    {"bright": 0, "volume": 0.5, "bass": 0.5, "middle": 0.5, "treble": 0.5, "master": 0.5},
    {"bright": 1, "volume": 0.9, "bass": 0.1, "middle": 0.75, "treble": 0.3, "master": 0.65},
])
def test_studiopre_matches_lv2apply(studiopre, x, setting, tmp_path) -> None:
    if shutil.which("lv2apply") is None:
        pytest.skip("lv2apply is not installed (apt-get install lilv-utils)")
    reference = _lv2apply(STUDIOPRE, x, setting, tmp_path)
    y = studiopre.label(x, SR, setting)
    np.testing.assert_allclose(y, reference, atol=1e-6)


def test_block_size_does_not_change_the_output(x) -> None:
    require_lv2("gx_studiopre.lv2")
    setting = {"volume": 0.7, "treble": 0.2}
    outputs = []
    for block in (256, 37):
        with open_label_source(f"lv2:{STUDIOPRE}", {"block_size": block, "isolate": False}) as source:
            outputs.append(source.label(x, SR, setting))
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-6)


def test_knobs_and_pins_from_the_spec(x) -> None:
    require_lv2("gx_amp.lv2")
    spec = f"lv2:uri={GXAMP},knobs=PreGain+Drive+model,pin.Bass=0.1,isolate=false"
    with open_label_source(spec) as source:
        space = source.knob_space()
        assert space.names == ["PreGain", "Drive", "model"]
        assert (space["model"].minimum, space["model"].maximum) == (0.0, 18.0)
        y = source.label(x, SR, {"PreGain": 5.0})
    assert np.abs(y).max() > 1e-3


@pytest.mark.parametrize(("options", "message"), [
    ({"knobs": "volume;loudness"}, "no control port 'loudness'"),
    ({"pin.volume": "2"}, "outside the port's range"),
    ({"knobs": "volume", "pin.volume": "0.5"}, "both a knob and pinned"),
    ({"output": "3"}, "output=3 does not exist"),
])
def test_bad_options_are_clear_errors(options, message) -> None:
    require_lv2("gx_studiopre.lv2")
    with pytest.raises(PanamaError) as info:
        with open_label_source(f"lv2:{STUDIOPRE}", options) as source:
            source.knob_space()
    assert message in str(info.value)


def test_unknown_plugin_is_a_clear_error() -> None:
    require_lv2()
    with pytest.raises(PanamaError, match="no LV2 plugin with URI"):
        with open_label_source("lv2:http://example.org/no-such-plugin") as source:
            source.knob_space()


def test_inspect_lists_ports_and_ranges(panama) -> None:
    require_lv2("gx_studiopre.lv2", "gx_amp.lv2")
    done = panama("labelers", "inspect", f"lv2:{STUDIOPRE}", "--json")
    assert done.returncode == 0, done.stderr
    knobs = json.loads(done.stdout)["knobs"]
    assert [k["name"] for k in knobs] == STUDIOPRE_KNOBS
    done = panama("labelers", "inspect", f"lv2:{GXAMP}")
    assert done.returncode == 0, done.stderr
    for text in ("PreGain", "-20", "Distortion", "100", "Presence"):
        assert text in done.stdout


@pytest.mark.slow
def test_cli_capture_labels_through_studiopre(panama, tmp_path) -> None:
    """`panama init --labeler lv2:…` then `panama label`: a real Guitarix amp behind the CLI."""
    require_lv2("gx_studiopre.lv2")
    cap = tmp_path / "cap"
    done = panama("init", str(cap), "--labeler", f"lv2:{STUDIOPRE}", "--preset", "tiny")
    assert done.returncode == 0, done.stderr
    assert [k["name"] for k in json.loads((cap / "capture.json").read_text())["knob_space"]["knobs"]] == STUDIOPRE_KNOBS
    for setting in ("volume=0.3,master=0.3", "bright=1,volume=0.6,treble=0.9,master=0.2"):
        done = panama("label", str(cap), "--setting", setting)
        assert done.returncode == 0, done.stderr
    from panama.core.capture.store import Capture

    capture = Capture.open(cap)
    data = capture.dataset()
    assert data.y.shape[0] == 2 and not np.allclose(data.y[0], data.y[1])
    with open_label_source(f"lv2:{STUDIOPRE}", {"isolate": False}) as source:
        np.testing.assert_allclose(data.y[0], source.label(data.x, SR, data.settings[0]), atol=1e-4)


@pytest.mark.slow
def test_panama_run_on_guitarix_studiopre(tmp_path) -> None:
    """A short active-learning capture of a real LV2 amp, end to end through the CLI."""
    from capture_helpers import run_cli

    require_lv2()
    capture = tmp_path / "studiopre"
    result = run_cli("run", str(capture), "--labeler", f"lv2:{STUDIOPRE}", "--preset", "tiny",
                     "--budget", "4", "--initial", "3", "--quiet")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in (capture / "journal.jsonl").read_text().splitlines()]
    labelled = [e for e in events if e["event"] == "labelled"]
    assert len(labelled) == 4 and len({json.dumps(e["setting"], sort_keys=True) for e in labelled}) == 4
    assert set(labelled[0]["setting"]) == set(STUDIOPRE_KNOBS)
    assert [e["sampler"] for e in events if e["event"] == "proposed"] == ["sobol", "ensemble-disagreement"]
    nam = json.loads((capture / "exports" / "default.nam").read_text())
    assert nam["architecture"] == "WaveNet" and np.all(np.isfinite(nam["weights"]))
