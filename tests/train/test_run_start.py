"""Everything is checked before a run directory exists, and a run that fails before its first checkpoint
leaves nothing that blocks the next `rnnlab train` (issue #20): config values by meaning, the data and
the model built first, the disk space, a failed start undone, no option silently ignored, and --resume
after an edited run.yaml."""

from __future__ import annotations

import errno
import hashlib
from collections import namedtuple
from pathlib import Path

import pytest

from rnnlab.cli import main
from rnnlab.config import load_config
from rnnlab.errors import ConfigError
from rnnlab.tasks.configs import load_task_config
from rnnlab.train import TrainerConfig
from rnnlab.train.run import checkpoint_bytes


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("the cat sat\nthe dog sat\na cat ran\n" * 10, encoding="utf-8")
    return path


def tiny_lm(corpus: Path, out: Path | str, *more: str) -> list[str]:
    """A language model of 865 parameters trained for 2 steps (about a second)."""
    return ["train", "lm", "--data.corpus", str(corpus), "--model.embedding_size", "8", "--model.hidden_size", "8",
            "--model.num_layers", "1", "--batch_size", "2", "--bptt", "8", "--trainer.max_steps", "2",
            "--trainer.max_epochs", "null", "--trainer.progress", "false", "--trainer.plot", "false",
            "--output_dir", str(out), *more]  # fmt: skip


def refused(capsys) -> str:
    """The one error line of a refused command: no traceback, nothing else on stderr but the task's banner
    (printed once the data and the model are built)."""
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if line.startswith("rnnlab: error: ")]
    others = [line for line in lines if not line.startswith(("rnnlab: error: ", "rnnlab: corpus "))]
    assert len(errors) == 1 and errors == lines[-1:] and not others, lines
    return errors[0]


def snapshot(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}  # fmt: skip


def trains(corpus: Path, out: Path, capsys, *more: str) -> None:
    """The next plain `rnnlab train` into `out` is not blocked (no --overwrite, no --resume)."""
    assert main(tiny_lm(corpus, out, *more)) == 0, capsys.readouterr().err
    assert (out / "last").is_dir() and (out / "best").is_dir()
    capsys.readouterr()


