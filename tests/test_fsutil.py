"""panama.core.fsutil: the one atomic writer (temp file, fsync, rename, fsync the folder)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from panama.core import fsutil

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    """Record every fsync (file descriptors' paths) and every folder fsync."""
    seen: dict[str, list] = {"files": [], "dirs": [], "temps": []}
    real_fsync, real_dir, real_replace = os.fsync, fsutil.fsync_dir, os.replace

    def fsync(fd: int) -> None:
        seen["files"].append(os.readlink(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else fd)
        real_fsync(fd)

    def fsync_dir(path) -> None:
        seen["dirs"].append(Path(path))
        real_dir(path)

    def replace(src, dst) -> None:
        seen["temps"].append(Path(src).name)
        real_replace(src, dst)

    monkeypatch.setattr(fsutil.os, "fsync", fsync)
    monkeypatch.setattr(fsutil, "fsync_dir", fsync_dir)
    monkeypatch.setattr(fsutil.os, "replace", replace)
    return seen


def test_temp_names_are_recognised_and_stale_only_when_the_writer_is_gone(tmp_path: Path) -> None:
    tmp = fsutil.temp_name(tmp_path / "model.pt")
    assert tmp.parent == tmp_path and fsutil.is_temp_name(tmp.name)
    assert fsutil.is_stale_temp(tmp.name)  # this very process is not writing it now
    assert not fsutil.is_temp_name("model.pt") and not fsutil.is_temp_name(".hidden")
    assert fsutil.is_stale_temp(".model.pt.tmp")  # no pid: nobody owns it


@pytest.mark.parametrize("write", [
    lambda p: fsutil.write_bytes_atomic(p, b"new"),
    lambda p: fsutil.write_text_atomic(p, "new"),
    lambda p: fsutil.write_json_atomic(p, {"new": 1}),
])
def test_every_writer_fsyncs_file_and_folder_through_a_recognised_temp(tmp_path: Path, synced, write) -> None:
    target = tmp_path / "sub" / "out.json"
    assert write(target) == target
    assert synced["dirs"] == [target.parent]
    assert len(synced["temps"]) == 1 and fsutil.is_temp_name(synced["temps"][0])
    if isinstance(synced["files"][0], str):
        assert synced["files"][0].endswith(synced["temps"][0])  # the temp file itself was fsynced
    assert os.listdir(target.parent) == ["out.json"]


def test_a_failing_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    target.write_text("old")

    class Boom(Exception):
        pass

    with pytest.raises(Boom), fsutil.atomic_file(target) as handle:
        handle.write(b"half a fi")
        raise Boom
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["results.json"]

    with pytest.raises(ValueError, match="Out of range float"):  # strict JSON refuses NaN before any rename
        fsutil.write_json_atomic(target, {"esr": float("nan")}, allow_nan=False)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["results.json"]

    def crash() -> None:
        raise Boom

    with pytest.raises(Boom), fsutil.atomic_path(target, before_rename=crash) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["results.json"]


def test_strict_and_lenient_json(tmp_path: Path) -> None:
    lenient = fsutil.write_json_atomic(tmp_path / "a.json", {"x": float("nan")})
    assert "NaN" in lenient.read_text()
    strict = fsutil.write_json_atomic(tmp_path / "b.json", {"x": 1.5}, allow_nan=False)
    assert json.loads(strict.read_text()) == {"x": 1.5} and strict.read_text().endswith("\n")


def test_the_folder_list_is_written_through_fsutil(tmp_path: Path, synced) -> None:
    from panama.core.components import open_label_source

    with open_label_source(f"folder:{tmp_path / 'takes'}", {"knobs": "gain:0:10"}) as source:
        source.prepare([{"gain": 3.0}])
    assert sorted(os.listdir(tmp_path / "takes")) == ["settings.csv", "settings.md"]
    assert len(synced["temps"]) == 2 and all(fsutil.is_temp_name(name) for name in synced["temps"])
    assert synced["dirs"] == [tmp_path / "takes"] * 2


def test_exports_are_written_through_fsutil(tmp_path: Path, synced) -> None:
    pytest.importorskip("torch")
    from panama.core.knobs import KnobSpace
    from panama.core.train.model import TrainedModel, build_net
    from panama.models.exporters import NamExporter, PanamaExporter, TorchScriptExporter

    options = {"preset": "nano", "num_knobs": 1}
    model = TrainedModel(build_net("wavenet", options).eval(), KnobSpace.of("gain"), 48_000, "wavenet", options)
    for exporter, name in ((NamExporter(), "m.nam"), (PanamaExporter(), "m.panama.json"),
                           (TorchScriptExporter(), "m.ts")):
        synced["temps"].clear()
        synced["dirs"].clear()
        path = exporter.export(model, tmp_path / name, {"gain": 0.5} if name == "m.nam" else None)
        assert path == tmp_path / name and path.stat().st_size > 0
        assert len(synced["temps"]) == 1 and fsutil.is_temp_name(synced["temps"][0]), name
        assert synced["dirs"] == [tmp_path], name
    assert json.loads((tmp_path / "m.nam").read_text())["architecture"] == "WaveNet"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.nam", "m.panama.json", "m.ts"]


def test_no_private_atomic_writers_are_left() -> None:
    """Every atomic file write goes through fsutil: no module renames a temp file of its own
    (capture/store.py's rename is of the whole staged capture folder, not a file)."""
    pattern = re.compile(r"mkstemp|NamedTemporaryFile|os\.replace\(|os\.rename\(|\.rename\(")
    allowed = ("panama/core/fsutil.py", "panama/core/capture/store.py")
    offenders = [
        f"{path.relative_to(REPO)}:{number}"
        for path in sorted((REPO / "packages").glob("*/src/**/*.py")) if not path.as_posix().endswith(allowed)
        for number, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)
    ]
    assert offenders == []


def test_numpy_writers_take_a_handle(tmp_path: Path) -> None:
    """``np.savez`` into :func:`atomic_file` keeps the target's name (no ``.npz`` appended)."""
    target = tmp_path / "heldout.npz"
    with fsutil.atomic_file(target) as handle:
        np.savez(handle, x=np.arange(3))
    with np.load(target) as data:
        assert data["x"].tolist() == [0, 1, 2]
    assert os.listdir(tmp_path) == ["heldout.npz"]
