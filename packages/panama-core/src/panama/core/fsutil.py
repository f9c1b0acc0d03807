"""Durable file writes: temp file in the same folder → fsync → rename → fsync the folder.

After a crash a target path is either absent, the old version or the complete new version,
never a torn file. Stale temp files (``.NAME.PID.tmp``) are safe to delete.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a rename or a new entry durable: fsync the folder that holds it."""
    fd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_name(path: Path) -> Path:
    """The temp file next to ``path`` (hidden, ends in ``.tmp``)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (another user's live process counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale_temp(name: str) -> bool:
    """A temp file (``.NAME.PID.tmp``) whose writer is gone (or is this very process, which is
    not writing it now): safe to delete. A live writer's temp file is left alone."""
    if not is_temp_name(name):
        return False
    pid = name[: -len(".tmp")].rpartition(".")[2]
    return not pid.isdigit() or int(pid) == os.getpid() or not pid_alive(int(pid))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, before_rename: Callable[[], None] | None = None) -> Iterator[Path]:
    """Yield a temp path to write; on success it is fsynced and renamed onto ``path``.

    On any failure the temp file is removed and ``path`` is untouched. ``before_rename`` runs
    between the fsync and the rename (the crash tests hook in there). For writers that want a
    file name (``torch.save`` …): the file is created like any other (0666 less the umask), not
    with ``mkstemp``'s 0600, so a model or export is as readable as the labels beside it.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(target)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        if before_rename is not None:
            before_rename()
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(target.parent)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], *, before_rename: Callable[[], None] | None = None) -> Iterator[BinaryIO]:
    """Like :func:`atomic_path`, yielding an open binary handle instead of a path."""
    with atomic_path(path, before_rename=before_rename) as tmp, open(tmp, "wb") as handle:
        yield handle


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_file(path) as handle:
        handle.write(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """UTF-8, newlines as given (no translation)."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike[str], payload: Any, *, allow_nan: bool = True) -> Path:
    """``allow_nan=False`` for files other tools read (evaluation, comparison): NaN/Infinity
    are not JSON, so such a value is an error here rather than a file others cannot parse."""
    return write_text_atomic(path, json.dumps(payload, indent=2, allow_nan=allow_nan) + "\n")
