"""The one exception type a user is meant to see.

Every expected failure (bad WAV, unknown knob, missing plugin …) raises ``PanamaError`` with a
message naming the problem and a hint naming the fix; the CLI prints it as one red line and
exits non-zero. Anything else is a bug and shows a traceback only under ``--debug``.
"""

from __future__ import annotations


class PanamaError(Exception):
    """A problem the user can fix; ``hint`` says how."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} — {self.hint}"
        return self.message


def format_validation_error(error: object, prefix: str = "") -> list[str]:
    """Turn a pydantic ``ValidationError`` into ``path.to.field: message`` lines."""
    lines = []
    for item in error.errors():  # type: ignore[attr-defined]
        loc = ".".join(str(part) for part in item.get("loc", ()))
        if prefix:
            loc = f"{prefix}.{loc}" if loc else prefix
        lines.append(f"{loc or '(root)'}: {item.get('msg', 'invalid value')}")
    return lines


def os_error(exc: BaseException) -> PanamaError | None:
    """An operating-system failure the user can act on (permissions, a full or read-only disk)
    as a ``PanamaError``; ``None`` for anything else (that is a bug)."""
    import errno

    if not isinstance(exc, OSError):
        return None
    where = exc.filename or "a file"
    if isinstance(exc, PermissionError):
        return PanamaError(f"permission denied: {where}",
                           "check the permissions of that file or folder, or work on a copy you own")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return PanamaError(f"no space left on the device (writing {where})",
                           "free some space and run the same command again; what was saved is kept")
    if exc.errno == errno.EROFS:
        return PanamaError(f"{where} is on a read-only file system", "work on a copy on a writable disk")
    return None
