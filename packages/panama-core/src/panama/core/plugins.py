"""Plugin discovery and the component registry.

One entry-point group, ``panama``. Each entry point is loaded in its own try/except: a broken
plugin costs one warning naming it, never the CLI (``PANAMA_STRICT_PLUGINS=1`` re-raises).
``PANAMA_LOAD_PLUGINS`` (comma list of distribution or entry-point names; empty = built-ins
only) limits what loads, and ``$PANAMA_HOME/extensions/*.py`` is loaded as local plugins.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from panama.core import hookspecs
from panama.core.errors import PanamaError

GROUP = "panama"
BUILTIN_DISTRIBUTIONS = ("panama-core", "panama-models", "panama-acquisition", "panama-amps")
KINDS: dict[str, str] = {
    "net": "register_nets",
    "sampler": "register_samplers",
    "label_source": "register_label_sources",
    "exporter": "register_exporters",
}
KIND_TITLES = {"net": "net", "sampler": "sampler", "label_source": "labeler", "exporter": "exporter"}


@dataclass
class Component:
    kind: str
    name: str
    target: Any
    summary: str
    distribution: str
    version: str
    plugin: str

    @property
    def lazy(self) -> bool:
        return isinstance(self.target, str)

    def load(self) -> Any:
        """Resolve a lazy ``"module:attribute"`` target (imports happen here, not at discovery)."""
        if not isinstance(self.target, str):
            return self.target
        module_name, _, attribute = self.target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in filter(None, attribute.split(".")):
                obj = getattr(obj, part)
        except ImportError as exc:
            raise PanamaError(
                f"{KIND_TITLES[self.kind]} {self.name!r} (from {self.distribution}) could not be "
                f"imported: {exc}",
                _install_hint(self.distribution, getattr(exc, "name", None)),
            ) from exc
        except AttributeError as exc:
            raise PanamaError(
                f"{KIND_TITLES[self.kind]} {self.name!r} (from {self.distribution}) points at "
                f"{self.target!r}, which does not exist",
                f"this is a bug in {self.distribution}; report it or uninstall it",
            ) from exc
        self.target = obj
        return obj

    def problem(self) -> str | None:
        """Why a lazy target cannot be imported, found without importing it (so ``panama
        plugins`` stays torch-free): its module, or a package above it, does not exist."""
        if not isinstance(self.target, str):
            return None
        module_name = self.target.partition(":")[0]
        try:
            found = importlib.util.find_spec(module_name)
        except ModuleNotFoundError as exc:
            return f"module {exc.name or module_name!r} is not installed"
        except (ImportError, ValueError) as exc:
            return f"cannot import {module_name!r}: {exc}"
        return None if found is not None else f"module {module_name!r} is not installed"


def _install_hint(distribution: str, missing: str | None) -> str:
    """Name an extra only if the distribution has it (``[all]`` is not universal)."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        extras = metadata(distribution).get_all("Provides-Extra") or []
    except PackageNotFoundError:
        extras = []
    if "all" in extras:
        return f"install what it needs: pip install '{distribution}[all]'"
    if missing:
        return f"install the missing module {missing!r} (e.g. pip install {missing.split('.')[0]}), or reinstall {distribution}"
    return f"reinstall {distribution} (pip install --force-reinstall {distribution}) or uninstall it"


@dataclass
class Problem:
    plugin: str
    distribution: str
    message: str


