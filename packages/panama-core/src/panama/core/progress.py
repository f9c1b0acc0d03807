"""One progress-bar style for the commands that work through many items (packs, renders)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def progress_bar(total: float, description: str, *, enabled: bool = True,
                 count: bool = True) -> Iterator[Callable[[float], None]]:
    """Yield ``advance(amount)``; draws a Rich bar on stderr when ``enabled`` (``count``: show
    "done/total", else a percentage)."""
    if not enabled:
        yield lambda amount: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    from panama.core.console import err

    done = MofNCompleteColumn() if count else TaskProgressColumn()
    columns = (TextColumn("{task.description}"), BarColumn(), done, TimeRemainingColumn())
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task(description, total=total)
        yield lambda amount: progress.advance(task, amount)
