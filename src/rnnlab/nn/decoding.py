"""Decoding for any autoregressive model: greedy, sampling and batched beam search (shared by the language
model's generation and the seq2seq decoder).

The model is seen only through a *step function*::

    step(tokens: LongTensor (N,), state) -> (scores: Tensor (N, V), new_state)

`tokens` are the previous tokens of N rows, `scores` are logits or log-probabilities of the next token
(a `log_softmax` is applied here, which leaves log-probabilities unchanged), and `state` is any nested
structure (tuple / list / dict) of tensors whose batch dimension has N rows: RNN hidden states
`(layers, N, H)` (batch dim 1), encoder memories `(N, S, H)` (batch dim 0), ...

Beam search also needs `reorder_state(state, indices: LongTensor (M,)) -> state` that keeps, repeats and
reorders the rows of the state (row `i` of the result is row `indices[i]` of the input);
`index_select_state(state, indices, dim)` does it for nested structures whose tensors share a batch dim,
e.g. `functools.partial(index_select_state, dim=1)` for RNN hidden states.

Every decoder returns `Hypothesis` objects. Their `tokens` exclude the start token and the end-of-sequence
token; their `length` counts generated steps *including* the end-of-sequence token (the length that the
length penalty sees).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from rnnlab.validation import check_memory, is_greedy

State = Any
StepFn = Callable[[Tensor, State], tuple[Tensor, State]]
ReorderFn = Callable[[State, Tensor], State]

__all__ = [
    "Hypothesis",
    "filter_logits",
    "index_select_state",
    "map_state",
    "length_penalty",
    "greedy_decode",
    "sample_decode",
    "beam_search",
]


@dataclass
class Hypothesis:
    """One decoded sequence.

    tokens: generated token ids, without the start token and without the end-of-sequence token.
    log_prob: sum of the model's log-probabilities of the generated tokens (eos included if finished).
    score: the ranking score; `log_prob / length_penalty(length)` for beam search, `log_prob` otherwise.
    finished: True when the sequence ended with eos, False when it was cut at `max_len`.
    """

    tokens: list[int]
    log_prob: float
    score: float
    finished: bool

    @property
    def length(self) -> int:
        """Generated steps, eos included: what the length penalty is computed on."""
        return len(self.tokens) + int(self.finished)


# --------------------------------------------------------------------------------------------- state


def map_state(state: State, fn: Callable[[Tensor], Tensor]) -> State:
    """Apply `fn` to every tensor of a nested tuple / list / dict structure (None passes through)."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return fn(state)
    if isinstance(state, tuple):
        items = [map_state(s, fn) for s in state]
        # Keep named tuples (e.g. a small dataclass-like NamedTuple state) intact.
        return type(state)(*items) if hasattr(state, "_fields") else tuple(items)
    if isinstance(state, list):
        return [map_state(s, fn) for s in state]
    if isinstance(state, dict):
        return {key: map_state(value, fn) for key, value in state.items()}
    raise TypeError(f"decoder state must be tensors in tuples/lists/dicts, got {type(state).__name__}")


def index_select_state(state: State, indices: Tensor, dim: int) -> State:
    """Select rows `indices` (LongTensor (M,)) along `dim` of every tensor in a nested state.

    RNN hidden states `(layers * directions, N, H)` use dim=1; memories `(N, S, H)` use dim=0.
    """
    return map_state(state, lambda t: t.index_select(dim, indices.to(t.device)))


# --------------------------------------------------------------------------------------- distributions