# ------------------------------------------------------------------------------- config values by meaning
@pytest.mark.parametrize(("override", "message"), [
    (["--trainer.clip_grad_norm", "inf"], "trainer.clip_grad_norm: expected a finite number, got inf"),
    (["--trainer.lr", "nan"], "trainer.lr: expected a finite number, got nan"),
    (["--output_dir", ""], "output_dir: expected a path, got an empty string"),
    (["--trainer.momentum", "0.9"], "trainer.momentum: expected 0 unless optimizer is sgd"),
])  # fmt: skip
def test_values_the_types_allow_but_mean_nothing_are_refused_before_the_directory(corpus, tmp_path, capsys,
                                                                                monkeypatch, override, message):  # fmt: skip
    monkeypatch.chdir(tmp_path)  # `--output_dir ''` once trained into the working directory
    out = tmp_path / "run"
    assert main([*tiny_lm(corpus, out), *override]) == 2
    assert message in refused(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written, anywhere
    trains(corpus, out, capsys)


@pytest.mark.parametrize(("task", "override", "message"), [
    ("translate", ["--teacher_forcing.kind", "cosine"], "teacher_forcing.kind: expected constant / linear"),
    ("translate", ["--teacher_forcing.start", "2"], "teacher_forcing.start: expected a ratio in [0, 1]"),
    ("tagger", ["--data.dataset", "files", "--data.train", "x", "--data.format", "xml"], "data.format: expected auto"),
    ("tagger", ["--data.tag_column", "feats"], "data.tag_column: expected upos or xpos"),
    ("lm", ["--model.cell", "lstn"], "model.cell"),
    ("ngram", ["--output_dir", ""], "output_dir: expected a path"),
    ("translate", ["--data.cache_dir", " "], "data.cache_dir: expected a path"),
])  # fmt: skip
def test_enums_typed_as_strings_and_empty_paths_are_checked_when_the_config_loads(task, override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_task_config(task, None, override)


def test_off_is_null_and_a_huge_finite_float_still_loads():
    assert load_config(TrainerConfig, None, ["--clip_grad_norm", "null"]).clip_grad_norm is None  # "off" is null
    assert load_config(TrainerConfig, None, ["--clip_grad_norm", "1e308"]).clip_grad_norm == 1e308


# --------------------------------------------------------------------------- built before the directory
def test_a_model_too_big_for_memory_is_one_line_naming_the_sizes(corpus, tmp_path, capsys, monkeypatch):
    import rnnlab.tasks.language_model as language_model

    def no_memory(*args, **kwargs):  # what torch raises for an LSTM of hidden size 10^6 (16 TB)
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
                           "memory: you tried to allocate 16000000000000 bytes. Error code 12")  # fmt: skip

    monkeypatch.setattr(language_model, "build_model", no_memory)
    out = tmp_path / "run"
    assert main([*tiny_lm(corpus, out), "--model.hidden_size", "1000000"]) == 2
    line = refused(capsys)
    assert "not enough memory to build the model (an allocation of 14901.2 GiB failed)" in line
    assert "model.hidden_size=1000000" in line and not out.exists()
    monkeypatch.undo()
    trains(corpus, out, capsys)


def test_running_out_of_memory_in_training_is_one_line_and_leaves_nothing(corpus, tmp_path, capsys, monkeypatch):
    from rnnlab.train.trainer import Trainer

    def no_memory(self, *args):  # Adam's state and the activations come after the model is built
        raise MemoryError()

    monkeypatch.setattr(Trainer, "_loop", no_memory)
    out = tmp_path / "run"
    assert main([*tiny_lm(corpus, out), "--batch_size", "3"]) == 2
    line = refused(capsys)
    assert "not enough memory to train the model; sizes: " in line and "batch_size=3" in line and not out.exists()
    monkeypatch.undo()
    trains(corpus, out, capsys)


def test_a_disk_without_room_for_the_checkpoints_is_refused_before_the_directory(corpus, tmp_path, capsys,
                                                                                 monkeypatch):  # fmt: skip
    import rnnlab.train.run as run

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(run.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 2**20, 2**20))
    out = tmp_path / "new" / "run"
    assert main(tiny_lm(corpus, out)) == 2
    line = refused(capsys)
    assert f"not enough disk space for the checkpoints of this run in {out}" in line and "1.0 MiB is free" in line
    assert not (tmp_path / "new").exists()
    monkeypatch.undo()
    trains(corpus, out, capsys)


def test_the_checkpoint_space_counts_best_last_and_the_optimizer_state():
    mib = 2**20
    assert checkpoint_bytes(100 * mib, TrainerConfig()) == (1 + 3) * 100 * mib + mib  # adam: 2 state tensors
    assert checkpoint_bytes(100 * mib, TrainerConfig(optimizer="sgd")) == 2 * 100 * mib + mib
    assert checkpoint_bytes(100 * mib, TrainerConfig(optimizer="sgd", momentum=0.9)) == 3 * 100 * mib + mib
    assert checkpoint_bytes(100 * mib, TrainerConfig(), resume=True) == 3 * 100 * mib + mib  # one more last/
    assert checkpoint_bytes(100 * mib, TrainerConfig(save_best=False, save_last=False)) == mib


# ------------------------------------------------------------------------- a failed start is undone
def test_a_full_disk_at_the_first_checkpoint_leaves_nothing_that_blocks(corpus, tmp_path, capsys, monkeypatch):
    import rnnlab.train.trainer as trainer

    def disk_full(directory, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(directory))

    monkeypatch.setattr(trainer, "save_checkpoint", disk_full)
    out = tmp_path / "a" / "run"
    assert main(tiny_lm(corpus, out)) == 2
    assert "no space left on device" in refused(capsys)
    assert not (tmp_path / "a").exists()  # run.yaml, metrics.jsonl, .lock and the directories it made: gone
    monkeypatch.undo()
    trains(corpus, out, capsys)


