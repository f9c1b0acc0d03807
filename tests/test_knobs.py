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


# -- "the same setting": one definition (KnobSpace.distance / same) ----------------------
def test_distance_is_the_largest_unit_cube_difference_of_one_knob():
    a = {"gain": 5.0, "bass": 5.0, "level": 0.0}
    assert SPACE.distance(a, a) == 0.0
    # gain moves 1 of 10 (0.1), level 8 of 40 dB (0.2): the larger one counts
    assert SPACE.distance(a, {"gain": 6.0, "bass": 5.0, "level": 8.0}) == pytest.approx(0.2)
    assert SPACE.distance(a, {"gain": 6.0}) == SPACE.distance({"gain": 6.0}, a) == pytest.approx(0.1)
    # missing knobs take their defaults, as everywhere else
    assert SPACE.distance({"gain": 5.0}, a) == 0.0


def test_same_uses_the_one_tolerance():
    from panama.core.knobs import SAME_SETTING

    assert SAME_SETTING == 1e-6
    a = {"gain": 5.0, "bass": 5.0, "level": 0.0}
    near = {**a, "gain": 5.0 + 0.5 * SAME_SETTING * 10}  # half the tolerance, in native units
    far = {**a, "gain": 5.0 + 2 * SAME_SETTING * 10}
    assert SPACE.same(a, near) and SPACE.same(near, a)
    assert not SPACE.same(a, far)
    assert SPACE.same(a, far, tolerance=1e-3)
    with pytest.raises(PanamaError, match="unknown knob"):
        SPACE.same(a, {"treble": 1})


def test_vectorised_same_agrees_with_same():
    rng = np.random.default_rng(0)
    others = SPACE.from_unit_array(rng.random((20, 3)))
    settings = [others[3], others[17], *SPACE.from_unit_array(rng.random((5, 3)))]
    settings.append({**others[5], "bass": others[5]["bass"] + 1e-8})  # float noise: the same
    mask = SPACE.same_as_any(settings, others)
    assert mask.tolist() == [any(SPACE.same(s, o) for o in others) for s in settings]
    assert mask.tolist() == [True, True, False, False, False, False, False, True]
    assert SPACE.find_same(settings[1], others) == 17
    assert SPACE.find_same(settings[2], others) is None
    assert SPACE.find_same(settings[0], []) is None
    assert SPACE.same_as_any(settings, []).tolist() == [False] * len(settings)
    assert SPACE.same_as_any([], others).shape == (0,)


def test_a_space_without_knobs_has_one_setting():
    empty = KnobSpace()
    assert empty.distance({}, {}) == 0.0 and empty.same({}, {})
    assert empty.find_same({}, [{}]) == 0
    assert empty.same_as_any([{}, {}], [{}]).tolist() == [True, True]


def test_unit_distances_are_pairwise_chebyshev():
    from panama.core.knobs import unit_distances

    a = np.array([[0.0, 0.0], [0.5, 0.5]])
    b = np.array([[0.0, 0.3], [1.0, 0.5], [0.5, 0.5]])
    assert unit_distances(a, b).tolist() == [[0.3, 1.0, 0.5], [0.5, 0.5, 0.0]]
    assert unit_distances(a[0], b).shape == (1, 3)  # one vector is one row
    with pytest.raises(ValueError, match="knobs"):
        unit_distances(a, np.zeros((1, 3)))


def test_same_values_is_native_and_relative():
    """Capture.find_label's test: this very setting again (float noise, or printed digits)."""
    from panama.core.knobs import FLOAT_NOISE

    a = {"gain": 7.3, "bass": 1.2, "level": -12.5}
    assert SPACE.same_values(a, dict(a))
    assert SPACE.same_values(a, {**a, "level": -12.5 * (1 + 0.5 * FLOAT_NOISE)})
    # far inside SAME_SETTING, yet not the same value
    assert SPACE.same({**a, "level": -12.5 + 1e-6}, a) and not SPACE.same_values(a, {**a, "level": -12.5 + 1e-6})
    # relative above 1, absolute below it
    assert SPACE.same_values(a, {**a, "level": -12.5 + 1e-5}, tolerance=1e-6)
    assert not SPACE.same_values({**a, "bass": 0.5}, {**a, "bass": 0.5 + 2e-6}, tolerance=1e-6)
    # wanted's missing knobs take defaults; a knob the other lacks never matches
    assert SPACE.same_values({"level": 0.0}, {"gain": 5.0, "bass": 5.0, "level": 0.0})
    assert not SPACE.same_values(a, {"gain": 7.3, "bass": 1.2})