@dataclass
class Registry:
    """What discovery found: the components by kind and name, and everything that went wrong.

    ``plugins`` maps each loaded plugin's pluggy name to where it came from, so a hook that
    fails later (``register_commands``) is reported like one that failed at discovery;
    ``errors`` keeps the exceptions behind ``problems`` for strict mode's ``raise … from``.
    """

    components: dict[str, dict[str, Component]] = field(default_factory=lambda: {k: {} for k in KINDS})
    clashes: dict[tuple[str, str], list[Component]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    plugin_manager: pluggy.PluginManager | None = None
    plugins: dict[str, _Plugin] = field(default_factory=dict, repr=False)
    errors: list[BaseException] = field(default_factory=list, repr=False)

    def add(self, component: Component) -> None:
        table = self.components[component.kind]
        existing = table.get(component.name)
        if existing is None:
            table[component.name] = component
            return
        key = (component.kind, component.name)
        self.clashes.setdefault(key, [existing]).append(component)
        if not strict():  # strict mode refuses all clashes at once, at the end of discovery
            _warn(f"{KIND_TITLES[component.kind]} {component.name!r} is registered by both "
                  f"{_who(existing)} and {_who(component)}; keeping the first (uninstall one of them)")

    def get(self, kind: str, name: str) -> Component:
        title = KIND_TITLES[kind]
        if (kind, name) in self.clashes:
            rivals = " and ".join(_who(c) for c in self.clashes[(kind, name)])
            raise PanamaError(
                f"{title} {name!r} is registered by both {rivals}",
                "uninstall one of them (pip uninstall NAME) so the name is unambiguous",
            )
        try:
            return self.components[kind][name]
        except KeyError:
            known = ", ".join(sorted(self.components[kind])) or "(none installed)"
            raise PanamaError(
                f"unknown {title} {name!r}", f"known {title}s: {known}; `panama plugins` lists them all"
            ) from None

    def names(self, kind: str) -> list[str]:
        return sorted(self.components[kind])

    def all(self) -> list[Component]:
        return [c for kind in KINDS for c in sorted(self.components[kind].values(), key=lambda c: c.name)]


def _who(component: Component) -> str:
    return f"{component.distribution} {component.version}".strip()


def strict() -> bool:
    return os.environ.get("PANAMA_STRICT_PLUGINS", "").strip() not in ("", "0", "false", "no")


def _warn(message: str) -> None:
    # Plain stderr rather than warnings.warn: the user should see one readable line, once.
    print(f"panama: warning: {message}", file=sys.stderr)


def panama_home() -> Path:
    return Path(os.environ.get("PANAMA_HOME") or Path.home() / ".panama").expanduser()


# Set by the CLI's --debug: a broken plugin's warning then comes with its traceback.
show_tracebacks = False


def _allowed() -> set[str] | None:
    raw = os.environ.get("PANAMA_LOAD_PLUGINS")
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


@dataclass
class _Plugin:
    name: str
    distribution: str
    version: str
    loader: Callable[[], ModuleType]


def _discover() -> list[_Plugin]:
    allowed = _allowed()
    plugins: list[_Plugin] = []
    problems: list[_Plugin] = []  # what cannot be loaded at all: reported like a broken plugin
    known, third_party = {"extensions"}, set()
    for ep in entry_points(group=GROUP):
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else "unknown distribution"
        version = dist.version if dist is not None else ""
        builtin = dist_name in BUILTIN_DISTRIBUTIONS
        known |= {dist_name, ep.name}
        if not builtin:
            third_party.add(dist_name)
        if allowed is not None and not builtin and not ({dist_name, ep.name} & allowed):
            continue
        plugins.append(_Plugin(ep.name, dist_name, version, ep.load))
    # Built-ins first, so a third-party plugin can never shadow them silently.
    plugins.sort(key=lambda p: (p.distribution not in BUILTIN_DISTRIBUTIONS, p.distribution, p.name))
    seen: set[tuple[str, str]] = set()
    unique = []
    for p in plugins:  # the same dist can appear twice on odd sys.paths
        if (p.distribution, p.name) not in seen:
            seen.add((p.distribution, p.name))
            unique.append(p)
    if allowed:
        for name in sorted(allowed - known):
            problems.append(_Plugin(name, "PANAMA_LOAD_PLUGINS", "", _missing_loader(name, sorted(third_party))))
    folder = panama_home() / "extensions"
    if allowed is None or "extensions" in allowed:
        try:
            # iterdir, not glob: glob silently skips a folder it may not read
            scripts = sorted(p for p in folder.iterdir() if p.suffix == ".py") if folder.is_dir() else []
        except OSError as exc:
            scripts = []
            problems.append(_Plugin("extensions", f"folder {folder}", "", _unreadable_loader(folder, exc)))
        for path in scripts:
            unique.append(_Plugin(f"extensions/{path.name}", f"extension {path}", "", _file_loader(path)))
    return unique + problems


def _missing_loader(name: str, installed: list[str]) -> Callable[[], ModuleType]:
    def load() -> ModuleType:
        raise LookupError(f"PANAMA_LOAD_PLUGINS names {name!r}, which is not an installed plugin "
                          f"(installed: {', '.join(installed) or 'none besides the built-ins'}; "
                          "'extensions' means $PANAMA_HOME/extensions)")

    return load


def _unreadable_loader(folder: Path, exc: OSError) -> Callable[[], ModuleType]:
    def load() -> ModuleType:
        raise PermissionError(f"cannot read the extensions folder {folder} ({exc.strerror}); fix its "
                              "permissions or set PANAMA_HOME to another folder")

    return load


def _file_loader(path: Path) -> Callable[[], ModuleType]:
    def load() -> ModuleType:
        module_name = f"panama_extension_{path.stem}"
        from panama.core import nam_extensions

        if nam_extensions.is_nam_extension(path.read_text(errors="replace")):  # NAM's extensions folder format
            return nam_extensions.load(path, module_name, _warn)
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(module_name, None)
            raise
        return module

    return load


def _broken(registry: Registry, plugin: _Plugin, exc: BaseException, doing: str) -> None:
    """Record a plugin that failed; warn now, or (strict) fail once discovery has seen them all."""
    message = f"{type(exc).__name__}: {exc}" if not isinstance(exc, (LookupError, PermissionError)) else str(exc)
    registry.problems.append(Problem(plugin.name, plugin.distribution, message))
    registry.errors.append(exc)
    if show_tracebacks:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    if strict():
        return
    if plugin.distribution in ("PANAMA_LOAD_PLUGINS",) or plugin.name == "extensions":
        _warn(message)
        return
    _warn(
        f"plugin {plugin.name!r} ({plugin.distribution}) failed while {doing} and is skipped: "
        f"{message} (--debug shows the traceback; PANAMA_STRICT_PLUGINS=1 makes this an error)"
    )


def _refuse_if_strict(registry: Registry) -> None:
    """Strict mode: one error naming every broken plugin and every clash (not just the first)."""
    if not strict():
        return
    parts = [f"{p.plugin!r} ({p.distribution}): {p.message}" for p in registry.problems]
    parts += [f"{KIND_TITLES[kind]} {name!r} is registered by both {' and '.join(_who(c) for c in rivals)}"
              for (kind, name), rivals in registry.clashes.items()]
    if not parts:
        return
    errors = registry.errors
    raise PanamaError(
        f"PANAMA_STRICT_PLUGINS=1 and {len(parts)} plugin problem(s): " + "; ".join(parts),
        "fix or uninstall those plugins (pip uninstall NAME), or unset PANAMA_STRICT_PLUGINS to skip them "
        "with a warning; --debug shows the tracebacks",
    ) from (errors[0] if errors else None)


def build_registry() -> Registry:
    registry = Registry()
    pm = pluggy.PluginManager("panama")
    pm.add_hookspecs(hookspecs)
    registry.plugin_manager = pm
    for plugin in _discover():
        pluggy_name = f"{plugin.distribution}:{plugin.name}"
        try:
            pm.register(plugin.loader(), name=pluggy_name)
        except Exception as exc:  # one broken plugin must never break the CLI
            _broken(registry, plugin, exc, "loading")
            continue
        registry.plugins[pluggy_name] = plugin
    for kind, hook_name in KINDS.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():  # registration order: built-ins first
            plugin = registry.plugins[impl.plugin_name]
            try:
                impl.function(register=_register_for(registry, kind, plugin))
            except Exception as exc:
                _broken(registry, plugin, exc, f"registering {KIND_TITLES[kind]}s")
    _refuse_if_strict(registry)
    return registry


def _register_for(registry: Registry, kind: str, plugin: _Plugin) -> hookspecs.Register:
    """The ``register`` callback one plugin's hook for one kind receives."""

    def register(name: str, target: type[Any] | str, summary: str = "") -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"a {KIND_TITLES[kind]} name must be a non-empty string, got {name!r}")
        registry.add(Component(kind, name, target, summary or _summary(target), plugin.distribution,
                               plugin.version, plugin.name))

    return register


def _summary(target: Any) -> str:
    if isinstance(target, str):
        return ""
    doc = (getattr(target, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""


_REGISTRY: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, built on first use."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = build_registry()
    return _REGISTRY


def reset_registry() -> None:
    global _REGISTRY
    _REGISTRY = None


def register_commands(app: Any) -> None:
    """Let every plugin add its commands; a failing plugin is skipped with a warning."""
    registry = get_registry()
    pm = registry.plugin_manager
    if pm is None:
        return
    for impl in pm.hook.register_commands.get_hookimpls():
        plugin = registry.plugins[impl.plugin_name]
        try:
            impl.function(app=app)
        except Exception as exc:
            _broken(registry, plugin, exc, "adding commands")
