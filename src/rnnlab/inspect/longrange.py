"""Long-range dependency tasks: the adding problem and the copy (memory) task, trained with the Trainer.

Both follow their standard forms (Hochreiter & Schmidhuber 1997, section 5.4; Arjovsky, Shah & Bengio
2016, "Unitary evolution RNNs", section 4.1-4.2):

* adding problem, length T: input (T, 2); channel 0 holds values uniform in [0, 1], channel 1 is a
  marker that is 1 at exactly two steps, one drawn uniformly from the first half [0, T/2) and one from
  the second half [T/2, T). The target is the sum of the two marked values, read at the last step.
  Predicting the constant 1 gives MSE = Var(u1 + u2) = 2/12 = 0.1667: the baseline to beat.
* copy task, delay T: an alphabet of 10 symbols, 0 = blank, 1..8 = data, 9 = delimiter. The input is
  `copy_length` data symbols, then T-1 blanks, the delimiter, and `copy_length` blanks (length
  T + 2*copy_length); the target is blanks for T + copy_length steps, then the data symbols. A model
  that outputs blanks and then guesses gets cross-entropy copy_length*ln(8)/(T + 2*copy_length) and
  per-symbol accuracy 1/8 on the recalled part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError
from rnnlab.inspect.cells import make_layer
from rnnlab.inspect.training import train_in_memory
from rnnlab.train import Callback, DrawnBatches, EvalInfo, StepOutput, TrainTask

TASKS = ("adding", "copy")
ADDING_BASELINE_MSE = 1.0 / 6.0
COPY_BLANK, COPY_DELIMITER, COPY_NUM_DATA, COPY_VOCAB = 0, 9, 8, 10


def adding_batch(
    batch_size: int, length: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Adding problem examples: inputs (N, T, 2), targets (N, 1)."""
    if length < 2:
        raise ConfigError(f"adding problem needs length >= 2, got {length}")
    values = torch.rand(batch_size, length, generator=generator)
    half = length // 2
    first = torch.randint(0, half, (batch_size,), generator=generator)
    second = torch.randint(half, length, (batch_size,), generator=generator)
    markers = torch.zeros(batch_size, length)
    rows = torch.arange(batch_size)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = (values * markers).sum(dim=1, keepdim=True)
    return torch.stack([values, markers], dim=2), targets


