"""Encoder-decoder (sequence-to-sequence) blocks: Encoder, Bridge, Decoder and the Seq2Seq model.

The chapter's asynchronous seq2seq: an RNN encoder without an output layer reads the source; its final
hidden state initialises the decoder (through the `Bridge`); in training the decoder reads the target
sentence (teacher forcing), at inference its own previous outputs (`rnnlab.nn.decoding`). With attention
the decoder also looks at every encoder output at every step (Bahdanau / Luong scoring) and feeds its
attentional vector back into the next step's input ("input feeding", Luong et al. 2015).

Shapes (batch-first for tokens; RNN states are torch's `(layers * directions, B, H)`):
  src (B, S) token ids, src_lengths (B,), tgt_in (B, T) = bos + target, logits (B, T, V),
  attention weights (B, T, S).

Decoder state (a dict, what `step` / `reorder_state` pass around during decoding):
  "hidden": (L_dec, B, H) or, for cells whose state is a tuple (LSTM-like), a tuple (h, c) of those
  "feed":   (B, H) previous attentional vector (input feeding only)
  "memory": (B, S, D * H_enc) encoder outputs; "keys": projected memory; "mask": (B, S) bool
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab.config import MAX_LAYERS, require, require_fractions, require_sizes
from rnnlab.nn.attention import make_attention
from rnnlab.nn.cell_registry import check_cell_name, get_cell
from rnnlab.nn.cell_registry import make_recurrent as make_recurrent_layer
from rnnlab.nn.decoding import Hypothesis, beam_search, greedy_decode, index_select_state, sample_decode

__all__ = [
    "make_recurrent",
    "Encoder",
    "EncoderOutput",
    "Bridge",
    "Decoder",
    "Seq2Seq",
    "Seq2SeqConfig",
    "build_seq2seq",
    "drop_words",
    "sequence_loss",
    "TeacherForcingSchedule",
]


def drop_words(embedded: Tensor, p: float, training: bool) -> Tensor:
    """Word dropout: zero whole token embeddings (B, T, E) or (B, E) with probability p in training, the
    kept ones scaled by 1 / (1 - p) (Gal & Ghahramani 2016; Sennrich & Zhang 2019 for low-resource NMT).

    Unlike `nn.Dropout` on the embeddings, which drops single coordinates, a dropped word is gone
    entirely, so the model must read it from its context.
    """
    if not training or p <= 0.0:
        return embedded
    keep = embedded.new_ones(embedded.shape[:-1] + (1,))
    return embedded * F.dropout(keep, p, training=True)


def make_recurrent(
    cell: str, input_size: int, hidden_size: int, num_layers: int, dropout: float, bidirectional: bool
) -> nn.Module:
    """A batch-first stacked recurrent layer for any registered cell (see `rnnlab.nn.make_recurrent`)."""
    return make_recurrent_layer(cell, input_size, hidden_size, num_layers, batch_first=True, dropout=dropout,
                                bidirectional=bidirectional)  # fmt: skip


# ----------------------------------------------------------------------------------------------- encoder


@dataclass
class EncoderOutput:
    memory: Tensor  # (B, S, D * H) outputs at every source position (zeros at padding)
    final: Any  # h_n (L * D, B, H), or (h_n, c_n) when the encoder layer's state_is_tuple
    mask: Tensor  # (B, S) bool, True at real tokens


class Encoder(nn.Module):
    """Embedding + stacked (bi)directional RNN over a padded batch, packed so padding never enters a state."""

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_layers: int = 1,
        cell: str = "lstm",
        bidirectional: bool = False,
        dropout: float = 0.0,
        pad_id: int = 0,
        word_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.cell, self.num_layers, self.hidden_size = cell, num_layers, hidden_size
        self.word_dropout = word_dropout
        self.directions = 2 if bidirectional else 1
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.dropout = nn.Dropout(dropout)
        self.rnn = make_recurrent(cell, embed_dim, hidden_size, num_layers, dropout, bidirectional)

    @property
    def output_size(self) -> int:
        return self.directions * self.hidden_size

    def forward(self, src: Tensor, src_lengths: Tensor) -> EncoderOutput:
        """src (B, S) ids, src_lengths (B,) with 1 <= length <= S."""
        if src.dim() != 2 or src_lengths.shape != (src.size(0),):
            raise ValueError(f"encoder expects src (B, S) and lengths (B,), got {tuple(src.shape)}, "
                             f"{tuple(src_lengths.shape)}")  # fmt: skip
        if bool((src_lengths < 1).any()) or int(src_lengths.max()) > src.size(1):
            raise ValueError(f"source lengths must be in [1, {src.size(1)}], got {src_lengths.tolist()}")
        embedded = self.dropout(drop_words(self.embedding(src), self.word_dropout, self.training))
        packed = pack_padded_sequence(embedded, src_lengths.cpu(), batch_first=True, enforce_sorted=False)
        output, final = self.rnn(packed)
        memory, _ = pad_packed_sequence(output, batch_first=True, total_length=src.size(1))
        mask = torch.arange(src.size(1), device=src.device)[None, :] < src_lengths.to(src.device)[:, None]
        return EncoderOutput(memory=memory, final=final, mask=mask)


# ------------------------------------------------------------------------------------------------ bridge


class Bridge(nn.Module):
    """Encoder final state -> decoder initial state, for any layers / directions / cell combination.

    kind="copy": the decoder starts from the encoder's state (needs D * H_enc == H_dec);
    kind="project": h0 = tanh(W_h [h_fwd ‖ h_bwd] + b) per layer (and c0 = W_c [c_fwd ‖ c_bwd] + b when both
    are LSTM-like); kind="zeros": the decoder starts from zeros (a decoder with attention still sees the
    source, a plain one does not).

    Directions are joined by concatenating each layer's forward and backward states. Layers are aligned
    from the top: decoder layer j gets encoder layer j - (L_dec - L_enc), clipped to [0, L_enc - 1]; so a
    shallower decoder takes the encoder's top layers and extra decoder layers at the bottom repeat the
    encoder's first layer. A decoder LSTM after a GRU/RNN encoder starts with a zero memory cell c0; a
    GRU/RNN decoder after an LSTM encoder uses only h.
    """

    def __init__(
        self,
        kind: str,
        encoder_layers: int,
        encoder_directions: int,
        encoder_hidden: int,
        encoder_lstm: bool,
        decoder_layers: int,
        decoder_hidden: int,
        decoder_lstm: bool,
    ) -> None:
        super().__init__()
        if kind not in ("copy", "project", "zeros"):
            raise ValueError(f"bridge must be 'copy', 'project' or 'zeros', got {kind!r}")
        joined = encoder_directions * encoder_hidden
        if kind == "copy" and joined != decoder_hidden:
            raise ValueError(
                f"bridge 'copy' needs directions * encoder hidden ({encoder_directions} * {encoder_hidden}) == "
                f"decoder hidden ({decoder_hidden}); use bridge 'project'"
            )
        self.kind = kind
        self.encoder_layers, self.encoder_directions = encoder_layers, encoder_directions
        self.encoder_lstm, self.decoder_lstm = encoder_lstm, decoder_lstm
        self.decoder_layers, self.decoder_hidden = decoder_layers, decoder_hidden
        if kind == "project":
            self.project_h = nn.Linear(joined, decoder_hidden)
            self.project_c = nn.Linear(joined, decoder_hidden) if encoder_lstm and decoder_lstm else None

    def layer_map(self) -> list[int]:
        """Which encoder layer each decoder layer starts from (aligned from the top)."""
        offset = self.decoder_layers - self.encoder_layers
        return [min(max(j - offset, 0), self.encoder_layers - 1) for j in range(self.decoder_layers)]

    def _join(self, state: Tensor) -> Tensor:
        """(L * D, B, H) layer-major, direction 0 first -> (L_dec, B, D * H)."""
        layers, batch = self.encoder_layers, state.size(1)
        joined = state.view(layers, self.encoder_directions, batch, -1).permute(0, 2, 1, 3)
        joined = joined.reshape(layers, batch, -1)
        return joined[torch.tensor(self.layer_map(), device=state.device)]

    def forward(self, final: Any, batch_size: int | None = None) -> Any:
        """final: h_n (L_enc * D, B, H_enc) or (h_n, c_n) -> (L_dec, B, H_dec) or a tuple (h0, c0)."""
        h_n, c_n = (final if isinstance(final, tuple) else (final, None)) if final is not None else (None, None)
        batch = h_n.size(1) if h_n is not None else batch_size
        if self.kind == "zeros":
            ref = h_n if h_n is not None else torch.zeros(())
            h0 = ref.new_zeros(self.decoder_layers, batch, self.decoder_hidden)
            return (h0, torch.zeros_like(h0)) if self.decoder_lstm else h0
        h0 = self._join(h_n)
        c0 = self._join(c_n) if (c_n is not None and self.decoder_lstm) else None
        if self.kind == "project":
            h0 = torch.tanh(self.project_h(h0))
            c0 = self.project_c(c0) if c0 is not None else None
        if not self.decoder_lstm:
            return h0.contiguous()
        return (h0.contiguous(), c0.contiguous() if c0 is not None else torch.zeros_like(h0))


# ----------------------------------------------------------------------------------------------- decoder


class Decoder(nn.Module):
    """Stacked RNN decoder, plain or attentional (with optional input feeding).

    Plain: the source reaches the decoder only through its initial state; o_t = h_t.
    Attentional (Luong-style flow, JoeyNMT's recurrent decoder): h_t = RNN([y_{t-1}; õ_{t-1}], h_{t-1})
    (õ fed back only with input feeding), c_t = attention(h_t, memory), õ_t = tanh(W_c [h_t; c_t]);
    the scoring function is additive (Bahdanau), dot or general (Luong). logits_t = W_out dropout(õ_t).
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_layers: int = 1,
        cell: str = "lstm",
        attention: str | None = None,
        memory_size: int = 0,
        input_feeding: bool = True,
        dropout: float = 0.0,
        tie_embeddings: bool = False,
        pad_id: int = 0,
        word_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.cell, self.num_layers, self.hidden_size = cell, num_layers, hidden_size
        self.word_dropout = word_dropout
        self.input_feeding = bool(attention) and input_feeding
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.dropout = nn.Dropout(dropout)
        rnn_input = embed_dim + (hidden_size if self.input_feeding else 0)
        self.rnn = make_recurrent(cell, rnn_input, hidden_size, num_layers, dropout, bidirectional=False)
        self.lstm_like = self.rnn.state_is_tuple  # the layer knows whether its state is (h, c)
        self.attention = make_attention(attention, hidden_size, memory_size) if attention else None
        self.combine = nn.Linear(hidden_size + memory_size, hidden_size) if attention else None
        self.output = nn.Linear(hidden_size, vocab_size)
        if tie_embeddings:
            if embed_dim != hidden_size:
                raise ValueError(f"tied target embeddings need embed_dim == hidden_size, got {embed_dim} "
                                 f"and {hidden_size}")  # fmt: skip
            self.output.weight = self.embedding.weight

    def _embed(self, tokens: Tensor) -> Tensor:
        """tokens (B,) or (B, T) -> embeddings (B, E) or (B, T, E), word dropout and dropout applied."""
        return self.dropout(drop_words(self.embedding(tokens), self.word_dropout, self.training))

    def init_state(self, hidden: Any, encoded: EncoderOutput | None) -> dict[str, Any]:
        """The decoding state from the bridged hidden state and the encoder output."""
        state: dict[str, Any] = {"hidden": hidden}
        if self.attention is not None:
            assert encoded is not None
            state["memory"] = encoded.memory
            state["keys"] = self.attention.project_memory(encoded.memory)
            state["mask"] = encoded.mask
            if self.input_feeding:
                state["feed"] = encoded.memory.new_zeros(encoded.memory.size(0), self.hidden_size)
        return state

    def _attend(self, outputs: Tensor, state: dict[str, Any]) -> tuple[Tensor, Tensor | None]:
        """outputs (B, T, H) -> (attentional vectors (B, T, H), weights (B, T, S) or None)."""
        if self.attention is None:
            return outputs, None
        context, weights = self.attention(outputs, state["keys"], state["memory"], state["mask"])
        return torch.tanh(self.combine(torch.cat([outputs, context], dim=-1))), weights

    def _attentional_step(self, embedded: Tensor, state: dict[str, Any]) -> tuple[Tensor, dict[str, Any], Tensor | None]:
        """embedded (B, E) input tokens -> the attentional vector (B, H) the output layer reads, new state,
        attention weights (B, S) or None."""
        embedded = embedded.unsqueeze(1)  # (B, 1, E)
        if self.input_feeding:
            embedded = torch.cat([embedded, state["feed"].unsqueeze(1)], dim=-1)
        output, hidden = self.rnn(embedded, state["hidden"])
        attentional, weights = self._attend(output, state)
        attentional = attentional.squeeze(1)
        new_state = dict(state, hidden=hidden)
        if self.input_feeding:
            new_state["feed"] = attentional
        return attentional, new_state, (weights.squeeze(1) if weights is not None else None)

    def step(self, tokens: Tensor, state: dict[str, Any]) -> tuple[Tensor, dict[str, Any], Tensor | None]:
        """One decoder step: tokens (B,) -> logits (B, V), new state, attention weights (B, S) or None."""
        attentional, new_state, weights = self._attentional_step(self._embed(tokens), state)
        return self.output(self.dropout(attentional)), new_state, weights

    def forward(
        self,
        tgt_in: Tensor,
        state: dict[str, Any],
        teacher_forcing_ratio: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Decode a whole target: tgt_in (B, T) -> logits (B, T, V), attention weights (B, T, S) or None.

        teacher_forcing_ratio < 1 is scheduled sampling (Bengio et al. 2015): at each step each row reads
        the gold previous token with that probability, else the model's own greedy prediction.
        """
        if teacher_forcing_ratio >= 1.0 and not self.input_feeding:
            # Teacher forcing without input feeding: the RNN runs over the whole target in one call.
            outputs, _ = self.rnn(self._embed(tgt_in), state["hidden"])
            attentional, weights = self._attend(outputs, state)
            return self.output(self.dropout(attentional)), weights
        if teacher_forcing_ratio >= 1.0:
            # Input feeding: one step at a time, but the embedding and the output layer (the largest matmul)
            # run once over the whole target, as one lookup and one (B*T, H) x (H, V) product, not T each.
            embedded = self._embed(tgt_in)  # (B, T, E)
            vectors, weights = [], []
            for t in range(tgt_in.size(1)):
                attentional, state, step_weights = self._attentional_step(embedded[:, t], state)
                vectors.append(attentional)
                weights.append(step_weights)
            stacked = torch.stack(weights, dim=1) if self.attention is not None else None
            return self.output(self.dropout(torch.stack(vectors, dim=1))), stacked
        logits, weights = [], []
        tokens = tgt_in[:, 0]
        for t in range(tgt_in.size(1)):
            if t > 0 and teacher_forcing_ratio < 1.0:
                use_gold = torch.rand(tokens.shape, generator=generator) < teacher_forcing_ratio
                predicted = logits[-1].detach().argmax(dim=-1)
                tokens = torch.where(use_gold.to(tgt_in.device), tgt_in[:, t], predicted)
            elif t > 0:
                tokens = tgt_in[:, t]
            step_logits, state, step_weights = self.step(tokens, state)
            logits.append(step_logits)
            weights.append(step_weights)
        stacked = torch.stack(weights, dim=1) if self.attention is not None else None
        return torch.stack(logits, dim=1), stacked


# ------------------------------------------------------------------------------------------------- model


@dataclass
class Seq2SeqConfig:
    """Architecture of an encoder-decoder model (saved in the model directory's config.json)."""

    cell: str = "lstm"  # encoder cell: any registered name (rnnlab.nn.cell_names(): lstm, gru, rnn, lnlstm ...)
    decoder_cell: str | None = None  # None: same as `cell`
    embed_dim: int = 128
    hidden_size: int = 256  # encoder hidden size per direction
    decoder_hidden_size: int | None = None  # None: directions * hidden_size
    encoder_layers: int = 1
    decoder_layers: int = 1
    bidirectional: bool = True
    attention: str | None = "bahdanau"  # bahdanau / dot / general / None (plain seq2seq)
    input_feeding: bool = True
    bridge: str = "project"  # copy / project / zeros
    dropout: float = 0.2
    word_dropout: float = 0.0  # drop whole source tokens in training (the encoder must infer them)
    target_word_dropout: float = 0.0  # drop whole decoder input tokens in training
    tie_embeddings: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for name, value in (("cell", self.cell), ("decoder_cell", self.decoder_cell or self.cell)):
            check_cell_name(value, f"model.{name}")
        attentions = (None, "bahdanau", "additive", "dot", "general", "luong")
        require(self.attention in attentions, "attention", "bahdanau / dot / general / null", self.attention)
        require(self.bridge in ("copy", "project", "zeros"), "bridge", "copy / project / zeros", self.bridge)
        require_sizes(self, "embed_dim hidden_size decoder_hidden_size")
        require_sizes(self, "encoder_layers decoder_layers", high=MAX_LAYERS)
        require_fractions(self, "dropout word_dropout target_word_dropout")


class Seq2Seq(nn.Module):
    """Encoder + Bridge + Decoder, with the step / reorder_state pair that `rnnlab.nn.decoding` uses."""

    def __init__(self, encoder: Encoder, bridge: Bridge, decoder: Decoder, bos_id: int, eos_id: int,
                 pad_id: int) -> None:  # fmt: skip
        super().__init__()
        self.encoder, self.bridge, self.decoder = encoder, bridge, decoder
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id

    def encode(self, src: Tensor, src_lengths: Tensor) -> dict[str, Any]:
        """src (B, S), src_lengths (B,) -> the decoder's initial state."""
        encoded = self.encoder(src, src_lengths)
        return self.decoder.init_state(self.bridge(encoded.final), encoded)

    def forward(
        self,
        src: Tensor,
        src_lengths: Tensor,
        tgt_in: Tensor,
        teacher_forcing_ratio: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Logits (B, T, V) for tgt_in (B, T) = [bos, y_1 .. y_{T-1}] and attention (B, T, S) or None."""
        return self.decoder(tgt_in, self.encode(src, src_lengths), teacher_forcing_ratio, generator)

    def step(self, tokens: Tensor, state: dict[str, Any]) -> tuple[Tensor, dict[str, Any]]:
        """The decoding protocol: tokens (N,) -> logits (N, V), new state."""
        logits, state, _ = self.decoder.step(tokens, state)
        return logits, state

    @staticmethod
    def reorder_state(state: dict[str, Any], indices: Tensor) -> dict[str, Any]:
        """Select rows: RNN hidden states along dim 1, everything else (batch-first) along dim 0."""
        return {
            key: index_select_state(value, indices, dim=1 if key == "hidden" else 0) for key, value in state.items()
        }

    @torch.no_grad()
    def translate(
        self,
        src: Tensor,
        src_lengths: Tensor,
        *,
        method: str = "beam",
        beam_size: int = 5,
        n_best: int = 1,
        max_len: int | None = None,
        alpha: float = 1.0,
        no_repeat_ngram_size: int = 0,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
    ) -> list[list[Hypothesis]]:
        """Decode a batch of sources; method greedy / beam / sample. Returns n-best lists (length 1 unless
        beam). max_len defaults to 2 * longest source + 10, so decoding always ends."""
        state = self.encode(src, src_lengths)
        start = torch.full((src.size(0),), self.bos_id, dtype=torch.long, device=src.device)
        max_len = max_len or 2 * int(src_lengths.max()) + 10
        common = dict(eos_id=self.eos_id, max_len=max_len, no_repeat_ngram_size=no_repeat_ngram_size)
        if method == "beam":
            return beam_search(
                self.step, state, start, reorder_state=self.reorder_state, beam_size=beam_size, n_best=n_best,
                alpha=alpha, **common,
            )  # fmt: skip
        if method == "greedy":
            return [[h] for h in greedy_decode(self.step, state, start, **common)]
        if method == "sample":
            hyps = sample_decode(
                self.step, state, start, temperature=temperature, top_k=top_k, top_p=top_p,
                generator=generator, **common,
            )  # fmt: skip
            return [[h] for h in hyps]
        raise ValueError(f"method must be greedy / beam / sample, got {method!r}")


def build_seq2seq(config: Seq2SeqConfig, src_vocab: int, tgt_vocab: int, bos_id: int, eos_id: int,
                  pad_id: int) -> Seq2Seq:  # fmt: skip
    """Build the model a `Seq2SeqConfig` describes."""
    config.validate()
    decoder_cell = config.decoder_cell or config.cell
    directions = 2 if config.bidirectional else 1
    decoder_hidden = config.decoder_hidden_size or directions * config.hidden_size
    encoder = Encoder(
        src_vocab, config.embed_dim, config.hidden_size, config.encoder_layers, config.cell,
        config.bidirectional, config.dropout, pad_id, config.word_dropout,
    )  # fmt: skip
    bridge = Bridge(
        config.bridge, config.encoder_layers, directions, config.hidden_size, get_cell(config.cell).state_is_tuple,
        config.decoder_layers, decoder_hidden, get_cell(decoder_cell).state_is_tuple,
    )  # fmt: skip
    decoder = Decoder(
        tgt_vocab, config.embed_dim, decoder_hidden, config.decoder_layers, decoder_cell, config.attention,
        encoder.output_size, config.input_feeding, config.dropout, config.tie_embeddings, pad_id,
        config.target_word_dropout,
    )  # fmt: skip
    return Seq2Seq(encoder, bridge, decoder, bos_id, eos_id, pad_id)


# -------------------------------------------------------------------------------------- training helpers


def sequence_loss(logits: Tensor, targets: Tensor, pad_id: int, label_smoothing: float = 0.0) -> tuple[Tensor, int]:
    """Summed cross-entropy over non-pad target tokens and their count.

    logits (B, T, V), targets (B, T). With label smoothing eps the target distribution is
    (1 - eps) one-hot + eps / V uniform (torch's definition).
    """
    loss = F.cross_entropy(
        logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1), ignore_index=pad_id,
        reduction="sum", label_smoothing=label_smoothing,
    )  # fmt: skip
    return loss, int((targets != pad_id).sum())


@dataclass
class TeacherForcingSchedule:
    """Teacher-forcing ratio as a function of the training step (scheduled sampling, Bengio et al. 2015).

    kind: "constant" (always `start`), "linear" (start -> end over `steps`), "inverse_sigmoid"
    (k / (k + exp(step / k)), the paper's schedule, k = `k`), "exponential" (start * k ** step);
    always clipped to [end, start].
    """

    kind: str = "constant"
    start: float = 1.0
    end: float = 1.0
    steps: int = 10000
    k: float = 1000.0

    def __post_init__(self) -> None:
        kinds = ("constant", "linear", "inverse_sigmoid", "exponential")
        require(self.kind in kinds, "kind", " / ".join(kinds), self.kind)  # else: a crash at the first step
        for name in ("start", "end"):
            require(0.0 <= getattr(self, name) <= 1.0, name, "a ratio in [0, 1]", getattr(self, name))
        require(self.steps >= 1, "steps", ">= 1", self.steps)
        require(self.k > 0, "k", "> 0", self.k)

    def ratio(self, step: int) -> float:
        if self.kind == "constant":
            value = self.start
        elif self.kind == "linear":
            value = self.start + (self.end - self.start) * min(step / max(self.steps, 1), 1.0)
        elif self.kind == "inverse_sigmoid":
            value = self.k / (self.k + math.exp(min(step / self.k, 700.0)))
        elif self.kind == "exponential":
            value = self.start * self.k**step
        else:
            raise ValueError(f"teacher forcing schedule must be constant / linear / inverse_sigmoid / "
                             f"exponential, got {self.kind!r}")  # fmt: skip
        lo, hi = min(self.start, self.end), max(self.start, self.end)
        return min(max(value, lo), hi)

