"""Start a sentence classifier from a trained word-level rnnlab language model (Dai & Le 2015).

A language model trained on plenty of unlabelled in-domain text has learned word vectors and a
left-to-right reader; a classifier trained on a few thousand labelled sentences has not. Three things
carry over:

1. the LM's vocabulary joins the training words, so a test word never seen with a label still gets a
   learned vector instead of `<unk>`;
2. its embedding rows initialise the classifier's word embedding (word_dim must equal the LM's
   embedding_size);
3. when the LM's first recurrent layer has the same cell and size as the classifier's encoder, it
   initialises the encoder's forward direction of layer 0 (the backward direction starts fresh).

Everything is then fine-tuned on the labelled data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from rnnlab.data.vocab import SPECIALS, Vocabulary
from rnnlab.errors import CheckpointError, ConfigError
from rnnlab.nn.cell_registry import get_cell

LAYER0 = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


@dataclass
class PretrainedLM:
    """What a classifier can take from a language model."""

    path: str
    words: list[str]  # the LM's tokens in id order, specials excluded
    embedding: Tensor  # (len(words), E), rows in the order of `words`
    cell: str
    layer0: dict[str, Tensor]  # torch-named weights of the first recurrent layer ({} if not a torch cell)


def read_pretrained_lm(path: str | Path) -> PretrainedLM:
    """Load a word-level rnnlab LM directory (run directory or its best/); CheckpointError otherwise."""
    import json

    from rnnlab.tasks.language_model import load_language_model
    from rnnlab.tasks.registry import resolve_model_dir

    directory = resolve_model_dir(path)
    level = json.loads((directory / "config.json").read_text(encoding="utf-8")).get("level")
    if level != "word":
        raise CheckpointError(f"model.pretrained_lm: {path} is a {level!r}-level language model; "
                              "expected a word-level one (its rows must be words)")  # fmt: skip
    lm = load_language_model(directory)
    tokens = lm.vocab.tokens
    ids = [i for i, token in enumerate(tokens) if token not in SPECIALS]
    model = lm.model
    layer0 = {}
    if get_cell(model.config.cell).fused is not None:  # torch-layout weights (weight_ih_l0, ...) to copy
        layer0 = {name: getattr(model.rnn, name).detach().clone() for name in LAYER0}
    embedding = model.embedding.weight.detach()[ids].clone()
    return PretrainedLM(str(path), [tokens[i] for i in ids], embedding, model.config.cell, layer0)


def extend_vocabulary(vocab: Vocabulary, lm: PretrainedLM, lowercase: bool) -> Vocabulary:
    """`vocab` followed by the LM's words it lacks (lowercased first if the classifier lowercases)."""
    return Vocabulary([*vocab.tokens, *vocab.unknown(word.lower() if lowercase else word for word in lm.words)])


@torch.no_grad()
def initialise_from_lm(embedding: nn.Embedding, vocab: Vocabulary, encoder: nn.Module, rnn: str,
                       lm: PretrainedLM, lowercase: bool) -> str:  # fmt: skip
    """Copy the LM's word vectors (and forward layer 0 when it fits) into a classifier; returns a summary.

    Args:
        embedding: the classifier's word embedding (V, E).
        vocab: the classifier's word vocabulary (rows of `embedding`).
        encoder: its bidirectional LSTM/GRU (torch parameter names).
        rnn: "lstm" or "gru", the encoder's cell.
    """
    if embedding.embedding_dim != lm.embedding.size(1):
        raise ConfigError(f"model.word_dim is {embedding.embedding_dim} but the language model {lm.path} "
                          f"has embedding_size {lm.embedding.size(1)}; set model.word_dim={lm.embedding.size(1)}")  # fmt: skip
    copied = 0
    for row, word in enumerate(lm.words):
        key = word.lower() if lowercase else word
        if key in vocab:
            index = vocab.token_to_id(key)
            if index < embedding.num_embeddings:
                embedding.weight[index] = lm.embedding[row]
                copied += 1
    summary = f"{copied:,} of {len(vocab):,} word vectors"
    shapes_match = lm.cell == rnn and all(
        getattr(encoder, name, None) is not None and getattr(encoder, name).shape == value.shape
        for name, value in lm.layer0.items()
    )
    if lm.layer0 and shapes_match:
        for name, value in lm.layer0.items():
            getattr(encoder, name).copy_(value)
        summary += f" and the forward {rnn.upper()} of layer 0"
    else:
        summary += f" (encoder not copied: the LM is a {lm.cell} of another size or cell)"
    return summary
