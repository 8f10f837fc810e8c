"""Training a sentence classifier with the shared Trainer: vocabulary, labels, transfer, the TrainTask.

`build_classifier(config, splits, task)` is the `build` of every text-classification task made with the kit
(`rnnlab.labelling.kit`): it builds the word / character vocabularies on the training split, the label set,
the model (optionally started from a word-level LM, `model.pretrained_lm`, or from another classifier of
the same task, `model.init_from`) and the `ClassificationTask` the Trainer calls.
"""

from __future__ import annotations

import sys

import torch
from torch import Tensor, nn

from rnnlab.config import config_to_dict
from rnnlab.data.labelled import LabelledText
from rnnlab.errors import ConfigError, DataError
from rnnlab.labelling.batches import bucketed_batches
from rnnlab.labelling.classifier import (
    Classifier,
    ModelFactory,
    load_classifier_dir,
    logits_of,
    resolve_tokenizer,
    tokenize,
)
from rnnlab.labelling.model_dir import dump_json
from rnnlab.labelling.vocab import TokenVocab
from rnnlab.nn.classifier import BiRNNClassifier
from rnnlab.train import EpochBatches, StepOutput, TrainSetup, TrainTask

__all__ = ["ClassificationTask", "build_classifier"]


class ClassificationTask(TrainTask):
    """What the Trainer needs: length-bucketed batches, cross-entropy, validation accuracy and loss."""

    def __init__(self, config, classifier: Classifier, splits: dict[str, list[LabelledText]], task: str) -> None:
        self.config = config
        self.task = task
        self.classifier = classifier
        self.model = classifier.model
        self.valid_set = splits["valid"]
        self.train_tokens = [classifier.tokens(x.text, f"{x.source}:{x.line}") for x in splits["train"]]
        self.train_labels = [classifier.labels.index(x.label) for x in splits["train"]]

    def train_batches(self, epoch: int):
        batches = bucketed_batches([len(t) for t in self.train_tokens], self.config.batch_size,
                                   self.config.trainer.seed, epoch)
        return EpochBatches(batches, make=self._batch)

    def _batch(self, indices: list[int]) -> dict[str, Tensor]:
        batch = self.classifier.encode([self.train_tokens[i] for i in indices])
        batch["labels"] = torch.tensor([self.train_labels[i] for i in indices])
        return batch

    def train_step(self, model: nn.Module, batch: dict[str, Tensor]) -> StepOutput:
        logits = logits_of(model(batch))  # the batch is on the Trainer's device already
        return StepOutput(nn.functional.cross_entropy(logits, batch["labels"]), num_tokens=len(batch["labels"]))

    def evaluate(self) -> dict[str, float]:
        result = self.classifier.evaluate(self.valid_set, self.config.eval_batch_size)
        return {"accuracy": result["accuracy"], "loss": result["loss"]}

    def checkpoint_config(self) -> dict:
        return {"task": self.task, "tokenizer": self.classifier.tokenizer, "config": config_to_dict(self.config),
                "data": {"dataset": self.config.data.dataset}}

    def checkpoint_files(self) -> dict[str, str]:
        return {"vocab.json": dump_json({**self.classifier.vocab.to_json(), "labels": self.classifier.labels})}


def build_classifier(config, splits: dict[str, list[LabelledText]], task: str,
                     make_model: ModelFactory = BiRNNClassifier) -> TrainSetup:  # fmt: skip
    """The task and model of `config` for the shared Trainer, trained on `splits` (train / valid / test).

    config: a text-classifier config (`rnnlab.labelling.kit.TextClassifierConfig` or a subclass): its
        `data.tokenizer` / `data.max_length`, `model.lowercase` / `min_freq` / `max_vocab` (and optionally
        `model.pretrained_lm`, `model.init_from`), `batch_size`, `eval_batch_size`, `trainer.seed`.
    task: the task name written into config.json (and that `model.init_from` must have).
    make_model: `(config.model, words, chars, labels) -> nn.Module` (default `BiRNNClassifier`).
    """
    if not splits["valid"]:
        raise DataError("validation split is empty; give data.valid or more training sentences")
    tokenizer = resolve_tokenizer(config.data)
    tokens = [tokenize(x.text, tokenizer, config.data.max_length) for x in splits["train"]]
    vocab = TokenVocab.build(tokens, config.model.lowercase, config.model.min_freq, config.model.max_vocab)
    init_from, pretrained_lm = getattr(config.model, "init_from", None), getattr(config.model, "pretrained_lm", None)
    source = None
    if init_from:  # also on resume: the vocabulary must come out the same
        from rnnlab.labelling.transfer import check_same_architecture, merge_vocabularies

        if pretrained_lm:
            raise ConfigError("model.init_from and model.pretrained_lm: give one; the classifier in "
                              "model.init_from already carries what it was started from")  # fmt: skip
        source = load_classifier_dir(init_from, task, type(config), make_model)
        check_same_architecture(config.model, source.config.model, init_from)
        vocab = merge_vocabularies(source.vocab, vocab)
    pretrained = None
    if pretrained_lm:  # also on resume: the vocabulary must come out the same
        from rnnlab.labelling.pretrained_lm import extend_vocabulary, read_pretrained_lm

        pretrained = read_pretrained_lm(pretrained_lm)
        vocab.words = extend_vocabulary(vocab.words, pretrained, vocab.lowercase)
    labels = sorted({x.label for x in splits["train"]})
    if len(labels) < 2:
        raise DataError(f"training data has {len(labels)} label(s); a classifier needs at least 2")
    torch.manual_seed(config.trainer.seed)
    model = make_model(config.model, len(vocab.words), len(vocab.chars), len(labels))
    if pretrained is not None:
        from rnnlab.labelling.pretrained_lm import initialise_from_lm

        summary = initialise_from_lm(model.embed.words, vocab.words, model.rnn, config.model.rnn, pretrained,
                                     vocab.lowercase)  # fmt: skip
        print(f"rnnlab: started from {pretrained_lm}: {summary}", file=sys.stderr)
    if source is not None:
        from rnnlab.labelling.transfer import copy_classifier_weights

        summary = copy_classifier_weights(model, source.model, same_labels=labels == source.labels)
        print(f"rnnlab: started from the classifier {init_from}: {summary}", file=sys.stderr)
    classifier = Classifier(model, vocab, labels, config, tokenizer)
    model.train()
    return TrainSetup(task=ClassificationTask(config, classifier, splits, task), model=model)
