"""A trained translation model, loaded (`Translator`), and its evaluation with sacrebleu (`rnnlab eval`).

    translator = load_translator("runs/de-en-attn")              # a run directory: uses best/
    translator.translate(["Es regnet in Strömen."], n_best=3)    # [[Translation(text, score, ...), ...]]
    translator.score_pairs(["Es regnet."], ["It rains."])        # log p(target | source)

A model directory (the Trainer's `best/` or `last/`) holds config.json (`"task": "translate"` plus the whole
TranslationConfig), model.safetensors and the sentencepiece model(s): `spm.model` when the vocabulary is
shared, else `src.model` and `tgt.model` (`rnnlab.data.subword`).

Inputs longer than `data.max_len` subword tokens are truncated with a warning; characters the source
vocabulary does not know become `<unk>` with a warning; empty inputs are refused.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rnnlab.config import config_from_dict
from rnnlab.data.pair_batches import EncodedPair, make_batch, source_batch
from rnnlab.data.parallel import read_parallel
from rnnlab.data.subword import PAD_ID, UNK_ID, SubwordVocab, read_vocabularies
from rnnlab.errors import DataError
from rnnlab.nn.decoding import Hypothesis
from rnnlab.nn.seq2seq import Seq2Seq
from rnnlab.tasks.registry import EvalRequest
from rnnlab.tasks.translation_config import (
    TASK_NAME,
    TranslationConfig,
    data_label,
    load_pairs,
    model_from_config,
    target_language,
)
from rnnlab.text_metrics import corpus_scores
from rnnlab.train import move_to
from rnnlab.validation import unknown_note

__all__ = ["Translation", "Translator", "evaluate", "format_evaluation", "load_translator"]


@dataclass
class Translation:
    """One hypothesis: detokenised text, its ranking score and log-probability, and its subword ids."""

    text: str
    score: float
    log_prob: float
    ids: list[int]


class Translator:
    """A trained model with its vocabularies: translate, score pairs (forced decoding), attention maps."""

    def __init__(self, model: Seq2Seq, src_vocab: SubwordVocab, tgt_vocab: SubwordVocab,
                 config: TranslationConfig) -> None:  # fmt: skip
        self.model, self.src_vocab, self.tgt_vocab, self.config = model, src_vocab, tgt_vocab, config

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def encode_sources(self, sentences: Sequence[str], warn: bool = True) -> list[list[int]]:
        """Subword ids of each source; refuses empty ones, truncates long ones and warns about unknowns."""
        encoded = []
        limit = self.config.data.max_len
        for number, sentence in enumerate(sentences, start=1):
            ids = self.src_vocab.encode(sentence.strip())
            if not ids:
                raise DataError(f"sentence {number}: empty sentence; expected at least one word")
            if warn and UNK_ID in ids:
                unknown = list(self.src_vocab.unknown_characters(sentence))
                warnings.warn(f"sentence {number}: {unknown_note(unknown)}", stacklevel=2)
            if len(ids) > limit:
                if warn:
                    warnings.warn(f"input {number}: {len(ids)} subword tokens, longer than data.max_len={limit}; "
                                  f"translating only the first {limit}", stacklevel=2)  # fmt: skip
                ids = ids[:limit]
            encoded.append(ids)
        return encoded

    @torch.no_grad()
    def translate(
        self,
        sentences: Sequence[str],
        *,
        method: str | None = None,
        beam_size: int | None = None,
        n_best: int | None = None,
        alpha: float | None = None,
        warn: bool = True,
    ) -> list[list[Translation]]:
        """n-best translations of each sentence (defaults from the config's `decode` section)."""
        decode = self.config.decode
        method = method or decode.method
        beam_size = beam_size or decode.beam_size
        n_best = n_best or (decode.n_best if method == "beam" else 1)
        alpha = decode.alpha if alpha is None else alpha
        self.model.eval()
        encoded = self.encode_sources(sentences, warn)
        results: list[list[Translation]] = [[] for _ in sentences]
        # Sorted by length so each batch pads little; results go back to input order.
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        for start in range(0, len(order), decode.batch_size):
            chunk = order[start : start + decode.batch_size]
            src, lengths = move_to(source_batch([encoded[i] for i in chunk]), self.device)
            max_len = int(decode.max_len_ratio * int(lengths.max())) + 10
            hyps = self.model.translate(
                src, lengths, method=method, beam_size=beam_size, n_best=max(n_best, 1), max_len=max_len,
                alpha=alpha, no_repeat_ngram_size=decode.no_repeat_ngram_size,
            )  # fmt: skip
            for i, nbest in zip(chunk, hyps):
                results[i] = [self._as_translation(h) for h in nbest[:n_best]]
        return results

    def _as_translation(self, hyp: Hypothesis) -> Translation:
        return Translation(self.tgt_vocab.decode(hyp.tokens), hyp.score, hyp.log_prob, list(hyp.tokens))

    @torch.no_grad()
    def score_pairs(self, sources: Sequence[str], targets: Sequence[str] | Sequence[list[int]],
                    batch_size: int = 64) -> list[float]:  # fmt: skip
        """log p(target | source) under the model (forced decoding, eos included); targets as text or ids."""
        self.model.eval()
        scores: list[float] = []
        for start in range(0, len(sources), batch_size):
            src_ids = self.encode_sources(sources[start : start + batch_size], warn=False)
            tgt_ids = [t if isinstance(t, list) else self.tgt_vocab.encode(t) for t in targets[start : start + batch_size]]
            batch = move_to(make_batch([EncodedPair(s, t) for s, t in zip(src_ids, tgt_ids)]), self.device)
            logits, _ = self.model(batch["src"], batch["src_lengths"], batch["tgt_in"])
            log_probs = logits.float().log_softmax(-1).gather(-1, batch["tgt_out"].unsqueeze(-1)).squeeze(-1)
            log_probs = log_probs.masked_fill(batch["tgt_out"] == PAD_ID, 0.0)
            scores.extend(log_probs.sum(-1).tolist())
        return scores

    @torch.no_grad()
    def attention(self, source: str, target_ids: list[int]) -> tuple[list[str], list[str], torch.Tensor | None]:
        """(source pieces, target pieces + </s>, weights (T, S)) of the model reading `target_ids`."""
        self.model.eval()
        (src_ids,) = self.encode_sources([source], warn=False)
        batch = move_to(make_batch([EncodedPair(src_ids, target_ids)]), self.device)
        _, weights = self.model(batch["src"], batch["src_lengths"], batch["tgt_in"])
        src_pieces = self.src_vocab.pieces(src_ids)
        tgt_pieces = [*self.tgt_vocab.pieces(target_ids), "</s>"]
        return src_pieces, tgt_pieces, (weights[0].cpu() if weights is not None else None)


def load_translator(path: str | Path, device: str = "cpu") -> Translator:
    """A Translator from a model directory written by `rnnlab train translate`."""
    from rnnlab.train import load_model_dir, load_model_weights

    checkpoint = load_model_dir(path, TASK_NAME, map_location=device)  # a run directory: its best/
    where = f"{checkpoint.path}/config.json"
    config = config_from_dict(TranslationConfig, checkpoint.config.get("config", {}), where)
    src_vocab, tgt_vocab = read_vocabularies(checkpoint.files, checkpoint.read_bytes)
    model = model_from_config(config, src_vocab, tgt_vocab)
    load_model_weights(model, checkpoint)
    return Translator(model.to(device).eval(), src_vocab, tgt_vocab, config)


# ------------------------------------------------------------------------------------------- evaluation


def evaluate(path: str | Path, request: EvalRequest) -> dict[str, Any]:
    """BLEU and chrF (sacrebleu, with signatures) on a split of the model's pairs, or a parallel file."""
    translator = load_translator(path)
    config = translator.config
    if request.data_file:
        pairs = read_parallel(request.data_file)
        where = request.data_file
    else:
        pairs = request.examples_of(load_pairs(config.data))
        where = f"{data_label(config.data)} {request.split}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unknown characters / truncation in a test set: counted, not shouted
        outputs = translator.translate([s for s, _ in pairs])
    scores = corpus_scores([o[0].text for o in outputs], [t for _, t in pairs], target_language(config))
    decode = config.decode
    how = f"beam {decode.beam_size}, alpha {decode.alpha}" if decode.method == "beam" else "greedy"
    return {"data": where, "sentences": len(pairs), "decoding": how, **scores}


def format_evaluation(result: dict[str, Any]) -> str:
    return (f"{result['data']}: {result['sentences']} sentences, {result['decoding']}\n"
            f"BLEU = {result['bleu']:.2f}   ({result['bleu_signature']})\n"
            f"chrF = {result['chrf']:.2f}   ({result['chrf_signature']})\n{result['bleu_text']}")  # fmt: skip
