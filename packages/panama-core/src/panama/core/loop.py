"""The active-learning loop behind ``panama run``: propose → label → journal, until the budget.

Everything that matters is in the capture directory, so the loop is a pure function of it: a
run killed at any instant (``kill -9``) resumes from the journal with nothing lost and nothing
labelled twice. Proposals are journalled *before* they are labelled, so a resumed round labels
what was proposed instead of asking the sampler again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from panama.core.components import build, open_label_source
from panama.core.errors import PanamaError
from panama.core.faults import crash_point
from panama.core.fsutil import write_json_atomic
from panama.core.knobs import KnobSetting
from panama.core.presets import RunPreset, get_preset
from panama.core.protocols import SamplerContext, initial_design, preparer
from panama.core.train.records import final_plan, last_model_event, load_final_model, seed_for

__all__ = ["Loop", "last_model_event", "load_final_model", "run_capture"]

@dataclass
class RunSummary:
    directory: Path
    labelled: int
    rounds: int
    metrics: dict[str, float] = field(default_factory=dict)
    exports: list[Path] = field(default_factory=list)


@dataclass
class RoundPlan:
    round: int
    settings: list[KnobSetting]
    sampler: str


def pending_round(capture: Any) -> RoundPlan | None:
    """The last journalled proposal round that has not finished, with what is still unlabelled."""
    last: dict[str, Any] | None = None
    for event in capture.events():
        if event.get("event") == "proposed":
            last = event
        elif event.get("event") == "round-finished" and last is not None and event.get("round") == last.get("round"):
            last = None
    if last is None:
        return None
    space = capture.knob_space
    labelled = capture.labelled_settings()
    todo = [s for s in last["settings"] if space.find_same(s, labelled) is None]
    return RoundPlan(int(last["round"]), todo, str(last.get("sampler", "")))


def finished_rounds(capture: Any) -> int:
    return sum(1 for e in capture.events() if e.get("event") == "round-finished")


def preset_trainer(capture: Any) -> dict[str, Any]:
    """The run preset's own Trainer settings (e.g. the paper preset's GPU choice)."""
    return dict(get_preset(capture.config.run_preset).trainer)


class Loop:
    """One capture's run; construct with an open capture, call :meth:`run`."""

    def __init__(self, capture: Any, *, progress: bool = True, log: Callable[[str], None] | None = None,
                 trainer: Mapping[str, Any] | None = None) -> None:
        self.capture = capture
        # Lightning Trainer settings (accelerator, precision …): the machine's, not the capture's
        self.trainer = {**preset_trainer(capture), **dict(trainer or {})}
        self.config = capture.config
        self.preset: RunPreset = get_preset(self.config.run_preset)
        self.progress = progress
        self.log = log or (lambda message: None)
        self._source: Any = None
        self._input: np.ndarray | None = None

    # -- resources ------------------------------------------------------------------------
    @property
    def source(self) -> Any:
        if self._source is None:
            self._source = open_label_source(self.config.labeler, self.config.labeler_options)
        return self._source

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None

    @property
    def input_signal(self) -> np.ndarray:
        if self._input is None:
            self._input = self.capture.read_input()
        return self._input

    # -- training services offered to samplers --------------------------------------------
    def fit_ensemble(self, round_index: int) -> Callable[..., Any]:
        def fit(members: int | None = None, *, warm_start: Mapping[str, Any] | None = None, bootstrap: bool = False,
                **overrides: Any) -> Any:
            """``warm_start`` (shrink, perturb, steps): continue from the last round's ensemble
            when there is a compatible one; ``bootstrap``: a draw of the settings per member."""
            from panama.core import train

            recipe = train.Recipe(**{**self.preset.ensemble, "seed": self._seed(round_index), "trainer": self.trainer, **overrides})
            size = members or self.preset.members
            net = self.config.net or self.preset.net
            net_options = {**self.preset.net_options, **self.config.net_options}
            previous = self.previous_ensemble(round_index, net, net_options, size) if warm_start is not None else None
            self.log(f"round {round_index}: training an ensemble of {size}"
                     + (f" from {previous[0]}" if previous else ""))
            ensemble = train.fit_ensemble(
                self.capture.dataset(),
                members=size,
                net=net,
                net_options=net_options,
                recipe=recipe,
                knob_space=self.capture.knob_space,
                progress=self.progress,
                init_from=previous[1] if previous else None,
                warm_start=dict(warm_start) if warm_start is not None else None,
                bootstrap=bootstrap,
                # A kill during the fit resumes from here, not from scratch (issue 12 item 11).
                checkpoint_path=self.capture.round_dir(round_index) / "ensemble.ckpt",
            )
            if previous:
                ensemble.metrics["warm_start"]["from"] = previous[0]
            # the next round's warm start (and the final model's) reads it back
            ensemble.save(self.capture.round_dir(round_index) / "ensemble.pt")
            crash_point("loop:after-fit-ensemble")
            return ensemble

        return fit

    def previous_ensemble(self, round_index: int, net: str, net_options: dict[str, Any],
                          members: int) -> tuple[str, Any] | None:
        """The latest earlier round's saved ensemble (relative path, ensemble) if it can seed
        this one; otherwise None, and the log says why the members start from scratch."""
        from panama.core.train import TrainedEnsemble, warm

        for earlier in range(round_index - 1, -1, -1):
            path = self.capture.root / "rounds" / f"{earlier:02d}" / "ensemble.pt"
            if not path.is_file():
                continue
            relative = str(path.relative_to(self.capture.root))
            try:
                previous = TrainedEnsemble.load(path)
            except Exception as exc:  # a stale or foreign file only costs the warm start
                self.log(f"round {round_index}: {relative} is unreadable ({type(exc).__name__}); members start fresh")
                return None
            reason = warm.incompatibility(previous, net, {**net_options, "num_knobs": len(self.capture.knob_space)},
                                          members)
            if reason:
                self.log(f"round {round_index}: {reason}; members start fresh")
                return None
            return relative, previous
        return None

    def _seed(self, round_index: int) -> int:
        return seed_for(self.config.seed, round_index)

    # -- one step -------------------------------------------------------------------------
    def _sampler_for(self, labelled: int) -> tuple[str, dict[str, Any]]:
        name = self.config.sampler
        options = {**self.preset.sampler_options.get(name, {}), **self.config.sampler_options}
        design = initial_design(build("sampler", name, options))
        if design and labelled < self.config.initial:
            return design, {}
        return name, options

    def propose(self, round_index: int) -> RoundPlan:
        labelled = self.capture.labelled_settings()
        budget = self.config.budget
        name, options = self._sampler_for(len(labelled))
        initial = min(self.config.initial, budget)
        n = initial - len(labelled) if len(labelled) < initial else self.preset.per_round
        n = min(n, budget - len(labelled))
        sampler = build("sampler", name, options)
        context = SamplerContext(
            knob_space=self.capture.knob_space,
            labelled=labelled,
            budget_remaining=budget - len(labelled),
            rng=np.random.default_rng(self._seed(round_index)),
            # The capture's seed, not the round's: fixed designs continue one design across rounds.
            seed=self.config.seed,
            round=round_index,
            input_signal=self.input_signal,
            sample_rate=self.capture.sample_rate,
            fit_ensemble=self.fit_ensemble(round_index),
            workdir=self.capture.round_dir(round_index),
            output_energy=self.capture.output_energy,
            log=self.log,
        )
        raw = sampler.propose(context, n)
        space = self.capture.knob_space
        settings: list[KnobSetting] = []
        scores = list(context.notes.get("scores", [None] * len(raw)))
        kept_scores = []
        for setting, score in zip(raw, scores + [None] * (len(raw) - len(scores)), strict=False):
            valid = space.validate_setting(setting)
            if space.find_same(valid, labelled + settings) is not None:
                continue
            settings.append(valid)
            kept_scores.append(score)
            if len(settings) == n:
                break
        if not settings:
            raise PanamaError(
                f"sampler {name!r} proposed no new setting in round {round_index}",
                "it may have exhausted its design; try another sampler or a smaller budget",
            )
        notes = {k: v for k, v in context.notes.items() if k != "scores"}
        write_json_atomic(
            self.capture.round_dir(round_index) / "proposals.json",
            {"round": round_index, "sampler": name, "settings": settings, "scores": kept_scores,
             "notes": _jsonable(notes)},
        )
        # A sampler that fell back to a fixed design says so in the journal, not only in its notes.
        fallback = {"fallback": notes["fallback"]} if notes.get("fallback") else {}
        self.capture.journal("proposed", round=round_index, sampler=name, settings=settings, scores=kept_scores,
                             **_jsonable(fallback))
        crash_point("loop:after-proposed")
        return RoundPlan(round_index, settings, name)

    def label(self, plan: RoundPlan) -> None:
        # Offline sources (folder:) list the whole round for the user before the first import.
        prepare = preparer(self.source)
        if prepare is not None:
            prepare([s for s in plan.settings
                     if self.capture.knob_space.find_same(s, self.capture.labelled_settings()) is None])
        for setting in plan.settings:
            if self.capture.knob_space.find_same(setting, self.capture.labelled_settings()) is not None:
                continue
            self.log(f"round {plan.round}: labelling {self.capture.knob_space.format_setting(setting)}")
            self.capture.label(self.source, setting)
        self.capture.journal("round-finished", round=plan.round, labelled=len(self.capture.labelled_settings()))

    def train_final(self) -> Any:
        from panama.core import train
        from panama.core.train import split
        from panama.core.train.records import record_model

        self.log("training the final model")
        trainer = split.one_device(self.trainer)
        if trainer != self.trainer:
            self.log("the final model trains on one device; `panama train DIR --trainer devices=N` trains it data-parallel")
        data = self.capture.dataset()
        plan = final_plan(self.config, labelled=len(data.settings), recipe={"trainer": trainer} if trainer else None)
        model = plan.fit(data, knob_space=self.capture.knob_space, progress=self.progress)
        record_model(self.capture, model, train.Recipe(**plan.recipe))
        return model

    def export(self, model: Any) -> list[Path]:
        from panama.core.study.setting_esr import ExpectedError

        out = self.capture.exports_dir
        meta = self.capture.config.meta
        paths = [build("exporter", "panama").export(model, out / "model.panama.json", metadata=meta.fields())]
        default = self.capture.knob_space.default_setting()
        try:
            nam = build("exporter", "nam")
        except PanamaError:
            return paths
        if model.net_name in ("wavenet", "lstm"):
            name = meta.name or f"{meta.title(self.capture.root.resolve().name)} (default setting)"
            paths.append(nam.export(model, out / "default.nam", setting=default, metadata={**meta.fields(), "name": name},
                                    validation_esr=ExpectedError(self.capture, model).at(default)))
        return paths

    # -- the whole run --------------------------------------------------------------------
    def run(self) -> RunSummary:
        budget = self.config.budget
        try:
            while True:
                plan = pending_round(self.capture)
                if plan is None:
                    labelled = len(self.capture.labelled_settings())
                    if labelled >= budget:
                        break
                    plan = self.propose(finished_rounds(self.capture))
                self.label(plan)
            model_event = last_model_event(self.capture)
            if model_event is None or model_event.get("labelled") != len(self.capture.labelled_settings()):
                model = self.train_final()
            else:
                from panama.core import train

                model = train.TrainedModel.load(self.capture.root / model_event["path"])
            exports = self.export(model)
        finally:
            self.close()
        metrics = dict((last_model_event(self.capture) or {}).get("metrics", {}))
        return RunSummary(self.capture.root, len(self.capture.labelled_settings()),
                          finished_rounds(self.capture), metrics, exports)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def run_capture(
    directory: str | Path,
    *,
    labeler: str | None = None,
    sampler: str | None = None,
    budget: int | None = None,
    initial: int | None = None,
    preset: str | None = None,
    seed: int | None = None,
    net: str | None = None,
    net_options: Mapping[str, Any] | None = None,
    sampler_options: Mapping[str, Any] | None = None,
    labeler_options: Mapping[str, Any] | None = None,
    input_wav: Path | None = None,
    sample_rate: int | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    trainer: Mapping[str, Any] | None = None,
) -> RunSummary:
    """Create the capture if ``directory`` is new, resume it if not, and run it to the budget.

    On resume, options that were given and differ from the capture's are refused (a capture
    is one experiment), except ``budget``, which may grow.
    """
    from panama.core.capture.store import Capture
    from panama.core.train.trainer_options import check_loop

    check_loop(dict(trainer or {}), "panama run")
    directory = Path(directory)
    given = {
        "labeler": labeler, "sampler": sampler, "initial": initial, "run_preset": preset,
        "seed": seed, "net": net,
        "net_options": dict(net_options) if net_options else None,
        "sampler_options": dict(sampler_options) if sampler_options else None,
        "labeler_options": dict(labeler_options) if labeler_options else None,
        "sample_rate": sample_rate,
    }
    if Capture.exists(directory):
        capture = Capture.open(directory)
        if input_wav is not None:
            raise PanamaError(f"{directory} already has its input.wav", "drop --input when resuming a capture")
        conflicts = [
            f"--{key.replace('_', '-').replace('run-preset', 'preset')} {value!r} (capture has {getattr(capture.config, key)!r})"
            for key, value in given.items()
            if value is not None and value != getattr(capture.config, key)
        ]
        if conflicts:
            raise PanamaError(
                f"{directory} was started with other options: {'; '.join(conflicts)}",
                "drop those options to resume it, or use a new directory",
            )
        capture.check_labels(capture.labels())  # before anything is written: repair a damaged capture first
        if budget is not None and budget != capture.config.budget:
            if budget < len(capture.labelled_settings()):
                raise PanamaError(
                    f"--budget {budget} is below the {len(capture.labelled_settings())} settings already labelled",
                    "give a budget at least that large",
                )
            capture.update_config(budget=budget)
    else:
        from panama.core.preflight import check_run_options

        run_preset = get_preset(preset or "quick")
        sampler = sampler or run_preset.sampler
        check_run_options(sampler=sampler, sampler_options=sampler_options or {},
                          preset=preset or "quick", net=net, net_options=net_options or {})
        capture = Capture.create(
            directory,
            labeler=labeler or "sim",
            labeler_options=dict(labeler_options or {}),
            input_wav=input_wav,
            preset=run_preset.signal,
            sampler=sampler,
            sampler_options=dict(sampler_options or {}),
            budget=budget or run_preset.budget,
            initial=initial or run_preset.initial,
            run_preset=preset or "quick",
            seed=seed or 0,
            net=net or run_preset.net,
            net_options=dict(net_options or {}),
            sample_rate=sample_rate,
        )
    with capture.lock():
        return Loop(capture, progress=progress, log=log, trainer=trainer).run()


