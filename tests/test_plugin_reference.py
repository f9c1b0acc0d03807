"""docs/plugins.md's complete sampler and label source, installed as real plugins, run a capture.

The code is taken from the page itself, so the reference cannot drift from what works.
"""

from __future__ import annotations

import json
import os
import re
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from plugin_packages import make_plugin, pip_install_target

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def doc_block(name: str) -> str:
    """The ```python block right after ``<!-- plugin-reference: NAME -->`` in docs/plugins.md."""
    found = re.search(rf"<!-- plugin-reference: {re.escape(name)} -->\s*```python\n(.*?)\n```", DOC.read_text(), re.S)
    assert found, f"docs/plugins.md has no code block marked plugin-reference: {name}"
    return found.group(1) + "\n"


def doc_module(name: str) -> types.ModuleType:
    module = types.ModuleType(f"plugin_reference_{name.replace('-', '_')}")
    exec(compile(doc_block(name), f"docs/plugins.md:{name}", "exec"), module.__dict__)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reference")
    target = root / "site"
    pip_install_target(
        target,
        make_plugin(root, "panama-farthest-point", "panama_farthest_point", doc_block("sampler")),
        make_plugin(root, "panama-softclip", "panama_softclip", doc_block("label-source")),
    )
    return target


def _env(site: Path) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH", "")]))
    return {"PYTHONPATH": path, "OMP_NUM_THREADS": "1"}


def test_the_reference_plugins_are_listed_with_their_options(site: Path, panama) -> None:
    listed = panama("plugins", "--json", env=_env(site))
    assert listed.returncode == 0, listed.stderr
    rows = {(c["kind"], c["name"]): c["distribution"] for c in json.loads(listed.stdout)["components"]}
    assert rows[("sampler", "farthest-point")] == "panama-farthest-point"
    assert rows[("labeler", "softclip")] == "panama-softclip"
    shown = panama("plugins", "show", "farthest-point", "--json", env=_env(site))
    assert shown.returncode == 0, shown.stderr
    entry = json.loads(shown.stdout)
    assert entry["declares"] == {"nested_design": True}
    assert [(o["name"], o["default"]) for o in entry["options"]] == [("candidates", 512)]


@pytest.mark.slow
def test_the_reference_sampler_and_label_source_run_a_capture(site: Path, tmp_path: Path, panama) -> None:
    result = panama("run", "clipper", "--sampler", "farthest-point", "--labeler", "softclip:asymmetry=0.2",
                    "--budget", "4", "--preset", "tiny", "--quiet", env=_env(site), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    capture = tmp_path / "clipper"
    events = [json.loads(line) for line in (capture / "journal.jsonl").read_text().splitlines()]
    assert {e["sampler"] for e in events if e["event"] == "proposed"} == {"farthest-point"}
    labelled = [e for e in events if e["event"] == "labelled"]
    settings = [e["setting"] for e in labelled]
    assert len(settings) == 4 and len({json.dumps(s, sort_keys=True) for s in settings}) == 4
    assert all(0 <= s["drive"] <= 10 and -24 <= s["level"] <= -6 for s in settings)
    # The sampler's notes land next to its proposals: one score (the gap it filled) per setting.
    proposals = json.loads((capture / "rounds" / "00" / "proposals.json").read_text())
    assert len(proposals["scores"]) == len(proposals["settings"]) and all(g > 0 for g in proposals["scores"])
    # Each label is exactly the documented clipper at its setting, with the option applied.
    reference = doc_module("label-source")
    source = reference.SoftClip(reference.SoftClip.Config(asymmetry=0.2))
    x, sr = sf.read(capture / "input.wav", dtype="float32")
    for event in labelled:
        y, _ = sf.read(capture / event["file"], dtype="float32")
        np.testing.assert_allclose(y, source.label(x, sr, event["setting"]), atol=1e-6)
    assert (capture / "exports" / "model.panama.json").exists()
