"""Dialogue models: a hierarchical encoder-decoder (HRED, Serban et al. 2016) and the single-turn baseline.

Both read the same batch and offer the decoding protocol of `rnnlab.nn.decoding` (`start`, `step`,
`reorder_state`), so the chat task trains, scores and decodes them with one code path.

Batch (a dict of tensors; K context turns at most, S tokens per turn at most):
  turns (B, K, S) token ids of the context turns, oldest first, left-aligned (row b has n_b >= 1 real turns)
  turn_lengths (B, K) tokens per turn (0 for the missing turns after the n_b real ones)
  persona (B,) persona ids (0: none / unknown)
  tgt_in (B, T) = bos + response, tgt_out (B, T) = response + eos   (training and scoring)

HRED (the cakechat / Serban et al. design):
  u_i = utterance encoder(turn_i)                   (N, D*H_u)   shared bidirectional RNN, final states joined
  c   = context RNN(u_1 .. u_n) at the last turn     (B, H_c)
  h_0 = tanh(W [c ; p]),  p = persona embedding      (B, H_d)
  h_t = decoder RNN([y_{t-1} ; c ; p], h_{t-1}),  logits_t = W_out h_t
so the context and the persona reach every decoder step, not just its initial state. With `persona_output`,
the persona also shifts the output directly, logits_t += W_p p (zero at the start): what each speaker says
more often than others, whatever the context (a speaker's own unigram, low-rank).

Response ranking (`ranking_weight` > 0, HRED only): a dual encoder (Lowe et al. 2015) beside the decoder.
The response is read by the same utterance encoder, r = utterance encoder(response)  (N, D*H_u), and a
context scores it by s(c, r) = (W_r [c ; p]) . r. Training adds ranking_weight * the cross-entropy of picking
each row's own response among the batch's B responses (in-batch negatives) to the decoder's loss; `rnnlab
eval` ranks candidates by s. Generating a reply scores one word at a time, so the likelihood of a short
generic reply is high after any context; a score trained to tell the true reply from others is not.
With `ranking_tfidf`, the score also counts the words context and response share:
s = (W_r [c ; p]) . r + a * cos(tfidf(context), tfidf(response)), over the subword pieces, idf from the
training turns (the `idf` buffer, set by the task), a = exp(log_a) learned with the rest. A vector of 256
numbers keeps the gist of a turn, not which rare words it used; that one topic word recurs in a reply is
what TF-IDF ranks by, and the two are complementary.

The single-turn baseline (`SingleTurn`) is the translation model (`rnnlab.nn.seq2seq.Seq2Seq`, attention
included) reading only the last context turn; it ignores the persona.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from rnnlab.config import MAX_LAYERS, require, require_fractions, require_sizes
from rnnlab.nn.cell_registry import check_cell_name
from rnnlab.nn.decoding import index_select_state
from rnnlab.nn.seq2seq import Encoder, Seq2Seq, Seq2SeqConfig, build_seq2seq, make_recurrent

__all__ = ["HRED", "HREDConfig", "SingleTurn", "build_chat_model", "last_turns"]


@dataclass
class HREDConfig:
    """Architecture of a dialogue model (the `model:` section of a chat config)."""

    kind: str = "hred"  # hred / single (the translation seq2seq on the last turn)
    cell: str = "gru"  # any registered cell, for every RNN of the model
    embed_dim: int = 128
    utterance_hidden: int = 128  # per direction (bidirectional utterance encoder)
    context_hidden: int = 256
    decoder_hidden: int = 256
    layers: int = 1  # decoder layers (the encoders have one)
    persona_dim: int = 0  # 0: no persona embedding (hred only)
    persona_output: bool = False  # the persona also shifts the output logits directly (needs persona_dim > 0)
    dropout: float = 0.2
    attention: str | None = "bahdanau"  # single only: the seq2seq's attention (null: plain)
    ranking_weight: float = 0.0  # > 0: a dual-encoder response ranker trained beside the decoder (hred only)
    ranking_tfidf: bool = False  # the ranker also scores the TF-IDF cosine of context and response (a learned weight)

    def __post_init__(self) -> None:
        require(self.kind in ("hred", "single"), "kind", "hred or single", self.kind)
        check_cell_name(self.cell, "model.cell")
        require_sizes(self, "embed_dim utterance_hidden context_hidden decoder_hidden")
        require_sizes(self, "persona_dim", low=0)
        require_sizes(self, "layers", high=MAX_LAYERS)
        require_fractions(self, "dropout")
        require(self.kind == "hred" or self.persona_dim == 0, "persona_dim", "0 with kind: single (the baseline "
                "has no persona)", self.persona_dim)  # fmt: skip
        require(not self.persona_output or self.persona_dim > 0, "persona_output", "false with persona_dim: 0 "
                "(no persona to shift the output by)", self.persona_output)  # fmt: skip
        require(isinstance(self.ranking_weight, (int, float)) and 0.0 <= self.ranking_weight <= 100.0,
                "ranking_weight", "a loss weight in [0, 100] (0: no ranker)", self.ranking_weight)  # fmt: skip
        require(not self.ranking_tfidf or self.ranking_weight > 0, "ranking_tfidf", "false with ranking_weight: 0 "
                "(no ranker to add it to)", self.ranking_tfidf)  # fmt: skip
        require(self.kind == "hred" or self.ranking_weight == 0, "ranking_weight", "0 with kind: single (the "
                "ranker reads the hierarchical context vector)", self.ranking_weight)  # fmt: skip


def last_turns(batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """The last real context turn of each row: ids (B, S) and lengths (B,)."""
    count = (batch["turn_lengths"] > 0).sum(1).clamp(min=1)  # (B,)
    rows = torch.arange(count.size(0), device=count.device)
    lengths = batch["turn_lengths"][rows, count - 1]
    return batch["turns"][rows, count - 1, : int(lengths.max())], lengths


class HRED(nn.Module):
    """Utterance encoder -> context RNN -> decoder conditioned on the context vector and a persona."""

    def __init__(self, vocab_size: int, config: HREDConfig, personas: int, bos_id: int, eos_id: int,
                 pad_id: int) -> None:  # fmt: skip
        super().__init__()
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id
        self.utterance = Encoder(vocab_size, config.embed_dim, config.utterance_hidden, 1, config.cell,
                                 bidirectional=True, dropout=config.dropout, pad_id=pad_id)  # fmt: skip
        self.context = make_recurrent(config.cell, 2 * config.utterance_hidden, config.context_hidden, 1, 0.0, False)
        self.persona = nn.Embedding(max(personas, 1), config.persona_dim) if config.persona_dim else None
        if self.persona is not None:
            # zero at the start: the model begins as the one without personas and learns what each speaker
            # changes, instead of reading 32 numbers of N(0, 1) noise per speaker at every decoder step
            nn.init.zeros_(self.persona.weight)
        condition = config.context_hidden + config.persona_dim
        self.init = nn.Linear(condition, config.decoder_hidden * config.layers)
        self.embedding = self.utterance.embedding  # one word embedding for reading and writing
        self.decoder = make_recurrent(config.cell, config.embed_dim + condition, config.decoder_hidden,
                                      config.layers, config.dropout, False)  # fmt: skip
        self.lstm_like = self.decoder.state_is_tuple
        self.dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(config.decoder_hidden, vocab_size)
        self.layers, self.decoder_hidden = config.layers, config.decoder_hidden
        self.persona_output = None
        if config.persona_output:
            self.persona_output = nn.Linear(config.persona_dim, vocab_size, bias=False)
            nn.init.zeros_(self.persona_output.weight)  # starts as the model without it
        self.persona_dim = config.persona_dim
        self.ranker = nn.Linear(condition, 2 * config.utterance_hidden, bias=False) if config.ranking_weight else None
        self.lexical_log_weight = None
        if config.ranking_tfidf:
            self.register_buffer("idf", torch.zeros(vocab_size))  # set from the training turns (set_idf)
            # exp of it weighs the TF-IDF cosine (in [0, 1]); on a log scale so Adam's steps of ~lr can take it
            # to the tens that match the dot products' scale within a few thousand updates
            self.lexical_log_weight = nn.Parameter(torch.tensor(math.log(5.0)))

    @staticmethod
    def _top(final: Any) -> Tensor:
        """An encoder's final state -> (N, D * H) of its top layer (bidirectional: both directions joined)."""
        h = final[0] if isinstance(final, tuple) else final
        return torch.cat([h[-2], h[-1]], dim=-1)

    def condition(self, batch: dict[str, Tensor]) -> Tensor:
        """[context vector ; persona embedding] of each row: (B, H_c + P)."""
        turns, lengths = batch["turns"], batch["turn_lengths"]
        b, k, s = turns.shape
        real = lengths.reshape(-1) > 0
        encoded = self.utterance(turns.reshape(b * k, s)[real], lengths.reshape(-1)[real])
        vectors = turns.new_zeros((b * k, 2 * self.utterance.hidden_size), dtype=encoded.memory.dtype)
        vectors[real] = self._top(encoded.final)
        count = (lengths > 0).sum(1).clamp(min=1)
        packed = pack_padded_sequence(vectors.view(b, k, -1), count.cpu(), batch_first=True, enforce_sorted=False)
        _, final = self.context(packed)
        context = (final[0] if isinstance(final, tuple) else final)[-1]  # (B, H_c)
        if self.persona is not None:
            context = torch.cat([context, self.persona(batch["persona"])], dim=-1)
        return context

    def start(self, batch: dict[str, Tensor]) -> dict[str, Any]:
        """The decoder's initial state: hidden (L, B, H) (a tuple (h, c) for LSTM-like cells) + condition."""
        condition = self.condition(batch)
        h0 = torch.tanh(self.init(condition)).view(-1, self.layers, self.decoder_hidden).transpose(0, 1).contiguous()
        return {"hidden": (h0, torch.zeros_like(h0)) if self.lstm_like else h0, "condition": condition}

    def _run(self, tokens: Tensor, state: dict[str, Any]) -> tuple[Tensor, dict[str, Any]]:
        """tokens (B, T) -> logits (B, T, V) and the state after them."""
        embedded = self.dropout(self.embedding(tokens))
        condition = state["condition"].unsqueeze(1).expand(-1, tokens.size(1), -1)
        outputs, hidden = self.decoder(torch.cat([embedded, condition], dim=-1), state["hidden"])
        logits = self.output(self.dropout(outputs))
        if self.persona_output is not None:
            logits = logits + self.persona_output(state["condition"][:, -self.persona_dim :]).unsqueeze(1)
        return logits, dict(state, hidden=hidden)

    def forward(self, batch: dict[str, Tensor], ranking: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Teacher-forced logits (B, T, V) of the response; with `ranking`, also the ranker's scores (B, B) of
        every row's context against every row's response (the diagonal: the true pairs)."""
        state = self.start(batch)
        logits = self._run(batch["tgt_in"], state)[0]
        if not ranking:
            return logits
        scores = self.match(state["condition"], self.response_vectors(batch["tgt_out"]))
        if self.lexical_log_weight is not None:
            context, response = self._lexical(batch)
            scores = scores + context @ response.transpose(0, 1)
        return logits, scores

    def set_idf(self, documents: Iterable[Sequence[int]]) -> None:
        """The TF-IDF ranker's idf from token-id documents: log((1 + N) / (1 + df)) + 1 (scikit-learn's smooth
        idf); 0 for pad, bos and eos, which say nothing about a turn."""
        counts, n = Counter(), 0
        for ids in documents:
            counts.update(set(ids))
            n += 1
        df = torch.zeros_like(self.idf)
        df[torch.tensor(list(counts), dtype=torch.long)] = torch.tensor(list(counts.values()), dtype=df.dtype)
        idf = torch.log((1 + n) / (1 + df)) + 1
        idf[[self.pad_id, self.bos_id, self.eos_id]] = 0.0
        self.idf.copy_(idf)

    def _lexical(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """TF-IDF vectors (B, V) of each row's context turns, scaled by the learned weight a, and of its
        response: their dot product is a * cos(context, response)."""
        context = self.lexical_log_weight.exp() * self._tfidf(batch["turns"].flatten(1))
        return context, self._tfidf(batch["tgt_out"])

    def _tfidf(self, ids: Tensor) -> Tensor:
        """ids (N, L), padded -> (N, V) L2-normalised TF-IDF vectors (raw counts times idf)."""
        counts = torch.zeros(ids.size(0), self.idf.numel(), device=ids.device).scatter_add_(
            1, ids, torch.ones_like(ids, dtype=torch.float))  # fmt: skip
        return torch.nn.functional.normalize(counts * self.idf, dim=-1)

    def response_vectors(self, responses: Tensor) -> Tensor:
        """responses (N, T) = response + eos, padded -> (N, D*H_u), read by the utterance encoder."""
        if self.ranker is None:
            raise ValueError("this model was trained without a ranker (model.ranking_weight: 0)")
        lengths = (responses != self.pad_id).sum(1).clamp(min=1)
        return self._top(self.utterance(responses, lengths).final)

    def pair_scores(self, batch: dict[str, Tensor]) -> Tensor:
        """The ranker's score (B,) of each row's response (tgt_out) after that row's own context."""
        vectors = self.response_vectors(batch["tgt_out"])
        scores = (self.ranker(self.condition(batch)) * vectors).sum(-1)
        if self.lexical_log_weight is not None:
            context, response = self._lexical(batch)
            scores = scores + (context * response).sum(-1)
        return scores

    def match(self, condition: Tensor, responses: Tensor) -> Tensor:
        """condition (B, H_c + P), response vectors (N, D*H_u) -> scores (B, N)."""
        assert self.ranker is not None
        return self.ranker(condition) @ responses.transpose(0, 1)

    def step(self, tokens: Tensor, state: dict[str, Any]) -> tuple[Tensor, dict[str, Any]]:
        logits, state = self._run(tokens.unsqueeze(1), state)
        return logits.squeeze(1), state

    @staticmethod
    def reorder_state(state: dict[str, Any], indices: Tensor) -> dict[str, Any]:
        return {"hidden": index_select_state(state["hidden"], indices, dim=1),
                "condition": state["condition"].index_select(0, indices.to(state["condition"].device))}  # fmt: skip