def filter_logits(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> Tensor:
    """Temperature, top-k and nucleus (top-p) filtering of next-token scores.

    logits: (B, V) logits or log-probabilities. Returns (B, V) scaled logits with the removed tokens set
    to -inf; `softmax` of the result is the sampling distribution. Top-k is applied before top-p; top-p
    keeps the smallest set of most likely tokens whose probability reaches `top_p` (always at least the
    most probable one, however tiny `top_p` is).

    A temperature below `rnnlab.validation.GREEDY_BELOW` is greedy: only the most probable token of each
    row is kept, the token `argmax` picks (dividing by 1e-300 would give inf - inf = NaN). 0 itself is the
    caller's to handle (decode greedily, no sampling).
    Scaling is done in float64, so a huge temperature (1e308) gives a near-uniform distribution, not NaN.
    """
    if not temperature > 0 or math.isinf(temperature):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature}")
    if top_k is not None and (isinstance(top_k, bool) or int(top_k) != top_k or top_k < 1):
        raise ValueError(f"top_k must be an integer >= 1 (or None), got {top_k}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1] (or None), got {top_p}")
    if logits.dim() != 2:
        raise ValueError(f"logits must be (batch, vocab), got shape {tuple(logits.shape)}")
    if is_greedy(temperature):
        best = logits.argmax(dim=-1, keepdim=True)
        keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, best, True)
        return logits.float().masked_fill(~keep, float("-inf"))
    logits = (logits.double() / temperature).float()
    if top_k is not None and top_k < logits.size(-1):
        kth = logits.topk(int(top_k), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        # Mass strictly before each token: a token is kept if the tokens above it have not reached top_p.
        mass_before = probs.cumsum(dim=-1) - probs
        remove_sorted = mass_before >= top_p
        remove_sorted[:, 0] = False  # the most probable token stays (a top_p that is 0 in float32: 5e-324)
        remove = remove_sorted.scatter(-1, order, remove_sorted)
        logits = logits.masked_fill(remove, float("-inf"))
    return logits


def length_penalty(length: int, alpha: float, style: str = "gnmt") -> float:
    """The divisor of a hypothesis' log-probability: GNMT `((5 + length) / 6) ** alpha` or `length ** alpha`.

    alpha = 0 gives 1 (raw log-probabilities); alpha > 0 favours longer hypotheses.
    """
    if style == "gnmt":
        return ((5.0 + length) / 6.0) ** alpha
    if style == "simple":
        return float(length) ** alpha
    raise ValueError(f"length penalty style must be 'gnmt' or 'simple', got {style!r}")


def _banned_ngram_tokens(history: list[int], n: int) -> list[int]:
    """Tokens that would repeat an n-gram already in `history` (the last n-1 tokens + token)."""
    if n <= 0 or len(history) < n - 1:
        return []
    if n == 1:
        return list(set(history))
    prefix = history[len(history) - (n - 1) :]
    banned = []
    for i in range(len(history) - n + 1):
        if history[i : i + n - 1] == prefix:
            banned.append(history[i + n - 1])
    return banned


def _constrain(
    log_probs: Tensor,
    history: Tensor,
    step_index: int,
    eos_id: int | None,
    min_len: int,
    no_repeat_ngram_size: int,
) -> Tensor:
    """Forbid eos before `min_len` generated tokens and tokens that would repeat an n-gram.

    log_probs: (N, V); history: (N, t) tokens generated so far. Returns a new (N, V) tensor.
    """
    if eos_id is not None and step_index < min_len:
        log_probs = log_probs.clone()
        log_probs[:, eos_id] = float("-inf")
    if no_repeat_ngram_size > 0 and history.size(1) >= no_repeat_ngram_size - 1:
        rows, cols = [], []
        for row, past in enumerate(history.tolist()):
            for token in _banned_ngram_tokens(past, no_repeat_ngram_size):
                rows.append(row)
                cols.append(token)
        if rows:
            log_probs = log_probs.clone()
            log_probs[rows, cols] = float("-inf")
    return log_probs


def _check_common(start_tokens: Tensor, max_len: int, min_len: int, no_repeat_ngram_size: int) -> None:
    if start_tokens.dim() != 1:
        raise ValueError(f"start_tokens must be a LongTensor (batch,), got shape {tuple(start_tokens.shape)}")
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    if not 0 <= min_len <= max_len:
        raise ValueError(f"min_len must be in [0, max_len={max_len}], got {min_len}")
    if no_repeat_ngram_size < 0:
        raise ValueError(f"no_repeat_ngram_size must be >= 0, got {no_repeat_ngram_size}")


# ---------------------------------------------------------------------------------- greedy / sampling


def _decode_one_token_at_a_time(
    step: StepFn,
    state: State,
    start_tokens: Tensor,
    choose: Callable[[Tensor], Tensor],
    eos_id: int | None,
    max_len: int,
    min_len: int,
    no_repeat_ngram_size: int,
    callback: Callable[[Tensor], None] | None,
) -> list[Hypothesis]:
    """Shared loop of greedy and sampling: `choose(log_probs (B, V)) -> tokens (B,)`."""
    _check_common(start_tokens, max_len, min_len, no_repeat_ngram_size)
    batch = start_tokens.size(0)
    tokens = start_tokens
    history = start_tokens.new_empty(batch, max_len)  # filled column by column (no copy per step)
    total = torch.zeros(batch, dtype=torch.float64)
    done = torch.zeros(batch, dtype=torch.bool)
    lengths = torch.full((batch,), max_len, dtype=torch.long)
    for t in range(max_len):
        scores, state = step(tokens, state)
        log_probs = torch.log_softmax(scores.float(), dim=-1)
        constrained = _constrain(log_probs, history[:, :t], t, eos_id, min_len, no_repeat_ngram_size)
        tokens = choose(constrained)
        picked = log_probs.detach().gather(1, tokens.unsqueeze(1)).squeeze(1).double().cpu()
        total += torch.where(done, torch.zeros_like(picked), picked)
        history[:, t] = tokens
        if callback is not None:
            callback(tokens)
        if eos_id is not None:
            newly = (tokens.cpu() == eos_id) & ~done
            lengths[newly] = t
            done |= newly
            if bool(done.all()):
                break
    result = []
    for row in range(batch):
        n = int(lengths[row])
        finished = bool(done[row])
        generated = history[row, :n].tolist()
        result.append(Hypothesis(generated, float(total[row]), float(total[row]), finished))
    return result


def greedy_decode(
    step: StepFn,
    state: State,
    start_tokens: Tensor,
    *,
    eos_id: int | None,
    max_len: int,
    min_len: int = 0,
    no_repeat_ngram_size: int = 0,
    callback: Callable[[Tensor], None] | None = None,
) -> list[Hypothesis]:
    """Pick the most likely next token at every step, for a batch of B rows at once.

    start_tokens: LongTensor (B,), the token fed first (bos, or a prompt's last token with `state` the
    state after the rest of the prompt). Stops a row at `eos_id` (None: never) or after `max_len` tokens.
    `callback(tokens (B,))` is called after every step (streaming output). Returns B hypotheses.
    """
    return _decode_one_token_at_a_time(
        step, state, start_tokens, lambda lp: lp.argmax(dim=-1),
        eos_id, max_len, min_len, no_repeat_ngram_size, callback,
    )  # fmt: skip


def sample_decode(
    step: StepFn,
    state: State,
    start_tokens: Tensor,
    *,
    eos_id: int | None,
    max_len: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    min_len: int = 0,
    no_repeat_ngram_size: int = 0,
    callback: Callable[[Tensor], None] | None = None,
) -> list[Hypothesis]:
    """Sample each next token from the filtered distribution (see `filter_logits`), B rows at once.

    Pass a seeded `torch.Generator` (on the model's device) for reproducible samples. The hypotheses'
    `log_prob` is under the unfiltered model (temperature 1), so samples can be compared with beams.
    """
    filter_logits(torch.zeros(1, 1), temperature, top_k, top_p)  # validate before running the model

    def choose(log_probs: Tensor) -> Tensor:
        probs = filter_logits(log_probs, temperature, top_k, top_p).softmax(dim=-1)
        return torch.multinomial(probs, 1, generator=generator).squeeze(1)

    return _decode_one_token_at_a_time(
        step, state, start_tokens, choose, eos_id, max_len, min_len, no_repeat_ngram_size, callback
    )


# ---------------------------------------------------------------------------------------- beam search


def beam_search(
    step: StepFn,
    state: State,
    start_tokens: Tensor,
    *,
    reorder_state: ReorderFn,
    beam_size: int,
    eos_id: int,
    max_len: int,
    n_best: int = 1,
    alpha: float = 0.0,
    length_penalty_style: str = "gnmt",
    min_len: int = 0,
    no_repeat_ngram_size: int = 0,
) -> list[list[Hypothesis]]:
    """Batched beam search: all B batch elements and their K beams run as B*K rows of one step call.

    state: the state for B rows; it is expanded to B*K rows with `reorder_state`. Hypotheses are ranked by
    `log_prob / length_penalty(length, alpha, length_penalty_style)` (GNMT `((5+len)/6)^alpha` by default,
    or `len^alpha` with style "simple"; alpha=0 ranks by raw log-probability).

    At every step the 2K best extensions of the K live beams are looked at: those ending in eos among the
    first K become finished hypotheses (the K best finished are kept per batch element), the K best others
    become the next live beams.

    Stopping rule (exact under the length penalty): a batch element stops when it has K finished
    hypotheses and no live beam can still beat the worst of them. A live beam with log-probability
    s <= 0 at length L can only end as a hypothesis of log-probability s' <= s (log-probabilities are
    <= 0) and length L' in [L+1, max_len], whose score is s' / lp(L') <= s / lp(L') <= s / max(lp(L+1),
    lp(max_len)), since lp is monotone in the length. With alpha > 0 that bound uses lp(max_len), so a
    long hypothesis that could still improve its normalised score keeps the search going. Finished rows
    are removed from the batch (the state shrinks with `reorder_state`).

    Elements that reach `max_len` with fewer than `n_best` finished hypotheses are topped up with their
    best live beams, marked `finished=False`. Returns, per batch element, up to `n_best` hypotheses, best
    first.
    """
    _check_common(start_tokens, max_len, min_len, no_repeat_ngram_size)
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    if not 1 <= n_best <= beam_size:
        raise ValueError(f"n_best must be in [1, beam_size={beam_size}], got {n_best}")
    length_penalty(1, alpha, length_penalty_style)  # validates the style
    k = beam_size
    batch = start_tokens.size(0)
    device = start_tokens.device
    neg_inf = float("-inf")

    rows = torch.arange(batch, device=device).repeat_interleave(k)
    state = reorder_state(state, rows)
    tokens = start_tokens[rows]
    history = start_tokens.new_empty(batch * k, 0)
    # Only the first beam of each element is live at the start, so the K copies don't yield K duplicates.
    scores = torch.full((batch, k), neg_inf, device=device)
    scores[:, 0] = 0.0
    active = list(range(batch))  # original batch index of each row group still searching
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    max_lp = length_penalty(max_len, alpha, length_penalty_style)

    for t in range(max_len):
        length = t + 1
        lp = length_penalty(length, alpha, length_penalty_style)
        out, state = step(tokens, state)
        if t == 0:
            _check_beam_memory(batch, k, out.size(-1), max_len, device)
        log_probs = torch.log_softmax(out.detach().float(), dim=-1)
        log_probs = _constrain(log_probs, history, t, eos_id, min_len, no_repeat_ngram_size)
        groups, vocab = len(active), log_probs.size(-1)
        candidates = (scores.reshape(-1, 1) + log_probs).reshape(groups, k * vocab)
        top_scores, top_index = candidates.topk(min(2 * k, k * vocab), dim=1)
        top_scores_l = top_scores.tolist()
        top_beam_l = (top_index // vocab).tolist()
        top_token_l = (top_index % vocab).tolist()

        next_scores = [[neg_inf] * k for _ in range(groups)]
        next_rows = [[g * k] * k for g in range(groups)]
        next_tokens = [[eos_id] * k for _ in range(groups)]
        keep_groups = []
        for g in range(groups):
            kept_hyps = finished[active[g]]
            live = 0
            for rank, (s, beam, token) in enumerate(zip(top_scores_l[g], top_beam_l[g], top_token_l[g])):
                if s == neg_inf or live == k:
                    break
                if token == eos_id:
                    if rank < k:
                        kept_hyps.append(Hypothesis(history[g * k + beam].tolist(), s, s / lp, True))
                else:
                    next_scores[g][live] = s
                    next_rows[g][live] = g * k + beam
                    next_tokens[g][live] = token
                    live += 1
            kept_hyps.sort(key=lambda h: h.score, reverse=True)
            del kept_hyps[k:]
            best_live = next_scores[g][0]
            if best_live == neg_inf:
                continue  # nothing left to extend
            if len(kept_hyps) == k:
                bound = best_live / max(length_penalty(length + 1, alpha, length_penalty_style), max_lp)
                if length >= max_len or bound <= kept_hyps[-1].score:
                    continue
            keep_groups.append(g)

        if length == max_len:
            # Out of steps: top up with the best live beams, marked unfinished.
            for g in range(groups):
                kept_hyps = finished[active[g]]
                for j in range(k):
                    if len(kept_hyps) >= n_best or next_scores[g][j] == neg_inf:
                        break
                    past = history[next_rows[g][j]].tolist() + [next_tokens[g][j]]
                    kept_hyps.append(Hypothesis(past, next_scores[g][j], next_scores[g][j] / lp, False))
                kept_hyps.sort(key=lambda h: h.score, reverse=True)
            break
        if not keep_groups:
            break
        if len(keep_groups) < groups:
            # Drop the row groups of finished elements so the model no longer computes them.
            next_scores = [next_scores[g] for g in keep_groups]
            next_rows = [next_rows[g] for g in keep_groups]
            next_tokens = [next_tokens[g] for g in keep_groups]
            active = [active[g] for g in keep_groups]
        select = torch.tensor([r for group in next_rows for r in group], dtype=torch.long, device=device)
        tokens = torch.tensor([w for group in next_tokens for w in group], dtype=torch.long, device=device)
        scores = torch.tensor(next_scores, dtype=torch.float, device=device)
        state = reorder_state(state, select)
        history = torch.cat([history.index_select(0, select.to(history.device)), tokens.unsqueeze(1)], 1)

    return [hyps[:n_best] for hyps in finished]


#: (rows, vocabulary) float32 tensors a beam-search step holds at once: the model's scores, their
#: log-softmax, the candidates and the temporaries around them (measured: the peak grows by 7 x rows x
#: vocab x 4 bytes for 256 beams over 50,000 and 200,000 tokens).
_BEAM_STEP_COPIES = 8


def _check_beam_memory(batch: int, beam_size: int, vocab: int, max_len: int, device: torch.device) -> None:
    """Refuse (UserError) a search whose per-step tensors and histories cannot fit in the memory available
    (the device's free memory on a GPU): rows x (vocab x 4 bytes x copies + max_len x 16 bytes of history)."""
    rows = batch * beam_size
    estimate = rows * (vocab * 4 * _BEAM_STEP_COPIES + max_len * 16)
    available = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else None
    check_memory(estimate, f"beam search of {beam_size} beams x {batch} input(s) over {vocab} tokens", available,
                 hint="use a smaller --beam (or fewer inputs per batch)")  # fmt: skip


def sequences_to_tensor(hypotheses: Sequence[Hypothesis], pad_id: int) -> Tensor:
    """Stack hypotheses' tokens into a LongTensor (B, T_max) padded with `pad_id`."""
    width = max((len(h.tokens) for h in hypotheses), default=0)
    out = torch.full((len(hypotheses), width), pad_id, dtype=torch.long)
    for row, hyp in enumerate(hypotheses):
        out[row, : len(hyp.tokens)] = torch.tensor(hyp.tokens, dtype=torch.long)
    return out
