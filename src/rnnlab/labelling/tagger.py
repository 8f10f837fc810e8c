"""A trained sequence tagger (one tag per token): batched tagging and evaluation (accuracy, entity P/R/F1).

    tagger = load_tagger_dir("runs/tagger-en-pos", "tagger", TaggerConfig)
    tagger.tag([["The", "cat", "sat", "."]])           # [["DT", "NN", "VBD", "."]]
    tagger.evaluate(sentences)                          # accuracy, entities (chunk schemes), confusion

The model is `rnnlab.nn.tagger.BiRNNTagger` (softmax or CRF output; `predict(batch)` gives tag ids (N, L)).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch
from torch import Tensor

from rnnlab.config import config_from_dict
from rnnlab.data.tagged import TaggedSentence
from rnnlab.errors import CheckpointError, DataError
from rnnlab.labelling.batches import sorted_batches
from rnnlab.labelling.metrics import accuracy, confusion, entity_scores, format_confusion
from rnnlab.labelling.model_dir import read_json_file
from rnnlab.labelling.vocab import TokenVocab
from rnnlab.nn.tagger import BiRNNTagger
from rnnlab.train import load_model_weights
from rnnlab.train.checkpoint import load_model_dir

__all__ = ["Encoder", "Tagger", "format_tagger_evaluation", "load_tagger_dir"]


class Encoder:
    """Sentences -> padded id tensors for one model (vocabularies + tag list)."""

    def __init__(self, vocab: TokenVocab, tags: Sequence[str], use_chars: bool) -> None:
        self.vocab = vocab
        self.tags = list(tags)
        self.tag_ids = {t: i for i, t in enumerate(self.tags)}
        self.use_chars = use_chars

    def batch(self, sentences: Sequence[TaggedSentence], with_tags: bool) -> dict[str, Tensor]:
        """{"words" (N, L), "mask" (N, L), "chars" (N, L, C) if the model uses them, "tags" (N, L) if asked}."""
        batch = self.vocab.encode([s.tokens for s in sentences], with_chars=self.use_chars)
        if with_tags:
            tags = torch.zeros_like(batch["words"])
            for i, sentence in enumerate(sentences):
                tags[i, : len(sentence.tokens)] = torch.tensor(self.tag_ids_of(sentence))
            batch["tags"] = tags
        return batch

    def tag_ids_of(self, sentence: TaggedSentence) -> list[int]:
        """The ids of a sentence's gold tags; DataError naming the file and line of an unknown tag."""
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


class Tagger:
    """A trained tagger: `tag(token lists)` -> tag lists, batched by length."""

    def __init__(self, model: BiRNNTagger, encoder: Encoder, config, scheme: str) -> None:
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


def load_tagger_dir(path: str | Path, task: str, config_class: type) -> Tagger:
    """The tagger saved in `path` by task `task` (config.json's "config" read into `config_class`)."""
    checkpoint = load_model_dir(path, task)
    config = config_from_dict(config_class, checkpoint.config["config"], source=str(checkpoint.path))
    files = read_json_file(checkpoint, "vocab.json")
    try:
        vocab = TokenVocab.from_json(files)
        tags, scheme = list(files["tags"]), checkpoint.config["scheme"]
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{checkpoint.path}: malformed vocab.json ({error})") from None
    model = BiRNNTagger(config.model, len(vocab.words), len(vocab.chars), tags, scheme)
    load_model_weights(model, checkpoint)
    return Tagger(model, Encoder(vocab, tags, model.embed.use_chars), config, scheme)


def format_tagger_evaluation(result: dict) -> str:
    """What `rnnlab eval` prints for a tagger: accuracy, entity scores (chunk schemes), the confusion table."""
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
