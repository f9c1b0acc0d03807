"""The plugin system against real installed entry points and a real extensions folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from panama.core import PanamaError
from panama.core.components import build, open_label_source
from panama.core.plugins import get_registry
from plugin_packages import make_plugin, pip_install_target

REPO = Path(__file__).resolve().parents[1]

GOOD = '''
from panama.core.hookspecs import hookimpl

class Alternating:
    """Alternates between the two ends of the knob box."""
    from panama.core.protocols import ComponentConfig as Config

    def __init__(self, config):
        self.config = config

    def propose(self, context, n):
        return [context.knob_space.from_unit([i % 2] * len(context.knob_space)) for i in range(n)]

@hookimpl
def register_samplers(register):
    register("alternating", Alternating)
'''

BROKEN = '''
raise ImportError("this plugin needs libfoo, which is not installed")
'''


def _env(target: Path, **extra: str) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH", "")]))
    return {"PYTHONPATH": path, **extra}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three real distributions: a good plugin, a broken one, and one that clashes."""
    root = tmp_path_factory.mktemp("plugins")
    target = root / "site"
    clash = GOOD.replace('"alternating", Alternating', '"random", Alternating')
    pip_install_target(
        target,
        make_plugin(root, "panama-alternating", "panama_alternating", GOOD),
        make_plugin(root, "panama-broken", "panama_broken", BROKEN, version="0.0.1"),
        make_plugin(root, "panama-clashing", "panama_clashing", clash, version="9.9"),
    )
    return target


def test_installed_plugin_is_listed_with_its_distribution(installed, panama):
    result = panama("plugins", "--json", env=_env(installed))
    assert result.returncode == 0, result.stderr
    rows = {(c["kind"], c["name"]): c for c in json.loads(result.stdout)["components"]}
    row = rows[("sampler", "alternating")]
    assert row["distribution"] == "panama-alternating"
    assert row["version"] == "1.2.3"
    assert row["summary"] == "Alternates between the two ends of the knob box."


def test_broken_plugin_warns_once_and_the_cli_keeps_working(installed, panama):
    result = panama("plugins", env=_env(installed))
    assert result.returncode == 0
    assert "panama-broken" in result.stderr and "libfoo" in result.stderr
    assert "Traceback" not in result.stderr
    assert "alternating" in result.stdout  # the healthy plugins still load


def test_strict_mode_reraises_the_broken_plugin(installed, panama):
    result = panama("plugins", env=_env(installed, PANAMA_STRICT_PLUGINS="1"))
    assert result.returncode != 0
    assert "libfoo" in result.stderr


def test_clash_names_both_distributions(installed, panama):
    result = panama("plugins", "--json", env=_env(installed))
    assert "panama-acquisition" in result.stderr and "panama-clashing 9.9" in result.stderr
    assert result.returncode == 0  # listing still works; using the name does not
    code = "from panama.core.components import build; build('sampler', 'random')"
    used = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **_env(installed)})
    assert used.returncode != 0
    assert "registered by both panama-acquisition 0.1.0 and panama-clashing 9.9" in used.stderr


def test_load_plugins_env_limits_third_party_plugins(installed, panama):
    only = panama("plugins", "--json", env=_env(installed, PANAMA_LOAD_PLUGINS="panama-alternating"))
    names = {c["name"] for c in json.loads(only.stdout)["components"]}
    assert "alternating" in names and "random" in names  # built-ins always load
    assert "panama-broken" not in only.stderr
    none = panama("plugins", "--json", env=_env(installed, PANAMA_LOAD_PLUGINS=""))
    names = {c["name"] for c in json.loads(none.stdout)["components"]}
    assert "alternating" not in names and "random" in names
    assert none.stderr == ""


