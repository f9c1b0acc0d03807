"""The capture directory: the unit a user works in, built so that no recording is ever lost.

    my-amp/
      capture.json    CaptureConfig: knob space, labeler, sampler, budget, seeds, presets
      input.wav       the reamp signal every setting is labelled with
      input.json      the signal's segment positions (blips, validation copies …)
      labels/0001.wav one output per labelled setting
      journal.jsonl   append-only events (fsynced); the source of truth for what is labelled
      rounds/NN/      per-round ensemble checkpoints and proposals
      models/         final model and training curves
      exports/        exported files
      .lock           the writer lock (fcntl.flock; holds the writer's pid)

Writing a label: journal ``label-started`` (fsync) → WAV to a temp file (fsync) → rename →
fsync folder → journal ``labelled`` (fsync). Whoever next takes the writer lock repairs
whatever a crash (``kill -9``, power loss) left behind: stale temp files are deleted, a torn
last journal line is cut off, and a ``label-started`` without ``labelled`` is completed when
its WAV is whole (``recovered: true``) or marked ``label-abandoned`` otherwise, so that setting
is labelled again. Indices are never reused, so no label is ever overwritten or duplicated.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from panama.core.capture.gear import GearMeta
from panama.core.errors import PanamaError, format_validation_error
from panama.core.faults import crash_armed, crash_point
from panama.core.fsutil import fsync_dir, is_stale_temp, pid_alive, write_json_atomic
from panama.core.knobs import FLOAT_NOISE, KnobSetting, KnobSpace
from panama.core.protocols import is_deterministic, latency_samples

CAPTURE_FILE = "capture.json"
INPUT_WAV = "input.wav"
INPUT_JSON = "input.json"
JOURNAL = "journal.jsonl"
LOCK_FILE = ".lock"
LABELS, ROUNDS, MODELS, EXPORTS = "labels", "rounds", "models", "exports"
FORMAT = 1
DEFAULT_SAMPLE_RATE = 48_000
LATENCY_SAFETY = 2
# The label source of recordings kept apart for evaluation (``panama label --holdout``).
HOLDOUT = "holdout"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _version() -> str:
    try:
        from panama.core import __version__

        return str(__version__)
    except ImportError:  # pragma: no cover - a broken install
        return "unknown"


class CaptureConfig(BaseModel):
    """capture.json. Unknown keys are kept (a newer PANAMA or a plugin may add settings)."""

    model_config = ConfigDict(extra="allow")

    format: int = FORMAT
    labeler: str
    labeler_options: dict[str, Any] = Field(default_factory=dict)
    knob_space: KnobSpace
    sampler: str = "ensemble-disagreement"
    sampler_options: dict[str, Any] = Field(default_factory=dict)
    budget: int = Field(64, ge=1, description="total number of settings to label")
    initial: int = Field(10, ge=1, description="space-filling settings before the first model")
    members: int = Field(4, ge=1, description="ensemble size for disagreement sampling")
    seed: int = 0
    net: str = "wavenet"
    net_options: dict[str, Any] = Field(default_factory=dict)
    recipe: dict[str, Any] = Field(default_factory=dict)
    preset: str = Field("quick", description="reamp-signal preset, or 'custom' for the user's own input")
    run_preset: str = Field("quick", description="size of nets and training for `panama run` (tiny, quick, good, paper)")
    sample_rate: int = Field(48_000, gt=0)
    input_source: str = ""
    created: str = ""
    panama_version: str = ""
    meta: GearMeta = Field(default_factory=GearMeta, description="what was captured (NAM's metadata fields)")


@dataclass
class Label:
    """One labelled setting: its output lives at ``path`` (already aligned to the input)."""

    index: int
    setting: KnobSetting
    path: Path
    latency: int = 0
    source: str = "labeler"
    warnings: list[str] = field(default_factory=list)
    measured_latency: int | None = None

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class CaptureData:
    """What training needs: the input, every label's output and its normalised knobs."""

    x: np.ndarray  # [T]
    y: np.ndarray  # [N, T]
    knobs: np.ndarray  # [N, K] in [0, 1]
    settings: list[KnobSetting]
    sample_rate: int
    indices: list[int] = field(default_factory=list)


