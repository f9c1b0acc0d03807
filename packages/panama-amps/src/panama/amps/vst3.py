"""``vst:PATH`` — any VST3 plugin, hosted by pedalboard, as a label source.

Knobs map to the plugin's parameters by name, ignoring case, spaces, ``_`` and ``-`` (knob
``output_level`` finds the parameter "Output Level"); ``knob_map`` renames (``gain=Drive``). By
default every continuous parameter except bypass is a knob; ``knobs=`` (or ``knob_map``'s
names) picks a subset, and every other parameter is pinned to ``pin.<name>=value`` or to its
default — all of them are written before every setting, so nothing lingers from the last one.

Values are written as *normalised raw values* (what the host automates), never through the
plugin's text parsing, so the same setting gives the same samples. A knob's native range is the
plugin's own display range (e.g. Drive 0…10, Output Level −24…6 dB) when the display is linear
in the raw value, which is checked parameter by parameter; otherwise the knob is the raw value
itself, 0…1 (unit "normalised"). The plugin is reset before every setting and its reported
latency is compensated (input padded by that many samples, output advanced by them).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, field_validator, model_validator

from panama.amps.options import collect_prefixed, split_list, split_pairs
from panama.amps.worker import IsolatedConfig, IsolatedLabelSource
from panama.core.errors import PanamaError
from panama.core.knobs import Knob, KnobSetting, KnobSpace

BYPASS_NAMES = {"bypass"}
RAW_UNIT = "normalised"


def fold(name: str) -> str:
    """Parameter names compare without case, spaces, ``_`` or ``-``."""
    return re.sub(r"[\s_\-]+", "", name).lower()


def knob_name(name: str) -> str:
    """A parameter's display name as a knob name: "Output Level" → ``output_level``."""
    text = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower()
    return text if text and not text[0].isdigit() else f"p_{text}"


class Vst3Config(IsolatedConfig):
    path: str = Field(description="The .vst3 bundle (or file).")
    plugin_name: str | None = Field(None, description="Which plugin, when the file holds several.")
    knobs: list[str] | None = Field(None, description="Knob names, in order (default: every continuous parameter).")
    knob_map: dict[str, str] = Field(default_factory=dict, description="knob=Parameter Name renames.")
    pin: dict[str, float] = Field(default_factory=dict, description="Fixed values for non-knob parameters.")
    block_size: int = Field(512, ge=16, le=65536, description="Samples per processing block.")

    @model_validator(mode="before")
    @classmethod
    def _prefixed(cls, data: Any) -> Any:
        return collect_prefixed(data, {"pin.": "pin", "map.": "knob_map"})

    @field_validator("knobs", mode="before")
    @classmethod
    def _knobs(cls, value: Any) -> Any:
        return split_list(value)

    @field_validator("knob_map", "pin", mode="before")
    @classmethod
    def _pairs(cls, value: Any) -> Any:
        return split_pairs(value)


class Parameter:
    """One plugin parameter and the linear map between its knob value and its raw value."""

    def __init__(self, key: str, param: Any) -> None:
        self.key = key  # pedalboard's Python name
        self.param = param
        self.name = str(param.name)
        self.default_raw = float(param.default_raw_value)
        self.continuous = param.type is float
        self.minimum, self.maximum, self.unit = 0.0, 1.0, RAW_UNIT
        if self.continuous and self._display_is_linear():
            self.minimum, self.maximum = float(param.min_value), float(param.max_value)
            self.unit = str(param.label or "")

    def _display_is_linear(self) -> bool:
        lo, hi = float(self.param.min_value), float(self.param.max_value)
        if not hi > lo:
            return False
        # pedalboard scanned the raw range: each entry maps a raw interval to the value shown.
        tolerance = max(2.0 * float(self.param.step_size or 0.0), 1e-3 * (hi - lo))
        for (raw_lo, raw_hi), shown in self.param.ranges.items():
            raw = (float(raw_lo) + float(raw_hi)) / 2 if raw_hi != raw_lo else float(raw_lo)
            if abs(lo + raw * (hi - lo) - float(shown)) > tolerance + (hi - lo) * abs(float(raw_hi) - float(raw_lo)):
                return False
        return True

    def knob(self, name: str) -> Knob:
        return Knob(name=name, minimum=self.minimum, maximum=self.maximum,
                    default=self.to_value(self.default_raw), unit=self.unit)

    def to_raw(self, value: float) -> float:
        return float(min(max((value - self.minimum) / (self.maximum - self.minimum), 0.0), 1.0))

    def to_value(self, raw: float) -> float:
        # Raw values are C floats (0.8 arrives as 0.80000001); 7 digits is what the plugin meant.
        span = self.maximum - self.minimum
        return float(f"{self.minimum + round(raw, 7) * span:.7g}") if span else self.minimum


