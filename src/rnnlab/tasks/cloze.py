"""Fill in the blank with a bidirectional RNN: "I am ___ very hungry , I could eat half a pig ."

A forward RNN reads the words left of position t, a backward RNN the words right of it. Two heads share
them and are trained together on every position of every sentence:

    forward-only head:   P(x_t | x_<t)        = softmax(W_f h_fwd(t-1))             (a plain LM)
    bidirectional head:  P(x_t | x_<t, x_>t)  = softmax(W_b [h_fwd(t-1); h_bwd(t+1)])

so `rnnlab cloze CKPT "..."` ranks fillers with both and shows how much the right-hand context
("very hungry", "eat half a pig") changes the answer. Validation reports both heads' loss and top-1
accuracy at recovering held-out words.

This module is the task's config and its wiring; the machinery is in `rnnlab.labelling` (cloze,
cloze_training, cloze_verb), reading sentences in `rnnlab.data.sentence_lines`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rnnlab.config import require_sizes
from rnnlab.data.sentence_lines import corpus_sentence_splits, read_sentence_file
from rnnlab.labelling.cloze import ClozeModel, format_cloze_evaluation, load_cloze_dir
from rnnlab.labelling.cloze_training import build_cloze, evaluate_lines
from rnnlab.labelling.cloze_verb import CLOZE
from rnnlab.nn.cloze import ClozeModelConfig
from rnnlab.tasks.registry import EvalRequest, TaskDescriptor, register_task
from rnnlab.train import TrainerConfig, TrainSetup

TASK = "cloze"


@dataclass
class ClozeDataConfig:
    corpus: str = "ptb"  # a built-in corpus (rnnlab.data.corpora) or a text file / directory / glob
    lowercase: bool = True
    max_train_lines: int | None = None  # use at most this many training sentences (short runs)
    max_valid_lines: int | None = 1000
    max_length: int = 60  # longer lines are cut (they still teach both directions)
    min_freq: int = 1
    max_vocab: int | None = 10000

    def __post_init__(self) -> None:
        require_sizes(self, "max_train_lines max_valid_lines max_length min_freq")
        require_sizes(self, "max_vocab", low=5)  # specials included: <pad> <unk> <s> </s> and one token


@dataclass
class ClozeConfig:
    data: ClozeDataConfig = field(default_factory=ClozeDataConfig)
    model: ClozeModelConfig = field(default_factory=ClozeModelConfig)
    batch_size: int = 32
    eval_batch_size: int = 128
    output_dir: str = "runs/cloze"
    trainer: TrainerConfig = field(default_factory=TrainerConfig)  # metric "loss" = bidirectional loss

    def __post_init__(self) -> None:
        require_sizes(self, "batch_size eval_batch_size")


def load_lines(config: ClozeConfig) -> dict[str, list[list[str]]]:
    data = config.data
    return corpus_sentence_splits(data.corpus, data.lowercase, data.max_length, data.max_train_lines,
                                  data.max_valid_lines)  # fmt: skip


def build(config: ClozeConfig) -> TrainSetup:
    """The task and model of `config` for the shared Trainer (`rnnlab train`, `rnnlab.train.run.train_task`)."""
    return build_cloze(config, load_lines(config), TASK)


def load_cloze(path: str | Path) -> ClozeModel:
    return load_cloze_dir(path, TASK, ClozeConfig)


def evaluate(path: str | Path, request: EvalRequest) -> dict:
    """Both heads on held-out sentences (a split of the corpus, or a text file)."""
    cloze = load_cloze(path)
    data = cloze.config.data
    if request.data_file:
        lines = read_sentence_file(request.data_file, data.lowercase, data.max_length)
    else:
        lines = request.examples_of(load_lines(cloze.config))
    return {"sentences": len(lines), **evaluate_lines(cloze.model, cloze.vocab, lines, cloze.config.eval_batch_size)}


DESCRIPTOR = register_task(TaskDescriptor(
    name=TASK,
    summary="bidirectional fill-in-the-blank model (forward + backward LSTM)",
    docs="docs/labelling.md",
    config_class=ClozeConfig,
    build=build,
    load=load_cloze,
    evaluate=evaluate,
    format_eval=format_cloze_evaluation,
    verbs=(CLOZE,),
))  # fmt: skip
