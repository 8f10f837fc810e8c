"""Run directories: the guard (no silent overwrite, no takeover, --resume/--overwrite), the lock (two
processes), resume with changed settings, cleaning up after a failed start, and `rnnlab runs`."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from trainer_tiny_task import TinyLM, TinyTask, make_config

from rnnlab.cli import main
from rnnlab.errors import RunDirectoryError
from rnnlab.train import Trainer
from rnnlab.train.rundir import (
    LOCK_FILE,
    RUN_FILE,
    RunLock,
    changed_settings,
    format_runs,
    guard_run_directory,
    list_runs,
    run_task,
)


def snapshot(directory: Path) -> dict[str, str]:
    """path -> sha256 of every file under `directory` (what must not change when training is refused)."""
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}  # fmt: skip


def fake_run(directory: Path, task: str = "lm", lr: float = 0.001, last: bool = True) -> Path:
    """A run directory as `rnnlab train` leaves it (without real weights: the guard reads only names/configs)."""
    (directory / "best").mkdir(parents=True)
    (directory / "best" / "config.json").write_text(json.dumps({"task": task}))
    if last:
        (directory / "last").mkdir()
    (directory / "metrics.jsonl").write_text('{"event": "train", "step": 1, "loss": 2.0}\n')
    (directory / RUN_FILE).write_text(f"task: {task}\ntrainer:\n  lr: {lr}\n  max_steps: 10\noutput_dir: {directory}\n")
    return directory


def settings(lr: float = 0.001, max_steps: int = 10, output_dir: str = "x") -> dict:
    return {"trainer": {"lr": lr, "max_steps": max_steps}, "output_dir": output_dir}


# ------------------------------------------------------------------------------------------------ guard
def test_a_fresh_directory_is_locked_and_records_the_run(tmp_path):
    out = tmp_path / "new" / "run"
    with guard_run_directory(out, "lm", settings=settings()) as directory:
        assert directory == out and (out / LOCK_FILE).read_text().strip() == str(os.getpid())
        with pytest.raises(RunDirectoryError, match=f"being trained by process {os.getpid()}"):
            RunLock(out).acquire()  # flock locks are per open file: a second open in one process conflicts too
        (out / "metrics.jsonl").write_text("")
    assert run_task(out) == "lm" and "lr: 0.001" in (out / RUN_FILE).read_text()
    RunLock(out).acquire().release()  # released on exit


def test_a_run_is_never_replaced_without_a_flag(tmp_path):
    run = fake_run(tmp_path / "run")
    before = snapshot(run)
    with pytest.raises(RunDirectoryError) as refused:
        with guard_run_directory(run, "lm", settings=settings()):
            pytest.fail("must not get here")
    message = str(refused.value)
    assert str(run) in message and "--resume" in message and "--overwrite" in message
    assert snapshot(run) == before and not (run / LOCK_FILE).exists()  # a refusal touches nothing


def test_overwrite_moves_the_old_run_aside_whole(tmp_path):
    run = fake_run(tmp_path / "run")
    before = snapshot(run)
    with guard_run_directory(run, "lm", overwrite=True, settings=settings()):
        (run / "metrics.jsonl").write_text("")
    (moved,) = tmp_path.glob("run.old-*")
    assert snapshot(moved) == before and sorted(p.name for p in run.iterdir()) == [LOCK_FILE, "metrics.jsonl", RUN_FILE]


def test_a_failed_start_leaves_everything_as_it_was(tmp_path):
    fresh = tmp_path / "a" / "b"
    with pytest.raises(ValueError, match="bad corpus"), guard_run_directory(fresh, "lm", settings=settings()):
        raise ValueError("bad corpus")
    assert not (tmp_path / "a").exists()  # created for the run, removed again: nothing of a run was written

    run = fake_run(tmp_path / "run")
    before = snapshot(run)
    with pytest.raises(ValueError), guard_run_directory(run, "lm", overwrite=True, settings=settings()):
        raise ValueError("bad corpus")
    assert snapshot(run) == before and not list(tmp_path.glob("run.old-*"))  # the old run moved back


def test_resume_needs_last_the_same_task_and_the_same_settings(tmp_path):
    with pytest.raises(RunDirectoryError, match="has no last/ checkpoint"):
        with guard_run_directory(fake_run(tmp_path / "nolast", last=False), "lm", resume=True):
            pass
    with pytest.raises(RunDirectoryError, match="has no last/ checkpoint"):
        with guard_run_directory(tmp_path / "missing", "lm", resume=True):
            pass
    assert not (tmp_path / "missing").exists()
    run = fake_run(tmp_path / "run")
    with pytest.raises(RunDirectoryError, match="holds a 'lm' run, not a 'tagger' one"):
        with guard_run_directory(run, "tagger", resume=True):
            pass
    with pytest.raises(RunDirectoryError, match=r"other settings \(trainer.lr 0.001 -> 0.5\)"):
        with guard_run_directory(run, "lm", resume=True, settings=settings(lr=0.5)):
            pass
    with guard_run_directory(run, "lm", resume=True, settings=settings(max_steps=20, output_dir="elsewhere")):
        pass  # a longer run (and a moved directory) is fine, and recorded
    assert "max_steps: 20" in (run / RUN_FILE).read_text()
    with pytest.raises(RunDirectoryError, match="give one"):
        with guard_run_directory(run, "lm", resume=True, overwrite=True):
            pass
    with pytest.raises(RunDirectoryError, match="trains in one pass"):
        with guard_run_directory(run, "ngram", resume=True, resumable=False):
            pass


def test_changed_settings_ignores_safe_and_unknown_keys():
    saved = {"trainer.lr": 0.001, "trainer.betas": [0.9, 0.999], "trainer.max_epochs": 3, "model.cell": "lstm"}
    new = {"trainer": {"lr": 0.001, "betas": (0.9, 0.99), "max_epochs": 9, "new_key": 1}, "model": {"cell": "gru"}}
    assert changed_settings(saved, new) == [("trainer.betas", [0.9, 0.999], [0.9, 0.99]), ("model.cell", "lstm", "gru")]


# ------------------------------------------------------------------------------------------------- lock
HOLDER = """
import sys
from rnnlab.train.rundir import RunLock
lock = RunLock(sys.argv[1]).acquire()
print("locked", flush=True)
sys.stdin.read()
"""


def _holder(directory: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(directory)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip
    assert process.stdout.readline().strip() == "locked"
    return process


def test_a_second_training_on_a_locked_directory_is_refused_naming_the_pid(tmp_path, capsys):
    out = tmp_path / "run"
    holder = _holder(out)
    try:
        with pytest.raises(RunDirectoryError, match=f"being trained by process {holder.pid} "):
            RunLock(out).acquire()
        before = snapshot(out)
        assert main(["train", "ngram", "--from_arpa", str(tmp_path / "x.arpa"), "--output_dir", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"process {holder.pid}" in err and err.count("\n") == 1 and snapshot(out) == before
    finally:
        holder.send_signal(signal.SIGKILL)  # the OS releases the lock of a killed process
        holder.wait()
    RunLock(out).acquire().release()


# --------------------------------------------------------------------------------------------- CLI + ngram
@pytest.fixture()
def corpus(tmp_path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text("the cat sat\nthe dog sat\na cat ran\n" * 5, encoding="utf-8")
    return path


def test_cli_guard_for_a_task_that_does_not_use_the_trainer(tmp_path, corpus, capsys):
    out = tmp_path / "ng"
    train = ["train", "ngram", str(corpus), "--order", "2", "--smoothing", "wb", "--output_dir", str(out)]
    assert main(train) == 0 and (out / "best" / "model.npz").exists() and run_task(out) == "ngram"
    before = snapshot(out)
    assert main(train) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(out) in err and "--overwrite" in err and snapshot(out) == before
    assert main([*train, "--resume"]) == 2 and "trains in one pass" in capsys.readouterr().err
    assert main([*train, "--overwrite"]) == 0
    assert len(list(tmp_path.glob("ng.old-*"))) == 1

    lm_run = fake_run(tmp_path / "lm")  # an n-gram model never lands in another task's run
    before = snapshot(lm_run)
    assert main([*train[:-1], str(lm_run)]) == 2
    err = capsys.readouterr().err
    assert "holds a 'lm' run; training 'ngram' into it would take it over" in err and snapshot(lm_run) == before


def test_cli_resume_with_a_changed_learning_rate_is_refused(tmp_path, capsys):
    run = fake_run(tmp_path / "run")
    before = snapshot(run)
    assert main(["train", "lm", "--output_dir", str(run), "--resume", "--trainer.lr", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "trainer.lr 0.001 -> 0.5" in err and err.count("\n") == 1 and snapshot(run) == before


# ------------------------------------------------------------------------------------------------- runs
def test_runs_lists_task_best_metric_steps_and_size(tmp_path, corpus, capsys):
    torch.manual_seed(0)
    model = TinyLM()
    Trainer(TinyTask(model), model, make_config(max_epochs=1, eval_every=2), tmp_path / "runs" / "group" / "tiny").fit()
    assert main(["train", "ngram", str(corpus), "--order", "2", "--smoothing", "wb",
                 "--output_dir", str(tmp_path / "runs" / "ng")]) == 0  # fmt: skip
    capsys.readouterr()
    runs = list_runs(tmp_path / "runs")
    assert [(Path(r.path).name, r.task) for r in runs] == [("tiny", "tiny"), ("ng", "ngram")]
    tiny = runs[0]
    assert tiny.metric == "loss" and tiny.steps == 4 and tiny.best_step in (2, 4) and tiny.size_bytes > 10_000
    table = format_runs(runs)
    assert table.splitlines()[0].split() == ["run", "task", "metric", "best", "at", "step", "steps", "size"]
    assert main(["runs", str(tmp_path / "runs"), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["task"] for row in rows] == ["tiny", "ngram"] and rows[0]["best_value"] == pytest.approx(tiny.best_value)
    assert main(["runs", str(tmp_path / "none")]) == 2


def test_a_copied_run_resumes_from_its_own_run_yaml(tmp_path, corpus, capsys):
    """`rnnlab train COPY/run.yaml --resume` continues COPY, not the directory the run was first trained in."""
    import shutil

    original = tmp_path / "original"
    argv = ["train", "lm", "--data.corpus", str(corpus), "--model.embedding_size", "8", "--model.hidden_size", "8",
            "--model.num_layers", "1", "--batch_size", "2", "--bptt", "8", "--trainer.max_steps", "2",
            "--trainer.max_epochs", "null", "--trainer.progress", "false", "--trainer.plot", "false",
            "--output_dir", str(original)]  # fmt: skip
    assert main(argv) == 0
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    before = snapshot(original)
    assert main(["train", str(copy / "run.yaml"), "--resume", "--trainer.max_steps", "4"]) == 0
    assert snapshot(original) == before
    assert f"model: {copy / 'best'}" in capsys.readouterr().out
