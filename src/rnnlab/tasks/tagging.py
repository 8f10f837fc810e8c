"""Sequence tagging (synchronous seq2seq: one tag per token): POS and NER with a BiLSTM(-CRF).

    words + character BiRNN features -> stacked BiLSTM/BiGRU -> per-token scores -> softmax or CRF

This module is the task's config and its wiring: `build(config)` sets up the shared Trainer (`rnnlab train`
writes `<output_dir>/best` and `/last`), `load_tagger(path)` gives a `Tagger` whose `tag(sentences)` returns
tags (batched, vectorised Viterbi), `DESCRIPTOR` registers the task (`rnnlab train`, `eval`, `tag` find it
there). The machinery is in `rnnlab.labelling` (tagger, tagger_training, tag_verb); reading tagged files in
`rnnlab.data.tagged`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rnnlab.config import data_source, require, require_sizes
from rnnlab.data.tagged import FORMATS, TaggedSentence, read_tagged
from rnnlab.labelling.metrics import confusion_artifact
from rnnlab.labelling.splits import labelled_splits
from rnnlab.labelling.tag_verb import TAG
from rnnlab.labelling.tagger import Tagger, format_tagger_evaluation, load_tagger_dir
from rnnlab.labelling.tagger_training import build_tagger
from rnnlab.nn.tagger import TaggerModelConfig
from rnnlab.tasks.registry import EvalRequest, TaskDescriptor, register_task
from rnnlab.train import TrainerConfig, TrainSetup

TASK = "tagger"


# --- configuration -----------------------------------------------------------------------------------

@dataclass
class TaggerDataConfig:
    dataset: str | None = "en-pos"  # a built-in dataset (rnnlab.data.labelled), or "files" (null) to use files
    train: str | None = None  # tagged files (word/TAG, CoNLL, CoNLL-U) when dataset is files
    valid: str | None = None
    test: str | None = None
    format: str = "auto"  # of the files: auto or one of rnnlab.data.tagged.FORMATS
    tag_column: str = "upos"  # CoNLL-U only
    scheme: Literal["auto", "none", "bio", "bioes"] = "auto"  # auto: BIO if tags look like B-/I-, else none
    max_train_sentences: int | None = None  # keep N training sentences spread over the corpus

    def __post_init__(self) -> None:
        require(self.format in ("auto", *FORMATS), "format", " / ".join(("auto", *FORMATS)), self.format)
        require(self.tag_column in ("upos", "xpos"), "tag_column", "upos or xpos", self.tag_column)
        # read only from the user's files (a built-in dataset comes in its own format and tag column)
        self.dataset = data_source(self, {"train": None, "valid": None, "test": None, "format": "auto",
                                          "tag_column": "upos"})  # fmt: skip
        require_sizes(self, "max_train_sentences")


@dataclass
class TaggerConfig:
    data: TaggerDataConfig = field(default_factory=TaggerDataConfig)
    model: TaggerModelConfig = field(default_factory=TaggerModelConfig)
    batch_size: int = 32
    eval_batch_size: int = 128
    output_dir: str = "runs/tagger"
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(metric="accuracy", mode="max"))

    def __post_init__(self) -> None:
        require_sizes(self, "batch_size eval_batch_size")


# --- wiring ------------------------------------------------------------------------------------------

def load_splits(data: TaggerDataConfig) -> dict[str, list[TaggedSentence]]:
    """train / valid / test tagged sentences from a built-in dataset or from files."""
    return labelled_splits(data, "tagged", lambda path: read_tagged(path, data.format, data.tag_column),
                           "a tagged file")  # fmt: skip


def build(config: TaggerConfig) -> TrainSetup:
    """The task and model of `config` for the shared Trainer (`rnnlab train` keeps the best model under
    <output_dir>/best)."""
    return build_tagger(config, load_splits(config.data), TASK)


def load_tagger(path: str | Path) -> Tagger:
    return load_tagger_dir(path, TASK, TaggerConfig)


def evaluate_dataset_split(path: str | Path, split: str, batch_size: int = 128, data_file: str | None = None,
                           data_format: str = "auto") -> dict:
    """Evaluate a saved tagger on a split of its training data (or on a tagged file)."""
    tagger = load_tagger(path)
    if data_file:
        sentences = read_tagged(data_file, data_format, tagger.config.data.tag_column)
    else:
        sentences = EvalRequest(split).examples_of(load_splits(tagger.config.data))
    return tagger.evaluate(sentences, batch_size)


def evaluate(path: str | Path, request: EvalRequest) -> dict:
    """Accuracy, entity P/R/F1 and the confusion matrix; its plot is an artifact ("artifacts": [confusion.png]),
    never written into the model directory."""
    result = evaluate_dataset_split(path, request.split, data_file=request.data_file)
    result["artifacts"] = [confusion_artifact(result["confusion"], result["tags"])]  # the caller writes it
    return result


DESCRIPTOR = register_task(TaskDescriptor(
    name=TASK,
    summary="BiLSTM(-CRF) POS / NER tagger",
    docs="docs/labelling.md",
    config_class=TaggerConfig,
    build=build,
    load=load_tagger,
    evaluate=evaluate,
    format_eval=format_tagger_evaluation,
    verbs=(TAG,),
))  # fmt: skip
