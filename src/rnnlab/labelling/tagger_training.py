"""Training a sequence tagger with the shared Trainer: tag scheme, tag set, vocabularies, the TrainTask."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from rnnlab.config import config_to_dict
from rnnlab.data.tagged import TaggedSentence, check_scheme
from rnnlab.errors import DataError
from rnnlab.labelling.batches import bucketed_batches
from rnnlab.labelling.model_dir import dump_json
from rnnlab.labelling.tagger import Encoder, Tagger
from rnnlab.labelling.vocab import TokenVocab
from rnnlab.nn.tagger import BiRNNTagger
from rnnlab.train import EpochBatches, StepOutput, TrainSetup, TrainTask

__all__ = ["TaggingTask", "build_tagger", "resolve_scheme", "tag_set"]


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


class TaggingTask(TrainTask):
    """What the Trainer needs: length-bucketed batches, the loss, validation accuracy / entity F1."""

    def __init__(self, config, model: BiRNNTagger, encoder: Encoder, scheme: str,
                 splits: dict[str, list[TaggedSentence]], task: str) -> None:  # fmt: skip
        self.config = config
        self.task = task
        self.model = model
        self.encoder = encoder
        self.scheme = scheme
        self.train_set = splits["train"]
        self.valid_set = splits["valid"]
        self.lengths = [len(s.tokens) for s in self.train_set]

    def train_batches(self, epoch: int):
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
        return {"task": self.task, "scheme": self.scheme, "config": config_to_dict(self.config),
                "data": {"dataset": self.config.data.dataset}}

    def checkpoint_files(self) -> dict[str, str]:
        return {"vocab.json": dump_json({**self.encoder.vocab.to_json(), "tags": self.encoder.tags})}


def build_tagger(config, splits: dict[str, list[TaggedSentence]], task: str) -> TrainSetup:
    """The task and model of a tagger `config` for the shared Trainer, trained on `splits`.

    config: `data.scheme`, `model` (a TaggerModelConfig), `batch_size`, `eval_batch_size`, `trainer`; a
    trainer metric of "loss" becomes "f1" (chunk tags) or "accuracy", the numbers `evaluate` reports.
    """
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
    return TrainSetup(task=TaggingTask(config, model, encoder, scheme, splits, task), model=model)
