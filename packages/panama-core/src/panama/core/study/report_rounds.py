"""The report's active-learning part: per round, where the proposals went and why.

Each round's ``rounds/NN/proposals.json`` holds what the sampler noted (see the samplers in
``panama.acquisition``): the members' validation ESR, warm start and bootstrap draws, a fallback
to a fixed design and its reason, and per proposal its score, the members' output levels and,
for ``ensemble-diverse``, the score along each knob axis through it. This module reads those
files (pure extraction, no torch) and turns them into tables and plots for ``panama report``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from panama.core.study.report_html import Section, _fmt, _note, _pyplot, _save, table_html


@dataclass
class RoundInfo:
    """One round as its proposals file describes it."""

    round: int
    sampler: str
    settings: list[dict[str, float]]
    scores: list[float | None]
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def member_esr(self) -> list[float]:
        """The members' validation ESR the sampler judged them by (pooled where recorded)."""
        members = self.notes.get("members") or {}
        values = members.get("val_esr_pooled") or members.get("val_esr") or []
        return [float(v) for v in values if v is not None]

    @property
    def fallback(self) -> str:
        """Why the round used a fixed design instead of its sampler ('' when it did not)."""
        value = self.notes.get("fallback")
        if isinstance(value, dict):
            return f"{value.get('design', '?')}: {value.get('reason', '')}".rstrip(": ")
        return str(value) if value else ""


def read_rounds(root: Path) -> tuple[list[RoundInfo], list[str]]:
    """Every readable ``rounds/NN/proposals.json`` in round order, and a note per unreadable one."""
    rounds: list[RoundInfo] = []
    problems: list[str] = []
    for path in sorted(Path(root).glob("rounds/*/proposals.json")):
        try:
            data = json.loads(path.read_text())
            rounds.append(RoundInfo(int(data["round"]), str(data.get("sampler", "")), list(data.get("settings") or []),
                                    list(data.get("scores") or []), dict(data.get("notes") or {})))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"{path.relative_to(root)} is unreadable ({type(exc).__name__}); left out")
    rounds.sort(key=lambda r: r.round)
    return rounds, problems


def summary_rows(rounds: Sequence[RoundInfo]) -> list[tuple[Any, ...]]:
    """One row per round: sampler, proposals, what the members were like, fallback, timing."""
    rows = []
    for info in rounds:
        members = info.notes.get("members") or {}
        esr = info.member_esr
        warm = members.get("warm_start")
        timing = info.notes.get("timing") or {}
        rows.append((
            info.round, info.sampler, len(info.settings),
            _fmt(float(np.median(esr))) if esr else "–",
            f"{_fmt(min(esr))} – {_fmt(max(esr))}" if esr else "–",
            members.get("validated_on") or "–",
            (warm.get("from") or "previous round") if isinstance(warm, dict) else "–",
            "yes" if members.get("bootstrap") else "–",
            info.fallback or "–",
            _fmt(timing["fit_s"]) if "fit_s" in timing else "–",
            _fmt(timing["search_s"]) if "search_s" in timing else "–",
        ))
    return rows


SUMMARY_HEADER = ("round", "sampler", "proposals", "median member val ESR", "member range", "validated on",
                  "warm start from", "bootstrap", "fallback", "fit s", "search s")


def proposal_rows(info: RoundInfo, names: Sequence[str]) -> list[tuple[Any, ...]]:
    """Per proposal: its setting, score, where it came from and how far apart the members were."""
    details = info.notes.get("proposals") or []
    rows = []
    for i, setting in enumerate(info.settings):
        extra = details[i] if i < len(details) and isinstance(details[i], dict) else {}
        levels = [v for v in extra.get("member_rms_db") or [] if v is not None]
        score = info.scores[i] if i < len(info.scores) else None
        rows.append((
            i + 1, *(_fmt(float(setting.get(name, float("nan")))) for name in names),
            _fmt(score) if score is not None else "–",
            _fmt(extra["disagreement"]) if extra.get("disagreement") is not None else "–",
            f"{max(levels) - min(levels):.2f}" if len(levels) > 1 else "–",
            extra.get("source", "–"),
        ))
    return rows


