"""Build and install throwaway plugin distributions with real entry points.

Packages go into a private ``--target`` folder put on PYTHONPATH of a subprocess, so tests
exercise genuine ``importlib.metadata`` discovery without touching the test environment.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "{dist}"
version = "{version}"

[project.entry-points.panama]
{ep} = "{module}"

[tool.hatch.build.targets.wheel]
packages = ["{module}"]
"""


def make_plugin(root: Path, dist: str, module: str, source: str, version: str = "1.2.3") -> Path:
    project = root / dist
    (project / module).mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        PYPROJECT.format(dist=dist, version=version, ep=dist.removeprefix("panama-"), module=module)
    )
    (project / module / "__init__.py").write_text(textwrap.dedent(source))
    return project


def pip_install_target(target: Path, *projects: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--target", str(target), *map(str, projects)],
        check=True, capture_output=True, text=True,
    )