def copy_batch(
    batch_size: int, delay: int, copy_length: int = 10, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Copy task examples: inputs (N, T + 2*copy_length) symbol ids, targets of the same shape."""
    if delay < 1 or copy_length < 1:
        raise ConfigError(f"copy task needs delay >= 1 and copy_length >= 1, got {delay} and {copy_length}")
    total = delay + 2 * copy_length
    data = torch.randint(1, COPY_NUM_DATA + 1, (batch_size, copy_length), generator=generator)
    inputs = torch.full((batch_size, total), COPY_BLANK, dtype=torch.long)
    inputs[:, :copy_length] = data
    inputs[:, copy_length + delay - 1] = COPY_DELIMITER
    targets = torch.full((batch_size, total), COPY_BLANK, dtype=torch.long)
    targets[:, -copy_length:] = data
    return inputs, targets


def copy_baseline_loss(delay: int, copy_length: int = 10) -> float:
    """Cross-entropy (nats per step) of the memoryless strategy: blanks, then uniform data guesses."""
    return copy_length * math.log(COPY_NUM_DATA) / (delay + 2 * copy_length)


class SequenceModel(nn.Module):
    """A recurrent layer plus a linear read-out, for both tasks.

    adding: input (N, T, 2) -> prediction (N, 1) from the last step.
    copy:   input (N, T') symbol ids -> logits (N, T', 10) at every step (one-hot input).
    """

    def __init__(self, task: str, cell: str, hidden_size: int) -> None:
        super().__init__()
        if task not in TASKS:
            raise ConfigError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
        self.task = task
        input_size = 2 if task == "adding" else COPY_VOCAB
        output_size = 1 if task == "adding" else COPY_VOCAB
        self.rnn = make_layer(cell, input_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, inputs: Tensor) -> Tensor:
        if self.task == "copy":
            inputs = nn.functional.one_hot(inputs, COPY_VOCAB).float()
        output, _ = self.rnn(inputs)
        return self.head(output[:, -1] if self.task == "adding" else output)


@dataclass
class RunConfig:
    task: str = "adding"
    cell: str = "lstm"
    length: int = 50  # adding: sequence length T; copy: delay T
    hidden_size: int = 32
    steps: int = 600
    batch_size: int = 32
    learning_rate: float = 1e-2
    clip_norm: float | None = 1.0  # None: no gradient clipping
    copy_length: int = 10
    seed: int = 0
    eval_every: int = 100
    eval_size: int = 512


@dataclass
class RunResult:
    config: RunConfig
    metric: float  # adding: test MSE; copy: per-symbol accuracy on the recalled part
    solved: bool
    steps_taken: int
    seconds: float
    max_grad_norm: float
    diverged: bool  # the loss became NaN/inf
    model: SequenceModel | None = None  # the trained model (not part of the benchmark record)


def _batch(config: RunConfig, size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    if config.task == "adding":
        return adding_batch(size, config.length, generator)
    return copy_batch(size, config.length, config.copy_length, generator)


def _loss(config: RunConfig, output: Tensor, targets: Tensor) -> Tensor:
    if config.task == "adding":
        return nn.functional.mse_loss(output, targets)
    return nn.functional.cross_entropy(output.reshape(-1, COPY_VOCAB), targets.reshape(-1))


@torch.no_grad()
def evaluate(model: SequenceModel, config: RunConfig, inputs: Tensor, targets: Tensor) -> float:
    """adding: MSE; copy: accuracy over the last `copy_length` (recalled) positions."""
    output = model(inputs)
    if config.task == "adding":
        return float(nn.functional.mse_loss(output, targets))
    recalled = output[:, -config.copy_length :].argmax(-1)
    return float((recalled == targets[:, -config.copy_length :]).float().mean())


def is_solved(task: str, metric: float) -> bool:
    """adding: test MSE < 0.01 (baseline 0.167); copy: per-symbol accuracy >= 99%."""
    return metric < 0.01 if task == "adding" else metric >= 0.99


def metric_name(task: str) -> str:
    """The evaluation metric of a task: "mse" (adding, lower is better) or "accuracy" (copy)."""
    return "mse" if task == "adding" else "accuracy"


class LongRangeTask(TrainTask):
    """Fresh batches every step (one epoch of `config.steps` draws from a generator seeded with the seed);
    evaluation on a fixed test set of `config.eval_size` examples."""

    def __init__(self, model: SequenceModel, config: RunConfig) -> None:
        self.model, self.config = model, config
        self.test = _batch(config, config.eval_size, torch.Generator().manual_seed(10_000 + config.seed))

    def train_batches(self, epoch: int) -> DrawnBatches:
        config = self.config
        return DrawnBatches(lambda g: _batch(config, config.batch_size, g), config.steps, config.seed + epoch)

    def train_step(self, model: nn.Module, batch: tuple[Tensor, Tensor]) -> StepOutput:
        inputs, targets = batch
        return StepOutput(_loss(self.config, model(inputs), targets), num_tokens=len(inputs))

    def evaluate(self) -> dict[str, float]:
        return {metric_name(self.config.task): evaluate(self.model, self.config, *self.test)}


class StopWhenSolved(Callback):
    def __init__(self, task: str) -> None:
        self.task = task

    def on_evaluation(self, trainer, info: EvalInfo) -> None:
        if is_solved(self.task, info.metrics[metric_name(self.task)]):
            trainer.request_stop("solved")


def train_run(
    config: RunConfig, stop_when_solved: bool = True, model: SequenceModel | None = None
) -> RunResult:
    """Train one model on fresh batches for `config.steps` Adam steps; evaluate on a fixed test set.

    Pass `model` to continue training an existing model (else a fresh one is built from the seed). The
    run goes through the shared Trainer (in memory); a NaN/inf loss ends it as diverged, before that
    batch is trained on.
    """
    torch.manual_seed(config.seed)
    if model is None:
        model = SequenceModel(config.task, config.cell, config.hidden_size)
    summary, history = train_in_memory(
        LongRangeTask(model, config),
        model,
        [StopWhenSolved(config.task)] if stop_when_solved else [],
        optimizer="adam",
        lr=config.learning_rate,
        clip_grad_norm=config.clip_norm,
        max_steps=config.steps,
        eval_every=config.eval_every,
        log_every=max(config.steps, 1),
        metric=metric_name(config.task),
        mode="min" if config.task == "adding" else "max",
        seed=config.seed,
        on_nonfinite="stop",
    )
    diverged = summary["stop_reason"] == "nonfinite_loss"
    metric = float("nan") if diverged else summary["last_eval"][metric_name(config.task)]
    norms = history.grad_norms
    return RunResult(
        config=config,
        metric=metric,
        solved=not diverged and is_solved(config.task, metric),
        # the step that diverged counts as taken (it was attempted), as in the benchmark's tables
        steps_taken=summary["steps"] + int(diverged),
        seconds=summary["wall_time"],
        max_grad_norm=max((n if math.isfinite(n) else math.inf for n in norms), default=0.0),
        diverged=diverged,
        model=model,
    )
