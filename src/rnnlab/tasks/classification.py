"""Sentence classification (sequence to vector): BiRNN encoder -> pooling -> label probabilities.

    tokens -> embeddings -> BiLSTM/BiGRU -> last state | mean | max | attention pooling -> softmax

Data: a built-in dataset (`en-sentiment`, `zh-sentiment`) or `label<TAB>text` files.
`load_classifier(path).probabilities(texts)` gives {label: probability} per text.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from rnnlab.config import config_from_dict, config_to_dict
from rnnlab.data.labelled import LabelledText
from rnnlab.data.tagged import read_lines
from rnnlab.errors import CheckpointError, ConfigError, DataError
from rnnlab.nn.classifier import BiRNNClassifier, ClassifierModelConfig
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
from rnnlab.tasks.labelling_metrics import confusion, format_confusion
from rnnlab.tasks.registry import EvalRequest, TaskDescriptor, register_task
from rnnlab.train import EpochBatches, StepOutput, TrainerConfig, TrainSetup, TrainTask, load_model_weights
from rnnlab.verbs import Verb

TASK = "classifier"


@dataclass
class ClassifierDataConfig:
    dataset: str | None = "en-sentiment"  # built-in (rnnlab.data.labelled) or None for files
    train: str | None = None  # `label<TAB>text` lines
    valid: str | None = None
    test: str | None = None
    tokenizer: Literal["auto", "whitespace", "chars"] = "auto"  # auto: chars for zh-* datasets
    max_train_sentences: int | None = None
    max_length: int = 200  # tokens kept per sentence (long reviews are truncated)


@dataclass
class ClassifierConfig:
    data: ClassifierDataConfig = field(default_factory=ClassifierDataConfig)
    model: ClassifierModelConfig = field(default_factory=ClassifierModelConfig)
    batch_size: int = 32
    eval_batch_size: int = 128
    output_dir: str = "runs/classifier"
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(metric="accuracy", mode="max"))


def tokenize(text: str, tokenizer: str, max_length: int) -> list[str]:
    tokens = [c for c in text if not c.isspace()] if tokenizer == "chars" else text.split()
    return tokens[:max_length]


def read_labelled_file(path: str) -> list[LabelledText]:
    """`label<TAB>text` lines; DataError names the file and line of a malformed one."""
    examples = []
    for number, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        label, tab, text = line.partition("\t")
        if not tab or not label.strip():
            raise DataError(f"{path}:{number}: expected 'label<TAB>text', found no tab-separated label")
        if not text.strip():
            raise DataError(f"{path}:{number}: empty sentence after the label {label!r}")
        examples.append(LabelledText(text.strip(), label.strip(), path, number))
    if not examples:
        raise DataError(f"{path}: no examples found")
    return examples


def load_splits(data: ClassifierDataConfig) -> dict[str, list[LabelledText]]:
    return labelled_splits(data, "labelled", read_labelled_file, "a label<TAB>text file")


def resolve_tokenizer(data: ClassifierDataConfig) -> str:
    if data.tokenizer != "auto":
        return data.tokenizer
    return "chars" if (data.dataset or "").startswith("zh") else "whitespace"


class Classifier:
    """A trained classifier: `probabilities(texts)` and `evaluate(examples)`."""

    def __init__(self, model: BiRNNClassifier, vocab: TokenVocab, labels: Sequence[str],
                 config: ClassifierConfig, tokenizer: str) -> None:
        self.model = model.eval()
        self.vocab = vocab
        self.labels = list(labels)
        self.config = config
        self.tokenizer = tokenizer

    def _tokens(self, text: str, where: str = "<input>") -> list[str]:
        tokens = tokenize(text, self.tokenizer, self.config.data.max_length)
        if not tokens:
            raise DataError(f"{where}: empty sentence; expected at least one word")
        return tokens

    def encode(self, token_lists: Sequence[Sequence[str]]) -> dict[str, Tensor]:
        return self.vocab.encode(token_lists, with_chars=self.model.embed.use_chars)

    @torch.no_grad()
    def probability_matrix(self, texts: Sequence[str], batch_size: int = 128) -> Tensor:
        """(N, C) label probabilities, batched by length."""
        tokens = [self._tokens(text, f"sentence {i + 1}") for i, text in enumerate(texts)]
        probs = torch.zeros(len(texts), len(self.labels))
        device = next(self.model.parameters()).device
        for indices in sorted_batches([len(t) for t in tokens], batch_size):
            batch = self.encode([tokens[i] for i in indices])
            logits, _ = self.model({k: v.to(device) for k, v in batch.items()})
            probs[indices] = torch.softmax(logits.float(), dim=1).cpu()
        return probs

    def probabilities(self, texts: Sequence[str]) -> list[dict[str, float]]:
        matrix = self.probability_matrix(texts)
        return [dict(zip(self.labels, row.tolist())) for row in matrix]

    def evaluate(self, examples: Sequence[LabelledText], batch_size: int = 128) -> dict:
        for example in examples:
            if example.label not in self.labels:
                raise DataError(f"{example.source}:{example.line}: unknown label {example.label!r}; "
                                f"this model knows {', '.join(self.labels)}")
        start = time.perf_counter()
        probs = self.probability_matrix([x.text for x in examples], batch_size)
        seconds = time.perf_counter() - start
        predicted = [self.labels[i] for i in probs.argmax(1).tolist()]
        gold = [x.label for x in examples]
        gold_ids = torch.tensor([self.labels.index(g) for g in gold])
        loss = nn.functional.nll_loss(probs.clamp_min(1e-12).log(), gold_ids).item()
        return {
            "examples": len(examples),
            "accuracy": sum(p == g for p, g in zip(predicted, gold)) / len(examples),
            "loss": loss,
            "sentences_per_second": len(examples) / max(seconds, 1e-9),
            "confusion": confusion(gold, predicted, self.labels),
            "predicted": predicted,
        }


def load_classifier(path: str | Path) -> Classifier:
    checkpoint = read_model_dir(path, TASK)
    config = config_from_dict(ClassifierConfig, checkpoint.config["config"], source=str(checkpoint.path))
    files = read_json_file(checkpoint, "vocab.json")
    try:
        vocab, labels = TokenVocab.from_json(files), list(files["labels"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{checkpoint.path}: malformed vocab.json ({error})") from None
    model = BiRNNClassifier(config.model, len(vocab.words), len(vocab.chars), len(labels))
    load_model_weights(model, checkpoint)
    return Classifier(model, vocab, labels, config, checkpoint.config["tokenizer"])


class ClassificationTask(TrainTask):
    def __init__(self, config: ClassifierConfig, classifier: Classifier, splits: dict[str, list[LabelledText]]):
        self.config = config
        self.classifier = classifier
        self.model = classifier.model
        self.valid_set = splits["valid"]
        self.train_tokens = [classifier._tokens(x.text, f"{x.source}:{x.line}") for x in splits["train"]]
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
        logits, _ = model(batch)  # the batch is on the Trainer's device already
        return StepOutput(nn.functional.cross_entropy(logits, batch["labels"]), num_tokens=len(batch["labels"]))

    def evaluate(self) -> dict[str, float]:
        result = self.classifier.evaluate(self.valid_set, self.config.eval_batch_size)
        return {"accuracy": result["accuracy"], "loss": result["loss"]}

    def checkpoint_config(self) -> dict:
        return {"task": TASK, "tokenizer": self.classifier.tokenizer, "config": config_to_dict(self.config),
                "data": {"dataset": self.config.data.dataset}}

    def checkpoint_files(self) -> dict[str, str]:
        return {"vocab.json": dump_json({**self.classifier.vocab.to_json(), "labels": self.classifier.labels})}


def build(config: ClassifierConfig) -> TrainSetup:
    """The task and model of `config` for the shared Trainer (`rnnlab train`, `rnnlab.train.run.train_task`)."""
    splits = load_splits(config.data)
    if not splits["valid"]:
        raise DataError("validation split is empty; give data.valid or more training sentences")
    tokenizer = resolve_tokenizer(config.data)
    tokens = [tokenize(x.text, tokenizer, config.data.max_length) for x in splits["train"]]
    vocab = TokenVocab.build(tokens, config.model.lowercase, config.model.min_freq, config.model.max_vocab)
    source = None
    if config.model.init_from:  # also on resume: the vocabulary must come out the same
        from rnnlab.tasks.classifier_transfer import check_same_architecture, merge_vocabularies

        if config.model.pretrained_lm:
            raise ConfigError("model.init_from and model.pretrained_lm: give one; the classifier in "
                              "model.init_from already carries what it was started from")  # fmt: skip
        source = load_classifier(config.model.init_from)
        check_same_architecture(config.model, source.config.model, config.model.init_from)
        vocab = merge_vocabularies(source.vocab, vocab)
    pretrained = None
    if config.model.pretrained_lm:  # also on resume: the vocabulary must come out the same
        from rnnlab.tasks.pretrained_lm import extend_vocabulary, read_pretrained_lm

        pretrained = read_pretrained_lm(config.model.pretrained_lm)
        vocab.words = extend_vocabulary(vocab.words, pretrained, vocab.lowercase)
    labels = sorted({x.label for x in splits["train"]})
    if len(labels) < 2:
        raise DataError(f"training data has {len(labels)} label(s); a classifier needs at least 2")
    torch.manual_seed(config.trainer.seed)
    model = BiRNNClassifier(config.model, len(vocab.words), len(vocab.chars), len(labels))
    if pretrained is not None:
        from rnnlab.tasks.pretrained_lm import initialise_from_lm

        summary = initialise_from_lm(model.embed.words, vocab.words, model.rnn, config.model.rnn, pretrained,
                                     vocab.lowercase)  # fmt: skip
        print(f"rnnlab: started from {config.model.pretrained_lm}: {summary}", file=sys.stderr)
    if source is not None:
        from rnnlab.tasks.classifier_transfer import copy_classifier_weights

        summary = copy_classifier_weights(model, source.model, same_labels=labels == source.labels)
        print(f"rnnlab: started from the classifier {config.model.init_from}: {summary}", file=sys.stderr)
    classifier = Classifier(model, vocab, labels, config, tokenizer)
    model.train()
    return TrainSetup(task=ClassificationTask(config, classifier, splits), model=model)


def evaluate_dataset_split(path: str | Path, split: str, batch_size: int | None = 128,
                           data_file: str | None = None) -> dict:
    """Accuracy, loss and confusion counts (with their `labels`) of a saved classifier on a split of its data
    (or a labelled file); `batch_size` None: the model's `eval_batch_size`."""
    classifier = load_classifier(path)
    request = EvalRequest(split, data_file)
    examples = read_labelled_file(data_file) if data_file else request.examples_of(load_splits(classifier.config.data))
    if batch_size is None:
        batch_size = classifier.config.eval_batch_size
    return {**classifier.evaluate(examples, batch_size), "labels": list(classifier.labels)}  # the confusion's axes


