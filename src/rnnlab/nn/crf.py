"""Linear-chain conditional random field over per-token scores (the "-CRF" of a BiLSTM-CRF tagger).

A tag sequence y_1..y_L for emissions E (what the BiLSTM says about each token) scores

    s(y) = start[y_1] + sum_t E[t, y_t] + sum_{t>1} trans[y_{t-1}, y_t] + end[y_L]

and P(y | x) = exp(s(y)) / Z with Z = sum over all T^L paths, computed by the forward algorithm in
O(L T^2). The best path comes from Viterbi. Both run over the whole batch at once; `mask` marks the
real tokens of each sentence (padding sits at the end, and every sentence has at least one token).

Layout is batch-first throughout: emissions (N, L, T), tags (N, L), mask (N, L) bool.
Parameter names follow pytorch-crf (`start_transitions`, `end_transitions`, `transitions[from, to]`),
so its weights load here.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

# Score given to forbidden transitions: large enough to never win, small enough to stay finite in sums.
FORBIDDEN = -10000.0


class CRF(nn.Module):
    """Linear-chain CRF with `num_tags` tags.

    `allowed` (optional, bool (T, T), `allowed[i, j]` = tag j may follow tag i), `allowed_start` and
    `allowed_end` (bool (T,)) hard-wire structural constraints such as "I-PER never follows O" in BIO;
    forbidden moves get a fixed score of FORBIDDEN on top of the learned ones.
    """

    def __init__(
        self,
        num_tags: int,
        allowed: Tensor | None = None,
        allowed_start: Tensor | None = None,
        allowed_end: Tensor | None = None,
    ) -> None:
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"num_tags must be >= 1, got {num_tags}")
        self.num_tags = num_tags
        self.start_transitions = nn.Parameter(torch.empty(num_tags))
        self.end_transitions = nn.Parameter(torch.empty(num_tags))
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))
        self._register_constraint("transition_penalty", allowed, (num_tags, num_tags))
        self._register_constraint("start_penalty", allowed_start, (num_tags,))
        self._register_constraint("end_penalty", allowed_end, (num_tags,))
        self.reset_parameters()

    def _register_constraint(self, name: str, allowed: Tensor | None, shape: tuple[int, ...]) -> None:
        penalty = torch.zeros(shape)
        if allowed is not None:
            if tuple(allowed.shape) != shape:
                raise ValueError(f"{name}: expected a bool mask of shape {shape}, got {tuple(allowed.shape)}")
            penalty = torch.where(allowed.bool(), 0.0, FORBIDDEN)
        # Saved with the weights so a loaded tagger keeps its constraints.
        self.register_buffer(name, penalty)

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.start_transitions, -0.1, 0.1)
        nn.init.uniform_(self.end_transitions, -0.1, 0.1)
        nn.init.uniform_(self.transitions, -0.1, 0.1)

    # Effective scores: learned + fixed constraints.
    def _start(self) -> Tensor:
        return self.start_transitions + self.start_penalty

    def _end(self) -> Tensor:
        return self.end_transitions + self.end_penalty

    def _trans(self) -> Tensor:
        return self.transitions + self.transition_penalty

    def _check(self, emissions: Tensor, tags: Tensor | None, mask: Tensor | None) -> Tensor:
        if emissions.dim() != 3 or emissions.size(2) != self.num_tags:
            raise ValueError(
                f"emissions: expected (N, L, {self.num_tags}), got {tuple(emissions.shape)}"
            )
        if emissions.size(1) == 0:
            raise ValueError("emissions: sequences must have at least one position (L >= 1)")
        if tags is not None and tags.shape != emissions.shape[:2]:
            raise ValueError(f"tags: expected {tuple(emissions.shape[:2])}, got {tuple(tags.shape)}")
        if mask is None:
            mask = torch.ones(emissions.shape[:2], dtype=torch.bool, device=emissions.device)
        if mask.shape != emissions.shape[:2]:
            raise ValueError(f"mask: expected {tuple(emissions.shape[:2])}, got {tuple(mask.shape)}")
        mask = mask.bool()
        if not bool(mask[:, 0].all()):
            raise ValueError("mask: every sequence needs at least one token (mask[:, 0] must be True)")
        return mask

    def forward(
        self, emissions: Tensor, tags: Tensor, mask: Tensor | None = None, reduction: str = "mean"
    ) -> Tensor:
        """Negative log-likelihood of `tags` (the training loss).

        emissions (N, L, T), tags (N, L) long, mask (N, L) bool. reduction: "none" -> (N,),
        "sum" -> scalar, "mean" -> scalar averaged over sentences, "token_mean" -> over real tokens.
        """
        nll = -self.log_likelihood(emissions, tags, mask)
        if reduction == "none":
            return nll
        if reduction == "sum":
            return nll.sum()
        if reduction == "mean":
            return nll.mean()
        if reduction == "token_mean":
            mask = self._check(emissions, tags, mask)
            return nll.sum() / mask.sum()
        raise ValueError(f"reduction: expected none/sum/mean/token_mean, got {reduction!r}")

    def log_likelihood(self, emissions: Tensor, tags: Tensor, mask: Tensor | None = None) -> Tensor:
        """log P(tags | emissions) per sequence, (N,)."""
        mask = self._check(emissions, tags, mask)
        return self.path_score(emissions, tags, mask) - self.log_partition(emissions, mask)

    def path_score(self, emissions: Tensor, tags: Tensor, mask: Tensor | None = None) -> Tensor:
        """s(y) of the given tag paths, (N,); positions where mask is False contribute nothing."""
        mask = self._check(emissions, tags, mask)
        maskf = mask.to(emissions.dtype)
        tags = tags.masked_fill(~mask, 0)  # padding may hold any id (e.g. -100); make it indexable
        emit = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (N, L)
        score = self._start()[tags[:, 0]] + (emit * maskf).sum(1)
        trans = self._trans()[tags[:, :-1], tags[:, 1:]]  # (N, L-1): y_{t-1} -> y_t
        score = score + (trans * maskf[:, 1:]).sum(1)
        last = tags.gather(1, (mask.sum(1) - 1).unsqueeze(1)).squeeze(1)
        return score + self._end()[last]

    def log_partition(self, emissions: Tensor, mask: Tensor | None = None) -> Tensor:
        """log Z per sequence by the forward algorithm, (N,)."""
        mask = self._check(emissions, None, mask)
        trans = self._trans()
        alpha = self._start() + emissions[:, 0]  # (N, T): log-sum of all paths ending in each tag
        for t in range(1, emissions.size(1)):
            # (N, T_from, 1) + (T_from, T_to) + (N, 1, T_to) -> logsumexp over T_from
            step = torch.logsumexp(alpha.unsqueeze(2) + trans + emissions[:, t].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)  # finished sentences keep alpha
        return torch.logsumexp(alpha + self._end(), dim=1)

    @torch.no_grad()
    def decode(self, emissions: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Viterbi: the highest-scoring path of every sequence, vectorised over the batch.

        Returns (tags (N, L) long with -1 on padding, scores (N,) = s(best path)).
        """
        mask = self._check(emissions, None, mask)
        n, length, _ = emissions.shape
        trans = self._trans()
        score = self._start() + emissions[:, 0]  # (N, T): best score of a path ending in each tag
        backpointers = []
        for t in range(1, length):
            candidates = score.unsqueeze(2) + trans  # (N, T_from, T_to)
            best, best_from = candidates.max(dim=1)
            step = best + emissions[:, t]
            keep = mask[:, t].unsqueeze(1)
            score = torch.where(keep, step, score)
            # Past a sentence's end, point each tag at itself so the backtrack passes through unchanged.
            identity = torch.arange(self.num_tags, device=emissions.device).expand(n, -1)
            backpointers.append(torch.where(keep, best_from, identity))
        final = score + self._end()
        best_score, current = final.max(dim=1)  # (N,)
        path = [current]
        for pointers in reversed(backpointers):
            current = pointers.gather(1, current.unsqueeze(1)).squeeze(1)
            path.append(current)
        tags = torch.stack(path[::-1], dim=1).masked_fill(~mask, -1)
        return tags, best_score