def _config_error(exc: ValidationError, where: str) -> PanamaError:
    return PanamaError(f"{where}: " + "; ".join(format_validation_error(exc)), "fix the value(s) and try again")


class Capture:
    """A capture directory. ``Capture.create`` makes one, ``Capture.open`` reads one."""

    def __init__(self, root: Path, config: CaptureConfig) -> None:
        self.root = root
        self.config = config
        self._lock_fd: int | None = None
        self._lock_depth = 0
        self._input: np.ndarray | None = None

    # ------------------------------------------------------------------ create / open
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        labeler: str,
        knob_space: KnobSpace | None = None,
        input_wav: str | os.PathLike[str] | None = None,
        preset: str = "quick",
        channel: int | None = None,
        labeler_options: Mapping[str, Any] | None = None,
        sample_rate: int | None = None,
        **config: Any,
    ) -> Capture:
        """Validate everything, build the directory under a temp name, then rename it in place.

        Without ``knob_space`` the label source is opened once to ask for its knobs (which also
        validates the spec). Without ``input_wav`` the reamp signal ``preset`` is generated.
        ``sample_rate`` (default 48 kHz) must match an ``input_wav``: a 44.1 kHz file is refused
        unless that rate is asked for, so a capture never silently runs at another rate.
        """
        from panama.core.audio import check_input, read_wav
        from panama.core.signal import make_signal

        root = Path(path)
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            what = "a capture" if (root / CAPTURE_FILE).exists() else "not empty"
            raise PanamaError(f"{root} already exists and is {what}",
                              "choose a new folder name (or open the existing capture)")
        if not root.parent.exists():
            raise PanamaError(f"folder {root.parent} does not exist", "create it first or choose another path")
        options = dict(labeler_options or {})
        if knob_space is None:
            from panama.core.components import open_label_source

            with open_label_source(labeler, options) as source:
                knob_space = source.knob_space()
        wanted_rate = sample_rate
        sample_rate = int(wanted_rate or DEFAULT_SAMPLE_RATE)
        seed = int(config.pop("seed", 0))
        if input_wav is not None:
            x, rate = read_wav(input_wav, channel=channel)
            if rate != sample_rate:
                raise PanamaError(
                    f"{input_wav} is at {rate} Hz but the capture is at {sample_rate} Hz"
                    + ("" if wanted_rate else " (PANAMA's and NAM's standard rate)"),
                    f"resample it (e.g. `sox {Path(input_wav).name} -r {sample_rate} input-{sample_rate // 1000}k.wav`)"
                    + ("" if wanted_rate else f", or pass --sample-rate {rate} to capture at {rate} Hz on purpose"),
                )
            check_input(x, sample_rate=sample_rate, what=str(input_wav))
            metadata = _input_metadata(Path(input_wav), len(x), sample_rate)
            preset, input_source = str(metadata["preset"]), str(Path(input_wav).resolve())
        else:
            signal = make_signal(preset, sample_rate=sample_rate, seed=seed)
            x, metadata = signal.audio, signal.metadata()
            input_source = f"panama signal --preset {preset} --seed {seed}"
        try:
            cfg = CaptureConfig(labeler=labeler, labeler_options=options, knob_space=knob_space, preset=preset,
                                sample_rate=sample_rate, seed=seed, input_source=input_source, created=_now(),
                                panama_version=_version(), **config)
        except ValidationError as exc:
            raise _config_error(exc, "capture settings") from None

        from panama.core.audio import write_wav_atomic

        staging = root.with_name(f".{root.name}.{os.getpid()}.creating")
        _remove_stale_staging(root)
        try:
            staging.mkdir()
            for sub in (LABELS, ROUNDS, MODELS, EXPORTS):
                (staging / sub).mkdir()
            write_wav_atomic(staging / INPUT_WAV, x, sample_rate)
            crash_point("capture:creating")
            write_json_atomic(staging / INPUT_JSON, metadata)
            write_json_atomic(staging / CAPTURE_FILE, cfg.model_dump(mode="json"))
            with open(staging / JOURNAL, "w", encoding="utf-8") as handle:
                handle.write(json.dumps({"event": "created", "time": cfg.created, "labeler": labeler}) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            fsync_dir(staging)
            if root.exists():
                root.rmdir()  # it was checked to be empty
            os.replace(staging, root)
            fsync_dir(root.parent)
        except PermissionError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise PanamaError(f"cannot create {root}: {exc.strerror} ({exc.filename or root.parent})",
                              "choose a folder you can write to, or fix its permissions") from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return cls.open(root)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Capture:
        root = Path(path)
        file = root / CAPTURE_FILE
        if not file.exists():
            raise PanamaError(f"{root} is not a PANAMA capture (no {CAPTURE_FILE})",
                              "create one with `panama init DIR --labeler sim`")
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise PanamaError(f"{file} is not valid JSON ({exc})", "restore it from a backup or fix it by hand") from None
        try:
            config = CaptureConfig.model_validate(data)
        except ValidationError as exc:
            raise _config_error(exc, str(file)) from None
        if config.format > FORMAT:
            raise PanamaError(f"{root} was written by a newer PANAMA (format {config.format})", "upgrade panama-core")
        if not (root / INPUT_WAV).exists():
            raise PanamaError(f"{root} has no {INPUT_WAV}", "the capture is damaged; restore input.wav")
        return cls(root, config)

    @staticmethod
    def exists(path: str | os.PathLike[str]) -> bool:
        return (Path(path) / CAPTURE_FILE).exists()

    def update_config(self, **changes: Any) -> None:
        """Change stored settings (e.g. a larger budget), validated, rewritten atomically."""
        try:
            config = CaptureConfig.model_validate({**self.config.model_dump(mode="json"), **changes})
        except ValidationError as exc:
            raise _config_error(exc, "capture settings") from None
        with self.lock():
            write_json_atomic(self.root / CAPTURE_FILE, config.model_dump(mode="json"))
            self.journal("config-changed", changes=changes)
        self.config = config

    # -------------------------------------------------------------------------- paths
    @property
    def knob_space(self) -> KnobSpace:
        return self.config.knob_space

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def input_path(self) -> Path:
        return self.root / INPUT_WAV

    @property
    def labels_dir(self) -> Path:
        return self.root / LABELS

    @property
    def models_dir(self) -> Path:
        return self._ensure(self.root / MODELS)

    @property
    def exports_dir(self) -> Path:
        return self._ensure(self.root / EXPORTS)

    @property
    def journal_path(self) -> Path:
        return self.root / JOURNAL

    def round_dir(self, n: int) -> Path:
        """``rounds/NN`` for round ``n`` (created on first use)."""
        return self._ensure(self.root / ROUNDS / f"{int(n):02d}")

    @staticmethod
    def _ensure(path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -------------------------------------------------------------------------- input
    def read_input(self) -> np.ndarray:
        """input.wav as float32 (cached)."""
        if self._input is None:
            from panama.core.audio import read_wav

            self._input, _ = read_wav(self.input_path, sample_rate=self.sample_rate)
        return self._input

    @property
    def segments(self) -> dict[str, tuple[int, int]]:
        from panama.core.signal import load_segments

        return load_segments(self.root / INPUT_JSON)

    @property
    def blips(self) -> list[int]:
        segments = self.segments
        return [segments[k][0] for k in ("blip_1", "blip_2") if k in segments]

    # ------------------------------------------------------------------------- journal
    def events(self) -> list[dict[str, Any]]:
        """Every complete journal event, oldest first (a torn last line is ignored)."""
        if not self.journal_path.exists():
            return []
        out = []
        raw = self.journal_path.read_bytes()
        lines = raw.split(b"\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                if number == len(lines):  # torn final line from a crash: repaired by the next writer
                    continue
                raise PanamaError(f"{self.journal_path} line {number} is corrupt",
                                  "restore the journal from a backup or delete that line by hand") from None
            if isinstance(event, dict):
                out.append(event)
        return out

    def journal(self, event: str, **data: Any) -> dict[str, Any]:
        """Append one event and fsync it (takes the writer lock if this object lacks it)."""
        record = {"event": event, "time": _now(), **data}
        line = (json.dumps(record, default=_json_default) + "\n").encode("utf-8")
        with self.lock():
            crash_point(f"journal:before-append:{event}")
            fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                half = len(line) // 2
                os.write(fd, line[:half])
                if crash_armed(f"journal:mid-append:{event}"):
                    os.fsync(fd)  # make the torn half-line really reach the disk
                crash_point(f"journal:mid-append:{event}")
                os.write(fd, line[half:])
                os.fsync(fd)
            finally:
                os.close(fd)
            crash_point(f"journal:after-append:{event}")
        return record

    # ---------------------------------------------------------------------------- lock
    @contextlib.contextmanager
    def lock(self) -> Iterator[Capture]:
        """Exclusive writer lock (re-entrant within this object).

        ``fcntl.flock`` dies with its process, so a crashed writer never leaves a stale lock;
        the lock file records the holder's pid for the error message.
        """
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield self
            finally:
                self._lock_depth -= 1
            return
        import fcntl

        path = self.root / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except PermissionError:
            raise PanamaError(
                f"{self.root} is read-only for you (cannot take its writer lock {LOCK_FILE})",
                f"work on a copy you own (`cp -r {self.root} my-copy`) or ask its owner to make it writable",
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise PanamaError(
                f"{self.root} is in use by another PANAMA process ({holder})",
                "wait for it to finish or stop it; only one process may write to a capture at a time",
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({"pid": os.getpid(), "since": _now()}).encode(), 0)
            self._lock_fd, self._lock_depth = fd, 1
            self._recover()
            yield self
        finally:
            self._lock_depth = 0
            self._lock_fd = None
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @property
    def locked(self) -> bool:
        return self._lock_depth > 0

    def _recover(self) -> None:
        """Repair what a crashed writer left behind (runs whenever the lock is taken)."""
        rounds = self.root / ROUNDS
        round_dirs = [d for d in rounds.iterdir() if d.is_dir()] if rounds.is_dir() else []
        for folder in (self.root, self.labels_dir, self.root / MODELS, self.root / EXPORTS, *round_dirs):
            if folder.is_dir():
                for entry in folder.iterdir():
                    if entry.is_file() and is_stale_temp(entry.name):
                        entry.unlink()
        self._repair_journal_tail()
        started: dict[int, dict[str, Any]] = {}
        for event in self.events():
            if event.get("event") == "label-started":
                started[int(event["index"])] = event
            elif event.get("event") in ("labelled", "label-abandoned"):
                started.pop(int(event["index"]), None)
        for index, event in sorted(started.items()):
            record = {k: v for k, v in event.items() if k not in ("event", "time")}
            path = self.root / record["file"]
            if self._label_file_ok(path):
                self.journal("labelled", **record, recovered=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                self.journal("label-abandoned", index=index, file=record["file"], setting=record.get("setting"))

    def _repair_journal_tail(self) -> None:
        path = self.journal_path
        if not path.exists():
            return
        raw = path.read_bytes()
        if raw and not raw.endswith(b"\n"):
            keep = raw.rfind(b"\n") + 1
            with open(path, "r+b") as handle:
                handle.truncate(keep)
                handle.flush()
                os.fsync(handle.fileno())

    def _label_file_ok(self, path: Path) -> bool:
        from panama.core.audio import read_wav

        if not path.exists():
            return False
        try:
            y, _ = read_wav(path, sample_rate=self.sample_rate)
        except PanamaError:
            return False
        return len(y) == len(self.read_input()) and bool(np.all(np.isfinite(y)))

    # -------------------------------------------------------------------------- labels
    def labels(self) -> list[Label]:
        """Every journalled training label, by index (labels in flight or abandoned are not
        included, nor held-out recordings: training never sees those)."""
        return [label for label in self._journalled_labels() if label.source != HOLDOUT]

    def holdout_labels(self) -> list[Label]:
        """Recordings kept for evaluation only (``panama label --holdout``), by index.

        A real amp cannot be asked for new settings at evaluation time, so ``panama evaluate``
        scores the model on these instead.
        """
        return [label for label in self._journalled_labels() if label.source == HOLDOUT]

    def _journalled_labels(self) -> list[Label]:
        found: dict[int, Label] = {}
        replaced: set[int] = set()
        for event in self.events():
            if event.get("event") != "labelled":
                continue
            index = int(event["index"])
            if event.get("replaces") is not None:
                replaced.add(int(event["replaces"]))
            found.setdefault(index, Label(
                index=index,
                setting={k: float(v) for k, v in event["setting"].items()},
                path=self.root / event["file"],
                latency=int(event.get("latency", 0)),
                source=str(event.get("source", "labeler")),
                warnings=list(event.get("warnings", [])),
                measured_latency=event.get("measured_latency"),
            ))
        return [found[i] for i in sorted(found) if i not in replaced]

    def label_problem(self, label: Label) -> str | None:
        """Why ``label``'s file cannot be used (missing, unreadable, truncated, wrong length or
        rate), or ``None``. Reads only the header, so checking every label stays cheap."""
        import soundfile as sf

        from panama.core.audio import wav_missing_bytes

        where = label.path.relative_to(self.root) if label.path.is_relative_to(self.root) else label.path
        if not label.path.is_file():
            return f"{where} is missing"
        try:
            info = sf.info(str(label.path))
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            return f"{where} is unreadable ({str(exc).split(':')[-1].strip() or type(exc).__name__})"
        if wav_missing_bytes(label.path):
            return f"{where} is truncated"
        if info.samplerate != self.sample_rate or info.frames != self._input_frames():
            return f"{where} is damaged ({info.frames} samples at {info.samplerate} Hz, not those of input.wav)"
        return None

    def _input_frames(self) -> int:
        if self._input is not None:
            return len(self._input)
        import soundfile as sf

        return int(sf.info(str(self.input_path)).frames)

    def damaged_labels(self, labels: list[Label] | None = None) -> list[tuple[Label, str]]:
        """Of ``labels`` (default: every journalled one, held-out included) those whose file is
        gone or damaged, with why."""
        found = []
        for label in self._journalled_labels() if labels is None else labels:
            problem = self.label_problem(label)
            if problem is not None:
                found.append((label, problem))
        return found

    def repair_command(self, label: Label) -> str:
        """The command that records ``label``'s setting again, replacing the damaged file."""
        text = self.knob_space.format_setting(label.setting, digits=6)
        holdout = " --holdout" if label.source == HOLDOUT else ""
        if label.source.startswith("import"):
            return f"panama add {self.root} TAKE.wav --setting {text}{holdout} --relabel"
        return f"panama label {self.root} --setting {text}{holdout} --relabel"

    def check_labels(self, labels: list[Label] | None = None) -> None:
        """Refuse to go on with a journalled label whose file is gone (one line: which, and how to
        repair it), instead of failing half-way or training on fewer labels than journalled."""
        damaged = self.damaged_labels(labels)
        if not damaged:
            return
        label, problem = damaged[0]
        more = f" (and {len(damaged) - 1} more; `panama status {self.root}` lists them)" if len(damaged) > 1 else ""
        raise PanamaError(
            f"label {label.index:04d} at {self.knob_space.format_setting(label.setting)}: {problem}{more}",
            f"restore the file from a backup, or record it again with `{self.repair_command(label)}`",
        )

    def labelled_settings(self) -> list[KnobSetting]:
        return [label.setting for label in self.labels()]

    def output_energy(self) -> np.ndarray:
        """Each labelled setting's output energy (the mean square of its recording), in the order
        of :meth:`labelled_settings`: how loud the device is there, for samplers that weigh the
        knob space by it."""
        from panama.core.audio import read_wav

        return np.array([float(np.mean(np.square(read_wav(label.path, sample_rate=self.sample_rate)[0],
                                                          dtype=np.float64)))
                         for label in self.labels()])

    def find_label(self, setting: Mapping[str, float], *, tolerance: float = FLOAT_NOISE,
                   holdout: bool = False) -> Label | None:
        """The (training, or with ``holdout`` held-out) label with this very setting, if any:
        :meth:`KnobSpace.same_values` (native values to ``tolerance``, relative), not the
        wider :meth:`KnobSpace.same` the loop and samplers use."""
        wanted = self.knob_space.validate_setting(setting)
        for label in self.holdout_labels() if holdout else self.labels():
            if self.knob_space.same_values(wanted, label.setting, tolerance=tolerance):
                return label
        return None

    def next_index(self) -> int:
        """One past every index ever used (journal or file): indices are never reused."""
        used = [int(e["index"]) for e in self.events() if "index" in e]
        if self.labels_dir.is_dir():
            for entry in self.labels_dir.iterdir():
                stem = entry.name.split(".")[0] if not entry.name.startswith(".") else ""
                if stem.isdigit():
                    used.append(int(stem))
        return max(used, default=0) + 1

    def add_label(
        self, setting: Mapping[str, float], y: np.ndarray, *, latency: int = 0, source: str = "labeler",
        silence_ok: bool = False, **extra: Any
    ) -> Label:
        """Check ``y`` against the input, then store it atomically and journal it.

        ``silence_ok``: a silent ``y`` is stored with a warning (a rendering source muted by a
        knob), not refused as a failed recording."""
        from panama.core.audio import check_output, write_wav_atomic

        valid = self.knob_space.validate_setting(setting)
        y = np.asarray(y, dtype=np.float32).reshape(-1)
        what = f"output for {self.knob_space.format_setting(valid)}"
        warnings = check_output(y, self.read_input(), sample_rate=self.sample_rate, what=what, segments=self.segments,
                                silence_ok=silence_ok)
        with self.lock():
            index = self.next_index()
            record = {"index": index, "file": f"{LABELS}/{index:04d}.wav", "setting": valid,
                      "latency": int(latency), "source": source, **extra}
            self.journal("label-started", **record)
            self.labels_dir.mkdir(exist_ok=True)
            write_wav_atomic(self.root / record["file"], y, self.sample_rate)
            self.journal("labelled", **record, warnings=warnings)
        return Label(index=index, setting=valid, path=self.root / record["file"], latency=int(latency),
                     source=source, warnings=warnings, measured_latency=extra.get("measured_latency"))

    def label(self, source: Any, setting: Mapping[str, float], *, relabel: bool = False,
              origin: str | None = None, holdout: bool = False, check_length: bool = False) -> Label:
        """Run ``source`` on the input at ``setting``, align its output and store it.

        A setting already labelled by a deterministic source is not labelled twice (the
        existing label is returned; a non-deterministic device records another take) unless
        ``relabel`` or its file is gone: then the new label *replaces* the old one (its
        ``labelled`` event names it in ``replaces``; the old file stays on disk). With
        ``check_length`` the raw recording must cover the input plus its latency (a take made
        elsewhere: ``panama add``). Latency: the source's own
        ``latency_samples`` for digital sources; for others it is measured from the blips,
        less ``LATENCY_SAFETY`` samples (as NAM does: aligning a sample too late would ask a
        causal model to predict the future, a sample too early costs nothing). The blip
        measurement is stored with every label as ``measured_latency``. With ``holdout`` the
        recording is kept for evaluation only (journalled with source ``"holdout"``).
        """
        from panama.core.audio import align, check_finite, check_not_silent, check_take_length, detect_latency

        valid = self.knob_space.validate_setting(setting)
        with self.lock():
            existing = self.find_label(valid, holdout=holdout)
            damaged = existing is not None and self.label_problem(existing) is not None
            deterministic = is_deterministic(source)
            if existing is not None and not relabel and not damaged and deterministic:
                return existing
            # A non-deterministic device asked again adds a second take; --relabel (or a label
            # whose file is gone) replaces the old one.
            replaces = {"replaces": existing.index} if existing is not None and (relabel or damaged) else {}
            x = self.read_input()
            raw = np.asarray(source.label(x, self.sample_rate, dict(valid)), dtype=np.float32).reshape(-1)
            what = f"output for {self.knob_space.format_setting(valid)}"
            check_finite(raw, what=what)  # before measuring: NaN or silence would mislead the blips
            if not deterministic:  # a rendering source may be muted by a knob (master at 0)
                check_not_silent(raw, what=what)
            measured: int | None = None
            blips = self.blips
            if blips and raw.size >= len(x) // 2:
                try:
                    measured = detect_latency(x, raw, self.sample_rate, blips=blips, max_latency_s=self._max_latency_s())
                except PanamaError:
                    if not deterministic:
                        raise
            latency = latency_samples(source)
            if not deterministic and not latency and measured is not None:
                latency = max(0, measured - LATENCY_SAFETY)
            if check_length:
                check_take_length(raw, len(x), measured if measured is not None else latency,
                                  sample_rate=self.sample_rate, what=what)
            y = align(raw, latency, len(x))
            name = type(source).__name__
            kind = origin or self.config.labeler or name
            if holdout:
                return self.add_label(valid, y, latency=latency, source=HOLDOUT, origin=kind, measured_latency=measured,
                                      silence_ok=deterministic, **replaces)
            return self.add_label(valid, y, latency=latency, source=kind, measured_latency=measured,
                                  silence_ok=deterministic, **replaces)

    def _max_latency_s(self) -> float:
        from panama.core.audio import MAX_LATENCY_S

        segments = self.segments
        if "blip_2" in segments and "validation_start" in segments:
            room = (segments["validation_start"][0] - segments["blip_2"][0]) / self.sample_rate
            return max(0.01, min(MAX_LATENCY_S, room - 0.01))
        return MAX_LATENCY_S

    # ------------------------------------------------------------------------- dataset
    def dataset(self) -> CaptureData:
        """Input, outputs and knobs of every journalled label, ready for training."""
        from panama.core.audio import read_wav

        x = self.read_input()
        labels = self.labels()
        self.check_labels(labels)
        ys = [read_wav(label.path, sample_rate=self.sample_rate)[0] for label in labels]
        y = np.stack(ys) if ys else np.zeros((0, len(x)), dtype=np.float32)
        settings = [label.setting for label in labels]
        knobs = self.knob_space.to_unit_array(settings) if settings else np.zeros((0, len(self.knob_space)))
        return CaptureData(x=x, y=y, knobs=knobs, settings=settings, sample_rate=self.sample_rate,
                           indices=[label.index for label in labels])


def _input_metadata(path: Path, length: int, sample_rate: int) -> dict[str, Any]:
    """Segments for a user's input: its ``panama signal`` sidecar (same name, .json) when that
    describes exactly this file, so blips and validation copies keep working; else one segment."""
    from panama.core.signal import load_segments

    sidecar = path.with_suffix(".json")
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.exists() else {}
        if meta.get("length") == length and meta.get("sample_rate") == sample_rate and load_segments(sidecar):
            return {**meta, "source": str(path.resolve())}
    except (ValueError, OSError, AttributeError, PanamaError):
        pass
    return {"preset": "custom", "source": str(path.resolve()), "sample_rate": sample_rate, "length": length,
            "segments": {"all": [0, length]}}


def _remove_stale_staging(root: Path) -> None:
    """Delete ``.<name>.<pid>.creating`` folders next to ``root`` whose creator is dead: what a
    kill during ``Capture.create`` leaves (the capture itself never appeared, so nothing is lost)."""
    prefix, suffix = f".{root.name}.", ".creating"
    try:
        entries = list(root.parent.iterdir())
    except OSError:
        return
    for entry in entries:
        middle = entry.name[len(prefix):-len(suffix)]
        if not (entry.name.startswith(prefix) and entry.name.endswith(suffix) and middle.isdigit()):
            continue
        if int(middle) == os.getpid() or not pid_alive(int(middle)):
            shutil.rmtree(entry, ignore_errors=True)


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {info.get('pid', '?')}, since {info.get('since', '?')}"
    except (OSError, ValueError):
        return "pid unknown"


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
