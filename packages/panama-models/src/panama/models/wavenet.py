"""NAM's A1 WaveNet, layer for layer, with a per-layer knob term (the PANAMA design).

Each layer computes ``z = dilated_conv(h) + bias + input_mixer(x) + Linear_K(knobs)`` and
``a = tanh(z)`` (or ``tanh * sigmoid`` when gated); ``h ← h + conv1x1(a)``; ``a`` joins the skip
sum. The knob term is constant in time, so at a fixed setting it folds exactly into the
dilated-conv bias (:meth:`WaveNet.fold`) and the result is a plain NAM WaveNet.

``members = M > 1`` stacks M independent nets into one module: every parameter's first axis is
``M`` blocks of the single-net shape and every convolution runs with ``groups=M``. So one forward
trains a whole ensemble, and :meth:`WaveNet.member` / :meth:`WaveNet.stack` convert between the
stacked and the single form by slicing and concatenating along that axis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from panama.core.protocols import ComponentConfig

# channels/head sizes of the two layer arrays; dilations per array (NAM's A1 tables)
_LITE_DILATIONS = ([1, 2, 4, 8, 16, 32, 64], [128, 256, 512, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512])
_STANDARD_DILATIONS = ([2**i for i in range(10)], [2**i for i in range(10)])
PRESETS: dict[str, tuple[int, int, tuple[list[int], list[int]]]] = {
    "standard": (16, 8, _STANDARD_DILATIONS),
    "lite": (12, 6, _LITE_DILATIONS),
    "feather": (8, 4, _LITE_DILATIONS),
    "nano": (4, 2, _LITE_DILATIONS),
}
# Layers with at most this many channels run as batched matmuls instead of conv1d (same maths;
# chosen by timing both on a 2-core CPU, see benchmarks/train_speed.py).
MATMUL_MAX_CHANNELS = 8
# where knob_logs' log(u + eps) bottoms out: 40 dB below the knob's top
LOG_KNOB_EPS = 0.01
ACTIVATIONS = ("Tanh", "ReLU", "Sigmoid", "Hardtanh", "LeakyReLU", "SiLU")


class LayerArrayConfig(BaseModel):
    """One NAM layer array (same keys as NAM's ``layers_configs`` entries)."""

    model_config = ConfigDict(extra="forbid")

    input_size: int = Field(ge=1)
    condition_size: Literal[1] = 1
    channels: int = Field(ge=1)
    head_size: int = Field(ge=1)
    kernel_size: int = Field(default=3, ge=1)
    dilations: list[int] = Field(min_length=1)
    activation: Literal[ACTIVATIONS] = "Tanh"  # type: ignore[valid-type]
    gated: bool = False
    head_bias: bool = True


def preset_layers(name: str) -> list[LayerArrayConfig]:
    channels, head, (d1, d2) = PRESETS[name]
    return [
        LayerArrayConfig(input_size=1, channels=channels, head_size=head, dilations=d1, head_bias=False),
        LayerArrayConfig(input_size=channels, channels=head, head_size=1, dilations=d2, head_bias=True),
    ]


class WaveNetConfig(ComponentConfig):
    """``preset`` picks NAM's tables; ``layers`` (NAM's ``layers_configs``) overrides it."""

    preset: Literal["nano", "feather", "lite", "standard"] = "standard"
    layers: list[LayerArrayConfig] | None = None
    # The preset's channels with every layer array dilated 1, 2, 4 … max_dilation instead of
    # NAM's tables: a shorter receptive field (2045 samples for 256 and two arrays, against
    # 4093) costs fewer layers and less context per segment, which a device with a short memory
    # (the sim; many amps) turns into more training steps per CPU-minute.
    max_dilation: int | None = Field(default=None, ge=1)
    head_scale: float = 0.02
    num_knobs: int = Field(default=0, ge=0)
    # How the knobs reach the layers. "bias": the paper's Linear(K -> channels) added before the
    # activation. "film": a per-layer scale *and* shift of the pre-activation (a gain knob is a
    # scale; an additive term can only move the operating point), from a small knob embedding
    # shared by all layers (``knob_hidden`` units, 0 = the raw knobs), plus a knob-dependent
    # output gain. Both fold exactly into a plain NAM WaveNet at a fixed setting.
    conditioning: Literal["bias", "film"] = "bias"
    knob_hidden: int = Field(default=16, ge=0)
    output_gain: bool = True
    # FiLM only: the output gain also reads each knob's log(u + eps) and log(1 - u + eps) (u its
    # unit value), so it can be a power of the knob's position. Level knobs are tapered:
    # GxStudioPre's master loses 6 dB per halving below 0.1 (its output is linear in the knob),
    # which a tanh embedding of u cannot follow down to the knob's bottom. log_embed: the
    # embedding reads the logs too.
    log_gain: bool = False
    log_embed: bool = False

    @model_validator(mode="after")
    def _check_chain(self) -> WaveNetConfig:
        if self.max_dilation is not None and self.max_dilation & (self.max_dilation - 1):
            raise ValueError(f"max_dilation must be a power of two (1, 2, 4 … 512), not {self.max_dilation}")
        arrays = self.resolved_layers()
        if arrays[0].input_size != 1:
            raise ValueError("layers.0.input_size must be 1 (mono audio in)")
        if arrays[-1].head_size != 1:
            raise ValueError(f"layers.{len(arrays) - 1}.head_size must be 1 (mono audio out)")
        for i in range(1, len(arrays)):
            if arrays[i].input_size != arrays[i - 1].channels:
                raise ValueError(f"layers.{i}.input_size must equal layers.{i - 1}.channels")
            if arrays[i].channels != arrays[i - 1].head_size:
                raise ValueError(f"layers.{i}.channels must equal layers.{i - 1}.head_size")
        return self

    def resolved_layers(self) -> list[LayerArrayConfig]:
        arrays = list(self.layers) if self.layers else preset_layers(self.preset)
        if self.max_dilation is None:
            return arrays
        dilations = [2**i for i in range(self.max_dilation.bit_length())]
        return [a.model_copy(update={"dilations": dilations}) for a in arrays]


class _Tanh(torch.autograd.Function):
    """tanh computed as ``2 sigmoid(2z) - 1`` (the same function, within 2e-7), with tanh's own
    backward ``g (1 - t^2)``.

    Why: in this torch's CPU build, ``torch.tanh`` costs 2.9 ns an element against 0.4 for
    ``torch.sigmoid``, and the activation was the largest forward cost of a small WaveNet; this
    makes a feather training step 1.2-1.35x faster. The exported ``.nam`` keeps NAM's exact Tanh.
    """

    @staticmethod
    def forward(ctx: Any, z: torch.Tensor) -> torch.Tensor:
        t = torch.sigmoid(z * 2).mul_(2).sub_(1)
        ctx.save_for_backward(t)
        return t

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (t,) = ctx.saved_tensors
        return torch.ops.aten.tanh_backward(grad, t)


def _activation(name: str, z: torch.Tensor) -> torch.Tensor:
    if name == "Tanh":
        if torch.jit.is_scripting():  # TorchScript has no autograd.Function; the same values
            return torch.sigmoid(z * 2) * 2 - 1
        return _Tanh.apply(z)
    if name == "ReLU":
        return torch.relu(z)
    if name == "Sigmoid":
        return torch.sigmoid(z)
    if name == "Hardtanh":
        return F.hardtanh(z)
    if name == "LeakyReLU":
        return F.leaky_relu(z, 0.01)
    return F.silu(z)


class _Layer(nn.Module):
    """One dilated layer; parameters are ``members`` stacked blocks along the first axis."""

    def __init__(self, channels: int, kernel_size: int, dilation: int, activation: str, gated: bool, knobs: int, members: int,
                 film: bool = False):
        super().__init__()
        mid = 2 * channels if gated else channels
        self.channels, self.mid, self.dilation, self.members = channels, mid, dilation, members
        self.activation, self.gated, self.knobs, self.film = activation, gated, knobs, film
        self.use_matmul = channels <= MATMUL_MAX_CHANNELS
        self.conv_weight = nn.Parameter(torch.empty(members * mid, channels, kernel_size))
        self.conv_bias = nn.Parameter(torch.empty(members * mid))
        self.mixer_weight = nn.Parameter(torch.empty(members * mid, 1, 1))
        self.out_weight = nn.Parameter(torch.empty(members * channels, channels, 1))
        self.out_bias = nn.Parameter(torch.empty(members * channels))
        # Linear(K -> mid) on the knob vector (FiLM: Linear(E -> 2 mid), scale and shift, on the
        # knob embedding); None when K = 0.
        rows = 2 * mid if film else mid
        self.knob_weight = nn.Parameter(torch.empty(members * rows, knobs)) if knobs else None
        self.knob_bias = nn.Parameter(torch.empty(members * rows)) if knobs else None

    def condition(self, knobs: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """``(scale, bias)`` per batch item and member, ``[B, M, mid, 1]`` each (scale None
        without FiLM). The bias is the conv bias plus the knob term."""
        m, mid = self.members, self.mid
        bias = self.conv_bias.view(1, m, mid)
        scale: torch.Tensor | None = None
        weight, knob_bias = self.knob_weight, self.knob_bias
        if weight is not None and knob_bias is not None:
            rows = 2 * mid if self.film else mid
            term = torch.einsum("bmk,mck->bmc", knobs, weight.view(m, rows, self.knobs)) + knob_bias.view(1, m, rows)
            if self.film:
                scale = (1.0 + term[:, :, :mid]).unsqueeze(-1)
                term = term[:, :, mid:]
            bias = bias + term
        return scale, bias.unsqueeze(-1)

    def forward(self, h: torch.Tensor, c: torch.Tensor, scale: torch.Tensor | None, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.use_matmul:
            return self._forward_matmul(h, c, scale, bias)
        z = F.conv1d(h, self.conv_weight, None, dilation=self.dilation, groups=self.members)
        b, _, length = z.shape
        m, mid = self.members, self.mid
        if scale is None:
            # input mixer (1x1 conv of the raw input) and bias in one broadcast op, then the conv
            mix = torch.addcmul(bias, c[:, :, -length:].unsqueeze(2), self.mixer_weight.view(1, m, mid, 1))
            z = z + mix.reshape(b, m * mid, length)
        else:
            zz = torch.addcmul(z.view(b, m, mid, length), c[:, :, -length:].unsqueeze(2), self.mixer_weight.view(1, m, mid, 1))
            z = torch.addcmul(bias, zz, scale).reshape(b, m * mid, length)
        if self.gated:
            zz = z.view(b, m, mid, length)
            a = (_activation(self.activation, zz[:, :, : self.channels]) * torch.sigmoid(zz[:, :, self.channels :]))
            a = a.reshape(b, m * self.channels, length)
        else:
            a = _activation(self.activation, z)
        h = h[:, :, -length:] + F.conv1d(a, self.out_weight, self.out_bias, groups=m)
        return h, a

    def _forward_matmul(self, h: torch.Tensor, c: torch.Tensor, scale: torch.Tensor | None, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The same layer as batched matmuls: the k dilated taps of ``h`` and the raw input are
        stacked along channels, so conv and input mixer are one product. With few channels
        (NAM's nano/feather/lite arrays) this beats oneDNN's conv1d on CPU."""
        b, m, ch, mid = h.shape[0], self.members, self.channels, self.mid
        k = self.conv_weight.shape[-1]
        length = h.shape[-1] - (k - 1) * self.dilation
        hv = h.view(b, m, ch, h.shape[-1])
        taps = [hv[:, :, :, j * self.dilation : j * self.dilation + length] for j in range(k)]
        taps.append(c[:, :, -length:].unsqueeze(2))
        weight = torch.cat(
            [self.conv_weight.view(m, mid, ch, k).transpose(2, 3).reshape(m, mid, k * ch), self.mixer_weight.view(m, mid, 1)],
            dim=2,
        )
        z = torch.matmul(weight.unsqueeze(0), torch.cat(taps, dim=2))  # [B, M, mid, L]
        z = z + bias if scale is None else torch.addcmul(bias, z, scale)
        if self.gated:
            a = _activation(self.activation, z[:, :, :ch]) * torch.sigmoid(z[:, :, ch:])
        else:
            a = _activation(self.activation, z)
        out = torch.matmul(self.out_weight.view(1, m, ch, ch), a) + self.out_bias.view(1, m, ch, 1)
        return h[:, :, -length:] + out.view(b, m * ch, length), a.reshape(b, m * ch, length)


class _LayerArray(nn.Module):
    def __init__(self, cfg: LayerArrayConfig, knobs: int, members: int, film: bool = False):
        super().__init__()
        self.members = members
        self.rechannel_weight = nn.Parameter(torch.empty(members * cfg.channels, cfg.input_size, 1))
        self.layers = nn.ModuleList(
            _Layer(cfg.channels, cfg.kernel_size, d, cfg.activation, cfg.gated, knobs, members, film) for d in cfg.dilations
        )
        self.head_weight = nn.Parameter(torch.empty(members * cfg.head_size, cfg.channels, 1))
        self.head_bias = nn.Parameter(torch.empty(members * cfg.head_size)) if cfg.head_bias else None
        self.shrink = (cfg.kernel_size - 1) * sum(cfg.dilations)

    def forward(self, h: torch.Tensor, c: torch.Tensor, knobs: torch.Tensor, head: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        out_length = h.shape[-1] - self.shrink
        h = F.conv1d(h, self.rechannel_weight, None, groups=self.members)
        if head is not None:
            head = head[:, :, -out_length:]
        for layer in self.layers:
            scale, bias = layer.condition(knobs)
            h, a = layer(h, c, scale, bias)
            head = a[:, :, -out_length:] if head is None else head + a[:, :, -out_length:]
        assert head is not None
        return F.conv1d(head, self.head_weight, self.head_bias, groups=self.members), h


class WaveNet(nn.Module):
    """The ``wavenet`` net: ``forward(x[B, T], knobs[B, K]) -> y[B, T - receptive_field + 1]``.

    With ``members > 1``, ``x`` may be ``[B, T]`` (shared) or ``[B, M, T]`` and ``knobs``
    ``[B, K]`` or ``[B, M, K]``; the output is then ``[B, M, T']``.
    """

    Config = WaveNetConfig
    supports_members = True

    def __init__(self, config: WaveNetConfig | None = None, *, members: int = 1, seeds: Sequence[int] | None = None):
        super().__init__()
        self.config = config if config is not None else WaveNetConfig()
        self.members = members
        self.num_knobs = self.config.num_knobs
        self.head_scale = self.config.head_scale
        arrays = self.config.resolved_layers()
        k = self.num_knobs
        film = self.config.conditioning == "film" and k > 0
        hidden = self.config.knob_hidden if film else 0
        # FiLM's shared knob embedding tanh(W k + b) and output gain exp(w . e + b); None otherwise
        # (k: the knobs, and with log_embed their logs too)
        self.log_embed = film and self.config.log_embed
        self.log_knob_eps = LOG_KNOB_EPS
        inputs = 3 * k if self.log_embed else k  # the knobs, then their two logs (knob_logs)
        self.embed_weight = nn.Parameter(torch.empty(members * hidden, inputs)) if hidden else None
        self.embed_bias = nn.Parameter(torch.empty(members * hidden)) if hidden else None
        self.embed_size = hidden or inputs
        use_gain = film and self.config.output_gain
        self.gain_weight = nn.Parameter(torch.empty(members, self.embed_size)) if use_gain else None
        self.gain_bias = nn.Parameter(torch.empty(members)) if use_gain else None
        # the output gain's direct path from the knobs' logs: exp(v . log) is a power of each knob
        use_log_gain = use_gain and self.config.log_gain
        self.gain_log_weight = nn.Parameter(torch.empty(members, 2 * k)) if use_log_gain else None
        self.arrays = nn.ModuleList(_LayerArray(cfg, self.embed_size if k else 0, members, film) for cfg in arrays)
        self.receptive_field = 1 + sum(a.shrink for a in self.arrays)
        # NAM's layout keeps the last layer's residual 1x1 conv, but its output is never used (the
        # head reads only the skip sums). Frozen, it is not a "parameter without a gradient",
        # which data-parallel training (DDP) refuses; it stays in the weights and in .nam files.
        last = self.arrays[-1].layers[-1]
        last.out_weight.requires_grad_(False)
        last.out_bias.requires_grad_(False)
        self.reset_parameters(seeds if seeds is not None else [int(torch.randint(0, 2**31 - 1, ()).item()) for _ in range(members)])

    # -- construction ----------------------------------------------------------------------
    @torch.no_grad()
    def reset_parameters(self, seeds: Sequence[int]) -> None:
        """PyTorch's default conv/linear init (U(±1/√fan_in)), member m drawn from ``seeds[m]``.

        A single net built with seed s equals member 0 of an ensemble whose first seed is s.
        """
        if len(seeds) != self.members:
            raise ValueError(f"need {self.members} seeds, got {len(seeds)}")
        fans = {}
        for module in self.modules():
            if isinstance(module, _Layer):
                k = module.conv_weight.shape[-1]
                fans.update({
                    id(module.conv_weight): module.channels * k, id(module.conv_bias): module.channels * k,
                    id(module.mixer_weight): 1, id(module.out_weight): module.channels,
                    id(module.out_bias): module.channels,
                })
                if module.knob_weight is not None:
                    fans[id(module.knob_weight)] = fans[id(module.knob_bias)] = module.knobs
                    if module.film:  # start near the identity: scale ~ 1, small shift
                        fans[id(module.knob_weight)] = fans[id(module.knob_bias)] = module.knobs * 16
            elif isinstance(module, _LayerArray):
                fans[id(module.rechannel_weight)] = module.rechannel_weight.shape[1]
                fans[id(module.head_weight)] = module.head_weight.shape[1]
                if module.head_bias is not None:
                    fans[id(module.head_bias)] = module.head_weight.shape[1]
        if self.embed_weight is not None:
            fans[id(self.embed_weight)] = fans[id(self.embed_bias)] = self.embed_weight.shape[1]
        gains = {id(self.gain_weight), id(self.gain_bias), id(self.gain_log_weight)} - {id(None)}
        for m, seed in enumerate(seeds):
            gen = torch.Generator().manual_seed(int(seed))
            for p in self.parameters():
                block = p.view(self.members, -1)[m]
                if id(p) in gains:  # output gain starts at exp(0) = 1
                    block.zero_()
                    continue
                bound = 1.0 / math.sqrt(fans[id(p)])
                block.copy_(torch.rand(block.shape, generator=gen) * 2 * bound - bound)

    def single_config(self) -> WaveNetConfig:
        return self.config

    def member(self, index: int) -> WaveNet:
        """Member ``index`` of a stacked net as a stand-alone single net (a copy)."""
        net = WaveNet(self.config, members=1, seeds=[0])
        with torch.no_grad():
            for mine, theirs in zip(net.parameters(), self.parameters(), strict=False):
                mine.copy_(theirs.detach().view(self.members, *mine.shape)[index])
        return net

    @classmethod
    def stack(cls, nets: Sequence[WaveNet]) -> WaveNet:
        """Stack single nets of one config into one ``members=len(nets)`` module."""
        out = cls(nets[0].config, members=len(nets), seeds=[0] * len(nets))
        with torch.no_grad():
            for i, p in enumerate(out.parameters()):
                p.copy_(torch.cat([list(n.parameters())[i].detach() for n in nets], dim=0))
        return out

    @classmethod
    @torch.no_grad()
    def average(cls, nets: Sequence[WaveNet]) -> WaveNet:
        """One K = 0 net whose output is exactly the mean of ``nets``' (single K = 0 nets of one
        config, e.g. folded members): every layer array ``len(nets)`` times as wide, the nets'
        weights block-diagonal, the last head their mean. NAM runs it as any WaveNet (two
        feather nets make one net of NAM standard's 16 and 8 channels)."""
        p, first = len(nets), nets[0]
        if any(n.num_knobs or n.members != 1 for n in nets):
            raise ValueError("average single K = 0 nets (fold them first)")
        arrays = first.config.resolved_layers()
        if any(n.config.resolved_layers() != arrays or n.head_scale != first.head_scale for n in nets):
            raise ValueError("average nets of one config")
        if any(a.gated for a in arrays):
            raise ValueError("gated layers do not merge block-diagonally")
        last = len(arrays) - 1
        wide = [a.model_copy(update={"input_size": a.input_size * (p if i else 1), "channels": a.channels * p,
                                     "head_size": a.head_size * (1 if i == last else p)}) for i, a in enumerate(arrays)]
        out = cls(first.config.model_copy(update={"layers": wide, "max_dilation": None, "num_knobs": 0,
                                                  "conditioning": "bias"}), seeds=[0])

        def block(dst: torch.Tensor, srcs: list[torch.Tensor], diagonal: bool = True) -> None:
            dst.zero_()
            r = c = 0
            for src in srcs:
                dst[r : r + src.shape[0], c : c + src.shape[1]] = src
                r, c = r + src.shape[0], c + (src.shape[1] if diagonal else 0)

        for i, (mine, *theirs) in enumerate(zip(out.arrays, *(n.arrays for n in nets), strict=True)):
            block(mine.rechannel_weight, [t.rechannel_weight for t in theirs], diagonal=i > 0)  # array 0 reads the input
            for layer, *others in zip(mine.layers, *(t.layers for t in theirs), strict=True):
                block(layer.conv_weight, [o.conv_weight for o in others])
                block(layer.out_weight, [o.out_weight for o in others])
                for name in ("conv_bias", "mixer_weight", "out_bias"):
                    getattr(layer, name).copy_(torch.cat([getattr(o, name) for o in others]))
            if i == last:
                mine.head_weight.copy_(torch.cat([t.head_weight for t in theirs], dim=1) / p)
            else:
                block(mine.head_weight, [t.head_weight for t in theirs])
            if mine.head_bias is not None:
                biases = [t.head_bias for t in theirs if t.head_bias is not None]
                mine.head_bias.copy_(torch.stack(biases).mean(0) if i == last else torch.cat(biases))
        return out

    @torch.no_grad()
    def fold(self, knobs: torch.Tensor) -> WaveNet:
        """A K = 0 net equal to this one at the unit knob vector ``knobs[K]`` (single nets only)."""
        if self.members != 1:
            raise ValueError("fold a single member (use .member(i) first)")
        config = self.config.model_copy(update={"num_knobs": 0, "conditioning": "bias"})
        out = WaveNet(config, seeds=[0])
        unit = torch.as_tensor(knobs, dtype=torch.float32).reshape(1, 1, -1)
        embedding = self.embed(unit)
        state = {k: v for k, v in self.state_dict().items() if not k.startswith(("embed_", "gain_")) and "knob_" not in k}
        out.load_state_dict(state)
        for mine, theirs in zip(_layers(out), _layers(self), strict=False):
            scale, bias = theirs.condition(embedding)
            mine.conv_bias.copy_(bias.reshape(-1))
            if scale is not None:  # a scale of the conv + mixer sum is a scale of their weights
                mine.conv_weight.mul_(scale.reshape(-1, 1, 1))
                mine.mixer_weight.mul_(scale.reshape(-1, 1, 1))
        gain = self.gain(embedding, unit)
        if gain is not None:
            last = out.arrays[-1]
            last.head_weight.mul_(gain.reshape(-1, 1, 1))
            if last.head_bias is not None:
                last.head_bias.mul_(gain.reshape(-1))
        return out

    def embed(self, knobs: torch.Tensor) -> torch.Tensor:
        """The knob embedding every layer's conditioning reads: ``[B, M, E]``."""
        if self.log_embed:
            knobs = torch.cat([knobs, knob_logs(knobs, self.log_knob_eps)], dim=-1)
        weight, bias = self.embed_weight, self.embed_bias
        if weight is None or bias is None:
            return knobs
        m = self.members
        return torch.tanh(torch.einsum("bmk,mhk->bmh", knobs, weight.view(m, -1, weight.shape[1])) + bias.view(1, m, -1))

    def gain(self, embedding: torch.Tensor, knobs: torch.Tensor) -> torch.Tensor | None:
        """FiLM's knob-dependent output gain ``[B, M, 1]`` (None without one)."""
        weight, bias = self.gain_weight, self.gain_bias
        if weight is None or bias is None:
            return None
        log_gain = torch.einsum("bme,me->bm", embedding, weight) + bias.view(1, -1)
        log_weight = self.gain_log_weight
        if log_weight is not None:
            log_gain = log_gain + torch.einsum("bmk,mk->bm", knob_logs(knobs, self.log_knob_eps), log_weight)
        return torch.exp(log_gain).unsqueeze(-1)

    # -- forward ---------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, knobs: torch.Tensor) -> torch.Tensor:
        squeeze = x.dim() == 2 and self.members == 1
        if x.dim() == 2:
            x = x.unsqueeze(1).expand(-1, self.members, -1)
        if knobs.dim() == 2:
            knobs = knobs.unsqueeze(1).expand(-1, self.members, -1)
        embedding = self.embed(knobs.to(x.dtype))
        h = x
        head: torch.Tensor | None = None
        for array in self.arrays:
            head, h = array(h, x, embedding, head)
        assert head is not None
        y = self.head_scale * head
        gain = self.gain(embedding, knobs.to(x.dtype))
        if gain is not None:
            y = y * gain
        return y[:, 0] if squeeze else y


def knob_logs(knobs: torch.Tensor, eps: float = LOG_KNOB_EPS) -> torch.Tensor:
    """``[..., K]`` unit knobs -> ``[..., 2K]``: ``log(u + eps)`` then ``log(1 - u + eps)``, a
    taper at either end of each knob's travel (finite at 0 and 1), divided by ``log(1 / eps)``
    so they span [-1, 0] as the knobs span [0, 1] (a weight's step moves them no faster)."""
    return torch.log(torch.cat([knobs, 1.0 - knobs], dim=-1) + eps) / -math.log(eps)


def _layers(net: WaveNet) -> list[_Layer]:
    return [layer for array in net.arrays for layer in array.layers]


def nam_weights(net: WaveNet) -> list[float]:
    """The flat weight vector in NAM's order (a K = 0 single net; fold first)."""
    if net.num_knobs or net.members != 1:
        raise ValueError("NAM weights need a single K = 0 net; use .fold(knobs)")
    parts: list[torch.Tensor] = []
    for array in net.arrays:
        parts.append(array.rechannel_weight.flatten())
        for layer in array.layers:
            parts += [layer.conv_weight.flatten(), layer.conv_bias, layer.mixer_weight.flatten(),
                      layer.out_weight.flatten(), layer.out_bias]
        parts.append(array.head_weight.flatten())
        if array.head_bias is not None:
            parts.append(array.head_bias)
    parts.append(torch.tensor([net.head_scale]))
    return torch.cat([p.detach().float().flatten() for p in parts]).tolist()
