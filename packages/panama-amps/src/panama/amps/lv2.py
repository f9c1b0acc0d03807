"""``lv2:URI`` — any installed LV2 plugin as a label source (e.g. Debian's Guitarix amps).

Control input ports become knobs, named by their port symbol, with the ranges, defaults and
units the plugin declares (``knobs=`` picks and orders a subset; the rest stay at their
defaults or at ``pin.<symbol>=value``). The enable/bypass port is held at "enabled". Every
setting is rendered by a fresh instance, so the same setting always gives the same samples
(no filter or convolution tail carried over from the previous one), processed in blocks of
``block_size``; latency reported on an ``lv2:reportsLatency`` port is compensated. The plugin
runs in a worker process (``panama.amps.worker``), so a crashing plugin costs one error, not the
capture.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field, field_validator, model_validator

from panama.amps.options import collect_prefixed, split_list, split_pairs
from panama.amps.worker import IsolatedConfig, IsolatedLabelSource
from panama.core.errors import PanamaError
from panama.core.knobs import Knob, KnobSetting, KnobSpace

LV2_ENABLED = "http://lv2plug.in/ns/lv2core#enabled"


class Lv2Config(IsolatedConfig):
    uri: str = Field(description="The plugin's URI, as `lv2ls` prints it.")
    knobs: list[str] | None = Field(None, description="Control port symbols that become knobs, in order (default: all).")
    pin: dict[str, float] = Field(default_factory=dict, description="Fixed values for other control ports.")
    block_size: int = Field(256, ge=1, le=8192, description="Samples per run() call.")
    output: int = Field(0, ge=0, description="Which audio output to record (0 = first).")

    @model_validator(mode="before")
    @classmethod
    def _prefixed(cls, data: Any) -> Any:
        return collect_prefixed(data, {"pin.": "pin"})

    @field_validator("knobs", mode="before")
    @classmethod
    def _knobs(cls, value: Any) -> Any:
        return split_list(value)

    @field_validator("pin", mode="before")
    @classmethod
    def _pin(cls, value: Any) -> Any:
        return split_pairs(value)


def _port_value(port: Any, value: float) -> float:
    """What the plugin is given: toggles are 0/1 and integer ports whole numbers."""
    if port.toggled:
        threshold = ((port.minimum or 0.0) + (port.maximum if port.maximum is not None else 1.0)) / 2
        return float(port.maximum if port.maximum is not None else 1.0) if value >= threshold else float(port.minimum or 0.0)
    if port.integer or port.enumeration:
        return float(round(value))
    return float(value)


class Lv2Host:
    """The in-process LV2 host for one plugin (runs inside the worker)."""

    def __init__(self, config: Lv2Config) -> None:
        from panama.amps import lilv

        self.config = config
        self.world = lilv.World()
        self.info = self.world.describe(config.uri)
        audio_in = self.info.ports_of("audio", True)
        audio_out = self.info.ports_of("audio", False)
        if not audio_in or not audio_out:
            raise PanamaError(
                f"LV2 plugin {config.uri!r} has {len(audio_in)} audio input(s) and {len(audio_out)} output(s)",
                "a label source needs at least one of each (an effect, not an instrument or analyser)",
            )
        if config.output >= len(audio_out):
            raise PanamaError(
                f"LV2 plugin {config.uri!r} has {len(audio_out)} audio output(s); output={config.output} does not exist",
                f"give output=0 … {len(audio_out) - 1}",
            )
        self.controls = {p.symbol: p for p in self.info.ports if p.kind == "control" and p.is_input}
        self._space = self._build_space()

    def _resolve(self, name: str, what: str) -> str:
        if name in self.controls:
            return name
        folded = {s.lower(): s for s in self.controls}
        if name.lower() in folded:
            return folded[name.lower()]
        raise PanamaError(
            f"LV2 plugin {self.config.uri!r} has no control port {name!r} ({what})",
            f"its control ports are: {', '.join(self.controls)}",
        )

    def _build_space(self) -> KnobSpace:
        self.pins: dict[str, float] = {}
        for name, value in self.config.pin.items():
            symbol = self._resolve(name, "in pin")
            port = self.controls[symbol]
            if port.minimum is not None and port.maximum is not None and not port.minimum <= value <= port.maximum:
                raise PanamaError(
                    f"pin.{symbol}={value:g} is outside the port's range [{port.minimum:g}, {port.maximum:g}]",
                    "give a value inside the declared range",
                )
            self.pins[symbol] = value
        explicit = self.config.knobs is not None
        if explicit:
            wanted = [self._resolve(name, "in knobs") for name in self.config.knobs or []]
        else:
            wanted = [p.symbol for p in self.controls.values() if p.is_knob_candidate and p.symbol not in self.pins]
        knobs = []
        for symbol in wanted:
            if symbol in self.pins:
                raise PanamaError(f"control port {symbol!r} is both a knob and pinned", "drop it from knobs= or from pin")
            port = self.controls[symbol]
            if port.minimum is None or port.maximum is None or port.maximum <= port.minimum:
                if explicit:
                    raise PanamaError(
                        f"control port {symbol!r} of {self.config.uri!r} declares no usable range",
                        "pin it to a value instead (pin.SYMBOL=VALUE)",
                    )
                continue
            default = port.default if port.default is not None else (port.minimum + port.maximum) / 2
            default = min(max(default, port.minimum), port.maximum)
            knobs.append(Knob(name=symbol, minimum=port.minimum, maximum=port.maximum, default=default, unit=port.unit))
        if not knobs:
            raise PanamaError(f"LV2 plugin {self.config.uri!r} has no control port to use as a knob",
                              "PANAMA models a device across its knobs; pick a plugin with controls")
        return KnobSpace(knobs=tuple(knobs))

    def knob_space(self) -> KnobSpace:
        return self._space

    def port_values(self, setting: KnobSetting) -> dict[str, float]:
        """Every control input's value for ``setting``: knob, pin, 'enabled', or default."""
        values: dict[str, float] = {}
        for symbol, port in self.controls.items():
            if symbol in setting:
                value = setting[symbol]
            elif symbol in self.pins:
                value = self.pins[symbol]
            elif port.designation == LV2_ENABLED:
                value = 1.0
            else:
                value = port.default if port.default is not None else (port.minimum or 0.0)
            values[symbol] = _port_value(port, value)
        return values

    def label(self, x: np.ndarray, sample_rate: int, setting: KnobSetting) -> np.ndarray:
        from panama.amps import lilv

        valid = self._space.validate_setting(setting)
        instance = lilv.Instance(self.world, self.info, sample_rate, self.config.block_size, self.port_values(valid))
        try:
            x = np.ascontiguousarray(x, dtype=np.float32)
            y = instance.process(x, self.config.output)
            latency = instance.latency()
            if latency:
                tail = instance.process(np.zeros(latency, dtype=np.float32), self.config.output)
                y = np.concatenate([y, tail])[latency:]
        finally:
            instance.close()
        return y

    def close(self) -> None:
        self.world.close()


class Lv2LabelSource(IsolatedLabelSource):
    """``lv2:URI``: an LV2 plugin hosted through liblilv, in a worker process."""

    Config: ClassVar[type[Lv2Config]] = Lv2Config
    config: Lv2Config
    spec_field: ClassVar[str | None] = "uri"
    host_target: ClassVar[str] = "panama.amps.lv2:Lv2Host"

    def describe(self) -> str:
        return f"LV2 plugin {self.config.uri!r}"
