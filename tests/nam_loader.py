"""NAM's own loader in a side directory, for checking our .nam exports against the real thing.

neural-amp-modeler pins pytorch_lightning and pulls a GUI stack; its loader path needs far less.
So each release is pip-installed with ``--no-deps --target`` into its own folder together with
only what ``import nam`` really imports (wavio, librosa's lazy shell, requests for 0.12.x), and
the check runs in a subprocess with ``PYTHONPATH`` pointing there. Versions of those extras are
pinned in constraints.txt. The folders are cached under ``.nam-loaders/`` (git-ignored).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("PANAMA_NAM_LOADERS", ROOT / ".nam-loaders"))
RELEASES = {
    "0.5": ("0.12.3", ["wavio", "librosa", "lazy_loader", "requests", "urllib3", "idna", "certifi", "charset_normalizer"]),
    "0.7": ("0.13.0", ["wavio", "librosa", "lazy_loader"]),
}


def loader_dir(layout: str) -> Path:
    """Install (once) the NAM release that reads ``layout`` and return its folder."""
    version, extras = RELEASES[layout]
    target = CACHE / f"nam-{version}"
    marker = target / ".complete"
    if not marker.exists():
        target.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
               "--upgrade", "--target", str(target), "-c", str(ROOT / "constraints.txt"),
               f"neural-amp-modeler=={version}", *extras]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        marker.write_text(version)
    return target


_SCRIPT = """
import json, sys
import numpy as np, torch
import nam
from nam.models import init_from_nam
torch.set_num_threads(1)


def init_convnet(config):
    # NAM's init_from_nam has no ConvNet branch (its plugin does): build NAM's own ConvNet from
    # the file's config, fill it in _export_weights' order, and check that order round-trips.
    from nam.models.conv_net import ConvNet
    model = ConvNet(sample_rate=config.get("sample_rate"), **config["config"])
    weights, i = torch.tensor(config["weights"]), 0
    def take(t):
        nonlocal i
        t.data.copy_(weights[i : i + t.numel()].reshape(t.shape))
        i += t.numel()
    for b in range(model._num_blocks):
        block = model._net._modules[f"block_{b}"]
        conv = block._modules["conv"]
        take(conv.weight)
        if conv.bias is not None:
            take(conv.bias)
        if "batchnorm" in block._modules:
            bn = block._modules["batchnorm"]
            for t in (bn.running_mean, bn.running_var, bn.weight, bn.bias):
                take(t)
            bn.eps = float(weights[i]); i += 1
    take(model._net._modules["head"].weight)
    take(model._net._modules["head"].bias)
    assert i == len(weights), (i, len(weights))
    assert np.allclose(model._export_weights(), weights.numpy()), "NAM's export order differs"
    return model.eval()


with open(sys.argv[1]) as f:
    config = json.load(f)
model = init_convnet(config) if config["architecture"] == "ConvNet" else init_from_nam(config)
x = np.load(sys.argv[2])
with torch.no_grad():
    y = model(torch.from_numpy(x), pad_start=True).numpy()
np.save(sys.argv[3], y)
print(nam.__version__)
"""


def run_nam(layout: str, nam_file: Path, x_file: Path, y_file: Path) -> str:
    """Load ``nam_file`` with NAM's ``init_from_nam`` and write its output for ``x_file``."""
    env = {**os.environ, "PYTHONPATH": str(loader_dir(layout)), "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-c", _SCRIPT, str(nam_file), str(x_file), str(y_file)],
                          env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise AssertionError(f"NAM's loader failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip()


_METADATA_SCRIPT = """
import json, sys
import numpy as np, torch
from nam.models import init_from_nam
from nam.models.metadata import UserMetadata
torch.set_num_threads(1)
with open(sys.argv[1]) as f:
    content = json.load(f)
model = init_from_nam(content)
fields = {k: v for k, v in content["metadata"].items() if k in UserMetadata.model_fields}
user = UserMetadata(**fields).model_dump(mode="json")
np.save(sys.argv[2], model._metadata_loudness_x().numpy())
with torch.no_grad():
    result = {"user": user, "loudness": model._metadata_loudness(), "gain": float(model._metadata_gain())}
print(json.dumps(result))
"""


def nam_metadata(layout: str, nam_file: Path, clip_file: Path) -> dict:
    """NAM's own reading of a .nam's metadata: its ``UserMetadata`` of the file's fields, and the
    ``loudness`` / ``gain`` NAM's trainer would compute for the loaded model (its own standard
    input is saved to ``clip_file``)."""
    env = {**os.environ, "PYTHONPATH": str(loader_dir(layout)), "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-c", _METADATA_SCRIPT, str(nam_file), str(clip_file)],
                          env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise AssertionError(f"NAM's loader failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())
