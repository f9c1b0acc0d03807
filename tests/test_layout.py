"""The layout of ``panama.core`` (docs/architecture.md): one name per job, imports run downward.

Two rules a newcomer should not have to rediscover by reading every file:

* no module name is repeated between ``commands/`` and the library: ``commands/evaluate.py``
  and a library ``evaluate.py`` would leave a reader (and a grep) guessing which one owns the
  concept; packages count by their folder name (``capture/`` against ``commands/capture.py``);
* imports run downward through the layers of :data:`LAYERS` (lazy imports inside functions and
  ``"module:attribute"`` strings included), and the plugin distributions use only the
  vocabulary, never the store, training or anything above them.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGES = Path(__file__).resolve().parents[1] / "packages"
CORE = PACKAGES / "panama-core" / "src" / "panama" / "core"

# Bottom to top; a module may import its own layer and the ones below. A new module must be
# placed here (and in docs/architecture.md's picture).
LAYERS = (
    ("knobs", "options", "errors", "fsutil", "faults", "console", "progress"),
    ("__init__", "protocols", "hookspecs", "plugins", "components", "audio", "signal", "presets", "nam_extensions"),
    ("capture", "train"),
    ("loop", "offline", "preflight", "packs", "render"),
    ("study", "nam_outdir"),
    ("commands", "cli", "lazy_group"),
)
# The one upward import, lazy and documented: the loop's default.nam carries the expected ESR.
EXCEPTIONS = {("loop.py", "panama.core.study.setting_esr")}
VOCABULARY = LAYERS[0] + LAYERS[1]


def layer_of(name: str) -> int | None:
    return next((i for i, names in enumerate(LAYERS) if name in names), None)


def library_names() -> set[str]:
    """Basenames of every module and package under ``panama/core`` outside ``commands/``."""
    names: set[str] = set()
    for path in CORE.rglob("*.py"):
        parts = path.relative_to(CORE).parts
        if parts[0] == "commands":
            continue
        names.update(parts[:-1])  # the packages a module sits in
        if path.stem != "__init__":
            names.add(path.stem)
    return names


def command_names() -> set[str]:
    return {path.stem for path in (CORE / "commands").glob("*.py") if path.stem != "__init__"}


def core_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for every ``panama.core.X`` that ``path`` imports, at any depth (so
    lazy imports count) and in import strings (``"panama.core.X:attr"``); ``X`` is the
    top-level module or package under ``panama.core``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            targets = [node.value.split(":")[0]]
        else:
            continue
        found += [(node.lineno, target) for target in targets
                  if target.startswith("panama.core.") and target.count(" ") == 0]
    return found


def upward(path: Path, root: Path, allowed: int) -> list[str]:
    """The imports of ``path`` that reach above layer ``allowed``."""
    offenders = []
    for line, target in core_imports(path):
        layer = layer_of(target.split(".")[2])
        excepted = any(path.name == name and (target == module or target.startswith(module + "."))
                       for name, module in EXCEPTIONS)
        if layer is not None and layer > allowed and not excepted:
            offenders.append(f"{path.relative_to(root)}:{line}: {target} (layer {layer} > {allowed})")
    return offenders


def test_no_module_name_is_shared_by_commands_and_the_library() -> None:
    commands, library = command_names(), library_names()
    assert {"capture_folder", "evaluate", "compare", "report"} <= commands  # the scan sees the CLI
    assert {"store", "heldout", "comparison", "study", "capture", "train", "knobs"} <= library  # and the library
    assert commands & library == set(), "rename the commands/ module by what it contains"


def test_every_core_module_has_a_layer() -> None:
    unplaced = sorted({path.relative_to(CORE).parts[0].removesuffix(".py") for path in CORE.rglob("*.py")}
                      - {name for names in LAYERS for name in names})
    assert unplaced == [], "add them to LAYERS and to docs/architecture.md"


def test_core_imports_run_downward() -> None:
    offenders = [line for path in sorted(CORE.rglob("*.py"))
                 for line in upward(path, CORE, layer_of(path.relative_to(CORE).parts[0].removesuffix(".py")) or 0)]
    assert offenders == []


def test_plugins_use_only_the_vocabulary() -> None:
    """Nets, samplers and label sources see core through protocols, knobs, audio, errors, hooks."""
    files = sorted(p for name in ("models", "acquisition", "amps") for p in (PACKAGES / f"panama-{name}" / "src").rglob("*.py"))
    assert len(files) > 20
    beyond = [f"{path.relative_to(PACKAGES)}:{line}: {target}" for path in files for line, target in core_imports(path)
              if target.split(".")[2] not in VOCABULARY]
    assert beyond == []


def test_the_scan_finds_an_upward_import(tmp_path: Path) -> None:
    """The scan sees lazy imports and import strings, so the tests above can fail."""
    probe = tmp_path / "knobs.py"
    probe.write_text("def later():\n    from panama.core.study.heldout import score_settings\n"
                     "TARGET = 'panama.core.commands.run:register'\nimport panama.core.errors\n")
    found = sorted(line.split(": ", 1)[1].split(" (")[0] for line in upward(probe, tmp_path, layer_of("knobs") or 0))
    assert found == ["panama.core.commands.run", "panama.core.study.heldout",
                     "panama.core.study.heldout.score_settings"]
