"""Scale-free disagreement of an ensemble, and the members' covariance between settings (torch inside).

Raw output variance (the paper's score) grows with the square of the output level, so it sends
the search to loud settings and the edges of the knob box. Two scale-free alternatives:

- ``relative``: the members' outputs divided by their RMS at that setting, so the score is the
  variance relative to the members' mean output energy (a "relative error" of the committee);
  with ``power`` p < 1 the variance over energy**p, between raw variance (0) and scale-free (1):
  at 0.5 a setting counts as it does in the level-weighted training loss (``level_weight``);
- ``log-spectral``: the members' log power spectra (dB, floored so near-silent bins do not
  dominate); the score is their variance in dB².

Fully scale-free scores have the opposite bias: a near-silent setting (master at zero) has the
largest *relative* spread, because the members' absolute error hardly depends on the level.
So both are anchored to a reference level, the typical output at the labelled settings: the
relative score divides by ``energy + reference · 10^(quiet_db/10)`` (settings more than
``quiet_db`` below the typical level count as that level), the log-spectral floor sits
``floor_db`` below the reference. Without a reference, each setting is its own.

Each member's output (in one of these domains) minus the members' mean is a *deviation* vector
per setting. Its mean square is the disagreement; the inner product of two settings' deviations
is the ensemble's covariance between them, which the batch selection uses (a setting whose
deviations move with an already chosen one's is partly explained by it).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Score = Literal["variance", "relative", "log-spectral"]

_ENERGY_FLOOR = 1e-12

SCORE_NAMES: dict[str, str] = {
    "variance": "variance",
    "relative": "variance / members' mean output energy",
    "log-spectral": "variance of the members' log power spectra (dB²)",
}


@dataclass(frozen=True)
class ScoreSpec:
    """Which score, and its parameters (see the module doc)."""

    kind: Score = "relative"
    fft_size: int = 256
    floor_db: float = -40.0
    quiet_db: float = -20.0
    reference: float | None = None  # the typical level in the score's domain (from labelled settings)
    power: float = 1.0  # relative: variance / energy**power


def _power(out: Any, fft_size: int) -> Any:
    """``[M, B, T]`` → ``[M, B, bins × frames]`` power spectrogram (Hann, half overlap)."""
    import torch

    m, b, t = out.shape
    n_fft = max(2, min(fft_size, t))
    window = torch.hann_window(n_fft, dtype=out.dtype, device=out.device)
    spec = torch.stft(out.reshape(m * b, t), n_fft, n_fft // 2, window=window, center=False, return_complex=True)
    return (spec.real.pow(2) + spec.imag.pow(2)).reshape(m, b, -1)


def level(out: Any, spec: ScoreSpec) -> Any:
    """``[M, B, T]`` → ``[B]``: the members' mean level in the score's domain (energy or power)."""
    if spec.kind == "log-spectral":
        return _power(out, spec.fft_size).mean(dim=(0, 2))
    return out.pow(2).mean(dim=(0, 2))


def features(out: Any, spec: ScoreSpec) -> Any:
    """``out[M, B, T]`` member outputs → ``[B, M, F]`` in the score's domain (differentiable)."""
    import torch

    if spec.kind == "variance":
        f = out
    elif spec.kind == "relative":
        energy = out.pow(2).mean(dim=(0, 2), keepdim=True)
        if spec.reference is not None:
            energy = energy + spec.reference * 10.0 ** (spec.quiet_db / 10.0)
        f = out / energy.clamp_min(_ENERGY_FLOOR).pow(spec.power / 2)
    else:
        power = _power(out, spec.fft_size)
        base = power.mean(dim=(0, 2), keepdim=True) if spec.reference is None else spec.reference
        f = 10.0 * torch.log10(power + base * 10.0 ** (spec.floor_db / 10.0) + _ENERGY_FLOOR)
    return f.permute(1, 0, 2)


def disagreement(f: Any) -> Any:
    """``[B, M, F]`` → ``[B]``: the across-member variance (unbiased), averaged over features."""
    return f.var(dim=1).mean(dim=-1)


@dataclass
class Evaluation:
    """Pointwise disagreement, member RMS levels (dB) and, if asked, the deviation vectors."""

    scores: np.ndarray  # [B]
    member_rms_db: np.ndarray  # [B, M]
    levels: np.ndarray  # [B], the members' mean level in the score's domain (see ``level``)
    deviations: np.ndarray | None  # [B, M * F_total] / sqrt((M - 1) F_total), so Gram = covariance


# An excerpt whose input is this far below the whole input's mean power is not scored: a capture
# signal opens and closes with digital silence (and has gaps), where every member outputs its
# own offset and the relative disagreement of two such outputs is noise of order 1.
SILENT_DB = -20.0