class SingleTurn(nn.Module):
    """The single-turn baseline: the translation seq2seq reading the last context turn only."""

    def __init__(self, seq2seq: Seq2Seq) -> None:
        super().__init__()
        self.seq2seq = seq2seq
        self.bos_id, self.eos_id, self.pad_id = seq2seq.bos_id, seq2seq.eos_id, seq2seq.pad_id

    def start(self, batch: dict[str, Tensor]) -> dict[str, Any]:
        return self.seq2seq.encode(*last_turns(batch))

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        return self.seq2seq(*last_turns(batch), batch["tgt_in"])[0]

    def step(self, tokens: Tensor, state: dict[str, Any]) -> tuple[Tensor, dict[str, Any]]:
        return self.seq2seq.step(tokens, state)

    reorder_state = staticmethod(Seq2Seq.reorder_state)


def build_chat_model(config: HREDConfig, vocab_size: int, personas: int, bos_id: int, eos_id: int,
                     pad_id: int) -> HRED | SingleTurn:  # fmt: skip
    """The model a chat config's `model:` section describes (personas: size of the persona table)."""
    if config.kind == "hred":
        return HRED(vocab_size, config, personas, bos_id, eos_id, pad_id)
    seq2seq = Seq2SeqConfig(cell=config.cell, embed_dim=config.embed_dim, hidden_size=config.utterance_hidden,
                            decoder_hidden_size=config.decoder_hidden, decoder_layers=config.layers,
                            attention=config.attention, dropout=config.dropout)  # fmt: skip
    return SingleTurn(build_seq2seq(seq2seq, vocab_size, vocab_size, bos_id, eos_id, pad_id))
