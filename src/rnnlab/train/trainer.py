"""The generic training loop every task reuses: `Trainer(task, model, config, output_dir).fit()`.

The task supplies batches, a forward pass returning the mean loss, an evaluation and what to store in a
checkpoint (see `rnnlab.train.task.TrainTask`); the Trainer does everything else: moving each batch to its
device, calling `task.train_step(model, batch)` with the model it holds (which may be a wrapper of the
task's own module), optimizer and lr schedule, gradient clipping, bf16 autocast on CUDA, a tqdm progress
bar (loss, ppl/bpc, tokens/s, ETA), validation every N steps, early stopping, a wall-clock budget
(`max_minutes`, which also drives the lr schedule), callbacks (`rnnlab.train.callbacks`), `best/` and
`last/` checkpoints, `metrics.jsonl`, `loss_curve.png`, and exact resume: a run killed at any moment and resumed from `last/` produces the same
loss at every later step as the uninterrupted run (on CPU; cuDNN kernels may be nondeterministic).

A registered task does not construct its Trainer: its module's `build(config)` returns a
`rnnlab.train.TrainSetup`, and `rnnlab.train.run.train_task` (what `rnnlab train` calls) builds the one
Trainer around it. Used directly, as here, the Trainer needs only a task and a model.

Example (a tiny character LSTM language model)::

    import math

    import torch
    from rnnlab.train import EpochBatches, StepOutput, Trainer, TrainerConfig, TrainTask, shuffled_indices

    class CharLM(torch.nn.Module):
        def __init__(self, vocab_size: int, hidden: int = 64):
            super().__init__()
            self.embed = torch.nn.Embedding(vocab_size, hidden)
            self.lstm = torch.nn.LSTM(hidden, hidden, batch_first=True)
            self.out = torch.nn.Linear(hidden, vocab_size)

        def forward(self, x):                       # x: (N, L) token ids -> logits (N, L, V)
            return self.out(self.lstm(self.embed(x))[0])

    class CharLMTask(TrainTask):
        loss_metric = "ppl"                         # progress bar and log show exp(loss)

        def __init__(self, model, train_ids, valid_ids, seq_len=32, batch_size=8, seed=0):
            self.model, self.seed = model, seed
            rows = train_ids[: len(train_ids) // (seq_len + 1) * (seq_len + 1)].view(-1, seq_len + 1)
            self.batches = [rows[i : i + batch_size] for i in range(0, len(rows), batch_size)]
            self.valid = valid_ids

        def train_batches(self, epoch):              # same order for the same (seed, epoch)
            return EpochBatches(self.batches, shuffled_indices(len(self.batches), self.seed, epoch))

        def train_step(self, model, batch):           # the Trainer's model; batch already on its device
            logits = model(batch[:, :-1])
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())
            return StepOutput(loss, num_tokens=batch[:, 1:].numel())

        def evaluate(self):                          # what evaluate reads, it moves itself
            valid = self.valid.to(next(self.model.parameters()).device)
            loss = torch.nn.functional.cross_entropy(self.model(valid[None, :-1])[0], valid[1:]).item()
            return {"loss": loss, "ppl": math.exp(loss)}

        def checkpoint_config(self):
            return {"task": "lm", "vocab_size": self.model.out.out_features}

    ids = torch.randint(0, 100, (5000,))          # stand-in for an encoded corpus
    model = CharLM(vocab_size=100)
    task = CharLMTask(model, train_ids=ids[:4500], valid_ids=ids[4500:])
    summary = Trainer(task, model, TrainerConfig(max_epochs=3, eval_every=100), "runs/char").fit()
    # later, after a crash:  Trainer(task, model, config, "runs/char").fit(resume=True)
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import torch

from rnnlab.config import config_to_dict
from rnnlab.errors import CheckpointError, ConfigError, TrainingDiverged, TrainingInterrupted
from rnnlab.train import distributed
from rnnlab.train.batches import move_to
from rnnlab.train.callbacks import Callback, EvalInfo, StepInfo
from rnnlab.train.checkpoint import (
    file_bytes,
    load_checkpoint,
    load_model_dir,
    load_model_weights,
    save_checkpoint,
)
from rnnlab.train.config import TrainerConfig
from rnnlab.train.device import autocast, resolve_device, resolve_precision
from rnnlab.train.metrics import MetricsLog, derived_metrics, plot_loss_curve
from rnnlab.train.optim import LRSchedule, build_optimizer, is_improvement
from rnnlab.train.rng import MAX_SEED, get_rng_state, set_rng_state, set_seed
from rnnlab.train.task import TrainTask, as_step_output

# TrainerConfig, resolve_device and set_seed live in rnnlab.train.config / .device / .rng; still importable here
__all__ = ["Trainer", "TrainerConfig", "resolve_device", "set_seed"]

_STATE_VERSION = 1
logger = logging.getLogger(__name__)


# -------------------------------------------------------------------------------------------- trainer
class Trainer:
    """Trains `model` on `task` with `config`, writing checkpoints and logs under `output_dir`.

    Files under output_dir: last/ and best/ (checkpoint directories, see rnnlab.train.checkpoint),
    metrics.jsonl, loss_curve.png. `fit(resume=True)` continues from last/ exactly.

    Every step moves the batch to `self.device` (`rnnlab.train.batches.move_to`: the tensors inside tuples,
    lists and dicts; anything else as it is) and calls `task.train_step(self.model, batch)`: the task runs the
    forward pass on the model the Trainer holds, so a wrapper set as `trainer.model` is not bypassed.

    output_dir=None trains in memory: no file is written (no checkpoints, log or plot; the records stay in
    `trainer.log.records`), and the task needs no `checkpoint_config`. Callbacks (see
    `rnnlab.train.callbacks`) see every step, evaluation and checkpoint. `clock` (seconds, monotonic;
    default `time.perf_counter`) measures the wall time that `max_minutes` budgets: tests pass a fake one.

    Reliability: a non-finite loss or gradient is caught before the optimizer step and a non-finite weight
    is never written to a checkpoint (`on_nonfinite`; `TrainingDiverged` by default); SIGINT/SIGTERM during
    `fit` (handle_signals, main thread, output_dir set) end training after the current step, write last/
    and raise `TrainingInterrupted` (a KeyboardInterrupt); a second Ctrl-C quits at once without saving.
    `handle_signals="finish"` instead ends such a run like any other stop (final evaluation, best/ and last/,
    `summary()["stop_reason"] == "interrupted"`): for a caller that reports on what was trained (the demo).

    Under torchrun (`rnnlab.train.distributed.init` called first; docs/distributed.md) the model is wrapped
    in DistributedDataParallel, each rank trains on its slice of every global batch with its gradient
    weighted by its share of the tokens (N processes take the same steps as one), rank 0 alone writes
    files and evaluates (the metrics are sent to all ranks), stop decisions are agreed after every step,
    and last/ holds every rank's RNG and task state.
    """

    def __init__(
        self,
        task: TrainTask,
        model: torch.nn.Module,
        config: TrainerConfig | None = None,
        output_dir: str | Path | None = "runs/default",
        *,
        callbacks: Sequence[Callback] = (),
        clock: Callable[[], float] | None = None,
        handle_signals: bool | Literal["finish"] = True,
    ) -> None:
        if handle_signals not in (True, False, "finish"):
            raise ValueError(f"Trainer: handle_signals must be True, False or 'finish', got {handle_signals!r}")
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"Trainer: model must be a torch.nn.Module, got {type(model).__name__}")
        self.task = task
        self.model = model
        self.config = config if config is not None else TrainerConfig()
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self.callbacks = list(callbacks)
        self.clock = clock if clock is not None else time.perf_counter
        # SIGINT/SIGTERM during fit() stop training after the current step and write last/ (runs with files,
        # in the main thread); see _deferred_signals
        self.handle_signals = handle_signals
        # data-parallel under torchrun (rnnlab.train.distributed): rank 0 alone writes files and evaluates
        self.rank, self.world = distributed.rank(), distributed.world_size()
        self.distributed = distributed.is_distributed()
        self.device = resolve_device(self.config.device)
        if self.distributed and self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", distributed.local_rank())  # one GPU per process of a node
        self.precision = resolve_precision(self.config.precision, self.device, stacklevel=2)
        self.model.to(self.device)
        if self.distributed:
            # gradients averaged across ranks in backward; find_unused_parameters: a task may leave some
            # parameters out of a step (attention penalty off, a tree without some node kinds)
            self.model = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device] if self.device.type == "cuda" else None,
                find_unused_parameters=True, **_no_buffer_sync(),
            )  # fmt: skip
        out = self.output_dir
        self.metrics_path = out / "metrics.jsonl" if out is not None else None
        self.plot_path = out / "loss_curve.png" if out is not None else None
        self.last_dir = out / "last" if out is not None else None
        self.best_dir = out / "best" if out is not None else None
        self.optimizer: torch.optim.Optimizer | None = None
        self.schedule: LRSchedule | None = None
        self._reset_progress()

    # ------------------------------------------------------------------------------------- setup
    def _autocast(self) -> contextlib.AbstractContextManager:
        return autocast(self.precision)

    def _reset_progress(self) -> None:
        self.step = 0  # optimizer steps done
        self.epoch = 0  # current epoch (0-based)
        self.batch_index = 0  # next batch of the current epoch
        self.best_value: float | None = None
        self.best_step: int | None = None
        self.bad_evals = 0
        self.early_stopped = False
        self.last_eval: dict[str, float] | None = None
        self.last_eval_step: int | None = None
        self.wall_offset = 0.0  # wall time of the run before this process (resume)
        self.stop_reason: str | None = None  # why training ended (see summary())
        self._stop_requested: str | None = None
        self._interrupted: int | None = None  # the signal (SIGINT/SIGTERM) that asked training to stop
        self._saved_step: int | None = None  # step of the last write of last/
        self._agreed_cause: str | None = None  # under DDP: the stop cause all ranks agreed on (see _done)
        self._agreed_signal: int | None = None
        self._acc = self._empty_accumulator()

    def _empty_accumulator(self) -> dict[str, Any]:
        return {"loss_sum": 0.0, "tokens": 0, "steps": 0, "metrics": {}}

    def _steps_per_epoch(self) -> int:
        if not hasattr(self, "_epoch_len"):
            self._epoch_len = len(self.task.train_batches(0))
            if self._epoch_len == 0:
                raise ConfigError("task.train_batches(0) is empty: no training data")
        return self._epoch_len

    def total_steps(self) -> int | None:
        """Planned optimizer steps of the whole run (epochs assumed equally long); None: only a time budget."""
        candidates = []
        if self.config.max_steps is not None:
            candidates.append(self.config.max_steps)
        if self.config.max_epochs is not None:
            candidates.append(self.config.max_epochs * self._steps_per_epoch())
        return min(candidates) if candidates else None

    def elapsed(self) -> float:
        """Seconds of training so far, across resumes: steps, evaluations and checkpoint writes all count."""
        return self._wall_time()

    def budget_fraction(self) -> float | None:
        """The fraction of the run done, in [0, 1], for a run with `max_minutes` (else None).

        The larger of the budget's spent fraction and the step fraction (when max_steps/max_epochs also
        bound the run): the run ends when either reaches 1, so the lr schedule ends with it.
        """
        if self.config.max_minutes is None:
            return None
        fraction = self.elapsed() / (60.0 * self.config.max_minutes)
        total = self.total_steps()
        if total:
            fraction = max(fraction, self.step / total)
        return min(1.0, max(0.0, fraction))

    def request_stop(self, reason: str = "callback") -> None:
        """End training after the current step (then the final evaluation and checkpoint); for callbacks."""
        self._stop_requested = reason

    def _build_optimizer(self) -> None:
        cfg = self.config
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = build_optimizer(params, cfg.optimizer, cfg.lr, cfg.weight_decay, cfg.momentum, cfg.betas)
        self.schedule = LRSchedule(
            self.optimizer,
            cfg.schedule,
            warmup_steps=cfg.warmup_steps,
            total_steps=self.total_steps() if cfg.schedule == "cosine" else None,
            min_lr=cfg.min_lr,
            factor=cfg.plateau_factor,
            patience=cfg.plateau_patience,
            mode=cfg.mode,
            timed=cfg.max_minutes is not None,
        )

    def _resume_path(self, resume: bool | str | Path) -> Path | None:
        if resume is False or resume is None:
            return None
        if resume is True and self.output_dir is None:
            raise ValueError("Trainer(output_dir=None) writes no checkpoint: resume=True has nothing to read")
        if resume is True:
            if not self.last_dir.exists() and not (self.output_dir / ".last.old").exists():
                self._say(f"no checkpoint in {self.last_dir}; starting a fresh run")
                return None
            return self.last_dir
        path = Path(resume)
        if not path.exists():
            raise CheckpointError(f"{path}: no checkpoint to resume from")
        return path

    # ---------------------------------------------------------------------------------------- fit
    def fit(self, resume: bool | str | Path = False) -> dict[str, Any]:
        """Train until max_steps / max_epochs / max_minutes / early stopping; returns a summary dict.

        resume: False = fresh run (overwrites the logs in output_dir); True = continue from output_dir/last
        if it exists (else fresh); a path = continue from that checkpoint directory.
        """
        cfg = self.config
        if self.output_dir is not None:
            self.output_dir.mkdir(parents=True, exist_ok=True)
        self._reset_progress()
        set_seed((cfg.seed + self.rank) % (MAX_SEED + 1))  # rank 0 as one process; other ranks own dropout
        self._build_optimizer()
        pending_rng = None
        checkpoint_path = self._resume_path(resume)
        if checkpoint_path is not None:
            pending_rng = self._restore(checkpoint_path)
        elif cfg.init_from is not None:
            self._init_weights(cfg.init_from)
        if self.metrics_path is None or self.rank != 0:
            self.log = _MemoryLog()
        else:
            self.log = MetricsLog(self.metrics_path, resume_step=self.step if checkpoint_path is not None else None)
        self._start_time = self.clock()
        self._interval_start = self._start_time
        self._interval_tokens = 0
        self._bar = self._make_bar()
        try:
            with self._deferred_signals(), self._peer_errors():
                self._loop(pending_rng)
                if self.distributed:  # one more agreement: a signal may have come to one rank since the last
                    self._done()
                    self.stop_reason = self._agreed_cause or "max_epochs"
                    self._interrupted = self._agreed_signal
                else:
                    self.stop_reason = self._stop_cause() or "max_epochs"
                if self.stop_reason == "interrupted" and self._interrupted is not None and self.handle_signals != "finish":
                    self._stop_interrupted()
                if self.stop_reason == "max_minutes":
                    self._say(f"time budget of {cfg.max_minutes:g} min spent at step {self.step}; final evaluation")
                if self.stop_reason == "nonfinite_loss" and not self._weights_finite():
                    self._say("the weights are not finite: no final evaluation; the last good checkpoint is kept")
                elif self.last_eval_step != self.step:
                    self._evaluate_and_save()
                elif cfg.save_last and self._saved_step != self.step:
                    self._save_last()
        finally:
            self._bar.close()
            self.log.close()
        if self.distributed:  # rank 0's last files are written before any rank reads them
            distributed.barrier()
        summary = self.summary()
        self._emit("on_train_end", summary)
        return summary

    # ------------------------------------------------------------------- interruption, divergence
    @contextlib.contextmanager
    def _deferred_signals(self):
        """While training, SIGINT/SIGTERM only ask to stop after the current step (then last/ is written).

        A second SIGINT raises KeyboardInterrupt at once (quit without saving). Handlers are installed only
        for a run with files, in the main thread (Python delivers signals there), and restored afterwards.
        """
        if not self.handle_signals or self.output_dir is None or threading.current_thread() is not threading.main_thread():
            yield
            return
        wanted = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
        previous = {number: signal.getsignal(number) for number in wanted}

        def handler(number, frame):
            if self._interrupted is not None:  # asked twice: leave now; last/ holds the previous save
                signal.signal(signal.SIGINT, signal.default_int_handler)
                raise KeyboardInterrupt
            self._interrupted = number
            saving = "evaluating and saving best/ and last/" if self.handle_signals == "finish" else f"saving {self.last_dir}"
            print(f"\n{signal.Signals(number).name}: stopping after this step and {saving} "
                  "(Ctrl-C again to quit without saving)", file=sys.stderr, flush=True)  # fmt: skip

        try:
            for number in wanted:
                signal.signal(number, handler)
        except ValueError:  # not the main interpreter: leave the handlers as they were
            for number, old in previous.items():
                with contextlib.suppress(ValueError, TypeError):
                    signal.signal(number, old if old is not None else signal.SIG_DFL)
            yield
            return
        try:
            yield
        finally:
            for number, old in previous.items():
                signal.signal(number, old if old is not None else signal.SIG_DFL)

    def _stop_interrupted(self) -> None:
        """Write last/ at the step boundary reached and raise TrainingInterrupted (no final evaluation)."""
        number = self._interrupted
        saved = None
        if self.config.save_last and self.last_dir is not None:
            if self._saved_step != self.step or not self.last_dir.exists():
                self._save_last()  # skipped (and _saved_step kept) if the weights are not finite
            if self._saved_step == self.step:
                saved = str(self.last_dir)
        if saved is None:
            why = "trainer.save_last is false" if not self.config.save_last else "the weights are not finite"
        raise TrainingInterrupted(
            f"training interrupted ({signal.Signals(number).name}) at step {self.step}"
            + (f"; saved {saved}" if saved else f"; nothing saved ({why})"),
            signal=number, step=self.step, checkpoint=saved,
        )  # fmt: skip

    def _nonfinite(self, what: str) -> bool:
        """A non-finite loss/gradient/metric (`what`) at the coming step: stop or raise per on_nonfinite.

        Returns False for on_nonfinite="stop" (training ends; the bad step was not taken); raises
        TrainingDiverged for "raise" after logging a `diverged` record. "continue" never gets here.
        """
        where = f"step {self.step + 1} (epoch {self.epoch})"
        if self.config.on_nonfinite == "stop":
            self._say(f"{what} at {where}: stopping (trainer.on_nonfinite=stop)")
            self._stop_requested = "nonfinite_loss"
            return False
        self._diverge(f"{what} at {where}")
        return False  # not reached

    def _diverge(self, what: str) -> None:
        self.log.write({"event": "diverged", "step": self.step, "epoch": self.epoch, "reason": what,
                        "wall_time": self._wall_time(), "time": time.time()})  # fmt: skip
        if self.last_dir is not None and self.config.save_last and self.last_dir.exists():
            at = f" (step {self._saved_step})" if self._saved_step is not None else ""
            kept = f"kept the last good checkpoint {self.last_dir}{at}"
        elif self.output_dir is not None:
            kept = "no checkpoint had been written yet"
        else:
            kept = "nothing saved (in-memory run)"
        raise TrainingDiverged(
            f"training diverged: {what}; {kept}; try a lower trainer.lr or set trainer.clip_grad_norm"
        )

    def _weights_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in self.model.parameters() if p.is_floating_point())

    def _emit(self, event: str, *args: Any) -> None:
        for callback in self.callbacks:
            method = getattr(callback, event, None)
            if method is not None:
                method(self, *args)

    def _loop(self, pending_rng: dict[str, Any] | None) -> None:
        cfg = self.config
        while not self._done() and (cfg.max_epochs is None or self.epoch < cfg.max_epochs):
            if self.batch_index == 0 and hasattr(self.task, "on_epoch_start"):
                self.task.on_epoch_start(self.epoch)
            batches = self.task.train_batches(self.epoch)
            if not (hasattr(batches, "__len__") and hasattr(batches, "__getitem__")):
                raise TypeError(
                    f"task.train_batches() returned a {type(batches).__name__}; the Trainer needs a sequence "
                    "(len + indexing) to resume at an exact batch; wrap batches in rnnlab.train.EpochBatches"
                )
            if pending_rng is not None:  # restore after train_batches so the resumed epoch sees the same RNG
                set_rng_state(pending_rng)
                pending_rng = None
            while self.batch_index < len(batches):
                if self.distributed:  # this rank's part of the global batch
                    batch = distributed.shard(self.task, batches, self.batch_index, self.rank, self.world)
                else:
                    batch = batches[self.batch_index]
                if not self._train_step(batch):
                    return  # a non-finite loss with on_nonfinite="stop": this batch was not trained on
                self.batch_index += 1
                step = self.step
                if step % cfg.log_every == 0:
                    self._log_train()
                if cfg.eval_every > 0 and step % cfg.eval_every == 0:
                    self._evaluate_and_save()
                elif cfg.save_every > 0 and step % cfg.save_every == 0 and cfg.save_last:
                    self._save_last()
                if self._done():
                    return
            self.epoch += 1
            self.batch_index = 0
            if cfg.eval_every == 0:
                self._evaluate_and_save()

    def _done(self) -> bool:
        if not self.distributed:
            return self._stop_cause() is not None
        return self._agree_stop() is not None

    def _agree_stop(self) -> str | None:
        """Under DDP: the stop cause of the rank that wants to stop, taken by every rank (one all-reduce);
        the time budget and signals are seen by each rank at its own moment."""
        cfg = self.config
        time_up = cfg.max_minutes is not None and self.elapsed() >= 60.0 * cfg.max_minutes
        nonfinite = self._stop_requested == "nonfinite_loss"
        local = [float(self._interrupted or 0), float(self._stop_requested is not None and not nonfinite),
                 float(nonfinite), float(self.early_stopped), float(time_up)]  # fmt: skip
        signal_number, requested, nonfinite_any, early, timed_out = distributed.any_rank(local)
        cause = None
        if signal_number:
            cause, self._agreed_signal = "interrupted", int(signal_number)
        elif nonfinite_any:
            cause = "nonfinite_loss"
        elif requested:
            cause = self._stop_requested or "callback"
        elif early:
            cause = "early_stopping"
        elif cfg.max_steps is not None and self.step >= cfg.max_steps:
            cause = "max_steps"
        elif timed_out:
            cause = "max_minutes"
        self._agreed_cause = cause
        return cause

    def _stop_cause(self) -> str | None:
        """Why training must stop now (None: it goes on); max_epochs is the loop's own condition."""
        cfg = self.config
        if self._interrupted is not None:
            return "interrupted"
        if self._stop_requested is not None:
            return self._stop_requested
        if self.early_stopped:
            return "early_stopping"
        if cfg.max_steps is not None and self.step >= cfg.max_steps:
            return "max_steps"
        if cfg.max_minutes is not None and self.elapsed() >= 60.0 * cfg.max_minutes:
            return "max_minutes"
        return None

    def _train_step(self, batch: Any) -> bool:
        """One optimizer step; False when a non-finite loss or gradient ended training (on_nonfinite="stop").

        Unless on_nonfinite="continue", the loss and the global gradient norm are checked before the optimizer
        step (read together: one device sync per step, as reading the loss needs anyway), so a NaN/inf never
        reaches the weights: they stay those of the last finite step.
        """
        cfg = self.config
        guard = cfg.on_nonfinite != "continue"
        progress = self.budget_fraction()  # measured before the step, like the step fraction
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        filler = isinstance(batch, distributed.Filler)  # this rank has no part of a short batch
        batch = move_to(batch.batch if filler else batch, self.device)
        with self._autocast():
            output = as_step_output(self.task.train_step(self.model, batch))
        if filler:
            output.num_tokens, output.metrics = 0, {key: 0.0 for key in output.metrics}
        global_loss = None
        if self.distributed:
            global_loss, progress = self._global_step_output(output, progress)
        else:
            output.loss.backward()
        norm_tensor = None
        if cfg.clip_grad_norm is not None:
            norm_tensor = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_grad_norm)
        elif self.callbacks or guard:
            norm_tensor = _grad_norm_tensor(self.model.parameters(), output.loss.device)
        loss = norm = None
        if guard:
            loss_and_norm = torch.stack([output.loss.detach().float(), norm_tensor.detach().float().to(output.loss.device)])
            loss, norm = loss_and_norm.tolist()
            if global_loss is not None:
                loss = global_loss
            if not math.isfinite(loss):
                return self._nonfinite(f"training loss is {loss}")
            if not math.isfinite(norm):
                return self._nonfinite(f"gradient norm is {norm}")
        elif norm_tensor is not None:
            norm = float(norm_tensor)
        if cfg.clip_grad_norm is not None:
            self._acc["grad_norm"] = norm
        self.schedule.step(self.step, progress)
        lr = self.schedule.lr
        self.optimizer.step()
        self.step += 1
        if loss is None:  # on_nonfinite="continue": read after the step
            loss = float(output.loss.detach()) if global_loss is None else global_loss
        acc = self._acc
        acc["loss_sum"] += loss * output.num_tokens
        acc["tokens"] += output.num_tokens
        acc["steps"] += 1
        for key, value in output.metrics.items():
            acc["metrics"][key] = acc["metrics"].get(key, 0.0) + float(value)
        self._interval_tokens += output.num_tokens
        self._bar.update(1)
        if self.callbacks:
            info = StepInfo(
                step=self.step,
                epoch=self.epoch,
                loss=loss,
                lr=lr,
                grad_norm=norm,
                num_tokens=output.num_tokens,
                metrics={key: float(value) for key, value in output.metrics.items()},
                elapsed=self.elapsed(),
            )
            self._emit("on_step", info)
        return True

    def _global_step_output(self, output, progress: float | None) -> tuple[float, float | None]:
        """Under DDP: backward with this rank's loss weighted by its share of the global batch's tokens, and
        the global batch's loss, token count and metrics in `output` (one all-reduce before backward); and
        the ranks' mean budget fraction `progress` (their clocks differ a little; the lr must not).

        DDP averages the ranks' gradients; a rank's mean loss times world * its tokens / all tokens makes
        that average the gradient of the token-weighted mean over the whole batch: what one process
        computes from the whole batch, however unevenly the batch was split.
        """
        keys = sorted(output.metrics)
        local = torch.tensor([float(output.num_tokens), float(output.loss.detach()) * output.num_tokens,
                              float(progress or 0.0), *(float(output.metrics[key]) for key in keys)],
                             dtype=torch.float64)  # fmt: skip
        total = distributed.sum_tensor(local).tolist()
        tokens = max(total[0], 1e-12)
        (output.loss * (self.world * output.num_tokens / tokens)).backward()
        output.num_tokens = int(round(total[0]))
        output.metrics = {key: value / self.world for key, value in zip(keys, total[3:])}
        return total[1] / tokens, (total[2] / self.world if progress is not None else None)

    @contextlib.contextmanager
    def _peer_errors(self):
        """Under DDP: a collective that fails because another rank died (killed, out of memory) or timed out
        becomes one line naming the last checkpoint to resume from."""
        try:
            yield
        except (RuntimeError, ValueError) as error:  # torch.distributed.DistError is a RuntimeError
            if not self.distributed or not _peer_failure(error):
                raise
            saved = (f"; --resume continues from {self.last_dir} (step {self._saved_step})"
                     if self._saved_step is not None and self.last_dir is not None else "; no checkpoint was written")  # fmt: skip
            raise distributed.DistributedError(
                f"rank {self.rank} of {self.world} lost the other processes at step {self.step} "
                f"({distributed._first_line(error).split(' This is typically')[0]}){saved}"
            ) from None

    # ----------------------------------------------------------------------------- logging, eval
    def _wall_time(self) -> float:
        return self.wall_offset + self.clock() - self._start_time

    def _loss_metric(self) -> str | None:
        return getattr(self.task, "loss_metric", None)

    def _log_train(self) -> None:
        acc = self._acc
        if acc["steps"] == 0:
            return
        now = self.clock()
        loss = acc["loss_sum"] / max(acc["tokens"], 1)
        record: dict[str, Any] = {
            "event": "train",
            "step": self.step,
            "epoch": self.epoch,
            "loss": loss,
            **derived_metrics(loss, self._loss_metric()),
            **{key: value / acc["steps"] for key, value in acc["metrics"].items()},
            "lr": self.schedule.lr,
            "tokens": acc["tokens"],
            "tokens_per_s": self._interval_tokens / max(now - self._interval_start, 1e-9),
            "wall_time": self._wall_time(),
            "time": time.time(),
        }
        if "grad_norm" in acc:
            record["grad_norm"] = acc["grad_norm"]
        self.log.write(record)
        postfix = {"loss": f"{loss:.4g}"}
        for key in ("ppl", "bpc"):
            if key in record:
                postfix[key] = f"{record[key]:.4g}"
        postfix["tok/s"] = f"{record['tokens_per_s']:.3g}"
        postfix["lr"] = f"{record['lr']:.2e}"
        if self.config.max_minutes is not None:
            left = max(0.0, 60.0 * self.config.max_minutes - record["wall_time"])
            postfix["left"] = f"{int(left // 60)}:{int(left % 60):02d}"
        self._bar.set_postfix(postfix, refresh=False)
        self._acc = self._empty_accumulator()
        self._interval_start = now
        self._interval_tokens = 0

    def _evaluate_and_save(self) -> None:
        cfg = self.config
        metrics = failure = None
        if self.rank == 0:  # under DDP rank 0 evaluates and sends the metrics: every rank decides alike
            self.model.eval()
            try:
                with torch.no_grad(), self._autocast():
                    metrics = {key: float(value) for key, value in self.task.evaluate().items()}
            except (OverflowError, FloatingPointError) as error:  # e.g. math.exp of an exploded validation loss
                failure = error
            finally:
                self.model.train()
        if self.distributed:
            metrics, failure = distributed.broadcast_object((metrics, failure))
        if failure is not None:
            if cfg.on_nonfinite == "continue":
                raise failure
            self._diverge(f"the evaluation at step {self.step} overflowed ({failure})")
        if cfg.metric not in metrics:
            raise ConfigError(
                f"trainer.metric={cfg.metric!r} is not among the metrics evaluate() returned: {sorted(metrics)}"
            )
        value = metrics[cfg.metric]
        if not math.isfinite(value) and cfg.on_nonfinite == "raise":
            self._diverge(f"validation {cfg.metric} is {value} at step {self.step}")
        self.schedule.on_eval(value)
        improved = is_improvement(value, self.best_value, cfg.mode)
        if improved:
            self.best_value, self.best_step, self.bad_evals = value, self.step, 0
        else:
            self.bad_evals += 1
        if cfg.early_stopping_patience is not None and self.bad_evals >= cfg.early_stopping_patience:
            self.early_stopped = True
        self.last_eval, self.last_eval_step = metrics, self.step
        self.log.write(
            {
                "event": "eval",
                "step": self.step,
                "epoch": self.epoch,
                **metrics,
                "lr": self.schedule.lr,
                "best": self.best_value,
                "improved": improved,
                "wall_time": self._wall_time(),
                "time": time.time(),
            }
        )
        shown = ", ".join(f"{k}={v:.4g}" for k, v in metrics.items())
        self._say(f"step {self.step} epoch {self.epoch}: {shown}{' (best)' if improved else ''}")
        self._emit("on_evaluation", EvalInfo(self.step, self.epoch, dict(metrics), improved, self.elapsed()))
        # best/ before last/: a run killed between the two resumes from the previous last/, redoes this
        # evaluation and writes best/ again; the other order could lose this best/ for good
        if improved and cfg.save_best:
            self._save_best()
        if cfg.save_last:
            self._save_last()
        if self.early_stopped:
            self._say(f"early stopping: no improvement of {cfg.metric} in {self.bad_evals} evaluations")
        if cfg.plot:
            self._plot()

    def _plot(self) -> None:
        if self.plot_path is None or self.rank != 0:
            return
        try:
            plot_loss_curve(self.log.records, self.plot_path, title=f"{self.output_dir.name}: loss")
        except Exception as error:  # a plot must never kill a training run
            warnings.warn(f"could not write {self.plot_path}: {error}", stacklevel=2)

    def _say(self, message: str) -> None:
        if self.rank != 0:  # one voice for the run
            return
        logger.info(message)
        if self.config.progress:
            from tqdm import tqdm

            tqdm.write(message, file=sys.stderr)

    def _make_bar(self):
        from tqdm import tqdm

        return tqdm(
            total=self.total_steps(),  # None (a bare counter) for a run bounded only by max_minutes
            initial=self.step,
            disable=not self.config.progress or self.rank != 0,
            unit="step",
            dynamic_ncols=True,
            file=sys.stderr,
            desc="train",
        )

    # ------------------------------------------------------------------------------ checkpoints
    def trainer_state(self) -> dict[str, Any]:
        """Everything besides the weights that an exact resume needs (under DDP: a collective, every rank calls it)."""
        state = {
            "version": _STATE_VERSION,
            "step": self.step,
            "epoch": self.epoch,
            "batch_index": self.batch_index,
            "best_value": self.best_value,
            "best_step": self.best_step,
            "bad_evals": self.bad_evals,
            "early_stopped": self.early_stopped,
            "last_eval": self.last_eval,
            "last_eval_step": self.last_eval_step,
            "wall_time": self._wall_time(),  # what max_minutes counts: a resumed run continues the budget
            "accumulator": self._acc,
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "rng": get_rng_state(),
            "task": self.task.state_dict() if hasattr(self.task, "state_dict") else {},
            "trainer_config": config_to_dict(self.config),
        }
        if self.distributed:  # each rank's own RNG and task state (a language model's carried hidden state)
            state["ranks"] = distributed.all_gather_objects(_to_cpu({"rng": state["rng"], "task": state["task"]}))
            state["world_size"] = self.world
        return state

    def _save(self, directory: Path, *, with_state: bool) -> bool:
        """Write a checkpoint; never one with NaN/inf weights (False: not written, per on_nonfinite)."""
        if self.config.on_nonfinite != "continue" and not self._weights_finite():
            what = f"the weights are not finite at step {self.step} (not saved over {directory})"
            if self.config.on_nonfinite == "raise":
                self._diverge(what)
            self._say(f"{what}: stopping (trainer.on_nonfinite=stop)")
            self._stop_requested = "nonfinite_loss"
            return False
        trainer_state = self.trainer_state() if with_state else None  # on every rank: it gathers under DDP
        if self.rank != 0:  # rank 0 alone writes
            return True
        files = self._task_files()
        save_checkpoint(
            directory,
            config=self.task.checkpoint_config(),
            model=unwrapped(self.model),  # a DDP / torch.compile wrapper's weights under the model's own names
            extra_files=files,
            trainer_state=trainer_state,
        )
        return True

    def _task_files(self) -> dict[str, bytes | str]:
        """The files the task saves beside the weights (vocab.json, ...); a duck-typed task may have none."""
        return self.task.checkpoint_files() if hasattr(self.task, "checkpoint_files") else {}

    def _save_last(self) -> None:
        if self.last_dir is None:  # in memory: nothing is written
            return
        if not self._save(self.last_dir, with_state=True):
            return
        self._saved_step = self.step
        self._emit("on_checkpoint", self.last_dir, "last")

    def _save_best(self) -> None:
        if self.best_dir is None:
            return
        if not self._save(self.best_dir, with_state=False):
            return
        self._emit("on_checkpoint", self.best_dir, "best")

    def _init_weights(self, path: str) -> None:
        """trainer.init_from: the weights of another model of this task, whose task files equal this run's."""
        try:
            checkpoint = load_model_dir(path, self.task.checkpoint_config().get("task"))
        except CheckpointError as error:
            raise CheckpointError(f"trainer.init_from: {error}") from None
        for name, content in self._task_files().items():
            file = checkpoint.path / name
            if not file.is_file() or file.read_bytes() != file_bytes(content):
                raise CheckpointError(
                    f"trainer.init_from: {checkpoint.path}/{name} differs from this run's {name}: its weights "
                    "were trained on other data settings (vocabulary, normalisation); train with the same "
                    "data settings, or start without init_from")  # fmt: skip
        # a part this model adds (a new head) starts fresh; every weight the source has must fit
        fresh = load_model_weights(unwrapped(self.model), checkpoint, allow_missing=True)
        added = f"; new, not in it: {', '.join(fresh)}" if fresh else ""
        self._say(f"weights from {checkpoint.path} (trainer.init_from){added}")

    def _restore(self, path: Path) -> dict[str, Any]:
        """Load weights and trainer state from `path`; returns the RNG state to apply at loop start."""
        checkpoint = load_checkpoint(path, map_location="cpu")
        state = checkpoint.trainer_state
        if state is None:
            raise CheckpointError(f"{path}: has no trainer_state/ (a best/ or exported model); resume from last/")
        load_model_weights(unwrapped(self.model), checkpoint)
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError, RuntimeError) as error:
            raise CheckpointError(
                f"{path}: cannot restore the optimizer state ({error}); was the model or trainer.optimizer changed?"
            ) from None
        self.schedule.load_state_dict(state["schedule"])
        own = self._rank_state(path, state)
        if hasattr(self.task, "load_state_dict"):
            self.task.load_state_dict(own["task"])
        self.step = int(state["step"])
        self.epoch = int(state["epoch"])
        self.batch_index = int(state["batch_index"])
        self.best_value = state["best_value"]
        self.best_step = state["best_step"]
        self.bad_evals = int(state["bad_evals"])
        self.early_stopped = bool(state["early_stopped"])
        self.last_eval = state["last_eval"]
        self.last_eval_step = state["last_eval_step"]
        self.wall_offset = float(state["wall_time"])
        self._saved_step = self.step
        self._acc = state["accumulator"]
        self._say(f"resuming from {path} at step {self.step} (epoch {self.epoch}, batch {self.batch_index})")
        return own["rng"]

    def _rank_state(self, path: Path, state: dict[str, Any]) -> dict[str, Any]:
        """This rank's RNG and task state from a checkpoint written by one process or by several (ranks).

        The same number of processes: each rank its own. Another number: possible only when the task state
        is one for all (no per-rank carried state), else a CheckpointError naming the number to use.
        """
        ranks = state.get("ranks") or [{"rng": state["rng"], "task": state["task"]}]
        if len(ranks) == self.world:
            return ranks[self.rank]
        if not all(_same(entry["task"], ranks[0]["task"]) for entry in ranks) or (
            self.world > 1 and _has_tensor(ranks[0]["task"])
        ):
            raise CheckpointError(
                f"{path}: written by {len(ranks)} process(es), each with its own task state (e.g. a language "
                f"model's carried hidden state): resume it with {len(ranks)} (rnnlab train ... --nproc "
                f"{len(ranks)}), not {self.world}"
            )
        return {"rng": ranks[min(self.rank, len(ranks) - 1)]["rng"], "task": ranks[0]["task"]}

    def summary(self) -> dict[str, Any]:
        def existing(path: Path | None, keep: bool) -> str | None:
            return str(path) if keep and path is not None and path.exists() else None

        return {
            "steps": self.step,
            "epochs": self.epoch,
            "metric": self.config.metric,
            "best_value": self.best_value,
            "best_step": self.best_step,
            "last_eval": self.last_eval,
            "early_stopped": self.early_stopped,
            "stop_reason": self.stop_reason,
            "output_dir": str(self.output_dir) if self.output_dir is not None else None,
            "best_checkpoint": existing(self.best_dir, self.config.save_best),
            "last_checkpoint": existing(self.last_dir, self.config.save_last),
            "metrics_file": str(self.metrics_path) if self.metrics_path is not None else None,
            "wall_time": self._wall_time(),
        }


