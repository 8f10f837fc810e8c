"""`TrainerConfig`: the settings of the training loop, the `trainer:` section of every task's config."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from rnnlab.config import require
from rnnlab.validation import MAX_SEED

__all__ = ["TrainerConfig"]


@dataclass
class TrainerConfig:
    """Settings of the training loop (a nested `trainer:` section in task configs)."""

    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.0  # sgd only
    betas: tuple[float, float] = (0.9, 0.999)  # adam / adamw
    schedule: Literal["none", "plateau", "cosine"] = "none"
    plateau_factor: float = 0.5  # lr *= factor when the metric stalls ...
    plateau_patience: int = 0  # ... for more than this many evaluations
    warmup_steps: int = 0  # linear warmup from lr/warmup_steps to lr
    min_lr: float = 0.0
    max_steps: int | None = None  # stop after this many optimizer steps (None = no limit)
    max_epochs: int | None = 10  # stop after this many epochs (None = no limit)
    max_minutes: float | None = None  # wall-clock budget; also drives the lr schedule (None = no limit)
    clip_grad_norm: float | None = None  # clip the global gradient norm to this (None = off)
    eval_every: int = 0  # evaluate every N steps; 0 = at the end of every epoch
    log_every: int = 50  # write a "train" record (mean loss over the interval) every N steps
    save_every: int = 0  # also write last/ every N steps (0 = only at evaluations and at the end)
    early_stopping_patience: int | None = None  # stop after N evaluations without improvement
    metric: str = "loss"  # evaluate() key that decides best/ , plateau and early stopping
    mode: Literal["min", "max"] = "min"
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # bf16 autocast on CUDA only; auto = bf16 there
    save_best: bool = True  # keep best/ (weights + config + task files, no optimizer state)
    save_last: bool = True  # keep last/ (everything needed to resume)
    progress: bool = True  # tqdm progress bar on stderr
    plot: bool = True  # rewrite loss_curve.png at every evaluation
    # a NaN/inf loss, gradient or validation metric: "raise" TrainingDiverged (nothing more written, the last
    # good checkpoint kept), "stop" (final evaluation and checkpoint of the last finite weights), "continue"
    on_nonfinite: Literal["raise", "stop", "continue"] = "raise"
    # start a fresh run from the weights of this model or run directory (a run's best/, else last/; name
    # RUN/last for the last one): a new optimizer, schedule and step count, e.g. to go on at a lower lr.
    # Its task files (vocabulary, normalisation, ...) must equal this run's, so each weight meets the same
    # token or unit it was trained on. A part of this model the source lacks (a head added since) keeps its
    # initial weights; a weight of the source this model lacks is an error. Ignored on --resume.
    init_from: str | None = None

    def __post_init__(self) -> None:
        # No upper bound on lr: too large a rate is found by training (a divergence stop, one error line
        # after the run's banner). weight_decay above 1 is no regulariser (AdamW multiplies each weight by
        # 1 - lr * weight_decay every step; 1e308 overflowed in the first step).
        require(self.lr > 0 and math.isfinite(self.lr), "lr", "a finite value > 0", self.lr)
        require(0 <= self.weight_decay <= 1, "weight_decay", "a value in [0, 1]", self.weight_decay)
        require(0 <= self.momentum < 1, "momentum", "a value in [0, 1)", self.momentum)
        # adam and adamw have no momentum setting (betas are theirs): a momentum there would be ignored
        require(self.momentum == 0 or self.optimizer == "sgd", "momentum", "0 unless optimizer is sgd (adam and "
                "adamw use betas)", {"optimizer": self.optimizer, "momentum": self.momentum})  # fmt: skip
        require(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), "betas", "two values in [0, 1)",
                self.betas)  # fmt: skip
        require(0 < self.plateau_factor < 1, "plateau_factor", "a value in (0, 1)", self.plateau_factor)
        for name in ("plateau_patience", "warmup_steps", "eval_every", "save_every"):
            require(getattr(self, name) >= 0, name, ">= 0", getattr(self, name))
        require(self.min_lr >= 0, "min_lr", ">= 0", self.min_lr)
        require(0 <= self.seed <= MAX_SEED, "seed", f"an integer in [0, {MAX_SEED}] (2**63 - 1)", self.seed)
        require(self.log_every > 0, "log_every", "> 0", self.log_every)
        for name in ("max_steps", "max_epochs", "clip_grad_norm", "early_stopping_patience"):
            value = getattr(self, name)
            require(value is None or value > 0, name, "> 0 or null", value)
        require(self.max_minutes is None or (math.isfinite(self.max_minutes) and self.max_minutes > 0),
                "max_minutes", "a finite number of minutes > 0, or null", self.max_minutes)  # fmt: skip
        require(self.max_steps is not None or self.max_epochs is not None or self.max_minutes is not None,
                "max_steps", "a limit: set max_steps, max_epochs or max_minutes (whichever comes first)",
                self.max_steps)  # fmt: skip
        require(self.init_from is None or self.init_from.strip() != "", "init_from",
                "a model or run directory, or null", self.init_from)  # fmt: skip
        self.betas = (float(self.betas[0]), float(self.betas[1]))
