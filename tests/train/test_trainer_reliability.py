"""Nothing lost when training goes wrong: divergence stops with the last good checkpoint kept, metrics.jsonl
stays strict JSON, SIGINT/SIGTERM write last/ and resume exactly, checkpoint files get the usual mode."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from trainer_tiny_task import NaNLossAt, TinyLM, TinyTask, make_config

from rnnlab.cli import main
from rnnlab.data.tang import tang_splits
from rnnlab.errors import TrainingDiverged, TrainingInterrupted, UserError
from rnnlab.train import Callback, Trainer, load_checkpoint, read_metrics, save_checkpoint
from rnnlab.train.metrics import MetricsLog


def strict_records(path: Path) -> list[dict]:
    """Every line of a metrics.jsonl, parsed by a reader that rejects NaN/Infinity like strict JSON does."""

    def reject(constant):
        raise AssertionError(f"non-standard JSON constant {constant} in {path}")

    return [json.loads(line, parse_constant=reject) for line in path.read_text().splitlines()]


class NaNGradientAt(NaNLossAt):
    """A finite loss whose gradient is NaN: d sqrt(u)/du at u = 0 is inf, times 0."""

    def train_step(self, model, batch):
        output = TinyTask.train_step(self, model, batch)
        if self.steps_seen >= self.at:
            output.loss = output.loss + torch.sqrt(self.model.out.bias[0] * 0.0)
        return output


class OverflowingEval(TinyTask):
    def evaluate(self):
        return {"loss": 1e6, "ppl": math.exp(1e6)}  # what an LM's evaluate does with an exploded loss


def _fit(task, run: Path, **overrides):
    torch.manual_seed(0)
    return Trainer(task, task.model, make_config(**overrides), run).fit()


def _weights_finite(directory: Path) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in load_checkpoint(directory).state_dict.values())


def test_nonfinite_loss_raises_one_line_and_keeps_the_last_good_checkpoint(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match=r"loss is nan at step 8 .*kept the last good checkpoint .*last \(step 6\)"):
        _fit(NaNLossAt(TinyLM(), 8), run, save_every=3, eval_every=5)
    assert isinstance(TrainingDiverged("x"), UserError)  # the CLI prints it as one line, exit status 2
    last = load_checkpoint(run / "last")
    assert last.trainer_state["step"] == 6 and _weights_finite(run / "last") and _weights_finite(run / "best")
    records = strict_records(run / "metrics.jsonl")
    assert records[-1]["event"] == "diverged" and records[-1]["step"] == 7
    assert "loss is nan" in records[-1]["reason"]


def test_nonfinite_gradient_is_caught_before_the_optimizer_step(tmp_path):
    model = TinyLM()
    with pytest.raises(TrainingDiverged, match="gradient norm is nan at step 2"):
        _fit(NaNGradientAt(model, 2), tmp_path / "run", clip_grad_norm=None)
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())  # the NaN never reached the weights
    with pytest.raises(TrainingDiverged, match="gradient norm is nan at step 3"):
        _fit(NaNGradientAt(TinyLM(), 3), tmp_path / "clipped", clip_grad_norm=1.0)


def test_an_overflowing_or_nonfinite_evaluation_is_a_divergence_and_writes_no_checkpoint(tmp_path):
    with pytest.raises(TrainingDiverged, match="evaluation at step 5 overflowed"):
        _fit(OverflowingEval(TinyLM()), tmp_path / "a", save_every=0)
    assert not (tmp_path / "a" / "best").exists() and not (tmp_path / "a" / "last").exists()

    class InfEval(TinyTask):
        def evaluate(self):
            return {"loss": float("inf")}

    with pytest.raises(TrainingDiverged, match="validation loss is inf at step 5"):
        _fit(InfEval(TinyLM()), tmp_path / "b", save_every=0)
    assert not (tmp_path / "b" / "best").exists()


def test_stop_mode_never_writes_nonfinite_weights(tmp_path):
    class Poison(Callback):  # the weights themselves turn inf after step 4 (last/ was written at step 3)
        def on_step(self, trainer, info):
            if info.step == 4:
                with torch.no_grad():
                    trainer.model.out.bias.fill_(float("inf"))

    model = TinyLM()
    run = tmp_path / "run"
    config = make_config(on_nonfinite="stop", eval_every=0, save_every=3)
    summary = Trainer(TinyTask(model), model, config, run, callbacks=[Poison()]).fit()
    assert summary["stop_reason"] == "nonfinite_loss" and summary["steps"] == 4
    assert load_checkpoint(run / "last").trainer_state["step"] == 3 and _weights_finite(run / "last")
    strict_records(run / "metrics.jsonl")


def test_metrics_log_writes_strict_json(tmp_path):
    log = MetricsLog(tmp_path / "metrics.jsonl")
    log.write({"event": "train", "step": 1, "loss": float("nan"), "ppl": float("inf"), "x": [float("-inf"), 1.0]})
    log.close()
    (record,) = strict_records(tmp_path / "metrics.jsonl")
    assert record == {"event": "train", "step": 1, "loss": None, "ppl": None, "x": [None, 1.0]}
    assert log.records == [record] and read_metrics(tmp_path / "metrics.jsonl") == [record]


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_checkpoint_files_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        save_checkpoint(tmp_path / "c", config={"task": "tiny"}, model=TinyLM(), trainer_state={"t": torch.ones(2)})
    finally:
        os.umask(old)
    files = [p for p in (tmp_path / "c").rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"model.safetensors", "tensors.safetensors", "config.json", "manifest.json"}
    assert {p.name: p.stat().st_mode & 0o777 for p in files} == {p.name: mode for p in files}


def test_sigterm_writes_last_and_resume_continues_the_same_trajectory(tmp_path):
    previous = signal.getsignal(signal.SIGTERM)

    class Terminate(Callback):
        def on_step(self, trainer, info):
            if info.step == 6:  # mid-epoch, between checkpoints (save_every=5, eval_every=8)
                os.kill(os.getpid(), signal.SIGTERM)

    def run(directory, callbacks=(), resume=False):
        torch.manual_seed(0)
        model = TinyLM()
        config = make_config(save_every=5, eval_every=8)
        return Trainer(TinyTask(model, seed=7), model, config, directory, callbacks=list(callbacks)).fit(resume=resume)

    run(tmp_path / "full")
    with pytest.raises(TrainingInterrupted, match=r"interrupted \(SIGTERM\) at step 6; saved .*last") as stop:
        run(tmp_path / "cut", [Terminate()])
    assert stop.value.signal == signal.SIGTERM and stop.value.step == 6
    assert signal.getsignal(signal.SIGTERM) is previous  # handlers restored after fit
    assert load_checkpoint(tmp_path / "cut" / "last").trainer_state["step"] == 6
    summary = run(tmp_path / "cut", resume=True)
    assert summary["steps"] == 16

    def losses(directory):
        return {r["step"]: r["loss"] for r in strict_records(directory / "metrics.jsonl") if r["event"] == "train"}

    assert losses(tmp_path / "cut") == losses(tmp_path / "full")


# ------------------------------------------------------------------------------------------------ CLI
@pytest.fixture(scope="module")
def poems(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "poems.txt"
    path.write_text("\n".join(tang_splits()["train"].splitlines()[:200]) + "\n", encoding="utf-8")
    return path


def tiny_lm(poems: Path, out: Path, *more: str) -> list[str]:
    return ["train", "lm", "--data.corpus", str(poems), "--output_dir", str(out), "--model.embedding_size", "8",
            "--model.hidden_size", "16", "--model.num_layers", "1", "--batch_size", "2", "--bptt", "8",
            "--trainer.progress", "false", "--trainer.plot", "false", "--trainer.log_every", "1", *more]  # fmt: skip


@pytest.mark.parametrize("lr", [["--trainer.optimizer", "sgd", "--trainer.lr", "1e9"], ["--trainer.lr", "inf"]])
def test_cli_divergence_is_one_line_and_exit_2(poems, tmp_path, capsys, lr):
    out = tmp_path / "run"
    args = tiny_lm(poems, out, "--trainer.max_steps", "40", "--trainer.max_epochs", "null", "--trainer.eval_every", "4",
                   *lr)  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("rnnlab: error: ") and "Traceback" not in "\n".join(err)
    assert ("diverged" in err[-1] and "trainer.lr" in err[-1]) or "trainer.lr: expected a finite number" in err[-1]
    if (out / "metrics.jsonl").exists():
        strict_records(out / "metrics.jsonl")
    assert not (out / "best").exists()  # nothing exploded was saved


def test_cli_sigint_saves_last_and_says_how_to_resume(poems, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = tiny_lm(poems, out, "--trainer.max_steps", "100000", "--trainer.max_epochs", "null")
    process = subprocess.Popen([sys.executable, "-m", "rnnlab.cli", *args], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and not read_metrics(out / "metrics.jsonl"):
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 130
    err = process.stderr.read()
    assert "Traceback" not in err
    last_line = err.strip().splitlines()[-1]
    hint = f"to continue: rnnlab train {out / 'run.yaml'} --resume"
    assert last_line.startswith("rnnlab: training interrupted (SIGINT) at step ") and last_line.endswith(hint)
    step = load_checkpoint(out / "last").trainer_state["step"]
    assert step >= 1
    # the hint works; only the step limit changes (a setting a resumed run may change)
    resumed = subprocess.run([sys.executable, "-m", "rnnlab.cli", "train", str(out / "run.yaml"), "--resume",
                              "--trainer.max_steps", str(step + 2)], env=env, capture_output=True, text=True,
                             timeout=120)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert load_checkpoint(out / "last").trainer_state["step"] == step + 2
    steps = [r["step"] for r in strict_records(out / "metrics.jsonl") if r["event"] == "train"]
    assert steps == list(range(1, step + 3))
