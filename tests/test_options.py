"""The one ``name=value`` parser, and the places that read through it."""

from __future__ import annotations

import re

import pytest

from panama.core.errors import PanamaError
from panama.core.options import parse_pairs


def test_items_split_at_commas_and_repeated_flags_merge() -> None:
    assert parse_pairs("gain=0.7, bass = 0.2") == {"gain": "0.7", "bass": "0.2"}
    assert parse_pairs(["gain=0.7,bass=0.2", "mid=1"]) == {"gain": "0.7", "bass": "0.2", "mid": "1"}
    assert parse_pairs(None) == {} and parse_pairs([]) == {} and parse_pairs(" , ") == {}
    assert parse_pairs("name=") == {"name": ""}  # an empty value is kept (metadata: unset it)
    assert parse_pairs("map.gain=Drive=2") == {"map.gain": "Drive=2"}  # split at the first '=' only


@pytest.mark.parametrize(("items", "message"), [
    ("gain", "--thing 'gain' is not of the form name=value — write e.g. --thing name=value"),
    ("gain=1,=2", "--thing '=2' has no name"),
    ("gain=1,gain=2", "--thing gives 'gain' twice (gain=1 and gain=2)"),
    (["gain=1", "gain=1"], "gives 'gain' twice"),  # across repeated flags too: refused, not overwritten
])
def test_a_malformed_item_is_one_error_naming_it(items, message) -> None:
    with pytest.raises(PanamaError) as caught:
        parse_pairs(items, what="--thing")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_fix_shown_is_a_knob_setting_unless_a_flag_or_example_is_named() -> None:
    with pytest.raises(PanamaError, match=re.escape("write e.g. gain=0.7,bass=0.2")):
        parse_pairs("gain", what="setting")
    with pytest.raises(PanamaError, match=re.escape("write e.g. --grid gain=0:10:6")):
        parse_pairs("gain", what="grid", example="--grid gain=0:10:6")


def test_one_item_per_flag_keeps_commas_in_values() -> None:
    assert parse_pairs(["devices=[0,1]", "strategy=ddp"], separators="") == {"devices": "[0,1]", "strategy": "ddp"}
    with pytest.raises(PanamaError, match="is not of the form name=value"):
        parse_pairs(["devices"], separators="")


def test_continued_values_keep_lists_whole() -> None:
    assert parse_pairs("device=2,knobs=gain:0:10,bass:0:10", continued=True) == {
        "device": "2", "knobs": "gain:0:10,bass:0:10"}
    assert parse_pairs("a=x;y,b=1", separators=";,", continued=True) == {"a": "x;y", "b": "1"}
    with pytest.raises(PanamaError, match="not of the form"):  # nothing to continue yet
        parse_pairs("gain:0:10,knobs=x", continued=True)


def test_every_reader_of_name_value_text_goes_through_it() -> None:
    """Knob settings, label source specs, trainer settings and the amps' maps: same rules."""
    from panama.amps.options import split_pairs
    from panama.core.commands.training import parse_knob_ranges, parse_trainer_options
    from panama.core.components import _option_pairs
    from panama.core.knobs import Knob, KnobSpace, parse_assignments

    space = KnobSpace(knobs=[Knob(name="gain", minimum=0, maximum=10, default=5)])
    with pytest.raises(PanamaError, match="setting gives 'gain' twice"):
        space.parse_setting("gain=1,gain=2")
    assert parse_assignments("a=1") == {"a": "1"}  # the old name still answers
    assert _option_pairs("device=2,knobs=gain:0:10,bass:0:10") == {"device": "2", "knobs": "gain:0:10,bass:0:10"}
    assert _option_pairs("amp.vst3,map.gain=Drive") is None  # a value first, not options
    assert parse_trainer_options(["devices=[0,1]", "precision=bf16-mixed"]) == {"devices": [0, 1], "precision": "bf16-mixed"}
    with pytest.raises(PanamaError, match="--trainer 'devices' is not of the form name=value"):
        parse_trainer_options(["devices"])
    assert parse_knob_ranges(["gain=0:10,bass=-1:1"]) == {"gain": (0.0, 10.0), "bass": (-1.0, 1.0)}
    assert split_pairs("gain=Drive;level=Output") == {"gain": "Drive", "level": "Output"}
    with pytest.raises(ValueError, match="'Drive' is not of the form name=value"):  # pydantic reports it on the field
        split_pairs("Drive")
