"""benchmarks/RESULTS.md: each benchmark owns one section between its own markers."""

from __future__ import annotations

import re
from pathlib import Path


def replace_section(path: Path, text: str, start: str, end: str) -> None:
    """Replace the section between ``start`` and ``end`` in ``path`` (or append it), keeping
    everything else; written atomically."""
    from panama.core.fsutil import write_text_atomic

    old = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end) + r"\n?", re.S)
    new = pattern.sub(lambda m: text, old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text
    write_text_atomic(path, new)