def evaluate(path: str | Path, request: EvalRequest) -> dict:
    """Accuracy, loss and the confusion matrix; its plot is an artifact ("artifacts": [confusion.png]), never
    written into the model directory."""
    result = evaluate_dataset_split(path, request.split, None, request.data_file)
    result["artifacts"] = [confusion_artifact(result["confusion"], result["labels"])]  # the caller writes it
    return result


def format_evaluation(result: dict) -> str:
    return "\n".join([
        f"examples {result['examples']}  accuracy {100 * result['accuracy']:.2f}%  "
        f"loss {result['loss']:.4f}  ({result['sentences_per_second']:.0f} sentences/s)",
        format_confusion(result["confusion"], result["labels"]),
    ])  # fmt: skip


# --- the classify verb -------------------------------------------------------------------------------
@dataclass
class ClassifyOptions:
    top_k: int | None = field(default=None, metadata={"help": "show the k most probable labels"})


def run_classify(classifier: Classifier, texts: list[str], options: ClassifyOptions) -> Iterator[dict]:
    """Per text: the most probable label and the probabilities of the top-k labels (the best one only by default)."""
    for text, probs in zip(texts, classifier.probabilities(texts)):
        ranked = sorted(probs.items(), key=lambda item: -item[1])
        yield {"text": text, "label": ranked[0][0], "probabilities": dict(ranked[: options.top_k or 1])}


def format_classified(result: dict, options: ClassifyOptions) -> str:
    labels = "  ".join(f"{label} {p:.3f}" for label, p in result["probabilities"].items())
    return f"{labels}\t{result['text']}"


CLASSIFY = Verb(name="classify", help="label sentences with a trained classifier", options=ClassifyOptions,
                run=run_classify, what="sentences", format=format_classified)


DESCRIPTOR = register_task(TaskDescriptor(
    name=TASK,
    summary="BiRNN sentence classifier",
    docs="docs/labelling.md",
    config_class=ClassifierConfig,
    build=build,
    load=load_classifier,
    evaluate=evaluate,
    format_eval=format_evaluation,
    verbs=(CLASSIFY,),
))  # fmt: skip
