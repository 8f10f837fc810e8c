"""Exact resume: a run killed with SIGKILL and resumed from last/ logs the same loss at every step."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from trainer_tiny_task import train

from rnnlab.train import load_checkpoint, read_metrics

SCRIPT = Path(__file__).with_name("trainer_tiny_task.py")
KEYS = ("event", "step", "epoch", "loss", "ppl", "lr", "noise", "grad_norm", "tokens", "improved", "best")


@pytest.fixture
def one_thread():
    # the killed run uses one thread too: same kernels, same float summation order
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def trajectory(output_dir: Path) -> list[tuple]:
    return [tuple(record.get(key) for key in KEYS) for record in read_metrics(output_dir / "metrics.jsonl")]


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path, one_thread):
    full, killed = tmp_path / "full", tmp_path / "killed"
    # make_config(): 4 batches per epoch, 4 epochs, eval every 5 steps, last/ saved every 3 steps.
    # The killed run dies when its 9th step begins: last/ is from step 6 (mid-epoch 1, carried hidden state)
    # and metrics.jsonl already has steps 7-8, which the resumed run must redo, not duplicate.
    victim = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(killed), "--kill-at-step", "9"], stderr=subprocess.PIPE
    )
    summary = train(str(full))  # the uninterrupted reference, meanwhile, in this process
    assert victim.wait(timeout=120) == -signal.SIGKILL, victim.stderr.read().decode()
    assert load_checkpoint(killed / "last").trainer_state["step"] == 6
    assert max(record["step"] for record in read_metrics(killed / "metrics.jsonl")) == 8

    resumed_summary = train(str(killed), resume=True)

    expected, got = trajectory(full), trajectory(killed)
    assert len(expected) == 16 + 4  # one train record per step, one eval every 5 steps
    assert got == expected  # bitwise equal losses, lrs, dropout-RNG draws and grad norms
    final_full = load_checkpoint(full / "last")
    final_killed = load_checkpoint(killed / "last")
    for name, tensor in final_full.state_dict.items():
        assert torch.equal(tensor, final_killed.state_dict[name]), name
    assert final_killed.trainer_state["step"] == 16
    assert resumed_summary["best_value"] == summary["best_value"]
    assert resumed_summary["best_step"] == summary["best_step"]


@pytest.mark.parametrize(
    "crash_at, checkpoint_step, position",
    [
        (6, 5, (1, 1)),  # last/ written by the evaluation at step 5, one batch into epoch 1
        (13, 12, (2, 4)),  # last/ written by save_every after the final batch of epoch 2, before the epoch ends
    ],
)
def test_crash_then_resume_at_epoch_positions(tmp_path, one_thread, crash_at, checkpoint_step, position):
    full, crashed = tmp_path / "full", tmp_path / "crashed"
    train(str(full))
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(str(crashed), crash_at_step=crash_at)
    state = load_checkpoint(crashed / "last").trainer_state
    assert state["step"] == checkpoint_step and (state["epoch"], state["batch_index"]) == position
    train(str(crashed), resume=True)
    assert trajectory(crashed) == trajectory(full)
