"""Deliberate crash points for the crash-safety tests.

The capture store promises that ``kill -9`` at any instant loses nothing and duplicates
nothing. To *test* that promise at the dangerous instants (half-way through a WAV write, just
before a journal line is complete …) the writing code calls ``crash_point("name")``; when
``PANAMA_TEST_CRASH_AT`` names that point the process SIGKILLs itself right there, exactly as
an out-of-memory kill or a pulled power cord would. Unset (always, outside the tests) it is a
dictionary lookup and nothing else.
"""

from __future__ import annotations

import os
import signal

ENV = "PANAMA_TEST_CRASH_AT"


def crash_point(name: str) -> None:
    """SIGKILL this process if ``$PANAMA_TEST_CRASH_AT`` equals ``name``."""
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
