"""Run native plugins in a worker process, so a crash or a hang costs one setting, not the capture.

A VST3 or LV2 plugin is foreign machine code inside our process: a segfault would take the
whole run down mid-write, a deadlock would freeze it forever. ``IsolatedLabelSource`` therefore
hosts the plugin in a child process and talks to it over a socket with a timeout per call. A
crash or a hang becomes a ``PanamaError`` naming the setting; the child is replaced on the next
call, so a resumed run (or the next setting) just goes on. Nothing is written by the worker: the capture store only
ever sees finished, checked audio.

The worker is a fresh interpreter (no inherited threads or torch state) with the caller's
``sys.path``. A subclass names its in-process host with ``host_target = "module:Class"``; the
host is built as ``Class(config)`` and offers ``knob_space()``, ``label(x, sample_rate, setting)`` and
``close()``. ``isolate=false`` runs the host in-process (for debugging).
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from panama.core.errors import PanamaError
from panama.core.knobs import KnobSetting, KnobSpace
from panama.core.protocols import BaseLabelSource, ComponentConfig

# How long a fresh worker may take to import the host and load the plugin.
STARTUP_TIMEOUT = 120.0


class IsolatedConfig(ComponentConfig):
    """Options every isolated label source has."""

    isolate: bool = True
    timeout: float = Field(120.0, gt=0, description="Seconds one setting may take before the plugin counts as hung.")


def load_target(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


def _serve(conn: Any, target: str, config: Any) -> None:
    """The worker's main loop: build the host, then answer (operation, args) requests."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    os.dup2(2, 1)  # plugins chatter on stdout; keep the parent's stdout (e.g. --json) clean
    try:
        host = load_target(target)(config)
    except PanamaError as exc:
        conn.send(("error", exc.message, exc.hint))
        return
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}", None))
        return
    conn.send(("ok", None))
    while True:
        try:
            operation, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            result = getattr(host, operation)(*args)
            conn.send(("ok", result))
        except PanamaError as exc:
            conn.send(("error", exc.message, exc.hint))
        except Exception as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}", None))
        if operation == "close":
            return


def _watch_parent(parent: int) -> None:
    """Exit when the parent is gone, even if the plugin is stuck in native code."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(3)


def child_main(fd: int, parent: int) -> None:
    """Entry point of a POSIX worker (``python -c``): the parent's sys.path, then the host."""
    from multiprocessing.connection import Connection

    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    conn = Connection(fd)
    sys.path[:] = conn.recv()  # first, so that unpickling the config can import its class
    target, config = conn.recv()
    _serve(conn, target, config)


def _signal_name(exitcode: int | None) -> str:
    if exitcode is None:
        return "no exit code"
    if exitcode < 0:
        try:
            return signal.Signals(-exitcode).name
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit code {exitcode}"


