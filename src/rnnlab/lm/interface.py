"""The interface every language model in rnnlab offers (n-gram and neural alike).

`rnnlab score`, `rnnlab generate` and `rnnlab eval` only talk to this protocol, so a user can swap an
n-gram model for an RNN language model and compare them with the same commands.

Log-probabilities are natural logs (nats) everywhere; `log10` helpers exist for KenLM/ARPA comparison.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass
class SentenceScore:
    """Score of one sentence under a language model.

    `tokens` are the predicted tokens in order (for sentence-level models this ends with `</s>`);
    `token_logprobs[i]` is ln P(tokens[i] | everything before it).
    """

    text: str
    tokens: list[str]
    token_logprobs: list[float]
    unknown: list[str] = field(default_factory=list)  # input symbols that were mapped to <unk>

    @property
    def total_logprob(self) -> float:
        """ln P(sentence): the chain rule's sum of per-token log-probabilities."""
        return float(sum(self.token_logprobs))

    @property
    def total_log10prob(self) -> float:
        return self.total_logprob / math.log(10)

    @property
    def perplexity(self) -> float:
        """exp(-mean log-prob) over the predicted tokens."""
        if not self.token_logprobs:
            return float("nan")
        return math.exp(-self.total_logprob / len(self.token_logprobs))


@runtime_checkable
class LanguageModel(Protocol):
    """What `rnnlab score / generate / eval` need from a language model (the verbs: rnnlab.lm.verbs).

    `decoding` names what `iter_generate` can do: "sample" always; "greedy" (a `greedy=` argument), "beam"
    (`beam=K`), "stream" (`on_token=` called with the text of each new token of the first sample) and "poem"
    (`iter_generate_poem(form, acrostic, ...)`). The verbs check it instead of guessing from signatures.
    """

    decoding: frozenset[str]

    def score(self, sentences: Sequence[str]) -> list[SentenceScore]:
        """Score each sentence (tokenised the way the model was trained)."""
        ...

    def next_token_distribution(self, context: Sequence[str]) -> dict[str, float]:
        """P(next token | context tokens) over the whole vocabulary; values sum to 1."""
        ...

    def generate(
        self,
        prompt: str = "",
        *,
        num_samples: int = 1,
        max_tokens: int = 100,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: Sequence[str] = (),
    ) -> list[str]:
        """Sample continuations of `prompt`; returns the generated texts (prompt included)."""
        ...

    def prompt_text(self, prompt: str) -> str:
        """The prompt as the generated texts begin with it (what a stream prints before the first token)."""
        ...

    def iter_generate(self, prompt: str = "", **options) -> Iterator[str]:
        """`generate`, one text at a time (the options of `generate`, plus those `decoding` names)."""
        ...


def corpus_perplexity(scores: Sequence[SentenceScore]) -> float:
    """Perplexity over all predicted tokens of many sentences: exp(-sum log p / count)."""
    total = sum(s.total_logprob for s in scores)
    count = sum(len(s.token_logprobs) for s in scores)
    if count == 0:
        raise ValueError("corpus_perplexity needs at least one scored token")
    return math.exp(-total / count)
