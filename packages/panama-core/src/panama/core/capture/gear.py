"""What was captured, as NAM's model sites and plugin read it: name, maker, gear and tone type,
and the analog levels that 0 dBFS stands for.

Stored once per capture (``capture.json``'s ``meta``; ``panama init --meta`` or ``panama meta``)
and written into every exported ``.nam`` with NAM's own field names and choices, so a file
shows a full card on a model site and NAM's plugin can calibrate its input level.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, ValidationError, model_serializer

from panama.core.errors import PanamaError, format_validation_error

# NAM's choices for gear_type and tone_type (its ``GearType`` / ``ToneType``).
GEAR_TYPES = ("amp", "pedal", "pedal_amp", "amp_cab", "amp_pedal_cab", "preamp", "studio")
TONE_TYPES = ("clean", "overdrive", "crunch", "hi_gain", "fuzz")


class GearMeta(BaseModel):
    """NAM's user metadata; every field is optional."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    modeled_by: str | None = None
    gear_type: Literal[GEAR_TYPES] | None = None  # type: ignore[valid-type]
    gear_make: str | None = None
    gear_model: str | None = None
    tone_type: Literal[TONE_TYPES] | None = None  # type: ignore[valid-type]
    input_level_dbu: float | None = None
    output_level_dbu: float | None = None

    @model_serializer(mode="wrap")
    def _set_fields_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """capture.json keeps only the fields that are set."""
        return {k: v for k, v in handler(self).items() if v is not None}

    def fields(self) -> dict[str, Any]:
        """The fields that are set."""
        return self.model_dump()

    def merged(self, other: GearMeta) -> GearMeta:
        """This metadata with ``other``'s set fields on top."""
        return GearMeta(**{**self.fields(), **other.fields()})

    def title(self, fallback: str) -> str:
        """A name for files made from this capture: ``name``, else make and model, else ``fallback``."""
        if self.name:
            return self.name
        return " ".join(p for p in (self.gear_make, self.gear_model) if p) or fallback


def parse_meta(text: str | None) -> GearMeta:
    """``"gear_make=Marshall,gear_model=JCM800,tone_type=crunch"`` → :class:`GearMeta`.

    An empty value (``name=``) leaves the field unset.
    """
    from panama.core.options import parse_pairs

    if not text:
        return GearMeta()
    pairs = parse_pairs(text, what="metadata", example="gear_make=Marshall,tone_type=crunch")
    values = {k: (v or None) for k, v in pairs.items()}
    return validate_meta(values)


def validate_meta(values: dict[str, Any]) -> GearMeta:
    """Validate metadata fields, with one clear line naming the field and its choices."""
    try:
        return GearMeta.model_validate(values)
    except ValidationError as exc:
        raise PanamaError("metadata " + "; ".join(format_validation_error(exc)),
                          f"fields: {', '.join(GearMeta.model_fields)}; gear_type one of {', '.join(GEAR_TYPES)}; "
                          f"tone_type one of {', '.join(TONE_TYPES)}") from None