def test_a_divergence_at_the_first_step_leaves_nothing_that_blocks(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()  # an existing, empty directory stays, empty
    assert main([*tiny_lm(corpus, out), "--trainer.optimizer", "sgd", "--trainer.lr", "1e9"]) == 2
    assert "diverged" in refused(capsys)
    assert list(out.iterdir()) == []
    trains(corpus, out, capsys)


def test_a_failed_overwrite_moves_the_previous_run_back(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    trains(corpus, out, capsys)
    before = snapshot(out)
    assert main([*tiny_lm(corpus, out), "--overwrite", "--trainer.optimizer", "sgd", "--trainer.lr", "1e9"]) == 2
    err = capsys.readouterr().err
    assert "moved the previous run back" in err and "diverged" in err.strip().splitlines()[-1]
    assert snapshot(out) == before and not list(tmp_path.glob("run.old-*"))


def test_a_failed_resume_leaves_the_run_resumable(corpus, tmp_path, capsys, monkeypatch):
    import rnnlab.train.trainer as trainer

    out = tmp_path / "run"
    trains(corpus, out, capsys)
    last = snapshot(out / "last")

    def disk_full(directory, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(directory))

    monkeypatch.setattr(trainer, "save_checkpoint", disk_full)
    assert main(["train", str(out / "run.yaml"), "--resume", "--trainer.max_steps", "4"]) == 2
    assert "no space left on device" in refused(capsys)
    assert snapshot(out / "last") == last and (out / "metrics.jsonl").exists()
    monkeypatch.undo()
    assert main(["train", str(out / "run.yaml"), "--resume", "--trainer.max_steps", "4"]) == 0


# ----------------------------------------------------------------------------------- nothing ignored
@pytest.mark.parametrize(("task", "override"), [
    ("tagger", ["--data.train", "mine.conll"]),
    ("tagger", ["--data.tag_column", "xpos"]),
    ("classifier", ["--data.valid", "mine.tsv"]),
    ("regression", ["--data.text_column", "smiles"]),
    ("translate", ["--data.test", "mine.tsv"]),
])  # fmt: skip
def test_an_option_for_your_own_files_with_a_built_in_dataset_is_refused(tmp_path, capsys, task, override):
    out = tmp_path / "run"
    assert main(["train", task, *override, "--output_dir", str(out)]) == 2
    key = override[0][2:]
    default = load_task_config(task, None, []) [1].data.dataset
    assert f"{key} is read only with data.dataset: files (got data.dataset: {default})" in refused(capsys)
    assert not out.exists()


@pytest.mark.parametrize(("task", "files"), [("tagger", None), ("classifier", None), ("regression", None),
                                             ("translate", "files")])  # fmt: skip
def test_files_is_the_spelling_of_your_own_files_in_every_task_and_null_too(task, files):
    for spelling in ("files", "null"):
        _, config = load_task_config(task, None, ["--data.dataset", spelling, "--data.train", "t", "--data.valid", "v"])
        assert config.data.dataset == files and config.data.train == "t"  # the value the task's code reads
    with pytest.raises(ConfigError, match="data.include_phrases is read only with a built-in data.dataset"):
        load_task_config("translate", None, ["--data.dataset", "files", "--data.train", "t", "--data.valid", "v",
                                             "--data.include_phrases", "true"])  # fmt: skip


def test_resume_after_editing_run_yaml_is_refused_naming_the_keys(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    trains(corpus, out, capsys)
    run_yaml = out / "run.yaml"
    saved = run_yaml.read_text()
    assert "  lr: 0.001\n" in saved
    run_yaml.write_text(saved.replace("  lr: 0.001\n", "  lr: 0.5\n"))  # once resumed with exit 0, ignored
    before = snapshot(out)
    assert main(["train", str(run_yaml), "--resume", "--trainer.max_steps", "3"]) == 2
    line = refused(capsys)
    assert "other settings (trainer.lr 0.001 -> 0.5)" in line and "run.yaml was edited after last/ was saved" in line
    assert snapshot(out) == before
    run_yaml.write_text(saved)  # put back: the run is resumable as it was
    assert main(["train", str(run_yaml), "--resume", "--trainer.max_steps", "3"]) == 0
