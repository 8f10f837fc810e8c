"""The language-model task: corpus -> tokenizer + vocabulary -> RNN LM trained with truncated BPTT.

Entry points used by the CLI:

* `build(config)`: everything from an `LMTaskConfig` for the shared Trainer (`rnnlab.train.run.train_task`);
* `load_language_model(path)`: a saved model directory -> `NeuralLanguageModel` (score / generate);
* `evaluate(path, request)`: what `rnnlab eval` reports for task "lm"; `DESCRIPTOR` registers the task.

A model directory holds config.json (task "lm", the whole task config, vocabulary size, boundary token),
model.safetensors, vocab.json and the tokenizer files (see `rnnlab.train.checkpoint`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F

from rnnlab.config import config_from_dict, config_to_dict, require
from rnnlab.data.corpora import Corpus, load_corpus
from rnnlab.data.tokenizers import CONFIG_FILE as TOKENIZER_FILE
from rnnlab.data.tokenizers import MODEL_FILE as TOKENIZER_MODEL_FILE
from rnnlab.data.tokenizers import SubwordTokenizer, Tokenizer, load_tokenizer, make_tokenizer
from rnnlab.data.vocab import Vocabulary
from rnnlab.errors import CheckpointError, ConfigError, DataError
from rnnlab.lm.batching import BPTTWindows, batchify
from rnnlab.lm.neural import NeuralLanguageModel, stream_loss
from rnnlab.lm.scoring import read_sentences
from rnnlab.lm.verbs import GENERATE, SCORE
from rnnlab.nn.decoding import map_state
from rnnlab.nn.language_model import RNNLanguageModel, RNNLMConfig, detach_state
from rnnlab.tasks.registry import EvalRequest, TaskDescriptor, register_task, resolve_model_dir
from rnnlab.train import (
    StepOutput,
    TrainerConfig,
    TrainSetup,
    TrainTask,
    load_model_dir,
    load_model_weights,
    set_seed,
)

VOCAB_FILE = "vocab.json"
# Corpora made of lines that are units (a poem, a sentence): generation stops at the end of a line.
LINE_CORPORA = {"tang", "tang-full", "songci", "ptb", "lyrics", "zh-news"}


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
        require(self.min_freq >= 1, "min_freq", ">= 1", self.min_freq)
        require(self.subword_vocab_size >= 8, "subword_vocab_size", ">= 8", self.subword_vocab_size)


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
        for name in ("batch_size", "bptt", "eval_batch_size"):
            require(getattr(self, name) >= 1, name, ">= 1", getattr(self, name))


# ------------------------------------------------------------------------------------ data preparation
def build_tokenizer(corpus: Corpus, data: LMDataConfig) -> Tokenizer:
    level = data.level or corpus.level
    if data.normalize is not None and level != "char":
        raise ConfigError(f"data.normalize: expected level char, got {level!r} (normalisation is for characters)")
    if level == "subword":
        return SubwordTokenizer.train(corpus.train, data.subword_vocab_size)
    if data.normalize is not None:
        return make_tokenizer(level, normalize=data.normalize)
    return make_tokenizer(level)


def boundary_token(tokenizer: Tokenizer) -> str:
    """The token that ends a line in this tokenizer's stream."""
    return getattr(tokenizer, "eol", None) or "\n"


def build_model(vocab: Vocabulary, config: RNNLMConfig, boundary: str) -> RNNLanguageModel:
    """The network for `vocab`; with `config.line_positions`, told the ids of its line marks and boundary."""
    if not config.line_positions:
        return RNNLanguageModel(len(vocab), config)
    marks = [vocab.token_to_id(mark) for mark in config.line_marks if mark in vocab]
    if not marks:
        raise ConfigError(f"model.line_marks: none of {config.line_marks!r} occurs in the training text; "
                          "set model.line_positions: 0 or name the marks that end a line")  # fmt: skip
    return RNNLanguageModel(len(vocab), config, line_mark_ids=marks, boundary_id=vocab.token_to_id(boundary))


def encode_text(text: str, tokenizer: Tokenizer, vocab: Vocabulary, what: str) -> torch.Tensor:
    tokens = tokenizer.tokenize(text)
    if len(tokens) < 2:
        raise DataError(f"the {what} split has {len(tokens)} token(s); a language model needs at least 2")
    return torch.tensor(vocab.encode(tokens), dtype=torch.long)


