"""The language-model task: corpus -> tokenizer + vocabulary -> RNN LM trained with truncated BPTT.

    rnnlab train configs/lm/tang-char.yaml
    rnnlab generate runs/tang-char --form 五言绝句
    rnnlab eval runs/tang-char --split test

The task is two modules, one concern each:

* this one: the config (`LMTaskConfig`), what the Trainer trains (`LanguageModelTask`, `build(config)` for
  `rnnlab.train.run.train_task`) and the task's descriptor;
* `rnnlab.tasks.language_model_eval`: a saved model directory loaded (`load_language_model` ->
  `NeuralLanguageModel`, which scores and generates) and what `rnnlab eval` reports for task "lm";
* shared outside tasks/: the tokenizer, boundary token, encoded splits, primer and network built the same
  way for training and loading `rnnlab.lm.prepare`, BPTT batches `rnnlab.lm.batching`, the `generate` and
  `score` verbs `rnnlab.lm.verbs`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F

from rnnlab.config import config_to_dict, require, require_sizes
from rnnlab.data.corpora import Corpus, load_corpus
from rnnlab.data.tokenizers import CONFIG_FILE as TOKENIZER_FILE
from rnnlab.data.tokenizers import MODEL_FILE as TOKENIZER_MODEL_FILE
from rnnlab.data.tokenizers import SubwordTokenizer
from rnnlab.data.vocab import Vocabulary
from rnnlab.errors import DataError
from rnnlab.lm.batching import BPTTWindows, batchify
from rnnlab.lm.neural import stream_loss
from rnnlab.lm.prepare import (
    LINE_CORPORA,
    boundary_token,
    build_model,
    build_tokenizer,
    encode_text,
    primer_text,
)
from rnnlab.lm.trace import NEXT, TRACE
from rnnlab.lm.verbs import GENERATE, SCORE
from rnnlab.nn.decoding import map_state
from rnnlab.nn.language_model import RNNLMConfig, detach_state
from rnnlab.tasks.language_model_eval import VOCAB_FILE, evaluate, format_evaluation, load_language_model
from rnnlab.tasks.registry import TaskDescriptor, register_task
from rnnlab.train import StepOutput, TrainerConfig, TrainSetup, TrainTask, set_seed

__all__ = ["DESCRIPTOR", "LMDataConfig", "LMTaskConfig", "LanguageModelTask", "build", "load_language_model"]


# ------------------------------------------------------------------------------------------------ config
@dataclass
class LMDataConfig:
    """Which text and how it becomes tokens (the `data:` section)."""

    corpus: str = "tang"  # a built-in dataset (rnnlab data list) or a text file, directory or glob
    level: Literal["char", "word", "subword"] | None = None  # None: the corpus's own hint
    min_freq: int = 1  # rarer tokens become <unk>
    max_vocab: int | None = None  # cap on the vocabulary size, specials included
    subword_vocab_size: int = 4000  # sentencepiece pieces when level = subword
    stop_at_line_end: bool | None = None  # generation ends at a line end; None: yes for poems/sentences
    normalize: Literal["NFC", "NFKC"] | None = None  # char level: Unicode normalisation of all text (! = ！)

    def __post_init__(self) -> None:
        require_sizes(self, "min_freq")
        require_sizes(self, "max_vocab", low=5)  # specials included: <pad> <unk> <s> </s> and one token
        require_sizes(self, "subword_vocab_size", low=8, high=1_000_000)


@dataclass
class LMTaskConfig:
    """A language-model experiment: data, model, training loop and batching."""

    data: LMDataConfig = field(default_factory=LMDataConfig)
    model: RNNLMConfig = field(default_factory=RNNLMConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    batch_size: int = 20  # parallel streams
    bptt: int = 35  # truncated back-propagation length
    eval_batch_size: int = 10
    output_dir: str = "runs/lm"

    def __post_init__(self) -> None:
        require_sizes(self, "batch_size bptt eval_batch_size")
        # what LanguageModelTask.evaluate returns; checked here, before the corpus is read
        require(self.trainer.metric in ("loss", "ppl", "bpc"), "trainer.metric", "loss, ppl or bpc",
                self.trainer.metric)  # fmt: skip


# ---------------------------------------------------------------------------------------------- training
class LanguageModelTask(TrainTask):
    """Truncated-BPTT language modelling for the shared Trainer.

    Batches are consecutive (inputs, targets) windows of shape (bptt, batch_size); the hidden state is
    carried from one window to the next (detached) and reset at each epoch start. It is part of the
    task's state, so a resumed run continues with exactly the state it had.
    """

    def __init__(self, config: LMTaskConfig, corpus: Corpus | None = None) -> None:
        self.config = config
        self.corpus = corpus or load_corpus(config.data.corpus)
        data = config.data
        self.tokenizer = build_tokenizer(self.corpus, data.level, data.normalize, data.subword_vocab_size)
        train_tokens = self.tokenizer.tokenize(self.corpus.train)
        if len(train_tokens) < 2 * config.batch_size:
            raise DataError(
                f"corpus {self.corpus.name!r}: the train split has {len(train_tokens)} tokens, too few for "
                f"batch_size {config.batch_size}"
            )
        self.boundary = boundary_token(self.tokenizer)
        self.vocab = Vocabulary.build([train_tokens, [self.boundary]], config.data.min_freq, config.data.max_vocab)
        if self.boundary not in self.vocab:  # generation and scoring end lines with it: found now, not after training
            raise DataError(f"data.min_freq {data.min_freq} / data.max_vocab {data.max_vocab} leave the line end "
                            f"{self.boundary!r} out of the vocabulary of corpus {self.corpus.name!r}; lower "
                            "min_freq or raise max_vocab")  # fmt: skip
        self.train_ids = torch.tensor(self.vocab.encode(train_tokens), dtype=torch.long)
        self.valid_ids = encode_text(self.corpus.valid, self.tokenizer, self.vocab, "valid")
        self.level = config.data.level or self.corpus.level
        self.loss_metric = "bpc" if self.level == "char" else "ppl"
        set_seed(config.trainer.seed)  # the initial weights depend on the seed only: runs are reproducible
        self.model = build_model(self.vocab, config.model, self.boundary)
        self.streams = batchify(self.train_ids, config.batch_size)
        self.windows = BPTTWindows(self.streams, config.bptt)
        self.state = None

    @property
    def device(self) -> torch.device:
        return self.model.embedding.weight.device

    # --- TrainTask ---------------------------------------------------------------------------------
    def train_batches(self, epoch: int) -> BPTTWindows:
        return self.windows  # in order: the hidden state flows from one window to the next

    def on_epoch_start(self, epoch: int) -> None:
        self.state = None

    def shard_batch(self, batches: BPTTWindows, index: int, rank: int, world: int):
        """Data-parallel training (rnnlab.train.distributed): each rank takes its contiguous block of the
        parallel streams (columns): its own contiguous shard of the corpus, with its own carried state."""
        from rnnlab.train.distributed import DistributedError, shard_bounds

        inputs, targets = batches[index]  # (l, batch_size)
        if inputs.shape[1] < world:
            raise DistributedError(f"batch_size {inputs.shape[1]} (parallel streams) cannot be split between "
                                   f"{world} processes: raise it or use fewer processes")  # fmt: skip
        start, stop = shard_bounds(inputs.shape[1], rank, world)
        return inputs[:, start:stop], targets[:, start:stop]

    def train_step(self, model: torch.nn.Module, batch) -> StepOutput:
        inputs, targets = batch  # on the Trainer's device already
        logits, state = model(inputs, self.state)
        self.state = detach_state(state)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
        return StepOutput(loss, num_tokens=targets.numel())

    def evaluate(self) -> dict[str, float]:
        loss, _ = stream_loss(self.model, self.valid_ids, self.config.eval_batch_size, self.config.bptt)
        return {"loss": loss, "ppl": math.exp(loss), "bpc": loss / math.log(2)}

    def state_dict(self) -> dict[str, Any]:
        return {"hidden": self.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        hidden = state.get("hidden")
        if isinstance(hidden, list):  # written by an older version as a list: the layers want a tuple
            hidden = tuple(hidden)
        self.state = map_state(hidden, lambda h: h.to(self.device))

    def checkpoint_config(self) -> dict[str, Any]:
        stop = self.config.data.stop_at_line_end
        if stop is None:
            stop = self.corpus.name in LINE_CORPORA
        return {
            "task": "lm",
            "vocab_size": len(self.vocab),
            "level": self.level,
            "boundary": self.boundary,
            "stop_at_line_end": stop,
            "corpus": self.corpus.name,
            "primer": primer_text(self.corpus.train),
            "config": config_to_dict(self.config),
        }

    def checkpoint_files(self) -> dict[str, bytes | str]:
        files: dict[str, bytes | str] = {VOCAB_FILE: json.dumps({"tokens": self.vocab.tokens}, ensure_ascii=False)}
        payload = {"kind": self.tokenizer.kind, **self.tokenizer.config()}
        files[TOKENIZER_FILE] = json.dumps(payload, ensure_ascii=False)
        if isinstance(self.tokenizer, SubwordTokenizer):
            files[TOKENIZER_MODEL_FILE] = self.tokenizer.model_proto
        return files


def build(config: LMTaskConfig, corpus: Corpus | None = None) -> TrainSetup:
    """The task and model of `config` for the shared Trainer; after training, `finish` adds the test metrics
    of the best checkpoint to the summary (`summary["test"]`)."""
    task = LanguageModelTask(config, corpus)
    banner = (
        f"rnnlab: corpus {task.corpus.name} ({task.level}): {len(task.train_ids):,} train tokens, "
        f"vocabulary {len(task.vocab):,}; model {config.model.cell} "
        f"{config.model.num_layers}x{config.model.hidden_size}, "
        f"{sum(p.numel() for p in task.model.parameters()):,} parameters"
    )

    def finish(summary: dict[str, Any]) -> dict[str, Any]:
        best = summary.get("best_checkpoint") or summary.get("last_checkpoint")
        if best:
            model = load_language_model(best)
            test_ids = encode_text(task.corpus.test, task.tokenizer, task.vocab, "test")
            loss, _ = stream_loss(model.model, test_ids, config.eval_batch_size, config.bptt)
            summary["test"] = {"loss": loss, "ppl": math.exp(loss), "bpc": loss / math.log(2)}
        return summary

    return TrainSetup(task=task, model=task.model, finish=finish, banner=banner)


DESCRIPTOR = register_task(TaskDescriptor(
    name="lm",
    summary="RNN language model (char / word / subword), truncated BPTT",
    docs="docs/language_models.md",
    config_class=LMTaskConfig,
    build=build,
    load=load_language_model,
    evaluate=evaluate,
    format_eval=format_evaluation,
    verbs=(GENERATE, SCORE, NEXT, TRACE),
))  # fmt: skip
