"""The text-classification kit: a new classification-like task is its config, a reader and one call.

    from rnnlab.labelling import TextClassifierConfig, TextClassifierDataConfig, text_classification_task

    @dataclass
    class ListOpsData(TextClassifierDataConfig):
        dataset: str | None = "listops"           # a registered dataset of kind "labelled", or None: files

    @dataclass
    class ListOpsConfig(TextClassifierConfig):
        data: ListOpsData = field(default_factory=ListOpsData)
        output_dir: str = "runs/listops"

    def read_listops(path: str) -> list[LabelledText]: ...      # data.train / valid / test, eval --data

    DESCRIPTOR = register_task(text_classification_task(
        "listops", ListOpsConfig, read_listops, summary="ListOps: the value of a nested list expression"))

That task trains (`rnnlab train listops`, length-bucketed batches, cross-entropy, validation accuracy,
`model.pretrained_lm` / `model.init_from`), evaluates (`rnnlab eval`: accuracy, loss, confusion table and
confusion.png), loads (`Classifier.probabilities`) and offers `rnnlab classify`. Its model is
`rnnlab.nn.classifier.BiRNNClassifier` unless `model=` gives another factory `(config.model, words, chars,
labels) -> nn.Module` (see `rnnlab.labelling.classifier` for what it is called with and returns); a model
of its own usually comes with a model config of its own (`model: MyModelConfig` in the config class).
A saved model directory holds config.json ({"task", "tokenizer", "config", "data"}), vocab.json (words,
chars, lowercase, labels) and the weights.

`TextClassifierKit` is the same thing in parts (`kit.build`, `kit.load`, `kit.evaluate_split`, ...) for
a task module that wants to name them (`rnnlab.tasks.classification` does).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rnnlab.config import data_source, require_sizes
from rnnlab.data.labelled import LabelledText, read_labelled_file
from rnnlab.labelling.classifier import (
    Classifier,
    ModelFactory,
    format_classifier_evaluation,
    load_classifier_dir,
)
from rnnlab.labelling.classifier_training import build_classifier
from rnnlab.labelling.classify_verb import CLASSIFY
from rnnlab.labelling.metrics import confusion_artifact
from rnnlab.labelling.splits import labelled_splits
from rnnlab.nn.classifier import BiRNNClassifier, ClassifierModelConfig
from rnnlab.tasks.registry import EvalRequest, TaskDescriptor
from rnnlab.train import TrainerConfig, TrainSetup
from rnnlab.verbs import Verb

__all__ = ["TextClassifierConfig", "TextClassifierDataConfig", "TextClassifierKit", "text_classification_task"]


@dataclass
class TextClassifierDataConfig:
    """The `data:` section of a text classifier."""

    dataset: str | None = None  # a registered dataset of kind "labelled", or "files" (null) for the files below
    train: str | None = None  # files in the task's format (the classifier's: `label<TAB>text` lines)
    valid: str | None = None  # none: every 10th training example is held out
    test: str | None = None
    tokenizer: Literal["auto", "whitespace", "chars"] = "auto"  # auto: chars for zh-* datasets
    max_train_sentences: int | None = None
    max_length: int = 200  # tokens kept per sentence (long reviews are truncated)

    def __post_init__(self) -> None:
        # `files` (or null) = the files below; read only then, so refused with a built-in dataset
        self.dataset = data_source(self, {"train": None, "valid": None, "test": None})
        require_sizes(self, "max_train_sentences max_length")


@dataclass
class TextClassifierConfig:
    """A text classifier's config; a task subclasses it to change defaults (dataset, output_dir) or sections."""

    data: TextClassifierDataConfig = field(default_factory=TextClassifierDataConfig)
    model: ClassifierModelConfig = field(default_factory=ClassifierModelConfig)
    batch_size: int = 32
    eval_batch_size: int = 128
    output_dir: str = "runs/text-classifier"
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(metric="accuracy", mode="max"))

    def __post_init__(self) -> None:
        require_sizes(self, "batch_size eval_batch_size")


def _caller(depth: int) -> str:
    return sys._getframe(depth + 1).f_globals.get("__name__", "?")


