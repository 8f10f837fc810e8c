"""A trained sentence classifier: label probabilities for texts, and its evaluation on labelled examples.

    classifier = load_classifier_dir("runs/classifier", "classifier", ClassifierConfig)
    classifier.probabilities(["a gripping film"])     # [{"neg": 0.08, "pos": 0.92}]
    classifier.evaluate(examples)                      # accuracy, loss, confusion counts, predictions

The model is any torch module called as `model(batch)` on `TokenVocab.encode`'s batch dict ("words" (N, L),
"mask" (N, L), "chars" (N, L, C) when it uses characters) that returns logits (N, C), or a tuple whose first
item is the logits (`rnnlab.nn.classifier.BiRNNClassifier` returns (logits, attention weights)).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnlab.config import config_from_dict
from rnnlab.data.labelled import LabelledText
from rnnlab.errors import CheckpointError, DataError
from rnnlab.labelling.batches import sorted_batches
from rnnlab.labelling.metrics import confusion, format_confusion
from rnnlab.labelling.model_dir import read_json_file
from rnnlab.labelling.vocab import TokenVocab
from rnnlab.nn.classifier import BiRNNClassifier
from rnnlab.train import load_model_weights
from rnnlab.train.checkpoint import load_model_dir

__all__ = ["Classifier", "ModelFactory", "format_classifier_evaluation", "load_classifier_dir", "logits_of",
           "resolve_tokenizer", "tokenize", "uses_chars"]

#: `(model config, number of words, number of characters, number of labels) -> nn.Module`
ModelFactory = Callable[[Any, int, int, int], nn.Module]


def tokenize(text: str, tokenizer: str, max_length: int) -> list[str]:
    """Whitespace-separated words, or the non-space characters ("chars"), cut to `max_length`."""
    tokens = [c for c in text if not c.isspace()] if tokenizer == "chars" else text.split()
    return tokens[:max_length]


def resolve_tokenizer(data) -> str:
    """`data.tokenizer`, with "auto" read as chars for zh-* datasets and whitespace otherwise."""
    if data.tokenizer != "auto":
        return data.tokenizer
    return "chars" if (data.dataset or "").startswith("zh") else "whitespace"


def uses_chars(model: nn.Module) -> bool:
    """Whether `model` reads character ids: its `uses_chars`, else its `embed.use_chars`, else False."""
    if hasattr(model, "uses_chars"):
        return bool(model.uses_chars)
    return bool(getattr(getattr(model, "embed", None), "use_chars", False))


def logits_of(output: Tensor | tuple) -> Tensor:
    """The logits (N, C) of a classifier's output (a tensor, or a tuple whose first item is the logits)."""
    return output[0] if isinstance(output, (tuple, list)) else output


class Classifier:
    """A trained classifier: `probabilities(texts)` and `evaluate(examples)`."""

    def __init__(self, model: nn.Module, vocab: TokenVocab, labels: Sequence[str], config, tokenizer: str) -> None:
        self.model = model.eval()
        self.vocab = vocab
        self.labels = list(labels)
        self.config = config
        self.tokenizer = tokenizer

    def tokens(self, text: str, where: str = "<input>") -> list[str]:
        """The tokens the model reads for `text`; DataError (naming `where`) for an empty one."""
        tokens = tokenize(text, self.tokenizer, self.config.data.max_length)
        if not tokens:
            raise DataError(f"{where}: empty sentence; expected at least one word")
        return tokens

    def encode(self, token_lists: Sequence[Sequence[str]]) -> dict[str, Tensor]:
        return self.vocab.encode(token_lists, with_chars=uses_chars(self.model))

    @torch.no_grad()
    def probability_matrix(self, texts: Sequence[str], batch_size: int = 128) -> Tensor:
        """(N, C) label probabilities, batched by length."""
        tokens = [self.tokens(text, f"sentence {i + 1}") for i, text in enumerate(texts)]
        probs = torch.zeros(len(texts), len(self.labels))
        device = next(self.model.parameters()).device
        for indices in sorted_batches([len(t) for t in tokens], batch_size):
            batch = self.encode([tokens[i] for i in indices])
            logits = logits_of(self.model({k: v.to(device) for k, v in batch.items()}))
            probs[indices] = torch.softmax(logits.float(), dim=1).cpu()
        return probs

    def probabilities(self, texts: Sequence[str]) -> list[dict[str, float]]:
        matrix = self.probability_matrix(texts)
        return [dict(zip(self.labels, row.tolist())) for row in matrix]

    def evaluate(self, examples: Sequence[LabelledText], batch_size: int = 128) -> dict:
        """examples, accuracy, loss, sentences_per_second, confusion counts (rows gold) and the predictions."""
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


def load_classifier_dir(path: str | Path, task: str, config_class: type,
                        make_model: ModelFactory = BiRNNClassifier) -> Classifier:  # fmt: skip
    """The classifier saved in `path` by task `task` (config.json's "config" read into `config_class`,
    vocab.json's words, characters and labels, the weights into `make_model(config.model, ...)`)."""
    checkpoint = load_model_dir(path, task)
    config = config_from_dict(config_class, checkpoint.config["config"], source=str(checkpoint.path))
    files = read_json_file(checkpoint, "vocab.json")
    try:
        vocab, labels = TokenVocab.from_json(files), list(files["labels"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{checkpoint.path}: malformed vocab.json ({error})") from None
    model = make_model(config.model, len(vocab.words), len(vocab.chars), len(labels))
    load_model_weights(model, checkpoint)
    return Classifier(model, vocab, labels, config, checkpoint.config["tokenizer"])


def format_classifier_evaluation(result: dict) -> str:
    """What `rnnlab eval` prints for a classifier: accuracy, loss, speed and the confusion table."""
    return "\n".join([
        f"examples {result['examples']}  accuracy {100 * result['accuracy']:.2f}%  "
        f"loss {result['loss']:.4f}  ({result['sentences_per_second']:.0f} sentences/s)",
        format_confusion(result["confusion"], result["labels"]),
    ])  # fmt: skip
