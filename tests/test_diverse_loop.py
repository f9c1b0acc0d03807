"""ensemble-diverse with real tiny wavenet ensembles: through the loop on the sim (warm starts
from the last round's ensemble.pt, a journalled space-filling fallback) and on its own."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from panama.core.components import build
from panama.core.knobs import KnobSpace
from panama.core.protocols import SamplerContext

pytest.importorskip("torch")
train = pytest.importorskip("panama.core.train")


@pytest.mark.slow
def test_loop_warm_starts_members_and_journals_the_fallback(tmp_path: Path) -> None:
    from panama.core.capture.store import Capture
    from panama.core.loop import Loop

    # competence_esr so low that no ensemble passes: every active round is space-filling.
    options = {"competence_esr": 1e-9, "members": 2}
    capture = Capture.create(tmp_path / "amp", labeler="sim", preset="tiny", sampler="ensemble-diverse",
                             sampler_options=options, budget=8, initial=4, run_preset="tiny", seed=2)
    logged: list[str] = []
    with capture.lock():
        loop = Loop(capture, progress=False, log=logged.append)
        for round_index in range(3):
            loop.label(loop.propose(round_index))
    events = [e for e in capture.events() if e["event"] == "proposed"]
    assert [e["round"] for e in events] == [0, 1, 2]
    assert "fallback" not in events[0]  # the initial design is the plan, not a fallback
    for event in events[1:]:
        assert event["fallback"]["design"] == "sobol"
        assert event["fallback"]["reason"].startswith("median member validation ESR")
    first = json.loads((capture.root / "rounds" / "01" / "proposals.json").read_text())["notes"]["members"]
    second = json.loads((capture.root / "rounds" / "02" / "proposals.json").read_text())["notes"]["members"]
    assert "warm_start" not in first and len(first["val_esr"]) == 2 and len(first["bootstrap"]) == 2
    assert second["warm_start"]["from"] == "rounds/01/ensemble.pt"
    assert second["steps"] == 12  # half of the tiny preset's 25 ensemble steps
    previous = train.TrainedEnsemble.load(capture.root / "rounds" / "01" / "ensemble.pt")
    assert second["warm_start"]["from_seeds"] == previous.seeds
    assert previous.knob_space == capture.knob_space  # its members predict at the capture's settings
    assert any("from rounds/01/ensemble.pt" in line for line in logged)
    assert any("not competent" in line for line in logged)
    # the report says, per round, what the members were like and why the round fell back
    from panama.core.study.report_html import build_report

    page = build_report(capture.root).read_text()
    assert "Active learning rounds" in page and "Round 2: ensemble-diverse" in page
    assert "rounds/01/ensemble.pt" in page and "fell back to a fixed design" in page
    assert (capture.root / "report" / "rounds-member-esr.png").is_file()


@pytest.mark.slow
def test_proposes_a_spread_batch_from_a_trained_wavenet_ensemble() -> None:
    rate, space = 8000, KnobSpace.of("gain", "tone")
    rng = np.random.default_rng(0)
    x = (0.3 * rng.standard_normal(rate)).astype(np.float32)
    labelled = rng.random((5, 2))
    y = np.stack([np.tanh((1 + 9 * g) * x) * (0.3 + 0.7 * t) for g, t in labelled]).astype(np.float32)
    data = train.TrainingData(x=x, y=y, knobs=labelled, sample_rate=rate)
    recipe = train.Recipe(steps=6, batch_size=2, segment_length=512, val_fraction=0.0, num_threads=1, val_every=3)
    calls: list[dict] = []

    def fit_ensemble(members: int, **options):
        calls.append(options)
        return train.fit_ensemble(data, members=members, net_options={"preset": "nano"}, recipe=recipe,
                                  bootstrap=options.get("bootstrap", False))

    ctx = SamplerContext(knob_space=space, labelled=space.from_unit_array(labelled), budget_remaining=8,
                         rng=np.random.default_rng(1), input_signal=x, sample_rate=rate, fit_ensemble=fit_ensemble)
    options = {"members": 2, "pool": 16, "restarts": 2, "steps": 3, "excerpt_seconds": 0.05, "profile_points": 3,
               "min_distance": 0.25, "competence_esr": None, "score": "log-spectral"}
    proposals = build("sampler", "ensemble-diverse", options).propose(ctx, 3)
    points = space.to_unit_array(proposals)
    assert len(points) == 3 and calls[0]["bootstrap"] is True
    gaps = np.linalg.norm(points[:, None] - np.vstack([points, labelled])[None], axis=-1)
    gaps[np.arange(3), np.arange(3)] = np.inf
    assert gaps.min() >= 0.25
    notes = json.loads(json.dumps(ctx.notes, allow_nan=False))
    assert len(notes["members"]["bootstrap"]) == 2 and all(s > 0 for s in notes["scores"])
    assert all(len(p["profile"]) == 2 for p in notes["proposals"])
