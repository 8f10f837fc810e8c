"""What an RNN language model is made from, the same when it is trained and when it is loaded back.

    tokenizer = build_tokenizer(corpus, level="char")            # char / word, or sentencepiece trained here
    boundary = boundary_token(tokenizer)                         # "\\n" or "</s>": what ends a line
    ids = encode_text(corpus.valid, tokenizer, vocab, "valid")   # a split as one stream of token ids
    model = build_model(vocab, RNNLMConfig(), boundary)          # the network for that vocabulary
    primer = primer_text(corpus.train)                           # read before scoring or generating

The training side is `rnnlab.tasks.language_model`; the model directory it writes is read back by
`rnnlab.tasks.language_model_eval.load_language_model` into a `rnnlab.lm.neural.NeuralLanguageModel`.
"""

from __future__ import annotations

import torch

from rnnlab.data.corpora import Corpus
from rnnlab.data.tokenizers import SubwordTokenizer, Tokenizer, make_tokenizer
from rnnlab.data.vocab import Vocabulary
from rnnlab.errors import ConfigError, DataError
from rnnlab.nn.language_model import RNNLanguageModel, RNNLMConfig

__all__ = ["LINE_CORPORA", "boundary_token", "build_model", "build_tokenizer", "encode_text", "primer_text"]

# Corpora made of lines that are units (a poem, a sentence): generation stops at the end of a line.
LINE_CORPORA = {"tang", "tang-full", "songci", "ptb", "lyrics", "zh-news"}


def build_tokenizer(corpus: Corpus, level: str | None = None, normalize: str | None = None,
                    subword_vocab_size: int = 4000) -> Tokenizer:  # fmt: skip
    """The tokenizer of `corpus` at `level` (None: the corpus's own hint); a subword one is trained on its
    train split. `normalize` (NFC / NFKC) is for characters only."""
    level = level or corpus.level
    if normalize is not None and level != "char":
        raise ConfigError(f"data.normalize: expected level char, got {level!r} (normalisation is for characters)")
    if level == "subword":
        return SubwordTokenizer.train(corpus.train, subword_vocab_size)
    if normalize is not None:
        return make_tokenizer(level, normalize=normalize)
    return make_tokenizer(level)


def boundary_token(tokenizer: Tokenizer) -> str:
    """The token that ends a line in this tokenizer's stream."""
    return getattr(tokenizer, "eol", None) or "\n"


def encode_text(text: str, tokenizer: Tokenizer, vocab: Vocabulary, what: str) -> torch.Tensor:
    """A split's text as one stream of token ids (1-D); `what` names the split in the error."""
    tokens = tokenizer.tokenize(text)
    if len(tokens) < 2:
        raise DataError(f"the {what} split has {len(tokens)} token(s); a language model needs at least 2")
    return torch.tensor(vocab.encode(tokens), dtype=torch.long)


def primer_text(train_text: str, lines: int = 2, max_chars: int = 1000) -> str:
    """The last `lines` lines of the training text, ending with a newline (see `NeuralLanguageModel`)."""
    tail = "\n".join(train_text.rstrip("\n").split("\n")[-lines:])[-max_chars:]
    return tail + "\n"


def build_model(vocab: Vocabulary, config: RNNLMConfig, boundary: str) -> RNNLanguageModel:
    """The network for `vocab`; with `config.line_positions`, told the ids of its line marks and boundary."""
    if not config.line_positions:
        return RNNLanguageModel(len(vocab), config)
    marks = [vocab.token_to_id(mark) for mark in config.line_marks if mark in vocab]
    if not marks:
        raise ConfigError(f"model.line_marks: none of {config.line_marks!r} occurs in the training text; "
                          "set model.line_positions: 0 or name the marks that end a line")  # fmt: skip
    return RNNLanguageModel(len(vocab), config, line_mark_ids=marks, boundary_id=vocab.token_to_id(boundary))
