"""The report's rounds part, from proposals files written as the loop writes them, with the notes
a real ensemble-diverse round leaves (on a toy ensemble whose landscape is known)."""

from __future__ import annotations

from pathlib import Path

import pytest

from panama.core.components import build
from panama.core.fsutil import write_json_atomic
from panama.core.study.report_rounds import plot_member_esr, read_rounds, rounds_sections
from test_active import SOME_LABELS, SPACE, TARGET, context
from test_diverse import Metered

pytest.importorskip("torch")


def write_round(root: Path, index: int, sampler: str, settings: list, ctx) -> None:
    notes = {k: v for k, v in ctx.notes.items() if k != "scores"}
    write_json_atomic(root / "rounds" / f"{index:02d}" / "proposals.json",
                      {"round": index, "sampler": sampler, "settings": settings,
                       "scores": ctx.notes.get("scores", [None] * len(settings)), "notes": notes})


def test_rounds_say_where_proposals_went_and_why(tmp_path: Path) -> None:
    options = {"pool": 32, "restarts": 2, "steps": 20, "profile_points": 5}
    initial = context(Metered([TARGET], [1.0]), [])
    write_round(tmp_path, 0, "sobol", build("sampler", "sobol", {}).propose(initial, 3), initial)
    doubtful = context(Metered([TARGET], [1.0], val_esr=(4.0, 5.0, 6.0, 7.0)), SOME_LABELS)
    write_round(tmp_path, 1, "ensemble-diverse", build("sampler", "ensemble-diverse", options).propose(doubtful, 2),
                doubtful)
    trusted = context(Metered([TARGET], [1.0]), SOME_LABELS)
    write_round(tmp_path, 2, "ensemble-diverse", build("sampler", "ensemble-diverse", options).propose(trusted, 3),
                trusted)
    (tmp_path / "rounds" / "03").mkdir()
    (tmp_path / "rounds" / "03" / "proposals.json").write_text("{torn")

    rounds, problems = read_rounds(tmp_path)
    assert [r.round for r in rounds] == [0, 1, 2] and problems == ["rounds/03/proposals.json is unreadable (JSONDecodeError); left out"]
    assert rounds[1].fallback.startswith("sobol: median member validation ESR 5.5") and not rounds[2].fallback
    assert rounds[2].member_esr == [0.1, 0.2, 0.2, 0.3]

    out = tmp_path / "report"
    sections = rounds_sections(tmp_path, out, SPACE.names)
    assert [s.title for s in sections] == ["Active learning rounds", "Round 1: ensemble-diverse", "Round 2: ensemble-diverse"]
    summary = sections[0].html
    assert "unreadable" in summary and "5.5" in summary and "sobol: median member validation ESR" in summary
    assert "fell back to a fixed design" in sections[1].html and sections[1].images == []
    detail = sections[2]
    assert "refined from pool" in detail.html and "member level spread (dB)" in detail.html
    assert [p.name for p in detail.images] == ["round-02-profiles.png"]
    for image in [*sections[0].images, *detail.images]:
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and image.stat().st_size > 5_000
    # no rounds at all: one line saying so
    empty = rounds_sections(tmp_path / "nothing", out, SPACE.names)
    assert len(empty) == 1 and "no rounds" in empty[0].html


def test_member_esr_plot_tolerates_rounds_without_members(tmp_path: Path) -> None:
    initial = context(Metered([TARGET], [1.0]), [])
    write_round(tmp_path, 0, "sobol", build("sampler", "sobol", {}).propose(initial, 2), initial)
    rounds, _ = read_rounds(tmp_path)
    assert rounds[0].member_esr == []
    assert plot_member_esr(rounds, tmp_path / "esr.png").exists()
