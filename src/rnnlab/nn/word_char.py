"""Word vectors with character features: a word embedding plus a character BiRNN summary of each word.

Used by the tagger and the sentence classifier. Shapes are batch-first: words (N, L), chars (N, L, C),
mask (N, L) bool (True on real tokens); ids 0 and 1 are padding and <unk> (rnnlab's vocabularies).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.config import MAX_LAYERS, require, require_fractions, require_sizes
from rnnlab.nn.cell_registry import check_cell_name, get_cell, make_recurrent
from rnnlab.nn.padded import run_bucketed
from rnnlab.nn.recurrent import run_packed


def check_word_char_config(config) -> None:
    """The checks of a word(+char) RNN's `model:` section (tagger, classifier), for its `__post_init__`:
    the cell name, sizes (char_dim 0 turns characters off), vocabulary limits, layers and dropout rates."""
    check_cell_name(config.rnn, "model.rnn")
    get_cell(config.rnn).check_path(config.execution, "model.execution")
    require_sizes(config, "word_dim hidden_size min_freq")
    require_sizes(config, "max_vocab", low=5)  # specials included: <pad> <unk> <s> </s> and one token
    require_sizes(config, "char_dim char_hidden", low=0)  # char_dim 0: no character features
    require(config.char_dim == 0 or config.char_hidden >= 1, "char_hidden", ">= 1 when char_dim > 0",
            {"char_dim": config.char_dim, "char_hidden": config.char_hidden})  # fmt: skip
    require_sizes(config, "num_layers", high=MAX_LAYERS)
    require_fractions(config, "dropout word_dropout")


class WordCharEmbedding(nn.Module):
    """Word embedding + a character BiRNN summary of each word (its last forward and backward states).

    The character part is what lets the model say something about words it never saw (suffixes,
    capitals, digits); `word_dropout` turns random training words into <unk> so the <unk> row learns too.
    ``rnn`` is any registered cell name. Output (N, L, word_dim + 2 * char_hidden); without character
    features (``char_dim`` or ``char_hidden`` 0) just the word vectors (N, L, word_dim).
    Parameters: ``words.weight``, and ``chars.weight`` plus the layer's under ``char_rnn.``.
    """

    def __init__(
        self, num_words: int, word_dim: int, num_chars: int, char_dim: int, char_hidden: int,
        rnn: str = "lstm", word_dropout: float = 0.0, pad_id: int = 0, unk_id: int = 1, packed: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        self.words = nn.Embedding(num_words, word_dim, padding_idx=pad_id)
        self.use_chars = char_dim > 0 and char_hidden > 0
        if self.use_chars:
            self.chars = nn.Embedding(num_chars, char_dim, padding_idx=pad_id)
            self.char_rnn = make_recurrent(rnn, char_dim, char_hidden, 1, batch_first=True, bidirectional=True)
        self.word_dropout = word_dropout
        self.packed = packed  # pack the character batches (reference path) instead of running them padded
        self.pad_id, self.unk_id = pad_id, unk_id
        self.output_size = word_dim + (2 * char_hidden if self.use_chars else 0)

    def forward(self, words: Tensor, mask: Tensor, chars: Tensor | None = None) -> Tensor:
        """words (N, L), mask (N, L), chars (N, L, C) -> vectors (N, L, output_size)."""
        if self.training and self.word_dropout > 0:
            drop = (torch.rand(words.shape, device=words.device) < self.word_dropout) & mask
            words = words.masked_fill(drop, self.unk_id)
        vectors = self.words(words)
        if not self.use_chars:
            return vectors
        if chars is None:
            raise ValueError("WordCharEmbedding: this model needs character ids (chars (N, L, C))")
        real = chars[mask]  # (W, C): only real words go through the character RNN
        lengths = (real != self.pad_id).sum(1).clamp_min(1)
        if self.packed:
            states = run_packed(self.char_rnn, self.chars(real), lengths)  # (W, C, 2h)
        else:  # word lengths vary a lot within a batch: run them in a few length buckets
            states = run_bucketed(self.char_rnn, self.chars(real), lengths)
        half = states.size(2) // 2
        rows = torch.arange(real.size(0), device=real.device)
        summary = torch.cat([states[rows, lengths - 1, :half], states[:, 0, half:]], dim=1)
        char_vectors = vectors.new_zeros(*words.shape, summary.size(1))
        char_vectors[mask] = summary
        return torch.cat([vectors, char_vectors], dim=2)