def bio_constraints(labels: list[str]) -> tuple[Tensor, Tensor, Tensor]:
    """Allowed-transition masks for BIO / BIOES / IOB labels such as ["O", "B-PER", "I-PER", ...].

    I-X (and E-X) may only follow B-X or I-X; B-X/S-X/O may follow anything except an open B-/I-
    chunk in BIOES. Labels without a recognised prefix (e.g. POS tags) are unconstrained.
    Returns (allowed (T, T), allowed_start (T,), allowed_end (T,)).
    """
    bioes = any(label[:2] in ("E-", "S-") for label in labels)
    parts = [(label[0], label[2:]) if label[1:2] == "-" else ("O", label) for label in labels]
    count = len(labels)
    allowed = torch.ones(count, count, dtype=torch.bool)
    start = torch.ones(count, dtype=torch.bool)
    end = torch.ones(count, dtype=torch.bool)
    for j, (prefix_to, type_to) in enumerate(parts):
        inside = prefix_to in ("I", "E")
        if inside:
            start[j] = False
        for i, (prefix_from, type_from) in enumerate(parts):
            open_from = prefix_from in ("B", "I")
            if inside:
                allowed[i, j] = open_from and type_from == type_to
            elif bioes and open_from:
                allowed[i, j] = False  # a BIOES chunk must close with E- before anything else starts
    if bioes:
        for i, (prefix, _) in enumerate(parts):
            end[i] = prefix not in ("B", "I")
    return allowed, start, end
