import math

import numpy as np
import pytest
from pydantic import ValidationError

from panama.core import Knob, KnobSpace, PanamaError

SPACE = KnobSpace(knobs=(
    Knob(name="gain", minimum=0, maximum=10, default=5),
    Knob(name="bass", minimum=0, maximum=10),
    Knob(name="level", minimum=-20, maximum=20, default=0, unit="dB"),
))


def test_unit_round_trip_is_exact_enough():
    setting = {"gain": 7.3, "bass": 1.2, "level": -12.5}
    unit = SPACE.to_unit(setting)
    assert unit == pytest.approx([0.73, 0.12, 0.1875])
    back = SPACE.from_unit(unit)
    assert back == pytest.approx(setting)
    # a round trip must validate again despite float noise
    assert SPACE.validate_setting(back) == pytest.approx(setting)


def test_missing_knobs_take_defaults_and_order_follows_space():
    assert list(SPACE.validate_setting({"level": 3})) == ["gain", "bass", "level"]
    assert SPACE.validate_setting({"level": 3}) == {"gain": 5.0, "bass": 5.0, "level": 3.0}


@pytest.mark.parametrize(
    ("setting", "fragment"),
    [
        ({"treble": 1}, "unknown knob 'treble'"),
        ({"gain": 11}, "out of range"),
        ({"gain": math.nan}, "not finite"),
        ({"gain": "loud"}, "not a number"),
    ],
)
def test_bad_settings_name_the_problem_and_the_fix(setting, fragment):
    with pytest.raises(PanamaError) as info:
        SPACE.validate_setting(setting)
    assert fragment in info.value.message
    assert info.value.hint  # every error says how to fix it


def test_unknown_knob_hint_lists_the_real_knobs():
    with pytest.raises(PanamaError, match="gain, bass, level"):
        SPACE.parse_setting("treble=1")


def test_parse_setting_and_malformed_text():
    assert SPACE.parse_setting("gain=2, bass=3") == {"gain": 2.0, "bass": 3.0, "level": 0.0}
    with pytest.raises(PanamaError, match="name=value"):
        SPACE.parse_setting("gain2")


def test_from_unit_clips_and_checks_length():
    assert SPACE.from_unit([1.5, -0.2, 0.5]) == {"gain": 10.0, "bass": 0.0, "level": 0.0}
    with pytest.raises(PanamaError, match="3 knobs"):
        SPACE.from_unit([0.5])


def test_arrays_of_settings():
    arr = np.array([[0, 0, 0], [1, 1, 1]])
    settings = SPACE.from_unit_array(arr)
    assert np.allclose(SPACE.to_unit_array(settings), arr)
    assert SPACE.to_unit_array([]).shape == (0, 3)


def test_invalid_knob_definitions_are_rejected():
    with pytest.raises(ValidationError, match="maximum"):
        Knob(name="x", minimum=1, maximum=0)
    with pytest.raises(ValidationError, match="outside"):
        Knob(name="x", default=3)
    with pytest.raises(ValidationError, match="knob name"):
        Knob(name="has space")
    with pytest.raises(ValidationError, match="twice"):
        KnobSpace.of("a", "a")


def test_space_serialises_to_json_and_back():
    assert KnobSpace.model_validate_json(SPACE.model_dump_json()) == SPACE
