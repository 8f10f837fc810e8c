"""A trained bidirectional cloze model: rank fillers for the blank of a sentence with both heads.

    cloze = load_cloze_dir("runs/cloze-ptb", "cloze", ClozeConfig)
    both, forward_only = cloze.fill("the company ___ its earnings rose", top_k=5)

The model is `rnnlab.nn.cloze.BiCloze`: a forward-only head P(x_t | x_<t) and a two-sided head
P(x_t | x_<t, x_>t), both over the same vocabulary.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from rnnlab.config import config_from_dict
from rnnlab.data.vocab import BOS_ID, EOS_ID, PAD_ID, SPECIALS, UNK_ID, Vocabulary
from rnnlab.errors import CheckpointError, UserError
from rnnlab.labelling.model_dir import read_json_file
from rnnlab.nn.cloze import BiCloze
from rnnlab.train import load_model_weights
from rnnlab.train.checkpoint import load_model_dir

__all__ = ["BLANK", "ClozeModel", "format_cloze_evaluation", "load_cloze_dir", "separate_blank"]

BLANK = "___"


class ClozeModel:
    """A trained cloze model with its vocabulary."""

    def __init__(self, model: BiCloze, vocab: Vocabulary, config) -> None:
        self.model = model.eval()
        self.vocab = vocab
        self.config = config

    def tokenize(self, text: str) -> list[str]:
        if self.config.data.lowercase:
            text = text.lower()
        return text.split()

    @torch.no_grad()
    def blank_distributions(self, tokens: Sequence[str], blank: str = BLANK) -> tuple[Tensor, Tensor]:
        """P(filler) over the vocabulary for the one blank: (bidirectional (V,), forward-only (V,))."""
        positions = [i for i, token in enumerate(tokens) if token == blank]
        if len(positions) != 1:
            raise UserError(f"expected exactly one blank {blank!r} in the sentence, found {len(positions)}")
        ids = [BOS_ID, *self.vocab.encode([t if t != blank else SPECIALS[UNK_ID] for t in tokens]), EOS_ID]
        tensor = torch.tensor([ids])
        forward_logits, both_logits = self.model.logits(tensor, torch.tensor([len(ids)]))
        excluded = torch.tensor([PAD_ID, UNK_ID, BOS_ID, EOS_ID])  # never offer a special as a filler
        out = []
        for logits in (both_logits, forward_logits):
            row = logits[0, positions[0]].float()
            row[excluded] = float("-inf")
            out.append(torch.softmax(row, dim=0))
        return out[0], out[1]

    def fill(self, text: str, top_k: int = 10, blank: str = BLANK) -> tuple[list, list]:
        """Top-k (word, probability) by the bidirectional head and by the forward-only head."""
        tokens = separate_blank(self.tokenize(text), blank)
        both, forward = self.blank_distributions(tokens, blank)
        ranked = []
        for probs in (both, forward):
            values, indices = probs.topk(min(top_k, len(self.vocab) - len(SPECIALS)))
            ranked.append([(self.vocab.id_to_token(int(i)), float(v)) for v, i in zip(values, indices)])
        return ranked[0], ranked[1]


def separate_blank(tokens: list[str], blank: str) -> list[str]:
    """Split a blank glued to punctuation ("___," -> "___", ",") and punctuation off words ("hungry,")."""
    out = []
    for token in tokens:
        parts = [p for p in re.split(f"({re.escape(blank)})", token) if p]
        for part in parts:
            out.extend([part] if part == blank else re.findall(r"[\w'-]+|[^\w\s]", part) or [part])
    return out


def load_cloze_dir(path: str | Path, task: str, config_class: type) -> ClozeModel:
    """The cloze model saved in `path` by task `task` (config.json's "config" read into `config_class`)."""
    checkpoint = load_model_dir(path, task)
    config = config_from_dict(config_class, checkpoint.config["config"], source=str(checkpoint.path))
    try:
        vocab = Vocabulary(read_json_file(checkpoint, "vocab.json")["tokens"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{checkpoint.path}: malformed vocab.json ({error})") from None
    model = BiCloze(config.model, len(vocab))
    load_model_weights(model, checkpoint)
    return ClozeModel(model, vocab, config)


def format_cloze_evaluation(m: dict) -> str:
    """What `rnnlab eval` prints for a cloze model: both heads' loss, perplexity and top-1 accuracy."""
    return (f"sentences {m['sentences']}; predicting each word from its context:\n"
            f"  bidirectional (left + right): loss {m['loss']:.3f}  ppl {m['ppl']:.1f}  top-1 {100 * m['acc']:.1f}%\n"
            f"  forward only (left):          loss {m['forward_loss']:.3f}  ppl {m['forward_ppl']:.1f}  "
            f"top-1 {100 * m['forward_acc']:.1f}%")  # fmt: skip