class _MemoryLog:
    """The metrics log of an in-memory run (output_dir=None): records in a list, nothing written."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def write(self, record: dict[str, Any]) -> None:
        self.records.append(record)

    def close(self) -> None:
        pass


def _no_buffer_sync() -> dict[str, bool]:
    """DDP's keyword for "do not broadcast rank 0's buffers before every forward" (renamed in torch 2.13)."""
    import inspect

    names = inspect.signature(torch.nn.parallel.DistributedDataParallel.__init__).parameters
    return {"forward_sync_buffers": False} if "forward_sync_buffers" in names else {"broadcast_buffers": False}


def _to_cpu(value: Any) -> Any:
    """`value` with every tensor inside (dicts, lists, tuples) moved to the CPU (to send between ranks)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {key: _to_cpu(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_to_cpu(item) for item in value)
    return value


def _has_tensor(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, dict):
        return any(_has_tensor(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_tensor(item) for item in value)
    return False


def _same(a: Any, b: Any) -> bool:
    """Equal nested states (tensors compared by value)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape and bool(torch.equal(a.cpu(), b.cpu()))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


_PEER_SIGNS = ("connection", "gloo", "nccl", "timed out", "timeout", "broken pipe", "socket", "peer")


def _peer_failure(error: BaseException) -> bool:
    """A collective's error for a rank that died or hangs (not a bug of the task's)."""
    if isinstance(error, getattr(torch.distributed, "DistError", ())):
        return True
    text = str(error).lower()
    return any(sign in text for sign in _PEER_SIGNS)


def _grad_norm_tensor(parameters, device: torch.device) -> torch.Tensor:
    """The global 2-norm of the gradients, as clip_grad_norm_ reports it, without touching them (no sync)."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.zeros((), device=device)
    total_norm = getattr(torch.nn.utils, "get_total_norm", None)  # torch >= 2.6
    if total_norm is not None:
        return total_norm(grads)
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.detach()) for g in grads]))


def unwrapped(model: torch.nn.Module) -> torch.nn.Module:
    """The module a wrapper holds (DistributedDataParallel / DataParallel `.module`, torch.compile's
    `._orig_mod`), so checkpoints keep the model's own parameter names whoever trained it."""
    parallel = (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)
    while True:
        inner = model.module if isinstance(model, parallel) else getattr(model, "_orig_mod", None)
        if not isinstance(inner, torch.nn.Module):
            return model
        model = inner