class WorkerProcess:
    """One child process hosting ``target(config)``; every call has a deadline.

    On POSIX the child is a plain ``python -c`` subprocess talking over a socket pair: unlike
    ``multiprocessing``'s spawn it never re-imports the caller's ``__main__`` (a user script
    without a ``__main__`` guard would otherwise run again in the worker). Windows uses spawn.
    """

    def __init__(self, target: str, config: Any, what: str) -> None:
        self.what = what
        if os.name == "posix":
            ours, theirs = socket.socketpair()
            code = "import sys; from panama.amps.worker import child_main; child_main(int(sys.argv[1]), int(sys.argv[2]))"
            self.process: Any = subprocess.Popen(
                [sys.executable, "-c", code, str(theirs.fileno()), str(os.getpid())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, close_fds=True,
            )
            theirs.close()
            from multiprocessing.connection import Connection

            self.conn: Any = Connection(ours.detach())
            self.conn.send(list(sys.path))
            self.conn.send((target, config))
        else:
            context = multiprocessing.get_context("spawn")
            self.conn, child = context.Pipe()
            self.process = context.Process(target=_serve, args=(child, target, config), daemon=True)
            self.process.start()
            child.close()
        self._wait(STARTUP_TIMEOUT, "while loading")

    @property
    def alive(self) -> bool:
        if isinstance(self.process, subprocess.Popen):
            return self.process.poll() is None
        return self.process.is_alive()

    @property
    def exitcode(self) -> int | None:
        if isinstance(self.process, subprocess.Popen):
            return self.process.poll()
        return self.process.exitcode

    def call(self, operation: str, args: tuple[Any, ...], timeout: float, doing: str) -> Any:
        try:
            self.conn.send((operation, args))
        except (BrokenPipeError, OSError):
            self.stop()
            raise self._crashed(doing) from None
        return self._wait(timeout, doing)

    def _wait(self, timeout: float, doing: str) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise PanamaError(
                    f"{self.what} hung {doing} (no answer within {timeout:g} s); the worker was stopped",
                    "the capture is intact: run the same command to resume (the plugin restarts); "
                    "raise the labeler option timeout=SECONDS if it is just slow",
                )
            if self.conn.poll(min(remaining, 0.2)):
                try:
                    reply = self.conn.recv()
                except (EOFError, OSError):
                    self.stop()
                    raise self._crashed(doing) from None
                if reply[0] == "ok":
                    return reply[1]
                raise PanamaError(reply[1], reply[2])
            if not self.alive:
                self.stop()
                raise self._crashed(doing)

    def _crashed(self, doing: str) -> PanamaError:
        return PanamaError(
            f"{self.what} crashed ({_signal_name(self.exitcode)}) {doing}",
            "the capture is intact: run the same command to resume (the plugin restarts); if it "
            "crashes on this setting every time, report it to the plugin's author",
        )

    def stop(self, grace: float = 0.0) -> None:
        process = self.process
        if isinstance(process, subprocess.Popen):
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        else:
            if process.is_alive() and grace > 0:
                process.join(grace)
            if process.is_alive():
                process.kill()
            process.join(5)
        self.conn.close()

    def close(self, grace: float = 5.0) -> None:
        if self.alive:
            try:
                self.conn.send(("close", ()))
            except (BrokenPipeError, OSError):
                pass
        self.stop(grace)


class IsolatedLabelSource(BaseLabelSource):
    """A label source whose work happens in ``host_target``, in a worker process by default."""

    Config: ClassVar[type[ComponentConfig]] = IsolatedConfig
    host_target: ClassVar[str] = ""

    def __init__(self, config: ComponentConfig | None = None) -> None:
        super().__init__(config)
        self._host: Any = None
        self._worker: WorkerProcess | None = None
        self._space: KnobSpace | None = None

    def describe(self) -> str:
        """How errors name this device, e.g. ``LV2 plugin 'http://…'``."""
        return type(self).__name__

    @property
    def isolated(self) -> bool:
        return bool(getattr(self.config, "isolate", True))

    def _call(self, operation: str, *args: Any, doing: str) -> Any:
        if not self.isolated:
            if self._host is None:
                self._host = load_target(self.host_target)(self.config)
            return getattr(self._host, operation)(*args)
        if self._worker is None or not self._worker.alive:
            self._worker = None
            self._worker = WorkerProcess(self.host_target, self.config, self.describe())
        timeout = float(getattr(self.config, "timeout", 120.0))
        return self._worker.call(operation, args, timeout, doing)

    def knob_space(self) -> KnobSpace:
        if self._space is None:
            self._space = self._call("knob_space", doing="while listing its knobs")
        return self._space

    def label(self, x: np.ndarray, sample_rate: int, setting: KnobSetting) -> np.ndarray:
        space = self.knob_space()
        valid = space.validate_setting(setting)
        x = np.ascontiguousarray(x, dtype=np.float32)
        y = self._call("label", x, int(sample_rate), valid,
                       doing=f"while labelling {space.format_setting(valid)}")
        return np.asarray(y, dtype=np.float32)

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None
        if self._host is not None:
            self._host.close()
            self._host = None
