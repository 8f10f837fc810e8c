"""One Trainer construction site, and the Trainer's model is the one that trains.

Every shipped trainable task (a descriptor with `build`) is built from a tiny config, its model wrapped in a
counting module (what DDP or torch.compile would put around it), and trained 2 steps: `train_step` must get
the wrapper, and every tensor of every batch must already be on the Trainer's device. And `Trainer(...)` is
constructed in one place of rnnlab's source: rnnlab/train/run.py.
"""

from __future__ import annotations

import ast
import dataclasses
import random
from pathlib import Path

import pytest
import torch
from trainer_tiny_task import TinyLM, TinyTask, make_config

import rnnlab
from rnnlab.config import load_config
from rnnlab.data.tang import tang_splits
from rnnlab.tasks.registry import discover_tasks, get_task
from rnnlab.train import TrainSetup, build_trainer, train_task


class CountingWrapper(torch.nn.Module):
    """Forwards calls to `inner` and counts them; other attributes (a task's `model.loss(...)`) fall through."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.calls = 0

    def forward(self, *args, **kwargs):
        self.calls += 1
        return self.inner(*args, **kwargs)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "inner":
                raise
            return getattr(self.inner, name)


def tensors_of(batch) -> list[torch.Tensor]:
    if isinstance(batch, torch.Tensor):
        return [batch]
    if isinstance(batch, dict):
        return [t for value in batch.values() for t in tensors_of(value)]
    if isinstance(batch, (list, tuple)):
        return [t for value in batch for t in tensors_of(value)]
    return []


# ----------------------------------------------------------------------------- tiny configs per task
def _lm(tmp_path: Path) -> dict:
    corpus = tmp_path / "poems.txt"
    corpus.write_text("\n".join(tang_splits()["train"].splitlines()[:80]) + "\n", encoding="utf-8")
    return {"data.corpus": str(corpus), "model.embedding_size": 8, "model.hidden_size": 8, "batch_size": 4,
            "bptt": 8, "eval_batch_size": 2}  # fmt: skip


def _regression(tmp_path: Path) -> dict:
    rng = random.Random(0)
    rows = ["".join(rng.choice("CCON()=") for _ in range(rng.randint(3, 9))) for _ in range(24)]
    text = "smiles,expt\n" + "".join(f"{row},{row.count('C') - row.count('O')}\n" for row in rows)
    (tmp_path / "mols.csv").write_text(text, encoding="utf-8")
    path = str(tmp_path / "mols.csv")
    return {"data.dataset": None, "data.train": path, "data.valid": path, "data.text_column": "smiles",
            "data.target_column": "expt", "model.hidden_size": 8, "batch_size": 8}  # fmt: skip


def _classifier(tmp_path: Path) -> dict:
    lines = [f"{label}\tthe film was {word} indeed" for label, word in [("pos", "great"), ("neg", "awful")] * 8]
    (tmp_path / "sentiment.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = str(tmp_path / "sentiment.tsv")
    return {"data.dataset": None, "data.train": path, "data.valid": path, "model.word_dim": 8,
            "model.hidden_size": 8, "batch_size": 4}  # fmt: skip


def _tagger(tmp_path: Path) -> dict:
    sentences = [[("ann", "B-PER"), ("went", "O"), ("to", "O"), ("rome", "B-LOC")],
                 [("bob", "B-PER"), ("went", "O"), ("to", "O"), ("new", "B-LOC"), ("oslo", "I-LOC")]] * 6  # fmt: skip
    text = "\n\n".join("\n".join(f"{word} {tag}" for word, tag in sentence) for sentence in sentences)
    (tmp_path / "ner.conll").write_text(text + "\n", encoding="utf-8")
    path = str(tmp_path / "ner.conll")
    return {"data.dataset": None, "data.train": path, "data.valid": path, "model.word_dim": 8, "model.char_dim": 4,
            "model.char_hidden": 4, "model.hidden_size": 8, "batch_size": 4}  # fmt: skip


def _cloze(tmp_path: Path) -> dict:
    for split in ("train", "valid", "test"):
        (tmp_path / f"{split}.txt").write_text("the dog barks\nthe cat meows\n" * 8, encoding="utf-8")
    return {"data.corpus": str(tmp_path), "model.embedding_dim": 8, "model.hidden_size": 8, "batch_size": 4}


def _translate(tmp_path: Path) -> dict:
    pairs = [("eins zwei", "one two"), ("drei", "three"), ("rot blau", "red blue"), ("vier eins", "four one")] * 10
    (tmp_path / "pairs.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    path = str(tmp_path / "pairs.tsv")
    return {"data.dataset": "files", "data.train": path, "data.valid": path, "vocab.size": 30,
            "vocab.shared": False, "model.embed_dim": 8, "model.hidden_size": 8, "model.attention": None,
            "eval_bleu_sentences": 0, "batch_size": 8}  # fmt: skip


def _tree(tmp_path: Path) -> dict:
    from rnnlab.data.listops import generate_examples

    lines = [f"{value}\t{text}" for value, text in generate_examples(0, 24, max_depth=3, max_args=3)]
    (tmp_path / "listops.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = str(tmp_path / "listops.tsv")
    return {"data.dataset": "files", "data.train": path, "data.valid": path, "model.embedding_size": 8,
            "model.hidden_size": 8, "batch_size": 4}  # fmt: skip


def _caption(tmp_path: Path) -> dict:
    from PIL import Image

    lines = []
    for i, (name, colour) in enumerate([("red", (220, 30, 30)), ("blue", (30, 30, 220))] * 3):
        Image.new("RGB", (12, 12), colour).save(tmp_path / f"{i}.png")
        lines.append(f"{i}.png\ta {name} square")
    (tmp_path / "captions.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"data.dataset": "files", "data.train": str(tmp_path / "captions.tsv"), "data.image_size": 8,
            "model.embed_dim": 4, "model.hidden_size": 8, "model.encoder.width": 2, "model.encoder.feature_size": 4,
            "model.encoder.stages": 1, "batch_size": 2}  # fmt: skip


def _vqa(tmp_path: Path) -> dict:
    from tests.tasks.test_vqa import write_questions

    return {"data.dataset": "files", "data.train": str(write_questions(tmp_path / "vqa", 6)), "data.image_size": 16,
            "model.hidden_size": 16, "model.question_size": 8, "model.encoder.width": 4,
            "model.encoder.feature_size": 8, "model.encoder.stages": 2, "batch_size": 4}  # fmt: skip


def _graph(tmp_path: Path) -> dict:
    rows = "".join(f"{s},{len(s)}\n" for s in ["CCO", "c1ccccc1", "CC(=O)O", "CCN", "OCCO", "C1CC1"])
    (tmp_path / "molecules.csv").write_text("smiles,target\n" + rows, encoding="utf-8")
    path = str(tmp_path / "molecules.csv")
    return {"data.dataset": "files", "data.train": path, "data.valid": path, "model.hidden_size": 8,
            "model.num_steps": 1, "batch_size": 4}  # fmt: skip


def _physics(tmp_path: Path) -> dict:
    return {"data.max_train": 1, "data.max_valid": 1, "model.hidden_size": 8, "model.num_steps": 1, "batch_size": 16}


def _handwriting(tmp_path: Path) -> dict:
    from tests.tasks.test_handwriting import letters_npz

    return {"data.dataset": "files", "data.train": str(letters_npz(tmp_path / "letters.npz", 6)),
            "model.hidden_size": 8, "model.mixtures": 2, "model.window_mixtures": 2, "model.char_embedding": 4,
            "batch_size": 2}  # fmt: skip


def _chat(tmp_path: Path) -> dict:
    from tests.tasks.test_chat import write_fixture

    paths = write_fixture(tmp_path)
    return {"data.dataset": "files", "data.train": str(paths["train"]), "data.valid": str(paths["valid"]),
            "vocab.size": 60, "model.embed_dim": 8, "model.utterance_hidden": 8, "model.context_hidden": 8,
            "model.decoder_hidden": 8, "batch_size": 8}  # fmt: skip


TINY_CONFIGS = {"lm": _lm, "regression": _regression, "classifier": _classifier, "tagger": _tagger,
                "cloze": _cloze, "translate": _translate, "tree": _tree, "caption": _caption,
                "graph": _graph, "physics": _physics, "vqa": _vqa,
                "handwriting": _handwriting, "chat": _chat}  # fmt: skip
TRAINABLE = [name for name, task in discover_tasks().items() if task.build is not None]


@pytest.mark.parametrize("name", TRAINABLE)
def test_train_step_gets_the_trainers_model_and_batches_on_its_device(name, tmp_path, monkeypatch):
    if name not in TINY_CONFIGS:
        pytest.fail(f"trainable task {name!r} has no tiny config here: add one to TINY_CONFIGS")
    descriptor = get_task(name)
    config = load_config(descriptor.config_class, None, {**TINY_CONFIGS[name](tmp_path), "output_dir": str(tmp_path / "run")})
    setup = descriptor.build(config)
    assert isinstance(setup, TrainSetup)
    wrapper = CountingWrapper(setup.model)
    seen: list[tuple[torch.nn.Module, list[torch.Tensor]]] = []
    original = setup.task.train_step

    def spy(model, batch):
        seen.append((model, tensors_of(batch)))
        return original(model, batch)

    monkeypatch.setattr(setup.task, "train_step", spy)
    trainer_config = dataclasses.replace(config.trainer, max_steps=2, max_epochs=None, max_minutes=None,
                                         eval_every=0, progress=False, plot=False, device="auto")  # fmt: skip
    trainer = build_trainer(dataclasses.replace(setup, model=wrapper), trainer_config, None)
    summary = trainer.fit()

    assert summary["steps"] == 2 and len(seen) == 2
    assert all(model is wrapper for model, _ in seen), "train_step must use the model the Trainer passes"
    for _, batch_tensors in seen:
        assert batch_tensors, "a batch the Trainer can move to its device is made of tensors"
        assert {t.device for t in batch_tensors} == {trainer.device}
    assert wrapper.calls >= 2  # every task's training pass goes through the wrapper's forward


def test_train_task_prints_the_banner_writes_output_dir_and_finishes(tmp_path, capsys):
    @dataclasses.dataclass
    class Config:
        output_dir: str
        trainer: object = dataclasses.field(default_factory=lambda: make_config(max_epochs=1))

    def build(config: Config) -> TrainSetup:
        torch.manual_seed(0)
        model = TinyLM()
        return TrainSetup(TinyTask(model), model, banner="tiny: 4 batches", finish=lambda s: {**s, "done": True})

    summary = train_task(build, Config(str(tmp_path / "run")))
    assert summary["done"] and summary["steps"] == 4 and summary["output_dir"] == str(tmp_path / "run")
    assert (tmp_path / "run" / "last").is_dir()
    assert capsys.readouterr().err.splitlines().count("tiny: 4 batches") == 1
    in_memory = train_task(build, Config(str(tmp_path / "other")), output_dir=None)
    assert in_memory["output_dir"] is None and not (tmp_path / "other").exists()


def test_train_task_refuses_a_one_pass_task_and_a_build_without_a_setup():
    one_pass = next(task for task in discover_tasks().values() if task.build is None and task.name == "ngram")
    with pytest.raises(TypeError, match="one-pass task"):
        train_task(one_pass, one_pass.config_class())
    with pytest.raises(TypeError, match="not a rnnlab.train.TrainSetup"):
        train_task(lambda config: None, object())


def test_trainer_is_constructed_only_in_train_run():
    """`grep "Trainer(" src` in code (docstrings aside): the class definition and rnnlab/train/run.py only."""
    root = Path(rnnlab.__file__).parent
    sites = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
                if name == "Trainer":
                    sites.append(f"{path.relative_to(root).as_posix()}:{node.lineno}")
    assert [site.split(":")[0] for site in sites] == ["train/run.py"], sites


def test_a_wrapped_model_is_checkpointed_under_its_own_names(tmp_path):
    """DataParallel (like DDP) and torch.compile wrap the model; best/ and last/ keep the inner names."""
    from rnnlab.train import TrainerConfig, load_checkpoint
    from rnnlab.train.trainer import Trainer, unwrapped

    model = torch.nn.Linear(3, 1)
    wrapped = torch.nn.DataParallel(model)
    assert unwrapped(wrapped) is model and unwrapped(model) is model

    class Task:
        def train_batches(self, epoch):
            return [torch.ones(2, 3)] * 2

        def train_step(self, model, batch):
            return model(batch).pow(2).mean()

        def evaluate(self):
            return {"loss": 0.0}

        def checkpoint_config(self):
            return {"task": "toy"}

    config = TrainerConfig(max_steps=2, max_epochs=None, eval_every=2, progress=False, plot=False)
    Trainer(Task(), wrapped, config, tmp_path).fit()
    assert sorted(load_checkpoint(tmp_path / "last").state_dict) == ["bias", "weight"]
