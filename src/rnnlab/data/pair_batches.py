"""Batches of encoded sentence pairs for an encoder-decoder (translation; dialogue's context -> response).

    items, skipped = encode_pairs(pairs, src_vocab, tgt_vocab, max_len=64)
    for group in length_batches(items, batch_size=64):        # similar lengths together: little padding
        batch = make_batch(group)                               # src, src_lengths, tgt_in, tgt_out tensors

Any vocabulary with `encode(text) -> list[int]` works (`rnnlab.data.subword.SubwordVocab`); the special ids
are rnnlab's (`rnnlab.data.vocab`): pad 0, bos 2, eos 3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

from rnnlab.data.vocab import BOS_ID, EOS_ID, PAD_ID

__all__ = ["EncodedPair", "encode_pairs", "length_batches", "make_batch", "source_batch"]


class Encoder(Protocol):
    def encode(self, text: str) -> list[int]: ...


@dataclass
class EncodedPair:
    src: list[int]
    tgt: list[int]


def encode_pairs(pairs: Sequence[tuple[str, str]], src_vocab: Encoder, tgt_vocab: Encoder,
                 max_len: int) -> tuple[list[EncodedPair], int]:  # fmt: skip
    """Encode pairs; returns (kept, number skipped for being empty or exceeding max_len on either side)."""
    kept, skipped = [], 0
    for src, tgt in pairs:
        s, t = src_vocab.encode(src), tgt_vocab.encode(tgt)
        if not s or not t or len(s) > max_len or len(t) > max_len:
            skipped += 1
            continue
        kept.append(EncodedPair(s, t))
    return kept, skipped


def make_batch(items: Sequence[EncodedPair]) -> dict[str, torch.Tensor]:
    """src (B, S), src_lengths (B,), tgt_in (B, T) = bos + target, tgt_out (B, T) = target + eos."""
    batch = len(items)
    src, lengths = source_batch([p.src for p in items])
    tgt_len = max(len(p.tgt) for p in items) + 1
    tgt_in = torch.full((batch, tgt_len), PAD_ID, dtype=torch.long)
    tgt_out = torch.full((batch, tgt_len), PAD_ID, dtype=torch.long)
    for row, pair in enumerate(items):
        tgt_in[row, : len(pair.tgt) + 1] = torch.tensor([BOS_ID, *pair.tgt])
        tgt_out[row, : len(pair.tgt) + 1] = torch.tensor([*pair.tgt, EOS_ID])
    return {"src": src, "src_lengths": lengths, "tgt_in": tgt_in, "tgt_out": tgt_out}


def source_batch(ids: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded sources (B, S) and their lengths (B,), on the CPU."""
    src = torch.full((len(ids), max(len(s) for s in ids)), PAD_ID, dtype=torch.long)
    for row, s in enumerate(ids):
        src[row, : len(s)] = torch.tensor(list(s))
    return src, torch.tensor([len(s) for s in ids])


def length_batches(items: Sequence[EncodedPair], batch_size: int) -> list[list[EncodedPair]]:
    """Batches of similar source/target lengths (less padding); the composition is fixed, the order is
    shuffled per epoch by the task."""
    order = sorted(range(len(items)), key=lambda i: (len(items[i].src), len(items[i].tgt), i))
    return [[items[i] for i in order[k : k + batch_size]] for k in range(0, len(order), batch_size)]
