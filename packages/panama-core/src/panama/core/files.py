"""Atomic writes for evaluation, comparison and report files, on top of ``panama.core.fsutil``.

These outputs are read by other tools, so their JSON is strict (no NaN/Infinity).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from panama.core.fsutil import write_json_atomic as _write_json_atomic
from panama.core.fsutil import write_text_atomic

__all__ = ["write_json_atomic", "write_text_atomic"]


def write_json_atomic(path: Path, payload: Any) -> Path:
    """JSON with strict numbers (no NaN/Infinity, which other tools cannot read)."""
    return _write_json_atomic(path, payload, allow_nan=False)