def plot_member_esr(rounds: Sequence[RoundInfo], path: Path) -> Path:
    """Each round's member validation ESR (dots) and their median (line), log scale."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.4), constrained_layout=True)
    xs, medians = [], []
    for info in rounds:
        esr = [v for v in info.member_esr if v > 0]
        if not esr:
            continue
        ax.scatter([info.round] * len(esr), esr, s=18, color="#3b7dd8", alpha=0.7)
        xs.append(info.round)
        medians.append(float(np.median(esr)))
        if info.fallback:
            ax.scatter([info.round], [float(np.median(esr))], s=80, facecolors="none", edgecolors="#b03030")
    ax.plot(xs, medians, "-", color="#222", lw=1, label="median (red ring: space-filling fallback)")
    ax.axhline(1.0, color="#888", lw=0.8, ls=":")
    ax.set_yscale("log")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("round")
    ax.set_ylabel("member validation ESR")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("ensemble members per round (ESR > 1: worse than silence)")
    return _save(fig, path)


def plot_profiles(info: RoundInfo, names: Sequence[str], path: Path) -> Path | None:
    """The score along each knob axis through each proposal (one panel per knob), or None."""
    grid = info.notes.get("profile_grid") or []
    details = [p for p in info.notes.get("proposals") or [] if isinstance(p, dict) and p.get("profile")]
    if not grid or not details or not names:
        return None
    from panama.core.study.report_html import _knob_grid

    plt = _pyplot()
    fig, axes, cols = _knob_grid(plt, len(names), 3.4, 2.5)
    colours = plt.get_cmap("tab10")
    for k, ax in enumerate(axes.flat):
        if k >= len(names):
            ax.axis("off")
            continue
        for j, proposal in enumerate(details):
            row = proposal["profile"][k] if k < len(proposal["profile"]) else []
            values = np.array([np.nan if v is None else v for v in row], dtype=float)
            ax.plot(grid[: len(values)], values, "-", color=colours(j % 10), lw=1, label=f"#{j + 1}")
            unit = proposal.get("unit") or []
            at = proposal.get("profile_at", proposal.get("disagreement"))
            if k < len(unit) and at is not None:
                ax.plot([unit[k]], [at], "o", color=colours(j % 10), ms=5)
        ax.set_xlim(0, 1)
        ax.set_title(names[k])
        ax.grid(True, alpha=0.3)
        if k % cols == 0:
            ax.set_ylabel("score")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"round {info.round}: score along each knob through each proposal (dot: the proposal)")
    return _save(fig, path)


def rounds_sections(root: Path, out_dir: Path, names: Sequence[str]) -> list[Section]:
    """The report's "Active learning rounds" section and one section per round with proposals."""
    rounds, problems = read_rounds(root)
    if not rounds:
        return [Section("Active learning rounds", html=_note("no rounds/*/proposals.json yet"))]
    intro = "".join(_note(p) for p in problems)
    images = []
    if any(info.member_esr for info in rounds):
        images.append(plot_member_esr(rounds, out_dir / "rounds-member-esr.png"))
    sections = [Section("Active learning rounds", images, intro + table_html(summary_rows(rounds), SUMMARY_HEADER))]
    for info in rounds:
        if not info.notes.get("members"):
            continue  # a fixed design's round: the settings plots above say all there is
        text = _note(f"score: {info.notes.get('score', 'not recorded')}")
        if info.fallback:
            text += _note(f"fell back to a fixed design — {info.fallback}")
        pool = info.notes.get("pool_disagreement")
        if isinstance(pool, dict):
            text += _note("pool disagreement: " + ", ".join(f"{k} {_fmt(v)}" for k, v in pool.items()))
        text += table_html(proposal_rows(info, names),
                           ("#", *names, "score", "disagreement", "member level spread (dB)", "source"))
        profile = plot_profiles(info, names, out_dir / f"round-{info.round:02d}-profiles.png")
        sections.append(Section(f"Round {info.round}: {info.sampler}", [profile] if profile else [], text))
    return sections