def test_extensions_folder_is_loaded(panama_home):
    (panama_home / "extensions").mkdir()
    (panama_home / "extensions" / "my_sampler.py").write_text(GOOD)
    registry = get_registry()
    component = registry.get("sampler", "alternating")
    assert component.distribution.startswith("extension ")
    sampler = build("sampler", "alternating")
    assert hasattr(sampler, "propose")


def test_broken_extension_is_skipped(panama_home, capsys):
    (panama_home / "extensions").mkdir()
    (panama_home / "extensions" / "bad.py").write_text("1/0\n")
    registry = get_registry()
    assert "random" in registry.names("sampler")
    assert "ZeroDivisionError" in capsys.readouterr().err
    assert registry.problems and registry.problems[0].plugin == "extensions/bad.py"


def test_lazy_targets_are_not_imported_at_discovery():
    registry = get_registry()
    component = registry.get("sampler", "random")
    assert component.lazy
    sys.modules.pop("panama.acquisition.fixed", None)
    get_registry()
    assert "panama.acquisition.fixed" not in sys.modules
    assert component.load().__name__ == "RandomSampler"


def test_unknown_components_and_bad_options_are_clear_errors():
    with pytest.raises(PanamaError, match="unknown sampler 'nope'") as info:
        build("sampler", "nope")
    assert "random" in info.value.hint
    with pytest.raises(PanamaError, match="unknown labeler 'nope'"):
        open_label_source("nope:thing")
    with pytest.raises(PanamaError, match="sampler 'random': colour: Extra inputs are not permitted") as info:
        build("sampler", "random", {"colour": "red"})
    assert info.value.hint == "`panama plugins show random` lists its options"
    with pytest.raises(PanamaError, match="unknown option") as info:
        open_label_source("sim:colour=red")
    assert "`panama plugins show sim` lists its options" in str(info.value)


def test_plugins_show_prints_options_from_the_config_schema(panama):
    """Name, type (with bounds), default and description, read from the pydantic Config."""
    shown = panama("plugins", "show", "lhs", "--json", env={"PANAMA_LOAD_PLUGINS": ""})
    assert shown.returncode == 0, shown.stderr
    entry = json.loads(shown.stdout)
    assert (entry["kind"], entry["name"], entry["distribution"]) == ("sampler", "lhs", "panama-acquisition")
    assert entry["declares"] == {"nested_design": False}
    options = {o["name"]: o for o in entry["options"]}
    assert list(options) == ["seed", "tolerance", "optimization"]
    assert options["tolerance"]["type"] == "float (> 0.0, ≤ 0.25)" and options["tolerance"]["default"] == 0.001
    assert options["optimization"]["type"] == "none | random-cd | lloyd"
    assert options["seed"] == {"name": "seed", "type": "int | None", "default": None, "required": False,
                               "description": "design seed; default: the capture's seed"}
    # A labeler spec counts by its scheme; a required field says so.
    vst = json.loads(panama("plugins", "show", "vst:amp.vst3", "--json", env={"PANAMA_LOAD_PLUGINS": ""}).stdout)
    path = next(o for o in vst["options"] if o["name"] == "path")
    assert vst["declares"]["spec_field"] == "path" and path["required"] and path["default"] is None

    table = panama("plugins", "show", "random", env={"PANAMA_LOAD_PLUGINS": "", "COLUMNS": "200"})
    assert table.returncode == 0, table.stderr
    assert "tolerance" in table.stdout and "design seed; default: the capture's seed" in table.stdout
    assert "--sampler-option NAME=VALUE" in table.stdout


def test_plugins_show_unknown_name_is_one_line(panama):
    result = panama("plugins", "show", "nope", env={"PANAMA_LOAD_PLUGINS": ""})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: no component named 'nope' is installed — `panama plugins` lists every installed name"]
    wrong_kind = panama("plugins", "show", "random", "--kind", "net", env={"PANAMA_LOAD_PLUGINS": ""})
    assert wrong_kind.returncode == 2 and "no net named 'random'" in wrong_kind.stderr