def playing_starts(signal: Any, field: int, excerpt: int, floor_db: float = SILENT_DB) -> np.ndarray:
    """Start indices (hop ``excerpt // 4``) of the output excerpts whose input is playing: the
    mean power of each quarter within ``floor_db`` of the whole input's (so an excerpt reaches
    less than a quarter into a silence). All starts if none is (a silent input)."""
    x = np.asarray(signal, dtype=np.float64).reshape(-1)
    lo, hi = field - 1, len(x) - excerpt
    if hi < lo:
        return np.array([lo])
    quarter = max(1, excerpt // 4)
    starts = np.arange(lo, hi + 1, quarter)
    cumulative = np.concatenate([[0.0], np.cumsum(x * x)])
    edges = [starts + min(excerpt, k * quarter) for k in range(4)] + [starts + excerpt]
    power = np.min([(cumulative[b] - cumulative[a]) / np.maximum(1, b - a) for a, b in itertools.pairwise(edges)], axis=0)
    playing = power >= cumulative[-1] / len(x) * 10.0 ** (floor_db / 10.0)
    return starts[playing] if playing.any() and cumulative[-1] > 0 else starts


def spans_for(signal: Any, field: int, excerpt: int | None, count: int) -> list[tuple[int, int]]:
    """``count`` output spans (input indices) of ``excerpt`` samples, evenly spaced over the
    excerpts where the input plays (never its silent lead-in, gaps or tail), or the whole."""
    length = len(signal)
    if excerpt is None or excerpt >= length - field + 1:
        return [(field - 1, length)]
    starts = playing_starts(signal, field, excerpt)
    picks = np.unique(np.linspace(0, len(starts) - 1, count).round().astype(int))
    return [(int(starts[i]), int(starts[i]) + excerpt) for i in picks]


def evaluate(
    ensemble: Any,
    x: Any,
    points: np.ndarray,
    spans: list[tuple[int, int]],
    spec: ScoreSpec,
    *,
    field: int,
    batch: int = 32,
    deviations: bool = False,
) -> Evaluation:
    """Score unit ``points[B, K]`` on the input spans without gradients, ``batch`` at a time."""
    import torch

    scores, rms, levels, devs = [], [], [], []
    dtype = x.dtype
    for lo in range(0, len(points), batch):
        knobs = torch.as_tensor(points[lo : lo + batch], dtype=dtype, device=x.device)
        parts: list[Any] = []
        sq: Any = 0.0
        mean_level: Any = 0.0
        count = 0
        with torch.no_grad():
            for start, stop in spans:
                out = ensemble.predict(x[start - field + 1 : stop], knobs)[..., -(stop - start) :]  # [M, b, T]
                parts.append(features(out, spec))
                sq = sq + out.double().pow(2).sum(dim=-1)  # [M, b]
                mean_level = mean_level + level(out, spec).double() / len(spans)
                count += out.shape[-1]
            f = torch.cat(parts, dim=-1)  # [b, M, F]
            scores.append(disagreement(f).double().cpu().numpy())
            rms.append((10 * torch.log10(sq / count + _ENERGY_FLOOR)).T.cpu().numpy())
            levels.append(mean_level.cpu().numpy())
            if deviations:
                m, width = f.shape[1], f.shape[2]
                d = (f - f.mean(dim=1, keepdim=True)).reshape(f.shape[0], -1) / np.sqrt(max(1, m - 1) * width)
                devs.append(d.double().cpu().numpy())
    return Evaluation(
        scores=np.concatenate(scores) if scores else np.empty(0),
        member_rms_db=np.concatenate(rms) if rms else np.empty((0, 0)),
        levels=np.concatenate(levels) if levels else np.empty(0),
        deviations=np.concatenate(devs) if deviations and devs else None,
    )


def climb(
    ensemble: Any,
    x: Any,
    start: np.ndarray,
    spec: ScoreSpec,
    *,
    field: int,
    excerpt: int,
    steps: int,
    lr: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Gradient ascent of the pointwise disagreement from unit ``start[R, K]`` (all R as one batch).

    Knobs are ``sigmoid(u)``; each step scores a random excerpt of the input where it plays (as
    the paper's CPU-friendly variant); Adam is element-wise, so R restarts are R independent searches.
    """
    import torch

    eps = 1e-4
    clipped = np.clip(start, eps, 1 - eps)
    u = torch.tensor(np.log(clipped / (1 - clipped)), dtype=x.dtype, device=x.device, requires_grad=True)
    optimizer = torch.optim.Adam([u], lr=lr)
    starts = playing_starts(x.detach().cpu().numpy(), field, excerpt)
    for _ in range(steps):
        optimizer.zero_grad()
        lo = int(rng.choice(starts))
        hi = min(x.shape[0], lo + excerpt)
        out = ensemble.predict(x[lo - field + 1 : hi], torch.sigmoid(u))[..., -(hi - lo) :]
        value = disagreement(features(out, spec))
        (-torch.nan_to_num(value, nan=0.0).sum()).backward()
        optimizer.step()
    return torch.sigmoid(u).detach().double().cpu().numpy()
