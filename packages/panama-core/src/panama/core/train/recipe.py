"""How to train: one pydantic model shared by the CLI, the NAM-style configs and samplers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Recipe(BaseModel):
    """Training hyper-parameters (defaults follow NAM: Adam 4e-3, decay 0.993 per epoch, MSE).

    ``steps`` bounds the run in optimiser steps; ``epochs`` (if set) in passes over the data,
    where one epoch is as many random segments as fit into all labelled audio. ``trainer`` is
    passed to ``pytorch_lightning.Trainer`` as is (``accelerator``, ``devices``, ``strategy``,
    ``num_nodes``, ``precision`` …) and overrides the engine's own choices.
    """

    model_config = ConfigDict(extra="forbid")

    steps: int | None = Field(default=1000, ge=1)
    epochs: int | None = Field(default=None, ge=1)
    steps_per_epoch: int | None = Field(default=None, ge=1)
    batch_size: int = Field(default=16, ge=1)
    segment_length: int = Field(default=8192, ge=1, description="output samples per segment")
    lr: float = Field(default=4e-3, gt=0)
    lr_decay: float = Field(default=0.993, gt=0, le=1, description="ExponentialLR gamma per epoch")
    lr_schedule: Literal["exponential", "cosine"] = Field(
        default="exponential", description="exponential: lr_decay per epoch (NAM); cosine: warm-up, then a cosine per step")
    warmup_steps: int = Field(default=0, ge=0)
    lr_final_fraction: float = Field(default=0.02, ge=0, le=1, description="cosine: the last step's share of lr")
    grad_clip: float | None = Field(default=None, gt=0, description="clip the gradient norm (per ensemble, summed)")
    loss: Literal["mse", "esr", "mrstft"] = "mse"
    level_weight: float = Field(
        default=0.0, ge=0, le=1,
        description="mse: weigh each setting's error by its output energy to the power -level_weight "
                    "(0: plain MSE, loud settings rule; 1: per-setting ESR, quiet settings rule)")
    segment_weight: float = Field(
        default=0.0, ge=0, le=1,
        description="also weigh each training segment by its setting's energy over its own, to this power "
                    "(0: every part of a recording by its setting's weight; 1: each segment as its own ESR, "
                    "so a quiet passage counts as much as a loud sweep)")
    average: int = Field(
        default=1, ge=1, le=16,
        description="a final model that is the mean of this many nets trained apart (own seeds and segments); "
                    "exported as one wider net")
    knob_noise: float = Field(
        default=0.0, ge=0, le=0.5,
        description="standard deviation of Gaussian noise added to each training segment's knobs (unit scale): "
                    "a smoothness prior between the labelled settings")
    mrstft_weight: float = Field(default=2e-4, ge=0)
    pre_emphasis: float = Field(default=0.85, ge=0, lt=1)
    seed: int = 0
    val_fraction: float = Field(default=0.2, ge=0, lt=1, description="share of settings held out")
    val_every: int = Field(default=100, ge=1, description="validate every N steps")
    val_seconds: float | None = Field(default=None, gt=0, description="cap on validation audio")
    num_threads: int | None = Field(default=None, ge=1)
    checkpoint_seconds: float = Field(
        default=10.0, ge=0, description="save a resumable checkpoint of an ensemble fit this often (0: every step)"
    )
    trainer: dict[str, Any] = Field(default_factory=dict)
    # NAM model.json's optimiser/schedule/loss options (see panama.core.train.optim)
    optimizer: dict[str, Any] = Field(default_factory=dict, description="more Adam options: betas, eps, weight_decay, amsgrad")
    lr_scheduler: dict[str, Any] | None = Field(default=None, description="{class, kwargs, interval}; None: ExponentialLR(lr_decay) per epoch")
    val_loss: Literal["mse", "esr"] | None = Field(default=None, description="validation metric that picks the best weights (None: esr for the esr loss, else mse)")
    mask_first: int = Field(default=0, ge=0, description="output samples of each segment left out of the loss")
    pin_memory: bool = Field(default=False, description="page-locked batches (faster copies to a GPU)")
