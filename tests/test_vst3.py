"""``vst:PATH`` against a real VST3: PANAMA's own test amp (tests/vst3), built with Debian's JUCE.

The test amp is y = level · onepole_tone(tanh((1 + drive²) · x)), delayed by 64 samples that it
reports as latency; its Tone is a skewed 200…8000 Hz cutoff. So the expected output of every
setting can be computed here independently, which checks the whole path: knob → raw parameter
value → plugin → reset → latency compensation.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from native import test_vst3  # noqa: F401  (session fixture: builds the plugin once)
from panama.core.components import open_label_source
from panama.core.errors import PanamaError

pytestmark = pytest.mark.vst3
SR = 48_000
LATENCY = 64


def expected(x: np.ndarray, drive: float, tone_raw: float, level_db: float) -> np.ndarray:
    cutoff = 200.0 + 7800.0 * tone_raw ** (1 / 0.3)  # JUCE NormalisableRange(200, 8000, skew 0.3)
    alpha = 1.0 - np.exp(-2 * np.pi * cutoff / SR)
    shaped = np.tanh((1.0 + drive**2) * x.astype(np.float64))
    return 10 ** (level_db / 20) * lfilter([alpha], [1.0, alpha - 1.0], shaped)


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    rng = np.random.default_rng(7)
    t = np.arange(SR // 4) / SR
    sig = 0.2 * np.sin(2 * np.pi * 110 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 0.02 * rng.standard_normal(t.size)
    sig[:200] = 0.0
    sig[300] = 0.9  # an impulse: where it comes out shows the latency compensation
    return sig.astype(np.float32)


@pytest.fixture(scope="module")
def amp(test_vst3):  # noqa: F811
    with open_label_source(f"vst:{test_vst3}") as source:
        yield source


def test_parameters_become_knobs_with_the_plugins_own_ranges(amp) -> None:
    space = amp.knob_space()
    assert space.names == ["drive", "tone", "output_level"]  # bypass is not a knob
    drive, tone, level = space.knobs
    assert (drive.minimum, drive.maximum, drive.default) == (0.0, 10.0, 5.0)
    # Output Level's display is linear in the raw value: the knob speaks dB.
    assert (level.minimum, level.maximum, level.default, level.unit) == (-24.0, 6.0, 0.0, "dB")
    # Tone's display is skewed: the knob is the raw value itself.
    assert (tone.minimum, tone.maximum, tone.unit) == (0.0, 1.0, "normalised")


@pytest.mark.parametrize("setting", [
    {"drive": 0.0, "tone": 1.0, "output_level": 0.0},
    {"drive": 7.5, "tone": 0.35, "output_level": -6.0},
    {"drive": 2.0, "tone": 0.8, "output_level": 4.5},
])
def test_output_matches_the_plugin_model_at_every_setting(amp, x, setting) -> None:
    y = amp.label(x, SR, setting)
    assert y.shape == x.shape and y.dtype == np.float32
    want = expected(x, setting["drive"], setting["tone"], setting["output_level"])
    np.testing.assert_allclose(y, want, atol=2e-5)


def test_reported_latency_is_compensated(amp, x) -> None:
    y = amp.label(x, SR, {"drive": 0.0, "tone": 1.0})
    # The plugin delays by 64 samples internally; compensated, the impulse's response starts
    # where the impulse is, not 64 samples later.
    assert int(np.argmax(np.abs(y[250:400]))) + 250 == 300
    assert np.all(np.abs(y[:200]) < 1e-7)


def test_reset_between_settings_and_reproducible(amp, test_vst3, x) -> None:  # noqa: F811
    loud = {"drive": 10.0, "tone": 0.1, "output_level": 6.0}
    quiet = {"drive": 1.0, "tone": 0.9, "output_level": -12.0}
    amp.label(x, SR, loud)
    after_loud = amp.label(x, SR, quiet)
    with open_label_source(f"vst:{test_vst3}") as fresh:
        first = fresh.label(x, SR, quiet)
    np.testing.assert_array_equal(after_loud, first)
    assert not np.allclose(amp.label(x, SR, loud), after_loud)


def test_state_and_latency_exist_without_panamas_handling(test_vst3, x) -> None:  # noqa: F811
    """The plugin really is stateful and late: pedalboard without reset shows both."""
    import pedalboard

    plugin = pedalboard.load_plugin(str(test_vst3))
    assert plugin.reported_latency_samples == LATENCY
    first = plugin.process(x, SR, reset=False)
    second = plugin.process(x, SR, reset=False)
    # x starts at sample 200; the plugin's first non-zero output comes 64 samples later.
    assert int(np.flatnonzero(first)[0]) == 200 + LATENCY
    assert not np.array_equal(first, second)  # the delay line carried the end of `first`


def test_knob_map_renames_and_pins_the_rest(test_vst3, x) -> None:  # noqa: F811
    options = {"map.gain": "Drive", "map.level": "output level", "pin.tone": "0.25"}
    with open_label_source(f"vst:{test_vst3}", options) as source:
        space = source.knob_space()
        assert space.names == ["gain", "level"]
        assert space["level"].unit == "dB"
        y = source.label(x, SR, {"gain": 3.0, "level": -3.0})
    np.testing.assert_allclose(y, expected(x, 3.0, 0.25, -3.0), atol=2e-5)


def test_knob_names_match_case_and_space_insensitively(test_vst3) -> None:  # noqa: F811
    with open_label_source(f"vst:{test_vst3}", {"knobs": "OUTPUT_LEVEL;Drive", "isolate": False}) as source:
        space = source.knob_space()
    assert space.names == ["OUTPUT_LEVEL", "Drive"]
    assert [(k.minimum, k.maximum) for k in space] == [(-24.0, 6.0), (0.0, 10.0)]


@pytest.mark.parametrize(("options", "message"), [
    ({"knobs": "drive;volume"}, "has no parameter 'volume'"),
    ({"map.gain": "Gain"}, "has no parameter 'Gain'"),
    ({"pin.output_level": "12"}, "outside [-24, 6] dB"),
    ({"knobs": "drive", "pin.drive": "1"}, "both a knob and pinned"),
])
def test_bad_options_are_clear_errors(test_vst3, options, message) -> None:  # noqa: F811
    with pytest.raises(PanamaError) as info:
        with open_label_source(f"vst:{test_vst3}", {**options, "isolate": False}) as source:
            source.knob_space()
    assert message in str(info.value)


def test_missing_or_wrong_files_are_clear_errors(tmp_path) -> None:
    with pytest.raises(PanamaError, match="does not exist"):
        with open_label_source(f"vst:{tmp_path / 'nope.vst3'}", {"isolate": False}) as source:
            source.knob_space()
    (tmp_path / "amp.so").write_bytes(b"\x7fELF")
    with pytest.raises(PanamaError, match="is not a VST3"):
        with open_label_source(f"vst:{tmp_path / 'amp.so'}", {"isolate": False}) as source:
            source.knob_space()
    bogus = tmp_path / "Bogus.vst3"
    bogus.mkdir()
    with pytest.raises(PanamaError, match="could not load VST3"):
        with open_label_source(f"vst:{bogus}") as source:  # through the worker
            source.knob_space()