def capture_status(directory: str | Path) -> dict[str, Any]:
    """A plain summary of a capture, for ``panama status``."""
    from panama.core.capture.store import Capture

    capture = Capture.open(Path(directory))
    labelled = len(capture.labelled_settings())
    budget = capture.config.budget
    model = last_model_event(capture)
    pending = pending_round(capture)
    if pending is not None and pending.settings:
        upcoming = f"label {len(pending.settings)} proposed setting(s) of round {pending.round}"
    elif labelled < budget:
        upcoming = f"propose round {finished_rounds(capture)} ({budget - labelled} setting(s) left in the budget)"
    elif model is None or model.get("labelled") != labelled:
        upcoming = "train the final model"
    else:
        upcoming = "done — `panama export` or `panama evaluate`"
    if not upcoming.startswith("done"):
        upcoming += f" (`panama run {capture.root}`)"
    info: dict[str, Any] = {
        "directory": str(capture.root),
        "labeler": capture.config.labeler,
        "sampler": capture.config.sampler,
        "labelled": labelled,
        "budget": budget,
        "rounds": finished_rounds(capture),
        "model": model.get("path") if model else None,
        "metrics": (model or {}).get("metrics", {}),
        "next": upcoming,
    }
    damaged = capture.damaged_labels()
    if damaged:  # nothing else can go on until these are repaired
        label, problem = damaged[0]
        more = f" (and {len(damaged) - 1} more)" if len(damaged) > 1 else ""
        info["damaged"] = [f"{lab.index:04d}: {why}" for lab, why in damaged]
        info["next"] = (f"repair label {label.index:04d} ({problem}){more}: restore the file from a backup, "
                        f"or `{capture.repair_command(label)}`")
    return info