class TextClassifierKit:
    """Everything a text-classification task registers, for one task name, config class, reader and model.

    name: the task (`rnnlab train NAME`, config.json's "task").
    config_class: a `TextClassifierConfig` subclass (or any dataclass with the same fields).
    read: `(path) -> list[LabelledText]` for data files and `rnnlab eval --data FILE`; errors should be
        `rnnlab.errors.DataError`s naming the file and line.
    model: `(config.model, words, chars, labels) -> nn.Module`.
    kind: the dataset kind `data.dataset` must be ("labelled").
    what: the file format, for the error when neither data.dataset nor data.train is given.
    module: the module the task belongs to (default: the caller's), so the registry can tell tasks apart.
    """

    def __init__(self, name: str, config_class: type = TextClassifierConfig,
                 read: Callable[[str], list[LabelledText]] = read_labelled_file, *,
                 model: ModelFactory = BiRNNClassifier, kind: str = "labelled", what: str = "a label<TAB>text file",
                 module: str | None = None) -> None:  # fmt: skip
        self.name, self.config_class, self.read, self.model = name, config_class, read, model
        self.kind, self.what = kind, what
        self.module = module or _caller(1)

    def load_splits(self, data) -> dict[str, list[LabelledText]]:
        """train / valid / test examples of a config's `data:` section (a registered dataset or files)."""
        return labelled_splits(data, self.kind, self.read, self.what)

    def build(self, config) -> TrainSetup:
        """The task and model of `config` for the shared Trainer (`rnnlab train`, `rnnlab.train.run.train_task`)."""
        return build_classifier(config, self.load_splits(config.data), self.name, self.model)

    def load(self, path: str | Path) -> Classifier:
        """The classifier saved in `path` (a model directory, or a run directory: its best/)."""
        return load_classifier_dir(path, self.name, self.config_class, self.model)

    def evaluate_split(self, path: str | Path, split: str, batch_size: int | None = 128,
                       data_file: str | None = None) -> dict:  # fmt: skip
        """Accuracy, loss and confusion counts (with their `labels`) of a saved classifier on a split of its
        data (or a file read with `read`); `batch_size` None: the model's `eval_batch_size`."""
        classifier = self.load(path)
        request = EvalRequest(split, data_file)
        examples = self.read(data_file) if data_file else request.examples_of(self.load_splits(classifier.config.data))
        if batch_size is None:
            batch_size = classifier.config.eval_batch_size
        return {**classifier.evaluate(examples, batch_size), "labels": list(classifier.labels)}  # the confusion's axes

    def evaluate(self, path: str | Path, request: EvalRequest) -> dict:
        """Accuracy, loss and the confusion matrix; its plot is an artifact ("artifacts": [confusion.png]),
        never written into the model directory."""
        result = self.evaluate_split(path, request.split, None, request.data_file)
        result["artifacts"] = [confusion_artifact(result["confusion"], result["labels"])]  # the caller writes it
        return result

    def descriptor(self, summary: str, *, docs: str | None = None, verbs: tuple[Verb, ...] = (CLASSIFY,),
                   **extra: Any) -> TaskDescriptor:  # fmt: skip
        """The task's `TaskDescriptor` (pass it to `rnnlab.tasks.registry.register_task`); `extra`: any other
        TaskDescriptor field (config_folder, presets, positional, ...)."""
        return TaskDescriptor(name=self.name, summary=summary, config_class=self.config_class,
                              build=self._in_module(self.build, "build"), load=self._in_module(self.load, "load"),
                              evaluate=self._in_module(self.evaluate, "evaluate"),
                              format_eval=format_classifier_evaluation, docs=docs, verbs=verbs, **extra)  # fmt: skip

    def _in_module(self, method: Callable, name: str) -> Callable:
        """`method` as a function of the task's module (the registry names a task by its build's module)."""

        def function(*args, **kwargs):
            return method(*args, **kwargs)

        function.__module__, function.__name__ = self.module, name
        function.__qualname__, function.__doc__ = f"{self.name}.{name}", method.__doc__
        return function


def text_classification_task(name: str, config_class: type = TextClassifierConfig,
                             read: Callable[[str], list[LabelledText]] = read_labelled_file, *, summary: str,
                             model: ModelFactory = BiRNNClassifier, docs: str | None = None,
                             **extra: Any) -> TaskDescriptor:  # fmt: skip
    """The TaskDescriptor of a text-classification task (train, eval, load, `classify`), ready for
    `register_task`; see the module docstring. `extra`: TextClassifierKit's kind / what / module, or any
    other TaskDescriptor field."""
    kit_options = {key: extra.pop(key) for key in ("kind", "what", "module") if key in extra}
    kit_options.setdefault("module", _caller(1))
    kit = TextClassifierKit(name, config_class, read, model=model, **kit_options)
    return kit.descriptor(summary, docs=docs, **extra)
