"""Optimizers and learning-rate schedules for the Trainer.

`LRSchedule` is one small, resumable object for the three schedules, each with optional linear warmup:

- "none":    lr = base_lr (after warmup)
- "cosine":  lr decays from base_lr to min_lr along a half cosine over the steps after warmup
- "plateau": lr is multiplied by `factor` (not below min_lr) when the monitored validation metric has not
             improved for `patience` evaluations (like torch's ReduceLROnPlateau, threshold 0)

Param groups keep their own base lr; the schedule multiplies each by the same factor.

The run's progress that "cosine" follows is the step fraction by default; a caller that trains for a
wall-clock budget passes `progress` (the fraction of the budget spent, in [0, 1]) to `step` instead, and
the decay then runs from the progress at the end of warmup to 1 (`timed=True` lifts the need for
`total_steps`). Warmup always counts steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

__all__ = ["build_optimizer", "LRSchedule", "is_improvement"]


def build_optimizer(
    params: Iterable[torch.nn.Parameter] | Iterable[dict[str, Any]],
    name: str,
    lr: float,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
) -> torch.optim.Optimizer:
    """torch optimizer by name: "adam", "adamw" or "sgd"."""
    params = list(params)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(betas), weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=tuple(betas), weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; expected 'adam', 'adamw' or 'sgd'")


def is_improvement(value: float, best: float | None, mode: str) -> bool:
    """Strictly better than `best` (None = nothing yet) in `mode` ("min" or "max"); NaN/inf never are."""
    if not math.isfinite(value):
        return False
    if best is None:
        return True
    return value < best if mode == "min" else value > best


class LRSchedule:
    """Sets the lr of every param group before each optimizer step (`step`) and after evaluations (`on_eval`).

    total_steps: steps of the whole run (needed by "cosine" unless `timed`; may be None for the others).
    timed: the caller passes `progress` to every `step` call (a wall-clock budget), so "cosine" follows it.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        kind: str = "none",
        *,
        warmup_steps: int = 0,
        total_steps: int | None = None,
        min_lr: float = 0.0,
        factor: float = 0.5,
        patience: int = 0,
        mode: str = "min",
        timed: bool = False,
    ) -> None:
        if kind not in ("none", "cosine", "plateau"):
            raise ValueError(f"unknown schedule {kind!r}; expected 'none', 'cosine' or 'plateau'")
        if kind == "cosine" and not total_steps and not timed:
            raise ValueError("the cosine schedule needs the run length: set max_steps or max_epochs")
        self.optimizer = optimizer
        self.kind = kind
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.min_lr = min_lr
        self.factor = factor
        self.patience = patience
        self.mode = mode
        self.timed = timed
        self.decay_start = 0.0  # progress when warmup ended (timed runs)
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.scale = 1.0  # plateau reductions so far, as a product of factors
        self.best: float | None = None
        self.bad_evals = 0

    def lr_for(self, base_lr: float, step: int, progress: float | None = None) -> float:
        """lr of a group with base lr `base_lr` at optimizer step `step` (0-based).

        progress: the fraction of the run done before this step, in [0, 1] (timed runs); None = use steps.
        """
        floor = min(self.min_lr, base_lr)
        if step < self.warmup_steps:  # linear warmup from base_lr / warmup_steps to base_lr
            return base_lr * self.scale * (step + 1) / self.warmup_steps
        if self.kind == "cosine":
            if progress is None:
                span = max(1, self.total_steps - self.warmup_steps)
                fraction = min(1.0, (step - self.warmup_steps) / span)
            elif self.decay_start >= 1.0:
                fraction = 1.0
            else:
                fraction = min(1.0, max(0.0, (progress - self.decay_start) / (1.0 - self.decay_start)))
            return floor + (base_lr - floor) * 0.5 * (1.0 + math.cos(math.pi * fraction))
        if self.kind == "plateau":
            return max(base_lr * self.scale, floor)
        return base_lr

    def step(self, step: int, progress: float | None = None) -> None:
        """Set each group's lr for optimizer step `step` (0-based). Call before `optimizer.step()`.

        progress: fraction of a wall-clock budget spent before this step (timed runs), else None.
        """
        if progress is not None and step == self.warmup_steps and self.warmup_steps > 0:
            self.decay_start = progress  # the decay spans what is left of the budget after warmup
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.lr_for(base, step, progress)

    def on_eval(self, value: float) -> bool:
        """Feed a validation metric ("plateau" only); returns True if the lr was reduced."""
        if self.kind != "plateau":
            return False
        if is_improvement(value, self.best, self.mode):
            self.best = value
            self.bad_evals = 0
            return False
        self.bad_evals += 1
        if self.bad_evals > self.patience:
            self.bad_evals = 0
            self.scale *= self.factor
            return True
        return False

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def state_dict(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "best": self.best,
            "bad_evals": self.bad_evals,
            "base_lrs": list(self.base_lrs),
            "decay_start": self.decay_start,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scale = float(state["scale"])
        self.best = state["best"]
        self.bad_evals = int(state["bad_evals"])
        self.base_lrs = [float(lr) for lr in state["base_lrs"]]
        self.decay_start = float(state.get("decay_start", 0.0))  # absent in checkpoints before timed runs
