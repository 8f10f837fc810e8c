"""Subword vocabularies (sentencepiece) for the tasks that read and write free text: translation now,
captioning and dialogue next.

    vocab = SubwordVocab.train(sentences, size=4000)          # unigram by default, or model_type="bpe"
    ids = vocab.encode("Es regnet.")                           # no bos/eos added
    vocab.decode(ids)                                          # specials dropped (unk kept as ⁇)
    SubwordVocab(vocab.model_proto)                            # what a model directory stores and reloads

The special ids are rnnlab's usual ones (`rnnlab.data.vocab`): pad 0, unk 1, bos 2, eos 3; a sentencepiece
model with other ids is refused. `build_vocabularies` trains one shared model for both sides of sentence
pairs, or one per side, as a `VocabConfig` (a task config's `vocab:` section) says; `vocabulary_files` is
what a checkpoint stores: `spm.model` when shared, else `src.model` and `tgt.model`, and
`read_vocabularies` reads them back.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rnnlab.config import require, require_sizes
from rnnlab.data.vocab import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from rnnlab.errors import CheckpointError, DataError

__all__ = [
    "BOS_ID",
    "EOS_ID",
    "PAD_ID",
    "UNK_ID",
    "SubwordVocab",
    "VocabConfig",
    "build_vocabularies",
    "read_vocabularies",
    "vocabulary_files",
]


@dataclass
class VocabConfig:
    shared: bool = True  # one sentencepiece model for both sides
    size: int = 4000  # pieces (soft limit); the source's when separate
    tgt_size: int | None = None  # separate vocabularies: the target's (default: size)
    model_type: str = "unigram"  # unigram / bpe
    character_coverage: float = 1.0  # use 0.9995 for Chinese-sized alphabets

    def __post_init__(self) -> None:
        require(self.model_type in ("unigram", "bpe"), "model_type", "unigram or bpe", self.model_type)
        require_sizes(self, "size tgt_size", low=16, high=1_000_000)  # sentencepiece's pieces
        # sentencepiece's own range (it aborts outside it with an internal error)
        require(0.98 <= self.character_coverage <= 1.0, "character_coverage", "a value in [0.98, 1]",
                self.character_coverage)  # fmt: skip


class SubwordVocab:
    """A sentencepiece model with rnnlab's fixed special ids: pad 0, unk 1, bos 2, eos 3."""

    def __init__(self, model_proto: bytes) -> None:
        import sentencepiece as spm

        self.model_proto = model_proto
        self.processor = spm.SentencePieceProcessor(model_proto=model_proto)
        ids = (self.processor.pad_id(), self.processor.unk_id(), self.processor.bos_id(), self.processor.eos_id())
        if ids != (PAD_ID, UNK_ID, BOS_ID, EOS_ID):
            raise CheckpointError(f"sentencepiece model has special ids {ids}, expected (0, 1, 2, 3)")

    @classmethod
    def train(cls, sentences: Sequence[str], size: int, model_type: str = "unigram",
              character_coverage: float = 1.0) -> SubwordVocab:  # fmt: skip
        import sentencepiece as spm

        if not sentences:
            raise DataError("cannot train a subword vocabulary on no sentences")
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=model, vocab_size=size, model_type=model_type,
            character_coverage=character_coverage, pad_id=PAD_ID, unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID,
            hard_vocab_limit=False, num_threads=1, minloglevel=2,
        )  # fmt: skip
        return cls(model.getvalue())

    def __len__(self) -> int:
        return self.processor.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return self.processor.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self.processor.decode([i for i in ids if i > EOS_ID or i == UNK_ID])

    def pieces(self, ids: Sequence[int]) -> list[str]:
        return [self.processor.id_to_piece(i) for i in ids]

    def unknown_characters(self, text: str) -> list[str]:
        """Characters of `text` that only map to <unk>."""
        return sorted({ch for ch in text if not ch.isspace() and UNK_ID in self.processor.encode(ch)})


def build_vocabularies(config: VocabConfig, pairs: Sequence[tuple[str, str]]) -> tuple[SubwordVocab, SubwordVocab]:
    """(source, target) vocabularies trained on the two sides of `pairs`; the same object twice when shared."""
    sources, targets = [s for s, _ in pairs], [t for _, t in pairs]
    if config.shared:
        vocab = SubwordVocab.train(sources + targets, config.size, config.model_type, config.character_coverage)
        return vocab, vocab
    src = SubwordVocab.train(sources, config.size, config.model_type, config.character_coverage)
    tgt = SubwordVocab.train(targets, config.tgt_size or config.size, config.model_type, config.character_coverage)
    return src, tgt


def vocabulary_files(src: SubwordVocab, tgt: SubwordVocab) -> dict[str, bytes]:
    """The files a checkpoint stores for these vocabularies (see the module docstring)."""
    if src is tgt:
        return {"spm.model": src.model_proto}
    return {"src.model": src.model_proto, "tgt.model": tgt.model_proto}


def read_vocabularies(files: Sequence[str], read_bytes: Callable[[str], bytes]) -> tuple[SubwordVocab, SubwordVocab]:
    """(source, target) vocabularies back from a checkpoint's file names and its `read_bytes(name)`."""
    if "spm.model" in files:
        vocab = SubwordVocab(read_bytes("spm.model"))
        return vocab, vocab
    return SubwordVocab(read_bytes("src.model")), SubwordVocab(read_bytes("tgt.model"))
