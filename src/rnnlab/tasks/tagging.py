"""Sequence tagging (synchronous seq2seq: one tag per token): POS and NER with a BiLSTM(-CRF).

    words + character BiRNN features -> stacked BiLSTM/BiGRU -> per-token scores -> softmax or CRF

`build(config)` sets up the shared Trainer (`rnnlab train` writes `<output_dir>/best` and `/last`);
`load_tagger(path)` gives a `Tagger` whose `tag(sentences)` returns tags (batched, vectorised Viterbi);
`DESCRIPTOR` registers the task (`rnnlab train`, `eval`, `tag` find it there).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

from rnnlab.config import config_from_dict, config_to_dict
from rnnlab.data.tagged import TaggedSentence, check_scheme, format_tagged, parse_tagged, read_tagged
from rnnlab.errors import CheckpointError, DataError
from rnnlab.nn.tagger import BiRNNTagger, TaggerModelConfig
from rnnlab.tasks.labelling_common import (
    TokenVocab,
    bucketed_batches,
    confusion_artifact,
    dump_json,
    labelled_splits,
    read_json_file,
    read_model_dir,
    sorted_batches,
)
from rnnlab.tasks.labelling_metrics import (
    accuracy,
    confusion,
    entity_scores,
    format_confusion,
)
from rnnlab.tasks.registry import EvalRequest, TaskDescriptor, register_task
from rnnlab.train import StepOutput, TrainerConfig, TrainSetup, TrainTask, load_model_weights
from rnnlab.verbs import Verb

TASK = "tagger"


# --- configuration -----------------------------------------------------------------------------------

@dataclass
class TaggerDataConfig:
    dataset: str | None = "en-pos"  # a built-in dataset (rnnlab.data.labelled), or None to use files
    train: str | None = None  # tagged files (word/TAG, CoNLL, CoNLL-U) when dataset is None
    valid: str | None = None
    test: str | None = None
    format: str = "auto"
    tag_column: str = "upos"  # CoNLL-U only
    scheme: Literal["auto", "none", "bio", "bioes"] = "auto"  # auto: BIO if tags look like B-/I-, else none
    max_train_sentences: int | None = None  # keep N training sentences spread over the corpus


@dataclass
class TaggerConfig:
    data: TaggerDataConfig = field(default_factory=TaggerDataConfig)
    model: TaggerModelConfig = field(default_factory=TaggerModelConfig)
    batch_size: int = 32
    eval_batch_size: int = 128
    output_dir: str = "runs/tagger"
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(metric="accuracy", mode="max"))


# --- data --------------------------------------------------------------------------------------------

def load_splits(data: TaggerDataConfig) -> dict[str, list[TaggedSentence]]:
    """train / valid / test tagged sentences from a built-in dataset or from files."""
    return labelled_splits(data, "tagged", lambda path: read_tagged(path, data.format, data.tag_column),
                           "a tagged file")  # fmt: skip


def resolve_scheme(scheme: str, sentences: Sequence[TaggedSentence]) -> str:
    """"none" for POS-like tags, "bio"/"bioes" for chunk tags (and check every tag follows it)."""
    if scheme == "auto":
        tags = {t for s in sentences for t in s.tags or []}
        prefixed = all(t == "O" or (len(t) > 2 and t[1] == "-" and t[0] in "BIES") for t in tags)
        scheme = "none" if not prefixed or "O" not in tags else (
            "bioes" if any(t[0] in "ES" for t in tags if t != "O") else "bio")
    if scheme != "none":
        for sentence in sentences:
            check_scheme(sentence, scheme)
    return scheme


def tag_set(sentences: Sequence[TaggedSentence], scheme: str) -> list[str]:
    """Tags seen in training; for chunk schemes every prefix of every seen type (B-X implies I-X)."""
    tags = {t for s in sentences for t in s.tags or []}
    if scheme in ("bio", "bioes"):
        prefixes = "BI" if scheme == "bio" else "BIES"
        tags |= {f"{p}-{t[2:]}" for t in tags if t != "O" for p in prefixes} | {"O"}
    return sorted(tags)


class Encoder:
    """Sentences -> padded id tensors for one model (vocabularies + tag list)."""

    def __init__(self, vocab: TokenVocab, tags: Sequence[str], use_chars: bool) -> None:
        self.vocab = vocab
        self.tags = list(tags)
        self.tag_ids = {t: i for i, t in enumerate(self.tags)}
        self.use_chars = use_chars

    def batch(self, sentences: Sequence[TaggedSentence], with_tags: bool) -> dict[str, Tensor]:
        batch = self.vocab.encode([s.tokens for s in sentences], with_chars=self.use_chars)
        if with_tags:
            tags = torch.zeros_like(batch["words"])
            for i, sentence in enumerate(sentences):
                tags[i, : len(sentence.tokens)] = torch.tensor(self.tag_ids_of(sentence))
            batch["tags"] = tags
        return batch

    def tag_ids_of(self, sentence: TaggedSentence) -> list[int]:
        ids = []
        for offset, tag in enumerate(sentence.tags or []):
            if tag not in self.tag_ids:
                raise DataError(
                    f"{sentence.source}:{sentence.line + offset if sentence.rows else sentence.line}: "
                    f"unknown tag {tag!r}; this model knows {len(self.tags)} tags: {', '.join(self.tags[:20])}"
                    + (" ..." if len(self.tags) > 20 else "")
                )
            ids.append(self.tag_ids[tag])
        return ids


# --- the trained model -------------------------------------------------------------------------------

class Tagger:
    """A trained tagger: `tag(token lists)` -> tag lists, batched by length."""

    def __init__(self, model: BiRNNTagger, encoder: Encoder, config: TaggerConfig, scheme: str) -> None:
        self.model = model.eval()
        self.encoder = encoder
        self.config = config
        self.scheme = scheme

    @property
    def tags(self) -> list[str]:
        return self.encoder.tags

    def predict_sentences(self, sentences: Sequence[TaggedSentence], batch_size: int = 128) -> list[list[str]]:
        output: list[list[str] | None] = [None] * len(sentences)
        device = next(self.model.parameters()).device
        for indices in sorted_batches([len(s.tokens) for s in sentences], batch_size):
            batch = self.encoder.batch([sentences[i] for i in indices], with_tags=False)
            predicted = self.model.predict({k: v.to(device) for k, v in batch.items()}).cpu()
            for row, i in enumerate(indices):
                output[i] = [self.tags[t] for t in predicted[row, : len(sentences[i].tokens)].tolist()]
        return output  # type: ignore[return-value]

    def tag(self, sentences: Sequence[Sequence[str]], batch_size: int = 128) -> list[list[str]]:
        return self.predict_sentences([TaggedSentence(list(s)) for s in sentences], batch_size)

    def evaluate(self, sentences: Sequence[TaggedSentence], batch_size: int = 128) -> dict:
        """Accuracy, entity P/R/F1 (chunk schemes), confusion counts, and sentences/s."""
        for sentence in sentences:
            self.encoder.tag_ids_of(sentence)  # unknown gold tags: a clear error before any work
        start = time.perf_counter()
        predicted = self.predict_sentences(sentences, batch_size)
        seconds = time.perf_counter() - start
        gold = [s.tags for s in sentences]
        result = {
            "sentences": len(sentences),
            "tokens": sum(len(s.tokens) for s in sentences),
            "accuracy": accuracy(gold, predicted),
            "sentences_per_second": len(sentences) / max(seconds, 1e-9),
            "predicted": predicted,
            "entity_f1": None,
            "tags": self.tags,
        }
        if self.scheme in ("bio", "bioes"):
            scores = entity_scores(gold, predicted)
            result["entities"] = {k: asdict(v) for k, v in scores.items()}
            result["entity_f1"] = scores["micro"].f1
        flat_gold = [t for tags in gold for t in tags]
        flat_pred = [t for tags in predicted for t in tags]
        result["confusion"] = confusion(flat_gold, flat_pred, self.tags)
        return result


def load_tagger(path: str | Path) -> Tagger:
    checkpoint = read_model_dir(path, TASK)
    config = config_from_dict(TaggerConfig, checkpoint.config["config"], source=str(checkpoint.path))
    files = read_json_file(checkpoint, "vocab.json")
    try:
        vocab = TokenVocab.from_json(files)
        tags, scheme = list(files["tags"]), checkpoint.config["scheme"]
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{checkpoint.path}: malformed vocab.json ({error})") from None
    model = BiRNNTagger(config.model, len(vocab.words), len(vocab.chars), tags, scheme)
    load_model_weights(model, checkpoint)
    return Tagger(model, Encoder(vocab, tags, model.embed.use_chars), config, scheme)


# --- training ----------------------------------------------------------------------------------------

class TaggingTask(TrainTask):
    """What the Trainer needs: length-bucketed batches, the loss, validation accuracy / entity F1."""

    def __init__(self, config: TaggerConfig, model: BiRNNTagger, encoder: Encoder, scheme: str,
                 splits: dict[str, list[TaggedSentence]]) -> None:
        self.config = config
        self.model = model
        self.encoder = encoder
        self.scheme = scheme
        self.train_set = splits["train"]
        self.valid_set = splits["valid"]
        self.lengths = [len(s.tokens) for s in self.train_set]

    def train_batches(self, epoch: int):
        from rnnlab.train import EpochBatches

        batches = bucketed_batches(self.lengths, self.config.batch_size, self.config.trainer.seed, epoch)
        return EpochBatches(batches, make=lambda idx: self.encoder.batch([self.train_set[i] for i in idx], True))

    def train_step(self, model: torch.nn.Module, batch: dict[str, Tensor]) -> StepOutput:
        # the batch is on the Trainer's device already; `loss` is BiRNNTagger's (a wrapper passes it on)
        return StepOutput(model(batch), num_tokens=int(batch["mask"].sum()))  # forward = the loss

    def evaluate(self) -> dict[str, float]:
        tagger = Tagger(self.model, self.encoder, self.config, self.scheme)
        result = tagger.evaluate(self.valid_set, self.config.eval_batch_size)
        metrics = {"accuracy": result["accuracy"]}
        if result["entity_f1"] is not None:
            metrics["f1"] = result["entity_f1"]
        return metrics

    def checkpoint_config(self) -> dict:
        return {"task": TASK, "scheme": self.scheme, "config": config_to_dict(self.config),
                "data": {"dataset": self.config.data.dataset}}

    def checkpoint_files(self) -> dict[str, str]:
        return {"vocab.json": dump_json({**self.encoder.vocab.to_json(), "tags": self.encoder.tags})}


def build(config: TaggerConfig) -> TrainSetup:
    """The task and model of `config` for the shared Trainer (`rnnlab train` keeps the best model under
    <output_dir>/best)."""
    splits = load_splits(config.data)
    if not splits["valid"]:
        raise DataError("validation split is empty; give data.valid or more training sentences")
    scheme = resolve_scheme(config.data.scheme, splits["train"])
    if config.trainer.metric == "loss":  # evaluate() reports accuracy / f1: pick the one that fits the tags
        config.trainer.metric, config.trainer.mode = ("f1" if scheme != "none" else "accuracy"), "max"
    vocab = TokenVocab.build([s.tokens for s in splits["train"]], config.model.lowercase,
                             config.model.min_freq, config.model.max_vocab)
    tags = tag_set(splits["train"], scheme)
    torch.manual_seed(config.trainer.seed)
    model = BiRNNTagger(config.model, len(vocab.words), len(vocab.chars), tags, scheme)
    encoder = Encoder(vocab, tags, model.embed.use_chars)
    # Validation tags never seen in training would crash evaluation later: say so now.
    for sentence in splits["valid"]:
        encoder.tag_ids_of(sentence)
    return TrainSetup(task=TaggingTask(config, model, encoder, scheme, splits), model=model)


# --- commands ----------------------------------------------------------------------------------------

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


def format_evaluation(result: dict) -> str:
    lines = [f"sentences {result['sentences']}  tokens {result['tokens']}  "
             f"accuracy {100 * result['accuracy']:.2f}%  ({result['sentences_per_second']:.0f} sentences/s)"]
    if result["entity_f1"] is not None:
        lines.append(f"{'entity':12s} {'precision':>9s} {'recall':>7s} {'F1':>7s} {'support':>8s}")
        for name, s in result["entities"].items():
            lines.append(f"{name:12s} {100 * s['precision']:9.2f} {100 * s['recall']:7.2f} {100 * s['f1']:7.2f} "
                         f"{s['support']:8d}")
    lines.append("confusion (most frequent gold tags; rows gold, columns predicted):")
    lines.append(format_confusion(result["confusion"], result["tags"]))
    return "\n".join(lines)


# --- the tag verb ------------------------------------------------------------------------------------
@dataclass
class TagOptions:
    format: Literal["auto", "slash", "conll", "conllu", "text"] = field(
        default="auto", metadata={"help": "input file format (auto: detected)"})
    output: str | None = field(default=None, metadata={"help": "write here instead of stdout (the input's format)"})
    batch_size: int = field(default=128, metadata={"help": "sentences per batch"})


def read_tag_input(path: str, options: TagOptions) -> list[TaggedSentence]:
    """`--input FILE` ('-': stdin): word/TAG, CoNLL, CoNLL-U or plain text, tags not needed."""
    if path == "-":
        return parse_tagged(sys.stdin.read().splitlines(), options.format, "<stdin>", require_tags=False)
    return read_tagged(path, options.format, require_tags=False)


def run_tag(tagger: Tagger, inputs: list, options: TagOptions) -> Iterator[dict]:
    """Per sentence: tokens, predicted tags, and the sentence written back in its input's format ("text").

    Inputs are strings (tokens separated by spaces) or `TaggedSentence`s read from a file (`read_tag_input`),
    which keep their columns and comments so CoNLL / CoNLL-U round-trip.
    """
    sentences = [item if isinstance(item, TaggedSentence) else TaggedSentence(item.split(), None, "<command line>", i + 1)
                 for i, item in enumerate(inputs)]  # fmt: skip
    column = tagger.config.data.tag_column
    for sentence, tags in zip(sentences, tagger.predict_sentences(sentences, options.batch_size)):
        tagged = TaggedSentence(sentence.tokens, tags, sentence.source, sentence.line, sentence.rows, sentence.comments)
        fmt = sentence.format or "text"  # typed on the command line: word/TAG
        block = fmt in ("conll", "conllu")  # sentences of these are separated by a blank line
        yield {"tokens": tagged.tokens, "tags": tags, "text": format_tagged([tagged], fmt, column) + "\n" * block}


def format_tagged_results(results: list[dict], options: TagOptions) -> str:
    """All sentences as the input had them (CoNLL blocks separated by one blank line, none after the last)."""
    text = "".join(result["text"] for result in results)
    return text[:-1] if text.endswith("\n\n") else text


TAG = Verb(
    name="tag", help="tag sentences with a trained tagger", options=TagOptions, run=run_tag, what="sentences",
    read_file=read_tag_input, format_all=format_tagged_results,
    description="Tag sentences (tokens separated by spaces) or a file: word/TAG, CoNLL, CoNLL-U or plain text",
)


DESCRIPTOR = register_task(TaskDescriptor(
    name=TASK,
    summary="BiLSTM(-CRF) POS / NER tagger",
    docs="docs/labelling.md",
    config_class=TaggerConfig,
    build=build,
    load=load_tagger,
    evaluate=evaluate,
    format_eval=format_evaluation,
    verbs=(TAG,),
))  # fmt: skip
