"""What a task gives the Trainer: batches, a training step, an evaluation, and what to checkpoint.

A task is any object with the methods of `TrainTask` (subclassing it is optional; it only supplies the
defaults of the optional methods). The Trainer owns the loop, the optimizer and the checkpoints; the task
owns the model's data and the meaning of a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["StepOutput", "TrainTask", "as_step_output"]


@dataclass
class StepOutput:
    """What `train_step` returns.

    loss: scalar tensor, the mean loss of the batch (per token for language models), still attached to the graph.
    num_tokens: how many tokens/items the mean was taken over (weights the logged average; drives tokens/s).
    metrics: extra per-batch numbers to average and log (e.g. {"accuracy": 0.9}).
    """

    loss: torch.Tensor
    num_tokens: int = 1
    metrics: dict[str, float] = field(default_factory=dict)


class TrainTask:
    """The protocol the Trainer calls, with defaults for the optional parts.

    Required:
        train_batches(epoch) -> a sequence (len + __getitem__) of batches; its order must be a pure function of
            (seed, epoch) so a resumed run sees the same batches (see `rnnlab.train.batches.shuffled_indices`).
        train_step(batch) -> StepOutput (or a `(loss, num_tokens)` tuple); do the forward pass and return the
            mean loss; the Trainer does backward, clipping and the optimizer step. Move the batch to the
            model's device here (`rnnlab.train.batches.move_to`).
        evaluate() -> dict[str, float] of validation metrics, e.g. {"loss": 4.1, "ppl": 60.3}; the Trainer
            calls it under `torch.no_grad()` with the model in eval mode.
        checkpoint_config() -> dict written as config.json; must contain "task" (see rnnlab.tasks.registry).

    Optional:
        checkpoint_files() -> {file name: bytes | str} saved next to the weights (vocab.json, ...).
        state_dict() / load_state_dict(state): task-side training state that must survive a resume, e.g. the
            hidden state carried across truncated-BPTT batches (tensors, numbers, lists, dicts).
        on_epoch_start(epoch): called before the first batch of each epoch (not when resuming mid-epoch).
        loss_metric: "ppl" (show exp(loss)), "bpc" (show loss / ln 2) or None, for the progress bar and log.
    """

    loss_metric: str | None = None

    def train_batches(self, epoch: int) -> Sequence[Any]:
        raise NotImplementedError

    def train_step(self, batch: Any) -> StepOutput:
        raise NotImplementedError

    def evaluate(self) -> dict[str, float]:
        raise NotImplementedError

    def checkpoint_config(self) -> dict[str, Any]:
        raise NotImplementedError

    def checkpoint_files(self) -> dict[str, bytes | str]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def on_epoch_start(self, epoch: int) -> None:
        pass


def as_step_output(result: Any) -> StepOutput:
    """Accept a StepOutput, a `(loss, num_tokens[, metrics])` tuple, or a bare scalar loss tensor."""
    if isinstance(result, StepOutput):
        output = result
    elif isinstance(result, torch.Tensor):
        output = StepOutput(loss=result)
    elif isinstance(result, (tuple, list)) and 1 <= len(result) <= 3:
        output = StepOutput(*result)
    else:
        raise TypeError(f"train_step must return a StepOutput or (loss, num_tokens); got {type(result).__name__}")
    if not isinstance(output.loss, torch.Tensor) or output.loss.dim() != 0:
        raise TypeError("train_step: loss must be a scalar tensor (the mean loss of the batch)")
    output.num_tokens = int(output.num_tokens)
    return output
