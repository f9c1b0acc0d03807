"""Knobs and knob spaces: the one place where native values meet the unit cube.

Samplers and nets work in normalised [0, 1]^K; label sources (and the user) speak native
values: a 0–10 dial, a −20…20 dB gain. Every conversion goes through ``KnobSpace`` so there is
exactly one definition of "normalised".
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from panama.core.errors import PanamaError

KnobSetting = dict[str, float]
"""A mapping knob name → native value."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
# Float noise from JSON round trips or normalise/denormalise must not reject a valid value.
_TOLERANCE = 1e-9


class Knob(BaseModel):
    """One control of a device, with its native range and default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    minimum: float = 0.0
    maximum: float = 1.0
    default: float | None = None
    unit: str = ""

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"knob name {value!r} must start with a letter or '_' and contain only "
                "letters, digits, '_', '-' or '.'"
            )
        return value

    @model_validator(mode="after")
    def _check_range(self) -> Knob:
        if not (math.isfinite(self.minimum) and math.isfinite(self.maximum)):
            raise ValueError(f"knob {self.name!r}: range must be finite")
        if self.maximum <= self.minimum:
            raise ValueError(
                f"knob {self.name!r}: maximum ({self.maximum}) must be above minimum ({self.minimum})"
            )
        if self.default is None:
            object.__setattr__(self, "default", (self.minimum + self.maximum) / 2)
        elif not self.minimum <= self.default <= self.maximum:
            raise ValueError(
                f"knob {self.name!r}: default {self.default} is outside "
                f"[{self.minimum}, {self.maximum}]"
            )
        return self

    @property
    def span(self) -> float:
        return self.maximum - self.minimum

    def to_unit(self, value: float) -> float:
        return (value - self.minimum) / self.span

    def from_unit(self, unit_value: float) -> float:
        return self.minimum + unit_value * self.span

    def describe(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.name} [{self.minimum:g} … {self.maximum:g}{unit}], default {self.default:g}"


class KnobSpace(BaseModel):
    """An ordered set of knobs; the order is the order of the knob vector a net sees."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    knobs: tuple[Knob, ...] = ()

    @field_validator("knobs")
    @classmethod
    def _unique(cls, knobs: tuple[Knob, ...]) -> tuple[Knob, ...]:
        seen: set[str] = set()
        for knob in knobs:
            if knob.name in seen:
                raise ValueError(f"knob {knob.name!r} appears twice")
            seen.add(knob.name)
        return knobs

    @classmethod
    def of(cls, *knobs: Knob | str) -> KnobSpace:
        """``KnobSpace.of("gain", "bass")`` — plain names become 0…1 knobs."""
        return cls(knobs=tuple(Knob(name=k) if isinstance(k, str) else k for k in knobs))

    # -- container protocol -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.knobs)

    def __iter__(self) -> Iterator[Knob]:  # type: ignore[override]
        return iter(self.knobs)

    def __getitem__(self, name: str) -> Knob:
        for knob in self.knobs:
            if knob.name == name:
                return knob
        raise self._unknown(name)

    def __contains__(self, name: object) -> bool:
        return any(knob.name == name for knob in self.knobs)

    @property
    def names(self) -> list[str]:
        return [knob.name for knob in self.knobs]

    # -- validation ---------------------------------------------------------------------
    def _unknown(self, name: str) -> PanamaError:
        return PanamaError(
            f"unknown knob {name!r}",
            f"this device's knobs are: {', '.join(self.names) or '(none)'}",
        )

    def default_setting(self) -> KnobSetting:
        return {knob.name: float(knob.default) for knob in self.knobs}  # type: ignore[arg-type]

    def validate_setting(self, setting: Mapping[str, Any], *, fill_defaults: bool = True) -> KnobSetting:
        """Check names, finiteness and ranges; missing knobs take their defaults.

        Values within float noise of a bound are clipped onto it, so a setting survives a
        JSON or normalisation round trip.
        """
        out: KnobSetting = {}
        for name, raw in setting.items():
            if name not in self:
                raise self._unknown(name)
            knob = self[name]
            try:
                value = float(raw)
            except (TypeError, ValueError):
                raise PanamaError(
                    f"knob {name!r}: {raw!r} is not a number", f"give a value in {knob.describe()}"
                ) from None
            if not math.isfinite(value):
                raise PanamaError(f"knob {name!r}: {value} is not finite", f"give a value in {knob.describe()}")
            slack = _TOLERANCE * max(1.0, knob.span)
            if value < knob.minimum - slack or value > knob.maximum + slack:
                raise PanamaError(
                    f"knob {name!r}: {value:g} is out of range",
                    f"give a value in {knob.describe()}",
                )
            out[name] = min(max(value, knob.minimum), knob.maximum)
        missing = [k for k in self.names if k not in out]
        if missing and not fill_defaults:
            raise PanamaError(
                f"setting lacks knob(s) {', '.join(missing)}", "give a value for every knob"
            )
        defaults = self.default_setting()
        return {name: out.get(name, defaults[name]) for name in self.names}

    def parse_setting(self, text: str) -> KnobSetting:
        """Parse ``"gain=0.7,bass=0.2"`` (missing knobs take their defaults)."""
        return self.validate_setting(parse_assignments(text, what="setting"))

    # -- conversion (the one place) -----------------------------------------------------
    def to_unit(self, setting: Mapping[str, float]) -> np.ndarray:
        """Native setting → normalised vector in [0, 1]^K (in knob order)."""
        valid = self.validate_setting(setting)
        return np.array([knob.to_unit(valid[knob.name]) for knob in self.knobs], dtype=np.float64)

    def to_unit_array(self, settings: Iterable[Mapping[str, float]]) -> np.ndarray:
        rows = [self.to_unit(s) for s in settings]
        return np.array(rows, dtype=np.float64).reshape(len(rows), len(self))

    def from_unit(self, vector: Sequence[float] | np.ndarray) -> KnobSetting:
        """Normalised vector → native setting; values are clipped into [0, 1] first."""
        values = np.clip(np.asarray(vector, dtype=np.float64).reshape(-1), 0.0, 1.0)
        if values.shape[0] != len(self):
            raise PanamaError(
                f"knob vector has {values.shape[0]} values but the space has {len(self)} knobs",
                f"knobs are: {', '.join(self.names)}",
            )
        return {knob.name: float(knob.from_unit(v)) for knob, v in zip(self.knobs, values, strict=True)}

    def from_unit_array(self, array: np.ndarray) -> list[KnobSetting]:
        return [self.from_unit(row) for row in np.atleast_2d(array)]

    def format_setting(self, setting: Mapping[str, float], digits: int = 3) -> str:
        return ",".join(f"{name}={setting[name]:.{digits}g}" for name in self.names if name in setting)


def parse_assignments(text: str, *, what: str = "option") -> dict[str, str]:
    """``"a=1,b=x"`` → ``{"a": "1", "b": "x"}`` with a clear error for malformed parts."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise PanamaError(
                f"{what} part {part!r} is not of the form name=value",
                "write e.g. gain=0.7,bass=0.2",
            )
        name, value = (s.strip() for s in part.split("=", 1))
        if not name:
            raise PanamaError(f"{what} part {part!r} has no name", "write e.g. gain=0.7")
        if name in out:
            raise PanamaError(f"{what} gives {name!r} twice ({name}={out[name]} and {name}={value})",
                              f"give each name once, e.g. {name}={value}")
        out[name] = value
    return out
