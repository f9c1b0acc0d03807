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
from panama.core.options import parse_pairs

KnobSetting = dict[str, float]
"""A mapping knob name → native value."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")

FLOAT_NOISE = 1e-9
"""Relative float noise (JSON round trips, normalise/denormalise): never a real difference.
A value this close to a bound is in range; :meth:`KnobSpace.same_values` compares to it."""

SAME_SETTING = 1e-6
"""Two settings closer than this (:meth:`KnobSpace.distance`: the largest difference of one
knob in the unit cube) are the same setting: a sampler's point already labelled, a held-out
setting that is not distinct, a folder entry already listed. Wider than float noise, so a
setting that went through a file or a printout is still found."""


def unit_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Chebyshev (max-abs) distances between every row of ``a`` ``[N, K]`` and every row of
    ``b`` ``[M, K]``, both in unit-cube coordinates: ``[N, M]``. With no knobs every distance
    is 0 (every setting of an empty space is the same)."""
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    b = np.atleast_2d(np.asarray(b, dtype=np.float64))
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"unit vectors of {a.shape[1]} and {b.shape[1]} knobs cannot be compared")
    if a.shape[1] == 0:
        return np.zeros((a.shape[0], b.shape[0]))
    return np.max(np.abs(a[:, None, :] - b[None, :, :]), axis=2)


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
            slack = FLOAT_NOISE * max(1.0, knob.span)
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
        return self.validate_setting(parse_pairs(text, what="setting"))

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

    # -- "the same setting" (the one place) --------------------------------------------
    def distance(self, a: Mapping[str, float], b: Mapping[str, float]) -> float:
        """The largest difference of one knob between ``a`` and ``b`` in the unit cube
        (Chebyshev distance; missing knobs take their defaults). 0 for a space with no knobs."""
        return float(unit_distances(self.to_unit(a), self.to_unit(b))[0, 0])

    def same(self, a: Mapping[str, float], b: Mapping[str, float], *, tolerance: float = SAME_SETTING) -> bool:
        """Whether ``a`` and ``b`` are the same setting: :meth:`distance` below ``tolerance``."""
        return self.distance(a, b) < tolerance

    def same_as_any(
        self, settings: Sequence[Mapping[str, float]], others: Sequence[Mapping[str, float]],
        *, tolerance: float = SAME_SETTING,
    ) -> np.ndarray:
        """For each of ``settings``, whether it is the same setting as one of ``others``
        (boolean array of ``len(settings)``; all False when ``others`` is empty)."""
        if not settings or not others:
            return np.zeros(len(settings), dtype=bool)
        distances = unit_distances(self.to_unit_array(settings), self.to_unit_array(others))
        return np.min(distances, axis=1) < tolerance

    def find_same(
        self, setting: Mapping[str, float], others: Sequence[Mapping[str, float]], *, tolerance: float = SAME_SETTING
    ) -> int | None:
        """The index of the first of ``others`` that is the same setting as ``setting``, or None."""
        if not others:
            return None
        distances = unit_distances(self.to_unit(setting), self.to_unit_array(others))[0]
        hits = np.flatnonzero(distances < tolerance)
        return int(hits[0]) if hits.size else None

    def same_values(self, wanted: Mapping[str, float], other: Mapping[str, float], *,
                    tolerance: float = FLOAT_NOISE) -> bool:
        """Whether ``other`` gives every knob ``wanted``'s native value (missing knobs of
        ``wanted`` take their defaults), each to ``tolerance`` relative to the value (absolute
        below 1); a knob ``other`` lacks is never the same.

        Stricter than :meth:`same` and in native units: "this very setting again" (a stored
        label asked for once more, a typed value that was printed to ``tolerance``'s digits),
        where :meth:`same` answers "the same point of the design".
        """
        valid = self.validate_setting(wanted)
        return all(abs(other.get(name, math.nan) - value) <= tolerance * max(1.0, abs(value))
                   for name, value in valid.items())

    def format_setting(self, setting: Mapping[str, float], digits: int = 3) -> str:
        return ",".join(f"{name}={setting[name]:.{digits}g}" for name in self.names if name in setting)


def parse_assignments(text: str, *, what: str = "option") -> dict[str, str]:
    """The old name of :func:`panama.core.options.parse_pairs` (kept for plugins that import it)."""
    return parse_pairs(text, what=what)