class Vst3Host:
    """The in-process VST3 host (runs inside the worker)."""

    def __init__(self, config: Vst3Config) -> None:
        self.config = config
        self.plugin = load_plugin(config.path, config.plugin_name)
        self.parameters = {key: Parameter(key, p) for key, p in self.plugin.parameters.items()}
        self.by_knob = self._map_knobs()
        self.pins = self._pins()
        self._space = KnobSpace(knobs=tuple(p.knob(name) for name, p in self.by_knob.items()))

    def _find(self, name: str, what: str) -> Parameter:
        wanted = fold(name)
        for parameter in self.parameters.values():
            if wanted in (fold(parameter.key), fold(parameter.name)):
                return parameter
        raise PanamaError(
            f"VST3 {self.config.path!r} has no parameter {name!r} ({what})",
            "its parameters are: " + ", ".join(repr(p.name) for p in self.parameters.values()),
        )

    def _map_knobs(self) -> dict[str, Parameter]:
        config = self.config
        names = config.knobs if config.knobs is not None else (list(config.knob_map) or None)
        if names is None:
            pinned = {fold(n) for n in config.pin}
            names = [knob_name(p.name) for key, p in self.parameters.items()
                     if p.continuous and fold(key) not in BYPASS_NAMES and fold(key) not in pinned
                     and fold(p.name) not in pinned]
        mapping: dict[str, Parameter] = {}
        for name in names:
            parameter = self._find(config.knob_map.get(name, name), f"knob {name!r}")
            if any(p is parameter for p in mapping.values()):
                raise PanamaError(f"two knobs map to the VST3 parameter {parameter.name!r}",
                                  "give each knob its own parameter (knob_map)")
            mapping[name] = parameter
        if not mapping:
            raise PanamaError(f"VST3 {config.path!r} has no continuous parameter to use as a knob",
                              "name its parameters with knobs=... (see `panama labelers inspect`)")
        return mapping

    def _pins(self) -> dict[str, float]:
        """Raw values for every non-knob parameter: pinned or default."""
        knob_keys = {p.key for p in self.by_knob.values()}
        raws = {key: p.default_raw for key, p in self.parameters.items() if key not in knob_keys}
        for name, value in self.config.pin.items():
            parameter = self._find(name, "in pin")
            if parameter.key in knob_keys:
                raise PanamaError(f"VST3 parameter {parameter.name!r} is both a knob and pinned",
                                  "drop it from the knobs or from pin")
            if not parameter.minimum <= value <= parameter.maximum:
                raise PanamaError(
                    f"pin.{name}={value:g} is outside [{parameter.minimum:g}, {parameter.maximum:g}]"
                    f"{' ' + parameter.unit if parameter.unit else ''}",
                    "give a value inside the parameter's range",
                )
            raws[parameter.key] = parameter.to_raw(value)
        return raws

    def knob_space(self) -> KnobSpace:
        return self._space

    def raw_values(self, setting: KnobSetting) -> dict[str, float]:
        """Every parameter's raw value for ``setting`` (knobs from the setting, the rest pinned)."""
        valid = self._space.validate_setting(setting)
        raws = dict(self.pins)
        for name, parameter in self.by_knob.items():
            raws[parameter.key] = parameter.to_raw(valid[name])
        return raws

    def label(self, x: np.ndarray, sample_rate: int, setting: KnobSetting) -> np.ndarray:
        for key, raw in self.raw_values(setting).items():
            self.parameters[key].param.raw_value = raw
        return process_compensated(self.plugin, x, sample_rate, self.config.block_size)

    def close(self) -> None:
        self.plugin = None


def load_plugin(path: str, plugin_name: str | None = None) -> Any:
    """``pedalboard.load_plugin`` with the failures a user can fix turned into PanamaErrors."""
    file = Path(path).expanduser()
    if not file.exists():
        raise PanamaError(f"VST3 plugin {path!r} does not exist", "give the path of a .vst3 bundle")
    if file.suffix.lower() != ".vst3":
        raise PanamaError(f"{path!r} is not a VST3 plugin (.vst3)",
                          "pedalboard hosts VST3 (and AU on macOS); LV2 plugins use lv2:URI")
    try:
        import pedalboard
    except ImportError:
        raise PanamaError("hosting VST3 needs pedalboard", "pip install 'panama-amps[pedalboard]'") from None
    try:
        plugin = pedalboard.load_plugin(str(file), plugin_name=plugin_name)
    except Exception as exc:  # pedalboard raises ImportError/ValueError/RuntimeError with a reason
        raise PanamaError(f"could not load VST3 {path!r}: {exc}",
                          "check it loads in a DAW; for a file with several plugins give plugin_name=") from None
    if not getattr(plugin, "is_effect", True):
        raise PanamaError(f"VST3 {path!r} is an instrument, not an effect", "PANAMA labels audio effects and amps")
    return plugin


def process_compensated(plugin: Any, x: np.ndarray, sample_rate: int, block_size: int) -> np.ndarray:
    """Reset, then render ``x`` with the plugin's reported latency removed (same length as ``x``).

    The input is padded with ``latency`` zeros and the output advanced by ``latency`` samples.
    pedalboard (0.9) already drops the first ``latency`` output samples of the first block after
    a reset and returns that many fewer; whatever it did not drop is dropped here, so the result
    is aligned whichever way a pedalboard version handles it.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    latency = max(0, int(getattr(plugin, "reported_latency_samples", 0) or 0))
    padded = np.concatenate([x, np.zeros(latency, dtype=np.float32)])
    plugin.reset()
    try:
        y = plugin.process(padded, float(sample_rate), buffer_size=block_size, reset=False)
    except Exception:
        # A plugin without a mono layout: feed it the same signal on both channels.
        plugin.reset()
        y = plugin.process(np.stack([padded, padded]), float(sample_rate), buffer_size=block_size, reset=False)
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 2:
        y = y[0]
    already_dropped = len(padded) - len(y)
    y = y[max(0, latency - already_dropped):][: len(x)]
    if len(y) < len(x):
        y = np.concatenate([y, np.zeros(len(x) - len(y), dtype=np.float32)])
    return y


class Vst3LabelSource(IsolatedLabelSource):
    """``vst:PATH``: a VST3 plugin hosted through pedalboard, in a worker process."""

    Config: ClassVar[type[Vst3Config]] = Vst3Config
    config: Vst3Config
    spec_field: ClassVar[str | None] = "path"
    host_target: ClassVar[str] = "panama.amps.vst3:Vst3Host"

    def describe(self) -> str:
        return f"VST3 plugin {self.config.path!r}"