class LanguageModelTask(TrainTask):
    """Truncated-BPTT language modelling for the shared Trainer.

    Batches are consecutive (inputs, targets) windows of shape (bptt, batch_size); the hidden state is
    carried from one window to the next (detached) and reset at each epoch start. It is part of the
    task's state, so a resumed run continues with exactly the state it had.
    """

    def __init__(self, config: LMTaskConfig, corpus: Corpus | None = None) -> None:
        self.config = config
        self.corpus = corpus or load_corpus(config.data.corpus)
        self.tokenizer = build_tokenizer(self.corpus, config.data)
        train_tokens = self.tokenizer.tokenize(self.corpus.train)
        if len(train_tokens) < 2 * config.batch_size:
            raise DataError(
                f"corpus {self.corpus.name!r}: the train split has {len(train_tokens)} tokens, too few for "
                f"batch_size {config.batch_size}"
            )
        self.boundary = boundary_token(self.tokenizer)
        self.vocab = Vocabulary.build([train_tokens, [self.boundary]], config.data.min_freq, config.data.max_vocab)
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


def primer_text(train_text: str, lines: int = 2, max_chars: int = 1000) -> str:
    """The last `lines` lines of the training text, ending with a newline (see `NeuralLanguageModel`)."""
    tail = "\n".join(train_text.rstrip("\n").split("\n")[-lines:])[-max_chars:]
    return tail + "\n"


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


# --------------------------------------------------------------------------------------- loading
def load_language_model(path: str | Path, device: str | torch.device = "cpu") -> NeuralLanguageModel:
    """Load a saved RNN language model (weights verified against the manifest; no code is unpickled)."""
    checkpoint = load_model_dir(path, "lm", map_location=device)
    try:
        config = config_from_dict(LMTaskConfig, checkpoint.config["config"], source=str(checkpoint.path / "config.json"))
        tokens = checkpoint.read_json(VOCAB_FILE)["tokens"]
        boundary = checkpoint.config["boundary"]
    except (KeyError, TypeError) as error:
        raise CheckpointError(f"{checkpoint.path}: config.json or vocab.json lacks a field ({error})") from None
    vocab = Vocabulary(tokens)
    tokenizer = load_tokenizer(checkpoint.path)
    model = build_model(vocab, config.model, boundary)
    load_model_weights(model, checkpoint)
    model.to(device)
    stop = bool(checkpoint.config.get("stop_at_line_end", True))
    return NeuralLanguageModel(model, tokenizer, vocab, boundary, stop, primer=checkpoint.config.get("primer", ""))


# --------------------------------------------------------------------------------------- evaluation
def evaluate(path: str | Path, request: EvalRequest) -> dict[str, Any]:
    """Perplexity / bits per token of a saved model on a split of its corpus, or on a text file."""
    lm = load_language_model(path)
    checkpoint_config = json.loads((resolve_model_dir(path) / "config.json").read_text(encoding="utf-8"))
    config = config_from_dict(LMTaskConfig, checkpoint_config["config"])
    if request.data_file:
        # A file of the user's: every line a sentence, scored the way `rnnlab score --input` scores it (primed
        # state, boundary first, every token and the closing boundary), so the two commands agree.
        metrics = lm.evaluate_sentences(read_sentences([], request.data_file))
        where = request.data_file
    else:
        # A split of the training corpus: read as one stream, the way training validates (same numbers).
        corpus = load_corpus(config.data.corpus)
        corpus_text = corpus.split(request.split)
        metrics = lm.evaluate_text(corpus_text, batch_size=config.eval_batch_size, bptt=config.bptt)
        where = f"{corpus.name} {request.split}"
    return {"data": where, "level": checkpoint_config.get("level", "word"), **metrics}


def format_evaluation(result: dict[str, Any]) -> str:
    headline = (f"bits per character {result['bpc']:.4f}" if result["level"] == "char"
                else f"perplexity {result['ppl']:.2f}")  # fmt: skip
    sentences = f"{result['sentences']:,} sentences scored like `rnnlab score`, " if "sentences" in result else ""
    return (f"{result['data']}: {headline}  (loss {result['loss']:.4f} nats/token, perplexity {result['ppl']:.2f}, "
            f"{sentences}{result['tokens']:,} tokens, {result['unknown']:,} mapped to <unk>)")  # fmt: skip


DESCRIPTOR = register_task(TaskDescriptor(
    name="lm",
    summary="RNN language model (char / word / subword), truncated BPTT",
    docs="docs/language_models.md",
    config_class=LMTaskConfig,
    build=build,
    load=load_language_model,
    evaluate=evaluate,
    format_eval=format_evaluation,
    verbs=(GENERATE, SCORE),
))  # fmt: skip
