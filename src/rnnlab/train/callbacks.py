"""Trainer callbacks: hooks into `Trainer.fit` so tasks and `rnnlab inspect` never write their own loop.

A callback is any object with some of these methods (subclass `Callback` for no-op defaults):

- `on_step(trainer, info: StepInfo)`: after every optimizer step (loss, lr, gradient norm, ...)
- `on_evaluation(trainer, info: EvalInfo)`: after every evaluation (the metrics, whether they improved)
- `on_checkpoint(trainer, path: Path, kind: str)`: after `best/` or `last/` was written (kind "best"/"last")
- `on_train_end(trainer, summary: dict)`: once, after the final evaluation and checkpoint (not on an error)

A callback may end training early with `trainer.request_stop("reason")`: the Trainer finishes the current
step, then does its final evaluation and checkpoint as at any other stop. Callbacks run in list order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rnnlab.train.trainer import Trainer

__all__ = ["Callback", "EvalInfo", "History", "StepInfo"]


@dataclass
class StepInfo:
    """One optimizer step, as a callback sees it.

    step: optimizer steps done, counting this one (1-based); epoch: the epoch it belongs to (0-based).
    loss: the batch's mean loss (may be NaN/inf when `trainer.on_nonfinite` is "continue").
    lr: the learning rate this step used (param group 0). grad_norm: global gradient norm before clipping.
    elapsed: seconds of training so far, across resumes (what `trainer.max_minutes` is measured against).
    """

    step: int
    epoch: int
    loss: float
    lr: float
    grad_norm: float
    num_tokens: int
    metrics: dict[str, float] = field(default_factory=dict)
    elapsed: float = 0.0


@dataclass
class EvalInfo:
    """One evaluation: the metrics `task.evaluate()` returned, at `step`; `improved`: a new best."""

    step: int
    epoch: int
    metrics: dict[str, float]
    improved: bool
    elapsed: float = 0.0


class Callback:
    """No-op base class; override what you need."""

    def on_step(self, trainer: Trainer, info: StepInfo) -> None:
        pass

    def on_evaluation(self, trainer: Trainer, info: EvalInfo) -> None:
        pass

    def on_checkpoint(self, trainer: Trainer, path: Path, kind: str) -> None:
        pass

    def on_train_end(self, trainer: Trainer, summary: dict[str, Any]) -> None:
        pass


class History(Callback):
    """Keeps everything it is told: `steps` (StepInfo), `evaluations` (EvalInfo), `checkpoints`, `summary`."""

    def __init__(self) -> None:
        self.steps: list[StepInfo] = []
        self.evaluations: list[EvalInfo] = []
        self.checkpoints: list[tuple[str, Path]] = []
        self.summary: dict[str, Any] | None = None

    def on_step(self, trainer: Trainer, info: StepInfo) -> None:
        self.steps.append(info)

    def on_evaluation(self, trainer: Trainer, info: EvalInfo) -> None:
        self.evaluations.append(info)

    def on_checkpoint(self, trainer: Trainer, path: Path, kind: str) -> None:
        self.checkpoints.append((kind, path))

    def on_train_end(self, trainer: Trainer, summary: dict[str, Any]) -> None:
        self.summary = summary

    @property
    def losses(self) -> list[float]:
        return [info.loss for info in self.steps]

    @property
    def grad_norms(self) -> list[float]:
        return [info.grad_norm for info in self.steps]

    @property
    def lrs(self) -> list[float]:
        return [info.lr for info in self.steps]
