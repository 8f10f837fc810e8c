"""What a task gives the Trainer: batches, a training step, an evaluation, and what to checkpoint.

A task is any object with the methods of `TrainTask` (subclassing it is optional; it only supplies the
defaults of the optional methods). The Trainer owns the loop, the optimizer, the device and the
checkpoints; the task owns the model's data and the meaning of a batch. A registered task's `build(config)`
returns a `TrainSetup` (the task, the model, what to do after fitting), from which
`rnnlab.train.run.train_task` builds the Trainer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["StepOutput", "TrainSetup", "TrainTask", "as_step_output"]


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
        train_step(model, batch) -> StepOutput (or a `(loss, num_tokens)` tuple); do the forward pass with
            `model` and return the mean loss; the Trainer does backward, clipping and the optimizer step.
            `model` is the module the Trainer holds: the task's own model, or a wrapper around it (DDP,
            torch.compile, a test's spy), so call it rather than a model the task keeps. The batch arrives on
            the Trainer's device: the Trainer moves every tensor inside it (`rnnlab.train.batches.move_to`:
            tensors in tuples, lists, namedtuples and dicts; anything else, e.g. strings, as it is), so a
            batch the task wants on the GPU is made of tensors (encode in `train_batches`, e.g. with
            `EpochBatches(..., make=encode)`).
        evaluate() -> dict[str, float] of validation metrics, e.g. {"loss": 4.1, "ppl": 60.3}; the Trainer
            calls it under `torch.no_grad()` with the model in eval mode. It may use the task's own model
            (the wrapped module shares its weights) and moves what it reads to that model's device itself.
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

    def train_step(self, model: torch.nn.Module, batch: Any) -> StepOutput:
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


@dataclass
class TrainSetup:
    """What a trainable task's `build(config)` returns: everything `rnnlab.train.run.train_task` needs to
    construct the one Trainer of a run, `Trainer(task, model, config.trainer, output_dir)`.

    The contract of a task module (see docs/training.md, "Tasks"):

        def build(config) -> TrainSetup:          # registered as TaskDescriptor(build=build, ...)
            ...                                    # read data, build vocabularies, seed, make the model
            return TrainSetup(task=MyTask(config, model, ...), model=model, banner="...", finish=None)

    `build` constructs no Trainer and trains nothing; it must be deterministic for a config (a resumed run
    calls it again and must get the same vocabulary and model shape). `config.trainer` (a TrainerConfig)
    and `config.output_dir` are read by train_task.

    task: the TrainTask the Trainer calls (its `train_step(model, batch)` gets the Trainer's model).
    model: the torch module to train; the Trainer moves it to its device and may wrap it.
    banner: a line printed to stderr before training (corpus, vocabulary, parameters), or None.
    finish: called after `fit` with the Trainer's summary; returns the summary to report, e.g. with the
        test metrics of the best checkpoint added (the LM task's "test"). None: the summary as it is.
    """

    task: TrainTask
    model: torch.nn.Module
    finish: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    banner: str | None = None


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
