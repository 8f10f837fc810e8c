"""Start a sentence classifier from another trained rnnlab classifier (two-stage transfer).

The first classifier learns on plenty of cheaply labelled text (e.g. `en-review-sentences`: every
sentence of a movie review carries its review's polarity, a noisy "distant" label); the second starts from
its weights and is fine-tuned on a few thousand hand-labelled sentences (`en-sentiment`).

What carries over:
1. the vocabulary: the source classifier's words keep their ids and rows, the new training words it lacks
   are appended with fresh rows (likewise for characters);
2. every weight (embeddings, encoder, pooling); the output layer too when both have the same labels,
   otherwise it starts fresh (e.g. 3-way labels after a 2-way source).

The architecture (cell, sizes, layers, pooling, lowercasing) must be the same; dropout, vocabulary limits
and the trainer may differ.
"""

from __future__ import annotations

import torch
from torch import nn

from rnnlab.data.vocab import Vocabulary
from rnnlab.errors import ConfigError
from rnnlab.labelling.vocab import TokenVocab

# ClassifierModelConfig fields that fix the shapes (or the meaning) of the weights
ARCHITECTURE = ("rnn", "word_dim", "char_dim", "char_hidden", "hidden_size", "num_layers", "pooling", "lowercase")


def check_same_architecture(model_config, source_config, source: str) -> None:
    """ConfigError naming the first architecture field where the new config differs from the source's."""
    for name in ARCHITECTURE:
        ours, theirs = getattr(model_config, name), getattr(source_config, name)
        if ours != theirs:
            raise ConfigError(f"model.{name} is {ours!r} but the classifier in model.init_from={source} has "
                              f"{theirs!r}; set model.{name}={theirs} to start from it")  # fmt: skip


def _append_missing(base: Vocabulary, extra: Vocabulary) -> Vocabulary:
    return Vocabulary([*base.tokens, *base.unknown(extra.tokens)])


def merge_vocabularies(source: TokenVocab, training: TokenVocab) -> TokenVocab:
    """The source's words and characters (same ids) followed by the training ones it lacks."""
    return TokenVocab(_append_missing(source.words, training.words), _append_missing(source.chars, training.chars),
                      source.lowercase)  # fmt: skip


@torch.no_grad()
def copy_classifier_weights(target: nn.Module, source: nn.Module, same_labels: bool) -> str:
    """Copy `source`'s weights into `target` (same architecture, target vocabularies may be larger).

    Embedding matrices (V, E) are copied row by row for the source's V rows; the new rows keep their
    random start. The output layer (`out.*`) is copied only when `same_labels`. Returns a summary.
    """
    source_state = source.state_dict()
    copied, new_rows = 0, 0
    for name, value in target.state_dict().items():
        if name.startswith("out.") and not same_labels:
            continue
        incoming = source_state[name]
        if incoming.shape == value.shape:
            value.copy_(incoming)
        elif incoming.dim() == 2 and incoming.shape[1:] == value.shape[1:] and incoming.shape[0] <= value.shape[0]:
            value[: incoming.shape[0]].copy_(incoming)  # an embedding whose vocabulary grew
            new_rows += value.shape[0] - incoming.shape[0]
        else:
            raise ConfigError(f"cannot start from that classifier: {name} has shape {tuple(incoming.shape)} "
                              f"there and {tuple(value.shape)} here")  # fmt: skip
        copied += 1
    summary = f"{copied} weight tensors, {new_rows:,} new vocabulary rows"
    return summary + ("" if same_labels else "; the output layer starts fresh (the labels differ)")
