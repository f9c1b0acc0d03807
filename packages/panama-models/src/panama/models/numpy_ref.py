"""A NumPy-only reference forward for ``panama`` exports (no torch import, on purpose).

It documents the parametric model's arithmetic in the plainest form and lets any Python host
run an exported file: ``model = load("amp.panama.json"); y = model.predict(x, {"gain": 7})``.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np

from panama.core.errors import PanamaError
from panama.core.knobs import KnobSetting, KnobSpace

# wavenet.LOG_KNOB_EPS (the tests hold the two forwards together)
LOG_KNOB_EPS = 0.01

_ACTIVATIONS = {
    "Tanh": np.tanh,
    "ReLU": lambda z: np.maximum(z, 0),
    "Sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "Hardtanh": lambda z: np.clip(z, -1, 1),
    "LeakyReLU": lambda z: np.where(z > 0, z, 0.01 * z),
    "SiLU": lambda z: z / (1 + np.exp(-z)),
}


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def decode_tensor(entry: dict[str, Any]) -> np.ndarray:
    data = np.frombuffer(base64.b64decode(entry["data"]), dtype="<f4")
    return data.reshape(entry["shape"]).astype(np.float64)


class ReferenceModel:
    """A loaded ``panama`` export; computes in float64."""

    def __init__(self, payload: dict[str, Any]):
        if payload.get("format") != "panama-parametric":
            raise PanamaError("not a PANAMA parametric export", "export one with `panama export DIR --format panama`")
        self.net = payload["net"]
        self.config = payload["config"]
        self.receptive_field = int(payload["receptive_field"])
        self.sample_rate = int(payload["sample_rate"])
        self.knob_space = KnobSpace.model_validate({"knobs": payload["knobs"]})
        # one net's tensors, or (config "average": P) each of P nets' whose outputs are averaged
        self.nets = [{name: decode_tensor(entry) for name, entry in tensors.items()}
                     for tensors in payload.get("member_tensors") or [payload["tensors"]]]
        if self.net not in ("wavenet", "lstm"):
            raise PanamaError(f"the NumPy reference has no forward for net {self.net!r}", "use the torchscript export")

    def forward(self, x: np.ndarray, knobs: np.ndarray) -> np.ndarray:
        """``x[T]``, unit ``knobs[K]`` → ``y[T - receptive_field + 1]`` (no padding)."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        knobs = np.asarray(knobs, dtype=np.float64).reshape(-1)
        run = self._wavenet if self.net == "wavenet" else self._lstm
        outputs = [run(t, x, knobs) for t in self.nets]
        return outputs[0] if len(outputs) == 1 else np.mean(outputs, axis=0)

    def predict(self, x: np.ndarray, setting: KnobSetting | None = None) -> np.ndarray:
        """Same length as ``x`` (zeros before the first sample), native knob values."""
        knobs = self.knob_space.to_unit(setting or self.knob_space.default_setting())
        padded = np.concatenate([np.zeros(self.receptive_field - 1), np.asarray(x, np.float64).reshape(-1)])
        return self.forward(padded, knobs)

    def _wavenet(self, t: dict[str, np.ndarray], x: np.ndarray, knobs: np.ndarray) -> np.ndarray:
        head = None
        film = self.config.get("conditioning", "bias") == "film" and knobs.size > 0
        # log_gain, log_embed: each knob's log(u + eps) and log(1 - u + eps), as WaveNet.embed reads them
        logs = np.log(np.concatenate([knobs, 1.0 - knobs]) + LOG_KNOB_EPS) / -np.log(LOG_KNOB_EPS)
        if film and self.config.get("log_embed"):
            knobs = np.concatenate([knobs, logs])
        if "embed_weight" in t:  # FiLM's shared knob embedding
            knobs = np.tanh(t["embed_weight"] @ knobs + t["embed_bias"])
        h = x[None, :]  # [channels, time]
        for i, arr in enumerate(self.config["layers"]):
            p = f"arrays.{i}."
            out_length = h.shape[1] - (arr["kernel_size"] - 1) * sum(arr["dilations"])
            h = t[p + "rechannel_weight"][:, :, 0] @ h
            if head is not None:
                head = head[:, -out_length:]
            for j, d in enumerate(arr["dilations"]):
                q = f"{p}layers.{j}."
                w = t[q + "conv_weight"]  # [mid, C, k]
                k = w.shape[2]
                length = h.shape[1] - (k - 1) * d
                z = sum(w[:, :, tap] @ h[:, tap * d : tap * d + length] for tap in range(k))
                z = z + t[q + "mixer_weight"][:, :, 0] @ x[None, -length:]
                bias = t[q + "conv_bias"].copy()
                if q + "knob_weight" in t:
                    term = t[q + "knob_weight"] @ knobs + t[q + "knob_bias"]
                    if film:  # scale and shift of the conv + mixer sum
                        z = z * (1.0 + term[: w.shape[0], None])
                        term = term[w.shape[0] :]
                    bias += term
                z = z + bias[:, None]
                act = _ACTIVATIONS[arr["activation"]]
                if arr["gated"]:
                    c = arr["channels"]
                    a = act(z[:c]) * _sigmoid(z[c:])
                else:
                    a = act(z)
                h = h[:, -length:] + t[q + "out_weight"][:, :, 0] @ a + t[q + "out_bias"][:, None]
                head = a[:, -out_length:] if head is None else head + a[:, -out_length:]
            head = t[p + "head_weight"][:, :, 0] @ head
            if p + "head_bias" in t:
                head = head + t[p + "head_bias"][:, None]
        assert head is not None
        log_gain = t["gain_weight"][0] @ knobs + t["gain_bias"][0] if "gain_weight" in t else 0.0
        if "gain_log_weight" in t:
            log_gain += t["gain_log_weight"][0] @ logs
        gain = float(np.exp(log_gain))
        return self.config["head_scale"] * gain * head[0]

    def _lstm(self, t: dict[str, np.ndarray], x: np.ndarray, knobs: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        seq = np.concatenate([x[:, None], np.broadcast_to(knobs, (n, knobs.shape[0]))], axis=1)
        for layer in range(self.config["num_layers"]):
            w_ih, w_hh = t[f"lstm.weight_ih_l{layer}"], t[f"lstm.weight_hh_l{layer}"]
            b = t[f"lstm.bias_ih_l{layer}"] + t[f"lstm.bias_hh_l{layer}"]
            hidden = w_hh.shape[1]
            pre = seq @ w_ih.T + b  # the input part of every step at once
            hs, c, hh = np.empty((n, hidden)), np.zeros(hidden), np.zeros(hidden)
            for step in range(n):
                g = pre[step] + w_hh @ hh
                i, f, cand, o = _sigmoid(g[:hidden]), _sigmoid(g[hidden : 2 * hidden]), np.tanh(g[2 * hidden : 3 * hidden]), _sigmoid(g[3 * hidden :])
                c = f * c + i * cand
                hh = o * np.tanh(c)
                hs[step] = hh
            seq = hs
        y = seq @ t["head.weight"][0] + t["head.bias"][0]
        return y[self.receptive_field - 1 :]


def load(path: str | Path) -> ReferenceModel:
    path = Path(path)
    try:
        payload = json.loads(path.read_text())
    except FileNotFoundError:
        raise PanamaError(f"{path} does not exist", "check the path") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise PanamaError(f"{path} is not JSON", "pick a .panama.json export") from None
    return ReferenceModel(payload)
