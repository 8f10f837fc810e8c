"""Long-range dependency tasks: the adding problem and the copy (memory) task, and a small trainer.

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
import time
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError
from rnnlab.inspect.cells import make_layer

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


def train_run(
    config: RunConfig, stop_when_solved: bool = True, model: SequenceModel | None = None
) -> RunResult:
    """Train one model on fresh batches for `config.steps` Adam steps; evaluate on a fixed test set.

    Pass `model` to continue training an existing model (else a fresh one is built from the seed).
    """
    torch.manual_seed(config.seed)
    if model is None:
        model = SequenceModel(config.task, config.cell, config.hidden_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    train_gen = torch.Generator().manual_seed(config.seed)
    test_inputs, test_targets = _batch(
        config, config.eval_size, torch.Generator().manual_seed(10_000 + config.seed)
    )
    start = time.perf_counter()
    metric, max_norm, diverged, step = float("nan"), 0.0, False, 0
    for step in range(1, config.steps + 1):
        inputs, targets = _batch(config, config.batch_size, train_gen)
        loss = _loss(config, model(inputs), targets)
        if not torch.isfinite(loss):
            diverged = True
            break
        optimizer.zero_grad()
        loss.backward()
        # clip_grad_norm_ with max_norm=inf only measures the norm.
        limit = config.clip_norm if config.clip_norm is not None else float("inf")
        norm = float(nn.utils.clip_grad_norm_(model.parameters(), limit))
        max_norm = max(max_norm, norm) if math.isfinite(norm) else float("inf")
        optimizer.step()
        if step % config.eval_every == 0 or step == config.steps:
            metric = evaluate(model, config, test_inputs, test_targets)
            if stop_when_solved and is_solved(config.task, metric):
                break
    if diverged:
        metric = float("nan")
    elif step % config.eval_every != 0 and step != config.steps:
        metric = evaluate(model, config, test_inputs, test_targets)
    return RunResult(
        config=config,
        metric=metric,
        solved=not diverged and is_solved(config.task, metric),
        steps_taken=step,
        seconds=time.perf_counter() - start,
        max_grad_norm=max_norm,
        diverged=diverged,
        model=model,
    )
