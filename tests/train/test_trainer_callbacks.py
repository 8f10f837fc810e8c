"""Callbacks, in-memory runs, on_nonfinite, and the max_minutes budget under an injected clock (no timing)."""

from __future__ import annotations

import math

import pytest
import torch
from trainer_tiny_task import NaNLossAt, TinyLM, TinyTask, make_config

from rnnlab.errors import ConfigError
from rnnlab.train import (
    Callback,
    History,
    LRSchedule,
    Trainer,
    build_optimizer,
    load_checkpoint,
    read_metrics,
)


class FakeClock:
    """Time moves only when the test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class TimedTask(TinyTask):
    """Each training step takes `step_seconds[i]` (cycled) of fake time; each evaluation `eval_seconds`."""

    def __init__(self, model, clock, step_seconds=(10.0,), eval_seconds=0.0, **kwargs):
        super().__init__(model, **kwargs)
        self.clock, self.step_seconds, self.eval_seconds = clock, list(step_seconds), eval_seconds
        self.started: list[float] = []  # fake time at the start of each step

    def train_step(self, model, batch):
        self.started.append(self.clock.now)
        output = super().train_step(model, batch)
        self.clock.now += self.step_seconds[(self.steps_seen - 1) % len(self.step_seconds)]
        return output

    def evaluate(self):
        self.clock.now += self.eval_seconds
        return super().evaluate()


def timed_fit(output_dir, clock, resume=False, callbacks=(), step_seconds=(10.0,), eval_seconds=0.0, crash_at=None, **overrides):
    torch.manual_seed(0)
    model = TinyLM()
    task = TimedTask(model, clock, step_seconds, eval_seconds, seed=7, crash_at_step=crash_at)
    settings = dict(max_epochs=None, max_minutes=1.0, schedule="cosine", min_lr=0.0, eval_every=0)
    settings.update(overrides)
    trainer = Trainer(task, model, make_config(**settings), output_dir, callbacks=list(callbacks), clock=clock)
    return trainer, task, trainer.fit(resume=resume)


def test_callbacks_see_steps_evaluations_checkpoints_and_the_end(tmp_path):
    history = History()
    model = TinyLM()
    trainer = Trainer(TinyTask(model), model, make_config(max_epochs=2, eval_every=3, save_every=0), tmp_path, callbacks=[history])
    summary = trainer.fit()
    assert [info.step for info in history.steps] == list(range(1, 9))
    assert all(math.isfinite(info.loss) and info.grad_norm > 0 and info.num_tokens == 32 for info in history.steps)
    train_records = [r for r in read_metrics(tmp_path / "metrics.jsonl") if r["event"] == "train"]
    assert [r["loss"] for r in train_records] == pytest.approx(history.losses)  # log_every=1
    assert [r["grad_norm"] for r in train_records] == pytest.approx(history.grad_norms)  # pre-clip norm
    assert history.lrs == [r["lr"] for r in train_records]
    assert [e.step for e in history.evaluations] == [3, 6, 8]
    assert set(history.evaluations[0].metrics) == {"loss", "ppl"}
    assert ("last", tmp_path / "last") in history.checkpoints and ("best", tmp_path / "best") in history.checkpoints
    assert history.summary == summary and summary["stop_reason"] == "max_epochs"


def test_a_callback_can_stop_training(tmp_path):
    class StopAt(Callback):
        def on_step(self, trainer, info):
            if info.step == 3:
                trainer.request_stop("enough")

    model = TinyLM()
    summary = Trainer(TinyTask(model), model, make_config(), tmp_path, callbacks=[StopAt()]).fit()
    assert summary["steps"] == 3 and summary["stop_reason"] == "enough"
    assert summary["last_eval"] is not None and load_checkpoint(tmp_path / "last").trainer_state["step"] == 3


def test_in_memory_run_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    class NoCheckpointTask(TinyTask):
        def checkpoint_config(self):
            raise AssertionError("an in-memory run never checkpoints")

    model = TinyLM()
    trainer = Trainer(NoCheckpointTask(model), model, make_config(max_epochs=1, plot=True), None)
    summary = trainer.fit()
    assert list(tmp_path.iterdir()) == []
    assert summary["steps"] == 4 and summary["output_dir"] is None and summary["last_checkpoint"] is None
    assert [r["event"] for r in trainer.log.records].count("eval") == 1
    with pytest.raises(ValueError, match="output_dir=None"):
        trainer.fit(resume=True)


def test_on_nonfinite_stop_and_continue():
    model = TinyLM()
    before = None

    class Snapshot(Callback):
        def on_step(self, trainer, info):
            nonlocal before
            before = {k: v.clone() for k, v in trainer.model.state_dict().items()}

    summary = Trainer(NaNLossAt(model, 3), model, make_config(on_nonfinite="stop"), None, callbacks=[Snapshot()]).fit()
    assert summary["steps"] == 2 and summary["stop_reason"] == "nonfinite_loss"
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # the NaN step was not taken

    model = TinyLM()
    history = History()
    summary = Trainer(NaNLossAt(model, 3), model, make_config(max_epochs=1, on_nonfinite="continue"), None, callbacks=[history]).fit()
    assert summary["steps"] == 4 and [math.isnan(x) for x in history.losses] == [False, False, True, True]


def test_max_minutes_validation():
    with pytest.raises(ConfigError, match="max_minutes: expected a finite number of minutes > 0"):
        make_config(max_minutes=0)
    with pytest.raises(ConfigError, match="max_minutes"):
        make_config(max_minutes=-1.5)
    assert make_config(max_epochs=None, max_steps=None, max_minutes=0.5).max_minutes == 0.5


def test_budget_stops_training_and_counts_evaluations(tmp_path):
    clock = FakeClock()
    # 10 s per step, 1 minute: six steps; the final evaluation comes after the budget
    trainer, task, summary = timed_fit(tmp_path / "a", clock)
    assert summary["steps"] == 6 and summary["stop_reason"] == "max_minutes"
    assert summary["wall_time"] == pytest.approx(60.0) and summary["last_eval"] is not None
    assert load_checkpoint(tmp_path / "a" / "last").trainer_state["step"] == 6
    # evaluations count against the budget: 4 steps per epoch, each epoch-end evaluation takes 20 s
    _, _, summary = timed_fit(tmp_path / "b", FakeClock(), eval_seconds=20.0)
    assert summary["steps"] == 4  # 40 s of steps + 20 s of evaluation
    # whichever comes first: max_steps before the budget, and the budget before max_epochs
    assert timed_fit(tmp_path / "c", FakeClock(), max_steps=3)[2]["stop_reason"] == "max_steps"
    assert timed_fit(tmp_path / "d", FakeClock(), max_epochs=4)[2]["steps"] == 6


def test_cosine_follows_the_elapsed_fraction(tmp_path):
    clock = FakeClock()
    history = History()
    # uneven steps: the lr must follow time spent, not the step count
    trainer, task, summary = timed_fit(tmp_path, clock, callbacks=[history], step_seconds=(2.0, 20.0, 5.0), max_minutes=1.0)
    start = task.started[0]
    expected = [0.01 * 0.5 * (1 + math.cos(math.pi * min(1.0, (t - start) / 60.0))) for t in task.started]
    assert history.lrs == pytest.approx(expected)
    assert summary["steps"] == len(task.started) == 8  # after 7 steps 56 s < 60 s; the 8th crosses the budget


def test_cosine_with_warmup_decays_over_the_rest_of_the_budget():
    optimizer = build_optimizer([torch.nn.Parameter(torch.zeros(1))], "sgd", 1.0)
    schedule = LRSchedule(optimizer, "cosine", warmup_steps=2, min_lr=0.0, timed=True)
    lrs = []
    for step, progress in enumerate([0.0, 0.1, 0.2, 0.6, 1.0]):
        schedule.step(step, progress)
        lrs.append(schedule.lr)
    assert lrs[:2] == pytest.approx([0.5, 1.0])
    assert lrs[2:] == pytest.approx([1.0, 0.5, 0.0])  # decay from progress 0.2 (end of warmup) to 1
    restored = LRSchedule(optimizer, "cosine", warmup_steps=2, timed=True)
    restored.load_state_dict(schedule.state_dict())
    assert restored.decay_start == pytest.approx(0.2)
    with pytest.raises(ValueError, match="run length"):
        LRSchedule(optimizer, "cosine")


def test_resume_continues_the_budget(tmp_path):
    full = History()
    _, _, summary = timed_fit(tmp_path / "full", FakeClock(), callbacks=[full], save_every=1)
    assert summary["steps"] == 6
    with pytest.raises(RuntimeError, match="simulated crash"):
        timed_fit(tmp_path / "crashed", FakeClock(), save_every=1, crash_at=5)
    state = load_checkpoint(tmp_path / "crashed" / "last").trainer_state
    assert state["step"] == 4 and state["wall_time"] == pytest.approx(40.0)
    resumed = History()
    # a new process: its clock reads something else entirely
    _, _, summary = timed_fit(tmp_path / "crashed", FakeClock(now=5.0), resume=True, callbacks=[resumed], save_every=1)
    assert summary["steps"] == 6 and summary["wall_time"] == pytest.approx(60.0)
    assert [i.step for i in resumed.steps] == [5, 6]
    assert resumed.lrs == pytest.approx(full.lrs[4:])  # the schedule continues from 40 s of 60
    assert [i.elapsed for i in resumed.steps] == pytest.approx([50.0, 60.0])
