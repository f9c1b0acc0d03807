"""Deliberate crash points for the crash-safety tests.

The capture store promises that ``kill -9`` at any instant loses nothing and duplicates
nothing. To *test* that promise at the dangerous instants (half-way through a WAV write, just
before a journal line is complete …) the writing code calls ``crash_point("name")``; when
``PANAMA_TEST_CRASH_AT`` names that point the process SIGKILLs itself right there, exactly as
an out-of-memory kill or a pulled power cord would. ``name@N`` crashes at the N-th time the
point is reached (e.g. while writing the third label). Unset (always, outside the tests) it
is one dictionary lookup.

``PANAMA_TEST_FAIL_AT=point[@N][=ERRNO]`` raises ``OSError(ERRNO)`` there instead (default
``ENOSPC``: the disk filled up mid-write), for the tests of what a failed write leaves behind.
"""

from __future__ import annotations

import errno
import os
import signal
from collections import Counter

ENV = "PANAMA_TEST_CRASH_AT"
FAIL_ENV = "PANAMA_TEST_FAIL_AT"
_hits: Counter[str] = Counter()


def _armed(variable: str, name: str) -> bool:
    wanted = os.environ.get(variable, "").partition("=")[0]
    if not wanted:
        return False
    point, _, nth = wanted.partition("@")
    return point == name and _hits[name] + 1 >= int(nth or 1)


def crash_armed(name: str) -> bool:
    """Whether the next ``crash_point(name)`` will kill the process."""
    return _armed(ENV, name)


def crash_point(name: str) -> None:
    """SIGKILL this process if ``$PANAMA_TEST_CRASH_AT`` names this point (and hit count)."""
    if not (os.environ.get(ENV) or os.environ.get(FAIL_ENV)):
        return
    if crash_armed(name):
        os.kill(os.getpid(), signal.SIGKILL)
    if _armed(FAIL_ENV, name):
        _hits[name] += 1
        code = getattr(errno, os.environ[FAIL_ENV].partition("=")[2] or "ENOSPC")
        raise OSError(code, os.strerror(code))
    _hits[name] += 1
