"""Real native hosts for the tests: PANAMA's test VST3 (built once), Guitarix LV2, a JACK server.

Each fixture skips with a reason only when the *system package* it needs is missing (CI's
``.ci/run`` installs them all); anything else that goes wrong is a failure.
"""

from __future__ import annotations

import ctypes.util
import glob
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
VST3_SOURCE = HERE / "vst3"
STUDIOPRE = "http://guitarix.sourceforge.net/plugins/gx_studiopre#studiopre"
GXAMP = "http://guitarix.sourceforge.net/plugins/gx_amp#GUITARIX"
STUDIOPRE_KNOBS = ["bright", "volume", "bass", "middle", "treble", "master"]
# A 1024-sample period: with 256, a busy 2-core machine running jackd without realtime
# priority loses periods (xruns PortAudio reports as over-/underflows), seen in this project.
JACK_PERIOD = 1024


def cache_root() -> Path:
    root = os.environ.get("PANAMA_TEST_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "panama-tests")
    return Path(root)


# ------------------------------------------------------------------------------ VST3
def vst3_source_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(VST3_SOURCE.glob("*")):
        if path.is_file() and path.suffix in (".txt", ".cpp", ".h"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _juce_missing() -> str | None:
    for tool in ("cmake", "c++", "make", "pkg-config"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install cmake g++ make pkg-config)"
    if not glob.glob("/usr/lib/*/cmake/JUCE-*/JUCEConfig.cmake") + glob.glob("/usr/lib/cmake/JUCE-*/JUCEConfig.cmake"):
        return "JUCE is not installed (apt-get install juce-modules-source and its X11/ALSA dev packages)"
    return None


def build_test_vst3() -> Path:
    """Build tests/vst3 once into the cache (keyed by the sources' hash); return the bundle."""
    target = cache_root() / f"vst3-{vst3_source_hash()}"
    bundle = target / "PanamaTestAmp.vst3"
    if (bundle / "Contents").is_dir():
        return bundle
    reason = _juce_missing()
    if reason:
        pytest.skip(f"test VST3 cannot be built: {reason}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        log = Path(tmp) / "build.log"
        with open(log, "w") as fh:
            for cmd in (["cmake", "-S", str(VST3_SOURCE), "-B", tmp, "-DCMAKE_BUILD_TYPE=Release"],
                        ["cmake", "--build", tmp, "-j", str(min(2, os.cpu_count() or 1))]):
                done = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, timeout=1800)
                if done.returncode != 0:
                    pytest.fail(f"building the test VST3 failed: {' '.join(cmd)}\n{log.read_text()[-4000:]}")
        built = next(Path(tmp).glob("**/VST3/PanamaTestAmp.vst3"))
        staging = Path(tmp) / "out"
        staging.mkdir()
        shutil.copytree(built, staging / "PanamaTestAmp.vst3", symlinks=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(staging, target)  # atomic: a half-built bundle is never visible
        except OSError:
            if not (bundle / "Contents").is_dir():
                raise
    return bundle


@pytest.fixture(scope="session")
def test_vst3() -> Path:
    return build_test_vst3()


# ------------------------------------------------------------------------------ LV2
def lv2_missing(*bundles: str) -> str | None:
    if ctypes.util.find_library("lilv-0") is None:
        return "liblilv is not installed (apt-get install liblilv-0-0)"
    for bundle in bundles:
        if not any(Path(d, bundle).is_dir() for d in ("/usr/lib/lv2", "/usr/local/lib/lv2")):
            return f"Guitarix LV2 bundle {bundle} is not installed (apt-get install guitarix-lv2)"
    return None


def require_lv2(*bundles: str) -> None:
    reason = lv2_missing(*bundles or ("gx_studiopre.lv2",))
    if reason:
        pytest.skip(reason)


# ------------------------------------------------------------------------------ JACK
@dataclass
class JackAmp:
    """A JACK server (dummy driver) with an LV2 amp hosted by jalv as client ``amp``."""

    server: str
    jalv: subprocess.Popen

    def set_controls(self, values: dict[str, float]) -> None:
        """Turn the amp's knobs (jalv's console: ``symbol = value``)."""
        assert self.jalv.stdin is not None
        for symbol, value in values.items():
            self.jalv.stdin.write(f"{symbol} = {value:.9g}\n".encode())
        self.jalv.stdin.flush()


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture(scope="module")
def jack_amp() -> Iterator[JackAmp]:
    for tool, package in (("jackd", "jackd2"), ("jalv", "jalv"), ("jack_lsp", "jackd2")):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install {package})")
    if ctypes.util.find_library("portaudio") is None:
        pytest.skip("PortAudio is not installed (apt-get install libportaudio2)")
    require_lv2("gx_studiopre.lv2")
    server = f"panama-test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "JACK_DEFAULT_SERVER": server, "JACK_NO_AUDIO_RESERVATION": "1"}
    jackd = subprocess.Popen(["jackd", "-n", server, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", str(JACK_PERIOD)],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    jalv = None
    try:
        def ports() -> str:
            return subprocess.run(["jack_lsp"], env=env, capture_output=True, text=True, timeout=10).stdout

        _wait_for(lambda: "system:playback_1" in ports(), 20, "jackd to start")
        jalv = subprocess.Popen(["jalv", "-n", "amp", STUDIOPRE], env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for(lambda: "amp:out" in ports(), 20, "jalv to host the amp")
        yield JackAmp(server=server, jalv=jalv)
    finally:
        if jalv is not None:
            if jalv.stdin:
                jalv.stdin.close()
            _stop(jalv)
        _stop(jackd)
