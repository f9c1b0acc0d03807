"""Developer sessions: ``nox`` (tests), ``nox -s lint``, ``nox -s typecheck``.

Every install goes through constraints.txt so torch stays the pinned CPU build.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True

PACKAGES = [
    "-e", "packages/panama-core[train,report]",
    "-e", "packages/panama-models",
    "-e", "packages/panama-acquisition[active]",
    "-e", "packages/panama-amps[all]",
]
TEST_TOOLS = ["pytest", "pytest-timeout", "hatchling"]


def install(session: nox.Session, *extra: str) -> None:
    session.install("-c", "constraints.txt", *PACKAGES, *extra)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite on CPU (slow end-to-end runs included)."""
    install(session, *TEST_TOOLS)
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("-c", "constraints.txt", "ruff")
    session.run("ruff", "check", "packages", "tests", "benchmarks", "examples", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    install(session, "mypy")
    session.run("mypy", "packages/panama-core/src/panama/core")
